/* ping — GET /v1/ping: which of the hosts behind the agent's checks answer
 * ICMP echo, as nova's os-fping extension answered for a project's servers.
 *
 *   GET /v1/ping[?include=a,b][&exclude=c][&ns=T|*][&all_tenants=1]
 *   200 {"checks": [{"id", "name", "host", "address", "alive", "tenant"}, ...]}
 *
 * Which checks: those whose target names a host that can be pinged:
 * icmp://, tcp://, http(s)://, postgres://, mysql://, redis:// and tls://.
 * Not dns:// (its host is the name being asked about, not a machine), nor
 * unix://, file://, exec: or TTL checks, which name no host.
 *
 * Whose checks: those of the request's scope, as every list's (api/
 * scope.h): a tenant's token its tenant's, another token the default
 * tenant's, or tenant T's with ns=T, or every tenant's with ns=*.
 * all_tenants=1 is nova's way of saying ns=*; as nova's, it is refused
 * (403) to a token limited to one tenant, and it does not mix with ns=.
 * include= and exclude= take comma-separated ids or names; when include=
 * is given (not empty) exclude= is ignored, as nova's. Names that match no
 * check are ignored. The list is sorted by id.
 *
 * How: one echo request per distinct host, all in parallel on the agent's
 * shared ICMP engine (probe/icmp.h), each waiting up to PING_ECHO_US; names
 * are resolved first, and the whole reply comes within PING_DEADLINE_US. A
 * host that does not resolve, answers with an ICMP error or stays silent is
 * "alive": false; "address" is the address pinged, absent when the name did
 * not resolve. 503 icmp_unavailable when no ICMP socket could be opened at
 * all (neither raw nor ping socket): "not alive" would then be a lie.
 *
 * The route has its own rate limit per caller (rate_limits.ping, 12 a
 * minute by default), set up at start by hd_api_ping_routes. */
#include "agent/agent.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "probe/icmp.h"
#include "util/map.h"
#include "util/mem.h"
#include "util/resolver.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PING_ECHO_US     (1 * HD_USEC_PER_SEC) /* one echo request's wait */
#define PING_DEADLINE_US (3 * HD_USEC_PER_SEC) /* the whole request, name lookups included */
#define PING_MIN_WAIT_US (50 * HD_USEC_PER_MSEC)
#define PING_DATA_BYTES  56 /* as ping and fping: 64-byte ICMP packets */

typedef struct ping_s ping_t;

/* One distinct host and its one echo request. */
typedef struct phost_s {
    ping_t *p;
    const char *host; /* borrowed from the entry that named it first */
    struct sockaddr_storage addr;
    int resolved; /* addr is set */
    int alive;
    int done;
    hd_resolve_req_t *rq; /* the lookup in flight */
    hd_icmp_req_t *req;   /* the echo request in flight */
} phost_t;

/* One check in the reply; copied, so that a check deleted meanwhile does
 * not matter. */
typedef struct pentry_s {
    char *id, *name, *tenant, *host;
    size_t h; /* its host in ping_t.hosts */
} pentry_t;

struct ping_s {
    hd_agent_t *a;
    hd_api_req_t *r;
    pentry_t *e;
    size_t ne;
    phost_t *hosts;
    size_t nh;
    size_t left;    /* hosts not done */
    int starting;   /* inside start(): replying waits until every host started */
    int64_t end_us; /* the deadline on the monotonic clock */
    struct event *deadline;
    int sent;      /* echo requests an ICMP socket took (or refused for the route) */
    int no_socket; /* hosts for which no ICMP socket could be opened */
    char sock_err[256];
};

/* The kinds whose target names a host worth pinging (see the top). */
static int pingable(const hd_check_def_t *d)
{
    if (d->ttl || !d->target.host || !d->target.host[0]) return 0;
    switch (d->target.kind) {
    case HD_KIND_ICMP:
    case HD_KIND_TCP:
    case HD_KIND_HTTP:
    case HD_KIND_PG:
    case HD_KIND_MYSQL:
    case HD_KIND_REDIS:
    case HD_KIND_TLS:
        return 1;
    default:
        return 0;
    }
}

/* 1 when s is one of the comma-separated items of list. */
static int listed(const char *list, const char *s)
{
    if (!list || !s) return 0;
    size_t n = strlen(s);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && n && !memcmp(p, s, n)) return 1;
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

/* By id, then tenant (two tenants may each have a check "web"). */
static int by_id(const void *x, const void *y)
{
    const hd_agent_check_t *const *a = x, *const *b = y;
    int c = strcmp(hd_agent_check_def(*a)->id, hd_agent_check_def(*b)->id);
    return c ? c
             : strcmp(hd_tenant_name(hd_agent_check_def(*a)->tenant),
                      hd_tenant_name(hd_agent_check_def(*b)->tenant));
}

static void ping_free(ping_t *p)
{
    for (size_t i = 0; i < p->ne; i++) {
        free(p->e[i].id);
        free(p->e[i].name);
        free(p->e[i].tenant);
        free(p->e[i].host);
    }
    free(p->e);
    free(p->hosts);
    if (p->deadline) event_free(p->deadline);
    free(p);
}

/* Stops every lookup and echo request still in flight. */
static void stop_all(ping_t *p)
{
    for (size_t i = 0; i < p->nh; i++) {
        phost_t *h = &p->hosts[i];
        if (h->rq) hd_resolve_cancel(h->rq);
        if (h->req) hd_icmp_cancel(hd_agent_probe_env(p->a)->icmp, h->req);
        h->rq = NULL;
        h->req = NULL;
    }
}

static void reply(ping_t *p)
{
    hd_api_req_t *r = p->r;
    stop_all(p);
    hd_api_on_cancel(r, NULL, NULL);
    if (p->sent == 0 && p->no_socket > 0) {
        hd_api_error(r, 503, "icmp_unavailable",
                     "cannot send ICMP echo requests: %s (run the agent as root, give it "
                     "CAP_NET_RAW, or open net.ipv4.ping_group_range to its group)",
                     p->sock_err);
        ping_free(p);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < p->ne; i++) {
        const pentry_t *e = &p->e[i];
        const phost_t *h = &p->hosts[e->h];
        json_t *o = json_pack("{s:s, s:s, s:s}", "id", e->id, "name", e->name, "host", e->host);
        if (h->resolved) {
            char buf[INET6_ADDRSTRLEN] = "";
            const void *a = h->addr.ss_family == AF_INET6
                                ? (const void *)&((const struct sockaddr_in6 *)&h->addr)->sin6_addr
                                : (const void *)&((const struct sockaddr_in *)&h->addr)->sin_addr;
            if (inet_ntop(h->addr.ss_family, a, buf, sizeof(buf)))
                json_object_set_new(o, "address", json_string(buf));
        }
        json_object_set_new(o, "alive", json_boolean(h->alive));
        json_object_set_new(o, "tenant", json_string(hd_tenant_name(e->tenant)));
        json_array_append_new(arr, o);
    }
    ping_free(p);
    hd_api_reply_json(r, 200, json_pack("{s:o}", "checks", arr));
}

static void host_done(phost_t *h, int alive)
{
    if (h->done) return;
    h->done = 1;
    h->alive = alive;
    ping_t *p = h->p;
    if (--p->left == 0 && !p->starting) reply(p);
}

static void on_echo(const hd_icmp_result_t *res, void *arg)
{
    phost_t *h = arg;
    switch (res->event) {
    case HD_ICMP_REPLY:
        h->req = NULL;
        host_done(h, 1);
        return;
    case HD_ICMP_TIMEOUT:
        h->req = NULL;
        host_done(h, 0);
        return;
    case HD_ICMP_ERROR:
        /* unreachable, time exceeded: an answer, and not "alive" */
        hd_icmp_cancel(hd_agent_probe_env(h->p->a)->icmp, h->req);
        h->req = NULL;
        host_done(h, 0);
        return;
    }
}

static void send_echo(phost_t *h)
{
    ping_t *p = h->p;
    hd_probe_env_t *env = hd_agent_probe_env(p->a);
    if (!env->icmp) env->icmp = hd_icmp_new(env->base);
    int64_t wait = p->end_us - hd_time_now_us();
    if (wait > PING_ECHO_US) wait = PING_ECHO_US;
    if (wait < PING_MIN_WAIT_US) wait = PING_MIN_WAIT_US;
    char err[256];
    int serr = 0;
    int rc = hd_icmp_send(env->icmp, (const struct sockaddr *)&h->addr, PING_DATA_BYTES, wait,
                          on_echo, h, 0, &h->req, &serr, err, sizeof(err));
    if (rc == -EAGAIN) { /* the socket's buffer is full: count it as no answer */
        p->sent++;
        host_done(h, 0);
    } else if (rc < 0) {
        p->no_socket++;
        snprintf(p->sock_err, sizeof(p->sock_err), "%s", err);
        host_done(h, 0);
    } else if (serr) { /* e.g. ENETUNREACH: no route, so not alive */
        hd_icmp_cancel(env->icmp, h->req);
        h->req = NULL;
        p->sent++;
        host_done(h, 0);
    } else {
        p->sent++;
    }
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, int naddrs,
                        const char *msg, void *arg)
{
    (void)msg;
    phost_t *h = arg;
    h->rq = NULL;
    if (status != HD_RESOLVE_OK || naddrs < 1) {
        host_done(h, 0);
        return;
    }
    h->addr = addrs[0];
    h->resolved = 1;
    send_echo(h);
}

static void start_host(phost_t *h)
{
    hd_probe_env_t *env = hd_agent_probe_env(h->p->a);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&h->addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addr;
    if (inet_pton(AF_INET, h->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, h->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
    } else {
        char err[256];
        if (!env->resolver) env->resolver = hd_resolver_new(env->base, err, sizeof(err));
        if (!env->resolver)
            host_done(h, 0);
        else
            h->rq = hd_resolve(env->resolver, h->host, 0, AF_UNSPEC, on_resolved, h);
        return;
    }
    h->resolved = 1;
    send_echo(h);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ping_t *p = arg;
    reply(p); /* hosts not done yet stay "alive": false */
}

/* The client went away (or the agent stops): stop, and let the reply drop. */
static void on_cancel(hd_api_req_t *r, void *arg)
{
    (void)r;
    reply(arg);
}

static void get_ping(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    const char *all_q = hd_api_query(r, "all_tenants");
    int all = all_q && strcmp(all_q, "0") != 0 && strcmp(all_q, "false") != 0;
    hd_scope_t scope = {NULL};
    if (all && r->tenant) {
        hd_api_error(r, 403, "forbidden",
                     "all_tenants=1 asks for every tenant; this token works in tenant '%s' only",
                     r->tenant);
        return;
    }
    if (all && hd_api_query(r, "ns")) {
        hd_api_error(r, 400, "bad_query", "give all_tenants=1 or ns=, not both");
        return;
    }
    if (!all && hd_api_scope(r, HD_SCOPE_LIST, &scope) < 0) return;
    const char *include = hd_api_query(r, "include"), *exclude = hd_api_query(r, "exclude");
    if (include && !*include) include = NULL; /* "include=": as if not given */
    if (include) exclude = NULL;              /* include wins */

    hd_agent_check_t **cs = hd_xcalloc(hd_agent_check_count(a) + 1, sizeof(*cs));
    size_t n = 0, pos = 0;
    hd_agent_check_t *c;
    while ((c = hd_agent_check_next(a, &scope, &pos))) {
        const hd_check_def_t *d = hd_agent_check_def(c);
        if (!pingable(d)) continue;
        const char *name = d->name ? d->name : d->id;
        if (include && !listed(include, d->id) && !listed(include, name)) continue;
        if (exclude && (listed(exclude, d->id) || listed(exclude, name))) continue;
        cs[n++] = c;
    }
    qsort(cs, n, sizeof(*cs), by_id);

    ping_t *p = hd_xcalloc(1, sizeof(*p));
    p->a = a;
    p->r = r;
    p->e = hd_xcalloc(n + 1, sizeof(*p->e));
    p->hosts = hd_xcalloc(n + 1, sizeof(*p->hosts));
    hd_map_t seen; /* host -> its index + 1 */
    hd_map_init(&seen);
    for (size_t i = 0; i < n; i++) {
        const hd_check_def_t *d = hd_agent_check_def(cs[i]);
        pentry_t *e = &p->e[p->ne++];
        e->id = hd_xstrdup(d->id);
        e->name = hd_xstrdup(d->name ? d->name : d->id);
        e->tenant = d->tenant ? hd_xstrdup(d->tenant) : NULL;
        e->host = hd_xstrdup(d->target.host);
        uintptr_t at = (uintptr_t)hd_map_get(&seen, e->host);
        if (!at) {
            phost_t *h = &p->hosts[p->nh];
            h->p = p;
            h->host = e->host;
            at = ++p->nh;
            hd_map_put(&seen, e->host, (void *)at);
        }
        e->h = at - 1;
    }
    hd_map_free(&seen);
    free(cs);

    p->left = p->nh;
    if (p->nh == 0) {
        reply(p);
        return;
    }
    hd_api_on_cancel(r, on_cancel, p);
    p->end_us = hd_time_now_us() + PING_DEADLINE_US;
    p->deadline = evtimer_new(hd_agent_base(a), on_deadline, p);
    struct timeval tv = {PING_DEADLINE_US / HD_USEC_PER_SEC, PING_DEADLINE_US % HD_USEC_PER_SEC};
    evtimer_add(p->deadline, &tv);
    p->starting = 1;
    for (size_t i = 0; i < p->nh; i++)
        start_host(&p->hosts[i]);
    p->starting = 0;
    if (p->left == 0) reply(p);
}

int hd_api_ping_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    if (hd_api_route(api, "GET", "/v1/ping", HD_ROLE_READ, get_ping, a, err, errlen) < 0) return -1;
    const hd_config_rate_t *lim = &hd_agent_config(a)->rate_limits.ping;
    if (lim->rate > 0) {
        double burst = lim->burst > 0 ? lim->burst : lim->rate < 1 ? 1 : lim->rate;
        if (hd_api_route_limit(api, "GET", "/v1/ping", lim->rate, burst) < 0) {
            snprintf(err, errlen, "GET /v1/ping: cannot set its rate limit");
            return -1;
        }
    }
    return 0;
}
