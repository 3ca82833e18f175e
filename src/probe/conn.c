/* conn — the stream-socket probes: tcp://, unix://, and the protocols of
 * proto.h on top of them. Resolve (asynchronously), connect to each address
 * in turn, send the protocol's hello, read until the protocol gives a
 * verdict. A plain tcp:// or unix:// probe passes once connected. */
#include "probe/probe_impl.h"
#include "probe/proto.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct conn_s {
    hd_probe_t *p;
    const hd_proto_t *proto; /* NULL: connecting is the whole check */
    hd_resolve_req_t *rq;
    /* &addr1, or the resolver's answers (allocated): a literal address, the
     * common case, needs no room for HD_RESOLVE_MAX_ADDRS of them. */
    struct sockaddr_storage *addrs;
    struct sockaddr_storage addr1;
    int naddrs;
    int ai; /* the address being tried */
    int fd;
    struct event *ev;
    hd_buf_t out;
    size_t out_off;
    uint8_t *in;
    size_t in_len;
    hd_reason_t last_reason;
    char last_msg[128];
    int starting; /* inside conn_start(): results must wait for the loop */
} conn_t;

static void try_next(conn_t *c);

static const hd_proto_t *proto_of(hd_kind_t k)
{
    switch (k) {
    case HD_KIND_PG:
        return &hd_proto_pg;
    case HD_KIND_MYSQL:
        return &hd_proto_mysql;
    case HD_KIND_REDIS:
        return &hd_proto_redis;
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
    hd_resolve_cancel(c->rq);
    close_fd(c);
    if (c->addrs != &c->addr1) free(c->addrs);
    hd_buf_free(&c->out);
    free(c->in);
    free(c);
    p->impl = NULL;
}

/* Ends the probe; from inside conn_start() the result waits for the loop. */
__attribute__((format(printf, 4, 5))) static void done(conn_t *c, hd_status_t st, hd_reason_t r,
                                                       const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->starting)
        hd_probe_done_soon(c->p, st, r, "%s", msg);
    else
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

/* A TCP connect to a local port nobody listens on can succeed by meeting
 * itself: the kernel picked the destination port as the source port (a
 * "simultaneous open"). That is no server, and it holds the port the server
 * is about to bind; it is reported as refused. */
static int self_connected(int fd)
{
    struct sockaddr_storage a, b;
    socklen_t alen = sizeof(a), blen = sizeof(b);
    if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0 ||
        getpeername(fd, (struct sockaddr *)&b, &blen) < 0)
        return 0;
    if (alen != blen || a.ss_family != b.ss_family) return 0;
    if (a.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a, *y = (const void *)&b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a, *y = (const void *)&b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return 0;
}

static void want(conn_t *c, short what)
{
    if (c->ev) event_free(c->ev);
    c->ev = event_new(c->p->env->base, c->fd, what, on_io, c);
    event_add(c->ev, NULL);
}

static void connected(conn_t *c)
{
    if (!c->proto) {
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
    }
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    conn_t *c = arg;
    if (c->proto == NULL || c->in == NULL) {
        /* connect completion */
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (!err && self_connected(c->fd)) err = ECONNREFUSED;
        if (err) {
            c->last_reason = err == ECONNREFUSED ? HD_R_CONNECT_REFUSED : HD_R_CONNECT_FAIL;
            snprintf(c->last_msg, sizeof(c->last_msg), "%s",
                     err == ECONNREFUSED ? "connection refused" : strerror(err));
            close_fd(c);
            c->ai++;
            try_next(c);
            return;
        }
        connected(c);
        return;
    }
    if (what & EV_WRITE)
        do_write(c);
    else
        do_read(c);
}

static void try_next(conn_t *c)
{
    const hd_target_t *t = c->p->t;
    for (; c->ai < c->naddrs; c->ai++) {
        struct sockaddr_storage *ss = &c->addrs[c->ai];
        socklen_t len = ss->ss_family == AF_INET    ? sizeof(struct sockaddr_in)
                        : ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                    : sizeof(struct sockaddr_un);
        c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            c->last_reason = HD_R_CONNECT_FAIL;
            snprintf(c->last_msg, sizeof(c->last_msg), "socket: %s", strerror(errno));
            continue;
        }
        if (connect(c->fd, (struct sockaddr *)ss, len) == 0) {
            if (self_connected(c->fd)) {
                close_fd(c);
                c->last_reason = HD_R_CONNECT_REFUSED;
                snprintf(c->last_msg, sizeof(c->last_msg), "connection refused");
                continue;
            }
            connected(c);
            return;
        }
        if (errno == EINPROGRESS) {
            want(c, EV_WRITE);
            return;
        }
        int err = errno;
        close_fd(c);
        if (err == ECONNREFUSED || (t->kind == HD_KIND_UNIX && err == EAGAIN)) {
            c->last_reason = HD_R_CONNECT_REFUSED;
            snprintf(c->last_msg, sizeof(c->last_msg), "%s",
                     err == EAGAIN ? "listen queue full" : "connection refused");
        } else if (t->kind == HD_KIND_UNIX && err == ENOENT) {
            c->last_reason = HD_R_NO_SOCKET;
            snprintf(c->last_msg, sizeof(c->last_msg), "socket does not exist");
        } else {
            c->last_reason = HD_R_CONNECT_FAIL;
            snprintf(c->last_msg, sizeof(c->last_msg), "connect: %s", strerror(err));
        }
    }
    done(c, HD_STATUS_CRITICAL, c->last_reason, "%s", c->last_msg);
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, int naddrs,
                        const char *msg, void *arg)
{
    conn_t *c = arg;
    c->rq = NULL;
    if (status != HD_RESOLVE_OK) {
        done(c, HD_STATUS_CRITICAL,
             status == HD_RESOLVE_NOTFOUND ? HD_R_DNS_NOT_FOUND : HD_R_DNS_FAIL, "%s: %s",
             c->p->t->host, msg);
        return;
    }
    if (naddrs > 1) c->addrs = hd_xmalloc((size_t)naddrs * sizeof(addrs[0]));
    memcpy(c->addrs, addrs, (size_t)naddrs * sizeof(addrs[0]));
    c->naddrs = naddrs;
    try_next(c);
}

/* Fills c->addrs for a literal address; returns 0 when host is not one. */
static int literal(conn_t *c, const char *host, int port)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&c->addrs[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->addrs[0];
    memset(&c->addrs[0], 0, sizeof(c->addrs[0]));
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else if (!strchr(host, '%') && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
    } else {
        return 0; /* a name, or a scoped IPv6 address: the resolver handles both */
    }
    c->naddrs = 1;
    return 1;
}

static int conn_start(hd_probe_t *p)
{
    const hd_target_t *t = p->t;
    conn_t *c = hd_xcalloc(1, sizeof(*c));
    c->p = p;
    c->fd = -1;
    c->addrs = &c->addr1;
    c->proto = proto_of(t->kind);
    c->last_reason = HD_R_CONNECT_FAIL;
    c->starting = 1;
    p->impl = c;
    if (t->kind == HD_KIND_UNIX) {
        struct sockaddr_un *su = (struct sockaddr_un *)&c->addrs[0];
        memset(su, 0, sizeof(*su));
        su->sun_family = AF_UNIX;
        snprintf(su->sun_path, sizeof(su->sun_path), "%s", t->path);
        c->naddrs = 1;
        try_next(c);
        c->starting = 0;
        return 0;
    }
    if (literal(c, t->host, t->port)) {
        try_next(c);
        c->starting = 0;
        return 0;
    }
    if (!p->env->resolver) {
        char err[128];
        p->env->resolver = hd_resolver_new(p->env->base, err, sizeof(err));
        if (!p->env->resolver) {
            hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_DNS_FAIL, "%s", err);
            return 0;
        }
    }
    c->rq = hd_resolve(p->env->resolver, t->host, t->port, AF_UNSPEC, on_resolved, c);
    c->starting = 0;
    return 0;
}

const hd_probe_kind_t hd_probe_conn = {conn_start, conn_stop};
