/* server — the HTTP API core on evhttp (see server.h for the contract).
 *
 * What evhttp (libevent 2.1) does: parsing, keep-alive, the header size
 * limit, and the body size limit as a backstop. What it lacks, and how this
 * file adds it with public calls only:
 *
 * - A hook when a connection is accepted. evhttp_set_bevcb() lets us create
 *   each connection's bufferevent; we activate a per-connection timer at
 *   once, which runs before any I/O on the new socket (an active event runs
 *   before the loop polls again), and there "attach": find the
 *   evhttp_connection (evhttp passes it as the bufferevent's callback
 *   argument; we check it with evhttp_connection_get_bufferevent), apply
 *   the connection limits, and set its close callback. We hold a reference
 *   on the bufferevent so that it is never freed under us.
 * - A JSON 413 for an oversized Content-Length (evhttp answers HTML): see
 *   api/head.h, fed from an input-buffer callback that runs before evhttp
 *   reads the bytes.
 * - Noticing a client that leaves while its request is in a handler: evhttp
 *   stops reading then and notices only when the reply fails. We watch the
 *   socket (a one-shot read event and MSG_PEEK) and on end of file free the
 *   connection ourselves; its close callback cancels the request. A client
 *   that half-closes after its request (shutdown(SHUT_WR)) is treated as
 *   gone, as Go's net/http does; pipelined bytes end the watch.
 * - A deadline for a whole request: evhttp's timeout is per read, so a
 *   client trickling a byte every few seconds would never hit it. Our timer
 *   runs from the connection's start, or from the last reply, until the
 *   next request is read whole; meanwhile evhttp's own timeout (the same
 *   value) covers stalled writes. A request in a handler has no deadline:
 *   long polls are the handlers' business (a hook for per-request limits
 *   would go where dispatch() disarms the timer).
 * - Routing with path parameters and a query parser that accepts "?pretty"
 *   (api/route.h). */
#include "api/server.h"
#include "api/head.h"
#include "api/metrics.h"
#include "api/route.h"
#include "util/jsonw.h"
#include "util/mem.h"
#include "util/ratelimit.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENT_SLOTS 256 /* hash chains of the per-address table */
#define IP_MAX       INET6_ADDRSTRLEN

/* A caller's buckets: one for everything, one per route with its own limit. */
typedef struct buckets_s {
    hd_ratelimit_t all;
    hd_ratelimit_t *route; /* indexed by route_t.limit; burst 0 = not started */
    size_t nroute;
} buckets_t;

typedef struct tok_s {
    char *secret;
    size_t len;
    hd_api_role_t role;
    char *tenant;
    buckets_t b;
} tok_t;

/* One per peer address with open connections or a bucket not yet full. */
typedef struct client_s {
    char ip[IP_MAX];
    int conns;
    buckets_t b; /* used when no tokens are configured */
    struct client_s *next;
} client_t;

typedef struct route_s {
    char *method;
    hd_api_pattern_t pat;
    hd_api_role_t role;
    hd_api_handler_fn fn;
    void *arg;
    int limit; /* -1, or this route's index among the limited ones */
    double rate, burst;
} route_t;

typedef struct req_s req_t;

typedef struct conn_s {
    hd_api_t *api;
    struct bufferevent *bev;         /* referenced: valid until conn_free */
    struct evhttp_connection *evcon; /* NULL until attached */
    evutil_socket_t fd;
    client_t *client;
    struct event *timer; /* first: attach; then the request deadline */
    struct event *eof;   /* watches for the client leaving while req is out */
    req_t *req;          /* the request in a handler's hands, or NULL */
    hd_api_head_t head;
    int too_large; /* the current request declared a body over the limit */
    char ip[IP_MAX];
    struct conn_s *prev, *next;
} conn_t;

struct req_s {
    hd_api_req_t pub; /* first: handlers get &pub */
    hd_api_t *api;
    struct evhttp_request *ev; /* NULL once the client is gone */
    conn_t *conn;              /* NULL once the client is gone */
    hd_api_target_t target;
    const route_t *route;
    const char **params; /* route->pat.nparams values, inside target */
    json_t *body;
    hd_api_cancel_fn cancel;
    void *cancel_arg;
    int64_t start_us;
    char ip[IP_MAX];
};

struct hd_api_s {
    struct event_base *base;
    struct evhttp *http;
    hd_api_opts_t o; /* defaults filled in; tokens copied into toks */
    tok_t *toks;
    size_t ntoks;
    route_t *routes;
    size_t nroutes;
    int nlimits;
    client_t *clients[CLIENT_SLOTS];
    size_t nclients, sweep_at;
    conn_t *conns; /* every connection we created a bufferevent for */
    conn_t **byfd; /* attached connections by socket */
    size_t nbyfd;
    int port;
    hd_api_stats_t st;
};

/* ---- small helpers ---------------------------------------------------- */

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "UNKNOWN";
}

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

static void buckets_init(buckets_t *b, double rate, double burst, int64_t now)
{
    if (burst <= 0) burst = rate > 1 ? rate : 1;
    hd_ratelimit_init(&b->all, rate > 0 ? rate : 0, burst, now);
    b->route = NULL;
    b->nroute = 0;
}

static int buckets_full(const buckets_t *b, int64_t now)
{
    if (!hd_ratelimit_full(&b->all, now)) return 0;
    for (size_t i = 0; i < b->nroute; i++)
        if (b->route[i].burst > 0 && !hd_ratelimit_full(&b->route[i], now)) return 0;
    return 1;
}

/* Takes a token for route rt from b; returns 0 or the wait in microseconds. */
static int64_t buckets_take(hd_api_t *api, buckets_t *b, const route_t *rt, int64_t now)
{
    if (rt->limit >= 0) {
        if ((size_t)rt->limit >= b->nroute) {
            b->route = hd_xrealloc(b->route, (size_t)api->nlimits * sizeof(*b->route));
            memset(b->route + b->nroute, 0, ((size_t)api->nlimits - b->nroute) * sizeof(*b->route));
            b->nroute = (size_t)api->nlimits;
        }
        hd_ratelimit_t *rl = &b->route[rt->limit];
        if (rl->burst == 0) hd_ratelimit_init(rl, rt->rate, rt->burst, now);
        int64_t wait = hd_ratelimit_take(rl, now);
        if (wait) return wait;
    }
    return hd_ratelimit_take(&b->all, now);
}

/* ---- clients (per peer address) --------------------------------------- */

static unsigned slot_of(const char *ip)
{
    unsigned h = 2166136261u;
    for (; *ip; ip++)
        h = (h ^ (unsigned char)*ip) * 16777619u;
    return h % CLIENT_SLOTS;
}

static void client_unlink_free(hd_api_t *api, client_t **pp)
{
    client_t *cl = *pp;
    *pp = cl->next;
    free(cl->b.route);
    free(cl);
    api->nclients--;
}

/* Forgets clients with no connection whose buckets are full again. */
static void clients_sweep(hd_api_t *api, int64_t now)
{
    for (int i = 0; i < CLIENT_SLOTS; i++)
        for (client_t **pp = &api->clients[i]; *pp;) {
            if ((*pp)->conns == 0 && buckets_full(&(*pp)->b, now))
                client_unlink_free(api, pp);
            else
                pp = &(*pp)->next;
        }
    api->sweep_at = api->nclients * 2 > 1024 ? api->nclients * 2 : 1024;
}

static client_t *client_get(hd_api_t *api, const char *ip, int64_t now)
{
    unsigned s = slot_of(ip);
    for (client_t *cl = api->clients[s]; cl; cl = cl->next)
        if (!strcmp(cl->ip, ip)) return cl;
    if (api->nclients >= api->sweep_at) clients_sweep(api, now);
    client_t *cl = hd_xcalloc(1, sizeof(*cl));
    snprintf(cl->ip, sizeof(cl->ip), "%s", ip);
    buckets_init(&cl->b, api->o.rate, api->o.burst, now);
    cl->next = api->clients[s];
    api->clients[s] = cl;
    api->nclients++;
    return cl;
}

static void client_release(hd_api_t *api, client_t *cl, int64_t now)
{
    if (cl->conns > 0 || !buckets_full(&cl->b, now)) return;
    for (client_t **pp = &api->clients[slot_of(cl->ip)]; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            client_unlink_free(api, pp);
            return;
        }
}

/* ---- connections -------------------------------------------------------- */

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static void arm_deadline(conn_t *c)
{
    int ms = c->api->o.request_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static void conn_free(conn_t *c)
{
    hd_api_t *api = c->api;
    if (c->prev)
        c->prev->next = c->next;
    else
        api->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->fd >= 0 && (size_t)c->fd < api->nbyfd && api->byfd[c->fd] == c) api->byfd[c->fd] = NULL;
    if (c->evcon) {
        evbuffer_remove_cb(bufferevent_get_input(c->bev), on_input, c);
        api->st.conns_open--;
    }
    if (c->client) {
        c->client->conns--;
        client_release(api, c->client, hd_time_now_us());
    }
    event_free(c->timer);
    if (c->eof) event_free(c->eof);
    bufferevent_decref(c->bev);
    free(c);
}

/* evhttp is freeing the connection: the client left, timed out, or the
 * server is going away. A request in a handler's hands is cancelled. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    conn_t *c = arg;
    req_t *q = c->req;
    if (q) {
        q->ev = NULL; /* evhttp frees it right after this callback */
        q->conn = NULL;
        c->api->st.dropped++;
    }
    conn_free(c);
    if (q && q->cancel) q->cancel(&q->pub, q->cancel_arg);
}

/* Feeds the input bytes [from, to) to the head watcher; see api/head.h. */
static void scan_head(conn_t *c, struct evbuffer *buf, size_t from, size_t to)
{
    if (from >= to || c->too_large || hd_api_head_done(&c->head)) return;
    char *p = (char *)evbuffer_pullup(buf, (ev_ssize_t)to);
    if (!p) return;
    size_t off = from, used, linelen;
    while (off < to && !hd_api_head_done(&c->head)) {
        if (!hd_api_head_feed(&c->head, p + off, to - off, c->api->o.max_body_bytes, &used,
                              &linelen))
            break;
        off += used;
        if (linelen <= off && hd_api_head_zero_length(p + off - linelen, linelen) == 0) {
            c->too_large = 1;
            break;
        }
    }
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    conn_t *c = arg;
    if (info->n_added == 0 || c->req) return;
    size_t len = evbuffer_get_length(buf);
    scan_head(c, buf, len - info->n_added, len);
}

/* Starts watching a new request head on c, including bytes already read. */
static void head_restart(conn_t *c)
{
    c->too_large = 0;
    hd_api_head_reset(&c->head);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    scan_head(c, in, 0, evbuffer_get_length(in));
}

static void peer_ip(evutil_socket_t fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    snprintf(out, outlen, "unknown");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)outlen);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)outlen);
}

/* First run of a new connection's timer (see the top of this file). */
static void attach(conn_t *c)
{
    hd_api_t *api = c->api;
    bufferevent_event_cb ecb = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, &ecb, &cbarg);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    /* evhttp unsets the callbacks when it frees a connection it could not
     * set up; then nothing is ours to do. */
    if (!ecb || !cbarg || fd < 0 ||
        evhttp_connection_get_bufferevent((struct evhttp_connection *)cbarg) != c->bev) {
        conn_free(c);
        return;
    }
    c->evcon = cbarg;
    c->fd = fd;
    evhttp_connection_set_closecb(c->evcon, on_close, c);
    api->st.conns_open++;
    if ((size_t)fd >= api->nbyfd) {
        size_t n = api->nbyfd ? api->nbyfd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        api->byfd = hd_xrealloc(api->byfd, n * sizeof(*api->byfd));
        memset(api->byfd + api->nbyfd, 0, (n - api->nbyfd) * sizeof(*api->byfd));
        api->nbyfd = n;
    }
    api->byfd[fd] = c;
    peer_ip(fd, c->ip, sizeof(c->ip));
    c->client = client_get(api, c->ip, hd_time_now_us());
    c->client->conns++;
    /* Counted at attach, in accept order (several may be created before
     * the first attaches). */
    if (api->st.conns_open > api->o.max_conns || c->client->conns > api->o.max_conns_per_ip) {
        api->st.conns_rejected++;
        evhttp_connection_free(c->evcon); /* on_close frees c */
        return;
    }
    api->st.conns_accepted++;
    evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
    head_restart(c);
    arm_deadline(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = arg;
    if (!c->evcon) {
        attach(c);
        return;
    }
    /* The deadline passed with no whole request (or an unread reply). */
    c->api->st.conns_timed_out++;
    evhttp_connection_free(c->evcon);
}

static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
    hd_api_t *api = arg;
    conn_t *c = hd_xcalloc(1, sizeof(*c));
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        free(c);
        return NULL; /* evhttp then makes its own; dispatch() answers 503 */
    }
    bufferevent_incref(c->bev);
    c->api = api;
    c->fd = -1;
    c->timer = evtimer_new(base, on_timer, c);
    c->next = api->conns;
    if (api->conns) api->conns->prev = c;
    api->conns = c;
    event_active(c->timer, EV_TIMEOUT, 1);
    return c->bev;
}

/* The client may leave while a handler holds its request. */
static void on_eof(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    conn_t *c = arg;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return; /* pipelined bytes: evhttp reads them after the reply */
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        event_add(c->eof, NULL);
        return;
    }
    evhttp_connection_free(c->evcon); /* on_close cancels the request */
}

static conn_t *conn_of(hd_api_t *api, struct evhttp_request *ev)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    if (!evcon) return NULL;
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0 || (size_t)fd >= api->nbyfd) return NULL;
    conn_t *c = api->byfd[fd];
    return c && c->evcon == evcon ? c : NULL;
}

/* ---- replies ------------------------------------------------------------ */

static void req_free(req_t *q)
{
    hd_api_target_free(&q->target);
    free(q->params);
    json_decref(q->body);
    free(q);
}

static void free_cb(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

/* Sends status with body (taken: malloc'd, freed by evbuffer) and
 * finishes q. */
static void finish(req_t *q, int status, const char *ctype, char *body, size_t len)
{
    if (!q->ev) { /* the client left; the drop was counted then */
        free(body);
        req_free(q);
        return;
    }
    hd_api_t *api = q->api;
    conn_t *c = q->conn;
    struct evkeyvalq *h = evhttp_request_get_output_headers(q->ev);
    struct evbuffer *out = evbuffer_new();
    if (body) {
        evhttp_add_header(h, "Content-Type", ctype);
        if (evbuffer_add_reference(out, body, len, free_cb, NULL) < 0) free(body);
    }
    if (c) {
        c->req = NULL;
        if (c->eof) event_del(c->eof);
        if (c->too_large)
            evhttp_add_header(h, "Connection", "close");
        else
            head_restart(c);
        arm_deadline(c);
    }
    int cls = status / 100;
    if (cls >= 1 && cls <= 5) api->st.replies[cls]++;
    if (status == 429) api->st.rate_limited++;
    hd_hist_add(&api->st.latency, hd_time_now_us() - q->start_us);
    evhttp_send_reply(q->ev, status, NULL, out);
    evbuffer_free(out);
    req_free(q);
}

void hd_api_reply_json(hd_api_req_t *r, int status, json_t *body)
{
    req_t *q = (req_t *)r;
    char *text = NULL;
    size_t len = 0;
    if (body && q->ev) {
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
    req_t *q = (req_t *)r;
    char *copy = NULL;
    if (data && q->ev) {
        copy = hd_xmalloc(len ? len : 1);
        memcpy(copy, data, len);
    }
    finish(q, status, content_type ? content_type : "text/plain; charset=utf-8", copy, len);
}

void hd_api_reply_text_take(hd_api_req_t *r, int status, const char *content_type, char *data,
                            size_t len)
{
    req_t *q = (req_t *)r;
    finish(q, status, content_type ? content_type : "text/plain; charset=utf-8", data, len);
}

void hd_api_reply_json_buf(hd_api_req_t *r, int status, hd_buf_t *body)
{
    req_t *q = (req_t *)r;
    if (!q->ev) {
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

void hd_api_error(hd_api_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
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
    req_t *q = (req_t *)r;
    if (q->ev) evhttp_add_header(evhttp_request_get_output_headers(q->ev), name, value);
}

/* ---- request accessors -------------------------------------------------- */

const char *hd_api_param(const hd_api_req_t *r, const char *name)
{
    const req_t *q = (const req_t *)r;
    if (!q->route) return NULL;
    const hd_api_pattern_t *p = &q->route->pat;
    for (size_t i = 0, k = 0; i < p->nsegs; i++) {
        if (!p->is_param[i]) continue;
        if (!strcmp(p->segs[i], name)) return q->params[k];
        k++;
    }
    return NULL;
}

const char *hd_api_query(const hd_api_req_t *r, const char *key)
{
    return hd_api_target_query(&((const req_t *)r)->target, key);
}

const char *hd_api_header(const hd_api_req_t *r, const char *name)
{
    const req_t *q = (const req_t *)r;
    if (!q->ev) return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(q->ev), name);
}

void hd_api_on_cancel(hd_api_req_t *r, hd_api_cancel_fn fn, void *arg)
{
    req_t *q = (req_t *)r;
    q->cancel = fn;
    q->cancel_arg = arg;
}

int hd_api_cancelled(const hd_api_req_t *r)
{
    return ((const req_t *)r)->ev == NULL;
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
static const char *token_of(struct evhttp_request *ev, size_t *len)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(ev);
    const char *t = evhttp_find_header(h, "X-Consul-Token");
    if (!t || !*t) {
        const char *a = evhttp_find_header(h, "Authorization");
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

static tok_t *token_find(hd_api_t *api, const char *t, size_t len)
{
    tok_t *found = NULL;
    for (size_t i = 0; i < api->ntoks; i++) /* no early exit: constant time */
        if (ct_equal(t, len, api->toks[i].secret, api->toks[i].len)) found = &api->toks[i];
    return found;
}

static void reply_allow(req_t *q, const char *allow)
{
    hd_api_set_header(&q->pub, "Allow", allow);
    hd_api_error(&q->pub, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
                 q->pub.method, q->target.path, allow);
}

static void dispatch(hd_api_t *api, req_t *q)
{
    hd_api_req_t *r = &q->pub;
    char err[300];
    if (q->conn && q->conn->too_large) {
        hd_api_error(r, 413, "too_large", "the request body is larger than the limit of %zu bytes",
                     api->o.max_body_bytes);
        return;
    }
    if (hd_api_target_parse(evhttp_request_get_uri(q->ev), &q->target, err, sizeof(err)) < 0) {
        hd_api_error(r, 400, "bad_path", "%s", err);
        return;
    }
    r->path = q->target.path;

    const route_t *rt = NULL;
    char allow[128] = "";
    for (size_t i = 0; i < api->nroutes && !rt; i++) {
        const route_t *x = &api->routes[i];
        if (!hd_api_pattern_match(&x->pat, &q->target, NULL)) continue;
        if (!strcmp(x->method, r->method)) {
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

    tok_t *tok = NULL;
    if (api->ntoks == 0) {
        r->role = HD_ROLE_MANAGEMENT;
    } else {
        size_t len = 0;
        const char *t = token_of(q->ev, &len);
        if (!t) {
            hd_api_set_header(r, "WWW-Authenticate", "Bearer realm=\"heed\"");
            hd_api_error(r, 401, "no_token",
                         "this agent needs a token: send \"Authorization: Bearer TOKEN\" or "
                         "\"X-Consul-Token: TOKEN\"");
            return;
        }
        tok = token_find(api, t, len);
        if (!tok) {
            hd_api_error(r, 403, "bad_token",
                         "ACL not found: the token is not one of this agent's");
            return;
        }
        r->role = tok->role;
        r->tenant = tok->tenant;
    }
    if (r->role < rt->role) {
        hd_api_error(r, 403, "forbidden", "%s %s needs the %s role; this token has %s", r->method,
                     rt->pat.text, hd_api_role_name(rt->role), hd_api_role_name(r->role));
        return;
    }

    buckets_t *b = tok ? &tok->b : q->conn ? &q->conn->client->b : NULL;
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

    if (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT") || !strcmp(r->method, "PATCH")) {
        struct evbuffer *in = evhttp_request_get_input_buffer(q->ev);
        size_t len = evbuffer_get_length(in);
        const char *data = len ? (const char *)evbuffer_pullup(in, -1) : NULL;
        if (hd_api_parse_body(data, len, &q->body, err, sizeof(err)) < 0) {
            hd_api_error(r, 400, "bad_json", "%s", err);
            return;
        }
        r->body = q->body;
    }
    rt->fn(r, rt->arg);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    hd_api_t *api = arg;
    conn_t *c = conn_of(api, ev);
    req_t *q = hd_xcalloc(1, sizeof(*q));
    q->api = api;
    q->ev = ev;
    q->conn = c;
    q->start_us = hd_time_now_us();
    q->pub.method = method_name(evhttp_request_get_command(ev));
    q->pub.path = "";
    const char *ip = c ? c->ip : "unknown"; /* c->ip: NUL-terminated within IP_MAX */
    memcpy(q->ip, ip, strlen(ip) + 1);
    q->pub.client_ip = q->ip;
    if (!c) {
        /* Not one of ours (our bufferevent could not be made): answer
         * without handing the request out, as its end could not be seen. */
        hd_api_set_header(&q->pub, "Connection", "close");
        hd_api_error(&q->pub, 503, "unavailable", "the server is short of memory");
        return;
    }
    evtimer_del(c->timer);
    c->req = q;
    dispatch(api, q);
    if (c->req) { /* the handler will reply later: watch for the client leaving */
        if (!c->eof) c->eof = event_new(api->base, c->fd, EV_READ, on_eof, c);
        event_add(c->eof, NULL);
    }
}

/* ---- setup -------------------------------------------------------------- */

hd_api_t *hd_api_new(struct event_base *base, const hd_api_opts_t *opts)
{
    hd_api_t *api = hd_xcalloc(1, sizeof(*api));
    hd_api_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.max_body_bytes) o.max_body_bytes = HD_API_DEFAULT_MAX_BODY;
    if (!o.max_header_bytes) o.max_header_bytes = HD_API_DEFAULT_MAX_HEADER;
    if (o.max_conns <= 0) o.max_conns = HD_API_DEFAULT_MAX_CONNS;
    if (o.max_conns_per_ip <= 0) o.max_conns_per_ip = HD_API_DEFAULT_CONNS_PER_IP;
    if (o.request_timeout_ms <= 0) o.request_timeout_ms = HD_API_DEFAULT_TIMEOUT_MS;
    o.tokens = NULL;
    o.ntokens = 0;
    api->o = o;
    api->base = base;
    api->port = -1;
    api->sweep_at = 1024;
    int64_t now = hd_time_now_us();
    if (opts && opts->ntokens) {
        api->toks = hd_xcalloc(opts->ntokens, sizeof(*api->toks));
        for (size_t i = 0; i < opts->ntokens; i++) {
            const hd_api_token_t *t = &opts->tokens[i];
            if (!t->secret || !*t->secret) continue; /* an empty secret never matches */
            tok_t *k = &api->toks[api->ntoks++];
            k->secret = hd_xstrdup(t->secret);
            k->len = strlen(t->secret);
            k->role = t->role;
            k->tenant = t->tenant ? hd_xstrdup(t->tenant) : NULL;
            buckets_init(&k->b, t->rate > 0 ? t->rate : o.rate, t->burst > 0 ? t->burst : o.burst,
                         now);
        }
    }
    api->http = evhttp_new(base);
    if (!api->http) {
        fprintf(stderr, "heed: evhttp_new failed (out of memory)\n");
        abort();
    }
    /* A reply without a body (a TTL update's 200) has no Content-Type, as
     * Consul's (Go's net/http) has none, not evhttp's default text/html. */
    evhttp_set_default_content_type(api->http, NULL);
    evhttp_set_bevcb(api->http, on_new_conn, api);
    evhttp_set_gencb(api->http, on_request, api);
    evhttp_set_max_headers_size(api->http, (ev_ssize_t)o.max_header_bytes);
    evhttp_set_max_body_size(api->http, (ev_ssize_t)o.max_body_bytes);
    struct timeval tv = {o.request_timeout_ms / 1000, (o.request_timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(api->http, &tv);
    evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    return api;
}

int hd_api_listen(hd_api_t *api, const char *host, int port, char *err, size_t errlen)
{
    char where[300], ps[16];
    snprintf(where, sizeof(where), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    snprintf(ps, sizeof(ps), "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", where, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) goto bad;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* best effort */
    if (res->ai_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 511) < 0) goto bad;
    if (!evhttp_accept_socket_with_handle(api->http, fd)) goto bad;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        api->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    return 0;
bad:
    snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return -1;
}

int hd_api_port(const hd_api_t *api)
{
    return api->port;
}

static route_t *route_find(hd_api_t *api, const char *method, const char *pattern)
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
    route_t *rt = &api->routes[api->nroutes++];
    memset(rt, 0, sizeof(*rt));
    rt->method = hd_xstrdup(method);
    rt->pat = pat;
    rt->role = role;
    rt->fn = fn;
    rt->arg = arg;
    rt->limit = -1;
    return 0;
}

int hd_api_route_limit(hd_api_t *api, const char *method, const char *pattern, double rate,
                       double burst)
{
    route_t *rt = route_find(api, method, pattern);
    if (!rt) return -1;
    if (rt->limit < 0) rt->limit = api->nlimits++;
    rt->rate = rate;
    rt->burst = burst;
    return 0;
}

void hd_api_free(hd_api_t *api)
{
    if (!api) return;
    evhttp_free(api->http); /* closes attached connections: on_close for each */
    while (api->conns)
        conn_free(api->conns); /* created but not yet attached */
    for (size_t i = 0; i < api->nroutes; i++) {
        free(api->routes[i].method);
        hd_api_pattern_free(&api->routes[i].pat);
    }
    free(api->routes);
    for (size_t i = 0; i < api->ntoks; i++) {
        free(api->toks[i].secret);
        free(api->toks[i].tenant);
        free(api->toks[i].b.route);
    }
    free(api->toks);
    for (int i = 0; i < CLIENT_SLOTS; i++)
        while (api->clients[i])
            client_unlink_free(api, &api->clients[i]);
    free(api->byfd);
    free(api);
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
    hd_metrics_counter(m, "heed_api_connections_timed_out_total",
                       "HTTP API connections closed for a slow or idle client",
                       (double)s->conns_timed_out, NULL);
    hd_metrics_gauge(m, "heed_api_connections_open", "HTTP API connections open now",
                     (double)s->conns_open, NULL);
    hd_metrics_summary(m, "heed_api_request_duration_seconds",
                       "HTTP API time from a whole request to its reply", &s->latency, NULL);
}
