/* icmp — the ICMP echo engine (sockets, the table of requests in flight,
 * deadlines) and the icmp:// probe kind built on it. Packet bytes are built
 * and parsed in icmp_packet.c; this file never reads a packet field itself.
 *
 * Decisions worth knowing:
 * - One socket per family for all requests; a receive buffer of 8 MB
 *   (SO_RCVBUFFORCE when privileged) so that a burst of replies to a fast
 *   sweep waits in the kernel instead of being lost.
 * - The ICMP id is random per engine on raw sockets, and replies with
 *   another id are dropped (another pinger on the host). Ping sockets get
 *   their id from the kernel, which also delivers only our replies.
 * - The 64-bit nonce is a random base plus a counter, so a nonce seen again
 *   after its request left the table can be told from a stranger's: it is
 *   counted as late or duplicate.
 * - A deadline that fires first drains the sockets, so a reply already
 *   queued when the timer runs still counts.
 * - ICMP errors on raw sockets arrive as packets quoting our request; on
 *   ping sockets through the error queue (IP_RECVERR), with our request as
 *   the payload. Both reach the caller as ERROR notices. */
#include "probe/icmp.h"
#include "probe/icmp_packet.h"
#include "probe/probe_impl.h"
#include "util/heap.h"
#include "util/mem.h"
#include "util/resolver.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define RCVBUF_BYTES (8 * 1024 * 1024)
#define RECV_BATCH   32   /* datagrams per recvmmsg() */
#define RECV_BUDGET  4096 /* datagrams per wake-up before other events get a turn */
#define SLOT_MIN     2048 /* bytes per receive slot; grows with the largest request */

/* ICMP_FILTER from <linux/icmp.h>, which clashes with glibc's headers. */
#define HD_SOL_RAW     255
#define HD_ICMP_FILTER 1

struct hd_icmp_req_s {
    hd_heap_node_t node; /* deadline; first, so a node pointer is the request */
    uint64_t nonce;
    hd_icmp_req_t *next; /* hash chain */
    hd_icmp_cb cb;
    void *arg;
    uint32_t tag;
    uint8_t v6;
    uint8_t addr[16]; /* destination */
};

typedef struct sock_s {
    int fd;
    int raw;
    struct event *ev;
} sock_t;

struct hd_icmp_s {
    struct event_base *base;
    sock_t s4, s6;
    uint16_t id;
    uint64_t nonce_base, counter;
    hd_icmp_req_t **buckets;
    size_t nbuckets; /* a power of two */
    hd_heap_t deadlines;
    struct event *timer;
    int64_t timer_at; /* the deadline the timer is armed for; 0 when idle */
    uint8_t *slots;   /* RECV_BATCH receive buffers */
    size_t slot_len;
    uint8_t *txbuf;
    size_t txcap;
    hd_icmp_stats_t st;
};

static uint64_t mix(uint64_t x)
{
    /* splitmix64's finaliser: consecutive nonces land in unrelated buckets */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static hd_icmp_req_t **bucket(hd_icmp_t *e, uint64_t nonce)
{
    return &e->buckets[mix(nonce) & (e->nbuckets - 1)];
}

static void grow_table(hd_icmp_t *e)
{
    size_t n = e->nbuckets ? e->nbuckets * 2 : 256;
    hd_icmp_req_t **old = e->buckets;
    size_t oldn = e->nbuckets;
    e->buckets = hd_xcalloc(n, sizeof(*e->buckets));
    e->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        hd_icmp_req_t *q = old[i];
        while (q) {
            hd_icmp_req_t *next = q->next;
            hd_icmp_req_t **b = bucket(e, q->nonce);
            q->next = *b;
            *b = q;
            q = next;
        }
    }
    free(old);
}

static hd_icmp_req_t *lookup(hd_icmp_t *e, uint64_t nonce)
{
    if (!e->nbuckets) return NULL;
    for (hd_icmp_req_t *q = *bucket(e, nonce); q; q = q->next)
        if (q->nonce == nonce) return q;
    return NULL;
}

static void unlink_req(hd_icmp_t *e, hd_icmp_req_t *req)
{
    for (hd_icmp_req_t **pp = bucket(e, req->nonce); *pp; pp = &(*pp)->next) {
        if (*pp == req) {
            *pp = req->next;
            break;
        }
    }
    hd_heap_remove(&e->deadlines, &req->node);
    e->st.in_flight--;
}

static void arm_timer(hd_icmp_t *e)
{
    hd_heap_node_t *top = hd_heap_top(&e->deadlines);
    if (!top) {
        if (e->timer_at) evtimer_del(e->timer);
        e->timer_at = 0;
        return;
    }
    if (e->timer_at == top->key) return;
    int64_t d = top->key - hd_time_now_us();
    if (d < 0) d = 0;
    struct timeval tv = {(time_t)(d / HD_USEC_PER_SEC), (suseconds_t)(d % HD_USEC_PER_SEC)};
    evtimer_add(e->timer, &tv);
    e->timer_at = top->key;
}

static void on_readable(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

static int read_int_file(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *ok = fgets(out, (int)outlen, f);
    fclose(f);
    if (!ok) return -1;
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

static void close_sock(sock_t *s)
{
    if (s->ev) event_free(s->ev);
    if (s->fd >= 0) close(s->fd);
    s->ev = NULL;
    s->fd = -1;
}

static int setup_raw(int fd, int v6)
{
    if (!v6) {
        /* Pass only echo replies and the errors that can quote a request:
         * on loopback the socket would otherwise see our own requests too. */
        uint32_t pass = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 11) | (1u << 12);
        uint32_t block = ~pass;
        return setsockopt(fd, HD_SOL_RAW, HD_ICMP_FILTER, &block, sizeof(block));
    }
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
    ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
    ICMP6_FILTER_SETPASS(ICMP6_PACKET_TOO_BIG, &f);
    ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
    ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &f);
    return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
}

static int open_kind(int family, int raw)
{
    int v6 = family == AF_INET6;
    int fd = socket(family, (raw ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    if (fd < 0) return -errno;
    int rc = 0, one = 1;
    if (raw)
        rc = setup_raw(fd, v6);
    else if (v6)
        rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
    else
        rc = setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
    if (rc < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    int sz = RCVBUF_BYTES;
    /* FORCE passes net.core.rmem_max when privileged; otherwise the plain
     * option gives what rmem_max allows, which is still the best we can do. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    return fd;
}

int hd_icmp_open(hd_icmp_t *e, int family, char *err, size_t errlen)
{
    sock_t *s = family == AF_INET6 ? &e->s6 : &e->s4;
    if (s->fd >= 0) return 0;
    const char *force = getenv("HEED_ICMP_SOCKET");
    int try_raw = !force || strcmp(force, "dgram") != 0;
    int try_dgram = !force || strcmp(force, "raw") != 0;
    int raw_err = 0, dgram_err = 0, fd = -1;
    if (try_raw) {
        fd = open_kind(family, 1);
        if (fd >= 0)
            s->raw = 1;
        else
            raw_err = -fd;
    }
    if (fd < 0 && try_dgram) {
        fd = open_kind(family, 0);
        if (fd >= 0)
            s->raw = 0;
        else
            dgram_err = -fd;
    }
    if (fd < 0) {
        char range[64] = "?";
        if (read_int_file("/proc/sys/net/ipv4/ping_group_range", range, sizeof(range)) == 0)
            for (char *c = range; *c; c++)
                if (*c == '\t') *c = ' ';
        const char *fam = family == AF_INET6 ? "ICMPv6" : "ICMP";
        if (try_raw && try_dgram)
            snprintf(err, errlen,
                     "cannot open an %s socket: raw socket: %s (needs root or CAP_NET_RAW); "
                     "unprivileged ping socket: %s (group %u is outside "
                     "net.ipv4.ping_group_range '%s')",
                     fam, strerror(raw_err), strerror(dgram_err), (unsigned)getgid(), range);
        else if (try_raw)
            snprintf(err, errlen, "cannot open a raw %s socket: %s (HEED_ICMP_SOCKET=raw)", fam,
                     strerror(raw_err));
        else
            snprintf(err, errlen,
                     "cannot open an unprivileged %s ping socket: %s (HEED_ICMP_SOCKET=dgram; "
                     "net.ipv4.ping_group_range is '%s')",
                     fam, strerror(dgram_err), range);
        return -1;
    }
    s->fd = fd;
    s->ev = event_new(e->base, fd, EV_READ | EV_PERSIST, on_readable, e);
    event_add(s->ev, NULL);
    return 0;
}

hd_icmp_t *hd_icmp_new(struct event_base *base)
{
    hd_icmp_t *e = hd_xcalloc(1, sizeof(*e));
    e->base = base;
    e->s4.fd = e->s6.fd = -1;
    uint64_t rnd[2] = {0, 0};
    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        /* No entropy yet (early boot): the nonce must only be unpredictable
         * enough not to collide with another instance; time and pid do. */
        rnd[0] = (uint64_t)hd_time_now_us() ^ ((uint64_t)getpid() << 32);
        rnd[1] = mix(rnd[0]);
    }
    e->id = (uint16_t)(rnd[0] ^ (rnd[0] >> 16));
    e->nonce_base = rnd[1];
    e->timer = evtimer_new(base, on_timer, e);
    return e;
}

void hd_icmp_free(hd_icmp_t *e)
{
    if (!e) return;
    close_sock(&e->s4);
    close_sock(&e->s6);
    for (size_t i = 0; i < e->nbuckets; i++) {
        hd_icmp_req_t *q = e->buckets[i];
        while (q) {
            hd_icmp_req_t *next = q->next;
            free(q);
            q = next;
        }
    }
    free(e->buckets);
    hd_heap_free(&e->deadlines);
    event_free(e->timer);
    free(e->slots);
    free(e->txbuf);
    free(e);
}

const hd_icmp_stats_t *hd_icmp_stats(const hd_icmp_t *e)
{
    return &e->st;
}

const char *hd_icmp_socket_kind(const hd_icmp_t *e, int family)
{
    const sock_t *s = family == AF_INET6 ? &e->s6 : &e->s4;
    return s->fd < 0 ? NULL : s->raw ? "raw" : "dgram";
}

int hd_icmp_send(hd_icmp_t *e, const struct sockaddr *dst, size_t data_len, int64_t timeout_us,
                 hd_icmp_cb cb, void *arg, uint32_t tag, hd_icmp_req_t **out, int *send_err,
                 char *err, size_t errlen)
{
    int v6 = dst->sa_family == AF_INET6;
    if (!v6 && dst->sa_family != AF_INET) {
        snprintf(err, errlen, "not an IP address");
        return -EAFNOSUPPORT;
    }
    if (hd_icmp_open(e, dst->sa_family, err, errlen) < 0) return -EPERM;
    sock_t *s = v6 ? &e->s6 : &e->s4;
    if (data_len > HD_ICMP_DATA_MAX) data_len = HD_ICMP_DATA_MAX;
    size_t need = HD_ICMP_HDR + (data_len < HD_ICMP_STAMP ? HD_ICMP_STAMP : data_len);
    if (need > e->txcap) {
        e->txbuf = hd_xrealloc(e->txbuf, need);
        e->txcap = need;
    }
    /* replies carry the same data, behind an IP header on raw IPv4 */
    if (need + 64 > e->slot_len) {
        size_t slot = need + 64 < SLOT_MIN ? SLOT_MIN : need + 64;
        free(e->slots);
        e->slots = hd_xmalloc(slot * RECV_BATCH);
        e->slot_len = slot;
    }
    uint64_t nonce = e->nonce_base + e->counter;
    int64_t now = hd_time_now_us();
    size_t len = hd_icmp_build_echo(e->txbuf, e->txcap, v6, e->id, nonce, now, data_len);
    socklen_t dlen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    ssize_t n = sendto(s->fd, e->txbuf, len, 0, dst, dlen);
    int serr = n < 0 ? errno : 0;
    if (serr == EAGAIN || serr == EWOULDBLOCK || serr == ENOBUFS) return -EAGAIN;
    e->counter++;
    if (!serr) e->st.sent++;
    hd_icmp_req_t *q = hd_xcalloc(1, sizeof(*q));
    q->nonce = nonce;
    q->cb = cb;
    q->arg = arg;
    q->tag = tag;
    q->v6 = (uint8_t)v6;
    if (v6)
        memcpy(q->addr, &((const struct sockaddr_in6 *)dst)->sin6_addr, 16);
    else
        memcpy(q->addr, &((const struct sockaddr_in *)dst)->sin_addr, 4);
    if (e->st.in_flight >= e->nbuckets) grow_table(e);
    hd_icmp_req_t **b = bucket(e, nonce);
    q->next = *b;
    *b = q;
    if (timeout_us < 1) timeout_us = 1;
    hd_heap_push(&e->deadlines, &q->node, now + timeout_us);
    if (++e->st.in_flight > e->st.in_flight_hi) e->st.in_flight_hi = e->st.in_flight;
    if (q->node.idx == 1) arm_timer(e);
    if (out) *out = q;
    if (send_err) *send_err = serr;
    return 0;
}

void hd_icmp_cancel(hd_icmp_t *e, hd_icmp_req_t *req)
{
    if (!req) return;
    unlink_req(e, req);
    free(req);
    arm_timer(e);
}

static int same_addr(const hd_icmp_req_t *q, const struct sockaddr_storage *ss)
{
    if (q->v6)
        return ss->ss_family == AF_INET6 &&
               !memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, q->addr, 16);
    return ss->ss_family == AF_INET &&
           !memcmp(&((const struct sockaddr_in *)ss)->sin_addr, q->addr, 4);
}

static void finish_req(hd_icmp_t *e, hd_icmp_req_t *q, hd_icmp_result_t *r)
{
    unlink_req(e, q);
    r->tag = q->tag;
    r->v6 = q->v6;
    hd_icmp_cb cb = q->cb;
    void *arg = q->arg;
    free(q);
    cb(r, arg);
}

/* Our nonce, but not in flight: answered already, timed out or cancelled. */
static int was_ours(const hd_icmp_t *e, uint64_t nonce)
{
    return nonce - e->nonce_base < e->counter;
}

static void handle(hd_icmp_t *e, const hd_icmp_msg_t *m, const struct sockaddr_storage *from,
                   const struct sockaddr_storage *orig_dst, int64_t now)
{
    hd_icmp_req_t *q = lookup(e, m->nonce);
    if (!q) {
        if (m->kind == HD_ICMP_PKT_REPLY && was_ours(e, m->nonce))
            e->st.late_or_dup++;
        else
            e->st.ignored++;
        return;
    }
    hd_icmp_result_t r;
    memset(&r, 0, sizeof(r));
    r.from = *from;
    if (m->kind == HD_ICMP_PKT_REPLY) {
        /* a forged or misrouted reply: right nonce, wrong sender */
        if (!same_addr(q, from)) {
            e->st.ignored++;
            return;
        }
        e->st.replies++;
        r.event = HD_ICMP_REPLY;
        r.rtt_us = now - m->sent_us;
        if (r.rtt_us < 0) r.rtt_us = 0;
        r.bytes = m->icmp_len;
        finish_req(e, q, &r);
        return;
    }
    /* An error: the quoted request must have gone where q went. */
    struct sockaddr_storage dst;
    memset(&dst, 0, sizeof(dst));
    if (orig_dst) {
        dst = *orig_dst;
    } else if (m->orig_dst_len == 16) {
        dst.ss_family = AF_INET6;
        memcpy(&((struct sockaddr_in6 *)&dst)->sin6_addr, m->orig_dst, 16);
    } else {
        dst.ss_family = AF_INET;
        memcpy(&((struct sockaddr_in *)&dst)->sin_addr, m->orig_dst, 4);
    }
    if (!same_addr(q, &dst)) {
        e->st.ignored++;
        return;
    }
    e->st.errors++;
    r.event = HD_ICMP_ERROR;
    r.type = m->type;
    r.code = m->code;
    r.tag = q->tag;
    r.v6 = q->v6;
    q->cb(&r, q->arg); /* q may be cancelled inside: do not touch it after */
}

/* Ping sockets report ICMP errors through the socket's error queue. */
static void drain_errqueue(hd_icmp_t *e, sock_t *s, int v6)
{
    for (int i = 0; i < RECV_BATCH; i++) {
        uint8_t data[256], ctl[512];
        struct sockaddr_storage name;
        struct iovec iov = {data, sizeof(data)};
        struct msghdr msg;
        memset(&msg, 0, sizeof(msg));
        msg.msg_name = &name;
        msg.msg_namelen = sizeof(name);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl;
        msg.msg_controllen = sizeof(ctl);
        ssize_t n = recvmsg(s->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (n < 0) return;
        const struct sock_extended_err *ee = NULL;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR))
                ee = (const struct sock_extended_err *)CMSG_DATA(c);
        if (!ee || (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6)) {
            e->st.ignored++;
            continue;
        }
        hd_icmp_msg_t m;
        memset(&m, 0, sizeof(m));
        if (hd_icmp_parse_own_request(data, (size_t)n, v6, &m) < 0) {
            e->st.ignored++;
            continue;
        }
        m.kind = HD_ICMP_PKT_ERROR;
        m.type = ee->ee_type;
        m.code = ee->ee_code;
        struct sockaddr_storage from;
        memset(&from, 0, sizeof(from));
        const struct sockaddr *off = SO_EE_OFFENDER(ee);
        if (off->sa_family == AF_INET)
            memcpy(&from, off, sizeof(struct sockaddr_in));
        else if (off->sa_family == AF_INET6)
            memcpy(&from, off, sizeof(struct sockaddr_in6));
        handle(e, &m, &from, &name, hd_time_now_us());
    }
}

static void drain(hd_icmp_t *e, sock_t *s, int v6)
{
    if (s->fd < 0 || !e->slots) return;
    struct mmsghdr mm[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    struct sockaddr_storage names[RECV_BATCH];
    int total = 0;
    while (total < RECV_BUDGET) {
        for (int i = 0; i < RECV_BATCH; i++) {
            iov[i].iov_base = e->slots + (size_t)i * e->slot_len;
            iov[i].iov_len = e->slot_len;
            memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
            mm[i].msg_hdr.msg_name = &names[i];
            mm[i].msg_hdr.msg_namelen = sizeof(names[i]);
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(s->fd, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && !s->raw)
                drain_errqueue(e, s, v6);
            break;
        }
        int64_t now = hd_time_now_us();
        for (int i = 0; i < n; i++) {
            hd_icmp_msg_t m;
            size_t len = mm[i].msg_len;
            if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) len = 0; /* cannot verify: drop */
            hd_icmp_kind_t k =
                hd_icmp_parse(iov[i].iov_base, len, v6, s->raw && !v6, s->raw, e->id, &m);
            if (k == HD_ICMP_PKT_IGNORE) {
                e->st.ignored++;
                continue;
            }
            handle(e, &m, &names[i], NULL, now);
        }
        total += n;
        if (n < RECV_BATCH) break;
    }
    if (!s->raw) drain_errqueue(e, s, v6);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    hd_icmp_t *e = arg;
    if (fd == e->s4.fd)
        drain(e, &e->s4, 0);
    else if (fd == e->s6.fd)
        drain(e, &e->s6, 1);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_icmp_t *e = arg;
    e->timer_at = 0;
    /* Replies already queued count, even when the timer got its turn first. */
    drain(e, &e->s4, 0);
    drain(e, &e->s6, 1);
    int64_t now = hd_time_now_us();
    hd_heap_node_t *top;
    while ((top = hd_heap_top(&e->deadlines)) && top->key <= now) {
        hd_icmp_req_t *q = (hd_icmp_req_t *)top;
        hd_icmp_result_t r;
        memset(&r, 0, sizeof(r));
        r.event = HD_ICMP_TIMEOUT;
        e->st.timeouts++;
        finish_req(e, q, &r);
    }
    arm_timer(e);
}

/* ---- the icmp:// probe kind ------------------------------------------- */

typedef struct iprobe_s {
    hd_probe_t *p;
    hd_resolve_req_t *rq;
    hd_icmp_req_t *req;
    struct sockaddr_storage addr;
    int starting;
} iprobe_t;

__attribute__((format(printf, 4, 5))) static void idone(iprobe_t *ip, hd_status_t st, hd_reason_t r,
                                                        const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ip->starting)
        hd_probe_done_soon(ip->p, st, r, "%s", msg);
    else
        hd_probe_done(ip->p, st, r, "%s", msg);
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    const void *a = ss->ss_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
    if (!inet_ntop(ss->ss_family, a, out, (socklen_t)outlen)) snprintf(out, outlen, "?");
}

static void on_icmp(const hd_icmp_result_t *r, void *arg)
{
    iprobe_t *ip = arg;
    char from[INET6_ADDRSTRLEN];
    addr_str(&r->from, from, sizeof(from));
    switch (r->event) {
    case HD_ICMP_REPLY:
        ip->req = NULL;
        idone(ip, HD_STATUS_PASSING, HD_R_OK, "echo reply from %s in %.3f ms", from,
              (double)r->rtt_us / 1000.0);
        return;
    case HD_ICMP_TIMEOUT:
        ip->req = NULL;
        idone(ip, HD_STATUS_CRITICAL, HD_R_TIMEOUT, "no echo reply");
        return;
    case HD_ICMP_ERROR:
        /* For a readiness check an error is an answer: the host is not
         * reachable now. Stop waiting for this attempt. */
        idone(ip, HD_STATUS_CRITICAL, HD_R_ICMP_ERROR, "%s from %s",
              hd_icmp_error_str(r->v6, r->type, r->code), from);
        return;
    }
}

static void ping_addr(iprobe_t *ip)
{
    hd_probe_env_t *env = ip->p->env;
    char err[512];
    if (!env->icmp) env->icmp = hd_icmp_new(env->base);
    int serr = 0;
    int rc = hd_icmp_send(env->icmp, (const struct sockaddr *)&ip->addr, HD_ICMP_DATA_DEF,
                          hd_probe_remaining_us(ip->p), on_icmp, ip, 0, &ip->req, &serr, err,
                          sizeof(err));
    if (rc == -EAGAIN) {
        idone(ip, HD_STATUS_CRITICAL, HD_R_ICMP_SEND, "socket buffer full");
    } else if (rc < 0) {
        idone(ip, HD_STATUS_CRITICAL, HD_R_ICMP_SOCKET, "%s", err);
    } else if (serr) {
        hd_icmp_cancel(env->icmp, ip->req);
        ip->req = NULL;
        idone(ip, HD_STATUS_CRITICAL, HD_R_ICMP_SEND, "sendto: %s", strerror(serr));
    }
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, int naddrs,
                        const char *msg, void *arg)
{
    iprobe_t *ip = arg;
    ip->rq = NULL;
    if (status != HD_RESOLVE_OK || naddrs < 1) {
        idone(ip, HD_STATUS_CRITICAL,
              status == HD_RESOLVE_NOTFOUND ? HD_R_DNS_NOT_FOUND : HD_R_DNS_FAIL, "%s: %s",
              ip->p->t->host, msg);
        return;
    }
    ip->addr = addrs[0];
    ping_addr(ip);
}

static int icmp_start(hd_probe_t *p)
{
    iprobe_t *ip = hd_xcalloc(1, sizeof(*ip));
    ip->p = p;
    p->impl = ip;
    ip->starting = 1;
    hd_probe_env_t *env = p->env;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ip->addr;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ip->addr;
    if (inet_pton(AF_INET, p->t->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        ping_addr(ip);
    } else if (inet_pton(AF_INET6, p->t->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        ping_addr(ip);
    } else {
        char err[256];
        if (!env->resolver) env->resolver = hd_resolver_new(env->base, err, sizeof(err));
        if (!env->resolver)
            idone(ip, HD_STATUS_CRITICAL, HD_R_DNS_FAIL, "%s", err);
        else
            ip->rq = hd_resolve(env->resolver, p->t->host, 0, AF_UNSPEC, on_resolved, ip);
    }
    ip->starting = 0;
    return 0;
}

static void icmp_stop(hd_probe_t *p)
{
    iprobe_t *ip = p->impl;
    if (!ip) return;
    hd_resolve_cancel(ip->rq);
    if (ip->req) hd_icmp_cancel(p->env->icmp, ip->req);
    free(ip);
    p->impl = NULL;
}

const hd_probe_kind_t hd_probe_icmp = {icmp_start, icmp_stop};
