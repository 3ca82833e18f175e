/* conn — the stream-socket probes: tcp://, unix://, and the protocols of
 * proto.h on top of them. The connection comes from dial.h (resolve,
 * connect to each address in turn, the connect's errors); this file sends
 * the protocol's hello and reads until the protocol gives a verdict. A
 * plain tcp:// or unix:// probe passes once connected. */
#include "probe/dial.h"
#include "probe/probe_impl.h"
#include "probe/proto.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn_s {
    hd_probe_t *p;
    const hd_proto_t *proto; /* NULL: connecting is the whole check */
    hd_dial_t dial;          /* idle once it has handed over fd */
    int fd;
    struct event *ev;
    hd_buf_t out;
    size_t out_off;
    int answered; /* the protocol's answer (hd_proto_t.answer) is queued */
    uint8_t *in;
    size_t in_len;
} conn_t;

static const hd_proto_t *proto_of(hd_kind_t k)
{
    switch (k) {
    case HD_KIND_PG:
        return &hd_proto_pg;
    case HD_KIND_MYSQL:
        return &hd_proto_mysql;
    case HD_KIND_REDIS:
        return &hd_proto_redis;
    case HD_KIND_HTTP: /* only where probe.c sends http here: the static build */
        return &hd_proto_http1;
    default:
        return NULL;
    }
}

static void close_fd(conn_t *c)
{
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static void conn_stop(hd_probe_t *p)
{
    conn_t *c = p->impl;
    if (!c) return;
    hd_dial_cancel(&c->dial);
    close_fd(c);
    hd_buf_free(&c->out);
    free(c->in);
    free(c);
    p->impl = NULL;
}

/* Ends the probe, with the message cut to 255 bytes. Always from the loop:
 * conn_start() only starts the dial, whose callback comes from the loop. */
__attribute__((format(printf, 4, 5))) static void done(conn_t *c, hd_status_t st, hd_reason_t r,
                                                       const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hd_probe_done(c->p, st, r, "%s", msg);
}

static void verdict(conn_t *c, const hd_verdict_t *v)
{
    if (c->proto && c->proto->bye && c->fd >= 0) {
        hd_buf_t bye = {0};
        c->proto->bye(c->p->t, &bye);
        /* Best effort: the verdict is already known, the server may be gone. */
        if (bye.len) (void)!send(c->fd, bye.data, bye.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        hd_buf_free(&bye);
    }
    done(c, v->status, v->reason, "%s", v->msg);
}

static void fail(conn_t *c, hd_reason_t r, const char *fmt, const char *arg)
{
    done(c, HD_STATUS_CRITICAL, r, fmt, arg);
}

static void on_io(evutil_socket_t fd, short what, void *arg);

static void want(conn_t *c, short what)
{
    if (c->ev) event_free(c->ev);
    c->ev = event_new(c->p->env->base, c->fd, what, on_io, c);
    event_add(c->ev, NULL);
}

static void connected(conn_t *c)
{
    if (!c->proto) {
        /* A plain tcp:// check closes with RST (SO_LINGER 0), as HAProxy's
         * checks do: no TIME_WAIT left behind, so thousands of checks a
         * second neither fill the kernel's TIME_WAIT table nor run out of
         * ephemeral ports towards one server, and the close costs a
         * quarter of what a FIN exchange does. ?close=graceful opts out,
         * for servers that log resets. Protocol checks always close
         * gracefully: they have spoken, and their servers log aborts. */
        if (c->p->t->kind == HD_KIND_TCP && !c->p->t->tcp_graceful) {
            struct linger l = {.l_onoff = 1, .l_linger = 0};
            (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        done(c, HD_STATUS_PASSING, HD_R_OK, "connected");
        return;
    }
    c->proto->hello(c->p->t, &c->out);
    c->in = hd_xmalloc(HD_PROTO_READ_MAX);
    want(c, c->out.len ? EV_WRITE | EV_PERSIST : EV_READ | EV_PERSIST);
}

static void do_write(conn_t *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            if (errno == EPIPE || errno == ECONNRESET) {
                fail(c, HD_R_CLOSED, "%s", "connection closed by the server");
                return;
            }
            fail(c, HD_R_IO_FAIL, "write: %s", strerror(errno));
            return;
        }
        c->out_off += (size_t)n;
    }
    want(c, EV_READ | EV_PERSIST);
}

static void do_read(conn_t *c)
{
    hd_verdict_t v;
    for (;;) {
        if (c->in_len == HD_PROTO_READ_MAX) {
            fail(c, HD_R_REPLY_TOO_LARGE, "reply larger than %s bytes without an answer", "65536");
            return;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, HD_PROTO_READ_MAX - c->in_len, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            if (errno == ECONNRESET) {
                fail(c, HD_R_CLOSED, "%s", "connection reset by the server");
                return;
            }
            fail(c, HD_R_IO_FAIL, "read: %s", strerror(errno));
            return;
        }
        if (n == 0) {
            memset(&v, 0, sizeof(v));
            if (c->proto->eof && c->proto->eof(c->p->t, c->in, c->in_len, &v) == HD_PARSE_DONE) {
                verdict(c, &v);
                return;
            }
            fail(c, HD_R_CLOSED, "%s",
                 c->in_len ? "connection closed in the middle of a reply"
                           : "connection closed before any reply");
            return;
        }
        c->in_len += (size_t)n;
        memset(&v, 0, sizeof(v));
        if (c->proto->parse(c->p->t, c->in, c->in_len, &v) == HD_PARSE_DONE) {
            verdict(c, &v);
            return;
        }
        if (c->proto->answer && !c->answered) {
            size_t before = c->out.len;
            c->proto->answer(c->p->t, c->in, c->in_len, &c->out);
            if (c->out.len > before) {
                c->answered = 1;
                want(c, EV_WRITE | EV_PERSIST);
                return;
            }
        }
    }
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    conn_t *c = arg;
    if (what & EV_WRITE)
        do_write(c);
    else
        do_read(c);
}

static void on_dialed(int fd, hd_reason_t reason, const char *msg, void *arg)
{
    conn_t *c = arg;
    if (fd < 0) {
        done(c, HD_STATUS_CRITICAL, reason, "%s", msg);
        return;
    }
    c->fd = fd;
    connected(c);
}

static int conn_start(hd_probe_t *p)
{
    const hd_target_t *t = p->t;
    conn_t *c = hd_xcalloc(1, sizeof(*c));
    c->p = p;
    c->fd = -1;
    c->proto = proto_of(t->kind);
    p->impl = c;
    if (t->kind == HD_KIND_UNIX)
        hd_dial_start_unix(&c->dial, p->env, t->path, on_dialed, c);
    else
        hd_dial_start(&c->dial, p->env, t->host, t->port, on_dialed, c);
    return 0;
}

const hd_probe_kind_t hd_probe_conn = {conn_start, conn_stop};
