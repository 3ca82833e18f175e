/* sdnotify — the systemd notification protocol over $NOTIFY_SOCKET (see
 * sdnotify.h). It owns the socket and the parsing of the three variables;
 * when to say what is the command's (src/cmd/agent.c). */
#include "util/sdnotify.h"
#include "util/mem.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $WATCHDOG_USEC as microseconds, or 0 when unset, malformed, or meant
 * for another process ($WATCHDOG_PID names another pid). */
static int64_t watchdog_of(const char *usec, const char *wpid, long pid)
{
    if (!usec || !*usec) return 0;
    if (wpid && *wpid) {
        char *end;
        errno = 0;
        long p = strtol(wpid, &end, 10);
        if (errno || *end || p != pid) return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(usec, &end, 10);
    if (errno || *end || v <= 0) return 0;
    return (int64_t)v;
}

int hd_sdnotify_init_from(hd_sdnotify_t *n, const char *socket_name, const char *watchdog_usec,
                          const char *watchdog_pid, long pid)
{
    memset(n, 0, sizeof(*n));
    n->fd = -1;
    if (!socket_name || !*socket_name) return 0;
    size_t len = strlen(socket_name);
    if (socket_name[0] != '/' && socket_name[0] != '@') return -EAFNOSUPPORT;
    if (len >= sizeof(n->addr.sun_path)) return -ENAMETOOLONG;
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, socket_name, len);
    if (socket_name[0] == '@') {
        /* An abstract name: a leading NUL, and the length says where it
         * ends (no trailing NUL belongs to the name). */
        n->addr.sun_path[0] = '\0';
        n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0) return -errno;
    n->watchdog_us = watchdog_of(watchdog_usec, watchdog_pid, pid);
    return 0;
}

int hd_sdnotify_init(hd_sdnotify_t *n)
{
    /* Copies: unsetenv frees what getenv returned. */
    char *sock = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC"),
         *wpid = getenv("WATCHDOG_PID");
    sock = sock ? hd_xstrdup(sock) : NULL;
    usec = usec ? hd_xstrdup(usec) : NULL;
    wpid = wpid ? hd_xstrdup(wpid) : NULL;
    (void)unsetenv("NOTIFY_SOCKET"); /* fails only for a bad name */
    (void)unsetenv("WATCHDOG_USEC");
    (void)unsetenv("WATCHDOG_PID");
    int rc = hd_sdnotify_init_from(n, sock, usec, wpid, (long)getpid());
    free(sock);
    free(usec);
    free(wpid);
    return rc;
}

int hd_sdnotify_send(hd_sdnotify_t *n, const char *state)
{
    if (n->fd < 0) return 0;
    ssize_t r;
    do {
        r = sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&n->addr,
                   n->addrlen);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 1;
}

void hd_sdnotify_close(hd_sdnotify_t *n)
{
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
}
