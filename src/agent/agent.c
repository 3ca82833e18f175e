/* agent — the agent's life: configuration, the check registry, runs and
 * results, state and history writes, reloads, start and stop.
 *
 * Start-up: read the config, open the store in data_dir, read the
 * API-created definitions (heed/checks/) and every state (heed/state/),
 * build the checks (config ones from the file, API ones from the store),
 * schedule them, and only then listen: the API never answers from a
 * half-loaded agent.
 *
 * Writes: a definition change and a status change are written at once
 * (an API write is answered only when durable; past 256 state writes in
 * flight, a check's waits its turn in a queue: see "state-write queue");
 * an output that changes while the status does not is written at most
 * once a minute per check (HD_AGENT_OUTPUT_THROTTLE_US) and at shutdown;
 * every result goes to the local history. */
#include "agent/agent.h"
#include "agent/agent_impl.h"
#include "agent/check_json.h"
#include "agent/state.h"
#include "api/routes.h"
#include "api/server.h"
#include "store/history.h"
#include "store/store.h"
#include "util/fdlimit.h"
#include "util/mem.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <limits.h>
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <event2/event.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICK_US 1000000LL

#define CHECK_OF(it) ((hd_agent_check_t *)((char *)(it)-offsetof(hd_agent_check_t, item)))

static void schedule_check(hd_agent_t *a, hd_agent_check_t *c, int64_t now);

/* ---- registry -------------------------------------------------------------- */

static hd_agent_check_t *check_new(hd_agent_t *a, hd_check_def_t *def)
{
    hd_agent_check_t *c = hd_xcalloc(1, sizeof(*c));
    c->def = *def;
    memset(def, 0, sizeof(*def));
    c->agent = a;
    hd_state_init(&c->st, hd_time_wall_us());
    hd_sched_item_init(&c->item);
    return c;
}

static void check_free(hd_agent_check_t *c)
{
    hd_check_def_free(&c->def);
    hd_state_free(&c->st);
    free(c);
}

/* Stops a check's runs and drops it from the registry; the memory goes
 * when the last write pointing at it has answered. */
static void check_remove(hd_agent_t *a, hd_agent_check_t *c)
{
    if (c->running) hd_probe_cancel(c->running);
    c->running = NULL;
    hd_sched_remove(&a->sched, &c->item);
    if (hd_map_get(&a->checks, c->def.id) == c) hd_map_del(&a->checks, c->def.id);
    c->removed = 1;
    if (c->refs == 0) check_free(c);
}

static void unref(hd_agent_check_t *c)
{
    if (--c->refs == 0 && c->removed) check_free(c);
}

hd_agent_check_t *hd_agent_check_get(hd_agent_t *a, const char *id)
{
    return hd_map_get(&a->checks, id);
}

void hd_agent_check_hold(hd_agent_check_t *c)
{
    c->refs++;
}

void hd_agent_check_release(hd_agent_check_t *c)
{
    unref(c);
}

/* Makes the probe target follow the definition's expectations that the
 * config reader keeps on the definition (certificate days, dns answer,
 * tls verification). */
static void prepare_target(hd_check_def_t *d)
{
    if (d->target.kind == HD_KIND_TLS) {
        if (d->cert_days_left) d->target.tls.cert_days_left = d->cert_days_left;
        if (d->target.http.insecure) d->target.tls.insecure = 1;
    }
    if (d->target.kind == HD_KIND_DNS && d->dns_expect && !d->target.dns_expect)
        d->target.dns_expect = hd_xstrdup(d->dns_expect);
}

/* ---- state writes ---------------------------------------------------------- */

typedef struct write_s {
    hd_agent_t *a;
    hd_agent_check_t *c;
    int64_t started;
    hd_agent_done_cb cb;
    void *arg;
    int kind;               /* what to do when durable */
    hd_check_def_t *newdef; /* W_REPLACE: the definition to take, owned */
} write_t;

enum {
    W_STATE,
    W_QUEUED, /* a W_STATE from the state-write queue: its answer frees a slot */
    W_CREATE,
    W_REPLACE,
    W_DELETE,
    W_PAUSE,
};

static int write_state(hd_agent_t *a, hd_agent_check_t *c, int kind, hd_agent_done_cb cb,
                       void *arg);
static void state_pump(hd_agent_t *a);
static void queue_state(hd_agent_t *a, hd_agent_check_t *c);

static char *key_of(const char *prefix, const char *id, size_t *len)
{
    size_t n = strlen(prefix) + strlen(id);
    char *k = hd_xmalloc(n + 1);
    snprintf(k, n + 1, "%s%s", prefix, id);
    *len = n;
    return k;
}

static char *dump(json_t *o, size_t *len)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) {
        fprintf(stderr, "heed agent: out of memory encoding JSON\n");
        abort();
    }
    *len = strlen(s);
    return s;
}

static void on_written(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    write_t *w = arg;
    hd_agent_t *a = w->a;
    hd_agent_check_t *c = w->c;
    hd_hist_add(&a->commit_lat, hd_time_now_us() - w->started);
    if (status != 0 && (w->kind == W_STATE || w->kind == W_QUEUED) && !c->removed)
        fprintf(stderr, "heed agent: %s: cannot write state: %s\n", c->def.id,
                hd_store_strerror(status));
    hd_agent_check_t *result = c;
    switch (w->kind) {
    case W_CREATE:
        if (status == 0 && !c->removed) {
            c->pending = 0;
            c->state_written = hd_time_wall_us();
            schedule_check(a, c, hd_time_now_us());
        } else {
            if (!c->removed) check_remove(a, c);
            result = NULL;
        }
        break;
    case W_REPLACE:
        if (status == 0 && !c->removed) {
            int target_changed = strcmp(c->def.target.url ? c->def.target.url : "",
                                        w->newdef->target.url ? w->newdef->target.url : "") != 0;
            if (c->running) hd_probe_cancel(c->running);
            c->running = NULL;
            hd_check_def_free(&c->def);
            c->def = *w->newdef;
            memset(w->newdef, 0, sizeof(*w->newdef));
            if (target_changed) {
                int paused = c->st.paused;
                hd_state_free(&c->st);
                hd_state_init(&c->st, hd_time_wall_us());
                if (paused) hd_state_pause(&c->st, 1, hd_time_wall_us());
                queue_state(a, c);
            }
            hd_sched_remove(&a->sched, &c->item);
            schedule_check(a, c, hd_time_now_us());
        } else {
            result = c->removed ? NULL : c;
        }
        break;
    case W_DELETE:
        if (status == 0 && !c->removed) check_remove(a, c);
        result = NULL;
        break;
    default:
        break;
    }
    if (w->newdef) {
        hd_check_def_free(w->newdef);
        free(w->newdef);
    }
    if (w->cb) w->cb(status, result, w->arg);
    unref(c);
    if (w->kind == W_QUEUED) {
        a->state_inflight--;
        state_pump(a);
    }
    free(w);
}

static write_t *write_new(hd_agent_t *a, hd_agent_check_t *c, int kind, hd_agent_done_cb cb,
                          void *arg)
{
    write_t *w = hd_xcalloc(1, sizeof(*w));
    w->a = a;
    w->c = c;
    w->kind = kind;
    w->cb = cb;
    w->arg = arg;
    w->started = hd_time_now_us();
    c->refs++;
    return w;
}

/* Writes c's state; cb (may be NULL) runs once it is durable. */
static int write_state(hd_agent_t *a, hd_agent_check_t *c, int kind, hd_agent_done_cb cb, void *arg)
{
    size_t klen, vlen;
    char *key = key_of(HD_AGENT_KEY_STATE, c->def.id, &klen);
    char *val = dump(hd_check_state_to_json(&c->st), &vlen);
    write_t *w = write_new(a, c, kind, cb, arg);
    c->state_written = hd_time_wall_us();
    c->state_dirty = 0;
    int rc = hd_store_put(a->store, key, klen, val, vlen, 0, on_written, w);
    free(key);
    free(val);
    if (rc < 0) {
        c->refs--;
        free(w);
    }
    return rc;
}

/* The state-write queue. A status change goes to the store at once, but
 * 10,000 checks changing within one interval (every check's first result,
 * or a network blip) must not mean 10,000 writes held in memory together
 * (each ~0.5 KB of request and JSON until its batch commits: +3.5 MB). So
 * at most STATE_INFLIGHT_MAX writes of this queue are in flight; beyond
 * that a check waits in the queue, once however often it changes meanwhile,
 * and its JSON is made when its write leaves, from its state at that
 * moment. Each answer lets the next one go. Writes whose caller waits for
 * durability (API pauses, TTL updates) do not queue. */
#define STATE_INFLIGHT_MAX 256

static void state_pump(hd_agent_t *a)
{
    while (a->state_head && a->state_inflight < STATE_INFLIGHT_MAX) {
        hd_agent_check_t *c = a->state_head;
        a->state_head = c->state_next;
        if (!a->state_head) a->state_tail = NULL;
        c->state_next = NULL;
        c->state_queued = 0;
        if (!c->removed && write_state(a, c, W_QUEUED, NULL, NULL) == 0) a->state_inflight++;
        unref(c);
    }
}

/* Asks for c's state to be written: now when a slot is free, else when its
 * turn in the queue comes. Errors are logged when the write answers. */
static void queue_state(hd_agent_t *a, hd_agent_check_t *c)
{
    if (c->state_queued) return; /* its write, still to leave, will carry this too */
    c->state_queued = 1;
    c->refs++;
    if (a->state_tail)
        a->state_tail->state_next = c;
    else
        a->state_head = c;
    a->state_tail = c;
    state_pump(a);
}

/* ---- runs and results ------------------------------------------------------ */

/* History rows. Every result goes to the history, but a result that changes
 * nothing needs no commit of its own: rows wait here at most
 * HISTORY_DELAY_US and leave for the store together, in one request
 * (hd_store_history_add_batch), so that 10,000 results a second cost ten
 * requests and ten commits, not one of each per result (a commit is an
 * fsync). A status change, written at once anyway, takes the waiting rows
 * along: the history never lags behind a change the API shows. A stop
 * flushes them. History is best effort: a crash may lose the last
 * HISTORY_DELAY_US of rows, and when the store falls behind (its writer
 * starved of CPU or disk) it drops rows past its queue limit and counts
 * them (heed_history_rows_dropped_total); the loop never blocks or waits
 * for it. A row holds a reference on its check, as a write does. */
#define HISTORY_DELAY_US 100000
#define HISTORY_MAX_ROWS 4096

typedef struct hist_row_s {
    hd_agent_check_t *c;
    int64_t wall, latency_us;
    hd_check_status_t status;
    int reason;
} hist_row_t;

static void history_flush(hd_agent_t *a)
{
    if (a->hist_ev) evtimer_del(a->hist_ev);
    size_t n = a->hist_n;
    a->hist_n = 0;
    if (!n) return;
    if (a->store) {
        hd_hist_row_t *rows = hd_xmalloc(n * sizeof(*rows));
        for (size_t i = 0; i < n; i++) {
            const hist_row_t *h = &a->hist_rows[i];
            rows[i] = (hd_hist_row_t){h->c->def.id, h->wall, h->status, h->reason, h->latency_us};
        }
        /* Best effort: a failed history write must not stop checks. */
        (void)hd_store_history_add_batch(a->store, rows, n, NULL, NULL);
        free(rows);
    }
    for (size_t i = 0; i < n; i++)
        unref(a->hist_rows[i].c);
}

static void on_history_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    history_flush(arg);
}

static void history_add(hd_agent_t *a, hd_agent_check_t *c, int64_t wall, hd_check_status_t status,
                        int reason, int64_t latency_us, int at_once)
{
    if (a->hist_n == a->hist_cap) {
        a->hist_cap = a->hist_cap ? 2 * a->hist_cap : 256;
        a->hist_rows = hd_xrealloc(a->hist_rows, a->hist_cap * sizeof(*a->hist_rows));
    }
    a->hist_rows[a->hist_n++] = (hist_row_t){c, wall, latency_us, status, reason};
    c->refs++;
    if (at_once || a->hist_n >= HISTORY_MAX_ROWS) {
        history_flush(a);
    } else if (a->hist_n == 1) {
        if (!a->hist_ev) a->hist_ev = evtimer_new(a->base, on_history_timer, a);
        struct timeval tv = {0, HISTORY_DELAY_US};
        evtimer_add(a->hist_ev, &tv);
    }
}

static void on_result(const hd_result_t *res, void *arg)
{
    hd_agent_check_t *c = arg;
    hd_agent_t *a = c->agent;
    c->running = NULL;
    c->runs++;
    a->results_total++;
    if (res->cert_expiry) c->cert_expiry = res->cert_expiry;
    int64_t wall = hd_time_wall_us();
    int flags = hd_state_apply(&c->st, &c->def, res, wall, a->cfg.limits.output_max_bytes);
    hd_check_status_t hs = res->status == HD_STATUS_PASSING   ? HD_CHECK_PASSING
                           : res->status == HD_STATUS_WARNING ? HD_CHECK_WARNING
                                                              : HD_CHECK_CRITICAL;
    history_add(a, c, wall, hs, (int)res->reason, res->latency_us, flags & HD_STATE_STATUS_CHANGED);
    if (flags & HD_STATE_STATUS_CHANGED)
        queue_state(a, c);
    else if (flags & HD_STATE_OUTPUT_CHANGED)
        c->state_dirty = 1; /* the tick writes it when the throttle allows */
}

static void run_check(hd_agent_t *a, hd_agent_check_t *c)
{
    if (c->running) {
        a->skipped_total++; /* the previous run is still going: never two at once */
        return;
    }
    int rc = hd_probe_start(&a->env, &c->def.target, c->def.timeout_us, on_result, c, &c->running);
    if (rc < 0) {
        hd_result_t res;
        memset(&res, 0, sizeof(res));
        res.status = HD_STATUS_CRITICAL;
        res.reason = HD_R_UNSUPPORTED;
        snprintf(res.output, sizeof(res.output), "cannot start the probe: %s", strerror(-rc));
        c->running = NULL;
        on_result(&res, c);
    }
}

static void ttl_expired(hd_agent_t *a, hd_agent_check_t *c)
{
    char secs[32];
    hd_time_format_duration(c->def.ttl_us, secs, sizeof(secs));
    int64_t wall = hd_time_wall_us();
    int changed = c->st.status != HD_CHECK_CRITICAL;
    c->st.status = HD_CHECK_CRITICAL;
    c->st.reason = HD_R_TIMEOUT;
    free(c->st.output);
    size_t n = strlen(secs) + 64;
    c->st.output = hd_xmalloc(n);
    snprintf(c->st.output, n, "TTL expired: no update within %s", secs);
    /* The expiry is a result like a probe's: the history must show it. */
    (void)hd_store_history_add(a->store, c->def.id, wall, HD_CHECK_CRITICAL, (int)HD_R_TIMEOUT, 0,
                               NULL, NULL);
    if (changed) {
        c->st.last_change = wall;
        queue_state(a, c);
    }
}

static void on_sched(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_agent_t *a = arg;
    int64_t now = hd_time_now_us();
    hd_sched_item_t *it;
    while ((it = hd_sched_pop_due(&a->sched, now))) {
        hd_agent_check_t *c = CHECK_OF(it);
        if (c->def.ttl) {
            ttl_expired(a, c); /* rescheduled by the next update */
            continue;
        }
        hd_sched_add(&a->sched, it, hd_sched_next_after(it->due_us, c->def.interval_us, now));
        run_check(a, c);
    }
    hd_sched_arm(&a->sched, a->base, hd_time_now_us(), on_sched, a);
}

static void schedule_check(hd_agent_t *a, hd_agent_check_t *c, int64_t now)
{
    if (c->st.paused) return;
    if (c->def.ttl)
        hd_sched_add(&a->sched, &c->item, now + c->def.ttl_us);
    else
        hd_sched_add(&a->sched, &c->item, hd_sched_first_due(c->def.id, c->def.interval_us, now));
    hd_sched_arm(&a->sched, a->base, now, on_sched, a);
}

/* ---- API-facing operations ------------------------------------------------- */

int hd_agent_check_create(hd_agent_t *a, hd_check_def_t *def, hd_agent_done_cb cb, void *arg)
{
    if (hd_map_get(&a->checks, def->id)) return HD_STORE_ECONFLICT;
    prepare_target(def);
    hd_agent_check_t *c = check_new(a, def);
    size_t dk, dv, sk, sv;
    char *dkey = key_of(HD_AGENT_KEY_CHECKS, c->def.id, &dk);
    char *dval = dump(hd_check_def_to_json(&c->def), &dv);
    if (c->def.tenant) {
        /* the tenant is not part of the input form: keep it beside it */
        json_t *o = json_loadb(dval, dv, 0, NULL);
        json_object_set_new(o, "tenant", json_string(c->def.tenant));
        free(dval);
        dval = dump(o, &dv);
    }
    char *skey = key_of(HD_AGENT_KEY_STATE, c->def.id, &sk);
    char *sval = dump(hd_check_state_to_json(&c->st), &sv);
    hd_store_cmp_t cmp = {dkey, dk, HD_STORE_CMP_ABSENT, 0};
    hd_store_op_t ops[2] = {{HD_STORE_OP_PUT, dkey, dk, dval, dv, 0},
                            {HD_STORE_OP_PUT, skey, sk, sval, sv, 0}};
    c->pending = 1;
    hd_map_put(&a->checks, c->def.id, c);
    write_t *w = write_new(a, c, W_CREATE, cb, arg);
    int rc = hd_store_txn(a->store, &cmp, 1, ops, 2, on_written, w);
    free(dkey);
    free(dval);
    free(skey);
    free(sval);
    if (rc < 0) {
        c->refs--;
        free(w);
        check_remove(a, c);
    }
    return rc;
}

int hd_agent_check_replace(hd_agent_t *a, hd_agent_check_t *c, hd_check_def_t *def,
                           hd_agent_done_cb cb, void *arg)
{
    prepare_target(def);
    size_t dk, dv;
    char *dkey = key_of(HD_AGENT_KEY_CHECKS, c->def.id, &dk);
    json_t *o = hd_check_def_to_json(def);
    if (def->tenant) json_object_set_new(o, "tenant", json_string(def->tenant));
    char *dval = dump(o, &dv);
    write_t *w = write_new(a, c, W_REPLACE, cb, arg);
    w->newdef = hd_xmalloc(sizeof(*w->newdef));
    *w->newdef = *def;
    memset(def, 0, sizeof(*def));
    int rc = hd_store_put(a->store, dkey, dk, dval, dv, 0, on_written, w);
    free(dkey);
    free(dval);
    if (rc < 0) {
        *def = *w->newdef; /* the caller keeps what it gave */
        free(w->newdef);
        c->refs--;
        free(w);
    }
    return rc;
}

int hd_agent_check_delete(hd_agent_t *a, hd_agent_check_t *c, hd_agent_done_cb cb, void *arg)
{
    size_t dk, sk;
    char *dkey = key_of(HD_AGENT_KEY_CHECKS, c->def.id, &dk);
    char *skey = key_of(HD_AGENT_KEY_STATE, c->def.id, &sk);
    hd_store_op_t ops[2] = {{HD_STORE_OP_DELETE, dkey, dk, NULL, 0, 0},
                            {HD_STORE_OP_DELETE, skey, sk, NULL, 0, 0}};
    write_t *w = write_new(a, c, W_DELETE, cb, arg);
    int rc = hd_store_txn(a->store, NULL, 0, ops, 2, on_written, w);
    free(dkey);
    free(skey);
    if (rc < 0) {
        c->refs--;
        free(w);
    }
    return rc;
}

int hd_agent_check_pause(hd_agent_t *a, hd_agent_check_t *c, int paused, hd_agent_done_cb cb,
                         void *arg)
{
    int64_t now = hd_time_now_us();
    if (hd_state_pause(&c->st, paused, hd_time_wall_us())) {
        if (paused) {
            if (c->running) hd_probe_cancel(c->running);
            c->running = NULL;
            hd_sched_remove(&a->sched, &c->item);
        } else {
            schedule_check(a, c, now);
        }
    }
    return write_state(a, c, W_PAUSE, cb, arg);
}

int hd_agent_check_ttl_update(hd_agent_t *a, hd_agent_check_t *c, hd_status_t status,
                              const char *output, hd_agent_done_cb cb, void *arg)
{
    int64_t wall = hd_time_wall_us();
    hd_check_status_t s = status == HD_STATUS_PASSING   ? HD_CHECK_PASSING
                          : status == HD_STATUS_WARNING ? HD_CHECK_WARNING
                                                        : HD_CHECK_CRITICAL;
    if (!c->st.paused) {
        int changed = c->st.status != s;
        c->st.status = s;
        c->st.reason = s == HD_CHECK_PASSING ? HD_R_OK : HD_R_EXEC_STATUS;
        c->st.last_checked = wall;
        if (s == HD_CHECK_PASSING) c->st.last_success = wall;
        if (changed) c->st.last_change = wall;
        size_t max = a->cfg.limits.output_max_bytes ? a->cfg.limits.output_max_bytes : 4096;
        (void)hd_state_set_output(&c->st, output ? output : "", max);
        (void)hd_store_history_add(a->store, c->def.id, wall, s, (int)c->st.reason, 0, NULL, NULL);
        hd_sched_add(&a->sched, &c->item, hd_time_now_us() + c->def.ttl_us);
        hd_sched_arm(&a->sched, a->base, hd_time_now_us(), on_sched, a);
        if (!changed) {
            c->state_dirty = 1; /* the output waits for the throttle */
            return 1;
        }
    }
    return write_state(a, c, W_STATE, cb, arg);
}

/* ---- the tick: loop lag and throttled writes -------------------------------- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_agent_t *a = arg;
    int64_t now = hd_time_now_us();
    hd_hist_add(&a->loop_lag, now - a->tick_due);
    a->tick_due = now + TICK_US;
    int64_t wall = hd_time_wall_us();
    size_t pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos))) {
        hd_agent_check_t *c = s->val;
        if (c->state_dirty && wall - c->state_written >= HD_AGENT_OUTPUT_THROTTLE_US)
            queue_state(a, c);
    }
    struct timeval tv = {1, 0};
    evtimer_add(a->tick, &tv);
}

/* ---- the API server's options ----------------------------------------------- */

static int ms_of(int64_t us)
{
    int64_t ms = us / 1000;
    return ms > INT_MAX ? INT_MAX : ms < 1 ? 1 : (int)ms;
}

/* The API server's options for cfg; toks has room for cfg->ntokens and
 * holds pointers into cfg. nofile: the open-file limit, from which the
 * connection cap comes unless limits.max_conns sets it. */
static void api_opts(const hd_config_t *cfg, long nofile, hd_api_token_t *toks, hd_api_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < cfg->ntokens; i++) {
        toks[i].secret = cfg->tokens[i].secret;
        toks[i].role = cfg->tokens[i].role == HD_CONFIG_ROLE_MANAGEMENT ? HD_ROLE_MANAGEMENT
                       : cfg->tokens[i].role == HD_CONFIG_ROLE_WRITE    ? HD_ROLE_WRITE
                                                                        : HD_ROLE_READ;
        toks[i].tenant = cfg->tokens[i].tenant;
    }
    const hd_config_limits_t *l = &cfg->limits;
    o->tokens = toks;
    o->ntokens = cfg->ntokens;
    o->max_body_bytes = l->max_body_bytes;
    o->max_header_bytes = l->max_header_bytes;
    o->max_conns = l->max_conns ? l->max_conns : hd_fdlimit_conns(nofile);
    o->max_conns_per_client = l->max_conns_per_client;
    o->header_timeout_ms = ms_of(l->header_timeout_us);
    o->body_timeout_ms = ms_of(l->body_timeout_us);
    o->idle_timeout_ms = ms_of(l->idle_timeout_us);
    o->send_timeout_ms = ms_of(l->send_timeout_us);
    o->max_unsent_bytes = l->max_unsent_bytes;
    o->max_unsent_total = l->max_unsent_total;
    o->rate = cfg->rate_limits.api.rate > 0 ? cfg->rate_limits.api.rate : -1;
    o->burst = cfg->rate_limits.api.burst;
    o->tls.cert_file = cfg->tls.cert_file;
    o->tls.key_file = cfg->tls.key_file;
    o->tls.ca_file = cfg->tls.ca_file;
    o->tls.verify_incoming = cfg->tls.verify_incoming;
    o->tls.min_version = cfg->tls.min_version;
    o->allow_plaintext = cfg->allow_plaintext;
}

int hd_agent_check_api(const hd_config_t *cfg, char *err, size_t errlen)
{
    hd_api_token_t *toks = hd_xcalloc(cfg->ntokens + 1, sizeof(*toks));
    hd_api_opts_t o;
    api_opts(cfg, 1024, toks, &o);
    int rc = hd_api_check(&o, cfg->bind_host, err, errlen);
    free(toks);
    return rc;
}

/* GET /v1/ping's own rate limit (rate_limits.ping); 0 lifts it. */
static void ping_limit(hd_agent_t *a)
{
    const hd_config_rate_t *lim = &a->cfg.rate_limits.ping;
    double burst = lim->burst > 0 ? lim->burst : lim->rate < 1 ? 1 : lim->rate;
    (void)hd_api_route_limit(a->api, "GET", "/v1/ping", lim->rate > 0 ? lim->rate : 0,
                             burst); /* the route exists: hd_agent_routes made it */
}

/* ---- configuration: start-up and reload ------------------------------------ */

/* Takes the config's check definitions into the registry, keeping the
 * state of checks whose definitions did not change. */
static void apply_config_checks(hd_agent_t *a, hd_config_t *cfg, int64_t now)
{
    /* Drop config checks the new file no longer has. */
    hd_agent_check_t **gone = hd_xcalloc(a->checks.n + 1, sizeof(*gone));
    size_t ngone = 0, pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos))) {
        hd_agent_check_t *c = s->val;
        if (!c->def.from_config) continue;
        int kept = 0;
        for (size_t i = 0; i < cfg->nchecks && !kept; i++)
            kept = cfg->checks[i].id && strcmp(cfg->checks[i].id, c->def.id) == 0;
        if (!kept) gone[ngone++] = c;
    }
    for (size_t i = 0; i < ngone; i++) {
        size_t klen;
        char *key = key_of(HD_AGENT_KEY_STATE, gone[i]->def.id, &klen);
        (void)hd_store_delete(a->store, key, klen, NULL, NULL); /* best effort cleanup */
        free(key);
        check_remove(a, gone[i]);
    }
    free(gone);

    for (size_t i = 0; i < cfg->nchecks; i++) {
        hd_check_def_t *d = &cfg->checks[i];
        prepare_target(d);
        hd_agent_check_t *c = hd_map_get(&a->checks, d->id);
        if (c && !c->def.from_config) {
            fprintf(stderr,
                    "heed agent: config check '%s' has the id of a check created through the "
                    "API; the API's stays\n",
                    d->id);
            continue;
        }
        if (c && hd_check_def_equal(&c->def, d)) continue;
        if (c) {
            int target_changed = strcmp(c->def.target.url ? c->def.target.url : "",
                                        d->target.url ? d->target.url : "") != 0;
            if (c->running) hd_probe_cancel(c->running);
            c->running = NULL;
            hd_sched_remove(&a->sched, &c->item);
            hd_check_def_free(&c->def);
            c->def = *d;
            memset(d, 0, sizeof(*d));
            if (target_changed) { /* a new target starts afresh, paused or not as before */
                int paused = c->st.paused;
                hd_state_free(&c->st);
                hd_state_init(&c->st, hd_time_wall_us());
                if (paused) hd_state_pause(&c->st, 1, hd_time_wall_us());
                queue_state(a, c);
            }
        } else {
            c = check_new(a, d);
            hd_map_put(&a->checks, c->def.id, c);
        }
        schedule_check(a, c, now);
    }
}

/* Takes the API's part of a reloaded config: tokens, limits, rate limits
 * and TLS files. 0, or -1 with err (nothing changed). */
static int reload_api(hd_agent_t *a, hd_config_t *cfg, char *err, size_t errlen)
{
    int had_tls = a->cfg.tls.cert_file != NULL, has_tls = cfg->tls.cert_file != NULL;
    if (had_tls != has_tls) { /* the listener speaks one or the other */
        fprintf(stderr, "heed agent: reload: turning TLS %s takes effect at the next start\n",
                has_tls ? "on" : "off");
        hd_config_tls_t keep = cfg->tls;
        cfg->tls = a->cfg.tls;
        a->cfg.tls = keep; /* swapped back below: the running one stays */
    }
    if (hd_agent_check_api(cfg, err, errlen) < 0) goto bad;
    hd_api_token_t *toks = hd_xcalloc(cfg->ntokens + 1, sizeof(*toks));
    hd_api_opts_t o;
    api_opts(cfg, a->nofile, toks, &o);
    int rc = hd_api_reconfigure(a->api, &o, err, errlen);
    free(toks);
    if (rc < 0) goto bad;
    /* The running config takes cfg's API part; cfg gets the old to free. */
    hd_config_token_t *t = a->cfg.tokens;
    size_t nt = a->cfg.ntokens;
    a->cfg.tokens = cfg->tokens;
    a->cfg.ntokens = cfg->ntokens;
    cfg->tokens = t;
    cfg->ntokens = nt;
    hd_config_tls_t tls = a->cfg.tls;
    a->cfg.tls = cfg->tls;
    cfg->tls = tls;
    a->cfg.limits = cfg->limits;
    a->cfg.rate_limits = cfg->rate_limits;
    a->cfg.allow_plaintext = cfg->allow_plaintext;
    ping_limit(a);
    return 0;
bad:
    if (had_tls != has_tls) { /* undo the swap above */
        hd_config_tls_t keep = cfg->tls;
        cfg->tls = a->cfg.tls;
        a->cfg.tls = keep;
    }
    return -1;
}

static void reload(hd_agent_t *a)
{
    if (!a->config_path) {
        fprintf(stderr, "heed agent: SIGHUP: --dev has no config file to reload\n");
        return;
    }
    hd_config_t cfg;
    char err[4096];
    if (hd_config_load_file(a->config_path, &cfg, err, sizeof(err)) < 0) {
        a->reload_errors_total++;
        fprintf(stderr, "heed agent: reload failed, the running config stays:\n%s\n", err);
        return;
    }
    /* The command line still wins over the file, as at start. */
    if (a->opt_data_dir) {
        free(cfg.data_dir);
        cfg.data_dir = hd_xstrdup(a->opt_data_dir);
    }
    if (a->opt_bind) (void)hd_config_parse_bind(a->opt_bind, &cfg, err, sizeof(err));
    if (strcmp(cfg.data_dir, a->cfg.data_dir) != 0 ||
        strcmp(cfg.bind_host, a->cfg.bind_host) != 0 || cfg.bind_port != a->cfg.bind_port) {
        fprintf(stderr, "heed agent: reload: bind and data_dir changes take effect at the next "
                        "start\n");
        /* Until then the API's rules are judged for where it listens. */
        free(cfg.bind_host);
        cfg.bind_host = hd_xstrdup(a->cfg.bind_host);
    }
    if (reload_api(a, &cfg, err, sizeof(err)) < 0) {
        a->reload_errors_total++;
        fprintf(stderr, "heed agent: reload failed, the running config stays:\n%s\n", err);
        hd_config_free(&cfg);
        return;
    }
    apply_config_checks(a, &cfg, hd_time_now_us());
    /* Keep what only a restart can change; take the rest. */
    a->cfg.enable_api_exec_checks = cfg.enable_api_exec_checks;
    a->reloads_total++;
    hd_config_free(&cfg);
    fprintf(stderr, "heed agent: reloaded %s: %zu checks\n", a->config_path, a->checks.n);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    hd_agent_t *a = arg;
    if (sig == SIGHUP) {
        reload(a);
        return;
    }
    fprintf(stderr, "heed agent: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopbreak(a->base);
}

/* ---- start-up: load definitions and states from the store ------------------ */

typedef struct load_s {
    hd_agent_t *a;
    int status;
    char err[512];
} load_t;

/* States are read STATES_PAGE at a time: 10,000 of them at once were
 * ~4 MB of keys and JSON in one answer, on top of the checks. */
#define STATES_PAGE 256

static void on_states(int status, const hd_store_range_t *r, void *arg)
{
    load_t *l = arg;
    hd_agent_t *a = l->a;
    l->status = status;
    if (status == 0) {
        size_t plen = strlen(HD_AGENT_KEY_STATE);
        for (size_t i = 0; i < r->n; i++) {
            const hd_store_kv_t *kv = &r->kvs[i];
            hd_agent_check_t *c = hd_map_get(&a->checks, kv->key + plen);
            json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
            if (c && (!o || hd_check_state_from_json(o, &c->st) < 0))
                fprintf(stderr, "heed agent: %s: stored state unreadable, starting afresh\n",
                        c->def.id);
            if (c) c->state_written = hd_time_wall_us(); /* what the store has */
            json_decref(o);
            if (!c) { /* a check that is gone: its state goes too */
                (void)hd_store_delete(a->store, kv->key, kv->key_len, NULL, NULL);
            }
        }
        if (r->more && r->n) { /* the next page, after this one's last key */
            const hd_store_kv_t *last = &r->kvs[r->n - 1];
            if (hd_store_range_after(a->store, HD_AGENT_KEY_STATE, plen, last->key, last->key_len,
                                     STATES_PAGE, on_states, l) == 0)
                return;
            l->status = HD_STORE_EIO;
            snprintf(l->err, sizeof(l->err), "reading states failed");
        }
    } else {
        snprintf(l->err, sizeof(l->err), "reading states: %s", hd_store_strerror(status));
    }
    event_base_loopbreak(a->base);
}

static void on_defs(int status, const hd_store_range_t *r, void *arg)
{
    load_t *l = arg;
    hd_agent_t *a = l->a;
    if (status != 0) {
        l->status = status;
        snprintf(l->err, sizeof(l->err), "reading checks: %s", hd_store_strerror(status));
        event_base_loopbreak(a->base);
        return;
    }
    size_t plen = strlen(HD_AGENT_KEY_CHECKS);
    for (size_t i = 0; i < r->n; i++) {
        const hd_store_kv_t *kv = &r->kvs[i];
        hd_check_def_t d;
        char err[512];
        json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
        char *tenant = NULL;
        if (o && json_is_string(json_object_get(o, "tenant"))) {
            tenant = hd_xstrdup(json_string_value(json_object_get(o, "tenant")));
            json_object_del(o, "tenant");
        }
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!text ||
            hd_config_parse_check(text, strlen(text), kv->key + plen, &d, err, sizeof(err)) < 0) {
            fprintf(stderr, "heed agent: stored check %s unreadable (%s); left in the store\n",
                    kv->key + plen, text ? err : "not JSON");
            free(text);
            free(tenant);
            continue;
        }
        free(text);
        d.from_config = 0;
        d.tenant = tenant;
        prepare_target(&d);
        if (hd_map_get(&a->checks, d.id)) {
            hd_check_def_free(&d);
            continue;
        }
        hd_agent_check_t *c = check_new(a, &d);
        hd_map_put(&a->checks, c->def.id, c);
    }
    if (hd_store_range(a->store, HD_AGENT_KEY_STATE, strlen(HD_AGENT_KEY_STATE), STATES_PAGE,
                       on_states, l) < 0) {
        l->status = HD_STORE_EIO;
        snprintf(l->err, sizeof(l->err), "reading states failed");
        event_base_loopbreak(a->base);
    }
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        (void)unlink(p); /* the store's files only: heed makes no subdirectories */
    }
    closedir(d);
    (void)rmdir(dir);
}

static void agent_free(hd_agent_t *a)
{
    size_t pos = 0;
    hd_map_slot_t *s;
    hd_agent_check_t **all = hd_xcalloc(a->checks.n + 1, sizeof(*all));
    size_t n = 0;
    while ((s = hd_map_next(&a->checks, &pos)))
        all[n++] = s->val;
    for (size_t i = 0; i < n; i++) {
        if (all[i]->running) hd_probe_cancel(all[i]->running);
        all[i]->running = NULL;
    }
    history_flush(a); /* before the store closes */
    /* Flush throttled output changes, and the last run of every check that
     * ran since its state was written (last_checked, last_success and the
     * latency move on every run without a write; a restart must not show
     * them going back in time), then close the store: closing answers
     * every pending write, which may free removed checks. */
    if (a->store) {
        /* The queue's checks are written here with the rest; a flush every
         * STATE_INFLIGHT_MAX writes keeps this burst as small as the queue's. */
        hd_agent_check_t *q = a->state_head;
        a->state_head = a->state_tail = NULL;
        size_t issued = 0;
        for (size_t i = 0; i < n; i++) {
            hd_agent_check_t *c = all[i];
            if (!c->state_queued && !c->state_dirty && c->st.last_checked <= c->state_written)
                continue;
            (void)write_state(a, c, W_STATE, NULL, NULL);
            if (++issued % STATE_INFLIGHT_MAX == 0) hd_store_flush(a->store);
        }
        while (q) { /* their writes are asked for: drop the queue's references */
            hd_agent_check_t *next = q->state_next;
            q->state_next = NULL;
            q->state_queued = 0;
            unref(q);
            q = next;
        }
        hd_store_close(a->store);
    }
    if (a->api) hd_api_free(a->api);
    hd_sched_free(&a->sched); /* before the checks: the heap points into them */
    for (size_t i = 0; i < n; i++) {
        hd_map_del(&a->checks, all[i]->def.id);
        check_free(all[i]);
    }
    free(all);
    hd_map_free(&a->checks);
    if (a->tick) event_free(a->tick);
    if (a->hist_ev) event_free(a->hist_ev);
    free(a->hist_rows);
    if (a->sig_hup) event_free(a->sig_hup);
    if (a->sig_term) event_free(a->sig_term);
    if (a->sig_int) event_free(a->sig_int);
    hd_probe_env_close(&a->env);
    if (a->tmp_dir) remove_dir(a->tmp_dir);
    free(a->tmp_dir);
    free(a->config_path);
    free(a->opt_bind);
    free(a->opt_data_dir);
    hd_config_free(&a->cfg);
    if (a->base) event_base_free(a->base);
}

static int start_api(hd_agent_t *a, char *err, size_t errlen)
{
    hd_config_t *cfg = &a->cfg;
    hd_api_token_t *toks = hd_xcalloc(cfg->ntokens + 1, sizeof(*toks));
    hd_api_opts_t o;
    api_opts(cfg, a->nofile, toks, &o);
    a->api = hd_api_new(a->base, &o);
    free(toks);
    if (hd_agent_routes(a, a->api, err, errlen) < 0) return -1;
    if (hd_api_listen(a->api, cfg->bind_host, cfg->bind_port, err, errlen) < 0) return -1;
    return 0;
}

/* --dev's sample check of the agent's own port follows --bind: points d
 * at host:port. */
static void dev_point(hd_check_def_t *d, const char *host, int port)
{
    if (d->target.kind != HD_KIND_TCP || strcmp(d->id, "agent-api") != 0) return;
    char url[300], err[256];
    snprintf(url, sizeof(url), strchr(host, ':') ? "tcp://[%s]:%d" : "tcp://%s:%d", host, port);
    hd_target_t t;
    if (hd_target_parse(url, &t, err, sizeof(err)) == 0) {
        hd_target_free(&d->target);
        d->target = t;
    }
}

static void dev_follow_bind(hd_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nchecks; i++)
        dev_point(&cfg->checks[i], cfg->bind_host, cfg->bind_port ? cfg->bind_port : 8500);
}

int hd_agent_run(const hd_agent_opts_t *o)
{
    /* Big buffers (a /metrics text is ~2.8 MB for 10,000 checks, a list
     * reply alike) are mmap'd and given back when freed. glibc otherwise
     * raises its mmap threshold to the size of the first such buffer freed
     * and serves the next ones from the heap, where they stay resident: one
     * scrape raised peak RSS by 7.2 MB, with the threshold fixed by 3.3. */
    (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    hd_agent_t agent, *a = &agent;
    memset(a, 0, sizeof(*a));
    hd_map_init(&a->checks);
    hd_sched_init(&a->sched);
    char err[4096];
    int rc = 1;

    if (o->dev) {
        char tmpl[] = "/tmp/heed-dev-XXXXXX";
        if (!mkdtemp(tmpl)) {
            fprintf(stderr, "heed agent: cannot make a temporary data dir: %s\n", strerror(errno));
            goto out;
        }
        a->tmp_dir = hd_xstrdup(tmpl);
        hd_config_dev(&a->cfg, a->tmp_dir);
    } else {
        if (hd_config_load_file(o->config_path, &a->cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
        a->config_path = hd_xstrdup(o->config_path);
    }
    if (o->data_dir) {
        free(a->cfg.data_dir);
        a->cfg.data_dir = hd_xstrdup(o->data_dir);
        a->opt_data_dir = hd_xstrdup(o->data_dir);
    }
    if (o->bind) {
        if (hd_config_parse_bind(o->bind, &a->cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "heed agent: --bind %s: %s\n", o->bind, err);
            goto out;
        }
        if (o->dev) dev_follow_bind(&a->cfg);
        a->opt_bind = hd_xstrdup(o->bind);
    }
    if (hd_agent_check_api(&a->cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s\n", err);
        goto out;
    }
    /* Connections, probes and the store all need descriptors; the cap on
     * connections comes from this limit (fdlimit.h). */
    a->nofile = hd_fdlimit_raise();
    if (mkdir_p(a->cfg.data_dir) < 0) {
        fprintf(stderr, "heed agent: cannot create data_dir %s: %s\n", a->cfg.data_dir,
                strerror(errno));
        goto out;
    }

    struct event_config *ec = event_config_new();
    /* The changelist folds the enable/disable pairs that evhttp and the
     * probes make on a socket within one loop turn into one epoll_ctl (or
     * none): GET /v1/checks/:id ~17% faster (bench/agent). heed registers no
     * dup()ed descriptors, the changelist's one caveat. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER | EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    a->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!a->base) {
        fprintf(stderr, "heed agent: cannot create the event loop\n");
        goto out;
    }
    hd_probe_env_init(&a->env, a->base);
    signal(SIGPIPE, SIG_IGN);

    char path[4096];
    snprintf(path, sizeof(path), "%s/heed.db", a->cfg.data_dir);
    hd_store_config_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.path = path;
    sc.hist_raw_keep_us = a->cfg.history.raw_us;
    sc.hist_1m_keep_us = a->cfg.history.minute_us;
    sc.hist_1h_keep_us = a->cfg.history.hour_us;
    if (hd_store_open(a->base, &sc, &a->store, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s\n", err);
        goto out;
    }

    /* Config checks first: an API check with the same id then loses. */
    int64_t now = hd_time_now_us();
    for (size_t i = 0; i < a->cfg.nchecks; i++) {
        hd_check_def_t *d = &a->cfg.checks[i];
        prepare_target(d);
        hd_agent_check_t *c = check_new(a, d);
        hd_map_put(&a->checks, c->def.id, c);
    }
    /* The registry owns the definitions now: the emptied array would only
     * hold memory (4 MB for 10,000 checks). Reloads read a new file. */
    free(a->cfg.checks);
    a->cfg.checks = NULL;
    a->cfg.nchecks = 0;
    load_t l = {a, 0, ""};
    if (hd_store_range(a->store, HD_AGENT_KEY_CHECKS, strlen(HD_AGENT_KEY_CHECKS), 0, on_defs, &l) <
        0) {
        fprintf(stderr, "heed agent: cannot read the store\n");
        goto out;
    }
    event_base_dispatch(a->base);
    if (l.status != 0) {
        fprintf(stderr, "heed agent: %s: %s\n", path, l.err);
        goto out;
    }
    if (start_api(a, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s\n", err);
        goto out;
    }
    if (o->dev && a->cfg.bind_port == 0) { /* --bind HOST:0: the port the kernel gave */
        hd_agent_check_t *c = hd_map_get(&a->checks, "agent-api");
        if (c && c->def.from_config) dev_point(&c->def, a->cfg.bind_host, hd_api_port(a->api));
    }
    now = hd_time_now_us();
    size_t pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos)))
        schedule_check(a, s->val, now);

    a->sig_hup = evsignal_new(a->base, SIGHUP, on_signal, a);
    a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
    a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
    event_add(a->sig_hup, NULL);
    event_add(a->sig_term, NULL);
    event_add(a->sig_int, NULL);
    a->tick = evtimer_new(a->base, on_tick, a);
    a->tick_due = hd_time_now_us() + TICK_US;
    struct timeval tv = {1, 0};
    evtimer_add(a->tick, &tv);
    a->started_wall = hd_time_wall_us();

    char host[300];
    snprintf(host, sizeof(host), strchr(a->cfg.bind_host, ':') ? "[%s]" : "%s", a->cfg.bind_host);
    printf("heed agent %s: node %s, %zu checks, data in %s\n"
           "API: %s://%s:%d/v1/checks  (status: /v1/status, metrics: /metrics)\n",
           HEED_VERSION, a->cfg.node, a->checks.n, a->cfg.data_dir,
           a->cfg.tls.cert_file ? "https" : "http", host, hd_api_port(a->api));
    fflush(stdout);
    event_base_dispatch(a->base);
    rc = 0;
out:
    agent_free(a);
    return rc;
}
