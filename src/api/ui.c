/* ui — the dashboard: its static files, and the JSON it reads that the
 * rest of the API does not give in one request.
 *
 *   GET /                   302 to /ui/ (public)
 *   GET /ui, /ui/:file      the page and its files (ui/ at the repository's
 *                           root, built into the binary: api/ui_assets.h),
 *                           public: no token, so that the page loads and
 *                           asks for one. ETag + If-None-Match (304),
 *                           Cache-Control: no-cache, and a strict
 *                           Content-Security-Policy (nothing but this
 *                           agent: no inline script, no other origin).
 *   GET /v1/ui/checks       a page of the checks the token sees, filtered
 *       ?q=TEXT             on the server: text in id, name, target,
 *       &tag=T&status=S     output, service or tags (case-insensitive), a
 *       &limit=N&after=KEY  tag, a status; paged as /v1/checks (by key,
 *       &history=1          "tenant/id"; with sort=status the worst first,
 *       &sort=name|status   after= "RANK:KEY"); with counts by status of the
 *                           checks that match q and tag, and, with
 *                           history=1, each check's uptime over 24 h, 7 d
 *                           and 30 d and a latency sparkline (last hour,
 *                           per minute) from the result history.
 *   GET /v1/ui/services     the services of the catalog the token sees,
 *       ?q=&tag=&status=    with their health (the worst of their checks
 *       &limit=N            and their node's) and checks.
 *
 * Data routes need the read role and work in the request's scope
 * (api/scope.h), as /v1/checks does: the page shows what its token may
 * see, nothing else. What a check page shows beyond these (its history,
 * its events) the page reads from /v1/checks/:id/history and /v1/events. */
#include "agent/agent.h"
#include "agent/catalog.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "api/ui_assets.h"
#include "api/ui_query.h"
#include "store/history.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UI_CHECKS_PAGE   50  /* checks in a page unless limit= says */
#define UI_SERVICES_PAGE 200 /* services likewise */
#define UI_OUTPUT_MAX    512 /* bytes of output a list row shows */
#define UI_CSP                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* ---- static files ---------------------------------------------------------- */

static const hd_ui_asset_t *asset_find(const char *name)
{
    for (const hd_ui_asset_t *f = hd_ui_assets; f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

static void serve_asset(hd_api_req_t *r, const char *name)
{
    const hd_ui_asset_t *f = asset_find(name);
    if (!f) {
        hd_api_error(r, 404, "not_found", "no dashboard file '%s'", name);
        return;
    }
    hd_api_set_header(r, "ETag", f->etag);
    /* Kept, but asked again each time: a new binary serves new files. */
    hd_api_set_header(r, "Cache-Control", "no-cache");
    hd_api_set_header(r, "X-Content-Type-Options", "nosniff");
    hd_api_set_header(r, "Referrer-Policy", "no-referrer");
    hd_api_set_header(r, "Content-Security-Policy", UI_CSP);
    if (hd_ui_etag_match(hd_api_header(r, "If-None-Match"), f->etag)) {
        hd_api_reply_text(r, 304, f->type, "", 0);
        return;
    }
    hd_api_reply_text(r, 200, f->type, (const char *)f->data, f->len);
}

static void get_index(hd_api_req_t *r, void *arg)
{
    (void)arg;
    serve_asset(r, "index.html");
}

/* GET /: the dashboard is what a browser pointed at the agent wants (as
 * Consul's agent does). */
static void get_root(hd_api_req_t *r, void *arg)
{
    (void)arg;
    static const char body[] = "See /ui/\n";
    hd_api_set_header(r, "Location", "/ui/");
    hd_api_reply_text(r, 302, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

static void get_file(hd_api_req_t *r, void *arg)
{
    (void)arg;
    serve_asset(r, hd_api_param(r, "file"));
}

/* ---- shared pieces ----------------------------------------------------------- */

/* A JSON string of at most max bytes of s, cut at a character's start,
 * any invalid byte shown as U+FFFD. */
static json_t *jstr(const char *s, size_t max)
{
    if (!s) return json_null();
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    size_t len;
    char *fixed = hd_utf8_repair(s, n, &len);
    json_t *j = json_stringn(fixed, len);
    free(fixed);
    return j ? j : json_string("");
}

static json_t *jtime(int64_t wall_us)
{
    if (!wall_us) return json_null();
    char ts[40];
    hd_time_format_rfc3339(wall_us, ts, sizeof(ts));
    return json_string(ts);
}

static json_t *jtags(char **tags)
{
    json_t *a = json_array();
    for (char **t = tags; t && *t; t++)
        json_array_append_new(a, jstr(*t, 1024));
    return a;
}

/* 1 when s holds q, ignoring ASCII case. */
static int has_text(const char *s, const char *q)
{
    return s && strcasestr(s, q) != NULL;
}

static int has_tag(char **tags, const char *tag)
{
    for (char **t = tags; t && *t; t++)
        if (!strcmp(*t, tag)) return 1;
    return 0;
}

/* The request's dashboard query: 1, or 0 after replying 400. */
static int read_query(hd_api_req_t *r, size_t def_limit, hd_ui_query_t *out)
{
    char err[200];
    if (hd_ui_query_parse(hd_api_query(r, "q"), hd_api_query(r, "tag"), hd_api_query(r, "status"),
                          hd_api_query(r, "limit"), hd_api_query(r, "after"),
                          hd_api_query(r, "history"), hd_api_query(r, "sort"), def_limit, out, err,
                          sizeof(err)) == 0)
        return 1;
    hd_api_error(r, 400, "bad_query", "%s", err);
    return 0;
}

static json_t *counts_json(const size_t counts[4])
{
    json_t *o = json_object();
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        json_object_set_new(o, hd_check_status_str((hd_check_status_t)i),
                            json_integer((json_int_t)counts[i]));
        total += counts[i];
    }
    json_object_set_new(o, "total", json_integer((json_int_t)total));
    return o;
}

/* ---- GET /v1/ui/checks ----------------------------------------------------------- */

typedef struct row_s {
    hd_agent_check_t *c;
    int rank;                    /* sort=status: hd_ui_status_rank; else 0 */
    char key[HD_TENANT_KEY_MAX]; /* "tenant/id": the order, and the history's name */
} row_t;

/* The order of a page: by rank (0 for all without sort=status), then key. */
static int row_cmp(int rank_a, const char *key_a, int rank_b, const char *key_b)
{
    if (rank_a != rank_b) return rank_a < rank_b ? -1 : 1;
    return strcmp(key_a, key_b);
}

static int by_key(const void *p, const void *q)
{
    const row_t *x = p, *y = q;
    return row_cmp(x->rank, x->key, y->rank, y->key);
}

static int check_matches_text(const hd_check_def_t *d, const hd_check_state_t *st, const char *q)
{
    if (has_text(d->id, q) || has_text(d->name, q) || has_text(d->service_id, q) ||
        (!d->ttl && has_text(d->target.display, q)) || has_text(st->output, q))
        return 1;
    for (char **t = d->tags; t && *t; t++)
        if (has_text(*t, q)) return 1;
    return 0;
}

static json_t *check_row(const hd_check_def_t *d, const hd_check_state_t *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "name", jstr(d->name ? d->name : d->id, 1024));
    json_object_set_new(o, "tenant", json_string(hd_tenant_name(d->tenant)));
    json_object_set_new(o, "service_id", d->service_id ? json_string(d->service_id) : json_null());
    json_object_set_new(o, "tags", jtags(d->tags));
    json_object_set_new(o, "kind", json_string(d->ttl ? "ttl" : hd_kind_name(d->target.kind)));
    json_object_set_new(o, "target", d->ttl ? json_null() : jstr(d->target.display, 1024));
    json_object_set_new(o, "status", json_string(hd_check_status_str(st->status)));
    json_object_set_new(o, "output", jstr(st->output ? st->output : "", UI_OUTPUT_MAX));
    json_object_set_new(o, "latency_ms", json_real((double)st->latency_us / 1e3));
    json_object_set_new(o, "interval_s", json_real((double)d->interval_us / 1e6));
    json_object_set_new(o, "last_checked", jtime(st->last_checked));
    json_object_set_new(o, "last_change", jtime(st->last_change));
    json_object_set_new(o, "paused", json_boolean(st->paused));
    return o;
}

/* A page whose rows wait for their history reads. */
typedef struct page_s {
    hd_api_req_t *r;
    json_t *out;  /* the reply */
    json_t **obj; /* each row's object in out */
    int pending;  /* history reads not answered yet */
    int64_t now;  /* wall clock of the request */
} page_t;

typedef struct read_s {
    page_t *p;
    size_t i;
    int spark; /* the sparkline's read, else the uptime's */
} read_t;

static void page_done(page_t *p)
{
    hd_api_reply_json(p->r, 200, p->out);
    free(p->obj);
    free(p);
}

/* Uptime over the last window: the share of passing results, in percent,
 * of the hourly buckets that overlap it; null without results. */
static json_t *uptime(const hd_hist_series_t *sr, int64_t now, int64_t window_us)
{
    int64_t count = 0, ok = 0, from = now - window_us, step = 3600LL * 1000000;
    for (size_t i = 0; i < sr->n; i++)
        if (sr->pts[i].ts_us + step > from) {
            count += sr->pts[i].count;
            ok += sr->pts[i].ok;
        }
    return count ? json_real(100.0 * (double)ok / (double)count) : json_null();
}

static void on_read(int status, const hd_hist_series_t *sr, void *arg)
{
    read_t *rd = arg;
    page_t *p = rd->p;
    json_t *o = p->obj[rd->i];
    if (status == 0 && rd->spark) {
        /* [minute's start in epoch seconds, average latency ms, worst status] */
        json_t *a = json_array();
        for (size_t i = 0; i < sr->n; i++)
            json_array_append_new(a,
                                  json_pack("[I, f, s]", (json_int_t)(sr->pts[i].ts_us / 1000000),
                                            (double)sr->pts[i].lat_avg_us / 1e3,
                                            hd_check_status_str(sr->pts[i].worst)));
        json_object_set_new(o, "spark", a);
    } else if (status == 0) {
        json_t *u = json_object();
        json_object_set_new(u, "24h", uptime(sr, p->now, 86400LL * 1000000));
        json_object_set_new(u, "7d", uptime(sr, p->now, 7 * 86400LL * 1000000));
        json_object_set_new(u, "30d", uptime(sr, p->now, 30 * 86400LL * 1000000));
        json_object_set_new(o, "uptime", u);
    }
    free(rd);
    if (--p->pending == 0) page_done(p);
}

/* Starts the history reads of the page's rows; replies when none started. */
static void read_history(hd_agent_t *a, page_t *p, const row_t *rows, size_t n)
{
    p->pending = 1; /* this function's own, so that no early answer replies */
    for (size_t i = 0; i < n; i++)
        for (int spark = 0; spark < 2; spark++) {
            read_t *rd = hd_xcalloc(1, sizeof(*rd));
            rd->p = p;
            rd->i = i;
            rd->spark = spark;
            int64_t since = p->now - (spark ? 3600LL : 30 * 86400LL) * 1000000;
            if (hd_store_history_query(hd_agent_store(a), rows[i].key, since, p->now,
                                       spark ? HD_HIST_1M : HD_HIST_1H, 0, on_read, rd) < 0)
                free(rd); /* no history here (not the SQLite store): the row goes without */
            else
                p->pending++;
        }
    if (--p->pending == 0) page_done(p);
}

static void ui_checks(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_api_scope(r, HD_SCOPE_LIST, &scope) < 0) return;
    hd_ui_query_t uq;
    if (!read_query(r, UI_CHECKS_PAGE, &uq)) return;
    const char *q = uq.q, *tag = uq.tag;
    int want = uq.status;
    /* after= is an id of the scope's tenant, or a whole "tenant/id". */
    char akey[HD_UI_AFTER_MAX + HD_TENANT_MAX + 3] = "";
    if (uq.after && scope.tenant && !strchr(uq.after, '/'))
        snprintf(akey, sizeof(akey), "%s/%s", scope.tenant, uq.after);
    else if (uq.after)
        snprintf(akey, sizeof(akey), "%s", uq.after);

    /* Not zeroed: only the rows that match are written, and the pages of a
     * large block that are never written cost no memory. */
    row_t *rows = hd_xmalloc((hd_agent_check_count(a) + 1) * sizeof(*rows));
    size_t n = 0, pos = 0, counts[4] = {0};
    hd_agent_check_t *c;
    while ((c = hd_agent_check_next(a, &scope, &pos))) {
        const hd_check_def_t *d = hd_agent_check_def(c);
        const hd_check_state_t *st = hd_agent_check_state(c);
        if (tag && !has_tag(d->tags, tag)) continue;
        if (q && !check_matches_text(d, st, q)) continue;
        if ((unsigned)st->status < 4) counts[st->status]++;
        if (want >= 0 && (int)st->status != want) continue;
        if (hd_tenant_key(rows[n].key, sizeof(rows[n].key), d->tenant, d->id) < 0) continue;
        rows[n].rank = uq.by_status ? hd_ui_status_rank((int)st->status) : 0;
        if (akey[0] && row_cmp(rows[n].rank, rows[n].key, uq.after_rank, akey) <= 0) continue;
        rows[n++].c = c;
    }
    qsort(rows, n, sizeof(*rows), by_key);
    size_t shown = n > uq.limit ? uq.limit : n;
    json_t *list = json_array();
    page_t *p = hd_xcalloc(1, sizeof(*p));
    p->r = r;
    p->now = hd_time_wall_us();
    p->obj = hd_xcalloc(shown + 1, sizeof(*p->obj));
    for (size_t i = 0; i < shown; i++) {
        p->obj[i] = check_row(hd_agent_check_def(rows[i].c), hd_agent_check_state(rows[i].c));
        json_array_append_new(list, p->obj[i]);
    }
    /* The next page's after=: the last row's key as after= takes it back,
     * with its rank in front for sort=status. */
    char next[HD_TENANT_KEY_MAX + 3] = "";
    if (n > shown) {
        const char *k = rows[shown - 1].key;
        snprintf(next, sizeof(next), "%s%s", uq.by_status ? "0:" : "",
                 scope.tenant ? strchr(k, '/') + 1 : k);
        if (uq.by_status) next[0] = (char)('0' + rows[shown - 1].rank);
    }
    p->out = json_pack("{s:o, s:o, s:I, s:o, s:o}", "checks", list, "counts", counts_json(counts),
                       "matched", (json_int_t)n, "next", next[0] ? json_string(next) : json_null(),
                       "now", jtime(p->now));
    if (uq.history)
        read_history(a, p, rows, shown);
    else
        page_done(p);
    free(rows);
}

/* ---- GET /v1/ui/services --------------------------------------------------------- */

static int service_matches_text(const hd_service_t *s, const char *q)
{
    if (has_text(s->id, q) || has_text(s->name, q) || has_text(s->node, q) ||
        has_text(s->address, q))
        return 1;
    for (char **t = s->tags; t && *t; t++)
        if (has_text(*t, q)) return 1;
    return 0;
}

static void ui_services(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_api_scope(r, HD_SCOPE_LIST, &scope) < 0) return;
    hd_ui_query_t uq;
    if (!read_query(r, UI_SERVICES_PAGE, &uq)) return;
    const char *q = uq.q, *tag = uq.tag;
    int want = uq.status;
    hd_catalog_t *cat = hd_agent_catalog(a);
    const hd_cat_service_t **l;
    size_t n = hd_catalog_services(cat, &scope, NULL, NULL, &l), matched = 0, counts[4] = {0};
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const hd_service_t *s = &l[i]->s;
        if ((tag && !has_tag(s->tags, tag)) || (q && !service_matches_text(s, q))) continue;
        hd_scope_t own = {hd_tenant_name(s->tenant)};
        hd_cat_views_t v = {0};
        hd_catalog_node_checks(cat, &own, s->node, 1, &v);
        hd_catalog_service_checks(cat, l[i], &v);
        hd_check_status_t worst = hd_cat_views_worst(&v);
        if ((unsigned)worst < 4) counts[worst]++;
        if ((want >= 0 && (int)worst != want) || ++matched > uq.limit) { /* counted only */
            hd_cat_views_free(&v);
            continue;
        }
        json_t *checks = json_array();
        for (size_t j = 0; j < v.n; j++)
            json_array_append_new(checks,
                                  json_pack("{s:o, s:o, s:s, s:o, s:b}", "id", jstr(v.v[j].id, 512),
                                            "name", jstr(v.v[j].name, 512), "status",
                                            hd_check_status_str(v.v[j].status), "output",
                                            jstr(v.v[j].output ? v.v[j].output : "", UI_OUTPUT_MAX),
                                            "node_check", !v.v[j].service));
        hd_cat_views_free(&v);
        json_t *o =
            json_pack("{s:o, s:o, s:s, s:s, s:o, s:o, s:i, s:s, s:b, s:o}", "id", jstr(s->id, 512),
                      "name", jstr(s->name, 512), "tenant", hd_tenant_name(s->tenant), "node",
                      s->node ? s->node : "", "tags", jtags(s->tags), "address",
                      s->address ? jstr(s->address, 512) : json_null(), "port", s->port, "status",
                      hd_check_status_str(worst), "maintenance", s->maint, "checks", checks);
        json_array_append_new(list, o);
    }
    free(l);
    hd_api_reply_json(r, 200,
                      json_pack("{s:o, s:o, s:I}", "services", list, "counts", counts_json(counts),
                                "matched", (json_int_t)matched));
}

/* ---- registration ----------------------------------------------------------- */

int hd_api_ui_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    if (hd_api_route(api, "GET", "/", HD_ROLE_NONE, get_root, a, err, errlen) < 0 ||
        hd_api_route(api, "GET", "/ui", HD_ROLE_NONE, get_index, a, err, errlen) < 0 ||
        hd_api_route(api, "GET", "/ui/:file", HD_ROLE_NONE, get_file, a, err, errlen) < 0 ||
        hd_api_route(api, "GET", "/v1/ui/checks", HD_ROLE_READ, ui_checks, a, err, errlen) < 0 ||
        hd_api_route(api, "GET", "/v1/ui/services", HD_ROLE_READ, ui_services, a, err, errlen) < 0)
        return -1;
    (void)hd_api_route_public(api, "GET", "/");         /* registered above */
    (void)hd_api_route_public(api, "GET", "/ui");       /* registered above */
    (void)hd_api_route_public(api, "GET", "/ui/:file"); /* registered above */
    return 0;
}
