/* target — turns a URL into something a probe can run, with each scheme's
 * defaults (ports 5432, 3306, 6379, 80, 443) and rules. */
#include "probe/target.h"
#include "probe/dns.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The URL with its password, if any, shown as "***". */
static char *redact(const char *s, const hd_url_t *u)
{
    if (!u->password || !u->has_authority) return hd_xstrdup(s);
    const char *at = NULL, *auth = strstr(s, "//");
    const char *end = auth + 2;
    while (*end && *end != '/' && *end != '?' && *end != '#')
        end++;
    for (const char *p = auth + 2; p < end; p++)
        if (*p == '@') at = p;
    const char *colon = memchr(auth + 2, ':', (size_t)(at - (auth + 2)));
    hd_buf_t b = {0};
    hd_buf_append(&b, s, (size_t)(colon + 1 - s));
    hd_buf_puts(&b, "***");
    hd_buf_puts(&b, at);
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
    t->url = hd_xstrdup(s);
    t->display = redact(s, &u);
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
        FAIL("unexpected '#%s' in %s URL", u.fragment, u.scheme);

    if (t->kind == HD_KIND_UNIX || t->kind == HD_KIND_FILE) {
        if (u.host[0] && strcmp(u.host, "localhost") != 0)
            FAIL("%s URLs name a local path: write %s:///path (three slashes)", u.scheme, u.scheme);
        if (u.port >= 0 || u.user) FAIL("%s URLs take no user or port", u.scheme);
        if (u.query) FAIL("unexpected '?%s' in %s URL", u.query, u.scheme);
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
        t->user = hd_xstrdup(u.user && u.user[0] ? u.user
                                                 : (t->kind == HD_KIND_PG ? "postgres" : "root"));
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
        if (u.query) FAIL("unexpected '?%s' in redis URL", u.query);
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
    free(t->dns_type);
    free(t->dns_server);
    free(t->dns_expect);
    memset(t, 0, sizeof(*t));
}
