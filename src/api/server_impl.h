/* server_impl — the API server's insides, shared by server.c (requests:
 * routing, authentication, rate limits, replies), conn.c (connections:
 * accept, reading, writing, deadlines, bounds) and tls.c (HTTPS). Nothing
 * else includes it. */
#ifndef HD_API_SERVER_IMPL_H
#define HD_API_SERVER_IMPL_H

#include "api/chunked.h"
#include "api/head.h"
#include "api/route.h"
#include "api/server.h"
#include "util/buf.h"
#include "util/ratelimit.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#define HD_API_CLIENT_SLOTS 256 /* hash chains of the per-client table */
#define HD_API_IP_MAX       56  /* an IPv6 address, or a /64 prefix as text, with NUL */

struct hd_api_tls_s;

/* A caller's buckets: one for everything, one per route with its own limit. */
typedef struct hd_api_buckets_s {
    hd_ratelimit_t all;
    hd_ratelimit_t *route; /* indexed by route_t.limit; burst 0 = not started */
    size_t nroute;
} hd_api_buckets_t;

typedef struct hd_api_tok_s {
    char *secret;
    size_t len;
    hd_api_role_t role;
    char *tenant;
    double rate, burst; /* this token's own limit, 0: the server's */
    hd_api_buckets_t b;
} hd_api_tok_t;

/* One per client (an IPv4 address or an IPv6 /64) with open connections
 * or a bucket not yet full. */
typedef struct hd_api_client_s {
    char key[HD_API_IP_MAX];
    int conns;
    hd_api_buckets_t b; /* used when no tokens are configured */
    struct hd_api_client_s *next;
} hd_api_client_t;

typedef struct hd_api_route_s {
    char *method;
    hd_api_pattern_t pat;
    hd_api_role_t role;
    hd_api_handler_fn fn;
    void *arg;
    int limit; /* -1, or this route's index among the limited ones */
    double rate, burst;
    int consul; /* errors as Consul's: plain text (hd_api_route_consul) */
    int raw;    /* the body goes to the handler as bytes (hd_api_route_raw) */
    int pub;    /* no token needed (hd_api_route_public) */
} hd_api_route_t;

typedef struct hd_api_conn_s hd_api_conn_t;

/* A request, from its head to its reply (or the end of its stream). */
typedef struct hd_api_rq_s {
    hd_api_req_t pub; /* first: handlers get &pub */
    hd_api_t *api;
    hd_api_conn_t *conn;     /* NULL once the client is gone */
    hd_api_client_t *client; /* the connection's, while it is open */
    hd_api_head_t head;
    hd_api_target_t target;
    const hd_api_route_t *route;
    const char **params; /* route->pat.nparams values, inside target */
    json_t *body;
    hd_buf_t raw; /* the body's bytes while they arrive */
    hd_api_chunked_t chunked;
    uint64_t body_left; /* Content-Length bytes still to read */
    hd_api_cancel_fn cancel;
    void *cancel_arg;
    struct hd_api_hold_s *hold; /* held by a blocking query (api/block.c) */
    int64_t hold_until_us;      /* its deadline, from the first hold; 0 before */
    hd_api_stream_fn stream;    /* a streamed reply in progress */
    void *stream_arg;
    hd_buf_t headers; /* reply headers the handler set: "Name: value\r\n" lines */
    int64_t start_us;
    char *tenant;  /* the caller's, copied: a reload may free the token */
    int is_head;   /* HEAD: the reply goes without its body */
    int close;     /* the connection ends after the reply */
    int no_length; /* HEAD of a stream: the length is not known */
    char ip[HD_API_IP_MAX];
    char *text; /* the head's bytes, parsed in place; fields follow this struct */
} hd_api_rq_t;

/* An intrusive list of connections, oldest first. */
typedef struct hd_api_clist_s {
    hd_api_conn_t *head, *tail;
    size_t n;
} hd_api_clist_t;

typedef struct hd_api_listener_s {
    hd_api_t *api;
    int fd;
    struct event ev;
} hd_api_listener_t;

struct hd_api_s {
    struct event_base *base;
    hd_api_opts_t o; /* defaults filled in; tokens and TLS paths not kept */
    hd_api_tok_t *toks;
    size_t ntoks;
    hd_api_route_t *routes;
    size_t nroutes;
    int nlimits;
    hd_api_client_t *clients[HD_API_CLIENT_SLOTS];
    size_t nclients, sweep_at;
    hd_api_listener_t **listeners;
    size_t nlisteners;
    struct event *resume; /* accepting again after running out of descriptors */
    int accept_paused;
    uint64_t accept_errors; /* since the last line about them */
    int64_t accept_logged_us;
    hd_api_conn_t *conns; /* every open connection */
    size_t nconns;
    hd_api_clist_t idle;   /* waiting for a request (or a TLS handshake): evicted first */
    hd_api_clist_t heads;  /* reading a request head: evicted next */
    hd_api_clist_t unsent; /* holding unsent output, by the time of their last progress */
    size_t unsent_total;
    const struct timeval *t_header, *t_body, *t_idle, *t_send, *t_linger;
    struct timeval tv_header, tv_body, tv_idle, tv_send, tv_linger;
    char *scratch; /* where reads land when a connection has nothing buffered */
    char *tls_rec; /* a TLS record put together from small output segments */
    struct hd_api_tls_s *tls;
    int64_t date_sec;
    char date[48]; /* "Date: ...\r\n" for date_sec */
    int port;
    hd_api_stats_t st;
};

/* ---- server.c -------------------------------------------------------------- */

/* The client record for key (made if new); callers count its connections. */
hd_api_client_t *hd_api_client_get(hd_api_t *api, const char *key, int64_t now);
/* Forgets cl if it has no connection and a full bucket. */
void hd_api_client_release(hd_api_t *api, hd_api_client_t *cl, int64_t now);
/* 1 for the methods that are routed: GET, HEAD, POST, PUT, DELETE, PATCH,
 * OPTIONS, and any a route has. */
int hd_api_method_known(const hd_api_t *api, const char *method);
/* Routes, authenticates and runs a request whose head and body (len
 * bytes at data) are in. */
void hd_api_dispatch(hd_api_t *api, hd_api_rq_t *q, const char *data, size_t len);
/* Frees a request (its reply sent or dropped). */
void hd_api_rq_free(hd_api_rq_t *q);

/* ---- conn.c ---------------------------------------------------------------- */

/* Fills in the per-phase deadlines from api->o (at start and reload). */
void hd_api_conn_config(hd_api_t *api);
/* Sends q's reply: status, its headers, and body (taken: malloc'd, freed
 * here; NULL for none) of the given type. Finishes q unless it streams. */
void hd_api_conn_reply(hd_api_rq_t *q, int status, const char *ctype, char *body, size_t len);
/* Starts q's streamed reply (q->stream set). */
void hd_api_conn_stream(hd_api_rq_t *q, int status, const char *ctype);
/* Closes every connection and listener (hd_api_free). */
void hd_api_conn_close_all(hd_api_t *api);
/* The client a peer address counts against (key: an IPv4 address, or an
 * IPv6 /64 as "2001:db8:1:2::/64"; IPv4-mapped IPv6 is IPv4) and the
 * address as text (ip); both HD_API_IP_MAX bytes. */
void hd_api_client_key(const struct sockaddr *sa, char *key, char *ip);

/* ---- tls.c ----------------------------------------------------------------- */

enum {
    HD_API_TLS_WANT_READ = -2,
    HD_API_TLS_WANT_WRITE = -3,
    HD_API_TLS_PLAIN_HTTP = -4, /* the handshake met a plain HTTP request */
};

/* A server context from o's files; NULL with a message in err. */
struct hd_api_tls_s *hd_api_tls_new(const hd_api_tls_opts_t *o, char *err, size_t errlen);
/* Drops a context (connections that use it keep it until they end). */
void hd_api_tls_free(struct hd_api_tls_s *t);
/* A connection's TLS state on fd, or NULL (out of memory). */
void *hd_api_tls_conn(struct hd_api_tls_s *t, int fd);
/* One handshake step: 1 done, a WANT code, or -1 (err says why) or
 * HD_API_TLS_PLAIN_HTTP. */
int hd_api_tls_handshake(void *ssl, char *err, size_t errlen);
/* Reads or writes: bytes (> 0), 0 at the end of the stream (read), a WANT
 * code, or -1 on an error. */
int hd_api_tls_read(void *ssl, char *buf, size_t len);
int hd_api_tls_write(void *ssl, const void *buf, size_t len);
/* Decrypted bytes waiting inside OpenSSL. */
int hd_api_tls_pending(void *ssl);
/* Frees a connection's TLS state, sending close_notify first (best
 * effort) when notify is set (not after a failed handshake). */
void hd_api_tls_conn_free(void *ssl, int notify);

#endif
