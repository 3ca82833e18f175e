/* http1 — a small HTTP/1.1 client exchange for http:// targets, on the
 * stream-socket engine (conn.c), for the static heed, which has no libcurl
 * (docs/static.md). The dynamic build probes http(s) with libcurl
 * (http.c); both judge alike: a status in the expected set (any 2xx by
 * default), and the body contains the expected text if one is set.
 *
 * One request per connection ("Connection: close"), the target's method,
 * header lines and body, Basic authentication from the URL's user info.
 * Interim 1xx replies are skipped; bodies are read by Content-Length,
 * chunked transfer coding, or to the close. What it does not do: https,
 * redirects (a 3xx is judged as it is), and a body_contains search past the
 * first HD_PROTO_READ_MAX bytes of the reply. */
#include "probe/proto.h"
#include "util/base64.h"
#include "util/mem.h"
#include "util/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void http1_hello(const hd_target_t *t, hd_buf_t *out)
{
    const hd_http_expect_t *x = &t->http;
    hd_url_t u;
    char err[200];
    if (hd_url_parse(t->url, &u, err, sizeof(err)) < 0) return; /* parsed once already */
    const char *method = x->method ? x->method : "GET";
    hd_buf_printf(out, "%s %s%s%s HTTP/1.1\r\n", method, u.path[0] ? u.path : "/",
                  u.query ? "?" : "", u.query ? u.query : "");
    hd_buf_printf(out, u.host_is_ipv6 ? "Host: [%s]" : "Host: %s", u.host);
    if (u.port >= 0) hd_buf_printf(out, ":%d", u.port);
    hd_buf_puts(out, "\r\nUser-Agent: heed/" HEED_VERSION "\r\nAccept: */*\r\n"
                     "Connection: close\r\n");
    if (u.user) {
        hd_buf_t cred = {0};
        hd_buf_printf(&cred, "%s:%s", u.user, u.password ? u.password : "");
        hd_buf_puts(out, "Authorization: Basic ");
        hd_base64_encode(out, cred.data, cred.len);
        hd_buf_puts(out, "\r\n");
        hd_buf_free(&cred);
    }
    for (char **l = x->headers; l && *l; l++)
        hd_buf_printf(out, "%s\r\n", *l);
    if (x->body) hd_buf_printf(out, "Content-Length: %zu\r\n", strlen(x->body));
    hd_buf_puts(out, "\r\n");
    if (x->body) hd_buf_puts(out, x->body);
    hd_url_free(&u);
}

#define VERDICT(st, r, ...)                                                                        \
    do {                                                                                           \
        v->status = (st);                                                                          \
        v->reason = (r);                                                                           \
        snprintf(v->msg, sizeof(v->msg), __VA_ARGS__);                                             \
        return HD_PARSE_DONE;                                                                      \
    } while (0)

/* The end of the head that starts at buf (just past its blank line), or 0
 * while incomplete. */
static size_t head_end(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
    return 0;
}

/* The value of header name in the head [h, h + n), trimmed, or NULL. */
static const char *header(const char *h, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = h + n;
    const char *line = memchr(h, '\n', n); /* past the status line */
    while (line && line + 1 < end) {
        const char *s = line + 1;
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e) break;
        if ((size_t)(e - s) > nl && s[nl] == ':' && strncasecmp(s, name, nl) == 0) {
            const char *val = s + nl + 1, *ve = e;
            while (val < ve && (*val == ' ' || *val == '\t'))
                val++;
            while (ve > val && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - val);
            return val;
        }
        line = e;
    }
    return NULL;
}

/* Decodes the chunked body at [b, b + n) into out. Returns 1 when the last
 * chunk was seen, 0 while more is needed, -1 when it is not chunked
 * coding. */
static int dechunk(const uint8_t *b, size_t n, hd_buf_t *out)
{
    size_t i = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        while (i < n && isxdigit(b[i])) {
            if (size > (SIZE_MAX >> 4)) return -1;
            size = size * 16 + (size_t)(isdigit(b[i]) ? b[i] - '0' : (tolower(b[i]) - 'a' + 10));
            i++;
            digits++;
        }
        if (i == n) return 0;
        if (!digits) return -1;
        while (i < n && b[i] != '\n') /* chunk extensions */
            i++;
        if (i == n) return 0;
        i++;
        if (size == 0) return 1; /* trailers are not read */
        size_t take = n - i < size ? n - i : size;
        hd_buf_append(out, b + i, take);
        if (take < size) return 0;
        i += size;
        if (i + 2 > n) return 0;
        if (b[i] != '\r' || b[i + 1] != '\n') return -1;
        i += 2;
    }
}

static int status_ok(const hd_http_expect_t *x, int code)
{
    if (x->nstatus == 0) return code >= 200 && code < 300;
    for (int i = 0; i < x->nstatus; i++)
        if (x->status[i] == code) return 1;
    return 0;
}

/* Judges the reply so far; closed: the server has closed the connection. */
static int judge(const hd_target_t *t, const uint8_t *buf, size_t len, int closed, hd_verdict_t *v)
{
    const hd_http_expect_t *x = &t->http;
    size_t off = 0, end;
    int code;
    for (;;) {
        const uint8_t *r = buf + off;
        size_t n = len - off;
        if (memcmp(r, "HTTP/1.", n < 7 ? n : 7) != 0)
            VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not an HTTP reply");
        if (!(end = head_end(r, n))) {
            if (len >= HD_PROTO_READ_MAX)
                VERDICT(HD_STATUS_CRITICAL, HD_R_REPLY_TOO_LARGE, "HTTP head larger than %d bytes",
                        HD_PROTO_READ_MAX);
            return HD_PARSE_MORE;
        }
        if (end < 14 || !isdigit(r[7]) || r[8] != ' ' || !isdigit(r[9]) || !isdigit(r[10]) ||
            !isdigit(r[11]) || (r[12] != ' ' && r[12] != '\r'))
            VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not an HTTP status line");
        code = (r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0');
        if (code < 100) VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "HTTP status %03d", code);
        if (code >= 200 || code == 101) break;
        off += end; /* an interim reply (100 Continue, 103 Early Hints): the next one follows */
        if (off == len) return HD_PARSE_MORE;
    }
    const char *head = (const char *)buf + off;
    if (!status_ok(x, code)) {
        int redirect = code >= 300 && code < 400;
        VERDICT(HD_STATUS_CRITICAL, HD_R_HTTP_STATUS, "HTTP %d%s", code,
                !redirect   ? ""
                : x->follow ? " (the static heed does not follow redirects)"
                            : " (redirects are not followed unless asked)");
    }
    int no_body = (x->method && !strcasecmp(x->method, "HEAD")) || code == 204 || code == 304;
    if (!x->body_contains || no_body) {
        if (x->body_contains)
            VERDICT(HD_STATUS_CRITICAL, HD_R_HTTP_BODY, "HTTP %d, body lacks '%s'", code,
                    x->body_contains);
        VERDICT(HD_STATUS_PASSING, HD_R_OK, "HTTP %d", code);
    }
    const uint8_t *body = buf + off + end;
    size_t avail = len - off - end, tlen, clen;
    hd_buf_t dec = {0};
    const uint8_t *data = body;
    size_t dlen = avail;
    int complete = closed;
    const char *te = header(head, end, "Transfer-Encoding", &tlen);
    const char *cl = header(head, end, "Content-Length", &clen);
    if (te && tlen >= 7 && !strncasecmp(te + tlen - 7, "chunked", 7)) {
        int rc = dechunk(body, avail, &dec);
        data = (const uint8_t *)dec.data;
        dlen = dec.len;
        complete = rc == 1;
        /* The text found before a coding error passes, as it would have a
         * moment earlier, when the bad bytes had not arrived yet. */
        if (rc < 0 && !(dlen && memmem(data, dlen, x->body_contains, strlen(x->body_contains)))) {
            hd_buf_free(&dec);
            VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "HTTP %d, bad chunked body", code);
        }
    } else if (cl) {
        char num[24];
        snprintf(num, sizeof(num), "%.*s", (int)(clen < 23 ? clen : 23), cl);
        char *e;
        unsigned long long want = strtoull(num, &e, 10);
        if (!clen || clen > 20 || *e || !isdigit((unsigned char)num[0]))
            VERDICT(HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "HTTP %d, bad Content-Length", code);
        if (want <= avail) {
            dlen = (size_t)want;
            complete = 1;
        }
    }
    int found = data && dlen && memmem(data, dlen, x->body_contains, strlen(x->body_contains));
    hd_buf_free(&dec);
    if (found) VERDICT(HD_STATUS_PASSING, HD_R_OK, "HTTP %d", code);
    if (complete || len >= HD_PROTO_READ_MAX)
        VERDICT(HD_STATUS_CRITICAL, HD_R_HTTP_BODY, "HTTP %d, body lacks '%s'%s", code,
                x->body_contains, complete ? "" : " (in the reply's first 64 KiB)");
    return HD_PARSE_MORE;
}

static int http1_parse(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v)
{
    return judge(t, buf, len, 0, v);
}

static int http1_eof(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v)
{
    if (!len) return HD_PARSE_MORE; /* closed before any reply: conn.c says so */
    return judge(t, buf, len, 1, v);
}

const hd_proto_t hd_proto_http1 = {.hello = http1_hello, .parse = http1_parse, .eof = http1_eof};
