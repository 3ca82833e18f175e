/* target — turns a URL into something a probe can run, with each scheme's
 * defaults (ports 5432, 3306, 6379, 80, 443) and rules. */
#include "probe/target.h"
#include "probe/dns.h"
#include "util/buf.h"
#include "util/curl_dl.h"
#include "util/mem.h"
#include "util/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *scheme;
    hd_kind_t kind;
    int default_port; /* 0: a port is required; -1: no port at all */
} schemes[] = {
    {"tcp", HD_KIND_TCP, 0},        {"unix", HD_KIND_UNIX, -1},
    {"http", HD_KIND_HTTP, 80},     {"https", HD_KIND_HTTP, 443},
    {"postgres", HD_KIND_PG, 5432}, {"postgresql", HD_KIND_PG, 5432},
    {"mysql", HD_KIND_MYSQL, 3306}, {"redis", HD_KIND_REDIS, 6379},
    {"file", HD_KIND_FILE, -1},     {"exec", HD_KIND_EXEC, -1},
    {"icmp", HD_KIND_ICMP, -1},     {"dns", HD_KIND_DNS, -1},
    {"tls", HD_KIND_TLS, 443},
};

const char *hd_kind_name(hd_kind_t k)
{
    switch (k) {
    case HD_KIND_TCP:
        return "tcp";
    case HD_KIND_UNIX:
        return "unix";
    case HD_KIND_HTTP:
        return "http";
    case HD_KIND_PG:
        return "postgres";
    case HD_KIND_MYSQL:
        return "mysql";
    case HD_KIND_REDIS:
        return "redis";
    case HD_KIND_FILE:
        return "file";
    case HD_KIND_EXEC:
        return "exec";
    case HD_KIND_ICMP:
        return "icmp";
    case HD_KIND_DNS:
        return "dns";
    case HD_KIND_TLS:
        return "tls";
    }
    return "?";
}

void hd_argv_free(char **argv)
{
    if (!argv) return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

char **hd_argv_split(const char *s, char *err, size_t errlen)
{
    size_t n = 0, cap = 8;
    char **argv = hd_xcalloc(cap, sizeof(char *));
    hd_buf_t word = {0};
    int in_word = 0;
    for (const char *p = s;; p++) {
        char c = *p;
        if (c == '\0' || isspace((unsigned char)c)) {
            if (in_word) {
                if (n + 2 > cap) {
                    cap *= 2;
                    argv = hd_xrealloc(argv, cap * sizeof(char *));
                }
                argv[n++] = hd_xstrndup(word.data ? word.data : "", word.len);
                argv[n] = NULL;
                hd_buf_reset(&word);
                in_word = 0;
            }
            if (c == '\0') break;
            continue;
        }
        in_word = 1;
        if (c == '\\') {
            /* A trailing backslash stands for itself, as in sh. */
            if (p[1] != '\0') p++;
            hd_buf_append(&word, p, 1);
        } else if (c == '\'' || c == '"') {
            const char *q = p + 1;
            while (*q && *q != c) {
                if (c == '"' && *q == '\\' && q[1]) q++;
                hd_buf_append(&word, q, 1);
                q++;
            }
            if (*q != c) {
                snprintf(err, errlen, "unterminated %c quote in command", c);
                goto bad;
            }
            p = q;
        } else {
            hd_buf_append(&word, &c, 1);
        }
    }
    hd_buf_free(&word);
    if (n == 0) {
        snprintf(err, errlen, "empty command");
        hd_argv_free(argv);
        return NULL;
    }
    return argv;
bad:
    hd_buf_free(&word);
    hd_argv_free(argv);
    return NULL;
}

/* Where the password of URL s lies: [*at, *at + *len). strict: only a
 * password inside the authority (a URL that parses); else also one that
 * an unescaped '/', '?' or '#' cut short (everything from the first ':'
 * after "//" to the last '@'). Returns 0 when there is none. */
static int password_span(const char *s, int strict, size_t *at, size_t *len)
{
    const char *auth = strstr(s, "://");
    if (!auth) return 0;
    auth += 3;
    const char *end = auth, *stop = auth + strlen(auth);
    while (*end && *end != '/' && *end != '?' && *end != '#')
        end++;
    const char *last = NULL;
    for (const char *p = auth; p < (strict ? end : stop); p++)
        if (*p == '@') last = p;
    if (!last) return 0;
    const char *colon = memchr(auth, ':', (size_t)(last - auth));
    if (!colon) return 0;
    *at = (size_t)(colon + 1 - s);
    *len = (size_t)(last - colon - 1);
    return 1;
}

/* Appends query (len bytes, without '?') with the value of each
 * "password=" item (any case; libpq's and MySQL's DSN key) as "***". */
static void put_query(hd_buf_t *b, const char *q, size_t len)
{
    const char *end = q + len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *item_end = amp ? amp : end, *eq = memchr(q, '=', (size_t)(item_end - q));
        if (eq && eq - q == 8 && !strncasecmp(q, "password", 8)) {
            hd_buf_append(b, q, (size_t)(eq + 1 - q));
            hd_buf_puts(b, "***");
        } else {
            hd_buf_append(b, q, (size_t)(item_end - q));
        }
        if (amp) hd_buf_puts(b, "&");
        q = amp ? amp + 1 : end;
    }
}

static char *redact(const char *s, int strict)
{
    hd_buf_t b = {0};
    size_t at = 0, len = 0, n = strlen(s);
    hd_buf_puts(&b, "");
    const char *rest = s;
    if (password_span(s, strict, &at, &len)) {
        hd_buf_append(&b, s, at);
        hd_buf_puts(&b, "***");
        rest = s + at + len;
    }
    const char *q = strchr(rest, '?'), *frag = strchr(rest, '#');
    if (q && (!frag || q < frag)) {
        size_t qlen = frag ? (size_t)(frag - q - 1) : strlen(q + 1);
        hd_buf_append(&b, rest, (size_t)(q + 1 - rest));
        put_query(&b, q + 1, qlen);
        rest = q + 1 + qlen;
    }
    hd_buf_append(&b, rest, (size_t)(s + n - rest));
    return b.data;
}

char *hd_target_redact(const char *s)
{
    return redact(s, 0);
}

void hd_target_scrub(const hd_target_t *t, char *text, size_t cap)
{
    /* The password as the server may have it (decoded), and as the URL
     * has it (percent-encoded, when that differs). */
    size_t at, len;
    const char *secrets[2] = {t->password, NULL};
    char *raw = NULL;
    if (!t->password && (!t->url || !strchr(t->url, '@'))) return; /* the common case */
    if (t->url && password_span(t->url, 1, &at, &len) && len) {
        raw = hd_xstrndup(t->url + at, len);
        if (!t->password || strcmp(raw, t->password) != 0) secrets[1] = raw;
    }
    for (int i = 0; i < 2; i++) {
        const char *sec = secrets[i];
        if (!sec || !*sec || !strstr(text, sec)) continue;
        hd_buf_t b = {0};
        size_t sl = strlen(sec);
        for (const char *p = text, *hit; *p; p = hit + sl) {
            hit = strstr(p, sec);
            if (!hit) {
                hd_buf_puts(&b, p);
                break;
            }
            hd_buf_append(&b, p, (size_t)(hit - p));
            hd_buf_puts(&b, "***");
        }
        snprintf(text, cap, "%s", b.data ? b.data : "");
        hd_buf_free(&b);
    }
    free(raw);
}

int hd_target_masked(const hd_target_t *t)
{
    size_t at, len;
    if (!t->url) return 0;
    if (password_span(t->url, 1, &at, &len) && len == 3 && !memcmp(t->url + at, "***", 3)) return 1;
    const char *q = strchr(t->url, '?');
    for (; q; q = strchr(q + 1, '&'))
        if (!strncasecmp(q + 1, "password=***", 12) && (!q[13] || q[13] == '&' || q[13] == '#'))
            return 1;
    return 0;
}

int hd_header_secret(const char *name, size_t len)
{
    static const char *const words[] = {"auth",   "token",   "secret",  "passw",
                                        "cookie", "session", "api-key", "apikey"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= len; i++)
            if (!strncasecmp(name + i, words[w], wl)) return 1;
    }
    return 0;
}

char *hd_header_display(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || !hd_header_secret(line, (size_t)(colon - line))) return hd_xstrdup(line);
    hd_buf_t b = {0};
    hd_buf_append(&b, line, (size_t)(colon - line));
    hd_buf_puts(&b, ": ***");
    return b.data;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto bad;                                                                                  \
    } while (0)

/* Reads a dns:// query ("type=MX&server=127.0.0.1:5353&expect=...") into
 * t. Returns 0, or -1 with a message. */
static int dns_query(char *q, hd_target_t *t, char *err, size_t errlen)
{
    char *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) FAIL("dns query item '%s' is not KEY=VALUE", kv);
        *eq = '\0';
        char **dst = !strcmp(kv, "type")     ? &t->dns_type
                     : !strcmp(kv, "server") ? &t->dns_server
                     : !strcmp(kv, "expect") ? &t->dns_expect
                                             : NULL;
        if (!dst) FAIL("unknown dns query key '%s' (expected type, server or expect)", kv);
        if (*dst) FAIL("dns query key '%s' given twice", kv);
        *dst = hd_url_decode(eq + 1, strlen(eq + 1));
        if (!*dst) FAIL("bad percent-escape in dns %s", kv);
        if (!**dst) FAIL("empty dns %s", kv);
    }
    if (t->dns_type) {
        int code = hd_dns_type_code(t->dns_type);
        if (!code)
            FAIL("unknown dns type '%s' (expected A, AAAA, CNAME, MX, NS or TXT)", t->dns_type);
        free(t->dns_type);
        t->dns_type = hd_xstrdup(hd_dns_type_name(code));
    }
    if (t->dns_server && !hd_dns_server_valid(t->dns_server))
        FAIL("dns server '%s' is not ADDR[:PORT] (an IPv4 address or [IPv6], port 1-65535)",
             t->dns_server);
    return 0;
bad:
    return -1;
}

int hd_target_parse(const char *s, hd_target_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->redis_db = -1;
    t->tls.cert_days_left = HD_TLS_DAYS_DEFAULT;
    hd_url_t u;
    char uerr[200];
    if (hd_url_parse(s, &u, uerr, sizeof(uerr)) < 0) {
        snprintf(err, errlen, "%s", uerr);
        return -1;
    }
    size_t i;
    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strcmp(u.scheme, schemes[i].scheme) == 0) break;
    if (i == sizeof(schemes) / sizeof(schemes[0]))
        FAIL("unknown scheme '%s' (expected tcp, unix, http, https, postgres, mysql, redis, "
             "file, exec, icmp, dns or tls)",
             u.scheme);
    t->kind = schemes[i].kind;
#ifdef HEED_STATIC
    /* Refused here, at once, rather than by each attempt until a timeout;
     * http:// is spoken by probe/http1.c. */
    if (t->kind == HD_KIND_HTTP && schemes[i].default_port == 443)
        FAIL("%s:// targets are %s", u.scheme, HD_CURL_NOT_IN_BUILD);
#endif
    t->url = hd_xstrdup(s);
    t->display = redact(s, 1);
    int defport = schemes[i].default_port;

    if (t->kind == HD_KIND_EXEC) {
        if (u.has_authority) FAIL("exec targets are written exec:COMMAND ARGS, without //");
        t->argv = hd_argv_split(u.path, uerr, sizeof(uerr));
        if (!t->argv) FAIL("%s", uerr);
        hd_url_free(&u);
        return 0;
    }
    if (!u.has_authority) FAIL("expected %s://...", u.scheme);
    if (u.fragment && t->kind != HD_KIND_HTTP)
        FAIL("unexpected fragment ('#...') in %s URL: it takes none", u.scheme);

    if (t->kind == HD_KIND_UNIX || t->kind == HD_KIND_FILE) {
        if (u.host[0] && strcmp(u.host, "localhost") != 0)
            FAIL("%s URLs name a local path: write %s:///path (three slashes)", u.scheme, u.scheme);
        if (u.port >= 0 || u.user) FAIL("%s URLs take no user or port", u.scheme);
        if (u.query) FAIL("unexpected query ('?...') in %s URL: it takes none", u.scheme);
        if (u.path[0] != '/' || u.path[1] == '\0') FAIL("%s URL needs an absolute path", u.scheme);
        t->path = hd_url_decode(u.path, strlen(u.path));
        if (!t->path) FAIL("bad percent-escape in path");
        if (t->kind == HD_KIND_UNIX && strlen(t->path) >= 108)
            FAIL("unix socket path longer than 107 bytes");
        hd_url_free(&u);
        return 0;
    }

    /* network kinds */
    if (!u.host[0]) FAIL("missing host in %s URL", u.scheme);
    if (u.port == 0) FAIL("port 0 is not a port you can connect to");
    if (defport == 0 && u.port < 0)
        FAIL("%s URL needs a port (%s://host:port)", u.scheme, u.scheme);
    if (defport == -1 && u.port >= 0) FAIL("%s URLs take no port", u.scheme);
    t->host = hd_xstrdup(u.host);
    t->port = u.port >= 0 ? u.port : defport;

    switch (t->kind) {
    case HD_KIND_TCP:
        if (u.query && !strcmp(u.query, "close=graceful")) {
            t->tcp_graceful = 1;
            free(u.query);
            u.query = NULL;
        } else if (u.query && !strcmp(u.query, "close=reset")) {
            free(u.query);
            u.query = NULL;
        } else if (u.query && !strncmp(u.query, "close=", 6)) {
            FAIL("tcp close '%s' is not reset or graceful", u.query + 6);
        }
        /* fall through */
    case HD_KIND_ICMP:
    case HD_KIND_TLS:
        if ((u.path[0] && strcmp(u.path, "/") != 0) || u.query || u.user)
            FAIL("%s URLs are %s://host%s only", u.scheme, u.scheme,
                 t->kind == HD_KIND_ICMP  ? ""
                 : t->kind == HD_KIND_TLS ? "[:port]"
                                          : ":port[?close=reset|graceful]");
        break;
    case HD_KIND_DNS:
        if ((u.path[0] && strcmp(u.path, "/") != 0) || u.user)
            FAIL("dns URLs are dns://name[?type=T&server=ADDR&expect=VALUE]");
        if (u.host_is_ipv6) FAIL("dns URLs name a DNS name, not an IPv6 address");
        if (u.query && dns_query(u.query, t, err, errlen) < 0) {
            hd_url_free(&u);
            hd_target_free(t);
            return -1;
        }
        break;
    case HD_KIND_HTTP:
        break;
    case HD_KIND_PG:
    case HD_KIND_MYSQL:
        /* Query parameters (sslmode=..., connect_timeout=...) are accepted so
         * that a service's own DSN can be pasted; they change nothing here. */
        /* postgres always names a user; mysql logs in only when the URL
         * names one (probe/mysql.c). */
        if (u.user && u.user[0])
            t->user = hd_xstrdup(u.user);
        else if (t->kind == HD_KIND_PG)
            t->user = hd_xstrdup("postgres");
        if (u.password) t->password = hd_xstrdup(u.password);
        if (u.path[0] && u.path[1]) {
            t->database = hd_url_decode(u.path + 1, strlen(u.path + 1));
            if (!t->database) FAIL("bad percent-escape in database name");
            if (strchr(t->database, '/')) FAIL("database name '%s' contains '/'", t->database);
        } else if (t->kind == HD_KIND_PG) {
            t->database = hd_xstrdup(t->user);
        }
        break;
    case HD_KIND_REDIS:
        if (u.user && u.user[0]) t->user = hd_xstrdup(u.user);
        if (u.password) t->password = hd_xstrdup(u.password);
        if (u.query)
            FAIL("unexpected query ('?...') in redis URL: a password goes before the host "
                 "(redis://:PASSWORD@host)");
        if (u.path[0] && u.path[1]) {
            char *end;
            long db = strtol(u.path + 1, &end, 10);
            if (*end || db < 0 || db > 65535 || !isdigit((unsigned char)u.path[1]))
                FAIL("redis database '%s' is not a number", u.path + 1);
            t->redis_db = (int)db;
        }
        break;
    default:
        break;
    }
    hd_url_free(&u);
    return 0;
bad:
    hd_url_free(&u);
    hd_target_free(t);
    return -1;
}

void hd_target_free(hd_target_t *t)
{
    free(t->url);
    free(t->display);
    free(t->host);
    free(t->path);
    free(t->user);
    free(t->password);
    free(t->database);
    hd_argv_free(t->argv);
    free(t->http.status);
    free(t->http.body_contains);
    free(t->http.method);
    hd_argv_free(t->http.headers);
    free(t->http.body);
    free(t->dns_type);
    free(t->dns_server);
    free(t->dns_expect);
    hd_tls_files_free(&t->tls_files);
    memset(t, 0, sizeof(*t));
}

unsigned hd_tls_version_bit(const char *name, size_t len)
{
    char v[16];
    if (len >= sizeof(v)) return 0;
    for (size_t i = 0; i < len; i++)
        v[i] = (char)tolower((unsigned char)name[i]);
    v[len] = '\0';
    const char *n = v;
    if (!strncmp(n, "tlsv", 4))
        n += 4;
    else if (!strncmp(n, "tls", 3))
        n += 3;
    else
        return 0;
    if (!strcmp(n, "1") || !strcmp(n, "1.0")) return 1u << 0;
    if (!strcmp(n, "1.1")) return 1u << 1;
    if (!strcmp(n, "1.2")) return 1u << 2;
    if (!strcmp(n, "1.3")) return 1u << 3;
    return 0;
}

int hd_tls_versions_parse(const char *list, unsigned *mask, char *err, size_t errlen)
{
    *mask = 0;
    const char *p = list;
    for (;;) {
        size_t n = strcspn(p, ",");
        unsigned bit = hd_tls_version_bit(p, n);
        if (!bit) {
            snprintf(err, errlen,
                     "unknown TLS version '%.*s' (expected tls1.0, tls1.1, tls1.2 or "
                     "tls1.3)",
                     (int)(n > 40 ? 40 : n), p);
            return -1;
        }
        *mask |= bit;
        if (!p[n]) return 0;
        p += n + 1;
    }
}

void hd_tls_versions_format(unsigned mask, char *buf, size_t len)
{
    static const char *const names[HD_TLS_VERSIONS] = {"tls1.0", "tls1.1", "tls1.2", "tls1.3"};
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < HD_TLS_VERSIONS; i++) {
        if (!(mask & (1u << i))) continue;
        int w = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= len - off) return;
        off += (size_t)w;
    }
}
