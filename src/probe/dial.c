/* dial — resolve, then connect to each address in turn (see dial.h). It
 * owns the connect and its errors: which errno is "connection refused", a
 * missing unix socket, the self-connect rule. It does not own anything said
 * over the connection. */
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
#include <sys/un.h>
#include <unistd.h>

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
    if (!d || !d->cb) return;
    hd_resolve_cancel(d->rq);
    d->rq = NULL;
    close_fd(d);
    if (d->addrs != &d->addr1) free(d->addrs);
    d->addrs = NULL;
    d->cb = NULL;
}

/* Leaves the dial idle, then runs the callback with fd (handed over) or with
 * reason and msg. */
static void end(hd_dial_t *d, int fd, hd_reason_t reason, const char *msg)
{
    hd_dial_cb cb = d->cb;
    void *arg = d->arg;
    hd_dial_cancel(d);
    cb(fd, reason, msg, arg);
}

/* Runs the callback with the connected socket or the last failure. */
static void finish(hd_dial_t *d)
{
    int fd = d->fd;
    d->fd = -1;
    if (fd >= 0) {
        end(d, fd, HD_R_OK, "");
        return;
    }
    /* A copy: the callback may free the memory that holds the dial. */
    char msg[sizeof(d->msg)];
    memcpy(msg, d->msg, sizeof(msg));
    end(d, -1, d->reason, msg);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg);
}

/* Finishes from the loop, or, inside a start function, on its next turn.
 * Only results known inside start pay for the delivery event: a connect in
 * progress, the usual case for TCP, finishes from its own event. */
static void finish_soon(hd_dial_t *d)
{
    if (!d->starting) {
        finish(d);
        return;
    }
    d->ev = event_new(d->env->base, -1, 0, on_deliver, d);
    event_active(d->ev, 0, 0);
}

/* Records why connect() failed at once, and closes the socket. */
static void failed_now(hd_dial_t *d, int err)
{
    int unix_socket = d->addrs[d->ai].ss_family == AF_UNIX;
    close_fd(d);
    if (err == ECONNREFUSED || (unix_socket && err == EAGAIN)) {
        d->reason = HD_R_CONNECT_REFUSED;
        snprintf(d->msg, sizeof(d->msg), "%s",
                 err == EAGAIN ? "listen queue full" : "connection refused");
    } else if (unix_socket && err == ENOENT) {
        d->reason = HD_R_NO_SOCKET;
        snprintf(d->msg, sizeof(d->msg), "socket does not exist");
    } else {
        d->reason = HD_R_CONNECT_FAIL;
        snprintf(d->msg, sizeof(d->msg), "connect: %s", strerror(err));
    }
}

/* The lowest port the kernel picks for an unbound connect, read once;
 * 1 (check every connect) when it cannot be read. */
static int ephemeral_low(void)
{
    static int low;
    if (!low) {
        int lo = 1, hi = 0;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
        if (f) {
            if (fscanf(f, "%d %d", &lo, &hi) != 2 || lo < 1) lo = 1;
            fclose(f);
        }
        low = lo;
    }
    return low;
}

/* A TCP connect to a local port nobody listens on can succeed by meeting
 * itself: the kernel picked the destination port as the source port (a
 * "simultaneous open"). That is no server, and it holds the port the server
 * is about to bind; it is reported as refused. Only a destination port the
 * kernel could pick as a source port can meet itself, so the others skip
 * the getsockname(). (A port range lowered while heed runs is not seen.) */
static int self_connected(int fd, const struct sockaddr_storage *to)
{
    int port = to->ss_family == AF_INET    ? ntohs(((const struct sockaddr_in *)to)->sin_port)
               : to->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)to)->sin6_port)
                                           : 0;
    if (port < ephemeral_low()) return 0;
    struct sockaddr_storage a;
    socklen_t alen = sizeof(a);
    if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0 || a.ss_family != to->ss_family) return 0;
    if (a.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a, *y = (const void *)to;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)&a, *y = (const void *)to;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* The end of a connect that was in progress; always from the loop. */
static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_dial_t *d = arg;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (!err && self_connected(d->fd, &d->addrs[d->ai])) err = ECONNREFUSED;
    if (err) {
        close_fd(d);
        d->reason = err == ECONNREFUSED ? HD_R_CONNECT_REFUSED : HD_R_CONNECT_FAIL;
        snprintf(d->msg, sizeof(d->msg), "%s",
                 err == ECONNREFUSED ? "connection refused" : strerror(err));
        d->ai++;
        try_next(d);
        return;
    }
    finish(d);
}

/* Tries the addresses from d->ai on, until one connects or is in progress. */
static void try_next(hd_dial_t *d)
{
    for (; d->ai < d->naddrs; d->ai++) {
        struct sockaddr_storage *ss = &d->addrs[d->ai];
        socklen_t len = ss->ss_family == AF_INET    ? sizeof(struct sockaddr_in)
                        : ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                    : sizeof(struct sockaddr_un);
        d->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (d->fd < 0) {
            d->reason = HD_R_CONNECT_FAIL;
            snprintf(d->msg, sizeof(d->msg), "socket: %s", strerror(errno));
            continue;
        }
        int rc = connect(d->fd, (struct sockaddr *)ss, len);
        if (rc < 0 && errno == EINPROGRESS) {
            /* To a local address the handshake has usually finished inside
             * connect() (loopback runs the server's side in the same call),
             * and a second connect() says so: 0 once established, the error
             * once refused, EALREADY while in progress. That spares most
             * local checks the poll registration and a loop turn, for one
             * cheap syscall more on remote ones. */
            rc = connect(d->fd, (struct sockaddr *)ss, len);
            if (rc < 0 && errno == EISCONN) rc = 0;
            if (rc < 0 && (errno == EALREADY || errno == EINPROGRESS)) {
                d->ev = event_new(d->env->base, d->fd, EV_WRITE, on_connect, d);
                event_add(d->ev, NULL);
                return;
            }
        }
        if (rc < 0) {
            failed_now(d, errno);
            continue;
        }
        if (self_connected(d->fd, ss)) {
            close_fd(d);
            d->reason = HD_R_CONNECT_REFUSED;
            snprintf(d->msg, sizeof(d->msg), "connection refused");
            continue;
        }
        finish_soon(d);
        return;
    }
    finish_soon(d);
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, int naddrs,
                        const char *msg, void *arg)
{
    hd_dial_t *d = arg;
    d->rq = NULL;
    if (status != HD_RESOLVE_OK) {
        char m[256];
        snprintf(m, sizeof(m), "%s: %s", d->host, msg);
        end(d, -1, status == HD_RESOLVE_NOTFOUND ? HD_R_DNS_NOT_FOUND : HD_R_DNS_FAIL, m);
        return;
    }
    if (naddrs > 1) d->addrs = hd_xmalloc((size_t)naddrs * sizeof(addrs[0]));
    memcpy(d->addrs, addrs, (size_t)naddrs * sizeof(addrs[0]));
    d->naddrs = naddrs;
    try_next(d);
}

/* Fills d->addr1 for a literal address; 0 when host is not one. */
static int literal(hd_dial_t *d, const char *host, int port)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&d->addr1;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d->addr1;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else if (!strchr(host, '%') && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
    } else {
        return 0; /* a name, or a scoped IPv6 address: the resolver handles both */
    }
    d->naddrs = 1;
    return 1;
}

static void init(hd_dial_t *d, hd_probe_env_t *env, const char *host, hd_dial_cb cb, void *arg)
{
    memset(d, 0, sizeof(*d));
    d->env = env;
    d->cb = cb;
    d->arg = arg;
    d->host = host;
    d->addrs = &d->addr1;
    d->fd = -1;
    d->reason = HD_R_CONNECT_FAIL;
    snprintf(d->msg, sizeof(d->msg), "no address to connect to");
}

void hd_dial_start(hd_dial_t *d, hd_probe_env_t *env, const char *host, int port, hd_dial_cb cb,
                   void *arg)
{
    init(d, env, host, cb, arg);
    d->starting = 1;
    if (literal(d, host, port)) {
        try_next(d);
    } else {
        if (!env->resolver) env->resolver = hd_resolver_new(env->base, d->msg, sizeof(d->msg));
        if (env->resolver) {
            d->rq = hd_resolve(env->resolver, host, port, AF_UNSPEC, on_resolved, d);
        } else {
            d->reason = HD_R_DNS_FAIL;
            finish_soon(d);
        }
    }
    d->starting = 0;
}

void hd_dial_start_unix(hd_dial_t *d, hd_probe_env_t *env, const char *path, hd_dial_cb cb,
                        void *arg)
{
    init(d, env, NULL, cb, arg);
    struct sockaddr_un *su = (struct sockaddr_un *)&d->addr1;
    su->sun_family = AF_UNIX;
    snprintf(su->sun_path, sizeof(su->sun_path), "%s", path);
    d->naddrs = 1;
    d->starting = 1;
    try_next(d);
    d->starting = 0;
}
