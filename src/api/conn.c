/* conn — the API server's connections (server.h states the behaviour:
 * "Connections" and "Output"): listening; accepting under the connection
 * caps, with eviction of idle connections and a pause when descriptors run
 * out; reading requests with api/head.h and api/chunked.h; a deadline per
 * phase; writing replies whole or streamed as the client takes them; the
 * bound on unsent output; HTTPS through api/tls.c; closing.
 *
 * Why heed has its own HTTP/1.1 layer and not libevent's evhttp (measured
 * and decided in issue 8): evhttp answers malformed requests itself with
 * HTML, and offers no hook at accept (caps, eviction, EMFILE), no deadline
 * per phase (its timeout is per read), no bound on a connection's output
 * and no TLS without libevent_openssl (a second, shared libevent). The
 * layer here is a few hundred lines on the same loop and is faster:
 * requests are parsed in place, and a reply is one sendmsg().
 *
 * A connection is in one state at a time:
 *   HANDSHAKE  TLS handshake                         deadline: header, from accept
 *   IDLE       before a request's first byte         header (new connection), idle
 *   HEAD       reading the request head              header, from the first byte
 *   BODY       reading the body                      body, from the end of the head
 *   HANDLER    a handler holds the request           none
 *   WRITING    a reply is going out                  send (each write that makes progress
 *   STREAM     a streamed reply is going out         send  rearms it)
 *   LINGER     after a last reply: draining input    2 s
 * While a handler holds a request the socket is still read: end of file
 * means the client left (the request is cancelled), and pipelined bytes
 * are kept, up to PIPELINE_MAX. LINGER exists because closing a socket
 * with unread input sends a reset, which can destroy the reply (a 413 sent
 * while the client is still sending its body) before the client read it.
 *
 * Memory: a connection with nothing buffered holds no input buffer: reads
 * land in one shared scratch buffer and only an unfinished request's bytes
 * are copied out. Reply bodies are referenced by the output buffer, not
 * copied (except small ones). A connection's struct is freed when its last
 * callback on the stack returns (busy), so closing one from inside its own
 * callback is safe. */
#include "api/server_impl.h"
#include "util/mem.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SCRATCH_SIZE    (64u << 10) /* reads into a connection with nothing buffered */
#define READ_ROOM       (16u << 10) /* room made for a read into a connection's own buffer */
#define PIPELINE_MAX    (64u << 10) /* input kept while a request is out */
#define STREAM_WHOLE    (64u << 10) /* a stream that ends within this gets a Content-Length */
#define STREAM_TURN     8           /* stream parts produced per loop turn and connection */
#define PART_ROOM       (HD_API_STREAM_CHUNK + 4096) /* a part and the last item's overshoot */
#define FIRST_PARTS     8    /* parts produced at most before a stream's head goes out */
#define SMALL_BODY      2048 /* bodies up to this are copied into the output, not referenced */
#define ACCEPT_BATCH    32   /* accepts per loop turn and listener */
#define ACCEPT_PAUSE_MS 100
#define LINGER_MS       2000
#define LINGER_BYTES    (256u << 10)
#define TLS_RECORD      16384
#define KERNEL_UNSENT   (64 << 10) /* TCP_NOTSENT_LOWAT of accepted sockets */

enum { C_HANDSHAKE, C_IDLE, C_HEAD, C_BODY, C_HANDLER, C_WRITING, C_STREAM, C_LINGER };
enum { L_NONE, L_IDLE, L_HEADS };
enum { T_NONE, T_PHASE, T_SEND }; /* what the timer runs for */

struct hd_api_conn_s {
    hd_api_t *api;
    int fd;
    int state;
    struct event rev, wev, tev;
    char *in; /* unparsed input: in[in_off .. in_off + in_len) */
    size_t in_off, in_len, in_cap;
    size_t scan;           /* where hd_api_head_end resumes */
    struct seg_s *oh, *ot; /* the output queue, oldest first */
    size_t olen;           /* its bytes */
    size_t unsent;         /* olen as counted in api->unsent_total */
    hd_api_rq_t *req;      /* being read, in a handler's hands, or streaming */
    hd_api_client_t *client;
    void *ssl;
    int busy;                  /* this connection's callbacks on the stack */
    int list;                  /* L_*: on api->idle or api->heads */
    int tkind;                 /* T_*: what the timer is set for */
    size_t lingered;           /* bytes drained in LINGER */
    unsigned char dead;        /* closed; freed when busy drops to 0 */
    unsigned char in_borrowed; /* in is api->scratch (within one read callback) */
    unsigned char fresh;       /* no request yet: the header deadline runs from accept */
    unsigned char keep_alive;  /* another request may follow the reply going out */
    unsigned char reading, writing;
    unsigned char peer_eof;    /* the client shut down its side */
    unsigned char linger;      /* drain input before closing */
    unsigned char chunked_out; /* the stream going out is chunked */
    unsigned char processing;  /* process() is on the stack */
    unsigned char dispatching; /* a handler is on the stack */
    unsigned char tls_read_wants_write, tls_write_wants_read;
    hd_api_conn_t *lprev, *lnext; /* on api->idle or api->heads */
    hd_api_conn_t *uprev, *unext; /* on api->unsent */
    hd_api_conn_t *prev, *next;   /* on api->conns */
    char ip[HD_API_IP_MAX];
};

#define IN(c) ((c)->in + (c)->in_off)

#define LIST_ADD(l, c, P, N)                                                                       \
    do {                                                                                           \
        (c)->P = (l)->tail;                                                                        \
        (c)->N = NULL;                                                                             \
        if ((l)->tail)                                                                             \
            (l)->tail->N = (c);                                                                    \
        else                                                                                       \
            (l)->head = (c);                                                                       \
        (l)->tail = (c);                                                                           \
        (l)->n++;                                                                                  \
    } while (0)
#define LIST_DEL(l, c, P, N)                                                                       \
    do {                                                                                           \
        if ((c)->P)                                                                                \
            (c)->P->N = (c)->N;                                                                    \
        else                                                                                       \
            (l)->head = (c)->N;                                                                    \
        if ((c)->N)                                                                                \
            (c)->N->P = (c)->P;                                                                    \
        else                                                                                       \
            (l)->tail = (c)->P;                                                                    \
        (c)->P = (c)->N = NULL;                                                                    \
        (l)->n--;                                                                                  \
    } while (0)

static void process(hd_api_conn_t *c);
static void flush(hd_api_conn_t *c);
static void read_input(hd_api_conn_t *c);

/* ---- small pieces ---------------------------------------------------------- */

static const struct timeval *common(hd_api_t *api, struct timeval *tv, int ms)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
    /* One queue per duration: adding and removing such timers is O(1). */
    const struct timeval *ct = event_base_init_common_timeout(api->base, tv);
    return ct ? ct : tv;
}

void hd_api_conn_config(hd_api_t *api)
{
    api->t_header = common(api, &api->tv_header, api->o.header_timeout_ms);
    api->t_body = common(api, &api->tv_body, api->o.body_timeout_ms);
    api->t_idle = common(api, &api->tv_idle, api->o.idle_timeout_ms);
    api->t_send = common(api, &api->tv_send, api->o.send_timeout_ms);
    api->t_linger = common(api, &api->tv_linger, LINGER_MS);
}

static void set_timer(hd_api_conn_t *c, const struct timeval *tv, int kind)
{
    evtimer_add(&c->tev, tv);
    c->tkind = kind;
}

static void clear_timer(hd_api_conn_t *c)
{
    if (c->tkind != T_NONE) evtimer_del(&c->tev);
    c->tkind = T_NONE;
}

static void start_reading(hd_api_conn_t *c)
{
    if (c->reading || c->dead) return;
    event_add(&c->rev, NULL);
    c->reading = 1;
}

static void stop_reading(hd_api_conn_t *c)
{
    if (!c->reading) return;
    event_del(&c->rev);
    c->reading = 0;
}

static void want_write(hd_api_conn_t *c, int on)
{
    if (on && !c->writing && !c->dead) event_add(&c->wev, NULL);
    if (!on && c->writing) event_del(&c->wev);
    c->writing = (unsigned char)(on && !c->dead);
}

/* Puts c on the eviction list for its state (or none). */
static void lru_set(hd_api_conn_t *c, int list)
{
    hd_api_t *api = c->api;
    if (c->list == list) return;
    if (c->list == L_IDLE) LIST_DEL(&api->idle, c, lprev, lnext);
    if (c->list == L_HEADS) LIST_DEL(&api->heads, c, lprev, lnext);
    if (list == L_IDLE) LIST_ADD(&api->idle, c, lprev, lnext);
    if (list == L_HEADS) LIST_ADD(&api->heads, c, lprev, lnext);
    c->list = list;
}

/* Brings api->unsent_total and the unsent list up to date with c's
 * output; progress: bytes went out, so c moves to the list's end. */
static void account(hd_api_conn_t *c, int progress)
{
    hd_api_t *api = c->api;
    size_t now = c->dead ? 0 : c->olen;
    if (c->unsent && (progress || !now)) LIST_DEL(&api->unsent, c, uprev, unext);
    api->unsent_total = api->unsent_total - c->unsent + now;
    if (now && (!c->unsent || progress)) LIST_ADD(&api->unsent, c, uprev, unext);
    c->unsent = now;
}

static void consume(hd_api_conn_t *c, size_t n)
{
    c->in_off += n;
    c->in_len -= n;
    if (c->in_len == 0) c->in_off = 0;
}

/* ---- closing ---------------------------------------------------------------- */

static void accept_resume(hd_api_t *api);

static void out_free(hd_api_conn_t *c);

static void conn_free_mem(hd_api_conn_t *c)
{
    if (!c->in_borrowed) free(c->in);
    out_free(c);
    free(c);
}

/* Ends c at once: no more I/O; a request in a handler's hands is cancelled
 * (its reply will be dropped), a stream is abandoned. The memory goes when
 * c's callbacks have returned. */
static void conn_close(hd_api_conn_t *c)
{
    if (c->dead) return;
    hd_api_t *api = c->api;
    c->dead = 1;
    event_del(&c->rev);
    event_del(&c->wev);
    event_del(&c->tev);
    c->reading = c->writing = 0;
    c->tkind = T_NONE;
    lru_set(c, L_NONE);
    account(c, 0);
    if (c->prev)
        c->prev->next = c->next;
    else
        api->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    api->nconns--;
    api->st.conns_open--;
    if (c->ssl) hd_api_tls_conn_free(c->ssl, c->state != C_HANDSHAKE);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    c->client->conns--;
    hd_api_client_release(api, c->client, hd_time_now_us());
    c->client = NULL;
    hd_api_rq_t *q = c->req;
    c->req = NULL;
    if (q) {
        q->conn = NULL;
        q->client = NULL;
        if (q->stream) {
            hd_api_stream_fn fn = q->stream;
            q->stream = NULL;
            api->st.dropped++;
            fn(&q->pub, NULL, q->stream_arg);
            hd_api_rq_free(q);
        } else if (c->state == C_HANDLER && !c->dispatching) {
            api->st.dropped++;
            if (q->cancel) q->cancel(&q->pub, q->cancel_arg);
        } else if (c->state == C_HANDLER) {
            api->st.dropped++; /* the handler on the stack sees hd_api_cancelled() */
        } else {
            hd_api_rq_free(q); /* still being read: nobody else has it */
        }
    }
    if (api->accept_paused) accept_resume(api);
    if (!c->busy) conn_free_mem(c);
}

static void enter(hd_api_conn_t *c)
{
    c->busy++;
}

static void leave(hd_api_conn_t *c)
{
    if (--c->busy == 0 && c->dead) conn_free_mem(c);
}

/* Closes the oldest idle connection (else the oldest still sending its
 * head) to make room; 0 when there is none. */
static int evict(hd_api_t *api)
{
    hd_api_conn_t *v = api->idle.head ? api->idle.head : api->heads.head;
    if (!v) return 0;
    api->st.conns_evicted++;
    conn_close(v);
    return 1;
}

/* Closes the connections whose output waited longest until all together
 * hold at most max_unsent_total. Connections with a callback on the stack
 * are passed over (the next write judges them again). */
static void enforce_total(hd_api_t *api)
{
    hd_api_conn_t *v = api->unsent.head;
    while (api->unsent_total > api->o.max_unsent_total && v) {
        hd_api_conn_t *next = v->unext;
        if (!v->busy) {
            api->st.unsent_closed++;
            conn_close(v);
        }
        v = next;
    }
}

/* The last reply went out: close now, or drain the input first. */
static void finish_conn(hd_api_conn_t *c)
{
    if (!c->linger && c->in_len == 0) {
        conn_close(c);
        return;
    }
    if (c->ssl) hd_api_tls_conn_free(c->ssl, 1);
    c->ssl = NULL;
    (void)shutdown(c->fd, SHUT_WR); /* the client reads our reply, then end of file */
    c->state = C_LINGER;
    consume(c, c->in_len);
    want_write(c, 0);
    set_timer(c, c->api->t_linger, T_PHASE);
    start_reading(c);
}

/* ---- writing ---------------------------------------------------------------- */

/* The output queue: segments written with sendmsg() and freed as they
 * go. Not libevent's evbuffer: after a referenced block, evbuffer_add
 * sizes its next chain like that block (a 2-byte "\r\n" after a 16 KiB
 * part cost a 16.5 KiB chain), and a partly sent reference keeps its whole
 * block; here every segment is exactly what it holds. */
typedef struct seg_s {
    struct seg_s *next;
    const char *p; /* unsent bytes */
    size_t len;
    void *mem; /* freed once sent; NULL: the bytes follow this struct */
} seg_t;

/* writev() that never raises SIGPIPE when the client has gone: the
 * server must not depend on how the process set that signal up. */
static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)n;
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static void out_push(hd_api_conn_t *c, seg_t *g)
{
    g->next = NULL;
    if (c->ot)
        c->ot->next = g;
    else
        c->oh = g;
    c->ot = g;
    c->olen += g->len;
}

/* Queues a copy of n bytes. */
static void out_copy(hd_api_conn_t *c, const void *p, size_t n)
{
    if (!n) return;
    seg_t *g = hd_xmalloc(sizeof(*g) + n);
    memcpy(g + 1, p, n);
    g->p = (const char *)(g + 1);
    g->len = n;
    g->mem = NULL;
    out_push(c, g);
}

/* Queues n bytes at p inside mem, taking mem (malloc'd). */
static void out_take(hd_api_conn_t *c, void *mem, const char *p, size_t n)
{
    if (!n) {
        free(mem);
        return;
    }
    seg_t *g = hd_xmalloc(sizeof(*g));
    g->p = p;
    g->len = n;
    g->mem = mem;
    out_push(c, g);
}

/* Drops n sent bytes from the front. */
static void out_drain(hd_api_conn_t *c, size_t n)
{
    c->olen -= n;
    while (n) {
        seg_t *g = c->oh;
        if (n < g->len) {
            g->p += n;
            g->len -= n;
            return;
        }
        n -= g->len;
        c->oh = g->next;
        if (!c->oh) c->ot = NULL;
        free(g->mem);
        free(g);
    }
}

static void out_free(hd_api_conn_t *c)
{
    out_drain(c, c->olen);
}

/* Appends body[off, off + n) to c's output, taking body (malloc'd). Small
 * rests, and rests under half of body (the socket took the rest), are
 * copied, so that a block waiting to be sent is mostly unsent bytes:
 * unsent output costs about what max_unsent_total counts. */
static void add_body(hd_api_conn_t *c, char *body, size_t off, size_t n)
{
    if (n <= SMALL_BODY || off > n) {
        out_copy(c, body + off, n);
        free(body);
    } else {
        out_take(c, body, body + off, n);
    }
}

/* A stream's part (an hd_buf) cut to its length before the output holds
 * it. */
static char *tight(char *data, size_t n)
{
    return n ? hd_xrealloc(data, n) : data;
}

/* Writes c's output until the socket takes no more: bytes written, or -1
 * after closing c on an error. */
static ssize_t write_out(hd_api_conn_t *c)
{
    ssize_t total = 0;
    while (c->olen) {
        ssize_t w;
        if (c->ssl) {
            /* One record of up to 16 KiB from the front segments; a retry
             * after WANT_WRITE rebuilds the same bytes, as OpenSSL needs. */
            const char *p = c->oh->p;
            size_t n = c->oh->len;
            if (n < TLS_RECORD && c->oh->next) {
                char *rec = c->api->tls_rec;
                n = 0;
                for (seg_t *g = c->oh; g && n < TLS_RECORD; g = g->next) {
                    size_t k = g->len < TLS_RECORD - n ? g->len : TLS_RECORD - n;
                    memcpy(rec + n, g->p, k);
                    n += k;
                }
                p = rec;
            }
            if (n > TLS_RECORD) n = TLS_RECORD;
            w = hd_api_tls_write(c->ssl, p, n);
            if (w == HD_API_TLS_WANT_WRITE) break;
            if (w == HD_API_TLS_WANT_READ) {
                c->tls_write_wants_read = 1;
                start_reading(c);
                break;
            }
        } else {
            struct iovec iov[64];
            int k = 0;
            for (seg_t *g = c->oh; g && k < 64; g = g->next, k++) {
                iov[k].iov_base = (void *)g->p;
                iov[k].iov_len = g->len;
            }
            w = send_iov(c->fd, iov, k);
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
        }
        if (w <= 0) {
            conn_close(c);
            return -1;
        }
        out_drain(c, (size_t)w);
        total += w;
    }
    return total;
}

/* Frames part of a stream: a chunk, or raw bytes when the stream ends
 * with the connection. Takes data. */
static void add_part(hd_api_conn_t *c, char *data, size_t n)
{
    if (!n) {
        free(data);
        return;
    }
    if (c->chunked_out) {
        char line[24];
        out_copy(c, line, (size_t)snprintf(line, sizeof(line), "%zx\r\n", n));
    }
    add_body(c, tight(data, n), 0, n);
    if (c->chunked_out) out_copy(c, "\r\n", 2);
}

/* Asks q's producer for its next part; *more gets its answer. The part
 * comes in a block sized for one: grown by doubling it would sit in a
 * block up to twice its size while it waits to be sent. */
static hd_buf_t produce(hd_api_rq_t *q, int *more)
{
    hd_buf_t b = {hd_xmalloc(PART_ROOM), 0, PART_ROOM};
    b.data[0] = '\0';
    *more = q->stream(&q->pub, &b, q->stream_arg);
    return b;
}

/* The stream's producer added nothing but promised more: a bug. */
static void stream_stuck(hd_api_conn_t *c, hd_api_rq_t *q)
{
    fprintf(stderr, "heed: API: a streamed reply for %s produced nothing (a bug in heed)\n",
            q->target.path ? q->target.path : "?");
    conn_close(c);
}

/* The stream is done: its last chunk, and the request goes. */
static void stream_end(hd_api_conn_t *c, hd_api_rq_t *q)
{
    q->stream = NULL;
    if (c->chunked_out) out_copy(c, "0\r\n\r\n", 5);
    c->req = NULL;
    hd_api_rq_free(q);
    c->state = C_WRITING;
}

/* Asks the stream's producer for its next part. */
static void stream_more(hd_api_conn_t *c)
{
    hd_api_rq_t *q = c->req;
    int more;
    hd_buf_t b = produce(q, &more);
    if (more && b.len == 0) {
        hd_buf_free(&b);
        stream_stuck(c, q);
        return;
    }
    add_part(c, b.data, b.len);
    if (!more) stream_end(c, q);
}

/* The reply went out whole. */
static void drained(hd_api_conn_t *c)
{
    if (!c->keep_alive) {
        finish_conn(c);
        return;
    }
    c->state = C_IDLE;
    lru_set(c, L_IDLE);
    set_timer(c, c->api->t_idle, T_PHASE);
    if (!c->peer_eof) start_reading(c);
    if (c->in_len) process(c);                                /* a pipelined request */
    if (!c->dead && !c->in_borrowed && c->in && !c->in_len) { /* an idle connection holds none */
        free(c->in);
        c->in = NULL;
        c->in_cap = c->in_off = 0;
    }
    /* Bytes OpenSSL decrypted already make the socket no more readable:
     * read them on the next turn. */
    if (!c->dead && c->ssl && c->reading && hd_api_tls_pending(c->ssl) > 0)
        event_active(&c->rev, EV_READ, 1);
}

/* Writes what c holds, produces more of a stream while c holds less than
 * max_unsent_bytes (at most STREAM_TURN parts per call, so that one fast
 * reader of a long stream does not hold the loop), and moves on when the
 * reply is out. */
static void flush(hd_api_conn_t *c)
{
    int progress = 0, parts = 0;
    for (;;) {
        if (c->olen) {
            ssize_t n = write_out(c);
            if (n < 0) return;
            progress |= n > 0;
        }
        account(c, progress);
        if (c->state == C_STREAM && c->unsent < c->api->o.max_unsent_bytes &&
            parts++ < STREAM_TURN) {
            stream_more(c);
            if (c->dead) return;
            continue;
        }
        break;
    }
    enforce_total(c->api);
    if (c->dead) return;
    int sending = c->state == C_WRITING || c->state == C_STREAM;
    if (c->unsent || c->state == C_STREAM) { /* a stream goes on when writable */
        want_write(c, 1);
        if (sending && (progress || c->tkind != T_SEND)) set_timer(c, c->api->t_send, T_SEND);
        return;
    }
    want_write(c, 0);
    if (c->state == C_WRITING) drained(c);
}

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 418:
        return "I'm a teapot";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    }
    return "Status";
}

/* The Date header of this second (RFC 9110 5.6.7), kept per second. */
static const char *date_line(hd_api_t *api)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct timeval tv;
    if (event_base_gettimeofday_cached(api->base, &tv) < 0) gettimeofday(&tv, NULL);
    if (tv.tv_sec != api->date_sec || !api->date[0]) {
        time_t t = tv.tv_sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(api->date, sizeof(api->date), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        api->date_sec = tv.tv_sec;
    }
    return api->date;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_num(char *p, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Room build_head needs for q's reply. */
static size_t head_room(const hd_api_rq_t *q, const char *ctype)
{
    return 256 + (ctype ? strlen(ctype) : 0) + q->headers.len;
}

/* Writes the status line and headers of q's reply into out (head_room
 * bytes); returns their length. len: the body's length, or -1 when it is
 * streamed (chunked, or until the close). */
static size_t build_head(hd_api_conn_t *c, const hd_api_rq_t *q, char *out, int status,
                         const char *ctype, int has_body, long long len)
{
    char *p = PUT(out, "HTTP/1.1 ");
    p = put_num(p, (unsigned long long)status);
    *p++ = ' ';
    const char *why = reason(status);
    p = put(p, why, strlen(why));
    p = PUT(p, "\r\n");
    const char *date = date_line(c->api);
    p = put(p, date, strlen(date));
    if (has_body && ctype) {
        p = PUT(p, "Content-Type: ");
        p = put(p, ctype, strlen(ctype));
        p = PUT(p, "\r\n");
    }
    int bodiless = status < 200 || status == 204 || status == 304;
    if (len >= 0 && !bodiless) {
        p = PUT(p, "Content-Length: ");
        p = put_num(p, (unsigned long long)len);
        p = PUT(p, "\r\n");
    }
    if (len < 0 && c->chunked_out) p = PUT(p, "Transfer-Encoding: chunked\r\n");
    if (q->headers.len) p = put(p, q->headers.data, q->headers.len);
    if (!c->keep_alive)
        p = PUT(p, "Connection: close\r\n");
    else if (q->head.minor == 0)
        p = PUT(p, "Connection: keep-alive\r\n");
    p = PUT(p, "\r\n");
    return (size_t)(p - out);
}

/* Head (a buffer of the caller's) and body (taken) onto c's output: one
 * sendmsg() straight to the socket when nothing is queued before them. */
static void send_whole(hd_api_conn_t *c, const char *head, size_t hlen, char *body, size_t blen)
{
    if (c->ssl || c->olen) {
        out_copy(c, head, hlen);
        if (body) add_body(c, body, 0, blen);
        return;
    }
    struct iovec iov[2] = {{(void *)head, hlen}, {body, blen}};
    ssize_t n = send_iov(c->fd, iov, blen ? 2 : 1);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            free(body);
            conn_close(c);
            return;
        }
        n = 0;
    }
    size_t w = (size_t)n;
    if (w < hlen) {
        out_copy(c, head + w, hlen - w);
        w = 0;
    } else {
        w -= hlen;
    }
    if (body && blen > w)
        add_body(c, body, w, blen - w);
    else
        free(body);
    if (n > 0 && c->tkind == T_SEND) clear_timer(c); /* progress */
}

static int keeps_alive(hd_api_conn_t *c, hd_api_rq_t *q)
{
    return q->head.keep_alive && !q->close && !c->peer_eof;
}

void hd_api_conn_reply(hd_api_rq_t *q, int status, const char *ctype, char *body, size_t len)
{
    hd_api_conn_t *c = q->conn;
    enter(c);
    c->req = NULL;
    c->keep_alive = (unsigned char)keeps_alive(c, q);
    c->chunked_out = 0;
    c->state = C_WRITING;
    char stack[768];
    size_t room = head_room(q, ctype);
    char *head = room <= sizeof(stack) ? stack : hd_xmalloc(room);
    size_t hlen = build_head(c, q, head, status, ctype, body != NULL || q->no_length,
                             q->no_length ? -1
                             : body       ? (long long)len
                                          : 0);
    if (q->is_head) {
        free(body);
        body = NULL;
        len = 0;
    }
    send_whole(c, head, hlen, body, len);
    if (head != stack) free(head);
    hd_api_rq_free(q);
    if (!c->dead) flush(c);
    leave(c);
}

void hd_api_conn_stream(hd_api_rq_t *q, int status, const char *ctype)
{
    hd_api_conn_t *c = q->conn;
    enter(c);
    /* The first parts, up to STREAM_WHOLE: all of it, or a chunked start. */
    hd_buf_t parts[FIRST_PARTS];
    size_t n = 0, total = 0;
    int more = 1;
    while (more && total < STREAM_WHOLE && n < FIRST_PARTS) {
        hd_buf_t *b = &parts[n++];
        *b = produce(q, &more);
        total += b->len;
        if (more && b->len == 0) break; /* stream_more reports it */
    }
    char stack[768];
    size_t room = head_room(q, ctype);
    char *head = room <= sizeof(stack) ? stack : hd_xmalloc(room);
    if (!more) { /* it all fit: one reply with a length */
        q->stream = NULL;
        c->req = NULL;
        c->keep_alive = (unsigned char)keeps_alive(c, q);
        c->chunked_out = 0;
        c->state = C_WRITING;
        size_t hlen = build_head(c, q, head, status, ctype, 1, (long long)total);
        char *body = hd_xmalloc(total + 1), *p = body;
        for (size_t i = 0; i < n; i++) {
            memcpy(p, parts[i].data, parts[i].len);
            p += parts[i].len;
            hd_buf_free(&parts[i]);
        }
        send_whole(c, head, hlen, body, total);
        hd_api_rq_free(q);
    } else {
        c->chunked_out = q->head.minor >= 1;
        c->keep_alive = (unsigned char)(c->chunked_out && keeps_alive(c, q));
        c->state = C_STREAM;
        size_t hlen = build_head(c, q, head, status, ctype, 1, -1);
        send_whole(c, head, hlen, NULL, 0);
        for (size_t i = 0; i < n; i++) {
            if (c->dead)
                hd_buf_free(&parts[i]);
            else
                add_part(c, parts[i].data, parts[i].len);
        }
    }
    if (head != stack) free(head);
    if (!c->dead) flush(c);
    leave(c);
}

/* ---- reading requests --------------------------------------------------------- */

static hd_api_rq_t *rq_new(hd_api_conn_t *c, const char *head, size_t hlen)
{
    size_t cap = head ? hd_api_head_lines(head, hlen) : 0;
    hd_api_rq_t *q = hd_xcalloc(1, sizeof(*q) + cap * sizeof(hd_api_field_t) + hlen + 1);
    q->text = (char *)q + sizeof(*q) + cap * sizeof(hd_api_field_t);
    if (hlen) memcpy(q->text, head, hlen);
    q->text[hlen] = '\0';
    q->head.fields = (hd_api_field_t *)(q + 1);
    q->api = c->api;
    q->conn = c;
    q->client = c->client;
    memcpy(q->ip, c->ip, sizeof(q->ip));
    q->pub.client_ip = q->ip;
    q->pub.method = "";
    q->pub.path = "";
    q->start_us = hd_time_now_us();
    return q;
}

/* Answers e and ends the connection after the reply (its framing cannot
 * be trusted, or the body is not wanted). */
static void refuse(hd_api_conn_t *c, hd_api_rq_t *q, const hd_api_head_err_t *e)
{
    if (!q) q = rq_new(c, NULL, 0);
    c->req = q;
    q->close = 1;
    c->linger = 1;
    c->state = C_HANDLER;
    lru_set(c, L_NONE);
    clear_timer(c);
    hd_api_error(&q->pub, e->status, e->code, "%s", e->msg);
}

static void dispatch(hd_api_conn_t *c, hd_api_rq_t *q, const char *data, size_t len)
{
    c->state = C_HANDLER;
    lru_set(c, L_NONE);
    clear_timer(c);
    q->start_us = hd_time_now_us();
    c->dispatching = 1;
    hd_api_dispatch(c->api, q, data, len);
    c->dispatching = 0;
}

static void send_continue(hd_api_conn_t *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    out_copy(c, line, sizeof(line) - 1);
    flush(c);
}

/* The head is in: parse it and decide what comes next. */
static int read_head(hd_api_conn_t *c)
{
    hd_api_t *api = c->api;
    hd_api_head_err_t e;
    size_t max = api->o.max_header_bytes;
    size_t hlen = hd_api_head_end(IN(c), c->in_len, &c->scan);
    if (hlen == 0 || hlen > max) {
        if (hd_api_head_partial(IN(c), hlen ? hlen : c->in_len, max, &e) < 0) refuse(c, NULL, &e);
        return 0;
    }
    hd_api_rq_t *q = rq_new(c, IN(c), hlen);
    size_t cap = hd_api_head_lines(IN(c), hlen);
    consume(c, hlen);
    c->req = q;
    if (hd_api_head_parse(q->text, hlen, q->head.fields, cap, &q->head, &e) < 0) {
        refuse(c, q, &e);
        return 0;
    }
    q->pub.method = q->head.method;
    q->is_head = !strcmp(q->head.method, "HEAD");
    if (!hd_api_method_known(api, q->head.method)) {
        e.status = 501;
        e.code = "not_implemented";
        snprintf(e.msg, sizeof(e.msg), "the method %.32s is not supported by this API",
                 q->head.method);
        refuse(c, q, &e);
        return 0;
    }
    if (q->head.has_length && q->head.length > api->o.max_body_bytes) {
        e.status = 413;
        e.code = "too_large";
        snprintf(e.msg, sizeof(e.msg), "the request body is larger than the limit of %zu bytes",
                 api->o.max_body_bytes);
        refuse(c, q, &e);
        return 0;
    }
    if (q->head.chunked || q->head.length > 0) {
        c->state = C_BODY;
        lru_set(c, L_NONE);
        set_timer(c, api->t_body, T_PHASE);
        q->body_left = q->head.length;
        hd_api_chunked_init(&q->chunked);
        if (q->head.expect_continue && c->in_len == 0 && q->head.minor >= 1) send_continue(c);
        return !c->dead;
    }
    dispatch(c, q, NULL, 0);
    return 1;
}

static int read_body(hd_api_conn_t *c)
{
    hd_api_t *api = c->api;
    hd_api_rq_t *q = c->req;
    if (q->head.chunked) {
        size_t used = 0;
        hd_api_head_err_t e;
        int rc = hd_api_chunked_feed(&q->chunked, IN(c), c->in_len, &used, api->o.max_body_bytes,
                                     &q->raw, &e);
        consume(c, used);
        if (rc < 0) refuse(c, q, &e);
        if (rc <= 0) return 0;
        dispatch(c, q, q->raw.data, q->raw.len);
        return 1;
    }
    if (q->raw.len == 0 && c->in_len >= q->body_left) { /* all here: parsed where it lies */
        size_t n = (size_t)q->body_left;
        const char *data = IN(c); /* stays in place: consume moves no bytes */
        q->body_left = 0;
        consume(c, n);
        dispatch(c, q, data, n);
        return 1;
    }
    size_t n = c->in_len < q->body_left ? c->in_len : (size_t)q->body_left;
    hd_buf_append(&q->raw, IN(c), n);
    consume(c, n);
    q->body_left -= n;
    if (q->body_left) return 0;
    dispatch(c, q, q->raw.data, q->raw.len);
    return 1;
}

/* One step of the request at the front of c's input: 1 to go on, 0 to
 * wait for more bytes or for a reply. */
static int step(hd_api_conn_t *c)
{
    switch (c->state) {
    case C_IDLE:
        consume(c, hd_api_head_skip_empty(IN(c), c->in_len));
        if (c->in_len == 0) return 0;
        c->state = C_HEAD;
        c->scan = 0;
        lru_set(c, L_HEADS);
        if (!c->fresh) set_timer(c, c->api->t_header, T_PHASE);
        c->fresh = 0;
        return 1;
    case C_HEAD:
        return read_head(c);
    case C_BODY:
        return read_body(c);
    case C_HANDLER:
    case C_WRITING:
    case C_STREAM:
        if (c->in_len >= PIPELINE_MAX) stop_reading(c);
        return 0;
    default:
        return 0;
    }
}

static void process(hd_api_conn_t *c)
{
    if (c->processing) return; /* the caller's loop goes on */
    c->processing = 1;
    while (!c->dead && c->in_len && step(c))
        ;
    c->processing = 0;
}

/* The client shut down its side. */
static void peer_eof(hd_api_conn_t *c)
{
    if (c->state == C_WRITING || c->state == C_STREAM) {
        c->peer_eof = 1; /* it may still read the reply going out */
        c->keep_alive = 0;
        stop_reading(c);
        return;
    }
    conn_close(c); /* idle, part of a request, or gone while a handler holds it */
}

/* Makes room for a read into c's own buffer. */
static void make_room(hd_api_conn_t *c, size_t want)
{
    if (c->in_off && c->in_cap - c->in_off - c->in_len < want) {
        memmove(c->in, c->in + c->in_off, c->in_len);
        c->in_off = 0;
    }
    if (c->in_cap - c->in_len < want) {
        c->in_cap = c->in_len + want;
        c->in = hd_xrealloc(c->in, c->in_cap);
    }
}

/* After a read callback: bytes left in the shared scratch buffer move to
 * c's own; an empty own buffer is freed. */
static void save_input(hd_api_conn_t *c)
{
    if (c->in_borrowed) {
        char *keep = NULL;
        if (c->in_len) {
            keep = hd_xmalloc(c->in_len);
            memcpy(keep, IN(c), c->in_len);
        }
        c->in = keep;
        c->in_cap = c->in_len;
        c->in_off = 0;
        c->in_borrowed = 0;
    } else if (c->in && c->in_len == 0) {
        free(c->in);
        c->in = NULL;
        c->in_cap = c->in_off = 0;
    }
}

static void linger_read(hd_api_conn_t *c)
{
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n > 0) c->lingered += (size_t)n;
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || c->lingered > LINGER_BYTES)
        conn_close(c);
}

static void read_input(hd_api_conn_t *c)
{
    hd_api_t *api = c->api;
    for (;;) {
        if (c->state == C_LINGER) {
            linger_read(c);
            return;
        }
        if (!c->in) {
            if (!api->scratch) api->scratch = hd_xmalloc(SCRATCH_SIZE);
            c->in = api->scratch;
            c->in_cap = SCRATCH_SIZE;
            c->in_off = 0;
            c->in_borrowed = 1;
        } else {
            make_room(c, READ_ROOM);
        }
        char *dst = c->in + c->in_off + c->in_len;
        size_t room = c->in_cap - c->in_off - c->in_len;
        ssize_t n;
        int again = 0;
        if (c->ssl) {
            n = hd_api_tls_read(c->ssl, dst, room);
            if (n == HD_API_TLS_WANT_WRITE) {
                c->tls_read_wants_write = 1;
                want_write(c, 1);
            }
            again = n == HD_API_TLS_WANT_READ || n == HD_API_TLS_WANT_WRITE;
        } else {
            n = read(c->fd, dst, room);
            again = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
        }
        if (n > 0) {
            c->in_len += (size_t)n;
            process(c);
        } else if (n == 0) {
            peer_eof(c);
        } else if (!again) {
            conn_close(c);
        }
        if (!c->dead) save_input(c);
        if (c->dead || n <= 0 || !c->ssl || !c->reading || hd_api_tls_pending(c->ssl) <= 0) return;
    }
}

/* ---- TLS handshake ---------------------------------------------------------- */

static void handshake(hd_api_conn_t *c)
{
    char err[200];
    int rc = hd_api_tls_handshake(c->ssl, err, sizeof(err));
    if (rc == 1) {
        c->state = C_IDLE;
        want_write(c, 0);
        start_reading(c);
        read_input(c); /* OpenSSL may hold request bytes already */
        return;
    }
    if (rc == HD_API_TLS_WANT_READ || rc == HD_API_TLS_WANT_WRITE) {
        want_write(c, rc == HD_API_TLS_WANT_WRITE);
        return;
    }
    c->api->st.tls_failures++;
    if (rc != HD_API_TLS_PLAIN_HTTP) {
        conn_close(c);
        return;
    }
    /* Plain HTTP on the HTTPS port: say so in plain HTTP, then close. */
    hd_api_tls_conn_free(c->ssl, 0);
    c->ssl = NULL;
    static const char body[] = "{\"error\":\"this port speaks HTTPS: use https://\","
                               "\"code\":\"tls_required\"}\n";
    char reply[300];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);
    out_copy(c, reply, (size_t)n);
    c->api->st.replies[4]++;
    c->keep_alive = 0;
    c->linger = 1;
    c->state = C_WRITING;
    lru_set(c, L_NONE);
    flush(c);
}

/* ---- events ------------------------------------------------------------------- */

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_api_conn_t *c = arg;
    enter(c);
    if (c->state == C_HANDSHAKE) {
        handshake(c);
    } else {
        if (c->tls_write_wants_read) {
            c->tls_write_wants_read = 0;
            flush(c);
        }
        if (!c->dead) read_input(c);
    }
    leave(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_api_conn_t *c = arg;
    enter(c);
    if (c->state == C_HANDSHAKE) {
        handshake(c);
    } else {
        if (c->tls_read_wants_write) {
            c->tls_read_wants_write = 0;
            read_input(c);
        }
        if (!c->dead) flush(c);
    }
    leave(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_api_conn_t *c = arg;
    hd_api_t *api = c->api;
    enter(c);
    c->tkind = T_NONE;
    hd_api_head_err_t e = {408, "request_timeout", ""};
    switch (c->state) {
    case C_HEAD:
    case C_BODY:
        api->st.conns_timed_out++;
        snprintf(e.msg, sizeof(e.msg), "the request %s did not arrive within %d ms",
                 c->state == C_HEAD ? "head" : "body",
                 c->state == C_HEAD ? api->o.header_timeout_ms : api->o.body_timeout_ms);
        refuse(c, c->req, &e);
        break;
    case C_WRITING:
    case C_STREAM:
        api->st.send_timeouts++;
        conn_close(c);
        break;
    case C_LINGER:
        conn_close(c);
        break;
    default: /* IDLE, HANDSHAKE */
        api->st.conns_timed_out++;
        conn_close(c);
        break;
    }
    leave(c);
}

/* ---- accepting ---------------------------------------------------------------- */

void hd_api_client_key(const struct sockaddr *sa, char *key, char *ip)
{
    snprintf(key, HD_API_IP_MAX, "unknown");
    snprintf(ip, HD_API_IP_MAX, "unknown");
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, HD_API_IP_MAX);
        snprintf(key, HD_API_IP_MAX, "%s", ip);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            inet_ntop(AF_INET, &a->s6_addr[12], ip, HD_API_IP_MAX);
            snprintf(key, HD_API_IP_MAX, "%s", ip);
            return;
        }
        inet_ntop(AF_INET6, a, ip, HD_API_IP_MAX);
        struct in6_addr net = *a; /* the /64: one client, as ISPs hand out */
        memset(&net.s6_addr[8], 0, 8);
        char p[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &net, p, sizeof(p));
        snprintf(key, HD_API_IP_MAX, "%s/64", p);
    }
}

static void conn_new(hd_api_t *api, int fd, const struct sockaddr *sa)
{
    char key[HD_API_IP_MAX], ip[HD_API_IP_MAX];
    hd_api_client_key(sa, key, ip);
    int64_t now = hd_time_now_us();
    hd_api_client_t *cl = hd_api_client_get(api, key, now);
    if (cl->conns >= api->o.max_conns_per_client) {
        api->st.conns_rejected++;
        close(fd);
        hd_api_client_release(api, cl, now);
        return;
    }
    cl->conns++; /* held: an eviction must not free cl */
    if (api->nconns >= (size_t)api->o.max_conns && !evict(api)) {
        cl->conns--;
        api->st.conns_rejected++;
        close(fd);
        hd_api_client_release(api, cl, now);
        return;
    }
    hd_api_conn_t *c = hd_xcalloc(1, sizeof(*c));
    c->api = api;
    c->fd = fd;
    c->client = cl;
    memcpy(c->ip, ip, sizeof(c->ip));
    /* Replies go out whole: no Nagle delay. And the kernel keeps at most
     * KERNEL_UNSENT bytes not yet sent (write() says EAGAIN past it): by
     * default it grows a send buffer to 4 MB for a client that does not
     * read, memory no bound of heed's would see (measured: 1.5 MB queued
     * per such connection on loopback). */
    int one = 1, lowat = KERNEL_UNSENT;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
    event_assign(&c->rev, api->base, fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(&c->wev, api->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    evtimer_assign(&c->tev, api->base, on_timer, c);
    c->next = api->conns;
    if (api->conns) api->conns->prev = c;
    api->conns = c;
    api->nconns++;
    api->st.conns_open++;
    api->st.conns_accepted++;
    c->fresh = 1;
    c->state = C_IDLE;
    lru_set(c, L_IDLE);
    set_timer(c, api->t_header, T_PHASE);
    if (api->tls) {
        c->ssl = hd_api_tls_conn(api->tls, fd);
        if (!c->ssl) {
            conn_close(c);
            return;
        }
        c->state = C_HANDSHAKE;
    }
    start_reading(c);
}

static void accept_resume(hd_api_t *api)
{
    api->accept_paused = 0;
    evtimer_del(api->resume);
    for (size_t i = 0; i < api->nlisteners; i++)
        event_add(&api->listeners[i]->ev, NULL);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    accept_resume(arg);
}

/* accept() failed for want of descriptors or memory: stop accepting for
 * ACCEPT_PAUSE_MS (or until a connection closes) instead of spinning on a
 * listener that stays readable, and say so at most once a second. */
static void accept_pause(hd_api_t *api, int err)
{
    api->accept_paused = 1;
    api->st.accept_paused++;
    for (size_t i = 0; i < api->nlisteners; i++)
        event_del(&api->listeners[i]->ev);
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    evtimer_add(api->resume, &tv);
    api->accept_errors++;
    int64_t now = hd_time_now_us();
    if (now - api->accept_logged_us < HD_USEC_PER_SEC) return;
    fprintf(stderr,
            "heed: API: cannot accept connections: %s; accepting pauses %d ms each time (%llu "
            "time%s since the last such line). Raise the open-file limit (ulimit -n) or lower "
            "limits.max_conns\n",
            strerror(err), ACCEPT_PAUSE_MS, (unsigned long long)api->accept_errors,
            api->accept_errors == 1 ? "" : "s");
    api->accept_errors = 0;
    api->accept_logged_us = now;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    hd_api_listener_t *l = arg;
    hd_api_t *api = l->api;
    for (int i = 0; i < ACCEPT_BATCH && !api->accept_paused; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_new(api, fd, (struct sockaddr *)&ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        /* Out of descriptors: an idle connection gives one back. */
        if ((errno == EMFILE || errno == ENFILE) && evict(api)) continue;
        accept_pause(api, errno);
        return;
    }
}

int hd_api_listen(hd_api_t *api, const char *host, int port, char *err, size_t errlen)
{
    if (api->o.tls.cert_file && !api->tls) {
        api->tls = hd_api_tls_new(&api->o.tls, err, errlen);
        if (!api->tls) return -1;
        api->tls_rec = hd_xmalloc(TLS_RECORD);
        /* OpenSSL writes with write(2), which raises SIGPIPE when the
         * client has gone (plain replies use MSG_NOSIGNAL). */
        signal(SIGPIPE, SIG_IGN);
    }
    char where[300], ps[16];
    snprintf(where, sizeof(where), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    snprintf(ps, sizeof(ps), "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
#ifdef HEED_STATIC
    /* The static heed has no NSS (glibc's getaddrinfo would dlopen it):
     * an address, or localhost. */
    if (strcasecmp(host, "localhost") == 0) host = "127.0.0.1";
    hints.ai_flags |= AI_NUMERICHOST;
#endif
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
    /* The kernel caps the backlog at net.core.somaxconn. */
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) goto bad;
    hd_api_listener_t *l = hd_xcalloc(1, sizeof(*l));
    l->api = api;
    l->fd = fd;
    event_assign(&l->ev, api->base, fd, EV_READ | EV_PERSIST, on_accept, l);
    if (!api->accept_paused) event_add(&l->ev, NULL);
    api->listeners = hd_xrealloc(api->listeners, (api->nlisteners + 1) * sizeof(*api->listeners));
    api->listeners[api->nlisteners++] = l;
    if (!api->resume) api->resume = evtimer_new(api->base, on_resume, api);
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

void hd_api_conn_close_all(hd_api_t *api)
{
    while (api->conns)
        conn_close(api->conns);
    for (size_t i = 0; i < api->nlisteners; i++) {
        event_del(&api->listeners[i]->ev);
        close(api->listeners[i]->fd);
        free(api->listeners[i]);
    }
    free(api->listeners);
    api->listeners = NULL;
    api->nlisteners = 0;
    if (api->resume) event_free(api->resume);
    api->resume = NULL;
}
