/* redis — the Redis probe: [AUTH], [SELECT db], then PING, ready on +PONG.
 *
 * -LOADING (the dataset is still loading), -BUSY, -MASTERDOWN and -TRYAGAIN
 * mean not ready. -NOAUTH when no password was given, or a rejected
 * password, means the server is up and checking credentials: ready, with
 * the output saying so (the same rule as the postgres probe). */
#include "probe/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void command(hd_buf_t *out, int argc, const char **argv)
{
    hd_buf_printf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        hd_buf_printf(out, "$%zu\r\n", strlen(argv[i]));
        hd_buf_puts(out, argv[i]);
        hd_buf_puts(out, "\r\n");
    }
}

static void redis_hello(const hd_target_t *t, hd_buf_t *out)
{
    if (t->password) {
        const char *a[3] = {"AUTH", t->user ? t->user : t->password, t->password};
        command(out, t->user ? 3 : 2, a);
    }
    if (t->redis_db >= 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", t->redis_db);
        const char *a[2] = {"SELECT", db};
        command(out, 2, a);
    }
    const char *a[1] = {"PING"};
    command(out, 1, a);
}

#define VERDICT(st, r, ...)                                                                        \
    do {                                                                                           \
        v->status = (st);                                                                          \
        v->reason = (r);                                                                           \
        snprintf(v->msg, sizeof(v->msg), __VA_ARGS__);                                             \
        return HD_PARSE_DONE;                                                                      \
    } while (0)

static int starts(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && memcmp(s, word, w) == 0 && (n == w || s[w] == ' ');
}

static int redis_parse(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v)
{
    int expect = (t->password ? 1 : 0) + (t->redis_db >= 0 ? 1 : 0) + 1;
    size_t off = 0;
    for (int i = 0; i < expect; i++) {
        /* A reply line is printable ASCII up to CRLF. Any other byte is
         * refused as soon as it arrives (a TLS server's alert, say), not
         * at the read limit or when the server hangs up. */
        size_t k = off;
        while (k < len && buf[k] >= 0x20 && buf[k] <= 0x7e)
            k++;
        if (k == len || (k + 1 == len && buf[k] == '\r')) return HD_PARSE_MORE;
        if (buf[k] != '\r' || buf[k + 1] != '\n')
            VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a Redis reply (binary data)");
        if (k == off) VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a Redis reply (empty line)");
        char type = (char)buf[off];
        const char *line = (const char *)buf + off + 1;
        size_t n = k - off - 1;
        off = k + 2;
        int last = i == expect - 1;
        if (type == '-') {
            if (starts(line, n, "LOADING") || starts(line, n, "BUSY") ||
                starts(line, n, "MASTERDOWN") || starts(line, n, "TRYAGAIN"))
                VERDICT(HD_STATUS_CRITICAL, HD_R_REDIS_LOADING, "%.*s", (int)(n > 200 ? 200 : n),
                        line);
            if (starts(line, n, "NOAUTH") || starts(line, n, "WRONGPASS") ||
                (t->password && i == 0 && starts(line, n, "ERR")))
                VERDICT(HD_STATUS_PASSING,
                        starts(line, n, "NOAUTH") ? HD_R_AUTH_REQUIRED : HD_R_AUTH_FAILED,
                        "accepting connections (authentication %s: %.*s)",
                        starts(line, n, "NOAUTH") ? "required" : "failed", (int)(n > 150 ? 150 : n),
                        line);
            VERDICT(HD_STATUS_CRITICAL, HD_R_REDIS_ERROR, "%.*s", (int)(n > 200 ? 200 : n), line);
        }
        if (type == '+' && !last) continue;
        if (type == '+' && n == 4 && memcmp(line, "PONG", 4) == 0)
            VERDICT(HD_STATUS_PASSING, HD_R_OK, "PONG");
        VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a Redis reply to PING: '%c%.*s'", type,
                (int)(n > 60 ? 60 : n), line);
    }
    return HD_PARSE_MORE;
}

const hd_proto_t hd_proto_redis = {.hello = redis_hello, .parse = redis_parse};
