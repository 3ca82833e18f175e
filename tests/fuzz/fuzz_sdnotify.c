/* fuzz_sdnotify — hd_sdnotify_init_from on any $NOTIFY_SOCKET,
 * $WATCHDOG_USEC and $WATCHDOG_PID (the input split at its first two
 * newlines): a name it takes is absolute or "@abstract" and fits
 * sun_path, the address length covers exactly the name, a watchdog it
 * takes is positive and only for pid 42. Nothing is sent: a fuzzed name
 * could be a real socket of this machine. */
#include "util/sdnotify.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *usec = strchr(s, '\n'), *pid = NULL;
    if (usec) {
        *usec++ = '\0';
        pid = strchr(usec, '\n');
        if (pid) *pid++ = '\0';
    }
    hd_sdnotify_t n;
    int rc = hd_sdnotify_init_from(&n, s, usec, pid, 42);
    if (rc < 0 && n.fd != -1) abort();
    if (n.fd >= 0) {
        size_t len = strlen(s);
        if (s[0] != '/' && s[0] != '@') abort();
        if (len >= sizeof(n.addr.sun_path)) abort();
        size_t want = offsetof(struct sockaddr_un, sun_path) + len + (s[0] == '/');
        if (n.addrlen != want) abort();
        if (n.watchdog_us < 0) abort();
        if (n.watchdog_us > 0 && (!usec || (pid && *pid && strtol(pid, NULL, 10) != 42))) abort();
    } else if (rc == 0 && *s) {
        abort(); /* a name given: a socket or an error */
    }
    hd_sdnotify_close(&n);
    free(s);
    return 0;
}
