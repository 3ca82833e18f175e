/* server — the API server's requests (see server.h for the contract):
 * options, tokens and their buckets, clients, routes, dispatch, replies,
 * the accessors handlers use, reloads and statistics. Connections (accept,
 * reading, writing, deadlines, bounds) are api/conn.c's; HTTPS is
 * api/tls.c's. */
#include "api/metrics.h"
#include "api/server_impl.h"
#include "util/jsonw.h"
#include "util/mem.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *hd_api_role_name(hd_api_role_t role)
{
    switch (role) {
    case HD_ROLE_READ:
        return "read";
    case HD_ROLE_WRITE:
        return "write";
    case HD_ROLE_MANAGEMENT:
        return "management";
    case HD_ROLE_NONE:
        break;
    }
    return "none";
}

hd_api_role_t hd_api_role_parse(const char *s)
{
    if (!s) return HD_ROLE_NONE;
    if (!strcmp(s, "read")) return HD_ROLE_READ;
    if (!strcmp(s, "write")) return HD_ROLE_WRITE;
    if (!strcmp(s, "management")) return HD_ROLE_MANAGEMENT;
    return HD_ROLE_NONE;
}

/* Compares a presented token with a secret in time that depends only on
 * the presented token's length. */
static int ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    volatile unsigned char d = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++)
        d |= (unsigned char)a[i] ^ (unsigned char)b[i % blen];
    return d == 0;
}

/* ---- rate-limit buckets ----------------------------------------------- */

static double burst_of(double rate, double burst)
{
    if (burst > 0) return burst;
    return rate > 1 ? rate : 1;
}

static void buckets_init(hd_api_buckets_t *b, double rate, double burst, int64_t now)
{
    hd_ratelimit_init(&b->all, rate > 0 ? rate : 0, burst_of(rate, burst), now);
    b->route = NULL;
    b->nroute = 0;
}

/* Gives a bucket new settings (after a reload), keeping what it holds: a
 * reload must not refill the bucket of a caller that emptied it. A bucket
 * that had no limit starts full. */
static void bucket_adopt(hd_ratelimit_t *rl, double rate, double burst)
{
    if (rate < 0) rate = 0;
    if (burst < 1) burst = 1;
    if (rl->rate == rate && rl->burst == burst) return;
    if (rl->rate <= 0) rl->tokens = burst;
    rl->rate = rate;
    rl->burst = burst;
    if (rl->tokens > burst) rl->tokens = burst;
}

static int buckets_full(const hd_api_buckets_t *b, int64_t now)
{
    if (!hd_ratelimit_full(&b->all, now)) return 0;
    for (size_t i = 0; i < b->nroute; i++)
        if (b->route[i].burst > 0 && !hd_ratelimit_full(&b->route[i], now)) return 0;
    return 1;
}

/* Takes a token for route rt from b; returns 0 or the wait in microseconds. */
static int64_t buckets_take(hd_api_t *api, hd_api_buckets_t *b, const hd_api_route_t *rt,
                            int64_t now)
{
    if (rt->limit >= 0) {
        if ((size_t)rt->limit >= b->nroute) {
            b->route = hd_xrealloc(b->route, (size_t)api->nlimits * sizeof(*b->route));
            memset(b->route + b->nroute, 0, ((size_t)api->nlimits - b->nroute) * sizeof(*b->route));
            b->nroute = (size_t)api->nlimits;
        }
        hd_ratelimit_t *rl = &b->route[rt->limit];
        if (rl->burst == 0)
            hd_ratelimit_init(rl, rt->rate, rt->burst, now);
        else
            bucket_adopt(rl, rt->rate, rt->burst);
        int64_t wait = hd_ratelimit_take(rl, now);
        if (wait) return wait;
    }
    return hd_ratelimit_take(&b->all, now);
}

/* ---- clients ------------------------------------------------------------ */

static unsigned slot_of(const char *key)
{
    unsigned h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % HD_API_CLIENT_SLOTS;
}

static void client_unlink_free(hd_api_t *api, hd_api_client_t **pp)
{
    hd_api_client_t *cl = *pp;
    *pp = cl->next;
    free(cl->b.route);
    free(cl);
    api->nclients--;
}

/* Forgets clients with no connection whose buckets are full again. */
static void clients_sweep(hd_api_t *api, int64_t now)
{
    for (int i = 0; i < HD_API_CLIENT_SLOTS; i++)
        for (hd_api_client_t **pp = &api->clients[i]; *pp;) {
            if ((*pp)->conns == 0 && buckets_full(&(*pp)->b, now))
                client_unlink_free(api, pp);
            else
                pp = &(*pp)->next;
        }
    api->sweep_at = api->nclients * 2 > 1024 ? api->nclients * 2 : 1024;
}

hd_api_client_t *hd_api_client_get(hd_api_t *api, const char *key, int64_t now)
{
    unsigned s = slot_of(key);
    for (hd_api_client_t *cl = api->clients[s]; cl; cl = cl->next)
        if (!strcmp(cl->key, key)) return cl;
    if (api->nclients >= api->sweep_at) clients_sweep(api, now);
    hd_api_client_t *cl = hd_xcalloc(1, sizeof(*cl));
    snprintf(cl->key, sizeof(cl->key), "%s", key);
    buckets_init(&cl->b, api->o.rate, api->o.burst, now);
    cl->next = api->clients[s];
    api->clients[s] = cl;
    api->nclients++;
    return cl;
}

void hd_api_client_release(hd_api_t *api, hd_api_client_t *cl, int64_t now)
{
    if (cl->conns > 0 || !buckets_full(&cl->b, now)) return;
    for (hd_api_client_t **pp = &api->clients[slot_of(cl->key)]; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            client_unlink_free(api, pp);
            return;
        }
}

/* ---- options -------------------------------------------------------------- */

/* o with every default filled in; tokens and TLS paths are the caller's. */
static hd_api_opts_t with_defaults(const hd_api_opts_t *opts)
{
    hd_api_opts_t o;
    memset(&o, 0, sizeof(o));
    if (opts) o = *opts;
    if (!o.max_body_bytes) o.max_body_bytes = HD_API_DEFAULT_MAX_BODY;
    if (!o.max_header_bytes) o.max_header_bytes = HD_API_DEFAULT_MAX_HEADER;
    if (o.max_conns <= 0) o.max_conns = HD_API_DEFAULT_MAX_CONNS;
    if (o.max_conns_per_client <= 0) o.max_conns_per_client = HD_API_DEFAULT_CONNS_PER_CLIENT;
    if (o.header_timeout_ms <= 0) o.header_timeout_ms = HD_API_DEFAULT_HEADER_MS;
    if (o.body_timeout_ms <= 0) o.body_timeout_ms = HD_API_DEFAULT_BODY_MS;
    if (o.idle_timeout_ms <= 0) o.idle_timeout_ms = HD_API_DEFAULT_IDLE_MS;
    if (o.send_timeout_ms <= 0) o.send_timeout_ms = HD_API_DEFAULT_SEND_MS;
    if (!o.max_unsent_bytes) o.max_unsent_bytes = HD_API_DEFAULT_UNSENT;
    if (!o.max_unsent_total) o.max_unsent_total = HD_API_DEFAULT_UNSENT_TOTAL;
    if (o.max_unsent_total < o.max_unsent_bytes) o.max_unsent_total = o.max_unsent_bytes;
    if (o.tls.min_version != 13) o.tls.min_version = 12;
    return o;
}

static char *dup_or_null(const char *s)
{
    return s ? hd_xstrdup(s) : NULL;
}

static void tls_paths_free(hd_api_tls_opts_t *t)
{
    free((char *)t->cert_file);
    free((char *)t->key_file);
    free((char *)t->ca_file);
}

/* The tokens of opts, each with buckets: carried over from old (a reload)
 * when the secret stays, so that a reload does not refill them. */
static hd_api_tok_t *tokens_make(const hd_api_opts_t *opts, const hd_api_opts_t *o,
                                 hd_api_tok_t *old, size_t nold, size_t *n, int64_t now)
{
    *n = 0;
    if (!opts || !opts->ntokens) return NULL;
    hd_api_tok_t *toks = hd_xcalloc(opts->ntokens, sizeof(*toks));
    for (size_t i = 0; i < opts->ntokens; i++) {
        const hd_api_token_t *t = &opts->tokens[i];
        if (!t->secret || !*t->secret) continue; /* an empty secret never matches */
        hd_api_tok_t *k = &toks[(*n)++];
        k->secret = hd_xstrdup(t->secret);
        k->len = strlen(t->secret);
        k->role = t->role;
        k->tenant = dup_or_null(t->tenant);
        k->rate = t->rate > 0 ? t->rate : o->rate;
        k->burst = t->burst > 0 ? t->burst : o->burst;
        hd_api_tok_t *prev = NULL;
        for (size_t j = 0; j < nold && !prev; j++)
            if (old[j].secret && old[j].len == k->len && !memcmp(old[j].secret, k->secret, k->len))
                prev = &old[j];
        if (prev) {
            k->b = prev->b;
            prev->b.route = NULL;
            prev->b.nroute = 0;
            bucket_adopt(&k->b.all, k->rate > 0 ? k->rate : 0, burst_of(k->rate, k->burst));
        } else {
            buckets_init(&k->b, k->rate, k->burst, now);
        }
    }
    return toks;
}

static void tokens_free(hd_api_tok_t *toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(toks[i].secret);
        free(toks[i].tenant);
        free(toks[i].b.route);
    }
    free(toks);
}

hd_api_t *hd_api_new(struct event_base *base, const hd_api_opts_t *opts)
{
    hd_api_t *api = hd_xcalloc(1, sizeof(*api));
    hd_api_opts_t o = with_defaults(opts);
    o.tokens = NULL;
    o.ntokens = 0;
    o.tls.cert_file = dup_or_null(o.tls.cert_file);
    o.tls.key_file = dup_or_null(o.tls.key_file);
    o.tls.ca_file = dup_or_null(o.tls.ca_file);
    api->o = o;
    api->base = base;
    api->port = -1;
    api->sweep_at = 1024;
    api->toks = tokens_make(opts, &o, NULL, 0, &api->ntoks, hd_time_now_us());
    hd_api_conn_config(api);
    return api;
}

int hd_api_reconfigure(hd_api_t *api, const hd_api_opts_t *opts, char *err, size_t errlen)
{
    hd_api_opts_t o = with_defaults(opts);
    struct hd_api_tls_s *tls = NULL;
    if (api->tls && o.tls.cert_file) {
        tls = hd_api_tls_new(&o.tls, err, errlen);
        if (!tls) return -1;
    }
    int64_t now = hd_time_now_us();
    size_t n;
    hd_api_tok_t *toks = tokens_make(opts, &o, api->toks, api->ntoks, &n, now);
    tokens_free(api->toks, api->ntoks);
    api->toks = toks;
    api->ntoks = n;
    if (tls) {
        hd_api_tls_free(api->tls); /* connections that use it keep it */
        api->tls = tls;
    }
    hd_api_tls_opts_t paths = api->o.tls;
    if (o.tls.cert_file && api->tls) {
        tls_paths_free(&paths);
        paths = o.tls;
        paths.cert_file = dup_or_null(o.tls.cert_file);
        paths.key_file = dup_or_null(o.tls.key_file);
        paths.ca_file = dup_or_null(o.tls.ca_file);
    }
    o.tokens = NULL;
    o.ntokens = 0;
    o.tls = paths;
    api->o = o;
    /* Callers without tokens: their buckets take the new rate as used. */
    for (int i = 0; i < HD_API_CLIENT_SLOTS; i++)
        for (hd_api_client_t *cl = api->clients[i]; cl; cl = cl->next)
            bucket_adopt(&cl->b.all, o.rate > 0 ? o.rate : 0, burst_of(o.rate, o.burst));
    hd_api_conn_config(api);
    return 0;
}

int hd_api_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!host) return 0;
    if (strcmp(host, "localhost") == 0) return 1;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

int hd_api_tls_check(const hd_api_opts_t *opts, char *err, size_t errlen)
{
    if (!opts || !opts->tls.cert_file) return 0;
    hd_api_opts_t o = with_defaults(opts);
    struct hd_api_tls_s *t = hd_api_tls_new(&o.tls, err, errlen);
    if (!t) return -1;
    hd_api_tls_free(t);
    return 0;
}

int hd_api_check(const hd_api_opts_t *opts, const char *host, char *err, size_t errlen)
{
    int tls = opts && opts->tls.cert_file;
    if (!hd_api_is_loopback(host)) {
        if (!opts || opts->ntokens == 0) {
            snprintf(err, errlen,
                     "refusing to listen on %s without tokens: anyone who can reach it could "
                     "change checks. Configure tokens, or bind 127.0.0.1",
                     host);
            return -1;
        }
        if (!tls && !opts->allow_plaintext) {
            snprintf(err, errlen,
                     "refusing to listen on %s over plain HTTP: tokens would cross the network "
                     "in clear text. Configure tls (cert_file, key_file), or set "
                     "allow_plaintext: true, or bind 127.0.0.1",
                     host);
            return -1;
        }
    }
    return hd_api_tls_check(opts, err, errlen);
}

/* ---- routes ----------------------------------------------------------------- */

static hd_api_route_t *route_find(hd_api_t *api, const char *method, const char *pattern)
{
    for (size_t i = 0; i < api->nroutes; i++)
        if (!strcmp(api->routes[i].method, method) && !strcmp(api->routes[i].pat.text, pattern))
            return &api->routes[i];
    return NULL;
}

int hd_api_route(hd_api_t *api, const char *method, const char *pattern, hd_api_role_t role,
                 hd_api_handler_fn fn, void *arg, char *err, size_t errlen)
{
    if (route_find(api, method, pattern)) {
        snprintf(err, errlen, "route %s %s is already taken", method, pattern);
        return -1;
    }
    hd_api_pattern_t pat;
    if (hd_api_pattern_parse(pattern, &pat, err, errlen) < 0) return -1;
    api->routes = hd_xrealloc(api->routes, (api->nroutes + 1) * sizeof(*api->routes));
    hd_api_route_t *rt = &api->routes[api->nroutes++];
    memset(rt, 0, sizeof(*rt));
    rt->method = hd_xstrdup(method);
    rt->pat = pat;
    rt->role = role;
    rt->fn = fn;
    rt->arg = arg;
    rt->limit = -1;
    return 0;
}

int hd_api_route_consul(hd_api_t *api, const char *method, const char *pattern)
{
    hd_api_route_t *rt = route_find(api, method, pattern);
    if (!rt) return -1;
    rt->consul = 1;
    return 0;
}

int hd_api_route_raw(hd_api_t *api, const char *method, const char *pattern)
{
    hd_api_route_t *rt = route_find(api, method, pattern);
    if (!rt) return -1;
    rt->raw = 1;
    return 0;
}

int hd_api_route_public(hd_api_t *api, const char *method, const char *pattern)
{
    hd_api_route_t *rt = route_find(api, method, pattern);
    if (!rt) return -1;
    rt->pub = 1;
    return 0;
}

int hd_api_route_limit(hd_api_t *api, const char *method, const char *pattern, double rate,
                       double burst)
{
    hd_api_route_t *rt = route_find(api, method, pattern);
    if (!rt) return -1;
    if (rt->limit < 0) rt->limit = api->nlimits++;
    rt->rate = rate > 0 ? rate : 0; /* 0: unlimited (buckets adopt it as used) */
    rt->burst = burst_of(rate, burst);
    return 0;
}

int hd_api_method_known(const hd_api_t *api, const char *method)
{
    /* The methods HTTP APIs use are routed (404, 405 with Allow); others
     * (TRACE, CONNECT, FOO) are 501 unless a route has them. */
    static const char *const std[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++)
        if (!strcmp(method, std[i])) return 1;
    for (size_t i = 0; i < api->nroutes; i++)
        if (!strcmp(api->routes[i].method, method)) return 1;
    return 0;
}

void hd_api_free(hd_api_t *api)
{
    if (!api) return;
    hd_api_conn_close_all(api); /* cancels requests in handlers' hands */
    for (size_t i = 0; i < api->nroutes; i++) {
        free(api->routes[i].method);
        hd_api_pattern_free(&api->routes[i].pat);
    }
    free(api->routes);
    tokens_free(api->toks, api->ntoks);
    for (int i = 0; i < HD_API_CLIENT_SLOTS; i++)
        while (api->clients[i])
            client_unlink_free(api, &api->clients[i]);
    if (api->tls) hd_api_tls_free(api->tls);
    tls_paths_free(&api->o.tls);
    free(api->scratch);
    free(api->tls_rec);
    free(api);
}

/* ---- replies ------------------------------------------------------------ */

void hd_api_rq_free(hd_api_rq_t *q)
{
    hd_api_target_free(&q->target);
    free(q->params);
    json_decref(q->body);
    hd_buf_free(&q->raw);
    hd_buf_free(&q->headers);
    free(q->tenant);
    free(q);
}

/* Sends status with body (taken: malloc'd) and finishes q. */
static void finish(hd_api_rq_t *q, int status, const char *ctype, char *body, size_t len)
{
    if (!q->conn) { /* the client left; the drop was counted then */
        free(body);
        hd_api_rq_free(q);
        return;
    }
    hd_api_t *api = q->api;
    int cls = status / 100;
    if (cls >= 1 && cls <= 5) api->st.replies[cls]++;
    if (status == 429) api->st.rate_limited++;
    hd_hist_add(&api->st.latency, hd_time_now_us() - q->start_us);
    hd_api_conn_reply(q, status, ctype, body, len);
}

void hd_api_reply_json(hd_api_req_t *r, int status, json_t *body)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    char *text = NULL;
    size_t len = 0;
    if (body && q->conn) {
        size_t flags = JSON_COMPACT;
        if (hd_api_query(r, "pretty")) flags = JSON_INDENT(2);
        /* 10 significant digits: 0.373 stays 0.373, not 0.37299999999999999 */
        text = json_dumps(body, flags | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        if (!text) {
            fprintf(stderr, "heed: out of memory\n");
            abort();
        }
        len = strlen(text);
        text = hd_xrealloc(text, len + 2);
        text[len++] = '\n';
        text[len] = '\0';
    }
    json_decref(body);
    finish(q, status, "application/json", text, len);
}

void hd_api_reply_text(hd_api_req_t *r, int status, const char *content_type, const char *data,
                       size_t len)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    char *copy = NULL;
    if (data && q->conn) {
        copy = hd_xmalloc(len ? len : 1);
        memcpy(copy, data, len);
    }
    finish(q, status, content_type ? content_type : "text/plain; charset=utf-8", copy, len);
}

void hd_api_reply_text_take(hd_api_req_t *r, int status, const char *content_type, char *data,
                            size_t len)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    finish(q, status, content_type ? content_type : "text/plain; charset=utf-8", data, len);
}

void hd_api_reply_json_buf(hd_api_req_t *r, int status, hd_buf_t *body)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    if (!q->conn) {
        hd_buf_free(body);
        finish(q, status, NULL, NULL, 0);
        return;
    }
    if (hd_api_query(r, "pretty")) { /* rare: let jansson indent it */
        json_t *j = json_loadb(body->data, body->len, JSON_DECODE_ANY, NULL);
        hd_buf_free(body);
        hd_api_reply_json(r, status, j);
        return;
    }
    hd_buf_append(body, "\n", 1);
    char *text = body->data;
    size_t len = body->len;
    *body = (hd_buf_t){0};
    finish(q, status, "application/json", text, len);
}

void hd_api_reply_stream(hd_api_req_t *r, int status, const char *content_type, hd_api_stream_fn fn,
                         void *arg)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    const char *ctype = content_type ? content_type : "text/plain; charset=utf-8";
    if (!q->conn || q->is_head) {
        fn(r, NULL, arg);
        if (!q->conn) {
            finish(q, status, NULL, NULL, 0);
            return;
        }
    }
    if (q->is_head) { /* the head only: the length is not known without producing it */
        q->close = 1;
        q->no_length = 1;
        finish(q, status, ctype, NULL, 0);
        return;
    }
    if (hd_api_query(r, "pretty") && strstr(ctype, "json")) {
        hd_buf_t all = {0};
        while (fn(r, &all, arg))
            ;
        hd_api_reply_json_buf(r, status, &all);
        return;
    }
    hd_api_t *api = q->api;
    int cls = status / 100;
    if (cls >= 1 && cls <= 5) api->st.replies[cls]++;
    hd_hist_add(&api->st.latency, hd_time_now_us() - q->start_us);
    q->stream = fn;
    q->stream_arg = arg;
    hd_api_conn_stream(q, status, ctype);
}

/* A Consul route's error: Consul's status and words where it has its own
 * (its anonymous token is denied with 403, as is a role too low). */
static void consul_error(hd_api_req_t *r, int status, const char *code, const char *msg)
{
    if (!strcmp(code, "no_token") || !strcmp(code, "forbidden")) {
        status = 403;
        msg = "Permission denied";
    } else if (!strcmp(code, "bad_token")) {
        msg = "ACL not found";
    }
    char text[600];
    int n = snprintf(text, sizeof(text), "%s%s",
                     !strcmp(code, "bad_json") ? "Request decode failed: " : "", msg);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(text)) n = (int)sizeof(text) - 1;
    hd_api_reply_text(r, status, "text/plain; charset=utf-8", text, (size_t)n);
}

void hd_api_error(hd_api_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const hd_api_rq_t *q = (const hd_api_rq_t *)r;
    if (q->route && q->route->consul) {
        consul_error(r, status, code, msg);
        return;
    }
    /* The writer, not json_pack: a message may quote a path or a name that
     * is not UTF-8, and json_pack would give no body at all. */
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_object_begin(&w);
    hd_jsonw_key(&w, "error");
    hd_jsonw_string(&w, msg);
    hd_jsonw_key(&w, "code");
    hd_jsonw_string(&w, code);
    hd_jsonw_object_end(&w);
    hd_api_reply_json_buf(r, status, &b);
}

void hd_api_set_header(hd_api_req_t *r, const char *name, const char *value)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    if (!q->conn) return;
    /* A value never ends the header line early: CR and LF become spaces. */
    hd_buf_printf(&q->headers, "%s: ", name);
    size_t at = q->headers.len;
    hd_buf_puts(&q->headers, value);
    for (size_t i = at; i < q->headers.len; i++)
        if (q->headers.data[i] == '\r' || q->headers.data[i] == '\n') q->headers.data[i] = ' ';
    hd_buf_puts(&q->headers, "\r\n");
}

/* ---- request accessors -------------------------------------------------- */

const char *hd_api_param(const hd_api_req_t *r, const char *name)
{
    const hd_api_rq_t *q = (const hd_api_rq_t *)r;
    if (!q->route) return NULL;
    const hd_api_pattern_t *p = &q->route->pat;
    for (size_t i = 0, k = 0; i < p->nsegs; i++) {
        if (!p->is_param[i]) continue;
        if (!strcmp(p->segs[i], name)) return q->params[k];
        k++;
    }
    return NULL;
}

int hd_api_has_tokens(const hd_api_req_t *r)
{
    return ((const hd_api_rq_t *)r)->api->ntoks > 0;
}

const char *hd_api_query(const hd_api_req_t *r, const char *key)
{
    return hd_api_target_query(&((const hd_api_rq_t *)r)->target, key);
}

const char *hd_api_header(const hd_api_req_t *r, const char *name)
{
    return hd_api_head_field(&((const hd_api_rq_t *)r)->head, name);
}

void hd_api_on_cancel(hd_api_req_t *r, hd_api_cancel_fn fn, void *arg)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    q->cancel = fn;
    q->cancel_arg = arg;
}

int hd_api_cancelled(const hd_api_req_t *r)
{
    return ((const hd_api_rq_t *)r)->conn == NULL;
}

const hd_api_t *hd_api_req_server(const hd_api_req_t *r)
{
    return ((const hd_api_rq_t *)r)->api;
}

int hd_api_parse_body(const char *data, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!data || len == 0) return 0;
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(j)) {
        static const char *const names[] = {"an object", "an array", "a string", "a number",
                                            "a number",  "true",     "false",    "null"};
        int t = (int)json_typeof(j);
        snprintf(err, errlen, "the request body must be a JSON object, not %s",
                 t >= 0 && t < 8 ? names[t] : "that");
        json_decref(j);
        return -1;
    }
    *out = j;
    return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

/* The presented token: X-Consul-Token, else Authorization: Bearer. */
static const char *token_of(const hd_api_rq_t *q, size_t *len)
{
    const char *t = hd_api_head_field(&q->head, "X-Consul-Token");
    if (!t || !*t) t = hd_api_target_query(&q->target, "token"); /* Consul's ?token= */
    if (!t || !*t) {
        const char *a = hd_api_head_field(&q->head, "Authorization");
        t = NULL;
        if (a && !strncasecmp(a, "Bearer ", 7)) {
            t = a + 7;
            while (*t == ' ')
                t++;
        }
    }
    if (!t) return NULL;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    *len = n;
    return n ? t : NULL;
}

static hd_api_tok_t *token_find(hd_api_t *api, const char *t, size_t len)
{
    hd_api_tok_t *found = NULL;
    for (size_t i = 0; i < api->ntoks; i++) /* no early exit: constant time */
        if (ct_equal(t, len, api->toks[i].secret, api->toks[i].len)) found = &api->toks[i];
    return found;
}

static void reply_allow(hd_api_rq_t *q, const char *allow)
{
    hd_api_set_header(&q->pub, "Allow", allow);
    hd_api_error(&q->pub, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
                 q->pub.method, q->target.path, allow);
}

void hd_api_dispatch(hd_api_t *api, hd_api_rq_t *q, const char *data, size_t len)
{
    hd_api_req_t *r = &q->pub;
    char err[300];
    if (hd_api_target_parse(q->head.target, &q->target, err, sizeof(err)) < 0) {
        hd_api_error(r, 400, "bad_path", "%s", err);
        return;
    }
    r->path = q->target.path;

    const char *method = q->is_head ? "GET" : r->method;
    const hd_api_route_t *rt = NULL;
    char allow[128] = "";
    for (size_t i = 0; i < api->nroutes && !rt; i++) {
        const hd_api_route_t *x = &api->routes[i];
        if (!hd_api_pattern_match(&x->pat, &q->target, NULL)) continue;
        if (!strcmp(x->method, method)) {
            rt = x;
        } else {
            size_t n = strlen(allow);
            snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", x->method);
        }
    }
    if (!rt && allow[0]) {
        reply_allow(q, allow);
        return;
    }
    if (!rt) {
        hd_api_error(r, 404, "not_found", "no such API path: %s", q->target.path);
        return;
    }
    q->route = rt;
    q->params = hd_xcalloc(rt->pat.nparams + 1, sizeof(*q->params));
    hd_api_pattern_match(&rt->pat, &q->target, q->params);

    hd_api_tok_t *tok = NULL;
    if (api->ntoks == 0) {
        r->role = HD_ROLE_MANAGEMENT;
    } else if (rt->pub) {
        r->role = HD_ROLE_NONE; /* a token sent is not even looked at */
    } else {
        size_t tlen = 0;
        const char *t = token_of(q, &tlen);
        if (!t) {
            if (!rt->consul) hd_api_set_header(r, "WWW-Authenticate", "Bearer realm=\"heed\"");
            hd_api_error(r, 401, "no_token",
                         "this agent needs a token: send \"Authorization: Bearer TOKEN\" or "
                         "\"X-Consul-Token: TOKEN\"");
            return;
        }
        tok = token_find(api, t, tlen);
        if (!tok) {
            hd_api_error(r, 403, "bad_token",
                         "ACL not found: the token is not one of this agent's");
            return;
        }
        r->role = tok->role;
        q->tenant = dup_or_null(tok->tenant);
        r->tenant = q->tenant;
    }
    if (r->role < rt->role) {
        hd_api_error(r, 403, "forbidden", "%s %s needs the %s role; this token has %s", r->method,
                     rt->pat.text, hd_api_role_name(rt->role), hd_api_role_name(r->role));
        return;
    }

    hd_api_buckets_t *b = tok ? &tok->b : q->client ? &q->client->b : NULL;
    int64_t wait = b ? buckets_take(api, b, rt, hd_time_now_us()) : 0;
    if (wait > 0) {
        char secs[24];
        long long s = (wait + HD_USEC_PER_SEC - 1) / HD_USEC_PER_SEC;
        snprintf(secs, sizeof(secs), "%lld", s);
        hd_api_set_header(r, "Retry-After", secs);
        hd_api_error(r, 429, "rate_limited", "too many requests from this %s; retry in %lld s",
                     tok ? "token" : "address", s);
        return;
    }

    if (rt->raw) {
        r->data = len ? data : NULL;
        r->data_len = len;
        rt->fn(r, rt->arg); /* r may be gone now: the bytes are the handler's to copy */
        return;
    }
    if (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT") || !strcmp(r->method, "PATCH")) {
        if (hd_api_parse_body(data, len, &q->body, err, sizeof(err)) < 0) {
            hd_api_error(r, 400, "bad_json", "%s", err);
            return;
        }
        r->body = q->body;
    }
    rt->fn(r, rt->arg);
}

/* ---- statistics --------------------------------------------------------- */

const hd_api_stats_t *hd_api_stats(const hd_api_t *api)
{
    return &api->st;
}

void hd_api_write_metrics(const hd_api_t *api, hd_metrics_t *m)
{
    static const char *const cls[] = {NULL, "1xx", "2xx", "3xx", "4xx", "5xx"};
    const hd_api_stats_t *s = &api->st;
    for (int i = 1; i <= 5; i++)
        hd_metrics_counter(m, "heed_api_requests_total", "HTTP API replies sent, by status class",
                           (double)s->replies[i], "class", cls[i], NULL);
    hd_metrics_counter(m, "heed_api_replies_dropped_total",
                       "HTTP API replies dropped because the client had gone", (double)s->dropped,
                       NULL);
    hd_metrics_counter(m, "heed_api_rate_limited_total", "HTTP API requests refused with 429",
                       (double)s->rate_limited, NULL);
    hd_metrics_counter(m, "heed_api_connections_total", "HTTP API connections accepted",
                       (double)s->conns_accepted, NULL);
    hd_metrics_counter(m, "heed_api_connections_rejected_total",
                       "HTTP API connections closed at once for a connection limit",
                       (double)s->conns_rejected, NULL);
    hd_metrics_counter(m, "heed_api_connections_evicted_total",
                       "Idle HTTP API connections closed to make room for new ones",
                       (double)s->conns_evicted, NULL);
    hd_metrics_counter(m, "heed_api_connections_timed_out_total",
                       "HTTP API connections closed for a slow or idle client",
                       (double)s->conns_timed_out, NULL);
    hd_metrics_counter(m, "heed_api_slow_readers_closed_total",
                       "HTTP API connections closed because the client did not take its reply",
                       (double)s->send_timeouts, "reason", "send_timeout", NULL);
    hd_metrics_counter(m, "heed_api_slow_readers_closed_total",
                       "HTTP API connections closed because the client did not take its reply",
                       (double)s->unsent_closed, "reason", "unsent_total", NULL);
    hd_metrics_counter(m, "heed_api_accept_paused_total",
                       "Times the HTTP API stopped accepting for a moment: no file descriptor left",
                       (double)s->accept_paused, NULL);
    hd_metrics_counter(m, "heed_api_tls_handshake_failures_total",
                       "HTTPS handshakes that failed (bad or missing client certificate, plain "
                       "HTTP, old TLS versions, ...)",
                       (double)s->tls_failures, NULL);
    hd_metrics_gauge(m, "heed_api_connections_open", "HTTP API connections open now",
                     (double)s->conns_open, NULL);
    hd_metrics_gauge(m, "heed_api_requests_held", "Requests held by blocking queries (?index=) now",
                     (double)s->held, NULL);
    hd_metrics_gauge(m, "heed_api_unsent_bytes",
                     "Reply bytes the HTTP API holds for clients that have not taken them",
                     (double)api->unsent_total, NULL);
    hd_metrics_summary(m, "heed_api_request_duration_seconds",
                       "HTTP API time from a whole request to its reply", &s->latency, NULL);
}
