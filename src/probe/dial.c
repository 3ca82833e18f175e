/* dial — resolve, then connect to each address in turn (see dial.h). */
#include "probe/dial.h"
#include "util/mem.h"
#include "util/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct hd_dial_s {
    hd_probe_env_t *env;
    hd_dial_cb cb;
    void *arg;
    hd_resolve_req_t *rq;
    struct sockaddr_storage addrs[HD_RESOLVE_MAX_ADDRS];
    int naddrs;
    int ai; /* the address being tried */
    int fd;
    struct event *ev;      /* the connect in progress */
    struct event *deliver; /* hands a result known inside hd_dial_start() to the loop */
    hd_reason_t reason;    /* of the last failure */
    char msg[160];
};

static void try_next(hd_dial_t *d);

static void close_fd(hd_dial_t *d)
{
    if (d->ev) {
        event_free(d->ev);
        d->ev = NULL;
    }
    if (d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
}

void hd_dial_cancel(hd_dial_t *d)
{
    if (!d) return;
    hd_resolve_cancel(d->rq);
    close_fd(d);
    event_free(d->deliver);
    free(d);
}

/* Runs the callback with the connected socket or the last failure. */
static void finish(hd_dial_t *d)
{
    int fd = d->fd;
    d->fd = -1;
    hd_dial_cb cb = d->cb;
    void *arg = d->arg;
    hd_reason_t reason = d->reason;
    char msg[sizeof(d->msg)];
    memcpy(msg, d->msg, sizeof(msg));
    hd_dial_cancel(d);
    cb(fd, reason, msg, arg);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg);
}

static void failed(hd_dial_t *d, int err)
{
    d->reason = err == ECONNREFUSED ? HD_R_CONNECT_REFUSED : HD_R_CONNECT_FAIL;
    snprintf(d->msg, sizeof(d->msg), "%s",
             err == ECONNREFUSED ? "connection refused" : strerror(err));
    close_fd(d);
}

/* A TCP connect to a local port nobody listens on can meet itself (the
 * kernel picked the destination port as the source port): no server, as
 * conn.c explains. */
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

static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_dial_t *d = arg;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (!err && self_connected(d->fd)) err = ECONNREFUSED;
    if (err) {
        failed(d, err);
        d->ai++;
        try_next(d);
        return;
    }
    finish(d);
}

/* Tries the addresses from d->ai on; hands any result known now to the loop. */
static void try_next(hd_dial_t *d)
{
    for (; d->ai < d->naddrs; d->ai++) {
        struct sockaddr_storage *ss = &d->addrs[d->ai];
        socklen_t len =
            ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        d->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (d->fd < 0) {
            d->reason = HD_R_CONNECT_FAIL;
            snprintf(d->msg, sizeof(d->msg), "socket: %s", strerror(errno));
            continue;
        }
        if (connect(d->fd, (struct sockaddr *)ss, len) == 0 || errno == EINPROGRESS) {
            d->ev = event_new(d->env->base, d->fd, EV_WRITE, on_connect, d);
            event_add(d->ev, NULL);
            return;
        }
        failed(d, errno);
    }
    event_active(d->deliver, 0, 0);
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, int naddrs,
                        const char *msg, void *arg)
{
    hd_dial_t *d = arg;
    d->rq = NULL;
    if (status != HD_RESOLVE_OK) {
        d->reason = status == HD_RESOLVE_NOTFOUND ? HD_R_DNS_NOT_FOUND : HD_R_DNS_FAIL;
        snprintf(d->msg, sizeof(d->msg), "%s", msg);
        finish(d);
        return;
    }
    memcpy(d->addrs, addrs, (size_t)naddrs * sizeof(addrs[0]));
    d->naddrs = naddrs;
    try_next(d);
}

/* Fills d->addrs[0] for a literal address; 0 when host is not one. */
static int literal(hd_dial_t *d, const char *host, int port)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&d->addrs[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d->addrs[0];
    memset(&d->addrs[0], 0, sizeof(d->addrs[0]));
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else if (!strchr(host, '%') && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
    } else {
        return 0;
    }
    d->naddrs = 1;
    return 1;
}

hd_dial_t *hd_dial_start(hd_probe_env_t *env, const char *host, int port, hd_dial_cb cb, void *arg)
{
    hd_dial_t *d = hd_xcalloc(1, sizeof(*d));
    d->env = env;
    d->cb = cb;
    d->arg = arg;
    d->fd = -1;
    d->reason = HD_R_CONNECT_FAIL;
    snprintf(d->msg, sizeof(d->msg), "no address to connect to");
    d->deliver = event_new(env->base, -1, 0, on_deliver, d);
    if (literal(d, host, port)) {
        try_next(d);
        return d;
    }
    if (!env->resolver) env->resolver = hd_resolver_new(env->base, d->msg, sizeof(d->msg));
    if (!env->resolver) {
        d->reason = HD_R_DNS_FAIL;
        event_active(d->deliver, 0, 0);
        return d;
    }
    d->rq = hd_resolve(env->resolver, host, port, AF_UNSPEC, on_resolved, d);
    return d;
}
