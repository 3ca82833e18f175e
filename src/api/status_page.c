/* status_page — the public status page and its badges (docs/status-page.md):
 *
 *   GET /status                         every public group of status_page:
 *   GET /status/:group                  one public group
 *   GET /status/:group/badge.svg        the group's status now (shields style)
 *   GET /status/:group/uptime.svg[?window=24h|7d|30d|90d]   its uptime [24h]
 *
 * Public: no token is asked for, even when tokens are configured
 * (hd_api_route_public), so what is shown is only what the config marks
 * public: the groups with `public: true`, their checks (by `match:`) with
 * their name, status now and uptime, and their output or target only when
 * the group's show_output or show_target says so (targets as heed shows
 * them, passwords as ***). A group that is not public and one that does not
 * exist get the same 404, byte for byte. Nothing here reads the request's
 * token or tenant.
 *
 * Cost: the page reads 90 days of hourly history per check. All public
 * groups are computed together into one snapshot that serves every route
 * for SNAP_TTL_US; requests that come while one is being made wait for it
 * (one computation at a time, whatever the load), and each route has its
 * own rate limit per client address (rate_limits.status_page). A config
 * reload makes the next request compute anew. The pure parts (tallies,
 * badges, HTML) are api/status_render.c's. */
#include "agent/agent.h"
#include "agent/catalog.h"
#include "agent/config.h"
#include "agent/match.h"
#include "api/routes.h"
#include "api/server.h"
#include "api/status_page.h"
#include "store/history.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_TTL_US     (30LL * HD_USEC_PER_SEC) /* a snapshot serves this long */
#define READS_IN_FLIGHT 8    /* history reads a snapshot keeps asked for at once */
#define MAX_AGE         "30" /* Cache-Control max-age, seconds: the snapshot's life */

/* What replies on a status route carry: no script may run, nothing loads
 * from elsewhere, no framing, no referrer. */
#define CSP                                                                                        \
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "             \
    "form-action 'none'; frame-ancestors 'none'"

typedef enum kind_e { K_INDEX, K_GROUP, K_BADGE, K_UPTIME } kind_t;

/* A check in a snapshot: copies, so that it outlives the registry's. */
typedef struct chk_s {
    char *key; /* its history's name: "tenant/id" */
    char *name;
    char *output; /* shown only in groups with show_output; NULL when none of its has it */
    char *target; /* the redacted display form, for groups with show_target; or NULL */
    hd_check_status_t status;
    hd_status_page_tally_t total; /* its results over the 90 days */
    size_t *grps;                 /* the groups it is in (indexes), whose uptime it adds to */
    size_t ngrps;
    struct snap_s *snap; /* for the history callback */
} chk_t;

typedef struct grp_s {
    char *name, *title;
    int show_output, show_target;
    size_t *chk; /* indexes into the snapshot's checks */
    size_t n, cap;
    hd_status_page_check_t *views; /* made when the snapshot is done */
    hd_status_page_group_t view;   /* its uptime summed as the reads come */
} grp_t;

typedef struct snap_s {
    struct hd_status_page_s *sp;
    uint64_t gen;    /* the config generation it was made for */
    int64_t made_us; /* monotonic, when it was done */
    int64_t now_us;  /* wall clock, what the uptime is as of */
    char *title;
    chk_t *chks;
    size_t nchks;
    grp_t *grps;
    size_t ngrps;
    size_t next;     /* the next check whose history to read */
    size_t inflight; /* reads asked for and not answered yet */
} snap_t;

/* A request waiting for a snapshot. */
typedef struct waiter_s {
    hd_api_req_t *r;
    kind_t kind;
    int window;
} waiter_t;

struct hd_status_page_s {
    hd_agent_t *a;
    snap_t *cur;      /* the latest done snapshot, or NULL */
    snap_t *building; /* being made, or NULL */
    waiter_t *waiters;
    size_t nwaiters, capwaiters;
};

/* ---- snapshots -------------------------------------------------------------- */

static uint64_t config_gen(const hd_agent_t *a)
{
    hd_agent_stats_t st;
    hd_agent_stats(a, &st);
    return st.reloads_total;
}

static void snap_free(snap_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nchks; i++) {
        free(s->chks[i].key);
        free(s->chks[i].grps);
        free(s->chks[i].name);
        free(s->chks[i].output);
        free(s->chks[i].target);
    }
    free(s->chks);
    for (size_t i = 0; i < s->ngrps; i++) {
        free(s->grps[i].name);
        free(s->grps[i].title);
        free(s->grps[i].chk);
        free(s->grps[i].views);
    }
    free(s->grps);
    free(s->title);
    free(s);
}

/* The public group of cfg named name, or NULL (also for a private one). */
static const hd_config_status_group_t *public_group(const hd_config_t *cfg, const char *name)
{
    const hd_config_status_page_t *sp = &cfg->status_page;
    for (size_t i = 0; i < sp->ngroups; i++)
        if (sp->groups[i].is_public && sp->groups[i].name && !strcmp(sp->groups[i].name, name))
            return &sp->groups[i];
    return NULL;
}

static size_t public_groups(const hd_config_t *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->status_page.ngroups; i++)
        n += cfg->status_page.groups[i].is_public != 0;
    return n;
}

/* The public groups of the running config and the checks they match, with
 * their state now; no history yet. */
static snap_t *snap_make(struct hd_status_page_s *sp)
{
    hd_agent_t *a = sp->a;
    const hd_config_t *cfg = hd_agent_config(a);
    const hd_config_status_page_t *cp = &cfg->status_page;
    snap_t *s = hd_xcalloc(1, sizeof(*s));
    s->sp = sp;
    s->gen = config_gen(a);
    s->now_us = hd_time_wall_us();
    s->title = hd_xstrdup(cp->title ? cp->title : "Status");
    s->grps = hd_xcalloc(cp->ngroups + 1, sizeof(*s->grps));
    for (size_t i = 0; i < cp->ngroups; i++) {
        const hd_config_status_group_t *g = &cp->groups[i];
        if (!g->is_public || !g->name) continue;
        grp_t *o = &s->grps[s->ngrps++];
        o->name = hd_xstrdup(g->name);
        o->title = hd_xstrdup(g->title ? g->title : g->name);
        o->show_output = g->show_output;
        o->show_target = g->show_target;
        hd_status_page_uptime_init(&o->view.up, s->now_us);
    }

    size_t cap = 0;
    size_t *in = hd_xcalloc(s->ngrps + 1, sizeof(*in)); /* the groups a check is in */
    hd_catalog_t *cat = hd_agent_catalog(a);
    const char *node = cat ? hd_catalog_local_node(cat) : NULL;
    hd_scope_t all = {NULL};
    size_t pos = 0;
    hd_agent_check_t *c;
    while ((c = hd_agent_check_next(a, &all, &pos))) {
        const hd_check_def_t *d = hd_agent_check_def(c);
        hd_match_subject_t subj = {.def = d};
        if (d->service_id && cat && node) {
            const hd_cat_service_t *svc =
                hd_catalog_service(cat, &all, d->tenant, node, d->service_id);
            if (svc) {
                subj.service_name = svc->s.name;
                subj.service_tags = svc->s.tags;
            }
        }
        size_t nin = 0;
        for (size_t gi = 0; gi < s->ngrps; gi++) {
            const hd_config_status_group_t *g = public_group(cfg, s->grps[gi].name);
            if (!g || !hd_match(&g->match, &subj)) continue;
            grp_t *o = &s->grps[gi];
            if (o->n == o->cap) {
                o->cap = o->cap ? 2 * o->cap : 16;
                o->chk = hd_xrealloc(o->chk, o->cap * sizeof(*o->chk));
            }
            o->chk[o->n++] = s->nchks;
            in[nin++] = gi;
        }
        if (nin == 0) continue;
        if (s->nchks == cap) {
            cap = cap ? 2 * cap : 16;
            s->chks = hd_xrealloc(s->chks, cap * sizeof(*s->chks));
        }
        chk_t *k = &s->chks[s->nchks++];
        memset(k, 0, sizeof(*k));
        const hd_check_state_t *st = hd_agent_check_state(c);
        char key[HD_TENANT_KEY_MAX];
        if (hd_tenant_key(key, sizeof(key), d->tenant, d->id) >= 0) k->key = hd_xstrdup(key);
        k->grps = hd_xcalloc(nin, sizeof(*k->grps));
        memcpy(k->grps, in, nin * sizeof(*in));
        k->ngrps = nin;
        k->name = hd_xstrdup(d->name ? d->name : d->id);
        /* Output and target are copied only for a group that shows them. */
        int out = 0, tgt = 0;
        for (size_t i = 0; i < nin; i++) {
            out |= s->grps[in[i]].show_output;
            tgt |= s->grps[in[i]].show_target;
        }
        if (out) k->output = hd_xstrdup(st->output ? st->output : "");
        if (tgt)
            k->target = hd_xstrdup(d->ttl ? "ttl" : d->target.display ? d->target.display : "");
        k->status = st->status;
        k->snap = s;
    }
    free(in);
    return s;
}

static void answer(struct hd_status_page_s *sp, const snap_t *s, hd_api_req_t *r, kind_t kind,
                   int window);
static void snap_start(struct hd_status_page_s *sp);
static void on_history(int status, const hd_hist_series_t *sr, void *arg);

static int view_cmp(const void *a, const void *b)
{
    const hd_status_page_check_t *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* The snapshot is whole: each group's views and uptime, then every
 * waiting request is answered from it. */
static void snap_done(snap_t *s)
{
    struct hd_status_page_s *sp = s->sp;
    for (size_t gi = 0; gi < s->ngrps; gi++) {
        grp_t *g = &s->grps[gi];
        g->views = hd_xcalloc(g->n + 1, sizeof(*g->views));
        for (size_t j = 0; j < g->n; j++) {
            const chk_t *k = &s->chks[g->chk[j]];
            hd_status_page_check_t *v = &g->views[j];
            v->name = k->name;
            v->status = k->status;
            v->output = g->show_output ? k->output : NULL;
            v->target = g->show_target ? k->target : NULL;
            v->total = k->total;
        }
        qsort(g->views, g->n, sizeof(*g->views), view_cmp); /* by name: a stable page */
        g->view.name = g->name;
        g->view.title = g->title;
        g->view.checks = g->views;
        g->view.nchecks = g->n;
    }
    s->made_us = hd_time_now_us();
    if (sp->building == s) sp->building = NULL;
    snap_free(sp->cur);
    sp->cur = s;
    /* A reload while it was being made: its groups may be the old ones, so
     * the waiters wait for one of the new config (s may be freed then). */
    if (s->gen != config_gen(sp->a)) {
        snap_start(sp);
        return;
    }
    /* Answer the waiters; a reply never adds one (answer does not wait). */
    waiter_t *w = sp->waiters;
    size_t n = sp->nwaiters;
    sp->waiters = NULL;
    sp->nwaiters = sp->capwaiters = 0;
    for (size_t i = 0; i < n; i++)
        answer(sp, s, w[i].r, w[i].kind, w[i].window);
    free(w);
}

/* Keeps up to READS_IN_FLIGHT history reads going (the store's writer
 * serves them between its writes, so a large page does not hold writes
 * back for long); the snapshot is done when all are answered. */
static void pump(snap_t *s)
{
    hd_store_t *store = hd_agent_store(s->sp->a);
    while (s->inflight < READS_IN_FLIGHT && s->next < s->nchks) {
        chk_t *k = &s->chks[s->next++];
        if (!store || !k->key) continue;
        int64_t since = s->now_us - (int64_t)(HD_STATUS_PAGE_DAYS + 1) * 86400 * HD_USEC_PER_SEC;
        if (hd_store_history_query(store, k->key, since, s->now_us + 1, HD_HIST_1H, 0, on_history,
                                   k) == 0)
            s->inflight++; /* else no callback follows: the check shows no data */
    }
    if (s->inflight == 0) snap_done(s);
}

static void on_history(int status, const hd_hist_series_t *sr, void *arg)
{
    chk_t *k = arg;
    snap_t *s = k->snap;
    /* A read that failed leaves the check without history: "no data". */
    if (status == 0 && sr && sr->n) {
        hd_status_page_uptime_t u;
        hd_status_page_uptime_init(&u, s->now_us);
        for (size_t i = 0; i < sr->n; i++)
            hd_status_page_uptime_add(&u, sr->pts[i].ts_us, sr->pts[i].count, sr->pts[i].ok);
        k->total = u.win[HD_STATUS_PAGE_90D];
        for (size_t i = 0; i < k->ngrps; i++)
            hd_status_page_uptime_merge(&s->grps[k->grps[i]].view.up, &u);
    }
    s->inflight--;
    pump(s);
}

/* Starts a snapshot: reads each check's 90 days of hourly history. */
static void snap_start(struct hd_status_page_s *sp)
{
    snap_t *s = snap_make(sp);
    sp->building = s;
    pump(s);
}

/* ---- replies ---------------------------------------------------------------- */

static void common_headers(hd_api_req_t *r)
{
    hd_api_set_header(r, "Content-Security-Policy", CSP);
    hd_api_set_header(r, "X-Content-Type-Options", "nosniff");
    hd_api_set_header(r, "Referrer-Policy", "no-referrer");
}

static void reply_buf(hd_api_req_t *r, int status, const char *ctype, hd_buf_t *b)
{
    common_headers(r);
    hd_api_set_header(r, "Cache-Control", status == 200 ? "public, max-age=" MAX_AGE : "no-store");
    size_t len = b->len;
    char *data = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    if (!data) data = hd_xstrdup("");
    hd_api_reply_text_take(r, status, ctype, data, len);
}

/* The same 404 for a group that is private and one that does not exist. */
static void reply_404(hd_api_req_t *r)
{
    hd_buf_t b = {0};
    hd_status_page_html_404(&b);
    reply_buf(r, 404, "text/html; charset=utf-8", &b);
}

static const grp_t *snap_group(const snap_t *s, const char *name)
{
    for (size_t i = 0; name && i < s->ngrps; i++)
        if (!strcmp(s->grps[i].name, name)) return &s->grps[i];
    return NULL;
}

static void answer(struct hd_status_page_s *sp, const snap_t *s, hd_api_req_t *r, kind_t kind,
                   int window)
{
    (void)sp;
    hd_buf_t b = {0};
    if (kind == K_INDEX) {
        if (s->ngrps == 0) {
            reply_404(r);
            return;
        }
        hd_status_page_group_t *v = hd_xcalloc(s->ngrps, sizeof(*v));
        for (size_t i = 0; i < s->ngrps; i++)
            v[i] = s->grps[i].view;
        hd_status_page_html(&b, s->title, v, s->ngrps, 1);
        free(v);
        reply_buf(r, 200, "text/html; charset=utf-8", &b);
        return;
    }
    /* The group was public when the request came; a reload since may have
     * changed that, and the snapshot is the newer word. */
    const grp_t *g = snap_group(s, hd_api_param(r, "group"));
    if (!g) {
        reply_404(r);
        return;
    }
    if (kind == K_GROUP) {
        hd_status_page_html(&b, s->title, &g->view, 1, 0);
        reply_buf(r, 200, "text/html; charset=utf-8", &b);
        return;
    }
    if (kind == K_BADGE) {
        int st = hd_status_page_group_status(&g->view);
        hd_status_page_badge_svg(&b, g->title, hd_status_page_status_word(st),
                                 hd_status_page_status_color(st));
    } else {
        char label[32], pct[24];
        const hd_status_page_tally_t *t = &g->view.up.win[window];
        snprintf(label, sizeof(label), "uptime %s",
                 hd_status_page_window_str((hd_status_page_window_t)window));
        hd_status_page_pct(t, pct, sizeof(pct));
        hd_status_page_badge_svg(&b, label, pct, hd_status_page_pct_color(t));
    }
    reply_buf(r, 200, "image/svg+xml; charset=utf-8", &b);
}

/* Every route: the cheap refusals first, then the snapshot (fresh, or
 * wait for the one being made). */
static void serve(struct hd_status_page_s *sp, hd_api_req_t *r, kind_t kind)
{
    const hd_config_t *cfg = hd_agent_config(sp->a);
    int window = HD_STATUS_PAGE_24H;
    if (kind == K_INDEX ? public_groups(cfg) == 0 : !public_group(cfg, hd_api_param(r, "group"))) {
        reply_404(r);
        return;
    }
    if (kind == K_UPTIME) {
        const char *q = hd_api_query(r, "window");
        if (q && (window = hd_status_page_window_parse(q)) < 0) {
            common_headers(r);
            hd_api_set_header(r, "Cache-Control", "no-store");
            static const char msg[] = "window: expected 24h, 7d, 30d or 90d\n";
            hd_api_reply_text(r, 400, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
            return;
        }
    }
    snap_t *s = sp->cur;
    if (s && s->gen == config_gen(sp->a) && hd_time_now_us() - s->made_us < SNAP_TTL_US) {
        answer(sp, s, r, kind, window);
        return;
    }
    if (sp->nwaiters == sp->capwaiters) {
        sp->capwaiters = sp->capwaiters ? 2 * sp->capwaiters : 8;
        sp->waiters = hd_xrealloc(sp->waiters, sp->capwaiters * sizeof(*sp->waiters));
    }
    sp->waiters[sp->nwaiters++] = (waiter_t){r, kind, window};
    if (!sp->building) snap_start(sp);
}

static void get_index(hd_api_req_t *r, void *arg)
{
    serve(arg, r, K_INDEX);
}

static void get_group(hd_api_req_t *r, void *arg)
{
    serve(arg, r, K_GROUP);
}

static void get_badge(hd_api_req_t *r, void *arg)
{
    serve(arg, r, K_BADGE);
}

static void get_uptime(hd_api_req_t *r, void *arg)
{
    serve(arg, r, K_UPTIME);
}

/* ---- life ------------------------------------------------------------------- */

hd_status_page_t *hd_api_status_page_new(hd_agent_t *a)
{
    hd_status_page_t *sp = hd_xcalloc(1, sizeof(*sp));
    sp->a = a;
    return sp;
}

void hd_api_status_page_free(hd_status_page_t *sp)
{
    if (!sp) return;
    snap_free(sp->cur);
    /* A snapshot still being made has reads in flight only if the store
     * never answered them; it cannot be freed under them. */
    if (sp->building && sp->building->inflight == 0) snap_free(sp->building);
    free(sp->waiters);
    free(sp);
}

static const struct {
    const char *pattern;
    hd_api_handler_fn fn;
} routes[] = {
    {"/status", get_index},
    {"/status/:group", get_group},
    {"/status/:group/badge.svg", get_badge},
    {"/status/:group/uptime.svg", get_uptime},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

int hd_api_status_page_limit(hd_api_t *api, const hd_config_t *cfg)
{
    const hd_config_rate_t *lim = &cfg->rate_limits.status_page;
    double burst = lim->burst > 0 ? lim->burst : lim->rate < 1 ? 1 : lim->rate;
    for (size_t i = 0; i < NROUTES; i++)
        if (hd_api_route_limit(api, "GET", routes[i].pattern, lim->rate > 0 ? lim->rate : 0,
                               burst) < 0)
            return -1;
    return 0;
}

int hd_api_status_page_routes(hd_api_t *api, hd_status_page_t *sp, char *err, size_t errlen)
{
    for (size_t i = 0; i < NROUTES; i++) {
        if (hd_api_route(api, "GET", routes[i].pattern, HD_ROLE_NONE, routes[i].fn, sp, err,
                         errlen) < 0)
            return -1;
        if (hd_api_route_public(api, "GET", routes[i].pattern) < 0) {
            snprintf(err, errlen, "GET %s: cannot make it public", routes[i].pattern);
            return -1;
        }
    }
    if (hd_api_status_page_limit(api, hd_agent_config(sp->a)) < 0) {
        snprintf(err, errlen, "the status page's routes: cannot set their rate limit");
        return -1;
    }
    return 0;
}
