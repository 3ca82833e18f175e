/* head — HTTP/1.1 request heads (see head.h for the rules). */
#include "api/head.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(hd_api_head_err_t *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(hd_api_head_err_t *e, int status, const char *code, const char *fmt, ...)
{
    e->status = status;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int hd_api_head_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

size_t hd_api_head_skip_empty(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return i;
}

size_t hd_api_head_end(const char *buf, size_t len, size_t *scanned)
{
    size_t i = *scanned;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) break;
        size_t end = (size_t)(nl - buf);
        /* An empty line ("" or "\r") after the first line ends the head. */
        if (i > 0 && (end == i || (end == i + 1 && buf[i] == '\r'))) {
            *scanned = end + 1;
            return end + 1;
        }
        i = end + 1;
    }
    *scanned = i;
    return 0;
}

int hd_api_head_partial(const char *buf, size_t len, size_t max, hd_api_head_err_t *e)
{
    if (len == 0) return 0;
    size_t i = 0;
    while (i < len && i <= HD_API_METHOD_MAX && hd_api_head_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0 || (i < len && i <= HD_API_METHOD_MAX && buf[i] != ' '))
        return fail(e, 400, "bad_request",
                    "this is not an HTTP request line (it must start with a method such as GET)");
    if (i > HD_API_METHOD_MAX)
        return fail(e, 501, "not_implemented", "the method is longer than %d characters",
                    HD_API_METHOD_MAX);
    if (len <= max) return 0;
    if (!memchr(buf, '\n', len))
        return fail(e, 414, "uri_too_long",
                    "the request line is longer than the limit of %zu bytes", max);
    return fail(e, 431, "headers_too_large",
                "the request line and headers are longer than the limit of %zu bytes", max);
}

size_t hd_api_head_lines(const char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = buf, *end = buf + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        n++;
    return n;
}

const char *hd_api_head_field(const hd_api_head_t *h, const char *name)
{
    for (size_t i = 0; i < h->nfields; i++)
        if (!strcasecmp(h->fields[i].name, name)) return h->fields[i].value;
    return NULL;
}

/* Cuts the line starting at *p (within end) at its LF, and its CR if any;
 * returns the line, NUL-terminated, and moves *p past it. */
static char *next_line(char **p, char *end, size_t *len)
{
    char *s = *p;
    char *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) nl = end; /* not reached: the head ends in an empty line */
    size_t n = (size_t)(nl - s);
    if (n > 0 && s[n - 1] == '\r') n--;
    s[n] = '\0';
    *len = n;
    *p = nl < end ? nl + 1 : end;
    return s;
}

static int parse_version(const char *v, int *minor, hd_api_head_err_t *e)
{
    if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
        v[7] > '9' || v[8] != '\0')
        return fail(e, 400, "bad_request",
                    "the request line must end in an HTTP version such as HTTP/1.1");
    if (v[5] != '1')
        return fail(e, 505, "version_not_supported",
                    "HTTP/%c.%c is not supported: this server speaks HTTP/1.1 and HTTP/1.0", v[5],
                    v[7]);
    *minor = v[7] == '0' ? 0 : 1;
    return 0;
}

static int parse_request_line(char *line, size_t len, hd_api_head_t *h, hd_api_head_err_t *e)
{
    char *sp1 = memchr(line, ' ', len);
    if (!sp1 || sp1 == line)
        return fail(e, 400, "bad_request",
                    "this is not an HTTP request line (it must start with a method such as GET)");
    for (char *p = line; p < sp1; p++)
        if (!hd_api_head_tchar((unsigned char)*p))
            return fail(e, 400, "bad_request", "the method holds a character that is not allowed");
    if (sp1 - line > HD_API_METHOD_MAX)
        return fail(e, 501, "not_implemented", "the method is longer than %d characters",
                    HD_API_METHOD_MAX);
    char *target = sp1 + 1, *end = line + len;
    char *sp2 = memchr(target, ' ', (size_t)(end - target));
    char *tend = sp2 ? sp2 : end;
    if (tend == target) return fail(e, 400, "bad_request", "the request line has no target");
    for (char *p = target; p < tend; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return fail(e, 400, "bad_request",
                        "the request target holds the control byte 0x%02x at position %zu", c,
                        (size_t)(p - target));
    }
    if (!sp2)
        return fail(e, 505, "version_not_supported",
                    "the request line has no HTTP version (HTTP/0.9 is not supported): send "
                    "HTTP/1.1");
    *sp1 = '\0';
    *sp2 = '\0';
    if (memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)))
        return fail(e, 400, "bad_request",
                    "the request line has more than three parts (a space in the target must be "
                    "sent as %%20)");
    h->method = line;
    h->target = target;
    return parse_version(sp2 + 1, &h->minor, e);
}

/* Splits one field line (without its line end) into name and trimmed
 * value, in place. */
static int parse_field(char *line, size_t len, hd_api_field_t *f, hd_api_head_err_t *e)
{
    if (line[0] == ' ' || line[0] == '\t')
        return fail(e, 400, "bad_request",
                    "a header line starts with a space or tab (obsolete line folding is not "
                    "accepted)");
    size_t i = 0;
    while (i < len && hd_api_head_tchar((unsigned char)line[i]))
        i++;
    if (i == len || line[i] != ':') {
        if (i < len && (line[i] == ' ' || line[i] == '\t'))
            return fail(e, 400, "bad_request", "header '%.*s' has a space before its colon",
                        (int)(i > 64 ? 64 : i), line);
        return fail(e, 400, "bad_request", "a header line is not 'Name: value'");
    }
    if (i == 0) return fail(e, 400, "bad_request", "a header line has an empty name");
    line[i] = '\0';
    char *v = line + i + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (char *p = v; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(e, 400, "bad_request", "header '%.64s' holds the control byte 0x%02x", line,
                        c);
    }
    *end = '\0';
    f->name = line;
    f->value = v;
    return 0;
}

/* Calls fn for each comma-separated element of a list value, trimmed;
 * stops at the first nonzero return. */
static int each_element(const char *v, int (*fn)(const char *s, size_t n, void *arg), void *arg)
{
    while (*v) {
        size_t n = strcspn(v, ",");
        const char *s = v, *t = v + n;
        while (s < t && (*s == ' ' || *s == '\t'))
            s++;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (t > s) {
            int rc = fn(s, (size_t)(t - s), arg);
            if (rc) return rc;
        }
        v += n;
        if (*v == ',') v++;
    }
    return 0;
}

typedef struct codings_s {
    int chunked;    /* "chunked" elements seen */
    int after;      /* elements after a "chunked" */
    char other[40]; /* the first coding that is not chunked */
} codings_t;

static int on_coding(const char *s, size_t n, void *arg)
{
    codings_t *c = arg;
    if (c->chunked) c->after++;
    if (n == 7 && !strncasecmp(s, "chunked", 7))
        c->chunked++;
    else if (!c->other[0])
        snprintf(c->other, sizeof(c->other), "%.*s", (int)(n > 32 ? 32 : n), s);
    return 0;
}

static int on_connection(const char *s, size_t n, void *arg)
{
    int *ka = arg;
    if (n == 5 && !strncasecmp(s, "close", 5)) *ka = 0;
    if (n == 10 && !strncasecmp(s, "keep-alive", 10) && *ka != 0) *ka = 2;
    return 0;
}

static int parse_length(const char *v, uint64_t *out)
{
    if (!*v) return -1;
    uint64_t x = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9') return -1;
        unsigned d = (unsigned)(*v - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    }
    *out = x;
    return 0;
}

/* Reads the fields that frame and route the request. */
static int semantics(hd_api_head_t *h, hd_api_head_err_t *e)
{
    codings_t cod = {0, 0, ""};
    int te = 0, hosts = 0, conn_ka = 1; /* 1: default, 0: close, 2: keep-alive */
    for (size_t i = 0; i < h->nfields; i++) {
        const char *n = h->fields[i].name, *v = h->fields[i].value;
        if (!strcasecmp(n, "content-length")) {
            uint64_t x;
            if (parse_length(v, &x) < 0)
                return fail(e, 400, "bad_request",
                            "Content-Length must be a number of bytes, not '%.40s'", v);
            if (h->has_length && x != h->length)
                return fail(e, 400, "bad_request", "two Content-Length headers disagree");
            h->has_length = 1;
            h->length = x;
        } else if (!strcasecmp(n, "transfer-encoding")) {
            te = 1;
            each_element(v, on_coding, &cod);
        } else if (!strcasecmp(n, "host")) {
            hosts++;
            h->host = v;
        } else if (!strcasecmp(n, "connection")) {
            each_element(v, on_connection, &conn_ka);
        } else if (!strcasecmp(n, "expect")) {
            if (strcasecmp(v, "100-continue") != 0)
                return fail(e, 417, "expectation_failed",
                            "Expect: %.40s is not supported (only 100-continue)", v);
            h->expect_continue = 1;
        }
    }
    if (te) {
        if (h->minor == 0)
            return fail(e, 400, "bad_request",
                        "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        if (h->has_length)
            return fail(e, 400, "bad_request",
                        "a request may not have both Content-Length and Transfer-Encoding");
        if (cod.other[0])
            return fail(e, 501, "not_implemented",
                        "Transfer-Encoding '%s' is not supported (only chunked)", cod.other);
        if (cod.chunked != 1 || cod.after)
            return fail(e, 400, "bad_request", "Transfer-Encoding must be chunked, once");
        h->chunked = 1;
    }
    if (h->minor >= 1 && hosts != 1)
        return fail(e, 400, "bad_request",
                    hosts ? "an HTTP/1.1 request must have one Host header, not several"
                          : "an HTTP/1.1 request must have a Host header");
    if (hosts > 1) return fail(e, 400, "bad_request", "a request may have only one Host header");
    h->keep_alive = h->minor >= 1 ? conn_ka != 0 : conn_ka == 2;
    return 0;
}

int hd_api_head_parse(char *buf, size_t len, hd_api_field_t *fields, size_t cap, hd_api_head_t *h,
                      hd_api_head_err_t *e)
{
    memset(h, 0, sizeof(*h));
    h->fields = fields;
    char *p = buf, *end = buf + len;
    size_t n;
    char *line = next_line(&p, end, &n);
    if (parse_request_line(line, n, h, e) < 0) return -1;
    while (p < end) {
        line = next_line(&p, end, &n);
        if (n == 0) break; /* the empty line: the head's end */
        if (h->nfields == cap) return fail(e, 431, "headers_too_large", "too many header lines");
        if (parse_field(line, n, &fields[h->nfields], e) < 0) return -1;
        h->nfields++;
    }
    return semantics(h, e);
}
