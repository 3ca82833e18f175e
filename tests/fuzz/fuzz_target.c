/* fuzz_target — hd_target_parse (and through it hd_url_parse, hd_url_decode
 * and hd_argv_split) on any NUL-terminated input: it must never crash,
 * leak or read out of bounds, and what it accepts must hold together. */
#include "probe/target.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* a NUL inside the input just ends the string early */

    hd_target_t t;
    char err[256];
    err[0] = '\0';
    if (hd_target_parse(s, &t, err, sizeof(err)) == 0) {
        if (strcmp(t.url, s) != 0 || !t.display) abort();
        switch (t.kind) {
        case HD_KIND_TCP:
        case HD_KIND_HTTP:
        case HD_KIND_PG:
        case HD_KIND_MYSQL:
        case HD_KIND_REDIS:
            if (!t.host || !t.host[0] || t.port < 1 || t.port > 65535) abort();
            break;
        case HD_KIND_UNIX:
        case HD_KIND_FILE:
            if (!t.path || t.path[0] != '/') abort();
            break;
        case HD_KIND_EXEC:
            if (!t.argv || !t.argv[0]) abort();
            break;
        default:
            break;
        }
        /* A password is always shown as "***". */
        if (t.password && !strstr(t.display, ":***@")) abort();
        hd_target_free(&t);
    } else {
        if (!err[0] || t.url || t.display || t.host || t.argv) abort();
    }
    free(s);
    return 0;
}
