/* pg — the PostgreSQL probe: a protocol 3.0 startup exchange.
 *
 * Ready means the server got past its start-up checks for this connection:
 * it asked for authentication, or (trust) sent ReadyForQuery. Not ready:
 * SQLSTATE 57P03 ("the database system is starting up", "...in recovery
 * mode", "...shutting down"), 3D000 (the database does not exist yet), any
 * other error. An authentication failure (SQLSTATE class 28) means the server
 * is up and checking logins: that is ready, as pg_isready says, and the
 * output says that authentication failed. heed never sends a password. */
#include "probe/proto.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static void put32(hd_buf_t *b, uint32_t v)
{
    uint32_t n = htonl(v);
    hd_buf_append(b, &n, 4);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void pg_hello(const hd_target_t *t, hd_buf_t *out)
{
    hd_buf_t body = {0};
    put32(&body, 196608); /* protocol 3.0 */
    const char *kv[] = {"user",
                        t->user ? t->user : "postgres",
                        "database",
                        t->database ? t->database : (t->user ? t->user : "postgres"),
                        "application_name",
                        "heed"};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        hd_buf_append(&body, kv[i], strlen(kv[i]) + 1);
    hd_buf_append(&body, "", 1);
    put32(out, (uint32_t)body.len + 4);
    hd_buf_append(out, body.data, body.len);
    hd_buf_free(&body);
}

/* Copies field `code` of an ErrorResponse body into out ("" if absent). */
static void field(const uint8_t *p, size_t len, char code, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t i = 0;
    while (i < len && p[i]) {
        char c = (char)p[i++];
        const uint8_t *nul = memchr(p + i, 0, len - i);
        if (!nul) return;
        size_t n = (size_t)(nul - (p + i));
        if (c == code) {
            snprintf(out, outlen, "%.*s", (int)n, (const char *)(p + i));
            return;
        }
        i += n + 1;
    }
}

static void clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) *s = ' ';
}

#define VERDICT(st, r, ...)                                                                        \
    do {                                                                                           \
        v->status = (st);                                                                          \
        v->reason = (r);                                                                           \
        snprintf(v->msg, sizeof(v->msg), __VA_ARGS__);                                             \
        clean(v->msg);                                                                             \
        return HD_PARSE_DONE;                                                                      \
    } while (0)

static int pg_parse(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v)
{
    (void)t;
    size_t off = 0;
    while (len - off >= 5) {
        uint8_t type = buf[off];
        uint32_t mlen = get32(buf + off + 1);
        if (mlen < 4 || mlen > HD_PROTO_READ_MAX)
            VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                    "not a PostgreSQL reply (message length %u)", (unsigned)mlen);
        if (len - off - 1 < mlen) return HD_PARSE_MORE;
        const uint8_t *body = buf + off + 5;
        size_t blen = mlen - 4;
        off += 1 + mlen;
        switch (type) {
        case 'R': {
            if (blen < 4)
                VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "short authentication message");
            uint32_t code = get32(body);
            if (code == 0) continue; /* AuthenticationOk: wait for ReadyForQuery */
            VERDICT(HD_STATUS_PASSING, HD_R_AUTH_REQUIRED,
                    "accepting connections (authentication required: the server asks for a "
                    "password)");
        }
        case 'Z':
            VERDICT(HD_STATUS_PASSING, HD_R_OK, "accepting connections");
        case 'E': {
            char code[16], msg[200];
            field(body, blen, 'C', code, sizeof(code));
            field(body, blen, 'M', msg, sizeof(msg));
            if (!msg[0]) snprintf(msg, sizeof(msg), "error");
            if (strcmp(code, "57P03") == 0)
                VERDICT(HD_STATUS_CRITICAL, HD_R_PG_STARTING, "%s", msg);
            if (strcmp(code, "3D000") == 0)
                VERDICT(HD_STATUS_CRITICAL, HD_R_PG_NO_DATABASE, "%s", msg);
            if (strncmp(code, "28", 2) == 0)
                VERDICT(HD_STATUS_PASSING, HD_R_AUTH_FAILED,
                        "accepting connections (authentication failed: %s)", msg);
            VERDICT(HD_STATUS_CRITICAL, HD_R_PG_ERROR, "%s%s%s", code[0] ? code : "",
                    code[0] ? ": " : "", msg);
        }
        case 'S': /* ParameterStatus */
        case 'K': /* BackendKeyData */
        case 'N': /* NoticeResponse */
        case 'v': /* NegotiateProtocolVersion */
            continue;
        default:
            VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                    "not a PostgreSQL reply (message type 0x%02x)", type);
        }
    }
    return HD_PARSE_MORE;
}

static void pg_bye(const hd_target_t *t, hd_buf_t *out)
{
    (void)t;
    hd_buf_append(out, "X", 1); /* Terminate */
    put32(out, 4);
}

const hd_proto_t hd_proto_pg = {.hello = pg_hello, .parse = pg_parse, .bye = pg_bye};
