/* mysql — the MySQL/MariaDB probe: ready when the server's first packet is
 * a protocol 10 greeting; an error packet ("Too many connections", "Host is
 * blocked") is not ready. Without a user in the URL heed sends nothing and
 * hangs up after the greeting.
 *
 * With a user (mysql://app@db), heed also answers the greeting with a login
 * for that user and an empty auth response (it never sends a password), to
 * say how the server treats it, as the postgres probe does: an "access
 * denied" error means the server is up and checking logins (ready, the
 * output says that authentication failed); a request for more
 * authentication data is ready too (authentication required); an OK packet
 * means the account needs no password. Then heed sends COM_QUIT. */
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

#define CAP_LONG_PASSWORD 0x00000001u
#define CAP_PROTOCOL_41   0x00000200u
#define CAP_SECURE_CONN   0x00008000u
#define CAP_PLUGIN_AUTH   0x00080000u

/* Copies the error packet's message at p (plen bytes) into msg, printable. */
static unsigned error_text(const uint8_t *p, size_t plen, char *msg, size_t msglen)
{
    unsigned code = (unsigned)p[1] | (unsigned)p[2] << 8;
    size_t m = 3;
    if (plen >= 9 && p[3] == '#') m = 9; /* '#' + SQLSTATE */
    size_t mlen = plen - m;
    if (mlen > msglen - 1) mlen = msglen - 1;
    for (size_t i = 0; i < mlen; i++)
        msg[i] = (p[m + i] >= 0x20 && p[m + i] < 0x7f) ? (char)p[m + i] : ' ';
    msg[mlen] = '\0';
    return code;
}

/* Judges the server's reply to heed's login: the packet at p, plen bytes. */
static int login_verdict(const uint8_t *p, size_t plen, hd_verdict_t *v)
{
    if (p[0] == 0x00)
        VERDICT(HD_STATUS_PASSING, HD_R_OK, "accepting connections (login without a password)");
    if (p[0] == 0xfe || p[0] == 0x01)
        VERDICT(HD_STATUS_PASSING, HD_R_AUTH_REQUIRED,
                "accepting connections (authentication required: the server asks for a "
                "password)");
    if (p[0] != 0xff || plen < 3)
        VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a MySQL reply to a login (0x%02x)", p[0]);
    char msg[180];
    unsigned code = error_text(p, plen, msg, sizeof(msg));
    /* ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR,
     * ER_ACCESS_DENIED_NO_PASSWORD_ERROR, ER_PASSWORD_NO_MATCH: the server
     * checked the login. */
    if (code == 1044 || code == 1045 || code == 1698 || code == 1133)
        VERDICT(HD_STATUS_PASSING, HD_R_AUTH_FAILED,
                "accepting connections (authentication failed: ERROR %u: %s)", code, msg);
    VERDICT(HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR, "ERROR %u: %s", code, msg);
}

static int mysql_parse(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v)
{
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
        char msg[201];
        unsigned code = error_text(p, plen, msg, sizeof(msg));
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
    if (!t->user)
        VERDICT(HD_STATUS_PASSING, HD_R_OK, "server %.*s", (int)vlen, (const char *)(p + 1));
    /* The reply to heed's login follows the greeting. */
    const uint8_t *r = p + plen;
    size_t rest = len - 4 - plen;
    if (rest < 4) return HD_PARSE_MORE;
    size_t rlen = (size_t)r[0] | (size_t)r[1] << 8 | (size_t)r[2] << 16;
    if (rlen == 0 || rlen > HD_PROTO_READ_MAX - 4)
        VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a MySQL reply to a login (length %zu)",
                rlen);
    if (rest - 4 < rlen) return HD_PARSE_MORE;
    return login_verdict(r + 4, rlen, v);
}

static void put_le(hd_buf_t *out, uint32_t x, int n)
{
    for (int i = 0; i < n; i++) {
        char c = (char)((x >> (8 * i)) & 0xff);
        hd_buf_append(out, &c, 1);
    }
}

/* The server's auth plugin from a complete greeting p (plen bytes), or
 * NULL when it names none; *caps gets the server's capability flags. */
static const char *greeting_plugin(const uint8_t *p, size_t plen, uint32_t *caps, size_t *nlen)
{
    const uint8_t *end = p + plen;
    const uint8_t *q = (const uint8_t *)memchr(p + 1, 0, plen - 1) + 1; /* after the version */
    q += 4 + 8 + 1; /* id, auth data 1, filler */
    *caps = 0;
    if (end - q < 2) return NULL;
    *caps = (uint32_t)q[0] | (uint32_t)q[1] << 8;
    if (end - q < 2 + 1 + 2 + 2 + 1 + 10) return NULL;
    *caps |= ((uint32_t)q[5] | (uint32_t)q[6] << 8) << 16;
    size_t alen = q[7];
    q += 2 + 1 + 2 + 2 + 1 + 10;
    size_t part2 = alen > 21 ? alen - 8 : 13;
    if (!(*caps & CAP_PLUGIN_AUTH) || (size_t)(end - q) <= part2) return NULL;
    q += part2;
    const uint8_t *nul = memchr(q, 0, (size_t)(end - q));
    *nlen = nul ? (size_t)(nul - q) : (size_t)(end - q);
    return *nlen && *nlen < 64 && printable(q, *nlen) ? (const char *)q : NULL;
}

static void mysql_answer(const hd_target_t *t, const uint8_t *buf, size_t len, hd_buf_t *out)
{
    if (!t->user || len < 4) return;
    size_t plen = (size_t)buf[0] | (size_t)buf[1] << 8 | (size_t)buf[2] << 16;
    if (len - 4 < plen) return; /* parse has judged a complete greeting as ready */
    uint32_t scaps;
    size_t nlen = 0;
    const char *plugin = greeting_plugin(buf + 4, plen, &scaps, &nlen);
    uint32_t caps = CAP_LONG_PASSWORD | CAP_PROTOCOL_41 | CAP_SECURE_CONN;
    if (plugin) caps |= CAP_PLUGIN_AUTH;
    size_t ulen = strnlen(t->user, 200);
    size_t body = 4 + 4 + 1 + 23 + ulen + 1 + 1 + (plugin ? nlen + 1 : 0);
    put_le(out, (uint32_t)body, 3);
    put_le(out, 1, 1); /* sequence number */
    put_le(out, caps, 4);
    put_le(out, 1u << 24, 4); /* max packet size */
    put_le(out, 45, 1);       /* utf8mb4_general_ci */
    for (int i = 0; i < 23; i++)
        put_le(out, 0, 1);
    hd_buf_append(out, t->user, ulen);
    put_le(out, 0, 1);
    put_le(out, 0, 1); /* an empty auth response: no password */
    if (plugin) {
        hd_buf_append(out, plugin, nlen);
        put_le(out, 0, 1);
    }
}

static void mysql_bye(const hd_target_t *t, hd_buf_t *out)
{
    /* COM_QUIT, after a login only. */
    if (t->user) hd_buf_append(out, "\x01\x00\x00\x00\x01", 5);
}

const hd_proto_t hd_proto_mysql = {
    .hello = mysql_hello, .parse = mysql_parse, .bye = mysql_bye, .answer = mysql_answer};
