/* mysql — the MySQL/MariaDB probe: ready when the server's first packet is
 * a protocol 10 greeting; an error packet ("Too many connections", "Host is
 * blocked") is not ready. heed sends nothing and hangs up after the greeting. */
#include "probe/proto.h"

#include <stdio.h>
#include <string.h>

static void mysql_hello(const hd_target_t *t, hd_buf_t *out)
{
    (void)t;
    (void)out; /* the server speaks first */
}

static int printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e) return 0;
    return 1;
}

#define VERDICT(st, r, ...)                                                                        \
    do {                                                                                           \
        v->status = (st);                                                                          \
        v->reason = (r);                                                                           \
        snprintf(v->msg, sizeof(v->msg), __VA_ARGS__);                                             \
        return HD_PARSE_DONE;                                                                      \
    } while (0)

static int mysql_parse(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v)
{
    (void)t;
    if (len < 4) return HD_PARSE_MORE;
    size_t plen = (size_t)buf[0] | (size_t)buf[1] << 8 | (size_t)buf[2] << 16;
    if (buf[3] != 0 || plen == 0 || plen > HD_PROTO_READ_MAX - 4)
        VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                "not a MySQL greeting (header %02x %02x %02x %02x)", buf[0], buf[1], buf[2],
                buf[3]);
    if (len - 4 < plen) return HD_PARSE_MORE;
    const uint8_t *p = buf + 4;
    if (p[0] == 0xff) {
        if (plen < 3) VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "short MySQL error packet");
        unsigned code = (unsigned)p[1] | (unsigned)p[2] << 8;
        size_t m = 3;
        if (plen >= 9 && p[3] == '#') m = 9; /* '#' + SQLSTATE */
        size_t mlen = plen - m;
        if (mlen > 200) mlen = 200;
        char msg[201];
        for (size_t i = 0; i < mlen; i++)
            msg[i] = (p[m + i] >= 0x20 && p[m + i] < 0x7f) ? (char)p[m + i] : ' ';
        msg[mlen] = '\0';
        VERDICT(HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR, "ERROR %u: %s", code, msg);
    }
    if (p[0] != 10)
        VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a MySQL greeting (protocol %u)", p[0]);
    const uint8_t *nul = memchr(p + 1, 0, plen - 1);
    if (!nul || !printable(p + 1, (size_t)(nul - (p + 1))) || nul - (p + 1) > 100)
        VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a MySQL greeting (bad server version)");
    size_t vlen = (size_t)(nul - (p + 1));
    /* connection id (4), auth data part 1 (8), filler (1) */
    if (plen < 1 + vlen + 1 + 4 + 8 + 1)
        VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a MySQL greeting (too short)");
    VERDICT(HD_STATUS_PASSING, HD_R_OK, "server %.*s", (int)vlen, (const char *)(p + 1));
}

const hd_proto_t hd_proto_mysql = {mysql_hello, mysql_parse, NULL, NULL};
