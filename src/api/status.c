/* status — the agent's own resources: GET /metrics (Prometheus text,
 * streamed) and GET /v1/status (what `heed status` prints).
 *
 * Both count and show the checks of the request's scope (api/scope.h), as
 * lists do: a tenant's token its tenant's, other tokens the default
 * tenant's, or another's with ?ns=T, or every tenant's with ?ns=*. Per-check
 * series carry a tenant label, so that two tenants' checks "web" are two
 * series. The agent's own series (scheduler, loop, store, API) describe the
 * one process all tenants share, and every caller sees them. */
#include "agent/agent.h"
#include "agent/outbox.h"
#include "agent/catalog.h"
#include "api/metrics.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "store/history.h"
#include "util/mem.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The per-check families, written family by family (the text format
 * wants a family's samples together), then the agent's own. */
enum { F_STATUS, F_UP, F_LATENCY, F_LAST_SUCCESS, F_RUNS, F_CERT, F_AGENT };

#define PART_SAMPLES 128 /* samples per part of the reply (~10 KB) */

/* GET /metrics going out (hd_api_reply_stream): 10,000 checks are ~2.8 MB
 * of text, produced as the client takes it; the checks are held until
 * then, and one removed meanwhile is left out. */
typedef struct scrape_s {
    hd_agent_t *a;
    const hd_api_t *api; /* the server's own families come last */
    hd_metrics_t *m;     /* knows the families already begun, so HELP and TYPE come once */
    hd_agent_check_t **all;
    size_t n, i;
    int fam;
    size_t count[4]; /* checks by status, when the scrape began */
    size_t services; /* catalog services the scrape's scope sees, then */
} scrape_t;

/* One check's sample of family fam; 0 when it has none. */
static int check_sample(hd_metrics_t *m, int fam, const hd_agent_check_t *c)
{
    const hd_check_def_t *d = hd_agent_check_def(c);
    const hd_check_state_t *st = hd_agent_check_state(c);
    const char *id = d->id, *name = d->name ? d->name : id;
    const char *kind = d->ttl ? "ttl" : hd_kind_name(d->target.kind);
    const char *t = hd_tenant_name(d->tenant);
    int64_t cert_expiry = hd_agent_check_cert_expiry(c);
    switch (fam) {
    case F_STATUS:
        hd_metrics_gauge(m, "heed_check_status",
                         "Check status: 0 passing, 1 warning, 2 critical, 3 maintenance.",
                         (double)st->status, "check", id, "tenant", t, "name", name, "kind", kind,
                         NULL);
        return 1;
    case F_UP:
        hd_metrics_gauge(m, "heed_check_up", "1 when the check is passing, else 0.",
                         st->status == HD_CHECK_PASSING ? 1.0 : 0.0, "check", id, "tenant", t,
                         NULL);
        return 1;
    case F_LATENCY:
        hd_metrics_gauge(m, "heed_check_latency_seconds", "Latency of the check's last run.",
                         (double)st->latency_us / 1e6, "check", id, "tenant", t, NULL);
        return 1;
    case F_LAST_SUCCESS:
        hd_metrics_gauge(m, "heed_check_last_success_timestamp_seconds",
                         "When the check last passed (Unix time), 0 if never.",
                         (double)st->last_success / 1e6, "check", id, "tenant", t, NULL);
        return 1;
    case F_RUNS:
        hd_metrics_counter(m, "heed_check_runs_total", "Results of the check since start.",
                           (double)hd_agent_check_runs(c), "check", id, "tenant", t, NULL);
        return 1;
    case F_CERT:
        if (!cert_expiry) return 0;
        hd_metrics_gauge(m, "heed_check_cert_expiry_timestamp_seconds",
                         "When the certificate the check saw expires (Unix time).",
                         (double)cert_expiry, "check", id, "tenant", t, NULL);
        return 1;
    }
    return 0;
}

/* The catalog's families: what it holds (services of the scope, nodes)
 * and the work of its topics (no tenant's data in those). */
static void catalog_families(hd_agent_t *a, hd_metrics_t *m, size_t services)
{
    hd_catalog_t *c = hd_agent_catalog(a);
    const hd_cat_node_t **nodes;
    size_t nn = hd_catalog_nodes(c, &nodes);
    free(nodes);
    hd_metrics_gauge(m, "heed_catalog_services", "Service instances in the catalog.",
                     (double)services, NULL);
    hd_metrics_gauge(m, "heed_catalog_nodes", "Nodes in the catalog.", (double)nn, NULL);
    hd_metrics_gauge(m, "heed_catalog_revision", "The store revision the catalog has applied.",
                     (double)hd_catalog_revision(c), NULL);
    hd_metrics_gauge(m, "heed_catalog_topics",
                     "Topics kept for blocking queries: waited on, or changed since start "
                     "(tombstones).",
                     (double)hd_catalog_topics(c), NULL);
    hd_metrics_counter(m, "heed_catalog_topic_bumps_total",
                       "Topic changes (each wakes only the blocking queries on that topic).",
                       (double)hd_catalog_bumps(c), NULL);
}

static void agent_families(const scrape_t *s, hd_metrics_t *m, const size_t count[4])
{
    hd_agent_stats_t a;
    hd_agent_stats(s->a, &a);
    static const char *const st[] = {"passing", "warning", "critical", "maintenance"};
    for (int i = 0; i < 4; i++)
        hd_metrics_gauge(m, "heed_checks", "Checks by status.", (double)count[i], "status", st[i],
                         NULL);
    hd_metrics_counter(m, "heed_check_results_total",
                       "Check results since start (rate() gives "
                       "checks per second).",
                       (double)a.results_total, NULL);
    hd_metrics_counter(m, "heed_check_runs_skipped_total",
                       "Runs skipped because the previous run was still going.",
                       (double)a.skipped_total, NULL);
    hd_metrics_summary(m, "heed_scheduler_lag_seconds",
                       "Time from a check's due time to its start.", a.sched_lag, NULL);
    hd_metrics_summary(m, "heed_loop_lag_seconds",
                       "Lateness of the agent's one-second tick: how busy the loop is.", a.loop_lag,
                       NULL);
    hd_metrics_summary(m, "heed_store_commit_seconds",
                       "Time from a state write's request to its durable commit.", a.commit_lat,
                       NULL);
    hd_metrics_counter(m, "heed_history_rows_dropped_total",
                       "History rows dropped because the store fell behind (history is best "
                       "effort).",
                       (double)hd_store_history_dropped(hd_agent_store(s->a)), NULL);
    hd_metrics_counter(m, "heed_history_rows_failed_total",
                       "History rows lost because their write failed: a full or failing disk "
                       "(history is not retried).",
                       (double)hd_store_history_failed(hd_agent_store(s->a)), NULL);
    hd_metrics_gauge(m, "heed_state_writes_owed",
                     "Checks whose state the disk does not have yet: changed since their last "
                     "write, or whose write failed and is retried.",
                     (double)a.state_owed, NULL);
    hd_metrics_counter(m, "heed_state_writes_failed_total",
                       "Check state writes that failed (a full or failing disk); each is retried "
                       "until written.",
                       (double)a.state_failed_total, NULL);
    hd_outbox_t *ob = hd_agent_outbox(s->a);
    if (ob) {
        hd_outbox_stats_t o;
        hd_outbox_stats(ob, &o);
        hd_metrics_counter(m, "heed_alert_events_total", "Alert events stored in the outbox.",
                           (double)o.created, NULL);
        static const char *const res[] = {"delivered", "failed", "cancelled"};
        const uint64_t nres[] = {o.delivered, o.failed, o.cancelled};
        for (int i = 0; i < 3; i++)
            hd_metrics_counter(m, "heed_alert_deliveries_total",
                               "Alert deliveries finished, by result.", (double)nres[i], "result",
                               res[i], NULL);
        hd_metrics_counter(m, "heed_alert_delivery_retries_total",
                           "Alert deliveries that failed for now and are tried again.",
                           (double)o.retries, NULL);
        hd_metrics_counter(m, "heed_alert_events_dropped_total",
                           "Undelivered alert events dropped: the outbox cap "
                           "(alerting.outbox_max) or a check's queue of events not yet stored.",
                           (double)(o.dropped + a.alert_events_lost), NULL);
        hd_metrics_gauge(m, "heed_alert_outbox_events",
                         "Alert events with a delivery not finished.", (double)o.undelivered, NULL);
    }
    hd_metrics_counter(m, "heed_config_reloads_total", "Successful SIGHUP reloads.",
                       (double)a.reloads_total, NULL);
    hd_metrics_counter(m, "heed_config_reload_errors_total", "Reloads refused: bad config.",
                       (double)a.reload_errors_total, NULL);
    hd_api_write_metrics(s->api, m);
}

static int scrape_part(hd_api_req_t *r, hd_buf_t *out, void *arg)
{
    (void)r;
    scrape_t *s = arg;
    if (out) {
        int k = 0;
        while (k < PART_SAMPLES && s->fam < F_AGENT) {
            if (s->i == s->n) {
                s->fam++;
                s->i = 0;
                continue;
            }
            hd_agent_check_t *c = s->all[s->i++];
            if (!hd_agent_check_removed(c)) k += check_sample(s->m, s->fam, c);
        }
        if (s->fam == F_AGENT) {
            agent_families(s, s->m, s->count);
            catalog_families(s->a, s->m, s->services);
        }
        size_t len;
        char *text = hd_metrics_take(s->m, &len);
        hd_buf_append(out, text, len);
        free(text);
        if (s->fam < F_AGENT) return 1; /* k reached PART_SAMPLES: text was written */
    }
    for (size_t i = 0; i < s->n; i++)
        hd_agent_check_release(s->all[i]);
    free(s->all);
    hd_metrics_free(s->m);
    free(s);
    return 0;
}

static void get_metrics(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_api_scope(r, HD_SCOPE_LIST, &scope) < 0) return;
    scrape_t *s = hd_xcalloc(1, sizeof(*s));
    s->a = a;
    s->api = hd_api_req_server(r);
    s->m = hd_metrics_new();
    s->all = hd_xcalloc(hd_agent_check_count(a) + 1, sizeof(*s->all));
    size_t pos = 0;
    hd_agent_check_t *c;
    while ((c = hd_agent_check_next(a, &scope, &pos))) {
        s->count[hd_agent_check_state(c)->status]++;
        hd_agent_check_hold(c);
        s->all[s->n++] = c;
    }
    const hd_cat_service_t **svcs;
    s->services = hd_catalog_services(hd_agent_catalog(a), &scope, NULL, NULL, &svcs);
    free(svcs);
    hd_api_reply_stream(r, 200, HD_METRICS_CONTENT_TYPE, scrape_part, s);
}

static void get_status(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_api_scope(r, HD_SCOPE_LIST, &scope) < 0) return;
    size_t pos = 0, count[4] = {0};
    hd_agent_check_t *c;
    while ((c = hd_agent_check_next(a, &scope, &pos)))
        count[hd_agent_check_state(c)->status]++;
    hd_agent_stats_t st;
    hd_agent_stats(a, &st);
    char started[40];
    hd_time_format_rfc3339(st.started_wall, started, sizeof(started));
    hd_api_reply_json(
        r, 200,
        json_pack("{s:s, s:s, s:s, s:f, s:{s:I, s:I, s:I, s:I}, s:I}", "node",
                  hd_agent_config(a)->node, "version", HEED_VERSION, "started", started, "uptime_s",
                  (double)(hd_time_wall_us() - st.started_wall) / 1e6, "checks", "passing",
                  (json_int_t)count[0], "warning", (json_int_t)count[1], "critical",
                  (json_int_t)count[2], "maintenance", (json_int_t)count[3], "results_total",
                  (json_int_t)st.results_total));
}

int hd_api_status_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    if (hd_api_route(api, "GET", "/metrics", HD_ROLE_READ, get_metrics, a, err, errlen) < 0)
        return -1;
    if (hd_api_route(api, "GET", "/v1/status", HD_ROLE_READ, get_status, a, err, errlen) < 0)
        return -1;
    return 0;
}
