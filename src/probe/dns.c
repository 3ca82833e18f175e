/* dns — dns:// probes: ask for the records of one type of a name (c-ares,
 * on the loop) and pass when there is at least one answer and, if the
 * target expects a value, one answer equals it. Not found (NXDOMAIN, or no
 * record of the type) is HD_R_DNS_NOT_FOUND; a server failure, refusal or
 * malformed reply HD_R_DNS_FAIL; an answer set without the expected value
 * HD_R_DNS_MISMATCH, with the answers in the output.
 *
 * The system's name servers and search domains serve by default; with
 * server= a resolver of the probe's own asks only that server. /etc/hosts
 * is not consulted: this checks DNS (tcp:// checks what getaddrinfo sees).
 *
 * Also here: the answer-section reader and the matching rule (dns.h). */
#include "probe/dns.h"
#include "probe/probe_impl.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define T_A     1
#define T_NS    2
#define T_CNAME 5
#define T_MX    15
#define T_TXT   16
#define T_AAAA  28
#define C_IN    1

#define OUTPUT_ANSWERS_MAX 1024 /* bytes of the answer list shown in output */

static const struct {
    const char *name;
    int code;
} types[] = {
    {"A", T_A}, {"AAAA", T_AAAA}, {"CNAME", T_CNAME}, {"MX", T_MX}, {"NS", T_NS}, {"TXT", T_TXT},
};

int hd_dns_type_code(const char *name)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(name, types[i].name) == 0) return types[i].code;
    return 0;
}

const char *hd_dns_type_name(int code)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].code == code) return types[i].name;
    return NULL;
}

/* Whether s[0..len) is a port 1-65535 in plain digits. */
static int port_valid(const char *s, size_t len)
{
    if (len == 0 || len > 5) return 0;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

int hd_dns_server_valid(const char *s)
{
    char addr[64];
    const char *port = NULL;
    size_t alen;
    struct in6_addr a6;
    struct in_addr a4;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close) return 0;
        alen = (size_t)(close - s - 1);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return 0;
        if (alen >= sizeof(addr)) return 0;
        memcpy(addr, s + 1, alen);
        addr[alen] = '\0';
        if (inet_pton(AF_INET6, addr, &a6) != 1) return 0;
    } else {
        const char *colon = strchr(s, ':');
        alen = colon ? (size_t)(colon - s) : strlen(s);
        if (colon) port = colon + 1;
        if (alen >= sizeof(addr)) return 0;
        memcpy(addr, s, alen);
        addr[alen] = '\0';
        if (inet_pton(AF_INET, addr, &a4) != 1) return 0;
    }
    return !port || port_valid(port, strlen(port));
}

void hd_dns_answers_free(hd_dns_answers_t *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    memset(a, 0, sizeof(*a));
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* The name at p (inside abuf) in a new string without a final dot, and the
 * bytes it takes at p in *used; NULL when malformed. */
static char *name_at(const unsigned char *p, const unsigned char *abuf, size_t alen, size_t *used)
{
    if (p >= abuf + alen) return NULL;
    char *s;
    long enclen;
    if (ares_expand_name(p, abuf, (int)alen, &s, &enclen) != ARES_SUCCESS) return NULL;
    if (enclen <= 0 || (size_t)enclen > (size_t)(abuf + alen - p)) {
        ares_free_string(s);
        return NULL;
    }
    *used = (size_t)enclen;
    size_t n = strlen(s);
    if (n && s[n - 1] == '.') n--;
    char *out = hd_xstrndup(s, n);
    ares_free_string(s);
    return out;
}

/* A TXT record's strings joined, unprintable bytes as \DDD; NULL when the
 * strings overrun the record. */
static char *txt_text(const unsigned char *p, size_t len)
{
    hd_buf_t b = {0};
    size_t i = 0;
    while (i < len) {
        size_t n = p[i++];
        if (n > len - i) {
            hd_buf_free(&b);
            return NULL;
        }
        for (size_t k = 0; k < n; k++) {
            unsigned char c = p[i + k];
            if (c >= 0x20 && c < 0x7f) {
                hd_buf_append(&b, &c, 1);
            } else {
                char esc[8];
                int m = snprintf(esc, sizeof(esc), "\\%03u", c);
                hd_buf_append(&b, esc, (size_t)m);
            }
        }
        i += n;
    }
    return b.data ? b.data : hd_xstrdup("");
}

/* The text of one record's data (rd, rdlen bytes, inside abuf), or NULL
 * when malformed. */
static char *rdata_text(int type, const unsigned char *rd, size_t rdlen, const unsigned char *abuf,
                        size_t alen)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t used;
    switch (type) {
    case T_A:
        if (rdlen != 4 || !inet_ntop(AF_INET, rd, buf, sizeof(buf))) return NULL;
        return hd_xstrdup(buf);
    case T_AAAA:
        if (rdlen != 16 || !inet_ntop(AF_INET6, rd, buf, sizeof(buf))) return NULL;
        return hd_xstrdup(buf);
    case T_CNAME:
    case T_NS: {
        char *name = name_at(rd, abuf, alen, &used);
        if (name && used > rdlen) {
            free(name);
            return NULL;
        }
        return name;
    }
    case T_MX: {
        if (rdlen < 3) return NULL;
        char *name = name_at(rd + 2, abuf, alen, &used);
        if (!name) return NULL;
        if (used > rdlen - 2) {
            free(name);
            return NULL;
        }
        hd_buf_t b = {0};
        hd_buf_printf(&b, "%u %s", get16(rd), name);
        free(name);
        return b.data;
    }
    case T_TXT:
        return txt_text(rd, rdlen);
    }
    return NULL;
}

int hd_dns_parse_answers(const unsigned char *abuf, size_t alen, int qtype, hd_dns_answers_t *a)
{
    memset(a, 0, sizeof(*a));
    if (alen < 12 || alen > 65535) return -1;
    unsigned qd = get16(abuf + 4), an = get16(abuf + 6);
    const unsigned char *p = abuf + 12, *end = abuf + alen;
    size_t used;
    for (unsigned i = 0; i < qd; i++) {
        char *name = name_at(p, abuf, alen, &used);
        if (!name) goto bad;
        free(name);
        p += used;
        if (end - p < 4) goto bad;
        p += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        char *name = name_at(p, abuf, alen, &used);
        if (!name) goto bad;
        free(name);
        p += used;
        if (end - p < 10) goto bad;
        unsigned type = get16(p), cls = get16(p + 2), rdlen = get16(p + 8);
        p += 10;
        if ((size_t)(end - p) < rdlen) goto bad;
        if ((int)type == qtype && cls == C_IN && a->n < HD_DNS_ANSWERS_MAX) {
            char *v = rdata_text(qtype, p, rdlen, abuf, alen);
            if (!v) goto bad;
            a->v[a->n++] = v;
        }
        p += rdlen;
    }
    return 0;
bad:
    hd_dns_answers_free(a);
    return -1;
}

/* Names are equal without regard to case or one final dot. */
static int name_eq(const char *x, size_t xlen, const char *y, size_t ylen)
{
    if (xlen && x[xlen - 1] == '.') xlen--;
    if (ylen && y[ylen - 1] == '.') ylen--;
    return xlen == ylen && strncasecmp(x, y, xlen) == 0;
}

static int answer_eq(int qtype, const char *v, const char *expect)
{
    unsigned char x[16], y[16];
    switch (qtype) {
    case T_A:
    case T_AAAA: {
        int af = qtype == T_A ? AF_INET : AF_INET6;
        size_t n = qtype == T_A ? 4 : 16;
        return inet_pton(af, v, x) == 1 && inet_pton(af, expect, y) == 1 && memcmp(x, y, n) == 0;
    }
    case T_CNAME:
    case T_NS:
        return name_eq(v, strlen(v), expect, strlen(expect));
    case T_MX: {
        /* v is "PREF HOST"; expect is "HOST" or "PREF HOST". */
        const char *host = strchr(v, ' ');
        if (!host) return 0;
        host++;
        const char *sp = strchr(expect, ' ');
        if (sp && isdigit((unsigned char)expect[0])) {
            size_t plen = (size_t)(host - 1 - v);
            if ((size_t)(sp - expect) != plen || strncmp(v, expect, plen) != 0) return 0;
            expect = sp + 1;
        }
        return name_eq(host, strlen(host), expect, strlen(expect));
    }
    default:
        return strcmp(v, expect) == 0;
    }
}

int hd_dns_match(int qtype, const hd_dns_answers_t *a, const char *expect)
{
    for (int i = 0; i < a->n; i++)
        if (answer_eq(qtype, a->v[i], expect)) return 1;
    return 0;
}

/* ---- the probe ---- */

/* A resolver that asks only one ?server=, shared by the probes that name
 * it and kept for the next attempt: a check every few seconds should not
 * build a c-ares channel (and read resolv.conf) each time. Unused ones
 * beyond SERVERS_IDLE_MAX are freed, so API-made checks naming ever new
 * servers cannot make the list grow without bound. */
#define SERVERS_IDLE_MAX 16

typedef struct hd_dns_server_s {
    struct hd_dns_server_s *next;
    char *server;
    hd_resolver_t *r;
    int users;
} dns_server_t;

static dns_server_t *server_get(hd_probe_env_t *env, const char *server, char *err, size_t errlen)
{
    for (dns_server_t *s = env->dns_servers; s; s = s->next)
        if (strcmp(s->server, server) == 0) {
            s->users++;
            return s;
        }
    hd_resolver_t *r = hd_resolver_new_servers(env->base, server, err, errlen);
    if (!r) return NULL;
    dns_server_t *s = hd_xcalloc(1, sizeof(*s));
    s->server = hd_xstrdup(server);
    s->r = r;
    s->users = 1;
    s->next = env->dns_servers;
    env->dns_servers = s;
    return s;
}

static void server_free(dns_server_t *s)
{
    hd_resolver_free(s->r);
    free(s->server);
    free(s);
}

static void server_put(hd_probe_env_t *env, dns_server_t *put)
{
    put->users--;
    int idle = 0;
    for (dns_server_t **pp = &env->dns_servers; *pp;) {
        dns_server_t *s = *pp;
        if (s->users == 0 && ++idle > SERVERS_IDLE_MAX) {
            *pp = s->next;
            server_free(s);
        } else {
            pp = &s->next;
        }
    }
}

void hd_dns_servers_free(hd_probe_env_t *env)
{
    while (env->dns_servers) {
        dns_server_t *s = env->dns_servers;
        env->dns_servers = s->next;
        server_free(s);
    }
}

typedef struct dnsq_s {
    hd_probe_t *p;
    dns_server_t *own; /* the ?server= resolver, or NULL for the shared one */
    hd_resolve_req_t *rq;
    int qtype;
} dnsq_t;

static void dns_stop(hd_probe_t *p)
{
    dnsq_t *q = p->impl;
    if (!q) return;
    hd_resolve_cancel(q->rq);
    if (q->own) server_put(p->env, q->own);
    free(q);
    p->impl = NULL;
}

/* The answers as "a, b, c" (TXT quoted), at most OUTPUT_ANSWERS_MAX bytes. */
static void answer_list(int qtype, const hd_dns_answers_t *a, hd_buf_t *b)
{
    for (int i = 0; i < a->n; i++) {
        if (b->len >= OUTPUT_ANSWERS_MAX) {
            hd_buf_printf(b, ", ... (%d answers)", a->n);
            return;
        }
        hd_buf_printf(b, qtype == T_TXT ? "%s\"%s\"" : "%s%s", i ? ", " : "", a->v[i]);
    }
}

static void on_answer(int status, const unsigned char *reply, size_t len, const char *msg,
                      void *arg)
{
    dnsq_t *q = arg;
    hd_probe_t *p = q->p;
    const hd_target_t *t = p->t;
    const char *tname = hd_dns_type_name(q->qtype);
    q->rq = NULL;
    if (status != HD_RESOLVE_OK) {
        hd_probe_done(p, HD_STATUS_CRITICAL,
                      status == HD_RESOLVE_NOTFOUND ? HD_R_DNS_NOT_FOUND : HD_R_DNS_FAIL,
                      "%s %s: %s", t->host, tname, msg);
        return;
    }
    hd_dns_answers_t a;
    if (hd_dns_parse_answers(reply, len, q->qtype, &a) < 0) {
        hd_probe_done(p, HD_STATUS_CRITICAL, HD_R_DNS_FAIL, "%s %s: malformed reply", t->host,
                      tname);
        return;
    }
    if (a.n == 0) {
        hd_probe_done(p, HD_STATUS_CRITICAL, HD_R_DNS_NOT_FOUND, "%s %s: no %s record", t->host,
                      tname, tname);
        return;
    }
    hd_buf_t list = {0};
    answer_list(q->qtype, &a, &list);
    if (t->dns_expect && !hd_dns_match(q->qtype, &a, t->dns_expect))
        hd_probe_done(p, HD_STATUS_CRITICAL, HD_R_DNS_MISMATCH, "%s %s: expected %s, got %s",
                      t->host, tname, t->dns_expect, list.data);
    else
        hd_probe_done(p, HD_STATUS_PASSING, HD_R_OK, "%s %s: %s", t->host, tname, list.data);
    hd_buf_free(&list);
    hd_dns_answers_free(&a);
}

static int dns_start(hd_probe_t *p)
{
    const hd_target_t *t = p->t;
    dnsq_t *q = hd_xcalloc(1, sizeof(*q));
    q->p = p;
    p->impl = q;
    if (t->dns_type) {
        q->qtype = hd_dns_type_code(t->dns_type);
    } else {
        struct in6_addr a6;
        q->qtype = t->dns_expect && inet_pton(AF_INET6, t->dns_expect, &a6) == 1 ? T_AAAA : T_A;
    }
    if (!q->qtype) {
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_DNS_FAIL, "unsupported record type '%s'",
                           t->dns_type);
        return 0;
    }
    char err[160];
    hd_resolver_t *r;
    if (t->dns_server) {
        q->own = server_get(p->env, t->dns_server, err, sizeof(err));
        r = q->own ? q->own->r : NULL;
    } else {
        if (!p->env->resolver) p->env->resolver = hd_resolver_new(p->env->base, err, sizeof(err));
        r = p->env->resolver;
    }
    if (!r) {
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_DNS_FAIL, "%s", err);
        return 0;
    }
    q->rq = hd_resolve_query(r, t->host, q->qtype, on_answer, q);
    return 0;
}

const hd_probe_kind_t hd_probe_dns = {dns_start, dns_stop};
