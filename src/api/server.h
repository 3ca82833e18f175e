/* server — the agent's HTTP API server on the libevent loop: its own
 * HTTP/1.1 layer (api/head.h, api/chunked.h, api/conn.c), HTTPS
 * (api/tls.c), routing, authentication, rate limits, bounds, JSON replies,
 * asynchronous and streamed replies, and statistics. Resource handlers
 * (checks, ping, metrics, ...) live in their own files and plug in with
 * hd_api_route().
 *
 * A request goes through, in this order:
 *   400 bad_request, 414 uri_too_long, 431 headers_too_large,
 *   505 version_not_supported, 501 not_implemented, 417 expectation_failed:
 *                    a head that is not HTTP/1.x as head.h reads it (the
 *                    connection then ends)
 *   501 not_implemented  a method no route has (FOO, TRACE, CONNECT)
 *   413 too_large    a body over max_body_bytes, by Content-Length before it
 *                    is read, or as a chunked body grows (the connection ends)
 *   408 request_timeout  the head or body did not arrive in time
 *   400 bad_path     a target that is not a path, or a bad percent-escape
 *   404 not_found    no route has this path
 *   405 method_not_allowed  a route has the path, not the method (Allow: lists them)
 *   401 no_token     tokens are configured and the request carries none
 *   403 bad_token    the token is not one of them (as Consul's "ACL not found")
 *   403 forbidden    the token's role is below the route's
 *   429 rate_limited the caller's bucket or the route's is empty (Retry-After: s)
 *   400 bad_json     POST/PUT/PATCH with a body that is not a JSON object
 * and then the handler. Every error body is {"error": "...", "code": "..."}.
 * HEAD is answered wherever GET is, without the body.
 *
 * Connections (api/conn.c): keep-alive as HTTP/1.1 and 1.0 define it,
 * pipelining (one request at a time, in order), Expect: 100-continue.
 * Deadlines by phase: the head within header_timeout_ms (from the
 * connection's start, or from the first byte of a later request), the
 * body within body_timeout_ms, an idle keep-alive connection at most
 * idle_timeout_ms, and a reply must make progress within send_timeout_ms.
 * A request in a handler's hands has no deadline (long polls are the
 * handler's business). At max_conns open connections a new one closes the
 * oldest idle connection (then the oldest still sending its head) instead
 * of being refused; past max_conns_per_client from one client (an IPv4
 * address or an IPv6 /64) it is refused. Running out of descriptors
 * pauses accepting for a moment (one line a second on stderr at most).
 *
 * Output: a reply built whole is queued whole; a streamed reply
 * (hd_api_reply_stream) is produced only while the connection holds less
 * than max_unsent_bytes unsent. When all connections together hold more
 * than max_unsent_total, the ones whose output waited longest are closed.
 *
 * Authentication: with no token configured every request is management
 * with no tenant, so the agent must then listen on loopback only
 * (hd_api_check). With tokens, a request carries one in "X-Consul-Token:
 * S", "Authorization: Bearer S" or "?token=S" (Consul's order). Secrets are compared in
 * constant time. Which tenant a request works in is api/scope.h's (the
 * handlers').
 *
 * Rate limits are token buckets per caller: per token when tokens are
 * configured, else per client. A route may have its own limit, a separate
 * bucket per caller (e.g. GET /v1/ping, 12 a minute as nova's os-fping).
 *
 * Lifetime of a request: a handler gets an hd_api_req_t and must finish it
 * exactly once with hd_api_reply_json (or _json_buf), hd_api_reply_text,
 * hd_api_reply_stream or hd_api_error, now or later from another callback
 * on the same loop. Until then the request stays valid even if the client
 * goes away: its cancel callback (hd_api_on_cancel) runs, and the eventual
 * reply is dropped. This holds across hd_api_free and hd_api_reconfigure
 * as well: a request answers under the tokens it was checked against. */
#ifndef HD_API_SERVER_H
#define HD_API_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/hist.h"
#include "util/topic.h"

struct event_base;
struct hd_metrics_s;

typedef enum hd_api_role_e {
    HD_ROLE_NONE = 0, /* no valid token (only in error paths) */
    HD_ROLE_READ = 1,
    HD_ROLE_WRITE = 2,
    HD_ROLE_MANAGEMENT = 3, /* everything, all tenants */
} hd_api_role_t;

typedef struct hd_api_token_s {
    const char *secret;
    hd_api_role_t role;
    const char *tenant; /* NULL: not limited to a tenant */
    double rate;        /* requests per second for this token; 0: the opts' rate */
    double burst;       /* 0: the opts' burst */
} hd_api_token_t;

/* HTTPS, as Consul serves it. cert_file NULL: plain HTTP. */
typedef struct hd_api_tls_opts_s {
    const char *cert_file; /* PEM certificate, intermediates after it */
    const char *key_file;  /* PEM private key */
    const char *ca_file;   /* PEM CAs that sign client certificates, or NULL */
    int verify_incoming;   /* clients need a certificate signed by ca_file */
    int min_version;       /* 12 or 13: TLS 1.2 or 1.3 as the floor [12] */
} hd_api_tls_opts_t;

/* Bounds and settings. A field left 0 takes the default in brackets. */
typedef struct hd_api_opts_s {
    const hd_api_token_t *tokens; /* copied by hd_api_new; none: no authentication */
    size_t ntokens;
    size_t max_body_bytes;    /* request body [1 MiB] */
    size_t max_header_bytes;  /* request line and headers [16 KiB] */
    int max_conns;            /* open connections in all [1024] */
    int max_conns_per_client; /* from one IPv4 address or IPv6 /64 [200] */
    int header_timeout_ms;    /* a request head arrives within [10 s] */
    int body_timeout_ms;      /* a request body arrives within [30 s] */
    int idle_timeout_ms;      /* a keep-alive connection idles at most [15 s] */
    int send_timeout_ms;      /* a reply makes progress within [30 s] */
    size_t max_unsent_bytes;  /* streamed output held for one connection [64 KiB] */
    size_t max_unsent_total;  /* output held for all connections [32 MiB] */
    double rate;              /* requests per second per caller; <0 none [none] */
    double burst;             /* bucket size [max(1, rate)] */
    hd_api_tls_opts_t tls;    /* paths copied by hd_api_new, loaded by hd_api_listen */
    int allow_plaintext;      /* hd_api_check: plain HTTP beyond loopback is allowed */
} hd_api_opts_t;

#define HD_API_DEFAULT_MAX_BODY         (1u << 20)
#define HD_API_DEFAULT_MAX_HEADER       (16u << 10)
#define HD_API_DEFAULT_MAX_CONNS        1024
#define HD_API_DEFAULT_CONNS_PER_CLIENT 200
#define HD_API_DEFAULT_HEADER_MS        10000
#define HD_API_DEFAULT_BODY_MS          30000
#define HD_API_DEFAULT_IDLE_MS          15000
#define HD_API_DEFAULT_SEND_MS          30000
#define HD_API_DEFAULT_UNSENT           (64u << 10)
#define HD_API_DEFAULT_UNSENT_TOTAL     (32u << 20)
#define HD_API_STREAM_CHUNK             (16u << 10) /* what a stream producer adds per call */

/* Counters for GET /metrics; see hd_api_write_metrics. */
typedef struct hd_api_stats_s {
    uint64_t replies[6];      /* [1..5]: replies sent by status class 1xx..5xx */
    uint64_t dropped;         /* replies dropped: the client was gone */
    uint64_t conns_accepted;  /* connections taken */
    uint64_t conns_rejected;  /* connections closed at once: over a connection limit */
    uint64_t conns_evicted;   /* idle connections closed to make room for new ones */
    uint64_t conns_timed_out; /* closed: a head, body or idle deadline passed */
    uint64_t send_timeouts;   /* closed: a reply made no progress within send_timeout */
    uint64_t unsent_closed;   /* closed: all connections' unsent output passed the total */
    uint64_t accept_paused;   /* accepting paused: no descriptor left (EMFILE, ENFILE) */
    uint64_t tls_failures;    /* TLS handshakes that failed */
    int64_t conns_open;
    int64_t held;          /* requests held by blocking queries now */
    uint64_t rate_limited; /* 429 replies */
    hd_hist_t latency;     /* request fully read → reply queued */
} hd_api_stats_t;

typedef struct hd_api_s hd_api_t;
typedef struct hd_api_req_s hd_api_req_t;

/* What a handler may read from its request; all strings valid until the
 * reply. */
struct hd_api_req_s {
    const char *method;    /* "GET", "POST", ... */
    const char *path;      /* raw path without the query */
    hd_api_role_t role;    /* the caller's */
    const char *tenant;    /* the caller's tenant, NULL for none */
    const char *client_ip; /* the peer address, e.g. "127.0.0.1", "::1" */
    json_t *body;          /* the JSON object of a POST/PUT/PATCH with a body, else NULL;
                              borrowed: json_incref it to keep it */
    const char *data;      /* a raw route's body (hd_api_route_raw), NULL for none; valid
                              only during the handler's call: copy what you keep */
    size_t data_len;
};

typedef void (*hd_api_handler_fn)(hd_api_req_t *r, void *arg);
typedef void (*hd_api_cancel_fn)(hd_api_req_t *r, void *arg);
/* A streamed reply's producer: appends the next part of the body to out
 * (which may hold earlier parts: add about HD_API_STREAM_CHUNK bytes, at
 * least one) and returns 1 while more follows, 0 after the last part. out
 * NULL: the reply is abandoned (the client left, the server is freed, or
 * the request was HEAD): free what it holds and return 0. The request
 * (hd_api_query, ...) stays valid until then. */
typedef int (*hd_api_stream_fn)(hd_api_req_t *r, hd_buf_t *out, void *arg);

/* A server on base; nothing listens yet. opts may be NULL (all defaults). */
hd_api_t *hd_api_new(struct event_base *base, const hd_api_opts_t *opts);

/* Listens on host (an IPv4 or IPv6 literal, or a name) and port (0: any
 * free port, see hd_api_port), over HTTPS when opts had a certificate
 * (loaded at the first call). May be called more than once. Returns 0, or
 * -1 with a message naming the address or the TLS file in err. */
int hd_api_listen(hd_api_t *api, const char *host, int port, char *err, size_t errlen);

/* Takes new tokens, bounds, deadlines and rate limits (a SIGHUP reload),
 * and, when the server speaks HTTPS, a new certificate, key and CA from
 * opts->tls. Requests already checked keep their role and tenant; new
 * connections get the new certificate. Turning HTTPS on or off needs a
 * new server. Returns 0, or -1 with a message in err and nothing changed
 * (a TLS file that does not load). */
int hd_api_reconfigure(hd_api_t *api, const hd_api_opts_t *opts, char *err, size_t errlen);

/* Loads opts->tls's certificate, key and CA as hd_api_listen would and
 * reports the first problem in err (-1); 0 when they load or there is no
 * certificate. For `heed agent --validate`. */
int hd_api_tls_check(const hd_api_opts_t *opts, char *err, size_t errlen);

/* Every start-up check of serving opts on host, short of binding: beyond
 * loopback the API needs tokens, and TLS unless allow_plaintext; the TLS
 * files must load. Returns 0, or -1 with what to change in err. */
int hd_api_check(const hd_api_opts_t *opts, const char *host, char *err, size_t errlen);

/* 1 when host is "localhost" or a loopback address literal. */
int hd_api_is_loopback(const char *host);

/* The port of the last successful hd_api_listen, or -1. */
int hd_api_port(const hd_api_t *api);

/* Closes every connection (cancelling requests in handlers' hands) and
 * frees the server. */
void hd_api_free(hd_api_t *api);

/* Adds a route: method ("GET", "POST", "PUT", "DELETE", "PATCH", ...) and a
 * pattern of literal and ":name" segments ("/v1/checks/:id"), the least
 * role that may call it, and its handler. A trailing '/' in a request's
 * path is ignored. Returns 0, or -1 with a message in err for a bad
 * pattern or a method and pattern already taken. */
int hd_api_route(hd_api_t *api, const char *method, const char *pattern, hd_api_role_t role,
                 hd_api_handler_fn fn, void *arg, char *err, size_t errlen);

/* Gives a registered route its own rate limit per caller: rate requests per
 * second, burst at most at once (e.g. 12.0 / 60, 12). Returns 0, or -1 if
 * no such route. */
int hd_api_route_limit(hd_api_t *api, const char *method, const char *pattern, double rate,
                       double burst);
/* Makes a registered route one of Consul's API: the server's own errors on
 * it (no or unknown token, a role too low, a bad JSON body, a rate limit)
 * and hd_api_error's are answered as Consul answers, with a plain-text
 * body ("Permission denied", "ACL not found", "Request decode failed:
 * ..."), and a missing token is 403 as Consul's anonymous token gets.
 * Returns 0, or -1 if no such route. */
int hd_api_route_consul(hd_api_t *api, const char *method, const char *pattern);

/* Makes a registered route public: it needs no token even when tokens are
 * configured (the dashboard's static assets, which must load to ask for
 * one), and a token sent is not looked at: the handler sees role
 * HD_ROLE_NONE and no tenant (or management without tokens). Register it
 * with HD_ROLE_NONE. Per-client rate limits still apply. Returns 0, or -1
 * if no such route. */
int hd_api_route_public(hd_api_t *api, const char *method, const char *pattern);

/* Makes a registered route take its body as bytes (r->data, r->data_len),
 * unparsed: a Consul KV value, or a body that is not a JSON object (the
 * array of /v1/txn) that the handler reads itself. Returns 0, or -1 if
 * no such route. */
int hd_api_route_raw(hd_api_t *api, const char *method, const char *pattern);

/* The decoded value of the path parameter name (":name" or "*name" in
 * the pattern), or NULL if the route has none such. */
const char *hd_api_param(const hd_api_req_t *r, const char *name);

/* The decoded value of the first query parameter key; "" for a key without
 * a value ("?pretty"); NULL when absent. */
const char *hd_api_query(const hd_api_req_t *r, const char *key);
/* 1 when the server r came to has tokens (requests must carry one). */
int hd_api_has_tokens(const hd_api_req_t *r);
/* The server r came to, while r is in a handler's hands (the server may be
 * freed before r is answered: a later callback must not use it). */
const hd_api_t *hd_api_req_server(const hd_api_req_t *r);

/* The value of a request header (case-insensitive name), or NULL. */
const char *hd_api_header(const hd_api_req_t *r, const char *name);

/* Sets fn to run if the client goes away before the reply (or the server
 * is freed). The request stays valid; the reply is still due, and dropped.
 * fn may reply at once. */
void hd_api_on_cancel(hd_api_req_t *r, hd_api_cancel_fn fn, void *arg);

/* 1 when the client has gone away (the reply will be dropped). */
int hd_api_cancelled(const hd_api_req_t *r);

/* Adds a header to the reply (e.g. Location, X-Consul-Index). */
void hd_api_set_header(hd_api_req_t *r, const char *name, const char *value);

/* Replies with status and body (which the call takes ownership of; NULL
 * sends no body), as compact JSON, indented with "?pretty". Finishes r. */
void hd_api_reply_json(hd_api_req_t *r, int status, json_t *body);

/* Replies with status and body, JSON text already written (util/jsonw.h),
 * as hd_api_reply_json would: a newline added, indented with "?pretty".
 * Takes body's memory (no copy); body is left empty. Finishes r. */
void hd_api_reply_json_buf(hd_api_req_t *r, int status, hd_buf_t *body);

/* Replies with status and len bytes of data of the given content type.
 * Finishes r. */
void hd_api_reply_text(hd_api_req_t *r, int status, const char *content_type, const char *data,
                       size_t len);
/* The same with data taken (malloc'd, freed once sent; no copy). */
void hd_api_reply_text_take(hd_api_req_t *r, int status, const char *content_type, char *data,
                            size_t len);

/* Replies with status and a body that fn produces part by part, as the
 * client takes it (see hd_api_stream_fn): with Content-Length when it all
 * fits in the first 64 KiB, else chunked (HTTP/1.0: until the connection
 * closes). A JSON stream asked for with "?pretty" is collected whole and
 * indented. Finishes r once fn returned 0. */
void hd_api_reply_stream(hd_api_req_t *r, int status, const char *content_type, hd_api_stream_fn fn,
                         void *arg);

/* Replies {"error": <formatted message>, "code": code}; on a Consul route
 * (hd_api_route_consul) the message alone, as plain text, with Consul's
 * words for the codes it has its own for. Finishes r. */
void hd_api_error(hd_api_req_t *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The server's counters. */
const hd_api_stats_t *hd_api_stats(const hd_api_t *api);

/* Writes the server's counters as heed_api_* families into m. */
void hd_api_write_metrics(const hd_api_t *api, struct hd_metrics_s *m);

/* "read", "write", "management" (and "none"). */
const char *hd_api_role_name(hd_api_role_t role);

/* Parses a role name; returns HD_ROLE_NONE for anything else. */
hd_api_role_t hd_api_role_parse(const char *s);

/* Validates a request body as the server does: NULL body or len 0 gives
 * *out NULL; else a JSON object, or -1 with "invalid JSON at line L column
 * C: ..." or "the request body must be a JSON object" in err. Exposed for
 * tests and the fuzz target. */
int hd_api_parse_body(const char *data, size_t len, json_t **out, char *err, size_t errlen);

/* ---- blocking queries (Consul's ?index=N&wait=D) --------------------------
 *
 * A handler that serves a read computes its answer and the answer's index
 * (the highest store revision that affects what it contains). When the
 * request asks to block (index N) and the answer's index is not past N, it
 * holds the request on the topics its answer reads (util/topic.h) instead
 * of answering; a bump of any of them, the end of the wait, or the client
 * leaving runs the handler's retry function, which answers (or holds
 * again). Held requests have no deadline of the connection's and cost the
 * request, a timer and a waiter per topic. */

#define HD_API_WAIT_DEFAULT_MS (5 * 60 * 1000)  /* Consul's default wait */
#define HD_API_WAIT_MAX_MS     (10 * 60 * 1000) /* and its cap */

typedef void (*hd_api_retry_fn)(hd_api_req_t *r, void *arg);

/* The request's blocking parameters: ?index= (0: not blocking; the number
 * Consul clients send back from X-Consul-Index) and ?wait= (Go's duration
 * syntax, "10s", "5m"; default 5 min, capped at 10), to which up to wait/16
 * of random jitter is added, as Consul does to spread wake-ups. Returns 0,
 * or -1 with Consul's message in err ("Invalid wait time", "Invalid
 * index"). */
int hd_api_block_params(const hd_api_req_t *r, uint64_t *index, int64_t *wait_ms, char *err,
                        size_t errlen);
/* Holds r until one of topics[0..n) is bumped, its wait ends (wait_ms
 * from r's first hold; a later hold keeps that deadline), or the client
 * leaves (then hd_api_cancelled(r) is 1: reply anyway, it is dropped).
 * Then fn(r, arg) runs, once. While held, r's cancel function is the
 * hold's (hd_api_on_cancel's is not called). Returns 0 when held, or 1
 * when the wait has already ended or the client is gone: answer now, fn
 * is not called. */
int hd_api_hold(hd_api_req_t *r, hd_topic_t *const *topics, size_t n, int64_t wait_ms,
                hd_api_retry_fn fn, void *arg);

#endif
