/* url — strict URL splitting and validation (no scheme semantics here). */
#include "util/url.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *hd_url_decode(const char *s, size_t len)
{
    char *out = hd_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= len) {
            free(out);
            return NULL;
        }
        int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
        if (a < 0 || b < 0 || (a == 0 && b == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(a * 16 + b);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto bad;                                                                                  \
    } while (0)

int hd_url_parse(const char *s, hd_url_t *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    u->port = -1;
    size_t n = strlen(s);
    if (n == 0) FAIL("empty URL");
    if (n > HD_URL_MAX) FAIL("URL longer than %d bytes", HD_URL_MAX);

    /* scheme */
    size_t i = 0;
    if (!isalpha((unsigned char)s[0])) FAIL("missing scheme (expected e.g. tcp://host:port)");
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i >= n || s[i] != ':') FAIL("missing scheme (expected e.g. tcp://host:port)");
    u->scheme = hd_xstrndup(s, i);
    lower(u->scheme);
    i++;

    /* Opaque URLs (exec:...) keep everything after the colon, spaces and
     * all: the scheme's own parser splits it. */
    if (!(i + 1 < n && s[i] == '/' && s[i + 1] == '/')) {
        for (size_t k = i; k < n; k++)
            if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f) FAIL("control character in URL");
        u->path = hd_xstrdup(s + i);
        u->host = hd_xstrdup("");
        return 0;
    }
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)s[k] <= 0x20 || (unsigned char)s[k] >= 0x7f)
            FAIL("space or non-ASCII character at offset %zu (percent-encode it)", k);
    u->has_authority = 1;
    i += 2;

    size_t auth_end = i;
    while (auth_end < n && s[auth_end] != '/' && s[auth_end] != '?' && s[auth_end] != '#')
        auth_end++;

    /* userinfo: up to the last '@' of the authority */
    size_t host_start = i;
    for (size_t k = auth_end; k > i; k--) {
        if (s[k - 1] == '@') {
            size_t colon = i;
            while (colon < k - 1 && s[colon] != ':')
                colon++;
            u->user = hd_url_decode(s + i, colon - i);
            if (!u->user) FAIL("bad percent-escape in user name");
            if (colon < k - 1) {
                u->password = hd_url_decode(s + colon + 1, k - 1 - colon - 1);
                if (!u->password) FAIL("bad percent-escape in password");
            }
            host_start = k;
            break;
        }
    }

    /* No userinfo, yet an '@' further on: a password holding '/', '?' or
     * '#' unescaped ends the authority early ("redis://:pa/ss@h"), and what
     * looks like a host or port here is part of it. Errors then quote
     * nothing of the URL (heed never shows a password). */
    int unsure = !u->user && memchr(s + auth_end, '@', n - auth_end) != NULL;
#define SECRET_HINT                                                                                \
    " (if a user name or password holds '/', '?', '#' or '@', percent-encode it: %%2F, %%3F, "     \
    "%%23, %%40)"

    /* host */
    size_t h = host_start, host_end;
    if (h < auth_end && s[h] == '[') {
        const char *close = memchr(s + h, ']', auth_end - h);
        if (!close) FAIL("unterminated '[' in IPv6 address");
        host_end = (size_t)(close - s) + 1;
        char *lit = hd_url_decode(s + h + 1, host_end - h - 2);
        if (!lit) FAIL("bad percent-escape in IPv6 address");
        char *zone = strchr(lit, '%');
        struct in6_addr a6;
        if (zone) *zone = '\0';
        int ok = inet_pton(AF_INET6, lit, &a6) == 1;
        if (zone) *zone = '%';
        if (!ok || (zone && zone[1] == '\0')) {
            if (unsure)
                snprintf(err, errlen, "invalid IPv6 address" SECRET_HINT);
            else
                snprintf(err, errlen, "invalid IPv6 address '%s'", lit);
            free(lit);
            goto bad;
        }
        lower(lit);
        u->host = lit;
        u->host_is_ipv6 = 1;
    } else {
        /* "icmp://::1", "tcp://::1:5432": an IPv6 address without the
         * brackets that RFC 3986 asks for. Say so, not "invalid port". */
        size_t colons = 0, hexish = 1;
        for (size_t k = h; k < auth_end; k++) {
            colons += s[k] == ':';
            hexish &= isxdigit((unsigned char)s[k]) || s[k] == ':' || s[k] == '.';
        }
        if (colons >= 2 && hexish && !unsure) {
            char lit[64];
            struct in6_addr a6;
            size_t len = auth_end - h;
            if (len < sizeof(lit)) {
                memcpy(lit, s + h, len);
                lit[len] = '\0';
                if (inet_pton(AF_INET6, lit, &a6) == 1) {
                    /* "::1:80" is an address, and may be "::1" and a port. */
                    char *last = strrchr(lit, ':');
                    size_t nd = strspn(last + 1, "0123456789");
                    if (nd > 0 && nd <= 5 && !last[1 + nd]) {
                        *last = '\0';
                        if (inet_pton(AF_INET6, lit, &a6) == 1)
                            FAIL("IPv6 address needs brackets: [%s]:%s, or [%s:%s] if the "
                                 "address is all of it",
                                 lit, last + 1, lit, last + 1);
                        *last = ':';
                    }
                    FAIL("IPv6 address '%s' needs brackets: [%s]", lit, lit);
                }
            }
            FAIL("an IPv6 address needs brackets, with the port after them: [::1]:5432");
        }
        host_end = h;
        while (host_end < auth_end && s[host_end] != ':')
            host_end++;
        for (size_t k = h; k < host_end; k++) {
            char c = s[k];
            if (!(isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_')) {
                if (unsure) FAIL("invalid character in host name" SECRET_HINT);
                FAIL("invalid character '%c' in host name", c);
            }
        }
        if (host_end - h > 253) FAIL("host name longer than 253 characters");
        u->host = hd_xstrndup(s + h, host_end - h);
        lower(u->host);
    }

    /* port */
    if (host_end < auth_end) {
        if (s[host_end] != ':') {
            if (unsure) FAIL("unexpected character after host" SECRET_HINT);
            FAIL("unexpected '%c' after host", s[host_end]);
        }
        size_t p = host_end + 1;
        if (p == auth_end) FAIL("empty port after ':'");
        long port = 0;
        for (size_t k = p; k < auth_end; k++) {
            if (!isdigit((unsigned char)s[k])) {
                if (unsure) FAIL("invalid port" SECRET_HINT);
                FAIL("invalid port '%.*s'", (int)(auth_end - p), s + p);
            }
            port = port * 10 + (s[k] - '0');
            if (port > 65535) {
                if (unsure) FAIL("port out of range (1-65535)" SECRET_HINT);
                FAIL("port '%.*s' out of range (1-65535)", (int)(auth_end - p), s + p);
            }
        }
        u->port = (int)port;
    }

    /* path, query, fragment */
    size_t q = auth_end;
    while (q < n && s[q] != '?' && s[q] != '#')
        q++;
    u->path = hd_xstrndup(s + auth_end, q - auth_end);
    if (q < n && s[q] == '?') {
        size_t f = q + 1;
        while (f < n && s[f] != '#')
            f++;
        u->query = hd_xstrndup(s + q + 1, f - q - 1);
        q = f;
    }
    if (q < n && s[q] == '#') u->fragment = hd_xstrdup(s + q + 1);
    return 0;
bad:
    hd_url_free(u);
    return -1;
}

void hd_url_free(hd_url_t *u)
{
    free(u->scheme);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->path);
    free(u->query);
    free(u->fragment);
    memset(u, 0, sizeof(*u));
    u->port = -1;
}

void hd_url_encode(hd_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            hd_buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            hd_buf_append(b, e, 3);
        }
    }
}
