/* test_api_server — the API server core over real HTTP on loopback.
 *
 * Each test starts a server on a free 127.0.0.1 port with a few demo routes
 * and runs its libevent loop in a thread; the test drives it from the main
 * thread with plain sockets (and once with util/httpc) and asserts statuses,
 * headers and JSON bodies: 404/405/400/413, the token and role matrix, 429
 * with Retry-After, replies made later, clients that leave before such a
 * reply, connection limits, slow clients, pipelining, /metrics text.
 * The server's counters are read through a route, on the loop's thread. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "api/metrics.h"
#include "api/server.h"
#include "api/server_impl.h"
#include "util/buf.h"
#include "util/httpc.h"
#include "util/jsonw.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the server side: demo routes on a loop in a thread ------------------ */

typedef struct slow_s slow_t;

typedef struct fix_s {
    struct event_base *base;
    hd_api_t *api;
    pthread_t th;
    int stop[2];
    struct event *stopev;
    int port;
    int cancels;  /* cancel callbacks run */
    slow_t *slow; /* replies still to make */
    int streams_done, streams_abandoned;
    hd_topic_t topics[2]; /* what GET /v1/watch/:n waits on; PUT bumps one */
    int64_t rev;
    int retries_gone; /* retries that found their client gone */
} fix_t;

struct slow_s {
    fix_t *f;
    hd_api_req_t *r;
    struct event *ev;
    int reply_on_cancel;
    slow_t *next;
};

static void slow_unlink(slow_t *s)
{
    for (slow_t **pp = &s->f->slow; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            return;
        }
}

static void slow_finish(slow_t *s)
{
    slow_unlink(s);
    /* The tenant is read when the reply is made: valid across a reload. */
    hd_api_reply_json(s->r, 200, json_pack("{s:b, s:s?}", "slow", 1, "tenant", s->r->tenant));
    event_free(s->ev);
    free(s);
}

static void slow_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    slow_finish(arg);
}

static void slow_cancel(hd_api_req_t *r, void *arg)
{
    slow_t *s = arg;
    if (!hd_api_cancelled(r)) abort(); /* not cmocka: this is the loop's thread */
    s->f->cancels++;
    if (s->reply_on_cancel) slow_finish(s);
}

/* GET /v1/slow?ms=N[&reply_on_cancel]: replies {"slow":true} after N ms. */
static void h_slow(hd_api_req_t *r, void *arg)
{
    fix_t *f = arg;
    const char *ms = hd_api_query(r, "ms");
    long n = ms ? strtol(ms, NULL, 10) : 100;
    slow_t *s = calloc(1, sizeof(*s));
    s->f = f;
    s->r = r;
    s->reply_on_cancel = hd_api_query(r, "reply_on_cancel") != NULL;
    s->ev = evtimer_new(f->base, slow_fire, s);
    s->next = f->slow;
    f->slow = s;
    hd_api_on_cancel(r, slow_cancel, s);
    struct timeval tv = {n / 1000, (n % 1000) * 1000};
    evtimer_add(s->ev, &tv);
}

/* GET|PUT /v1/echo/:id: what the server made of the request. */
static void h_echo(hd_api_req_t *r, void *arg)
{
    (void)arg;
    json_t *j = json_pack("{s:s?, s:s, s:s, s:s?, s:s?}", "id", hd_api_param(r, "id"), "method",
                          r->method, "role", hd_api_role_name(r->role), "tenant", r->tenant, "x",
                          hd_api_query(r, "x"));
    if (hd_api_param(r, "nope")) abort();
    hd_api_set_header(r, "X-Heed-Test", "echo");
    hd_api_reply_json(r, 200, j);
}

/* PUT /v1/raw/KEY... (a "*key" route), raw: answers the key and the body's bytes as
 * text ("key=...;len=N;body"). */
static void h_raw(hd_api_req_t *r, void *arg)
{
    (void)arg;
    if (r->body) abort(); /* a raw route's body is never parsed */
    hd_buf_t b = {0};
    hd_buf_printf(&b, "key=%s;len=%zu;", hd_api_param(r, "key"), r->data_len);
    if (r->data_len) hd_buf_append(&b, r->data, r->data_len);
    hd_api_reply_text(r, 200, "text/plain", b.data, b.len);
    hd_buf_free(&b);
}

/* POST /v1/things: 201 with the body back. */
static void h_things(hd_api_req_t *r, void *arg)
{
    (void)arg;
    hd_api_reply_json(r, 201, json_pack("{s:O?}", "got", r->body));
}

/* GET /v1/written: JSON text from the writer; GET /v1/empty: no body. */
static void h_written(hd_api_req_t *r, void *arg)
{
    (void)arg;
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_object_begin(&w);
    hd_jsonw_key(&w, "a");
    hd_jsonw_array_begin(&w);
    hd_jsonw_int(&w, 1);
    hd_jsonw_string(&w, "x");
    hd_jsonw_array_end(&w);
    hd_jsonw_object_end(&w);
    hd_api_reply_json_buf(r, 200, &b);
    assert_null(b.data); /* taken */
}

static void h_empty(hd_api_req_t *r, void *arg)
{
    (void)arg;
    hd_api_reply_json(r, 200, NULL);
}

static void h_plain(hd_api_req_t *r, void *arg)
{
    (void)arg;
    hd_api_error(r, 418, "teapot", "short and %s", "stout");
}

typedef struct stream_s {
    fix_t *f;
    long n, i, size; /* n lines of size bytes ("%08ld" and x's), or n JSON objects */
    int json;
} stream_t;

static int stream_part(hd_api_req_t *r, hd_buf_t *out, void *arg)
{
    (void)r;
    stream_t *s = arg;
    if (!out) {
        s->f->streams_abandoned++;
        free(s);
        return 0;
    }
    size_t start = out->len; /* out may hold earlier parts */
    if (s->json && s->i == 0) hd_buf_puts(out, "[");
    while (s->i < s->n && out->len - start < HD_API_STREAM_CHUNK) {
        if (s->json) {
            hd_buf_printf(out, "%s{\"i\":%ld}", s->i ? "," : "", s->i);
        } else {
            char line[32];
            snprintf(line, sizeof(line), "%08ld", s->i);
            hd_buf_puts(out, line);
            for (long k = 9; k < s->size; k++)
                hd_buf_puts(out, "x");
            hd_buf_puts(out, "\n");
        }
        s->i++;
    }
    if (s->i < s->n) return 1;
    if (s->json) hd_buf_puts(out, "]");
    s->f->streams_done++;
    free(s);
    return 0;
}

/* GET /v1/stream?n=N&size=S[&json]: N lines of S bytes, or a JSON array of
 * N objects, produced as the client takes them. */
static void h_stream(hd_api_req_t *r, void *arg)
{
    stream_t *s = calloc(1, sizeof(*s));
    s->f = arg;
    const char *n = hd_api_query(r, "n"), *size = hd_api_query(r, "size");
    s->n = n ? strtol(n, NULL, 10) : 10;
    s->size = size ? strtol(size, NULL, 10) : 100;
    if (s->size < 10) s->size = 10;
    s->json = hd_api_query(r, "json") != NULL;
    hd_api_reply_stream(r, 200, s->json ? "application/json" : "text/plain", stream_part, s);
}

static const hd_api_token_t TOKENS[];

/* POST /test/reconfigure {"tokens": [secrets of TOKENS or "c-secret"],
 * "max_body": N, "rate": R, "burst": B}: hd_api_reconfigure on the loop. */
static void h_reconf(hd_api_req_t *r, void *arg)
{
    fix_t *f = arg;
    static const hd_api_token_t extra = {"c-secret", HD_ROLE_WRITE, "team-c", 0, 0};
    hd_api_token_t toks[8];
    hd_api_opts_t o = {.tokens = toks};
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(r->body, "tokens"), i, v)
    {
        const char *want = json_string_value(v);
        for (size_t k = 0; k < 4; k++)
            if (!strcmp(TOKENS[k].secret, want)) toks[o.ntokens++] = TOKENS[k];
        if (!strcmp(want, extra.secret)) toks[o.ntokens++] = extra;
    }
    o.max_body_bytes = (size_t)json_integer_value(json_object_get(r->body, "max_body"));
    o.rate = json_number_value(json_object_get(r->body, "rate"));
    o.burst = json_number_value(json_object_get(r->body, "burst"));
    char err[200];
    if (hd_api_reconfigure(f->api, &o, err, sizeof(err)) < 0)
        hd_api_error(r, 500, "reconfigure", "%s", err);
    else
        hd_api_reply_json(r, 200, NULL);
}

/* GET /v1/watch/:n?index=&wait=: a blocking read of topic n (0 or 1):
 * answers {"index": I} with X-Consul-Index once the topic's index is past
 * ?index=, or when the wait ends. PUT /v1/watch/:n bumps it. */
static void watch_answer(hd_api_req_t *r, void *arg)
{
    fix_t *f = arg;
    if (hd_api_cancelled(r)) f->retries_gone++;
    uint64_t index;
    int64_t wait_ms;
    char err[64];
    if (hd_api_block_params(r, &index, &wait_ms, err, sizeof(err)) < 0) {
        hd_api_reply_text(r, 400, NULL, err, strlen(err));
        return;
    }
    hd_topic_t *t = &f->topics[hd_api_param(r, "n")[0] == '1'];
    if (index && (uint64_t)t->index <= index &&
        hd_api_hold(r, &t, 1, wait_ms, watch_answer, f) == 0)
        return;
    char idx[32];
    snprintf(idx, sizeof(idx), "%lld", (long long)t->index);
    hd_api_set_header(r, "X-Consul-Index", idx);
    hd_api_reply_json(r, 200, json_pack("{s:I}", "index", (json_int_t)t->index));
}

static void h_watch(hd_api_req_t *r, void *arg)
{
    watch_answer(r, arg);
}

static void h_bump(hd_api_req_t *r, void *arg)
{
    fix_t *f = arg;
    hd_topic_bump(&f->topics[hd_api_param(r, "n")[0] == '1'], ++f->rev);
    hd_api_reply_json(r, 200, NULL);
}

static void h_stats(hd_api_req_t *r, void *arg)
{
    fix_t *f = arg;
    const hd_api_stats_t *s = hd_api_stats(f->api);
    int pending = 0;
    for (slow_t *x = f->slow; x; x = x->next)
        pending++;
    json_t *j = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "pending", pending,
                          "cancels", f->cancels, "dropped", (json_int_t)s->dropped, "rejected",
                          (json_int_t)s->conns_rejected, "accepted", (json_int_t)s->conns_accepted,
                          "timed_out", (json_int_t)s->conns_timed_out, "open",
                          (json_int_t)s->conns_open, "rate_limited", (json_int_t)s->rate_limited,
                          "r2xx", (json_int_t)s->replies[2], "r4xx", (json_int_t)s->replies[4]);
    json_object_set_new(j, "evicted", json_integer((json_int_t)s->conns_evicted));
    json_object_set_new(j, "send_timeouts", json_integer((json_int_t)s->send_timeouts));
    json_object_set_new(j, "unsent_closed", json_integer((json_int_t)s->unsent_closed));
    json_object_set_new(j, "streams_done", json_integer(f->streams_done));
    json_object_set_new(j, "streams_abandoned", json_integer(f->streams_abandoned));
    json_object_set_new(j, "unsent", json_integer((json_int_t)f->api->unsent_total));
    json_object_set_new(j, "held", json_integer((json_int_t)s->held));
    json_object_set_new(j, "retries_gone", json_integer(f->retries_gone));
    hd_api_reply_json(r, 200, j);
}

static void h_metrics(hd_api_req_t *r, void *arg)
{
    fix_t *f = arg;
    hd_metrics_t *m = hd_metrics_new();
    hd_api_write_metrics(f->api, m);
    size_t len;
    const char *text = hd_metrics_text(m, &len);
    hd_api_reply_text(r, 200, HD_METRICS_CONTENT_TYPE, text, len);
    hd_metrics_free(m);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((fix_t *)arg)->base);
}

static void *loop_main(void *arg)
{
    event_base_dispatch(((fix_t *)arg)->base);
    return NULL;
}

static const hd_api_token_t TOKENS[4] = {
    {"r-secret", HD_ROLE_READ, "team-a", 0, 0},
    {"w-secret", HD_ROLE_WRITE, "team-a", 0, 0},
    {"m-secret", HD_ROLE_MANAGEMENT, NULL, 0, 0},
    {"g-secret", HD_ROLE_READ, NULL, 0, 0},
};

static void route(fix_t *f, const char *m, const char *p, hd_api_role_t role, hd_api_handler_fn fn)
{
    char err[200];
    if (hd_api_route(f->api, m, p, role, fn, f, err, sizeof(err)) < 0) fail_msg("%s", err);
}

static fix_t *start(const hd_api_opts_t *o)
{
    fix_t *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    f->api = hd_api_new(f->base, o);
    route(f, "GET", "/v1/echo/:id", HD_ROLE_READ, h_echo);
    route(f, "PUT", "/v1/echo/:id", HD_ROLE_WRITE, h_echo);
    route(f, "POST", "/v1/things", HD_ROLE_WRITE, h_things);
    route(f, "GET", "/v1/slow", HD_ROLE_READ, h_slow);
    route(f, "GET", "/v1/limited", HD_ROLE_READ, h_echo);
    route(f, "GET", "/v1/teapot", HD_ROLE_READ, h_plain);
    route(f, "GET", "/v1/written", HD_ROLE_READ, h_written);
    route(f, "GET", "/v1/empty", HD_ROLE_READ, h_empty);
    route(f, "GET", "/v1/manage", HD_ROLE_MANAGEMENT, h_echo);
    route(f, "GET", "/test/stats", HD_ROLE_READ, h_stats);
    route(f, "GET", "/metrics", HD_ROLE_READ, h_metrics);
    route(f, "GET", "/v1/stream", HD_ROLE_READ, h_stream);
    route(f, "POST", "/test/reconfigure", HD_ROLE_MANAGEMENT, h_reconf);
    route(f, "GET", "/v1/watch/:n", HD_ROLE_READ, h_watch);
    route(f, "PUT", "/v1/consulish/:id", HD_ROLE_WRITE, h_echo);
    assert_int_equal(hd_api_route_consul(f->api, "PUT", "/v1/consulish/:id"), 0);
    assert_int_equal(hd_api_route_consul(f->api, "GET", "/v1/consulish/:id"), -1);
    route(f, "PUT", "/v1/watch/:n", HD_ROLE_WRITE, h_bump);
    route(f, "GET", "/v1/public", HD_ROLE_NONE, h_echo);
    assert_int_equal(hd_api_route_public(f->api, "GET", "/v1/public"), 0);
    assert_int_equal(hd_api_route_public(f->api, "PUT", "/v1/public"), -1);
    route(f, "PUT", "/v1/raw/*key", HD_ROLE_WRITE, h_raw);
    assert_int_equal(hd_api_route_raw(f->api, "PUT", "/v1/raw/*key"), 0);
    assert_int_equal(hd_api_route_raw(f->api, "GET", "/v1/raw/*key"), -1);
    hd_topic_init(&f->topics[0]);
    hd_topic_init(&f->topics[1]);
    assert_int_equal(hd_api_route_limit(f->api, "GET", "/v1/limited", 2.0 / 60, 2), 0);
    assert_int_equal(hd_api_route_limit(f->api, "GET", "/v1/none", 1, 1), -1);
    char err[200];
    assert_int_equal(
        hd_api_route(f->api, "GET", "/v1/echo/:id", HD_ROLE_READ, h_echo, f, err, sizeof(err)), -1);
    assert_contains(err, "already taken");
    assert_int_equal(hd_api_port(f->api), -1);
    if (hd_api_listen(f->api, "127.0.0.1", 0, err, sizeof(err)) < 0) fail_msg("%s", err);
    f->port = hd_api_port(f->api);
    assert_true(f->port > 0);
    assert_int_equal(pipe(f->stop), 0);
    f->stopev = event_new(f->base, f->stop[0], EV_READ, on_stop, f);
    event_add(f->stopev, NULL);
    assert_int_equal(pthread_create(&f->th, NULL, loop_main, f), 0);
    return f;
}

static fix_t *start_tokens(void)
{
    hd_api_opts_t o = {.tokens = TOKENS, .ntokens = 4, .max_body_bytes = 1024};
    return start(&o);
}

static void stop(fix_t *f)
{
    assert_int_equal(write(f->stop[1], "x", 1), 1);
    pthread_join(f->th, NULL);
    hd_api_free(f->api);
    /* Replies due after the server is gone are dropped, safely. */
    while (f->slow)
        slow_finish(f->slow);
    event_free(f->stopev);
    event_base_free(f->base);
    close(f->stop[0]);
    close(f->stop[1]);
    free(f);
}

/* ---- the client side: plain sockets ------------------------------------- */

typedef struct resp_s {
    int status;
    char head[4096];
    char body[8192];
    json_t *json;
} resp_t;

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_str(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until the server closes (or ms pass): 0, or -1 on a timeout. */
static int read_to_eof(int fd, hd_buf_t *out, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0) return 0;
        if (n < 0) return errno == ECONNRESET ? 0 : -1;
        hd_buf_append(out, buf, (size_t)n);
    }
}

static void parse(const char *raw, resp_t *r)
{
    memset(r, 0, sizeof(*r));
    if (sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1) fail_msg("not an HTTP reply: '%s'", raw);
    const char *end = strstr(raw, "\r\n\r\n");
    assert_non_null(end);
    snprintf(r->head, sizeof(r->head), "%.*s", (int)(end - raw + 2), raw);
    snprintf(r->body, sizeof(r->body), "%s", end + 4);
    if (r->body[0] == '{') {
        json_error_t je;
        r->json = json_loads(r->body, 0, &je);
        if (!r->json) fail_msg("bad JSON reply '%s': %s", r->body, je.text);
    }
}

/* The value of header name in r (case-insensitive), or NULL. */
static const char *hdr(const resp_t *r, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)strcspn(v, "\r"), v);
            return out;
        }
    }
    return NULL;
}

/* One request on its own connection ("Connection: close"). extra: more
 * header lines, each ending in \r\n. */
static void call(const fix_t *f, const char *method, const char *path, const char *extra,
                 const char *body, resp_t *r)
{
    int fd = dial(f->port);
    hd_buf_t req = {0}, out = {0};
    hd_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s", method, path,
                  extra ? extra : "");
    if (body) hd_buf_printf(&req, "Content-Length: %zu\r\n", strlen(body));
    hd_buf_printf(&req, "\r\n%s", body ? body : "");
    send_str(fd, req.data);
    if (read_to_eof(fd, &out, 5000) < 0) fail_msg("no reply to %s %s", method, path);
    close(fd);
    parse(out.data ? out.data : "", r);
    hd_buf_free(&req);
    hd_buf_free(&out);
}

static void done(resp_t *r)
{
    json_decref(r->json);
    r->json = NULL;
}

static const char *jstr(const resp_t *r, const char *key)
{
    return json_string_value(json_object_get(r->json, key));
}

static json_int_t jint(const resp_t *r, const char *key)
{
    return json_integer_value(json_object_get(r->json, key));
}

/* Expects an error reply with this status and code. */
static void expect_error(const fix_t *f, const char *method, const char *path, const char *extra,
                         const char *body, int status, const char *code)
{
    resp_t r;
    call(f, method, path, extra, body, &r);
    if (r.status != status || !jstr(&r, "code") || strcmp(jstr(&r, "code"), code) != 0)
        fail_msg("%s %s: want %d %s, got %d %s", method, path, status, code, r.status, r.body);
    assert_non_null(jstr(&r, "error"));
    char ct[100];
    assert_string_equal(hdr(&r, "Content-Type", ct, sizeof(ct)), "application/json");
    done(&r);
}

static json_int_t stat_of(const fix_t *f, const char *key)
{
    resp_t r;
    call(f, "GET", "/test/stats", "X-Consul-Token: m-secret\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    json_int_t v = jint(&r, key);
    done(&r);
    return v;
}

/* Waits up to 2 s for a counter to reach want. */
static void stat_reaches(const fix_t *f, const char *key, json_int_t want)
{
    json_int_t v = 0;
    for (int i = 0; i < 100; i++) {
        if ((v = stat_of(f, key)) == want) return;
        usleep(20000);
    }
    fail_msg("stat %s is %lld, want %lld", key, (long long)v, (long long)want);
}

#define M "X-Consul-Token: m-secret\r\n"

/* ---- the tests ---------------------------------------------------------- */

/* Replies written with util/jsonw: the same headers and newline as
 * hd_api_reply_json, "?pretty" too; a reply with no body has no
 * Content-Type (not evhttp's text/html); an error quoting bytes that are
 * not UTF-8 still has its JSON body. */
static void test_written_and_empty_replies(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    char v[100];
    call(f, "GET", "/v1/written", M, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"a\":[1,\"x\"]}\n");
    assert_string_equal(hdr(&r, "Content-Type", v, sizeof(v)), "application/json");
    done(&r);
    call(f, "GET", "/v1/written?pretty", M, NULL, &r);
    assert_string_equal(r.body, "{\n  \"a\": [\n    1,\n    \"x\"\n  ]\n}\n");
    done(&r);
    call(f, "GET", "/v1/empty", M, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    assert_string_equal(hdr(&r, "Content-Length", v, sizeof(v)), "0");
    assert_null(hdr(&r, "Content-Type", v, sizeof(v)));
    done(&r);
    expect_error(f, "GET", "/v1/nope\xff", M, NULL, 404, "not_found"); /* was: no body */
    call(f, "GET", "/v1/nope\xff", M, NULL, &r);
    assert_contains(jstr(&r, "error"), "/v1/nope\xef\xbf\xbd");
    done(&r);
    call(f, "GET", "/v1/nope?pretty", M, NULL, &r);
    assert_contains(r.body, "{\n  \"error\": \"no such API path: /v1/nope\",\n  \"code\"");
    done(&r);
    stop(f);
}

static void test_routing(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    call(f, "GET", "/v1/echo/a%2Fb%20c/?x=1+2&pretty", M, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(&r, "id"), "a/b c");
    assert_string_equal(jstr(&r, "x"), "1 2");
    assert_string_equal(jstr(&r, "method"), "GET");
    assert_contains(r.body, "{\n  \""); /* ?pretty indents */
    char v[100];
    assert_string_equal(hdr(&r, "X-Heed-Test", v, sizeof(v)), "echo");
    done(&r);

    expect_error(f, "GET", "/v1/nope", M, NULL, 404, "not_found");
    expect_error(f, "GET", "/v1/echo", M, NULL, 404, "not_found");
    expect_error(f, "GET", "/v1/echo/a/b", M, NULL, 404, "not_found");
    expect_error(f, "GET", "/v1/echo/%zz", M, NULL, 400, "bad_path");

    call(f, "DELETE", "/v1/echo/1", M, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(jstr(&r, "code"), "method_not_allowed");
    assert_string_equal(hdr(&r, "Allow", v, sizeof(v)), "GET, PUT");
    done(&r);
    expect_error(f, "PATCH", "/v1/things", M, "{}", 405, "method_not_allowed");

    call(f, "GET", "/v1/teapot", M, NULL, &r);
    assert_int_equal(r.status, 418);
    assert_string_equal(jstr(&r, "error"), "short and stout");
    done(&r);
    stop(f);
}

static void test_bad_json(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    call(f, "POST", "/v1/things", M, "{\"name\": \"web\",\n \"interval\": }", &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(jstr(&r, "code"), "bad_json");
    assert_string_equal(jstr(&r, "error"),
                        "invalid JSON at line 2 column 14: unexpected token near '}'");
    done(&r);
    call(f, "POST", "/v1/things", M, "[1]", &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(jstr(&r, "error"), "the request body must be a JSON object, not an array");
    done(&r);

    call(f, "POST", "/v1/things", M, "{\"name\": \"web\"}", &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "got"), "name")),
                        "web");
    done(&r);
    /* No body at all is the handler's to judge. */
    call(f, "POST", "/v1/things", M, NULL, &r);
    assert_int_equal(r.status, 201);
    done(&r);
    /* PUT bodies are checked too. */
    expect_error(f, "PUT", "/v1/echo/1", M, "nope", 400, "bad_json");
    stop(f);
}

/* A body over max_body_bytes (1024 here) is refused with JSON before it is
 * sent, even when the head arrives a few bytes at a time. */
static void test_too_large(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    for (int trickle = 0; trickle <= 1; trickle++) {
        int fd = dial(f->port);
        const char *head = "POST /v1/things HTTP/1.1\r\nHost: t\r\n" M
                           "Content-Length: 50000000\r\nContent-Type: application/json\r\n\r\n";
        if (trickle) {
            for (const char *p = head; *p;) {
                char piece[8];
                snprintf(piece, sizeof(piece), "%.7s", p);
                send_str(fd, piece);
                p += strlen(piece);
                usleep(2000);
            }
        } else {
            send_str(fd, head);
        }
        send_str(fd, "{\"a\": ");
        hd_buf_t out = {0};
        assert_int_equal(read_to_eof(fd, &out, 3000), 0); /* and the server closes */
        close(fd);
        resp_t r;
        parse(out.data, &r);
        assert_int_equal(r.status, 413);
        assert_string_equal(jstr(&r, "code"), "too_large");
        assert_string_equal(jstr(&r, "error"),
                            "the request body is larger than the limit of 1024 bytes");
        done(&r);
        hd_buf_free(&out);
    }
    /* At the limit is fine. */
    char body[1025];
    memset(body, ' ', 1024);
    body[0] = '{';
    body[1023] = '}';
    body[1024] = '\0';
    resp_t r;
    call(f, "POST", "/v1/things", M, body, &r);
    assert_int_equal(r.status, 201);
    done(&r);
    stop(f);
}

/* Sends raw bytes on a new connection and reads the reply to the end. */
static void raw(const fix_t *f, const char *req, size_t len, hd_buf_t *out)
{
    int fd = dial(f->port);
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    hd_buf_reset(out);
    if (read_to_eof(fd, out, 3000) < 0) fail_msg("no end of reply to '%.60s'", req);
    close(fd);
}

/* Every malformed request gets heed's JSON error with its status, and the
 * connection ends (what evhttp answered with HTML before). */
static void test_malformed(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    static const struct {
        const char *req;
        int status;
        const char *code;
        const char *msg;
    } cases[] = {
        {"FOO /v1/echo/1 HTTP/1.1\r\nHost: t\r\n\r\n", 501, "not_implemented",
         "the method FOO is not supported"},
        {"TRACE /v1/echo/1 HTTP/1.1\r\nHost: t\r\n\r\n", 501, "not_implemented", "TRACE"},
        {"CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n", 501, "not_implemented", "CONNECT"},
        {"GET /v1/echo/1\r\n\r\n", 505, "version_not_supported", "HTTP/0.9"},
        {"GET /v1/echo/1 HTTP/2.0\r\nHost: t\r\n\r\n", 505, "version_not_supported", "HTTP/2.0"},
        {"POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         400, "bad_request", "both Content-Length and Transfer-Encoding"},
        {"POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n", 400, "bad_request",
         "Content-Length must be a number"},
        {"GET /v1/echo/1 HTTP/1.1\r\n\r\n", 400, "bad_request", "Host header"},
        {"\x16\x03\x01\x00\xa5\x01\x00\x00", 400, "bad_request", "not an HTTP request line"},
        {"POST /v1/things HTTP/1.1\r\nHost: t\r\nExpect: x\r\n\r\n", 417, "expectation_failed",
         "100-continue"},
    };
    hd_buf_t out = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        raw(f, cases[i].req, strlen(cases[i].req), &out);
        resp_t r;
        parse(out.data ? out.data : "", &r);
        if (r.status != cases[i].status || !jstr(&r, "code") ||
            strcmp(jstr(&r, "code"), cases[i].code) != 0)
            fail_msg("'%.40s': want %d %s, got %s", cases[i].req, cases[i].status, cases[i].code,
                     out.data);
        assert_contains(jstr(&r, "error"), cases[i].msg);
        char v[100];
        assert_string_equal(hdr(&r, "Content-Type", v, sizeof(v)), "application/json");
        assert_string_equal(hdr(&r, "Connection", v, sizeof(v)), "close");
        done(&r);
    }
    /* A raw NUL in the path. */
    static const char nul[] = "GET /v1/echo/a\0b HTTP/1.1\r\nHost: t\r\n\r\n";
    raw(f, nul, sizeof(nul) - 1, &out);
    assert_contains(out.data, "HTTP/1.1 400 Bad Request\r\n");
    assert_contains(out.data, "control byte 0x00");

    /* A header over max_header_bytes (16 KiB): 431; a 100 KB path: 414. */
    hd_buf_t req = {0};
    hd_buf_puts(&req, "GET /v1/echo/1 HTTP/1.1\r\nHost: t\r\n" M "X-Big: ");
    for (int i = 0; i < 20000; i++)
        hd_buf_puts(&req, "a");
    hd_buf_puts(&req, "\r\n\r\n");
    raw(f, req.data, req.len, &out);
    assert_contains(out.data, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    assert_contains(out.data, "\"code\":\"headers_too_large\"");
    assert_contains(out.data, "longer than the limit of 16384 bytes");
    hd_buf_reset(&req);
    hd_buf_puts(&req, "GET /v1/echo/");
    for (int i = 0; i < 100000; i++)
        hd_buf_puts(&req, "a");
    hd_buf_puts(&req, " HTTP/1.1\r\nHost: t\r\n\r\n");
    raw(f, req.data, req.len, &out);
    assert_contains(out.data, "HTTP/1.1 414 URI Too Long\r\n");
    assert_contains(out.data, "\"code\":\"uri_too_long\"");

    /* A chunked body that grows over max_body_bytes (1024 here): 413. */
    hd_buf_reset(&req);
    hd_buf_puts(&req, "POST /v1/things HTTP/1.1\r\nHost: t\r\n" M
                      "Transfer-Encoding: chunked\r\n\r\n300\r\n");
    for (int i = 0; i < 0x300; i++)
        hd_buf_puts(&req, " ");
    hd_buf_puts(&req, "\r\n300\r\n");
    raw(f, req.data, req.len, &out);
    assert_contains(out.data, "HTTP/1.1 413 Content Too Large\r\n");
    assert_contains(out.data, "the request body is larger than the limit of 1024 bytes");
    /* A chunked body within it works, trailers and all. */
    hd_buf_reset(&req);
    hd_buf_puts(&req, "POST /v1/things HTTP/1.1\r\nHost: t\r\n" M
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                      "4\r\n{\"a\"\r\n3;x=y\r\n: 1\r\n1\r\n}\r\n0\r\nT: 1\r\n\r\n");
    raw(f, req.data, req.len, &out);
    assert_contains(out.data, "HTTP/1.1 201 Created\r\n");
    assert_contains(out.data, "{\"got\":{\"a\":1}}");
    hd_buf_free(&req);
    hd_buf_free(&out);
    stat_reaches(f, "open", 1); /* every refused connection ended */
    stop(f);
}

static void test_auth_matrix(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    char v[100];
    call(f, "GET", "/v1/echo/1", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(jstr(&r, "code"), "no_token");
    assert_string_equal(hdr(&r, "WWW-Authenticate", v, sizeof(v)), "Bearer realm=\"heed\"");
    done(&r);
    expect_error(f, "GET", "/v1/echo/1", "Authorization: Basic dTpw\r\n", NULL, 401, "no_token");
    expect_error(f, "GET", "/v1/echo/1", "Authorization: Bearer \r\n", NULL, 401, "no_token");
    expect_error(f, "GET", "/v1/echo/1", "X-Consul-Token: r-secreT\r\n", NULL, 403, "bad_token");
    expect_error(f, "GET", "/v1/echo/1", "X-Consul-Token: r-secre\r\n", NULL, 403, "bad_token");
    expect_error(f, "GET", "/v1/echo/1", "X-Consul-Token: r-secret-\r\n", NULL, 403, "bad_token");

    /* role x route: read < write < management */
    static const struct {
        const char *tok, *method, *path, *body;
        int status;
    } m[] = {
        {"r-secret", "GET", "/v1/echo/1", NULL, 200},
        {"r-secret", "PUT", "/v1/echo/1", "{}", 403},
        {"r-secret", "POST", "/v1/things", "{}", 403},
        {"r-secret", "GET", "/v1/manage", NULL, 403},
        {"w-secret", "GET", "/v1/echo/1", NULL, 200},
        {"w-secret", "PUT", "/v1/echo/1", "{}", 200},
        {"w-secret", "POST", "/v1/things", "{}", 201},
        {"w-secret", "GET", "/v1/manage", NULL, 403},
        {"m-secret", "PUT", "/v1/echo/1", "{}", 200},
        {"m-secret", "POST", "/v1/things", "{}", 201},
        {"m-secret", "GET", "/v1/manage", NULL, 200},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        char h[100];
        snprintf(h, sizeof(h), "Authorization: Bearer %s\r\n", m[i].tok);
        call(f, m[i].method, m[i].path, h, m[i].body, &r);
        if (r.status != m[i].status)
            fail_msg("%s %s %s: %d %s", m[i].tok, m[i].method, m[i].path, r.status, r.body);
        if (r.status == 403) {
            assert_string_equal(jstr(&r, "code"), "forbidden");
            assert_contains(jstr(&r, "error"), "role");
        }
        done(&r);
    }

    /* The request carries the token's role and tenant (api/scope.c makes
     * the tenant rule of them). */
    call(f, "GET", "/v1/echo/1", "X-Consul-Token: r-secret\r\n", NULL, &r);
    assert_string_equal(jstr(&r, "role"), "read");
    assert_string_equal(jstr(&r, "tenant"), "team-a");
    done(&r);
    call(f, "GET", "/v1/echo/1", "Authorization: bearer   m-secret  \r\n", NULL, &r);
    assert_string_equal(jstr(&r, "role"), "management");
    assert_true(json_is_null(json_object_get(r.json, "tenant")));
    done(&r);
    call(f, "GET", "/v1/echo/1", "X-Consul-Token: g-secret\r\n", NULL, &r);
    assert_true(json_is_null(json_object_get(r.json, "tenant")));
    done(&r);
    /* A public route needs no token, and does not look at one sent: the
     * handler sees no role and no tenant. */
    static const char *const any[] = {NULL, "X-Consul-Token: nope\r\n",
                                      "Authorization: Bearer r-secret\r\n"};
    for (size_t i = 0; i < 3; i++) {
        call(f, "GET", "/v1/public", any[i], NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jstr(&r, "role"), "none");
        assert_true(json_is_null(json_object_get(r.json, "tenant")));
        done(&r);
    }
    /* X-Consul-Token first, as Consul. */
    call(f, "GET", "/v1/manage", "X-Consul-Token: m-secret\r\nAuthorization: Bearer r-secret\r\n",
         NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    stop(f);
}

static void test_no_tokens_is_management(void **state)
{
    (void)state;
    fix_t *f = start(NULL);
    resp_t r;
    call(f, "GET", "/v1/manage", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(&r, "role"), "management");
    done(&r);
    /* A token is ignored when none is configured. */
    call(f, "POST", "/v1/things", "X-Consul-Token: whatever\r\n", "{}", &r);
    assert_int_equal(r.status, 201);
    done(&r);
    stop(f);
}

static void test_rate_limits(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    char v[100];
    /* /v1/limited: 2 a minute per token. */
    for (int i = 0; i < 2; i++) {
        call(f, "GET", "/v1/limited", "X-Consul-Token: r-secret\r\n", NULL, &r);
        assert_int_equal(r.status, 200);
        done(&r);
    }
    call(f, "GET", "/v1/limited", "X-Consul-Token: r-secret\r\n", NULL, &r);
    assert_int_equal(r.status, 429);
    assert_string_equal(jstr(&r, "code"), "rate_limited");
    long secs = strtol(hdr(&r, "Retry-After", v, sizeof(v)), NULL, 10);
    assert_true(secs >= 29 && secs <= 30);
    done(&r);
    /* Another token has its own bucket; other routes are not limited. */
    call(f, "GET", "/v1/limited", "X-Consul-Token: w-secret\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    call(f, "GET", "/v1/echo/1", "X-Consul-Token: r-secret\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    assert_int_equal(stat_of(f, "rate_limited"), 1);
    stop(f);

    /* Without tokens: per client address, here 2 at once then 1 a second. */
    hd_api_opts_t o = {.rate = 1, .burst = 2};
    f = start(&o);
    call(f, "GET", "/v1/echo/1", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    call(f, "GET", "/v1/echo/2", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    call(f, "GET", "/v1/echo/3", NULL, NULL, &r);
    assert_int_equal(r.status, 429);
    assert_string_equal(hdr(&r, "Retry-After", v, sizeof(v)), "1");
    assert_contains(jstr(&r, "error"), "address");
    done(&r);
    stop(f);
}

static int64_t ms_since(int64_t t0)
{
    return (hd_time_now_us() - t0) / 1000;
}

static void test_async_reply(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    int64_t t0 = hd_time_now_us();
    int fd = dial(f->port);
    send_str(fd, "GET /v1/slow?ms=1000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" M "\r\n");
    /* The loop is free meanwhile. */
    resp_t r;
    call(f, "GET", "/v1/echo/1", M, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(ms_since(t0) < 800);
    done(&r);
    hd_buf_t out = {0};
    assert_int_equal(read_to_eof(fd, &out, 3000), 0);
    close(fd);
    /* libevent arms timers from the time cached at the start of the loop
     * turn, which can be a few ms before the request was read: allow that. */
    assert_true(ms_since(t0) >= 900);
    parse(out.data, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "slow")));
    done(&r);
    hd_buf_free(&out);
    assert_int_equal(stat_of(f, "cancels"), 0);
    stop(f);
}

/* The client leaves before the reply: the handler hears of it, its late
 * reply is dropped, nothing is used after being freed (ASan build). */
static void test_client_gone(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    int fd = dial(f->port);
    send_str(fd, "GET /v1/slow?ms=300 HTTP/1.1\r\nHost: t\r\n" M "\r\n");
    int fd2 = dial(f->port);
    send_str(fd2, "GET /v1/slow?ms=5000&reply_on_cancel HTTP/1.1\r\nHost: t\r\n" M "\r\n");
    usleep(50000);
    close(fd);
    close(fd2);
    stat_reaches(f, "cancels", 2);
    assert_int_equal(stat_of(f, "dropped"), 2);
    stat_reaches(f, "pending", 0);           /* the first handler's late reply ran, into nothing */
    assert_int_equal(stat_of(f, "open"), 1); /* just the stats request */

    /* Requests still out when the server is freed are cancelled too. */
    fd = dial(f->port);
    send_str(fd, "GET /v1/slow?ms=60000 HTTP/1.1\r\nHost: t\r\n" M "\r\n");
    stat_reaches(f, "open", 2);
    stop(f); /* the reply comes after hd_api_free, and is dropped */
    close(fd);
}

/* 1 when the server closed fd (end of file or reset) within ms. */
static int closed_within(int fd, int ms)
{
    hd_buf_t out = {0};
    int rc = read_to_eof(fd, &out, ms);
    hd_buf_free(&out);
    return rc == 0;
}

static void test_connection_limits(void **state)
{
    (void)state;
    /* Per client: the 4th connection from 127.0.0.1 is refused at once. */
    hd_api_opts_t o = {.max_conns_per_client = 3};
    fix_t *f = start(&o);
    int fds[4];
    for (int i = 0; i < 4; i++)
        fds[i] = dial(f->port);
    hd_buf_t out = {0};
    assert_int_equal(read_to_eof(fds[3], &out, 2000), 0); /* closed by the server */
    assert_int_equal(out.len, 0);
    assert_int_equal(read_to_eof(fds[0], &out, 200), -1); /* still open */
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    stat_reaches(f, "open", 1);
    assert_int_equal(stat_of(f, "rejected"), 1);
    stop(f);

    /* In all: at the cap, a new client closes the oldest idle connection
     * instead of being refused, and is served. */
    hd_api_opts_t o2 = {.max_conns = 2};
    f = start(&o2);
    fds[0] = dial(f->port);
    usleep(20000);
    fds[1] = dial(f->port);
    usleep(20000);
    fds[2] = dial(f->port);
    assert_true(closed_within(fds[0], 2000)); /* the oldest idle one */
    send_str(fds[2], "GET /v1/echo/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_int_equal(read_to_eof(fds[2], &out, 2000), 0);
    assert_contains(out.data, "HTTP/1.1 200 OK");
    close(fds[0]);
    close(fds[2]);
    assert_int_equal(stat_of(f, "evicted"), 1);
    hd_buf_reset(&out);
    assert_int_equal(read_to_eof(fds[1], &out, 200), -1); /* the newer idle one stays */
    close(fds[1]);
    stat_reaches(f, "open", 1);
    assert_int_equal(stat_of(f, "rejected"), 0);
    /* With every connection busy in a handler nothing can go: refused. */
    fds[0] = dial(f->port);
    send_str(fds[0], "GET /v1/slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
    fds[1] = dial(f->port);
    send_str(fds[1], "GET /v1/slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(200000);
    fds[2] = dial(f->port);
    assert_true(closed_within(fds[2], 1000));
    close(fds[2]);
    for (int i = 0; i < 2; i++) {
        hd_buf_reset(&out);
        assert_int_equal(read_to_eof(fds[i], &out, 2000), -1); /* kept alive after its reply */
        assert_contains(out.data, "\"slow\":true");
        close(fds[i]);
    }
    usleep(100000);
    assert_int_equal(stat_of(f, "rejected"), 1);
    hd_buf_free(&out);
    stop(f);
}

/* The client key: an IPv4 address, or an IPv6 /64; IPv4-mapped is IPv4. */
static void test_client_key(void **state)
{
    (void)state;
    char key[HD_API_IP_MAX], ip[HD_API_IP_MAX];
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.9", &s4.sin_addr);
    hd_api_client_key((struct sockaddr *)&s4, key, ip);
    assert_string_equal(key, "127.0.0.9");
    assert_string_equal(ip, "127.0.0.9");
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &s6.sin6_addr);
    hd_api_client_key((struct sockaddr *)&s6, key, ip);
    assert_string_equal(key, "2001:db8:1:2::/64");
    assert_string_equal(ip, "2001:db8:1:2:aaaa:bbbb:cccc:dddd");
    inet_pton(AF_INET6, "2001:db8:1:2::1", &s6.sin6_addr);
    char key2[HD_API_IP_MAX];
    hd_api_client_key((struct sockaddr *)&s6, key2, ip);
    assert_string_equal(key2, key); /* same /64, same client */
    inet_pton(AF_INET6, "2001:db8:1:3::1", &s6.sin6_addr);
    hd_api_client_key((struct sockaddr *)&s6, key2, ip);
    assert_string_equal(key2, "2001:db8:1:3::/64");
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
    hd_api_client_key((struct sockaddr *)&s6, key, ip);
    assert_string_equal(key, "10.1.2.3");
    assert_string_equal(ip, "10.1.2.3");
}

/* A client that trickles its head byte by byte still meets the header
 * deadline (and is told so in JSON); an idle keep-alive connection ends
 * after the idle deadline; a body has its own. */
static void test_slow_client(void **state)
{
    (void)state;
    hd_api_opts_t o = {.header_timeout_ms = 500, .idle_timeout_ms = 300, .body_timeout_ms = 400};
    fix_t *f = start(&o);
    int64_t t0 = hd_time_now_us();
    int fd = dial(f->port);
    send_str(fd, "GET /v1/echo/1 HTTP/1.1\r\n");
    hd_buf_t out = {0};
    int closed = 0;
    for (int i = 0; i < 30 && !closed; i++) {
        usleep(100000);
        if (send(fd, "X", 1, MSG_NOSIGNAL) < 0) closed = 1;
        char b[512];
        ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (n > 0) hd_buf_append(&out, b, (size_t)n);
        if (n == 0 || (n < 0 && errno != EAGAIN)) closed = 1;
    }
    int64_t took = ms_since(t0);
    assert_true(closed);
    assert_true(took >= 450 && took < 3000);
    assert_contains(out.data, "HTTP/1.1 408 Request Timeout");
    assert_contains(out.data, "the request head did not arrive within 500 ms");
    close(fd);
    assert_int_equal(stat_of(f, "timed_out"), 1);
    /* An idle keep-alive connection ends after idle_timeout_ms. */
    fd = dial(f->port);
    send_str(fd, "GET /v1/echo/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    hd_buf_reset(&out);
    t0 = hd_time_now_us();
    assert_int_equal(read_to_eof(fd, &out, 3000), 0);
    assert_true(ms_since(t0) >= 250 && ms_since(t0) < 450);
    assert_contains(out.data, "HTTP/1.1 200");
    close(fd);
    /* A body that stops coming: 408 after body_timeout_ms. */
    fd = dial(f->port);
    send_str(fd, "POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{");
    hd_buf_reset(&out);
    t0 = hd_time_now_us();
    assert_int_equal(read_to_eof(fd, &out, 3000), 0);
    assert_true(ms_since(t0) >= 350);
    assert_contains(out.data, "the request body did not arrive within 400 ms");
    close(fd);
    hd_buf_free(&out);
    stop(f);
}

static void test_pipelined(void **state)
{
    (void)state;
    fix_t *f = start(NULL);
    int fd = dial(f->port);
    send_str(fd, "GET /v1/echo/one HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"
                 "POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999\r\n\r\n");
    hd_buf_t out = {0};
    assert_int_equal(read_to_eof(fd, &out, 3000), 0);
    close(fd);
    const char *p = out.data;
    assert_contains(p, "\"id\":\"one\"");
    p = strstr(p, "HTTP/1.1 201");
    assert_non_null(p);
    p = strstr(p, "HTTP/1.1 413");
    assert_non_null(p);
    assert_contains(p, "\"code\":\"too_large\"");
    hd_buf_free(&out);
    stop(f);
}

static void test_httpc_client(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    char base[64], err[300];
    snprintf(base, sizeof(base), "127.0.0.1:%d", f->port);
    char *addr = hd_httpc_addr_normalize(base, err, sizeof(err));
    char *url = hd_httpc_url(addr, "/v1/things");
    hd_httpc_req_t req = {
        .method = "POST", .url = url, .token = "w-secret", .body = "{\"a\": 1}", .body_len = 8};
    hd_httpc_resp_t resp;
    if (hd_httpc_do(&req, &resp, err, sizeof(err)) < 0) fail_msg("%s", err);
    assert_int_equal(resp.status, 201);
    assert_string_equal(resp.body, "{\"got\":{\"a\":1}}\n");
    hd_httpc_resp_free(&resp);
    req.token = NULL;
    assert_int_equal(hd_httpc_do(&req, &resp, err, sizeof(err)), 0);
    assert_int_equal(resp.status, 401);
    hd_httpc_resp_free(&resp);
    free(url);
    free(addr);
    stop(f);
}

static void test_metrics_text(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    call(f, "GET", "/v1/nope", M, NULL, &r);
    done(&r);
    call(f, "GET", "/metrics", M, NULL, &r);
    assert_int_equal(r.status, 200);
    char v[100];
    assert_string_equal(hdr(&r, "Content-Type", v, sizeof(v)), HD_METRICS_CONTENT_TYPE);
    assert_contains(r.body, "heed_api_requests_total{class=\"4xx\"} 1\n");
    assert_contains(r.body, "# TYPE heed_api_request_duration_seconds summary\n");
    char path[] = "/tmp/heed-api-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, r.body, strlen(r.body)), (ssize_t)strlen(r.body));
    close(fd);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    int st = system(cmd);
    unlink(path);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    stop(f);
}

static void test_listen_errors(void **state)
{
    (void)state;
    fix_t *f = start(NULL);
    char err[300] = "";
    assert_int_equal(hd_api_listen(f->api, "127.0.0.1", f->port, err, sizeof(err)), -1);
    char want[100];
    snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d: Address already in use", f->port);
    assert_string_equal(err, want);
    assert_int_equal(hd_api_listen(f->api, "no such host.invalid", 1, err, sizeof(err)), -1);
    assert_contains(err, "cannot listen on no such host.invalid:1");
    stop(f);

    /* IPv6 loopback, where the machine has it. */
    struct event_base *base = event_base_new();
    hd_api_t *api = hd_api_new(base, NULL);
    if (hd_api_listen(api, "::1", 0, err, sizeof(err)) == 0)
        assert_true(hd_api_port(api) > 0);
    else
        assert_contains(err, "cannot listen on [::1]:0");
    hd_api_free(api);
    event_base_free(base);
}

/* Reads one reply from fd (keep-alive): head, then (unless head_only, as
 * for HEAD) Content-Length bytes or a chunked body, decoded; 0, or -1 when
 * it did not come. */
static int read_reply_head(int fd, hd_buf_t *head, hd_buf_t *body, int head_only)
{
    hd_buf_reset(head);
    hd_buf_reset(body);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char c;
    while (!head->data || !strstr(head->data, "\r\n\r\n")) {
        if (recv(fd, &c, 1, 0) != 1) return -1;
        hd_buf_append(head, &c, 1);
    }
    const char *cl = strcasestr(head->data, "\r\nContent-Length: ");
    if (head_only || strncmp(head->data, "HTTP/1.1 100 ", 13) == 0 ||
        strncmp(head->data, "HTTP/1.1 204", 12) == 0)
        return 0;
    if (cl) {
        long n = strtol(cl + 18, NULL, 10);
        for (long i = 0; i < n; i++) {
            if (recv(fd, &c, 1, 0) != 1) return -1;
            hd_buf_append(body, &c, 1);
        }
        return 0;
    }
    if (!strcasestr(head->data, "\r\nTransfer-Encoding: chunked\r\n")) return -1;
    for (;;) {
        char line[64];
        size_t n = 0;
        while (n < sizeof(line) - 1 && recv(fd, &line[n], 1, 0) == 1 && line[n] != '\n')
            n++;
        line[n] = '\0';
        long size = strtol(line, NULL, 16);
        for (long i = 0; i < size + 2; i++) { /* the data and its CRLF */
            if (recv(fd, &c, 1, 0) != 1) return -1;
            if (i < size) hd_buf_append(body, &c, 1);
        }
        if (size == 0) return 0;
    }
}

static int read_reply(int fd, hd_buf_t *head, hd_buf_t *body)
{
    return read_reply_head(fd, head, body, 0);
}

static void test_keep_alive_head_expect(void **state)
{
    (void)state;
    fix_t *f = start(NULL);
    hd_buf_t head = {0}, body = {0};
    char v[100];
    /* HTTP/1.0 without keep-alive: closed after the reply. */
    int fd = dial(f->port);
    send_str(fd, "GET /v1/echo/a HTTP/1.0\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_contains(head.data, "Connection: close\r\n");
    assert_true(closed_within(fd, 2000));
    close(fd);
    /* HTTP/1.0 with keep-alive, then 1.1 (and leading empty lines) on the
     * same connection. */
    fd = dial(f->port);
    send_str(fd, "GET /v1/echo/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_contains(head.data, "Connection: keep-alive\r\n");
    assert_contains(body.data, "\"id\":\"a\"");
    send_str(fd, "\r\n\r\nGET /v1/echo/b HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_null(strcasestr(head.data, "Connection:"));
    assert_contains(body.data, "\"id\":\"b\"");
    /* HEAD: GET's head and length, no body: the next reply follows at once. */
    send_str(fd, "HEAD /v1/echo/b HTTP/1.1\r\nHost: t\r\n\r\n");
    hd_buf_t ghead = {0};
    assert_int_equal(read_reply_head(fd, &ghead, &body, 1), 0);
    resp_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.head, sizeof(r.head), "%s", ghead.data);
    assert_contains(ghead.data, "HTTP/1.1 200 OK\r\n");
    assert_string_equal(hdr(&r, "Content-Type", v, sizeof(v)), "application/json");
    long len = strtol(hdr(&r, "Content-Length", v, sizeof(v)), NULL, 10);
    assert_true(len > 20);
    hd_buf_free(&ghead);
    close(fd);
    fd = dial(f->port); /* and no body: the next reply follows the head at once */
    send_str(fd, "HEAD /v1/echo/b HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/echo/c HTTP/1.1\r\n"
                 "Host: t\r\nConnection: close\r\n\r\n");
    hd_buf_t all = {0};
    assert_int_equal(read_to_eof(fd, &all, 3000), 0);
    close(fd);
    const char *second = strstr(all.data + 4, "HTTP/1.1 200 OK\r\n");
    assert_non_null(second);
    assert_null(strstr(all.data, "\"id\":\"b\"")); /* HEAD sent no body */
    assert_contains(second, "\"id\":\"c\"");
    /* Expect: 100-continue: the interim reply first, then the body is read. */
    fd = dial(f->port);
    send_str(fd, "POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n"
                 "Expect: 100-continue\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_string_equal(head.data, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(fd, "{\"a\": 1}");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_contains(head.data, "HTTP/1.1 201 Created\r\n");
    assert_string_equal(body.data, "{\"got\":{\"a\":1}}\n");
    /* Too large: 413 at once, no 100. */
    send_str(fd, "POST /v1/things HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n"
                 "Expect: 100-continue\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_contains(head.data, "HTTP/1.1 413 ");
    assert_true(closed_within(fd, 2000));
    close(fd);
    hd_buf_free(&all);
    hd_buf_free(&head);
    hd_buf_free(&body);
    stop(f);
}

/* The expected text of GET /v1/stream?n=N&size=S. */
static void stream_text(long n, long size, hd_buf_t *out)
{
    hd_buf_reset(out);
    for (long i = 0; i < n; i++) {
        hd_buf_printf(out, "%08ld", i);
        for (long k = 9; k < size; k++)
            hd_buf_puts(out, "x");
        hd_buf_puts(out, "\n");
    }
}

static void test_stream(void **state)
{
    (void)state;
    fix_t *f = start(NULL);
    hd_buf_t head = {0}, body = {0}, want = {0};
    int fd = dial(f->port);
    /* Small: all of it fits the first window, so it has a length. */
    send_str(fd, "GET /v1/stream?n=3&size=20 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_contains(head.data, "Content-Length: 60\r\n");
    stream_text(3, 20, &want);
    assert_string_equal(body.data, want.data);
    /* Large: chunked, whole and in order, and the connection goes on. */
    send_str(fd, "GET /v1/stream?n=5000&size=100 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_contains(head.data, "Transfer-Encoding: chunked\r\n");
    assert_null(strcasestr(head.data, "Content-Length"));
    stream_text(5000, 100, &want);
    assert_int_equal(body.len, want.len);
    assert_true(memcmp(body.data, want.data, want.len) == 0);
    send_str(fd, "GET /v1/echo/after HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    assert_contains(body.data, "\"id\":\"after\"");
    close(fd);
    /* HTTP/1.0: no chunks; the body ends with the connection. */
    fd = dial(f->port);
    send_str(fd, "GET /v1/stream?n=2000&size=50 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    hd_buf_t all = {0};
    assert_int_equal(read_to_eof(fd, &all, 5000), 0);
    close(fd);
    assert_contains(all.data, "Connection: close\r\n");
    stream_text(2000, 50, &want);
    assert_string_equal(strstr(all.data, "\r\n\r\n") + 4, want.data);
    /* ?pretty on a JSON stream: collected and indented. */
    resp_t r;
    call(f, "GET", "/v1/stream?n=3000&json&pretty", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    fd = dial(f->port);
    send_str(fd, "GET /v1/stream?n=3000&json&pretty HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(fd, &head, &body), 0);
    json_t *j = json_loads(body.data, 0, NULL);
    assert_int_equal(json_array_size(j), 3000);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 2999), "i")), 2999);
    json_decref(j);
    assert_contains(body.data, "[\n  {\n    \"i\": 0\n  },");
    /* HEAD: nothing produced. */
    send_str(fd, "HEAD /v1/stream?n=5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply_head(fd, &head, &body, 1), 0);
    assert_contains(head.data, "HTTP/1.1 200 OK\r\n");
    assert_contains(head.data, "Connection: close\r\n");
    assert_true(closed_within(fd, 2000));
    close(fd);
    /* A client that leaves mid-stream: the producer hears of it. */
    fd = dial(f->port);
    send_str(fd, "GET /v1/stream?n=1000000&size=100 HTTP/1.1\r\nHost: t\r\n\r\n");
    char b[1000];
    assert_true(recv(fd, b, sizeof(b), 0) > 0);
    close(fd);
    stat_reaches(f, "streams_abandoned", 2); /* HEAD's, and this one */
    assert_true(stat_of(f, "streams_done") >= 4);
    hd_buf_free(&all);
    hd_buf_free(&want);
    hd_buf_free(&head);
    hd_buf_free(&body);
    stop(f);
}

/* Clients that ask for large replies and never read: each holds at most
 * max_unsent_bytes of streamed output, all together at most
 * max_unsent_total (past it the longest-waiting go), and send_timeout
 * closes the rest; a client that reads is served throughout. */
static void test_unsent_bounds(void **state)
{
    (void)state;
    hd_api_opts_t o = {
        .max_unsent_bytes = 16 << 10, .max_unsent_total = 256 << 10, .send_timeout_ms = 1500};
    fix_t *f = start(&o);
    enum { N = 40 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        int small = 2048; /* a tiny window: the kernel cannot take the output for us */
        setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
        send_str(fds[i], "GET /v1/stream?n=100000&size=200 HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    json_int_t most = 0;
    for (int i = 0; i < 10; i++) {
        json_int_t u = stat_of(f, "unsent");
        if (u > most) most = u;
        usleep(50000);
    }
    /* The total, plus at most one stream's part over it while it is judged. */
    if (most > (256 << 10) + (64 << 10)) fail_msg("unsent output reached %lld", (long long)most);
    assert_true(stat_of(f, "unsent_closed") > 0);
    resp_t r;
    call(f, "GET", "/v1/echo/ok", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    stat_reaches(f, "open", 1); /* send_timeout took the others */
    assert_true(stat_of(f, "send_timeouts") > 0);
    assert_int_equal(stat_of(f, "unsent"), 0);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    stop(f);
}

/* hd_api_reconfigure: a removed token stops working, an added one works, a
 * lowered body limit applies; a request already checked answers under the
 * old tokens; buckets keep their state unless the rate changes. */
static void test_reconfigure(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    int fd = dial(f->port);
    send_str(fd, "GET /v1/slow?ms=600 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                 "X-Consul-Token: r-secret\r\n\r\n");
    usleep(100000);
    resp_t r;
    call(f, "POST", "/test/reconfigure", M,
         "{\"tokens\": [\"m-secret\", \"c-secret\"], \"max_body\": 100, \"rate\": 1, \"burst\": 1}",
         &r);
    assert_int_equal(r.status, 200);
    done(&r);
    hd_buf_t out = {0};
    assert_int_equal(read_to_eof(fd, &out, 3000), 0);
    close(fd);
    parse(out.data, &r);
    assert_int_equal(r.status, 200); /* checked before the reload */
    assert_string_equal(jstr(&r, "tenant"), "team-a");
    done(&r);
    expect_error(f, "GET", "/v1/echo/1", "X-Consul-Token: r-secret\r\n", NULL, 403, "bad_token");
    call(f, "PUT", "/v1/echo/1", "X-Consul-Token: c-secret\r\n", "{}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(&r, "tenant"), "team-c");
    done(&r);
    /* c-secret's bucket (1 a second, burst 1) is empty now. */
    expect_error(f, "GET", "/v1/echo/1", "X-Consul-Token: c-secret\r\n", NULL, 429, "rate_limited");
    char body[200];
    memset(body, ' ', sizeof(body) - 1);
    body[0] = '{';
    body[sizeof(body) - 2] = '}';
    body[sizeof(body) - 1] = '\0';
    expect_error(f, "POST", "/v1/things", M, body, 413, "too_large");
    /* A reload with the same tokens keeps the empty bucket; no limit frees it. */
    call(f, "POST", "/test/reconfigure", M,
         "{\"tokens\": [\"m-secret\", \"c-secret\"], \"rate\": 1, \"burst\": 1}", &r);
    assert_int_equal(r.status, 200);
    done(&r);
    expect_error(f, "GET", "/v1/echo/1", "X-Consul-Token: c-secret\r\n", NULL, 429, "rate_limited");
    usleep(1100000); /* the management token is under the same limit */
    call(f, "POST", "/test/reconfigure", M, "{\"tokens\": [\"m-secret\", \"c-secret\"]}", &r);
    assert_int_equal(r.status, 200);
    done(&r);
    for (int i = 0; i < 3; i++) { /* more than a burst of 1 allows */
        call(f, "GET", "/v1/echo/1", "X-Consul-Token: c-secret\r\n", NULL, &r);
        assert_int_equal(r.status, 200);
        done(&r);
    }
    hd_buf_free(&out);
    stop(f);
}

/* Fills the holes in the descriptor table with /dev/null up to its highest
 * descriptor; returns how many it opened into fds, and the next free
 * descriptor number in *next. */
static int fill_fds(int *fds, int max, int *next)
{
    int top = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strtol(e->d_name, NULL, 10) > top)
            top = (int)strtol(e->d_name, NULL, 10);
    closedir(d);
    int n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        assert_true(fd >= 0 && n < max);
        fds[n++] = fd;
        if (fd >= top) break;
    }
    *next = fds[n - 1] + 1;
    return n;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Out of descriptors with every connection busy in a handler (nothing to
 * evict): accepting pauses, the loop does not spin, and the clients that
 * waited are served once descriptors are back. */
/* Blocking queries: a request held on a topic is answered when that topic
 * changes (not another), when its wait ends, and forgotten when its client
 * leaves; bad parameters are refused with Consul's messages. */
static void test_blocking_hold(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    call(f, "PUT", "/v1/watch/0", M, NULL, &r); /* topic 0 at 1 */
    assert_int_equal(r.status, 200);
    done(&r);
    call(f, "PUT", "/v1/watch/1", M, NULL, &r); /* topic 1 at 2 */
    done(&r);
    call(f, "GET", "/v1/watch/1", M, NULL, &r); /* no index: at once */
    char v[64];
    assert_string_equal(hdr(&r, "X-Consul-Index", v, sizeof(v)), "2");
    done(&r);

    int a = dial(f->port), b = dial(f->port);
    send_str(a, "GET /v1/watch/0?index=1&wait=30s HTTP/1.1\r\nHost: t\r\n" M "\r\n");
    send_str(b, "GET /v1/watch/1?index=2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" M "\r\n");
    stat_reaches(f, "held", 2);
    /* A change of topic 1 answers b, not a. */
    call(f, "PUT", "/v1/watch/1", M, NULL, &r); /* topic 1 at 3 */
    done(&r);
    hd_buf_t out = {0};
    assert_int_equal(read_to_eof(b, &out, 5000), 0);
    parse(out.data, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(&r, "index"), 3);
    assert_string_equal(hdr(&r, "X-Consul-Index", v, sizeof(v)), "3");
    done(&r);
    hd_buf_free(&out);
    close(b);
    assert_int_equal(stat_of(f, "held"), 1);

    /* The wait ends: the answer comes with the index unchanged. */
    int64_t t0 = hd_time_now_us();
    call(f, "GET", "/v1/watch/0?index=1&wait=300ms", M, NULL, &r);
    assert_true(ms_since(t0) >= 290);
    assert_int_equal(r.status, 200);
    assert_int_equal(jint(&r, "index"), 1);
    done(&r);

    /* The client leaves: its hold ends, the retry sees it gone. */
    close(a);
    stat_reaches(f, "held", 0);
    assert_int_equal(stat_of(f, "retries_gone"), 1);

    call(f, "GET", "/v1/watch/0?index=1&wait=ten", M, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Invalid wait time");
    done(&r);
    call(f, "GET", "/v1/watch/0?index=x", M, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Invalid index");
    done(&r);

    /* Held when the server goes: answered into nothing, nothing leaks. */
    a = dial(f->port);
    send_str(a, "GET /v1/watch/0?index=1&wait=1m HTTP/1.1\r\nHost: t\r\n" M "\r\n");
    stat_reaches(f, "held", 1);
    stop(f);
    close(a);
}

/* A Consul route: the server's own refusals in Consul's words, as plain
 * text; ?token= is a token as Consul takes it. */
static void test_consul_route_errors(void **state)
{
    (void)state;
    fix_t *f = start_tokens();
    resp_t r;
    char v[100];
    call(f, "PUT", "/v1/consulish/1", NULL, "{}", &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.body, "Permission denied");
    assert_null(hdr(&r, "WWW-Authenticate", v, sizeof(v)));
    assert_string_equal(hdr(&r, "Content-Type", v, sizeof(v)), "text/plain; charset=utf-8");
    done(&r);
    call(f, "PUT", "/v1/consulish/1", "X-Consul-Token: nope\r\n", "{}", &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.body, "ACL not found");
    done(&r);
    call(f, "PUT", "/v1/consulish/1", "X-Consul-Token: r-secret\r\n", "{}", &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.body, "Permission denied");
    done(&r);
    call(f, "PUT", "/v1/consulish/1", "X-Consul-Token: w-secret\r\n", "{\"a\":", &r);
    assert_int_equal(r.status, 400);
    assert_true(!strncmp(r.body, "Request decode failed: invalid JSON at line 1", 45));
    done(&r);
    call(f, "PUT", "/v1/consulish/1?token=w-secret", NULL, "{}", &r);
    assert_int_equal(r.status, 200);
    done(&r);
    /* heed's own routes keep JSON, and take ?token= too. */
    call(f, "GET", "/v1/echo/1?token=r-secret", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    done(&r);
    stop(f);
}

/* A raw route takes its body as bytes, JSON or not, and a "*key"
 * parameter the rest of the path. */
static void test_raw_route(void **state)
{
    (void)state;
    fix_t *f = start(NULL);
    resp_t r;
    call(f, "PUT", "/v1/raw/a%2Fb/c/", NULL, "not JSON {", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "key=a/b/c/;len=10;not JSON {");
    done(&r);
    call(f, "PUT", "/v1/raw/", NULL, "[1, 2]", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "key=;len=6;[1, 2]");
    done(&r);
    call(f, "PUT", "/v1/raw/k", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "key=k;len=0;");
    done(&r);
    /* Other PUT routes still refuse what is not a JSON object. */
    call(f, "PUT", "/v1/echo/1", NULL, "[1, 2]", &r);
    assert_int_equal(r.status, 400);
    done(&r);
    stop(f);
}

static void test_accept_pause(void **state)
{
    (void)state;
    fix_t *f = start(NULL);
    int busy[3];
    for (int i = 0; i < 3; i++) {
        busy[i] = dial(f->port);
        send_str(busy[i], "GET /v1/slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    usleep(200000);
    /* The clients' sockets first, then no descriptor left: the server's
     * accept() is what fails (client and server share this process). */
    int waiting[2] = {socket(AF_INET, SOCK_STREAM, 0), socket(AF_INET, SOCK_STREAM, 0)};
    int fill[256], next;
    int nfill = fill_fds(fill, 256, &next);
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    struct rlimit low = {(rlim_t)next, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(connect(waiting[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
    send_str(waiting[0], "GET /v1/echo/w HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    double c0 = cpu_seconds();
    usleep(500000);
    double used = cpu_seconds() - c0;
    uint64_t paused = __atomic_load_n(&f->api->st.accept_paused, __ATOMIC_RELAXED);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (paused < 1) fail_msg("accepting never paused");
    if (paused > 10) fail_msg("accepting paused %llu times in 0.5 s", (unsigned long long)paused);
    if (used > 0.25) fail_msg("%.2f s of CPU in 0.5 s while out of descriptors", used);
    hd_buf_t out = {0};
    assert_int_equal(read_to_eof(waiting[0], &out, 3000), 0);
    assert_contains(out.data, "\"id\":\"w\"");
    for (int i = 0; i < 3; i++)
        close(busy[i]);
    close(waiting[0]);
    close(waiting[1]);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    hd_buf_free(&out);
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_auth_matrix),
        cmocka_unit_test(test_no_tokens_is_management),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_async_reply),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_connection_limits),
        cmocka_unit_test(test_client_key),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_httpc_client),
        cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_written_and_empty_replies),
        cmocka_unit_test(test_keep_alive_head_expect),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_unsent_bounds),
        cmocka_unit_test(test_reconfigure),
        cmocka_unit_test(test_accept_pause),
        cmocka_unit_test(test_blocking_hold),
        cmocka_unit_test(test_consul_route_errors),
        cmocka_unit_test(test_raw_route),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
