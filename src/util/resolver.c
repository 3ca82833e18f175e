/* resolver — c-ares driven by libevent: socket events feed
 * ares_process_fd(), one timer follows ares_timeout(), and answers are
 * handed to callers through a zero-delay event so that no callback ever runs
 * inside the call that asked. */
#include "util/resolver.h"
#include "util/mem.h"

#include <ares.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sockev_s {
    ares_socket_t fd;
    struct event *ev;
    struct sockev_s *next;
} sockev_t;

struct hd_resolver_s {
    struct event_base *base;
    ares_channel channel;
    struct event *timer;
    sockev_t *socks;
    hd_resolve_req_t *reqs; /* every request not yet delivered */
};

struct hd_resolve_req_s {
    hd_resolver_t *r;
    hd_resolve_cb cb;     /* NULL once cancelled */
    hd_query_cb qcb;      /* instead of cb for hd_resolve_query(); NULL once cancelled */
    hd_name_cb ncb;       /* instead of cb for hd_resolve_name(); NULL once cancelled */
    char *name;           /* hd_resolve_name(): the name found, owned */
    unsigned char *reply; /* hd_resolve_query(): the reply, owned */
    size_t reply_len;
    void *arg;
    int port;
    int family;    /* hd_resolve(): the family asked for */
    int localhost; /* hd_resolve(): the name is localhost or ends in .localhost */
    int done;      /* c-ares has answered; result is below */
    int status;
    char msg[128];
    struct sockaddr_storage addrs[HD_RESOLVE_MAX_ADDRS];
    int naddrs;
    struct event *deliver;
    hd_resolve_req_t *prev, *next;
};

static void update_timer(hd_resolver_t *r)
{
    struct timeval tv, *tvp = ares_timeout(r->channel, NULL, &tv);
    if (tvp)
        evtimer_add(r->timer, tvp);
    else
        evtimer_del(r->timer);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
    hd_resolver_t *r = arg;
    ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    update_timer(r);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_resolver_t *r = arg;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    update_timer(r);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    hd_resolver_t *r = data;
    sockev_t **pp = &r->socks, *s;
    while ((s = *pp) && s->fd != fd)
        pp = &s->next;
    if (s) {
        event_free(s->ev);
        if (!readable && !writable) {
            *pp = s->next;
            free(s);
            return;
        }
    } else {
        if (!readable && !writable) return;
        s = hd_xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->next = r->socks;
        r->socks = s;
    }
    short ev = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
    s->ev = event_new(r->base, fd, ev, on_sock, r);
    event_add(s->ev, NULL);
}

/* A resolver with the system's configuration, or (servers != NULL) asking
 * only those servers and searching no domains. */
static hd_resolver_t *make(struct event_base *base, const char *servers, char *err, size_t errlen)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return NULL;
    }
    hd_resolver_t *r = hd_xcalloc(1, sizeof(*r));
    r->base = base;
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = r;
    o.timeout = 1000; /* ms per try; a readiness gate retries the whole lookup anyway */
    o.tries = 2;
    o.ndomains = 0;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (servers) mask |= ARES_OPT_DOMAINS;
    rc = ares_init_options(&r->channel, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        free(r);
        ares_library_cleanup();
        return NULL;
    }
    if (servers && (rc = ares_set_servers_ports_csv(r->channel, servers)) != ARES_SUCCESS) {
        snprintf(err, errlen, "name server '%s': %s", servers, ares_strerror(rc));
        ares_destroy(r->channel);
        free(r);
        ares_library_cleanup();
        return NULL;
    }
    r->timer = evtimer_new(base, on_timer, r);
    return r;
}

hd_resolver_t *hd_resolver_new(struct event_base *base, char *err, size_t errlen)
{
    return make(base, NULL, err, errlen);
}

hd_resolver_t *hd_resolver_new_servers(struct event_base *base, const char *csv, char *err,
                                       size_t errlen)
{
    return make(base, csv, err, errlen);
}

static void unlink_req(hd_resolve_req_t *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        q->r->reqs = q->next;
    if (q->next) q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

static void free_req(hd_resolve_req_t *q)
{
    if (q->deliver) event_free(q->deliver);
    free(q->reply);
    free(q->name);
    free(q);
}

void hd_resolver_free(hd_resolver_t *r)
{
    if (!r) return;
    /* ares_destroy calls pending callbacks with ARES_EDESTRUCTION; they see
     * cancelled requests and free them. Delivered-but-unrun ones we free. */
    for (hd_resolve_req_t *q = r->reqs; q; q = q->next) {
        q->cb = NULL;
        q->qcb = NULL;
        q->ncb = NULL;
    }
    ares_destroy(r->channel);
    while (r->reqs) {
        hd_resolve_req_t *q = r->reqs;
        unlink_req(q);
        free_req(q);
    }
    while (r->socks) {
        sockev_t *s = r->socks;
        r->socks = s->next;
        event_free(s->ev);
        free(s);
    }
    event_free(r->timer);
    free(r);
    ares_library_cleanup();
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_resolve_req_t *q = arg;
    unlink_req(q);
    if (q->cb) q->cb(q->status, q->addrs, q->naddrs, q->msg, q->arg);
    if (q->qcb) q->qcb(q->status, q->reply, q->reply_len, q->msg, q->arg);
    if (q->ncb) q->ncb(q->status, q->name, q->msg, q->arg);
    free_req(q);
}

/* RFC 6761: localhost and its subdomains are loopback addresses. */
static int is_localhost(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.') n--; /* the root label */
    if (n == 9) return strncasecmp(host, "localhost", 9) == 0;
    return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}

/* Answers a localhost name that neither /etc/hosts nor DNS knew (a bare
 * chroot, a scratch image without /etc/hosts): ::1 and 127.0.0.1, as the
 * family allows. */
static void loopback(hd_resolve_req_t *q)
{
    q->naddrs = 0;
    if (q->family != AF_INET) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&q->addrs[q->naddrs++];
        memset(a, 0, sizeof(q->addrs[0]));
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons((uint16_t)q->port);
    }
    if (q->family != AF_INET6) {
        struct sockaddr_in *a = (struct sockaddr_in *)&q->addrs[q->naddrs++];
        memset(a, 0, sizeof(q->addrs[0]));
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons((uint16_t)q->port);
    }
    q->status = HD_RESOLVE_OK;
    q->msg[0] = '\0';
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    hd_resolve_req_t *q = arg;
    if (status == ARES_EDESTRUCTION) {
        /* hd_resolver_free() owns the request now. */
        if (res) ares_freeaddrinfo(res);
        return;
    }
    q->done = 1;
    if (status == ARES_SUCCESS && res) {
        for (struct ares_addrinfo_node *n = res->nodes; n && q->naddrs < HD_RESOLVE_MAX_ADDRS;
             n = n->ai_next) {
            if (n->ai_family != AF_INET && n->ai_family != AF_INET6) continue;
            if ((size_t)n->ai_addrlen > sizeof(q->addrs[0])) continue;
            struct sockaddr_storage *ss = &q->addrs[q->naddrs++];
            memset(ss, 0, sizeof(*ss));
            memcpy(ss, n->ai_addr, (size_t)n->ai_addrlen);
            if (n->ai_family == AF_INET)
                ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)q->port);
            else
                ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)q->port);
        }
        q->status = q->naddrs ? HD_RESOLVE_OK : HD_RESOLVE_NOTFOUND;
        if (!q->naddrs) snprintf(q->msg, sizeof(q->msg), "name has no usable address");
    } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_ENONAME) {
        q->status = HD_RESOLVE_NOTFOUND;
        snprintf(q->msg, sizeof(q->msg), "name not found");
    } else {
        q->status = HD_RESOLVE_FAIL;
        snprintf(q->msg, sizeof(q->msg), "name lookup failed: %s", ares_strerror(status));
    }
    if (q->status != HD_RESOLVE_OK && q->localhost) loopback(q);
    if (res) ares_freeaddrinfo(res);
    event_active(q->deliver, 0, 0);
}

/* A new request, linked into r's list. */
static hd_resolve_req_t *new_req(hd_resolver_t *r, void *arg)
{
    hd_resolve_req_t *q = hd_xcalloc(1, sizeof(*q));
    q->r = r;
    q->arg = arg;
    q->deliver = event_new(r->base, -1, 0, on_deliver, q);
    q->next = r->reqs;
    if (r->reqs) r->reqs->prev = q;
    r->reqs = q;
    return q;
}

hd_resolve_req_t *hd_resolve(hd_resolver_t *r, const char *host, int port, int family,
                             hd_resolve_cb cb, void *arg)
{
    hd_resolve_req_t *q = new_req(r, arg);
    q->cb = cb;
    q->port = port;
    q->family = family;
    q->localhost = is_localhost(host);
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(r->channel, host, NULL, &hints, on_addrinfo, q);
    update_timer(r);
    return q;
}

static void on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    hd_resolve_req_t *q = arg;
    if (status == ARES_EDESTRUCTION) return; /* hd_resolver_free() owns the request now */
    q->done = 1;
    if (status == ARES_SUCCESS && abuf && alen > 0) {
        q->status = HD_RESOLVE_OK;
        q->reply = hd_xmalloc((size_t)alen);
        memcpy(q->reply, abuf, (size_t)alen);
        q->reply_len = (size_t)alen;
    } else if (status == ARES_ENOTFOUND || status == ARES_ENONAME) {
        q->status = HD_RESOLVE_NOTFOUND;
        snprintf(q->msg, sizeof(q->msg), "no such name");
    } else if (status == ARES_ENODATA || status == ARES_SUCCESS) {
        q->status = HD_RESOLVE_NOTFOUND;
        snprintf(q->msg, sizeof(q->msg), "no record of this type");
    } else {
        q->status = HD_RESOLVE_FAIL;
        snprintf(q->msg, sizeof(q->msg), "lookup failed: %s", ares_strerror(status));
    }
    event_active(q->deliver, 0, 0);
}

hd_resolve_req_t *hd_resolve_query(hd_resolver_t *r, const char *name, int type, hd_query_cb cb,
                                   void *arg)
{
    hd_resolve_req_t *q = new_req(r, arg);
    q->qcb = cb;
    ares_search(r->channel, name, 1 /* class IN */, type, on_reply, q);
    update_timer(r);
    return q;
}

static void on_host(void *arg, int status, int timeouts, struct hostent *host)
{
    (void)timeouts;
    hd_resolve_req_t *q = arg;
    if (status == ARES_EDESTRUCTION) return; /* hd_resolver_free() owns the request now */
    q->done = 1;
    if (status == ARES_SUCCESS && host && host->h_name && *host->h_name) {
        q->status = HD_RESOLVE_OK;
        q->name = hd_xstrdup(host->h_name);
    } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_SUCCESS) {
        q->status = HD_RESOLVE_NOTFOUND;
        snprintf(q->msg, sizeof(q->msg), "no name for this address");
    } else {
        q->status = HD_RESOLVE_FAIL;
        snprintf(q->msg, sizeof(q->msg), "lookup failed: %s", ares_strerror(status));
    }
    event_active(q->deliver, 0, 0);
}

hd_resolve_req_t *hd_resolve_name(hd_resolver_t *r, const struct sockaddr_storage *addr,
                                  hd_name_cb cb, void *arg)
{
    hd_resolve_req_t *q = new_req(r, arg);
    q->ncb = cb;
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        ares_gethostbyaddr(r->channel, &a->sin6_addr, sizeof(a->sin6_addr), AF_INET6, on_host, q);
    } else if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        ares_gethostbyaddr(r->channel, &a->sin_addr, sizeof(a->sin_addr), AF_INET, on_host, q);
    } else {
        q->done = 1;
        q->status = HD_RESOLVE_FAIL;
        snprintf(q->msg, sizeof(q->msg), "not an IP address");
        event_active(q->deliver, 0, 0);
    }
    update_timer(r);
    return q;
}

void hd_resolve_cancel(hd_resolve_req_t *q)
{
    if (!q) return;
    if (q->done) {
        /* answered, delivery pending: drop it now */
        event_del(q->deliver);
        unlink_req(q);
        free_req(q);
        return;
    }
    /* c-ares cannot cancel one query; its answer will find cb == NULL. */
    q->cb = NULL;
    q->qcb = NULL;
    q->ncb = NULL;
}
