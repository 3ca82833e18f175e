/* config — the agent's YAML configuration (see config.h and docs/config.md).
 *
 * util/yaml.c turns the text into a tree whose nodes know their line and
 * column; this file walks that tree against the schema below, fills an
 * hd_config_t and reports every wrong value at its own position. Each
 * mapping is checked by fields(), which knows the allowed keys of its
 * section; each value is read by one typed getter (text, id, integer,
 * duration, size, rate, bool), which reports "expected ..., got ...". */
#include "agent/config.h"

#include "agent/match.h"
#include "agent/notifier_impl.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/url.h"
#include "util/yaml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef hd_yaml_node_t node_t;

#define PATHMAX 320
#define KIB     1024LL
#define MIB     (1024LL * KIB)
#define GIB     (1024LL * MIB)
#define STR_(x) #x
#define STR(x)  STR_(x)

/* Where a check's id came from, to report a duplicate there. */
typedef struct seen_s {
    const char *id;
    size_t order;
    const node_t *at;
    char *path;
} seen_t;

/* One error, kept until all are known so that they are shown in file order. */
typedef struct cerr_s {
    int line, column;
    size_t seq; /* order of discovery, for equal positions */
    char *msg;  /* "path: message" */
} cerr_t;

/* Errors kept; past this the walk stops. Only HD_CONFIG_MAX_ERRORS are shown. */
#define MAX_KEPT 1000

typedef struct ctx_s {
    const char *name; /* the file name that starts each message */
    cerr_t *errs;
    size_t nerr;
    hd_config_t *cfg;
    seen_t *ids; /* one per check in cfg->checks */
} ctx_t;

static void errf(ctx_t *c, const node_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Keeps one error at the position of node at: "path: message". */
static void errf(ctx_t *c, const node_t *at, const char *path, const char *fmt, ...)
{
    if (c->nerr >= MAX_KEPT) return;
    if (c->nerr % 64 == 0) c->errs = hd_xrealloc(c->errs, (c->nerr + 64) * sizeof(*c->errs));
    hd_buf_t b = {0};
    if (path && *path) hd_buf_printf(&b, "%s: ", path);
    va_list ap;
    va_start(ap, fmt);
    hd_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cerr_t *e = &c->errs[c->nerr];
    e->line = at ? at->line : 1;
    e->column = at ? at->column : 1;
    e->seq = c->nerr++;
    e->msg = b.data;
}

static int cerr_cmp(const void *a, const void *b)
{
    const cerr_t *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->column != y->column) return x->column < y->column ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Writes the first HD_CONFIG_MAX_ERRORS errors in file order into err,
 * "file:line:column: path: message" one per line, and frees them all. */
static void errs_flush(ctx_t *c, char *err, size_t errlen)
{
    if (c->nerr > 1) qsort(c->errs, c->nerr, sizeof(*c->errs), cerr_cmp);
    hd_buf_t b = {0};
    for (size_t i = 0; i < c->nerr && i < HD_CONFIG_MAX_ERRORS; i++)
        hd_buf_printf(&b, "%s%s:%d:%d: %s", i ? "\n" : "", c->name, c->errs[i].line,
                      c->errs[i].column, c->errs[i].msg);
    if (c->nerr > HD_CONFIG_MAX_ERRORS)
        hd_buf_printf(&b, "\n%s: %s%zu more errors not shown", c->name,
                      c->nerr == MAX_KEPT ? "at least " : "", c->nerr - HD_CONFIG_MAX_ERRORS);
    snprintf(err, errlen, "%s", b.data ? b.data : "");
    hd_buf_free(&b);
    for (size_t i = 0; i < c->nerr; i++)
        free(c->errs[i].msg);
    free(c->errs);
    c->errs = NULL;
    c->nerr = 0;
}

/* How a wrong value is shown after "got": a scalar quoted, escaped and cut
 * short, anything else by its kind. */
static const char *got(const node_t *n, char *buf, size_t len)
{
    if (!n || hd_yaml_is_null(n)) return "nothing";
    if (n->type == HD_YAML_MAP) return "a mapping";
    if (n->type == HD_YAML_SEQ) return "a list";
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n->len && o + 8 < len; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        if (i >= 48 && (ch & 0xc0) != 0x80) { /* cut, but not inside a UTF-8 sequence */
            o += (size_t)snprintf(buf + o, len - o, "...");
            break;
        }
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    if (o + 2 > len) o = len - 2;
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static void expected(ctx_t *c, const node_t *n, const char *path, const char *what)
{
    char g[256];
    errf(c, n, path, "expected %s, got %s", what, got(n, g, sizeof(g)));
}

/* path + "." + key, with the key's control bytes shown as '?' and cut at
 * 64 bytes: a key that is wrong is quoted back to the user. The path is
 * cut first, so that the key always shows (the schema's paths are far
 * shorter than PATHMAX). */
static const char *sub(char *out, const char *path, const char *key)
{
    char k[68];
    size_t i = 0;
    for (; key[i] && i < 64; i++)
        k[i] = ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) ? '?' : key[i];
    k[i] = '\0';
    snprintf(out, PATHMAX, "%.*s%s%s", (int)(PATHMAX - sizeof(k) - 1), path, *path ? "." : "", k);
    return out;
}

static const char *idx(char *out, const char *path, size_t i)
{
    size_t l = strnlen(path, PATHMAX - 24); /* room for "[index]" */
    memmove(out, path, l);
    snprintf(out + l, PATHMAX - l, "[%zu]", i);
    return out;
}

/* Reads the mapping map against keys (NULL-terminated): v[i] gets the
 * value of keys[i] or stays NULL. Unknown and repeated keys are errors. An
 * empty value is an empty mapping. Returns -1 when map is not a mapping. */
static int fields(ctx_t *c, const node_t *map, const char *path, const char *const *keys,
                  const node_t **v)
{
    size_t nkeys = 0;
    while (keys[nkeys])
        nkeys++;
    for (size_t i = 0; i < nkeys; i++)
        v[i] = NULL;
    if (hd_yaml_is_null(map)) return 0;
    if (!map || map->type != HD_YAML_MAP) {
        expected(c, map, path, "a mapping of keys");
        return -1;
    }
    char p[PATHMAX];
    for (size_t i = 0; i < map->n; i++) {
        const node_t *k = map->items[2 * i], *val = map->items[2 * i + 1];
        size_t j;
        for (j = 0; j < nkeys; j++)
            if (strlen(keys[j]) == k->len && strcmp(keys[j], k->text) == 0) break;
        if (j == nkeys) {
            hd_buf_t allowed = {0};
            for (j = 0; j < nkeys; j++)
                hd_buf_printf(&allowed, "%s%s", j ? ", " : "", keys[j]);
            errf(c, k, sub(p, path, k->text), "unknown key (expected one of: %s)", allowed.data);
            hd_buf_free(&allowed);
        } else if (v[j]) {
            const node_t *first = map->items[0];
            for (size_t f = 0; f < i; f++)
                if (map->items[2 * f + 1] == v[j]) first = map->items[2 * f];
            errf(c, k, sub(p, path, k->text), "duplicate key (first at line %d)", first->line);
        } else {
            v[j] = val ? val : k;
        }
    }
    return 0;
}

/* ---- typed values -------------------------------------------------------- */

typedef enum strkind_e {
    S_ANY,    /* anything but a NUL byte */
    S_TEXT,   /* no control characters */
    S_ID,     /* letters, digits and . _ - : @ */
    S_SECRET, /* printable ASCII without spaces; never echoed */
    S_URL,    /* as S_TEXT; echoed with any password as "***" (a target) */
} strkind_t;

static int id_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-' || ch == ':' || ch == '@';
}

static int str_ok(const char *s, size_t len, strkind_t kind)
{
    if (memchr(s, '\0', len)) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (kind) {
        case S_ANY:
            break;
        case S_TEXT:
        case S_URL:
            if (ch < 0x20 || ch == 0x7f) return 0;
            break;
        case S_ID:
            if (!id_char(ch)) return 0;
            break;
        case S_SECRET:
            if (ch <= 0x20 || ch >= 0x7f) return 0;
            break;
        }
    }
    return 1;
}

static const char *const str_what[] = {
    [S_ANY] = "a string",
    [S_TEXT] = "text without control characters",
    [S_ID] = "an id (letters, digits and . _ - : @)",
    [S_SECRET] = "printable ASCII without spaces",
    [S_URL] = "text without control characters",
};

/* A scalar that is not null: the base of every typed getter. */
static int scalar(ctx_t *c, const node_t *n, const char *path, const char *what)
{
    if (n && n->type == HD_YAML_SCALAR && !hd_yaml_is_null(n)) return 0;
    expected(c, n, path, what);
    return -1;
}

/* A string of 1 to maxlen bytes of the given kind, copied into *out. */
static int get_str(ctx_t *c, const node_t *n, const char *path, strkind_t kind, size_t maxlen,
                   char **out)
{
    if (scalar(c, n, path, str_what[kind]) < 0) return -1;
    if (n->len == 0 || n->len > maxlen || !str_ok(n->text, n->len, kind)) {
        char what[128];
        snprintf(what, sizeof(what), "%s of 1 to %zu bytes", str_what[kind], maxlen);
        if (kind == S_SECRET) {
            errf(c, n, path, "expected %s (the value is not shown)", what);
        } else if (kind == S_URL) { /* quoted as a target is shown: its password as *** */
            node_t shown = *n;
            char *masked = hd_target_redact(n->text);
            shown.text = masked;
            shown.len = strlen(masked);
            expected(c, &shown, path, what);
            free(masked);
        } else {
            expected(c, n, path, what);
        }
        return -1;
    }
    *out = hd_xstrdup(n->text);
    return 0;
}

static int get_bool(ctx_t *c, const node_t *n, const char *path, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False",
                                                                           "FALSE"};
    if (n && n->type == HD_YAML_SCALAR && n->plain)
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(n->text, t[i]) == 0 || strcmp(n->text, f[i]) == 0) {
                *out = strcmp(n->text, t[i]) == 0;
                return 0;
            }
        }
    expected(c, n, path, "true or false");
    return -1;
}

static int parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = s[0] == '-';
    if (i == len || len - i > 18) return -1;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = s[0] == '-' ? -v : v;
    return 0;
}

static int get_int(ctx_t *c, const node_t *n, const char *path, int64_t lo, int64_t hi, int *out)
{
    char what[96];
    snprintf(what, sizeof(what), "an integer from %lld to %lld", (long long)lo, (long long)hi);
    if (scalar(c, n, path, what) < 0) return -1;
    int64_t v;
    if (parse_i64(n->text, n->len, &v) < 0 || v < lo || v > hi) {
        expected(c, n, path, what);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* hd_time_parse_duration's units, plus d (days) for retention periods. */
static int parse_duration(const char *s, size_t len, int64_t *us)
{
    char e[160];
    if (len > 1 && s[len - 1] == 'd') {
        char num[32];
        if (len - 1 >= sizeof(num)) return -1;
        memcpy(num, s, len - 1);
        num[len - 1] = '\0';
        int64_t secs_us; /* a bare number is seconds */
        for (size_t i = 0; num[i]; i++)
            if (!(num[i] >= '0' && num[i] <= '9') && num[i] != '.') return -1;
        if (hd_time_parse_duration(num, &secs_us, e, sizeof(e)) < 0) return -1;
        if (secs_us > INT64_MAX / 86400 / 2) return -1;
        *us = secs_us * 86400;
        return 0;
    }
    if (strlen(s) != len) return -1;
    return hd_time_parse_duration(s, us, e, sizeof(e));
}

/* A duration of at least lo_us (lo_text says it to the user). */
static int get_duration(ctx_t *c, const node_t *n, const char *path, int64_t lo_us,
                        const char *lo_text, int64_t *out)
{
    if (scalar(c, n, path, "a duration like 10s") < 0) return -1;
    int64_t us;
    if (parse_duration(n->text, n->len, &us) < 0) {
        expected(c, n, path, "a duration like 10s");
        return -1;
    }
    if (us < lo_us) {
        char what[64];
        snprintf(what, sizeof(what), "a duration of at least %s", lo_text);
        expected(c, n, path, what);
        return -1;
    }
    *out = us;
    return 0;
}

/* Bytes: a number, optionally with B, KiB, MiB or GiB. */
static int get_size(ctx_t *c, const node_t *n, const char *path, int64_t lo, int64_t hi,
                    const char *range, size_t *out)
{
    char what[128];
    snprintf(what, sizeof(what), "a size from %s (bytes, or a number with KiB, MiB or GiB)", range);
    if (scalar(c, n, path, what) < 0) return -1;
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"", 1}, {"B", 1}, {"KiB", KIB}, {"MiB", MIB}, {"GiB", GIB}};
    size_t d = 0;
    while (d < n->len && n->text[d] >= '0' && n->text[d] <= '9')
        d++;
    const char *unit = n->text + d + (n->text[d] == ' ');
    int64_t v;
    if (d == 0 || d > 12 || parse_i64(n->text, d, &v) < 0) goto bad;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].unit) == 0 && strlen(n->text) == n->len) {
            v *= units[i].mult;
            if (v < lo || v > hi) goto bad;
            *out = (size_t)v;
            return 0;
        }
bad:
    expected(c, n, path, what);
    return -1;
}

/* A rate: a number per second, or "N/s", "N/m", "N/h". *burst_default is
 * N rounded up (what the rate allows in its own unit), at least 1. */
static int get_rate(ctx_t *c, const node_t *n, const char *path, double *per_sec,
                    int *burst_default)
{
    const char *what = "a rate like 12/m or 100/s (at most 1000000 per unit)";
    if (scalar(c, n, path, what) < 0) return -1;
    size_t d = 0, dots = 0;
    for (; d < n->len && ((n->text[d] >= '0' && n->text[d] <= '9') || n->text[d] == '.'); d++)
        dots += n->text[d] == '.';
    double secs = 1;
    const char *unit = n->text + d;
    if (strcmp(unit, "/m") == 0)
        secs = 60;
    else if (strcmp(unit, "/h") == 0)
        secs = 3600;
    else if (*unit && strcmp(unit, "/s") != 0)
        goto bad;
    if (d == 0 || d > 16 || dots > 1 || dots == d || strlen(n->text) != n->len) goto bad;
    char num[20];
    memcpy(num, n->text, d);
    num[d] = '\0';
    char *end;
    double v = strtod(num, &end);
    if (*end || !(v >= 0 && v <= 1e6)) goto bad;
    *per_sec = v / secs;
    *burst_default = v > 0 && v < 1 ? 1 : (int)ceil(v);
    return 0;
bad:
    expected(c, n, path, what);
    return -1;
}

/* A list of short texts (tags) into a NULL-terminated array, or NULL. */
static int get_list(ctx_t *c, const node_t *n, const char *path, char ***out)
{
    *out = NULL;
    if (hd_yaml_is_null(n)) return 0;
    if (!n || n->type != HD_YAML_SEQ) {
        expected(c, n, path, "a list like [web, prod]");
        return -1;
    }
    char **list = hd_xcalloc(n->n + 1, sizeof(*list));
    size_t k = 0;
    char p[PATHMAX];
    for (size_t i = 0; i < n->n; i++)
        if (get_str(c, n->items[i], idx(p, path, i), S_TEXT, 256, &list[k]) == 0) k++;
    if (k == 0) {
        free(list);
        list = NULL;
    }
    *out = list;
    return 0;
}

static void list_free(char **l)
{
    if (!l) return;
    for (char **p = l; *p; p++)
        free(*p);
    free(l);
}

/* A list of mappings (checks, services, tokens); n items in *count. */
static int get_seq(ctx_t *c, const node_t *n, const char *path, const char *what, size_t *count)
{
    *count = 0;
    if (hd_yaml_is_null(n)) return 0;
    if (!n || n->type != HD_YAML_SEQ) {
        expected(c, n, path, what);
        return -1;
    }
    *count = n->n;
    return 0;
}

/* ---- checks -------------------------------------------------------------- */

static const char *const check_keys[] = {"name",
                                         "id",
                                         "target",
                                         "ttl",
                                         "interval",
                                         "timeout",
                                         "expect",
                                         "success_before_passing",
                                         "failures_before_warning",
                                         "failures_before_critical",
                                         "tags",
                                         "follow_redirects",
                                         "insecure",
                                         "service",
                                         "notes",
                                         "method",
                                         "headers",
                                         "body",
                                         "deregister_critical_service_after",
                                         "tls",
                                         NULL};
enum {
    C_NAME,
    C_ID,
    C_TARGET,
    C_TTL,
    C_INTERVAL,
    C_TIMEOUT,
    C_EXPECT,
    C_SBP,
    C_FBW,
    C_FBC,
    C_TAGS,
    C_FOLLOW,
    C_INSECURE,
    C_SERVICE,
    C_NOTES,
    C_METHOD,
    C_HEADERS,
    C_BODY,
    C_DEREG,
    C_TLS,
    C_N
};

#define HTTP_BODY_SEND_MAX (64 * 1024) /* bytes of body an http(s) check sends */

static const char *const expect_keys[] = {"status", "body_contains", "latency_ms", "cert_days_left",
                                          "dns",    "tls_refuses",   NULL};
enum { E_STATUS, E_BODY, E_LATENCY, E_CERT, E_DNS, E_REFUSES, E_N };

#define DEFAULT_INTERVAL_US (10 * HD_USEC_PER_SEC)
#define DEFAULT_TIMEOUT_US  (5 * HD_USEC_PER_SEC)
#define MIN_INTERVAL_US     (100 * HD_USEC_PER_MSEC)

/* Kinds named by scheme, so that this file accepts expectations for kinds
 * (dns, tls) as soon as hd_target_parse knows them. */
static int kind_is(const hd_check_def_t *d, const char *scheme)
{
    return strcmp(hd_kind_name(d->target.kind), scheme) == 0;
}

static int is_https(const hd_check_def_t *d)
{
    return d->target.kind == HD_KIND_HTTP && strncasecmp(d->target.url, "https:", 6) == 0;
}

static void wrong_kind(ctx_t *c, const node_t *n, const char *path, const char *for_what,
                       const hd_check_def_t *d)
{
    errf(c, n, path, "only for %s targets (this one is %s)", for_what,
         hd_kind_name(d->target.kind));
}

static void parse_status(ctx_t *c, const node_t *n, const char *path, hd_check_def_t *d)
{
    const node_t *const *items = &n;
    size_t count = 1;
    int seq = n->type == HD_YAML_SEQ;
    if (seq) {
        items = (const node_t *const *)n->items;
        count = n->n;
    }
    if (count == 0 || count > HD_HTTP_STATUS_MAX) {
        errf(c, n, path, "expected 1 to %d status codes, got %zu", HD_HTTP_STATUS_MAX, count);
        return;
    }
    char p[PATHMAX];
    d->target.http.status = hd_xcalloc(count, sizeof(*d->target.http.status));
    d->target.http.nstatus = 0;
    for (size_t i = 0; i < count; i++) {
        int code;
        if (get_int(c, items[i], seq ? idx(p, path, i) : path, 100, 599, &code) == 0)
            d->target.http.status[d->target.http.nstatus++] = code;
    }
}

/* expect: what a result must show to pass. have_target: the target parsed,
 * so its kind can be checked. *latency gets the latency_ms node. */
static void parse_expect(ctx_t *c, const node_t *n, const char *path, hd_check_def_t *d,
                         int have_target, const node_t **latency)
{
    const node_t *v[E_N];
    char p[PATHMAX];
    *latency = NULL;
    if (fields(c, n, path, expect_keys, v) < 0) return;
    if (v[E_STATUS]) {
        sub(p, path, "status");
        if (have_target && d->target.kind != HD_KIND_HTTP)
            wrong_kind(c, v[E_STATUS], p, "http(s)", d);
        else
            parse_status(c, v[E_STATUS], p, d);
    }
    if (v[E_BODY]) {
        sub(p, path, "body_contains");
        if (have_target && d->target.kind != HD_KIND_HTTP)
            wrong_kind(c, v[E_BODY], p, "http(s)", d);
        else
            (void)get_str(c, v[E_BODY], p, S_ANY, 4096, &d->target.http.body_contains);
    }
    if (v[E_LATENCY]) {
        int ms;
        if (get_int(c, v[E_LATENCY], sub(p, path, "latency_ms"), 1, 3600000, &ms) == 0) {
            d->latency_warn_us = ms * HD_USEC_PER_MSEC;
            *latency = v[E_LATENCY];
        }
    }
    if (v[E_CERT]) {
        sub(p, path, "cert_days_left");
        if (have_target && !is_https(d) && !kind_is(d, "tls"))
            wrong_kind(c, v[E_CERT], p, "https and tls", d);
        else
            (void)get_int(c, v[E_CERT], p, 1, 3650, &d->cert_days_left);
    }
    if (v[E_DNS]) {
        sub(p, path, "dns");
        if (have_target && !kind_is(d, "dns"))
            wrong_kind(c, v[E_DNS], p, "dns", d);
        else
            (void)get_str(c, v[E_DNS], p, S_TEXT, 255, &d->dns_expect);
    }
    if (v[E_REFUSES]) {
        /* The protocol floor: versions the server must refuse. */
        sub(p, path, "tls_refuses");
        char **names = NULL;
        if (have_target && !kind_is(d, "tls")) {
            wrong_kind(c, v[E_REFUSES], p, "tls", d);
        } else if (get_list(c, v[E_REFUSES], p, &names) == 0) {
            const node_t *l = v[E_REFUSES];
            for (size_t i = 0; names && names[i]; i++) {
                unsigned bit = hd_tls_version_bit(names[i], strlen(names[i]));
                if (!bit) {
                    char q[PATHMAX];
                    errf(c, l->type == HD_YAML_SEQ && i < l->n ? l->items[i] : l, idx(q, p, i),
                         "unknown TLS version '%.40s' (expected tls1.0, tls1.1, tls1.2 or tls1.3)",
                         names[i]);
                }
                d->target.tls.refuse |= bit;
            }
            if (!names) errf(c, l, p, "name at least one version, e.g. [tls1.0, tls1.1]");
        }
        list_free(names);
    }
}

/* An HTTP token (RFC 9110): a method or a header name. */
static int http_token(const char *s, size_t len)
{
    if (len == 0 || len > 64) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("!#$%&'*+-.^_`|~", ch)))
            return 0;
    }
    return 1;
}

/* One header value: no control characters but tab (a value never ends its
 * line early). The value of a credential header is not quoted back. */
static int header_value(ctx_t *c, const node_t *n, const char *path, const char *name,
                        const char **out)
{
    if (!n || n->type != HD_YAML_SCALAR || hd_yaml_is_null(n)) {
        expected(c, n, path, "a header value (a string)");
        return -1;
    }
    int ok = n->len <= 4096 && strlen(n->text) == n->len;
    for (size_t i = 0; ok && i < n->len; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        ok = ch >= 0x20 ? ch != 0x7f : ch == '\t';
    }
    if (!ok) {
        if (hd_header_secret(name, strlen(name)))
            errf(c, n, path,
                 "expected text of at most 4096 bytes without control characters "
                 "(the value is not shown)");
        else
            expected(c, n, path, "text of at most 4096 bytes without control characters");
        return -1;
    }
    *out = n->text;
    return 0;
}

/* headers: a mapping of names to a value or a list of values (Consul's
 * Header), kept as "Name: value" lines in order. */
static void parse_headers(ctx_t *c, const node_t *n, const char *path, hd_check_def_t *d)
{
    char p[PATHMAX], q[PATHMAX];
    if (hd_yaml_is_null(n)) return;
    if (n->type != HD_YAML_MAP) {
        expected(c, n, path, "a mapping of header names to a value or a list of values");
        return;
    }
    char **lines = hd_xcalloc(HD_HTTP_HEADERS_MAX + 1, sizeof(*lines));
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const node_t *name = n->items[2 * i], *val = n->items[2 * i + 1];
        sub(p, path, name->text);
        if (!http_token(name->text, name->len)) {
            errf(c, name, p, "a header name is 1 to 64 letters, digits and !#$%%&'*+-.^_`|~");
            continue;
        }
        const node_t *const *vals = &val;
        size_t nv = 1;
        if (val && val->type == HD_YAML_SEQ) {
            vals = (const node_t *const *)val->items;
            nv = val->n;
        }
        for (size_t j = 0; j < nv; j++) {
            const char *v;
            if (header_value(c, vals[j], vals == &val ? p : idx(q, p, j), name->text, &v) < 0)
                continue;
            if (k == HD_HTTP_HEADERS_MAX) {
                errf(c, n, path, "at most %d header lines", HD_HTTP_HEADERS_MAX);
                goto done;
            }
            hd_buf_t b = {0};
            hd_buf_printf(&b, "%s: %s", name->text, v);
            lines[k++] = b.data;
        }
    }
done:
    if (k == 0) {
        free(lines);
        return;
    }
    d->target.http.headers = lines;
}

/* The request parts of an http(s) check: method, headers, body. */
static void parse_request(ctx_t *c, const node_t **v, const char *path, hd_check_def_t *d,
                          int have_target)
{
    char p[PATHMAX];
    if (v[C_METHOD]) {
        sub(p, path, "method");
        if (have_target && d->target.kind != HD_KIND_HTTP)
            wrong_kind(c, v[C_METHOD], p, "http(s)", d);
        else if (v[C_METHOD]->type != HD_YAML_SCALAR ||
                 !http_token(v[C_METHOD]->text, v[C_METHOD]->len))
            expected(c, v[C_METHOD], p, "an HTTP method like GET, HEAD or POST");
        else
            d->target.http.method = hd_xstrdup(v[C_METHOD]->text);
    }
    if (v[C_HEADERS]) {
        sub(p, path, "headers");
        if (have_target && d->target.kind != HD_KIND_HTTP)
            wrong_kind(c, v[C_HEADERS], p, "http(s)", d);
        else
            parse_headers(c, v[C_HEADERS], p, d);
    }
    if (v[C_BODY]) {
        sub(p, path, "body");
        if (have_target && d->target.kind != HD_KIND_HTTP)
            wrong_kind(c, v[C_BODY], p, "http(s)", d);
        else
            (void)get_str(c, v[C_BODY], p, S_ANY, HTTP_BODY_SEND_MAX, &d->target.http.body);
    }
}

/* The rest of a probing (not TTL) check: interval, timeout, expect and the
 * http switches. */
static void parse_probe(ctx_t *c, const node_t **v, const char *path, hd_check_def_t *d,
                        int have_target)
{
    char p[PATHMAX];
    d->interval_us = DEFAULT_INTERVAL_US;
    if (v[C_INTERVAL])
        (void)get_duration(c, v[C_INTERVAL], sub(p, path, "interval"), MIN_INTERVAL_US, "100ms",
                           &d->interval_us);
    d->timeout_us = d->interval_us < DEFAULT_TIMEOUT_US ? d->interval_us : DEFAULT_TIMEOUT_US;
    if (v[C_TIMEOUT] &&
        get_duration(c, v[C_TIMEOUT], sub(p, path, "timeout"), HD_USEC_PER_MSEC, "1ms",
                     &d->timeout_us) == 0 &&
        d->timeout_us > d->interval_us)
        errf(c, v[C_TIMEOUT], p,
             "%s is longer than the interval (%s): a run must end before "
             "the next one starts",
             v[C_TIMEOUT]->text, v[C_INTERVAL] ? v[C_INTERVAL]->text : "10s by default");
    if (v[C_EXPECT]) {
        const node_t *lat;
        char e[PATHMAX];
        parse_expect(c, v[C_EXPECT], sub(e, path, "expect"), d, have_target, &lat);
        if (lat && d->latency_warn_us >= d->timeout_us)
            errf(c, lat, sub(p, e, "latency_ms"),
                 "%s ms is not below the timeout (%.3gs): the check would time out first",
                 lat->text, (double)d->timeout_us / 1e6);
    }
    if (v[C_FOLLOW]) {
        sub(p, path, "follow_redirects");
        if (have_target && d->target.kind != HD_KIND_HTTP)
            wrong_kind(c, v[C_FOLLOW], p, "http(s)", d);
        else
            (void)get_bool(c, v[C_FOLLOW], p, &d->target.http.follow);
    }
    if (v[C_INSECURE]) {
        sub(p, path, "insecure");
        if (have_target && !is_https(d) && !kind_is(d, "tls"))
            wrong_kind(c, v[C_INSECURE], p, "https and tls", d);
        else
            (void)get_bool(c, v[C_INSECURE], p, &d->target.http.insecure);
    }
    if (v[C_TLS]) {
        /* A private CA and a client certificate for the target (read by
         * util/tlsfiles.h when the check runs; the agent's start checks
         * that they can be read, and the API refuses them). */
        sub(p, path, "tls");
        static const char *const keys[] = {"ca_file", "cert_file", "key_file", NULL};
        const node_t *f[3];
        hd_tls_files_t *tf = &d->target.tls_files;
        char q[PATHMAX];
        if (have_target && !is_https(d) && !kind_is(d, "tls")) {
            wrong_kind(c, v[C_TLS], p, "https and tls", d);
        } else if (fields(c, v[C_TLS], p, keys, f) == 0) {
            char **files[] = {&tf->ca_file, &tf->cert_file, &tf->key_file};
            for (int k = 0; k < 3; k++)
                if (f[k]) (void)get_str(c, f[k], sub(q, p, keys[k]), S_TEXT, 4096, files[k]);
            if (tf->key_file && !tf->cert_file)
                errf(c, f[2], sub(q, p, "key_file"), "needs cert_file: the client certificate");
        }
    }
    parse_request(c, v, path, d, have_target);
}

/* One check at path. svc: the service it belongs to (NULL: standalone),
 * whose checks get default_id when they have no id. *id_key says which key
 * the id came from ("id", "name", or NULL for a default). */
static void parse_check(ctx_t *c, const node_t *n, const char *path, const char *svc,
                        const char *default_id, hd_check_def_t *d, const node_t **id_at,
                        const char **id_key)
{
    const node_t *v[C_N];
    char p[PATHMAX];
    memset(d, 0, sizeof(*d));
    d->from_config = 1;
    d->success_before_passing = 1;
    d->failures_before_warning = 1;
    d->failures_before_critical = 3;
    *id_at = n;
    *id_key = NULL;
    if (fields(c, n, path, check_keys, v) < 0) return;

    if (v[C_NAME])
        (void)get_str(c, v[C_NAME], sub(p, path, "name"), S_TEXT, 256, &d->name);
    else if (!svc)
        errf(c, n, path, "missing key name (every check outside a service needs one)");
    if (v[C_ID]) {
        if (get_str(c, v[C_ID], sub(p, path, "id"), S_ID, 128, &d->id) == 0) {
            *id_at = v[C_ID];
            *id_key = "id";
        }
    } else if (svc) {
        d->id = hd_xstrdup(default_id);
    } else if (d->name) {
        if (strlen(d->name) <= 128 && str_ok(d->name, strlen(d->name), S_ID)) {
            d->id = hd_xstrdup(d->name);
            *id_at = v[C_NAME];
            *id_key = "name";
        } else {
            char g[256];
            errf(c, v[C_NAME], sub(p, path, "name"),
                 "%s cannot serve as the check's id: add an id (letters, digits and . _ - : @)",
                 got(v[C_NAME], g, sizeof(g)));
        }
    }
    if (!d->name && d->id) d->name = hd_xstrdup(d->id);
    if (svc) d->service_id = hd_xstrdup(svc);
    if (v[C_SERVICE]) {
        sub(p, path, "service");
        if (svc)
            errf(c, v[C_SERVICE], p,
                 "not in a service's check: it belongs to the service it is listed under");
        else
            (void)get_str(c, v[C_SERVICE], p, S_ID, 128, &d->service_id);
    }
    if (v[C_NOTES]) (void)get_str(c, v[C_NOTES], sub(p, path, "notes"), S_ANY, 4096, &d->notes);
    if (v[C_DEREG]) {
        sub(p, path, "deregister_critical_service_after");
        if (get_duration(c, v[C_DEREG], p, 60 * HD_USEC_PER_SEC, "1m", &d->deregister_after_us) ==
                0 &&
            !d->service_id)
            errf(c, v[C_DEREG], p, "only for a service's check (it deregisters the service)");
    }

    int have_target = 0;
    if (v[C_TARGET] && v[C_TTL]) {
        errf(c, v[C_TTL], sub(p, path, "ttl"), "a check has a target or a ttl, not both");
    } else if (v[C_TTL]) {
        static const int unused[] = {C_INTERVAL, C_TIMEOUT, C_EXPECT,  C_FOLLOW,
                                     C_INSECURE, C_METHOD,  C_HEADERS, C_BODY};
        d->ttl = 1;
        (void)get_duration(c, v[C_TTL], sub(p, path, "ttl"), HD_USEC_PER_SEC, "1s", &d->ttl_us);
        for (size_t i = 0; i < sizeof(unused) / sizeof(unused[0]); i++)
            if (v[unused[i]])
                errf(c, v[unused[i]], sub(p, path, check_keys[unused[i]]),
                     "not used by a ttl check (its service reports its status through the API)");
    } else if (v[C_TARGET]) {
        char *url = NULL;
        if (get_str(c, v[C_TARGET], sub(p, path, "target"), S_URL, 4096, &url) == 0) {
            char terr[256];
            if (hd_target_parse(url, &d->target, terr, sizeof(terr)) == 0)
                have_target = 1;
            else
                errf(c, v[C_TARGET], p, "%s", terr);
            free(url);
        }
    } else {
        errf(c, n, path, "missing key target (a URL like tcp://host:port) or ttl (a TTL check)");
    }
    if (!d->ttl) parse_probe(c, v, path, d, have_target);

    if (v[C_SBP])
        (void)get_int(c, v[C_SBP], sub(p, path, "success_before_passing"), 1, 10000,
                      &d->success_before_passing);
    if (v[C_FBW])
        (void)get_int(c, v[C_FBW], sub(p, path, "failures_before_warning"), 1, 10000,
                      &d->failures_before_warning);
    if (v[C_FBC])
        (void)get_int(c, v[C_FBC], sub(p, path, "failures_before_critical"), 1, 10000,
                      &d->failures_before_critical);
    if (d->failures_before_warning > d->failures_before_critical) {
        int crit = v[C_FBC] != NULL;
        errf(c, crit ? v[C_FBC] : v[C_FBW],
             sub(p, path, crit ? "failures_before_critical" : "failures_before_warning"),
             "failures_before_critical (%d) must be at least failures_before_warning (%d)",
             d->failures_before_critical, d->failures_before_warning);
    }
    if (v[C_TAGS]) (void)get_list(c, v[C_TAGS], sub(p, path, "tags"), &d->tags);
}

/* Appends the check at path to cfg->checks, remembering where its id came
 * from for the duplicate check. */
static void add_check(ctx_t *c, const node_t *n, const char *path, const char *svc,
                      const char *default_id, size_t *cap)
{
    hd_config_t *cfg = c->cfg;
    if (cfg->nchecks == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        cfg->checks = hd_xrealloc(cfg->checks, *cap * sizeof(*cfg->checks));
        c->ids = hd_xrealloc(c->ids, *cap * sizeof(*c->ids));
    }
    hd_check_def_t *d = &cfg->checks[cfg->nchecks];
    seen_t *s = &c->ids[cfg->nchecks];
    const char *key;
    parse_check(c, n, path, svc, default_id, d, &s->at, &key);
    char p[PATHMAX];
    s->id = d->id;
    s->order = cfg->nchecks;
    s->path = hd_xstrdup(key ? sub(p, path, key) : path);
    cfg->nchecks++;
}

static int seen_cmp(const void *a, const void *b)
{
    const seen_t *x = a, *y = b;
    int r = strcmp(x->id ? x->id : "", y->id ? y->id : "");
    if (r) return r;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Reports every id of s that an earlier one already has. Sorts s. */
static void dup_ids(ctx_t *c, seen_t *s, size_t n, const char *what)
{
    if (n < 2) return;
    qsort(s, n, sizeof(*s), seen_cmp);
    size_t first = 0;
    for (size_t i = 1; i < n; i++) {
        if (!s[i].id || !s[first].id || strcmp(s[i].id, s[first].id) != 0) {
            first = i;
            continue;
        }
        errf(c, s[i].at, s[i].path, "duplicate %s id \"%s\" (first: %s, line %d)", what, s[i].id,
             s[first].path, s[first].at->line);
    }
}

/* ---- services -------------------------------------------------------------- */

static const char *const service_keys[] = {"name", "id",   "address", "port",
                                           "tags", "meta", "checks",  NULL};
enum { V_NAME, V_ID, V_ADDRESS, V_PORT, V_TAGS, V_META, V_CHECKS, V_N };

static int meta_key_ok(const node_t *k)
{
    if (k->len == 0 || k->len > 128) return 0;
    for (size_t i = 0; i < k->len; i++) {
        unsigned char ch = (unsigned char)k->text[i];
        if (!id_char(ch) || ch == '.' || ch == ':' || ch == '@') return 0;
    }
    return 1;
}

static void parse_meta(ctx_t *c, const node_t *n, const char *path, hd_config_service_t *s)
{
    char p[PATHMAX];
    if (hd_yaml_is_null(n)) return;
    if (n->type != HD_YAML_MAP) {
        expected(c, n, path, "a mapping of keys to strings");
        return;
    }
    if (n->n > HD_CONFIG_MAX_META) {
        errf(c, n, path, "at most %d keys, got %zu", HD_CONFIG_MAX_META, n->n);
        return;
    }
    s->meta = hd_xcalloc(n->n ? n->n : 1, sizeof(*s->meta));
    for (size_t i = 0; i < n->n; i++) {
        const node_t *k = n->items[2 * i], *val = n->items[2 * i + 1];
        sub(p, path, k->text);
        if (!meta_key_ok(k)) {
            errf(c, k, p, "a meta key is 1 to 128 letters, digits, _ and -");
            continue;
        }
        size_t f;
        for (f = 0; f < i; f++)
            if (strcmp(n->items[2 * f]->text, k->text) == 0) break;
        if (f < i) {
            errf(c, k, p, "duplicate key (first at line %d)", n->items[2 * f]->line);
            continue;
        }
        /* A value may be empty ("") but not missing. */
        if (scalar(c, val, p, "a string") < 0) continue;
        if (val->len > 512 || !str_ok(val->text, val->len, S_TEXT)) {
            expected(c, val, p, "text without control characters of at most 512 bytes");
            continue;
        }
        s->meta[s->nmeta].key = hd_xstrdup(k->text);
        s->meta[s->nmeta].value = hd_xstrdup(val->text);
        s->nmeta++;
    }
}

/* One service; its checks are added by the caller, which knows its id. */
static void parse_service(ctx_t *c, const node_t *n, const char *path, hd_config_service_t *s,
                          seen_t *seen, const node_t **checks)
{
    const node_t *v[V_N];
    char p[PATHMAX];
    memset(s, 0, sizeof(*s));
    seen->at = n;
    seen->path = hd_xstrdup(path);
    *checks = NULL;
    if (fields(c, n, path, service_keys, v) < 0) return;
    if (v[V_NAME])
        (void)get_str(c, v[V_NAME], sub(p, path, "name"), S_ID, 128, &s->name);
    else
        errf(c, n, path, "missing key name");
    if (v[V_ID]) {
        if (get_str(c, v[V_ID], sub(p, path, "id"), S_ID, 128, &s->id) == 0) seen->at = v[V_ID];
    } else if (s->name) {
        s->id = hd_xstrdup(s->name);
        seen->at = v[V_NAME];
    }
    if (seen->at != n) {
        free(seen->path);
        seen->path = hd_xstrdup(sub(p, path, v[V_ID] ? "id" : "name"));
    }
    seen->id = s->id;
    if (v[V_ADDRESS])
        (void)get_str(c, v[V_ADDRESS], sub(p, path, "address"), S_TEXT, 255, &s->address);
    if (v[V_PORT]) (void)get_int(c, v[V_PORT], sub(p, path, "port"), 1, 65535, &s->port);
    if (v[V_TAGS]) (void)get_list(c, v[V_TAGS], sub(p, path, "tags"), &s->tags);
    if (v[V_META]) parse_meta(c, v[V_META], sub(p, path, "meta"), s);
    *checks = v[V_CHECKS];
}

/* ---- tokens ---------------------------------------------------------------- */

static const char *const token_keys[] = {"secret", "role", "tenant", NULL};
enum { K_SECRET, K_ROLE, K_TENANT, K_N };

static void parse_token(ctx_t *c, const node_t *n, const char *path, hd_config_token_t *t)
{
    const node_t *v[K_N];
    char p[PATHMAX];
    memset(t, 0, sizeof(*t));
    if (fields(c, n, path, token_keys, v) < 0) return;
    if (v[K_SECRET])
        (void)get_str(c, v[K_SECRET], sub(p, path, "secret"), S_SECRET, 256, &t->secret);
    else
        errf(c, n, path, "missing key secret");
    int role_ok = 0;
    if (v[K_ROLE]) {
        static const char *const roles[] = {[HD_CONFIG_ROLE_READ] = "read",
                                            [HD_CONFIG_ROLE_WRITE] = "write",
                                            [HD_CONFIG_ROLE_MANAGEMENT] = "management"};
        for (int r = 0; r < 3; r++)
            if (v[K_ROLE]->type == HD_YAML_SCALAR && strcmp(v[K_ROLE]->text, roles[r]) == 0 &&
                strlen(roles[r]) == v[K_ROLE]->len) {
                t->role = (hd_config_role_t)r;
                role_ok = 1;
            }
        if (!role_ok) expected(c, v[K_ROLE], sub(p, path, "role"), "management, write or read");
    } else {
        errf(c, n, path, "missing key role (management, write or read)");
    }
    if (v[K_TENANT]) {
        sub(p, path, "tenant");
        if (role_ok && t->role == HD_CONFIG_ROLE_MANAGEMENT)
            errf(c, v[K_TENANT], p, "a management token has no tenant: it sees every tenant");
        else
            (void)get_str(c, v[K_TENANT], p, S_ID, 128, &t->tenant);
    }
}

/* ---- the top level ----------------------------------------------------------- */

static const char *const top_keys[] = {"node",
                                       "bind",
                                       "data_dir",
                                       "tokens",
                                       "checks",
                                       "services",
                                       "limits",
                                       "rate_limits",
                                       "enable_api_exec_checks",
                                       "history",
                                       "enable_api_file_checks",
                                       "api_file_paths",
                                       "tls",
                                       "allow_plaintext",
                                       "datacenter",
                                       "node_meta",
                                       "node_name",
                                       "alerts",
                                       "maintenance",
                                       "alerting",
                                       "notify",
                                       "status_page",
                                       NULL};
enum {
    T_NODE,
    T_BIND,
    T_DATA,
    T_TOKENS,
    T_CHECKS,
    T_SERVICES,
    T_LIMITS,
    T_RATES,
    T_EXEC,
    T_HIST,
    T_FILE,
    T_FILE_PATHS,
    T_TLS,
    T_PLAIN,
    T_DC,
    T_NODE_META,
    T_NODE_NAME,
    T_ALERTS,
    T_MAINT,
    T_ALERTING,
    T_NOTIFY,
    T_STATUS_PAGE,
    T_N
};

#define BIND_WHAT "host:port like 127.0.0.1:8500 or [::1]:8500"

/* Splits "host:port" or "[v6]:port" (len bytes) into host (without
 * brackets) and port. Returns 0, or -1 with what is wrong in msg. */
static int bind_split(const char *s, size_t len, char *host, size_t hostlen, int *port, char *msg,
                      size_t msglen)
{
    const char *h = s, *hend, *colon;
    snprintf(msg, msglen, "expected " BIND_WHAT);
    if (strlen(s) != len || len >= hostlen) return -1;
    if (s[0] == '[') {
        h = s + 1;
        hend = strchr(s, ']');
        if (!hend || hend[1] != ':') return -1;
        colon = hend + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return -1;
        hend = colon;
        if (memchr(s, ':', (size_t)(colon - s))) {
            snprintf(msg, msglen, "write an IPv6 address in brackets, like [::1]:8500");
            return -1;
        }
    }
    if (hend == h) return -1;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    if (s[0] == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) return -1;
    } else {
        for (const char *q = host; *q; q++)
            if (!id_char((unsigned char)*q) || *q == ':' || *q == '@') return -1;
    }
    int64_t p;
    size_t plen = strlen(colon + 1);
    if (plen == 0 || plen > 5 || colon[1] == '-' || parse_i64(colon + 1, plen, &p) < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static void parse_bind(ctx_t *c, const node_t *n, const char *path, hd_config_t *cfg)
{
    if (scalar(c, n, path, BIND_WHAT) < 0) return;
    char host[300], msg[128];
    int port;
    if (bind_split(n->text, n->len, host, sizeof(host), &port, msg, sizeof(msg)) < 0) {
        if (strncmp(msg, "expected ", 9) == 0)
            expected(c, n, path, BIND_WHAT);
        else
            errf(c, n, path, "%s", msg);
        return;
    }
    free(cfg->bind_host);
    cfg->bind_host = hd_xstrdup(host);
    cfg->bind_port = port;
}

int hd_config_parse_bind(const char *bind, hd_config_t *cfg, char *err, size_t errlen)
{
    char host[300];
    int port;
    if (bind_split(bind, strlen(bind), host, sizeof(host), &port, err, errlen) < 0) return -1;
    free(cfg->bind_host);
    cfg->bind_host = hd_xstrdup(host);
    cfg->bind_port = port;
    return 0;
}

static void parse_limits(ctx_t *c, const node_t *n, hd_config_limits_t *l)
{
    static const char *const keys[] = {
        "max_body_bytes", "max_header_bytes", "max_conns_per_client", "output_max_bytes",
        "max_conns",      "header_timeout",   "body_timeout",         "idle_timeout",
        "send_timeout",   "max_unsent_bytes", "max_unsent_total",     NULL};
    enum {
        L_BODY,
        L_HEADER,
        L_PER_CLIENT,
        L_OUTPUT,
        L_CONNS,
        L_HEAD_T,
        L_BODY_T,
        L_IDLE_T,
        L_SEND_T,
        L_UNSENT,
        L_UNSENT_TOTAL,
        L_N
    };
    const node_t *v[L_N];
    char p[PATHMAX];
    if (fields(c, n, "limits", keys, v) < 0) return;
    if (v[L_BODY])
        (void)get_size(c, v[L_BODY], sub(p, "limits", keys[L_BODY]), KIB, GIB, "1 KiB to 1 GiB",
                       &l->max_body_bytes);
    if (v[L_HEADER])
        (void)get_size(c, v[L_HEADER], sub(p, "limits", keys[L_HEADER]), KIB, MIB, "1 KiB to 1 MiB",
                       &l->max_header_bytes);
    if (v[L_PER_CLIENT])
        (void)get_int(c, v[L_PER_CLIENT], sub(p, "limits", keys[L_PER_CLIENT]), 1, 100000,
                      &l->max_conns_per_client);
    if (v[L_OUTPUT])
        (void)get_size(c, v[L_OUTPUT], sub(p, "limits", keys[L_OUTPUT]), 64, MIB,
                       "64 bytes to 1 MiB", &l->output_max_bytes);
    if (v[L_CONNS])
        (void)get_int(c, v[L_CONNS], sub(p, "limits", keys[L_CONNS]), 16, 1000000, &l->max_conns);
    int64_t *dur[] = {[L_HEAD_T] = &l->header_timeout_us,
                      [L_BODY_T] = &l->body_timeout_us,
                      [L_IDLE_T] = &l->idle_timeout_us,
                      [L_SEND_T] = &l->send_timeout_us};
    for (int k = L_HEAD_T; k <= L_SEND_T; k++)
        if (v[k])
            (void)get_duration(c, v[k], sub(p, "limits", keys[k]), 100 * HD_USEC_PER_MSEC, "100ms",
                               dur[k]);
    if (v[L_UNSENT])
        (void)get_size(c, v[L_UNSENT], sub(p, "limits", keys[L_UNSENT]), 16 * KIB, GIB,
                       "16 KiB to 1 GiB", &l->max_unsent_bytes);
    if (v[L_UNSENT_TOTAL])
        (void)get_size(c, v[L_UNSENT_TOTAL], sub(p, "limits", keys[L_UNSENT_TOTAL]), MIB, 64 * GIB,
                       "1 MiB to 64 GiB", &l->max_unsent_total);
    if (l->max_unsent_total < l->max_unsent_bytes) {
        const node_t *at = v[L_UNSENT_TOTAL] ? v[L_UNSENT_TOTAL] : v[L_UNSENT];
        errf(c, at, sub(p, "limits", keys[v[L_UNSENT_TOTAL] ? L_UNSENT_TOTAL : L_UNSENT]),
             "max_unsent_total must not be below max_unsent_bytes");
    }
}

static void parse_rate(ctx_t *c, const node_t *n, const char *path, hd_config_rate_t *r)
{
    static const char *const keys[] = {"rate", "burst", NULL};
    const node_t *v[2];
    char p[PATHMAX];
    if (fields(c, n, path, keys, v) < 0) return;
    if (v[0]) (void)get_rate(c, v[0], sub(p, path, "rate"), &r->rate, &r->burst);
    if (v[1]) (void)get_int(c, v[1], sub(p, path, "burst"), 1, 1000000, &r->burst);
}

static void parse_rates(ctx_t *c, const node_t *n, hd_config_rate_limits_t *r)
{
    static const char *const keys[] = {"api", "ping", "status_page", NULL};
    const node_t *v[3];
    if (fields(c, n, "rate_limits", keys, v) < 0) return;
    if (v[0]) parse_rate(c, v[0], "rate_limits.api", &r->api);
    if (v[1]) parse_rate(c, v[1], "rate_limits.ping", &r->ping);
    if (v[2]) parse_rate(c, v[2], "rate_limits.status_page", &r->status_page);
}

static void parse_history(ctx_t *c, const node_t *n, hd_config_history_t *h)
{
    static const char *const keys[] = {"raw", "minute", "hour", NULL};
    const node_t *v[3];
    int64_t *dst[3] = {&h->raw_us, &h->minute_us, &h->hour_us};
    char p[PATHMAX];
    if (fields(c, n, "history", keys, v) < 0) return;
    for (int i = 0; i < 3; i++)
        if (v[i] &&
            get_duration(c, v[i], sub(p, "history", keys[i]), 60 * HD_USEC_PER_SEC, "1m", dst[i]))
            return;
    /* A coarser level is kept at least as long as the finer one before it,
     * or it would hold nothing the finer one does not. */
    for (int i = 1; i < 3; i++)
        if (*dst[i] < *dst[i - 1]) {
            const node_t *at = v[i] ? v[i] : v[i - 1];
            errf(c, at, sub(p, "history", keys[v[i] ? i : i - 1]),
                 "%s must not be shorter than %s (a coarser level keeps older data)", keys[i],
                 keys[i - 1]);
            return;
        }
}

static void parse_tls(ctx_t *c, const node_t *n, hd_config_tls_t *t)
{
    static const char *const keys[] = {"cert_file",       "key_file",    "ca_file",
                                       "verify_incoming", "min_version", NULL};
    enum { X_CERT, X_KEY, X_CA, X_VERIFY, X_MIN, X_N };
    const node_t *v[X_N];
    char p[PATHMAX];
    if (fields(c, n, "tls", keys, v) < 0) return;
    char **files[] = {&t->cert_file, &t->key_file, &t->ca_file};
    for (int k = X_CERT; k <= X_CA; k++)
        if (v[k]) (void)get_str(c, v[k], sub(p, "tls", keys[k]), S_TEXT, 4096, files[k]);
    if (v[X_VERIFY]) (void)get_bool(c, v[X_VERIFY], "tls.verify_incoming", &t->verify_incoming);
    if (v[X_MIN]) {
        const node_t *m = v[X_MIN];
        if (m->type == HD_YAML_SCALAR && (!strcmp(m->text, "TLSv1.2") || !strcmp(m->text, "1.2")))
            t->min_version = 12;
        else if (m->type == HD_YAML_SCALAR &&
                 (!strcmp(m->text, "TLSv1.3") || !strcmp(m->text, "1.3")))
            t->min_version = 13;
        else
            expected(c, m, "tls.min_version", "TLSv1.2 or TLSv1.3");
    }
    if (!t->cert_file != !t->key_file)
        errf(c, n, "tls", "cert_file and key_file go together (the API's certificate and its key)");
    else if (!t->cert_file && (t->ca_file || t->verify_incoming))
        errf(c, n, "tls", "ca_file and verify_incoming need cert_file and key_file");
    if (t->verify_incoming && !t->ca_file)
        errf(c, v[X_VERIFY], "tls.verify_incoming",
             "needs ca_file: the CAs that sign the clients' certificates");
}

/* An absolute path without empty, "." or ".." parts (a trailing '/' is
 * fine): what it names is what it says. */
static int clean_path(const char *p)
{
    if (p[0] != '/') return 0;
    for (const char *s = p + 1; *s;) {
        size_t n = strcspn(s, "/");
        if ((n == 0 && s[n]) || (n == 1 && s[0] == '.') || (n == 2 && !strncmp(s, "..", 2)))
            return 0;
        s += n + (s[n] == '/');
    }
    return 1;
}

/* api_file_paths: directories, kept ending in '/'. */
static void parse_file_paths(ctx_t *c, const node_t *n, char ***out)
{
    char p[PATHMAX];
    if (get_list(c, n, "api_file_paths", out) < 0 || !*out) return;
    for (size_t i = 0; (*out)[i]; i++) {
        char *d = (*out)[i];
        if (!clean_path(d) || !strcmp(d, "/")) {
            errf(c, n->items[i], idx(p, "api_file_paths", i),
                 "expected an absolute directory without . or .. parts, other than /, got \"%s\"",
                 d);
            continue;
        }
        size_t len = strlen(d);
        if (d[len - 1] != '/') {
            (*out)[i] = hd_xmalloc(len + 2);
            snprintf((*out)[i], len + 2, "%s/", d);
            free(d);
        }
    }
}

int hd_config_api_file_allowed(const hd_config_t *cfg, const char *path)
{
    if (cfg->enable_api_file_checks) return 1;
    if (!path || !clean_path(path)) return 0;
    for (char **d = cfg->api_file_paths; d && *d; d++) {
        size_t n = strlen(*d);
        if (!strncmp(path, *d, n) || (strlen(path) == n - 1 && !strncmp(path, *d, n - 1))) return 1;
    }
    return 0;
}

/* A `match:` (agent/match.h): checks, services, tags, tenant; absent or
 * empty matches every check. Used by alert rules, maintenance windows and
 * status-page groups. */
static const char *const match_keys[] = {"checks", "services", "tags", "tenant", NULL};

static void parse_match(ctx_t *c, const node_t *n, const char *path, hd_match_t *m)
{
    const node_t *v[4];
    char p[PATHMAX];
    memset(m, 0, sizeof(*m));
    if (hd_yaml_is_null(n)) return;
    if (n->type != HD_YAML_MAP) {
        expected(c, n, path, "a mapping like {tags: [web]} (checks, services, tags, tenant)");
        return;
    }
    if (fields(c, n, path, match_keys, v) < 0) return;
    if (v[0]) (void)get_list(c, v[0], sub(p, path, "checks"), &m->checks);
    if (v[1]) (void)get_list(c, v[1], sub(p, path, "services"), &m->services);
    if (v[2]) (void)get_list(c, v[2], sub(p, path, "tags"), &m->tags);
    if (v[3]) (void)get_str(c, v[3], sub(p, path, "tenant"), S_ID, 128, &m->tenant);
}

/* ---- alerts, maintenance, alerting (docs/alerts.md) ----------------------- */

static const char *const alert_keys[] = {"match",         "notify",       "for",
                                         "send_resolved", "remind_every", NULL};

static void parse_alert(ctx_t *c, const node_t *n, const char *path, hd_alert_rule_t *r)
{
    const node_t *v[5];
    char p[PATHMAX];
    memset(r, 0, sizeof(*r));
    r->send_resolved = 1;
    if (fields(c, n, path, alert_keys, v) < 0) return;
    if (v[0]) parse_match(c, v[0], sub(p, path, "match"), &r->match);
    if (!v[1]) {
        errf(c, n, path, "notify is required: the names of the notifiers to tell");
    } else if (get_list(c, v[1], sub(p, path, "notify"), &r->notify) == 0) {
        size_t k = 0;
        for (; r->notify && r->notify[k]; k++)
            ;
        if (k == 0)
            errf(c, v[1], sub(p, path, "notify"), "expected at least one notifier name");
        else if (k > HD_ALERT_NOTIFY_MAX)
            errf(c, v[1], sub(p, path, "notify"), "at most %d notifiers per rule",
                 HD_ALERT_NOTIFY_MAX);
    }
    if (v[2]) (void)get_duration(c, v[2], sub(p, path, "for"), 0, "0s", &r->for_us);
    if (v[3]) (void)get_bool(c, v[3], sub(p, path, "send_resolved"), &r->send_resolved);
    if (v[4])
        (void)get_duration(c, v[4], sub(p, path, "remind_every"), HD_USEC_PER_SEC, "1s",
                           &r->remind_every_us);
}

static const char *const window_keys[] = {"match", "start", "duration", "every", NULL};

static void parse_window(ctx_t *c, const node_t *n, const char *path, hd_alert_window_t *w)
{
    const node_t *v[4];
    char p[PATHMAX];
    memset(w, 0, sizeof(*w));
    if (fields(c, n, path, window_keys, v) < 0) return;
    if (v[0]) parse_match(c, v[0], sub(p, path, "match"), &w->match);
    if (!v[1]) {
        errf(c, n, path, "start is required: an RFC 3339 time like 2026-12-01T02:00:00Z");
    } else if (scalar(c, v[1], sub(p, path, "start"), "an RFC 3339 time") == 0 &&
               (strlen(v[1]->text) != v[1]->len ||
                hd_alert_parse_time(v[1]->text, &w->start_us) < 0)) {
        expected(c, v[1], sub(p, path, "start"), "an RFC 3339 time like 2026-12-01T02:00:00Z");
    }
    if (!v[2])
        errf(c, n, path, "duration is required, like 1h");
    else
        (void)get_duration(c, v[2], sub(p, path, "duration"), HD_USEC_PER_SEC, "1s",
                           &w->duration_us);
    if (v[3] && scalar(c, v[3], sub(p, path, "every"), "day or week") == 0) {
        if (strcmp(v[3]->text, "day") == 0)
            w->every = HD_WINDOW_DAY;
        else if (strcmp(v[3]->text, "week") == 0)
            w->every = HD_WINDOW_WEEK;
        else
            expected(c, v[3], sub(p, path, "every"), "day or week");
        int64_t period = (w->every == HD_WINDOW_WEEK ? 7 : 1) * 86400 * HD_USEC_PER_SEC;
        if (w->every != HD_WINDOW_ONCE && w->duration_us >= period)
            errf(c, v[2], sub(p, path, "duration"), "must be shorter than the recurrence (%s)",
                 v[3]->text);
    }
}

static void parse_alerting(ctx_t *c, const node_t *n, hd_config_alerting_t *al)
{
    static const char *const keys[] = {"flapping",       "retry_min",     "retry_max", "outbox_max",
                                       "keep_delivered", "webhook_allow", NULL};
    static const char *const flap_keys[] = {"changes", "window", NULL};
    const node_t *v[6], *f[2];
    char p[PATHMAX];
    if (fields(c, n, "alerting", keys, v) < 0) return;
    if (v[0] && fields(c, v[0], "alerting.flapping", flap_keys, f) == 0) {
        if (f[0])
            (void)get_int(c, f[0], "alerting.flapping.changes", 2, HD_ALERT_CHANGES_MAX - 2,
                          &al->flapping.changes);
        if (f[1])
            (void)get_duration(c, f[1], "alerting.flapping.window", HD_USEC_PER_SEC, "1s",
                               &al->flapping.window_us);
    }
    if (v[1])
        (void)get_duration(c, v[1], "alerting.retry_min", 100 * HD_USEC_PER_MSEC, "100ms",
                           &al->retry_min_us);
    if (v[2])
        (void)get_duration(c, v[2], "alerting.retry_max", 100 * HD_USEC_PER_MSEC, "100ms",
                           &al->retry_max_us);
    if (al->retry_max_us < al->retry_min_us)
        errf(c, v[2] ? v[2] : v[1], v[2] ? "alerting.retry_max" : "alerting.retry_min",
             "retry_max must not be below retry_min");
    int k;
    if (v[3] && get_int(c, v[3], "alerting.outbox_max", 1, 10000000, &k) == 0)
        al->outbox_max = (size_t)k;
    if (v[4] && get_int(c, v[4], "alerting.keep_delivered", 0, 10000000, &k) == 0)
        al->keep_delivered = (size_t)k;
    if (v[5]) (void)get_list(c, v[5], sub(p, "alerting", "webhook_allow"), &al->webhook_allow);
}

/* ---- notify: the notifiers (agent/notifier.h) ------------------------------- */

static const char *const notify_keys[] = {"name", "webhook", "alertmanager", "exec", "smtp", NULL};
static const char *const notify_kind_keys[][7] = {
    [HD_NOTIFIER_WEBHOOK] = {"url", "headers", "template", "template_text", "timeout", "ca_file",
                             NULL},
    [HD_NOTIFIER_ALERTMANAGER] = {"url", "timeout", "resolve_timeout", "ca_file", NULL},
    [HD_NOTIFIER_EXEC] = {"command", "timeout", NULL},
    [HD_NOTIFIER_SMTP] = {"url", "from", "to", "timeout", "ca_file", NULL},
};
enum { NK_N = 6 };

/* The node of key in map, or NULL. */
static const node_t *key_node(const node_t *map, const char *key)
{
    for (size_t i = 0; map && map->type == HD_YAML_MAP && i < map->n; i++)
        if (strcmp(map->items[2 * i]->text, key) == 0) return map->items[2 * i + 1];
    return NULL;
}

/* A webhook's headers: a mapping of names to one value each. */
static void parse_notify_headers(ctx_t *c, const node_t *n, const char *path, hd_notifier_def_t *d)
{
    char p[PATHMAX];
    if (hd_yaml_is_null(n)) return;
    if (n->type != HD_YAML_MAP) {
        expected(c, n, path, "a mapping of header names to values");
        return;
    }
    if (n->n > 64) {
        errf(c, n, path, "at most 64 headers");
        return;
    }
    d->headers = hd_xcalloc(n->n ? n->n : 1, sizeof(*d->headers));
    for (size_t i = 0; i < n->n; i++) {
        const node_t *name = n->items[2 * i], *val = n->items[2 * i + 1];
        const char *v;
        sub(p, path, name->text);
        if (!http_token(name->text, name->len)) {
            errf(c, name, p, "a header name is 1 to 64 letters, digits and !#$%%&'*+-.^_`|~");
            continue;
        }
        if (header_value(c, val, p, name->text, &v) < 0) continue;
        d->headers[d->nheaders].name = hd_xstrdup(name->text);
        d->headers[d->nheaders++].value = hd_xstrdup(v);
    }
}

/* One entry of notify: name and one of webhook, alertmanager, exec, smtp,
 * then hd_notifier_validate (a template that does not render is an error
 * here, at its position, not at the first alert). */
static void parse_notifier(ctx_t *c, const node_t *n, const char *path, hd_notifier_def_t *d)
{
    const node_t *v[6], *k[NK_N];
    char p[PATHMAX], kp[PATHMAX];
    memset(d, 0, sizeof(*d));
    d->from_config = 1;
    if (fields(c, n, path, notify_keys, v) < 0) return;
    if (v[0])
        (void)get_str(c, v[0], sub(p, path, "name"), S_TEXT, HD_NOTIFIER_NAME_MAX, &d->name);
    else
        errf(c, n, path, "missing key name");
    int nk = 0;
    const node_t *spec = NULL;
    for (int i = 1; i <= 4; i++)
        if (v[i]) {
            if (nk++) {
                errf(c, v[i], path, "one of webhook, alertmanager, exec, smtp, not two");
                return;
            }
            (void)hd_notifier_kind_parse(notify_keys[i], &d->kind);
            spec = v[i];
        }
    if (!spec) {
        errf(c, n, path, "missing one of webhook, alertmanager, exec, smtp");
        return;
    }
    sub(kp, path, hd_notifier_kind_str(d->kind));
    if (fields(c, spec, kp, notify_kind_keys[d->kind], k) < 0) return;
    size_t nerr = c->nerr;
    const char *const *keys = notify_kind_keys[d->kind];
    for (size_t i = 0; keys[i]; i++) {
        if (!k[i]) continue;
        sub(p, kp, keys[i]);
        if (!strcmp(keys[i], "url"))
            (void)get_str(c, k[i], p, S_URL, HD_URL_MAX, &d->url);
        else if (!strcmp(keys[i], "ca_file"))
            (void)get_str(c, k[i], p, S_TEXT, 4096, &d->ca_file);
        else if (!strcmp(keys[i], "timeout"))
            (void)get_duration(c, k[i], p, 1000, "1ms", &d->timeout_us);
        else if (!strcmp(keys[i], "resolve_timeout"))
            (void)get_duration(c, k[i], p, 60 * HD_USEC_PER_SEC, "1m", &d->resolve_timeout_us);
        else if (!strcmp(keys[i], "headers"))
            parse_notify_headers(c, k[i], p, d);
        else if (!strcmp(keys[i], "template"))
            (void)get_str(c, k[i], p, S_ID, 64, &d->template_name);
        else if (!strcmp(keys[i], "template_text"))
            (void)get_str(c, k[i], p, S_ANY, 65536, &d->template_text);
        else if (!strcmp(keys[i], "from"))
            (void)get_str(c, k[i], p, S_TEXT, 254, &d->from);
        else if (!strcmp(keys[i], "to") && k[i]->type == HD_YAML_SCALAR) {
            d->to = hd_xcalloc(2, sizeof(*d->to));
            if (get_str(c, k[i], p, S_TEXT, 254, &d->to[0]) < 0) {
                free(d->to);
                d->to = NULL;
            }
        } else if (!strcmp(keys[i], "to") || !strcmp(keys[i], "command")) {
            char **l = NULL;
            (void)get_list(c, k[i], p, &l);
            if (!strcmp(keys[i], "to"))
                d->to = l;
            else
                d->command = l;
        }
    }
    if (d->template_name && d->template_text)
        errf(c, k[2], sub(p, kp, "template"), "template or template_text, not both");
    if (c->nerr != nerr || !d->name) return;
    /* Missing keys and what only the whole says (a template that does not
     * render), reported at the key they name. */
    char verr[512];
    if (hd_notifier_validate(d, verr, sizeof(verr)) == 0) return;
    char *colon = strstr(verr, ": ");
    if (!colon || colon - verr >= 40) {
        errf(c, spec, kp, "%s", verr);
        return;
    }
    char key[48], base[48];
    snprintf(key, sizeof(key), "%.*s", (int)(colon - verr), verr);
    snprintf(base, sizeof(base), "%.*s", (int)strcspn(key, "[."), key);
    if (!strcmp(base, "name")) {
        errf(c, v[0], sub(p, path, "name"), "%s", colon + 2);
        return;
    }
    const node_t *kn = key_node(spec, base);
    if (!kn && !strcmp(base, "template") && (kn = key_node(spec, "template_text")))
        snprintf(key, sizeof(key), "template_text");
    errf(c, kn ? kn : spec, sub(p, kp, key), "%s", colon + 2);
}

static void parse_notify(ctx_t *c, const node_t *n, hd_config_t *cfg)
{
    size_t count;
    char p[PATHMAX];
    if (get_seq(c, n, "notify", "a list of notifiers", &count) < 0 || count == 0) return;
    cfg->notifiers = hd_xcalloc(count, sizeof(*cfg->notifiers));
    for (size_t i = 0; i < count && c->nerr < MAX_KEPT; i++) {
        parse_notifier(c, n->items[i], idx(p, "notify", i), &cfg->notifiers[i]);
        cfg->nnotifiers = i + 1;
        const char *name = cfg->notifiers[i].name;
        for (size_t j = 0; name && j < i; j++)
            if (cfg->notifiers[j].name && !strcmp(cfg->notifiers[j].name, name)) {
                const node_t *at = key_node(n->items[i], "name");
                char q[PATHMAX];
                errf(c, at ? at : n->items[i], sub(q, p, "name"),
                     "the same name as notify[%zu]: notifier names are unique", j);
                break;
            }
    }
}

/* ---- status_page: ---------------------------------------------------------- */

/* 1 when s is a group name: 1 to 64 of [a-z0-9_-] (a URL segment as is). */
static int group_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

static const char *const group_keys[] = {"name",        "title",       "public", "match",
                                         "show_output", "show_target", NULL};
enum { G_NAME, G_TITLE, G_PUBLIC, G_MATCH, G_OUTPUT, G_TARGET, G_N };

static void parse_status_group(ctx_t *c, const node_t *n, const char *path,
                               hd_config_status_group_t *g)
{
    const node_t *v[G_N];
    char p[PATHMAX];
    if (fields(c, n, path, group_keys, v) < 0) return;
    if (!v[G_NAME]) {
        errf(c, n, path, "missing key name (the group's URL segment, e.g. web)");
    } else if (scalar(c, v[G_NAME], sub(p, path, "name"), "a group name") == 0) {
        if (group_name_ok(v[G_NAME]->text, v[G_NAME]->len))
            g->name = hd_xstrdup(v[G_NAME]->text);
        else
            expected(c, v[G_NAME], p, "a group name of 1 to 64 of a-z, 0-9, _ and -");
    }
    if (v[G_TITLE]) (void)get_str(c, v[G_TITLE], sub(p, path, "title"), S_TEXT, 200, &g->title);
    if (v[G_PUBLIC]) (void)get_bool(c, v[G_PUBLIC], sub(p, path, "public"), &g->is_public);
    if (v[G_MATCH]) parse_match(c, v[G_MATCH], sub(p, path, "match"), &g->match);
    if (v[G_OUTPUT]) (void)get_bool(c, v[G_OUTPUT], sub(p, path, "show_output"), &g->show_output);
    if (v[G_TARGET]) (void)get_bool(c, v[G_TARGET], sub(p, path, "show_target"), &g->show_target);
}

static void parse_status_page(ctx_t *c, const node_t *n, hd_config_status_page_t *sp)
{
    static const char *const keys[] = {"title", "groups", NULL};
    const node_t *v[2];
    char p[PATHMAX];
    if (fields(c, n, "status_page", keys, v) < 0) return;
    if (v[0]) (void)get_str(c, v[0], "status_page.title", S_TEXT, 200, &sp->title);
    size_t ng = 0;
    if (!v[1] || get_seq(c, v[1], "status_page.groups", "a list of groups", &ng) < 0 || !ng) return;
    sp->groups = hd_xcalloc(ng, sizeof(*sp->groups));
    sp->ngroups = ng;
    for (size_t i = 0; i < ng; i++) {
        parse_status_group(c, v[1]->items[i], idx(p, "status_page.groups", i), &sp->groups[i]);
        for (size_t j = 0; j < i && sp->groups[i].name; j++)
            if (sp->groups[j].name && !strcmp(sp->groups[i].name, sp->groups[j].name)) {
                char q[PATHMAX];
                errf(c, v[1]->items[i], sub(q, p, "name"),
                     "the same name as status_page.groups[%zu]", j);
                break;
            }
    }
}

/* Every notifier an alert rule names must be one of notify:'s. */
static void check_alert_names(ctx_t *c, const node_t *alerts, const hd_config_t *cfg)
{
    char p[PATHMAX], q[PATHMAX];
    for (size_t i = 0; i < cfg->nalerts && i < alerts->n; i++) {
        const node_t *list = key_node(alerts->items[i], "notify");
        const hd_alert_rule_t *r = &cfg->alerts[i];
        for (size_t k = 0; r->notify && r->notify[k]; k++) {
            size_t j = 0;
            while (j < cfg->nnotifiers && strcmp(cfg->notifiers[j].name, r->notify[k]) != 0)
                j++;
            if (j < cfg->nnotifiers) continue;
            const node_t *at =
                list && list->type == HD_YAML_SEQ && k < list->n ? list->items[k] : list;
            errf(c, at, idx(q, sub(p, idx(q, "alerts", i), "notify"), k),
                 "no notifier named \"%s\" (notify: defines %zu)", r->notify[k], cfg->nnotifiers);
        }
    }
}

static void parse_top(ctx_t *c, const node_t *root)
{
    hd_config_t *cfg = c->cfg;
    const node_t *v[T_N];
    char p[PATHMAX];
    if (root->type != HD_YAML_MAP) {
        expected(c, root, "", "a mapping of settings (node, bind, checks, ...)");
        return;
    }
    if (fields(c, root, "", top_keys, v) < 0) return;
    if (v[T_NODE] && v[T_NODE_NAME]) {
        errf(c, v[T_NODE_NAME], "node_name",
             "the same as node (Consul's spelling): give one of them");
    } else if (v[T_NODE] || v[T_NODE_NAME]) {
        const char *key = v[T_NODE] ? "node" : "node_name";
        free(cfg->node);
        cfg->node = NULL;
        (void)get_str(c, v[T_NODE] ? v[T_NODE] : v[T_NODE_NAME], key, S_ID, 128, &cfg->node);
    }
    if (v[T_DC]) {
        free(cfg->datacenter);
        cfg->datacenter = NULL;
        (void)get_str(c, v[T_DC], "datacenter", S_ID, 64, &cfg->datacenter);
        if (!cfg->datacenter) cfg->datacenter = hd_xstrdup("dc1");
    }
    if (v[T_NODE_META]) {
        /* The same rules as a service's meta. */
        hd_config_service_t m;
        memset(&m, 0, sizeof(m));
        parse_meta(c, v[T_NODE_META], "node_meta", &m);
        cfg->node_meta = m.meta;
        cfg->nnode_meta = m.nmeta;
    }
    if (v[T_BIND]) parse_bind(c, v[T_BIND], "bind", cfg);
    if (v[T_DATA]) {
        char *dir = NULL;
        if (get_str(c, v[T_DATA], "data_dir", S_TEXT, 4096, &dir) == 0) {
            if (dir[0] == '/') {
                free(cfg->data_dir);
                cfg->data_dir = dir;
            } else {
                expected(c, v[T_DATA], "data_dir", "an absolute path");
                free(dir);
            }
        }
    }
    if (v[T_EXEC])
        (void)get_bool(c, v[T_EXEC], "enable_api_exec_checks", &cfg->enable_api_exec_checks);
    if (v[T_FILE])
        (void)get_bool(c, v[T_FILE], "enable_api_file_checks", &cfg->enable_api_file_checks);
    if (v[T_FILE_PATHS]) parse_file_paths(c, v[T_FILE_PATHS], &cfg->api_file_paths);
    if (v[T_LIMITS]) parse_limits(c, v[T_LIMITS], &cfg->limits);
    if (v[T_RATES]) parse_rates(c, v[T_RATES], &cfg->rate_limits);
    if (v[T_HIST]) parse_history(c, v[T_HIST], &cfg->history);
    if (v[T_TLS]) parse_tls(c, v[T_TLS], &cfg->tls);
    if (v[T_PLAIN]) (void)get_bool(c, v[T_PLAIN], "allow_plaintext", &cfg->allow_plaintext);
    if (v[T_ALERTING]) parse_alerting(c, v[T_ALERTING], &cfg->alerting);
    size_t na = 0;
    if (v[T_ALERTS] && get_seq(c, v[T_ALERTS], "alerts", "a list of alert rules", &na) == 0 && na) {
        cfg->alerts = hd_xcalloc(na, sizeof(*cfg->alerts));
        cfg->nalerts = na;
        for (size_t i = 0; i < na; i++)
            parse_alert(c, v[T_ALERTS]->items[i], idx(p, "alerts", i), &cfg->alerts[i]);
    }
    if (v[T_MAINT] &&
        get_seq(c, v[T_MAINT], "maintenance", "a list of maintenance windows", &na) == 0 && na) {
        cfg->maintenance = hd_xcalloc(na, sizeof(*cfg->maintenance));
        cfg->nmaintenance = na;
        for (size_t i = 0; i < na; i++)
            parse_window(c, v[T_MAINT]->items[i], idx(p, "maintenance", i), &cfg->maintenance[i]);
    }
    if (v[T_NOTIFY]) parse_notify(c, v[T_NOTIFY], cfg);
    if (v[T_STATUS_PAGE]) parse_status_page(c, v[T_STATUS_PAGE], &cfg->status_page);
    if (v[T_ALERTS]) check_alert_names(c, v[T_ALERTS], cfg);

    size_t n = 0;
    if (v[T_TOKENS] && get_seq(c, v[T_TOKENS], "tokens", "a list of tokens", &n) == 0 && n) {
        cfg->tokens = hd_xcalloc(n, sizeof(*cfg->tokens));
        for (size_t i = 0; i < n; i++)
            parse_token(c, v[T_TOKENS]->items[i], idx(p, "tokens", i), &cfg->tokens[i]);
        cfg->ntokens = n;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i && cfg->tokens[i].secret; j++)
                if (cfg->tokens[j].secret &&
                    strcmp(cfg->tokens[i].secret, cfg->tokens[j].secret) == 0) {
                    char q[PATHMAX];
                    const node_t *tn = v[T_TOKENS]->items[i];
                    const node_t *at = tn->type == HD_YAML_MAP ? tn : NULL;
                    for (size_t k = 0; at && k < tn->n; k++)
                        if (strcmp(tn->items[2 * k]->text, "secret") == 0)
                            at = tn->items[2 * k + 1];
                    errf(c, at, sub(q, idx(p, "tokens", i), "secret"),
                         "the same secret as tokens[%zu]", j);
                    break;
                }
    }

    size_t cap = 0;
    if (v[T_CHECKS] && get_seq(c, v[T_CHECKS], "checks", "a list of checks", &n) == 0)
        for (size_t i = 0; i < n && c->nerr < MAX_KEPT; i++)
            add_check(c, v[T_CHECKS]->items[i], idx(p, "checks", i), NULL, NULL, &cap);
    size_t nstandalone = cfg->nchecks;

    if (v[T_SERVICES] && get_seq(c, v[T_SERVICES], "services", "a list of services", &n) == 0 &&
        n) {
        seen_t *sids = hd_xcalloc(n, sizeof(*sids));
        cfg->services = hd_xcalloc(n, sizeof(*cfg->services));
        for (size_t i = 0; i < n && c->nerr < MAX_KEPT; i++) {
            hd_config_service_t *s = &cfg->services[i];
            const node_t *checks;
            char spath[PATHMAX];
            idx(spath, "services", i);
            parse_service(c, v[T_SERVICES]->items[i], spath, s, &sids[i], &checks);
            sids[i].order = i;
            cfg->nservices = i + 1;
            size_t nc = 0;
            if (!checks || get_seq(c, checks, sub(p, spath, "checks"), "a list of checks", &nc) < 0)
                continue;
            for (size_t j = 0; j < nc && c->nerr < MAX_KEPT; j++) {
                char def[200], cpath[PATHMAX];
                const char *sid = s->id ? s->id : "?";
                if (nc == 1)
                    snprintf(def, sizeof(def), "service:%s", sid);
                else
                    snprintf(def, sizeof(def), "service:%s:%zu", sid, j + 1);
                add_check(c, checks->items[j], idx(cpath, p, j), sid, def, &cap);
            }
        }
        dup_ids(c, sids, cfg->nservices, "service");
        for (size_t i = 0; i < n; i++)
            free(sids[i].path);
        free(sids);
    }
    /* A standalone check's service: one of this file's. */
    for (size_t i = 0; i < nstandalone; i++) {
        const char *sid = cfg->checks[i].service_id;
        size_t j = 0;
        while (sid && j < cfg->nservices &&
               (!cfg->services[j].id || strcmp(cfg->services[j].id, sid)))
            j++;
        if (sid && j == cfg->nservices)
            errf(c, c->ids[i].at, idx(p, "checks", i),
                 "service: no service with id \"%s\" in this file (a check may belong to one of "
                 "the file's services)",
                 sid);
    }
    dup_ids(c, c->ids, cfg->nchecks, "check");
}

/* ---- loading ------------------------------------------------------------------ */

void hd_config_defaults(hd_config_t *out)
{
    memset(out, 0, sizeof(*out));
    char host[256];
    if (gethostname(host, sizeof(host)) != 0 || !host[0]) snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    out->node = hd_xstrdup(host);
    out->datacenter = hd_xstrdup("dc1");
    out->bind_host = hd_xstrdup(HD_CONFIG_DEFAULT_BIND);
    out->bind_port = HD_CONFIG_DEFAULT_PORT;
    out->data_dir = hd_xstrdup(HD_CONFIG_DEFAULT_DATA);
    out->limits.max_body_bytes = 1 * MIB;
    out->limits.max_header_bytes = 16 * KIB;
    out->limits.max_conns = 0; /* from the open-file limit */
    out->limits.max_conns_per_client = 200;
    out->limits.header_timeout_us = 10 * HD_USEC_PER_SEC;
    out->limits.body_timeout_us = 30 * HD_USEC_PER_SEC;
    out->limits.idle_timeout_us = 15 * HD_USEC_PER_SEC;
    out->limits.send_timeout_us = 30 * HD_USEC_PER_SEC;
    out->limits.max_unsent_bytes = 64 * KIB;
    out->limits.max_unsent_total = 32 * MIB;
    out->limits.output_max_bytes = 4096;
    out->tls.min_version = 12;
    out->rate_limits.api.rate = 0; /* unlimited */
    out->rate_limits.api.burst = 0;
    out->rate_limits.ping.rate = 12.0 / 60.0;
    out->rate_limits.ping.burst = 12;
    out->rate_limits.status_page.rate = 10;
    out->rate_limits.status_page.burst = 30;
    out->enable_api_exec_checks = 0;
    out->history.raw_us = 48 * 3600 * HD_USEC_PER_SEC;
    out->history.minute_us = 30 * 86400 * HD_USEC_PER_SEC;
    out->history.hour_us = 365 * 86400 * HD_USEC_PER_SEC;
    out->alerting.flapping.changes = 6;
    out->alerting.flapping.window_us = 600 * HD_USEC_PER_SEC;
    out->alerting.retry_min_us = HD_USEC_PER_SEC;
    out->alerting.retry_max_us = 300 * HD_USEC_PER_SEC;
    out->alerting.outbox_max = 100000;
    out->alerting.keep_delivered = 10000;
}

int hd_config_load_string(const char *yaml, size_t len, const char *name, hd_config_t *out,
                          char *err, size_t errlen)
{
    ctx_t c = {.name = name ? name : "config", .cfg = out};
    hd_config_defaults(out);
    hd_yaml_node_t *root;
    int line, col;
    char yerr[256];
    if (hd_yaml_parse(yaml, len, &root, &line, &col, yerr, sizeof(yerr)) < 0) {
        snprintf(err, errlen, "%s:%d:%d: %s", c.name, line, col, yerr);
        hd_config_free(out);
        return -1;
    }
    if (root && !hd_yaml_is_null(root)) parse_top(&c, root); /* "---" alone is empty */
    hd_yaml_free(root);
    for (size_t i = 0; i < out->nchecks; i++)
        free(c.ids[i].path);
    free(c.ids);
    if (c.nerr == 0) return 0;
    errs_flush(&c, err, errlen);
    hd_config_free(out);
    return -1;
}

int hd_config_load_file(const char *path, hd_config_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    hd_buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        hd_buf_append(&b, chunk, n);
        if (b.len > HD_CONFIG_MAX_FILE) break;
    }
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    int rc = -1;
    if (rerr)
        snprintf(err, errlen, "%s: %s", path, strerror(rerr ? rerr : EIO));
    else if (b.len > HD_CONFIG_MAX_FILE)
        snprintf(err, errlen, "%s: larger than %d MiB; is it really the config file?", path,
                 HD_CONFIG_MAX_FILE / (1024 * 1024));
    else
        rc = hd_config_load_string(b.data ? b.data : "", b.len, path, out, err, errlen);
    hd_buf_free(&b);
    return rc;
}

int hd_config_parse_check(const char *text, size_t len, const char *name, hd_check_def_t *out,
                          char *err, size_t errlen)
{
    ctx_t c = {.name = name ? name : "check"};
    memset(out, 0, sizeof(*out));
    hd_yaml_node_t *root;
    int line, col;
    char yerr[256];
    if (hd_yaml_parse(text, len, &root, &line, &col, yerr, sizeof(yerr)) < 0) {
        snprintf(err, errlen, "%s:%d:%d: %s", c.name, line, col, yerr);
        return -1;
    }
    const node_t *at;
    const char *key;
    if (!root || root->type != HD_YAML_MAP)
        expected(&c, root, "", "a check: a mapping of name, target, interval, ...");
    else
        parse_check(&c, root, "", NULL, NULL, out, &at, &key);
    hd_yaml_free(root);
    out->from_config = 0;
    if (c.nerr == 0) return 0;
    errs_flush(&c, err, errlen);
    hd_check_def_free(out);
    return -1;
}

int hd_config_parse_alert(const char *text, size_t len, const char *name, hd_alert_rule_t *out,
                          char *err, size_t errlen)
{
    ctx_t c = {.name = name ? name : "alert"};
    memset(out, 0, sizeof(*out));
    hd_yaml_node_t *root;
    int line, col;
    char yerr[256];
    if (hd_yaml_parse(text, len, &root, &line, &col, yerr, sizeof(yerr)) < 0) {
        snprintf(err, errlen, "%s:%d:%d: %s", c.name, line, col, yerr);
        return -1;
    }
    if (!root || root->type != HD_YAML_MAP)
        expected(&c, root, "", "an alert rule: a mapping of match, notify, for, ...");
    else
        parse_alert(&c, root, "", out);
    hd_yaml_free(root);
    if (c.nerr == 0) return 0;
    errs_flush(&c, err, errlen);
    hd_alert_rule_free(out);
    return -1;
}

/* The checks of `heed agent --dev`: they pass on any machine. */
static const char dev_yaml[] = "checks:\n"
                               "  - name: agent-api\n"
                               "    target: tcp://" HD_CONFIG_DEFAULT_BIND
                               ":" STR(HD_CONFIG_DEFAULT_PORT) "\n"
                                                               "  - name: hostname-file\n"
                                                               "    target: file:///etc/hostname\n"
                                                               "    interval: 30s\n"
                                                               "  - name: exec-true\n"
                                                               "    target: exec:true\n"
                                                               "    interval: 30s\n";

int hd_config_dev(hd_config_t *out, const char *data_dir)
{
    char err[512];
    if (hd_config_load_string(dev_yaml, sizeof(dev_yaml) - 1, "dev", out, err, sizeof(err)) < 0)
        return -1; /* a bug: the unit tests load it */
    if (data_dir) {
        free(out->data_dir);
        out->data_dir = hd_xstrdup(data_dir);
    }
    return 0;
}

void hd_config_free(hd_config_t *c)
{
    if (!c) return;
    free(c->node);
    free(c->bind_host);
    free(c->data_dir);
    for (size_t i = 0; i < c->ntokens; i++) {
        free(c->tokens[i].secret);
        free(c->tokens[i].tenant);
    }
    free(c->tokens);
    list_free(c->api_file_paths);
    for (size_t i = 0; i < c->nchecks; i++)
        hd_check_def_free(&c->checks[i]);
    free(c->checks);
    for (size_t i = 0; i < c->nservices; i++) {
        hd_config_service_t *s = &c->services[i];
        free(s->id);
        free(s->name);
        free(s->address);
        list_free(s->tags);
        for (size_t j = 0; j < s->nmeta; j++) {
            free(s->meta[j].key);
            free(s->meta[j].value);
        }
        free(s->meta);
    }
    free(c->services);
    for (size_t j = 0; j < c->nnode_meta; j++) {
        free(c->node_meta[j].key);
        free(c->node_meta[j].value);
    }
    free(c->node_meta);
    free(c->datacenter);
    free(c->tls.cert_file);
    free(c->tls.key_file);
    free(c->tls.ca_file);
    for (size_t i = 0; i < c->nalerts; i++)
        hd_alert_rule_free(&c->alerts[i]);
    free(c->alerts);
    for (size_t i = 0; i < c->nmaintenance; i++)
        hd_alert_window_free(&c->maintenance[i]);
    free(c->maintenance);
    list_free(c->alerting.webhook_allow);
    for (size_t i = 0; i < c->nnotifiers; i++)
        hd_notifier_def_free(&c->notifiers[i]);
    free(c->notifiers);
    free(c->status_page.title);
    for (size_t i = 0; i < c->status_page.ngroups; i++) {
        hd_config_status_group_t *g = &c->status_page.groups[i];
        free(g->name);
        free(g->title);
        hd_match_free(&g->match);
    }
    free(c->status_page.groups);
    memset(c, 0, sizeof(*c));
}

const char *hd_config_role_str(hd_config_role_t r)
{
    switch (r) {
    case HD_CONFIG_ROLE_READ:
        return "read";
    case HD_CONFIG_ROLE_WRITE:
        return "write";
    case HD_CONFIG_ROLE_MANAGEMENT:
        return "management";
    }
    return "read";
}
