/* agent — the agent's life: configuration, the check registry, runs and
 * results, state and history writes, reloads, start and stop.
 *
 * Start-up: read the config, open the store in data_dir, move a store of
 * the layout before per-tenant ids to today's (migrate.c), read the
 * API-created definitions (heed/checks/TENANT/ID) and every state
 * (heed/state/TENANT/ID), build the checks (config ones from the file, in
 * the default tenant; API ones from the store), schedule them, and only
 * then let the command listen (hd_agent_open returns only then): the API
 * never answers from a half-loaded agent. The agent knows nothing of
 * HTTP: what a reload means for the API server is the command's hook
 * (hd_agent_on_reload).
 *
 * Writes: a definition change and a status change are written at once
 * (an API write is answered only when durable; past 256 state writes in
 * flight, a check's waits its turn in a queue: see "state-write queue");
 * an output that changes while the status does not is written at most
 * once a minute per check (HD_AGENT_OUTPUT_THROTTLE_US) and at shutdown;
 * every result goes to the local history. A write that fails changes
 * nothing the API shows (an API change is applied once durable), and a
 * state the agent owes the disk is retried until written: see "state
 * writes". */
#include "agent/agent.h"
#include "agent/agent_impl.h"
#include "agent/catalog.h"
#include "agent/changelog.h"
#include "agent/check_json.h"
#include "agent/preflight.h"
#include "agent/migrate.h"
#include "agent/outbox.h"
#include "agent/state.h"
#include "agent/tenant.h"
#include "agent/kv.h"
#include "agent/session.h"
#include "store/history.h"
#include "store/store.h"
#include "util/mem.h"
#include "util/time.h"

#include <arpa/inet.h>
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
static void on_sched(evutil_socket_t fd, short what, void *arg);
static void sync_config_catalog(hd_agent_t *a, const hd_config_service_t *svcs, size_t nsvcs);

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
    hd_agent_alert_check_free(c);
    free(c);
}

/* The qualified name of d, "tenant/id" (agent/tenant.h), into buf of
 * HD_TENANT_KEY_MAX bytes: its key in the registry, the tail of its store
 * keys and the name of its history. */
static const char *qname(char *buf, const hd_check_def_t *d)
{
    if (hd_tenant_key(buf, HD_TENANT_KEY_MAX, d->tenant, d->id) < 0) {
        /* The config and body readers bound ids and tenants well below it. */
        fprintf(stderr, "heed agent: check id '%.64s...' too long (a bug in heed)\n", d->id);
        abort();
    }
    return buf;
}

/* A store key: prefix and d's qualified name, into buf of STORE_KEY_MAX. */
#define STORE_KEY_MAX (32 + HD_TENANT_KEY_MAX)
static size_t store_key(char *buf, const char *prefix, const hd_check_def_t *d)
{
    char q[HD_TENANT_KEY_MAX];
    return (size_t)snprintf(buf, STORE_KEY_MAX, "%s%s", prefix, qname(q, d));
}

/* Stops a check's runs and drops it from the registry; the memory goes
 * when the last write pointing at it has answered. */
static void check_remove(hd_agent_t *a, hd_agent_check_t *c)
{
    char q[HD_TENANT_KEY_MAX];
    if (c->running) hd_probe_cancel(c->running);
    c->running = NULL;
    hd_sched_remove(&a->sched, &c->item);
    if (hd_map_get(&a->checks, qname(q, &c->def)) == c) hd_map_del(&a->checks, q);
    c->removed = 1;
    if (c->refs == 0) check_free(c);
}

/* Adds c to the registry under its qualified name. */
static void check_put(hd_agent_t *a, hd_agent_check_t *c)
{
    char q[HD_TENANT_KEY_MAX];
    hd_map_put(&a->checks, qname(q, &c->def), c);
}

static void unref(hd_agent_check_t *c)
{
    if (--c->refs == 0 && c->removed) check_free(c);
}

hd_agent_check_t *hd_agent_check_get(hd_agent_t *a, const char *tenant, const char *id)
{
    char q[HD_TENANT_KEY_MAX];
    if (hd_tenant_key(q, sizeof(q), tenant, id) < 0) return NULL; /* no such id can exist */
    return hd_map_get(&a->checks, q);
}

/* The visibility rule for checks, the one place it is written: a request
 * sees a check when the check is durable (not being created), not being
 * deleted, and in the request's scope (agent/tenant.h). Anything else is
 * answered as if the check did not exist. */
static int visible(const hd_agent_check_t *c, const hd_scope_t *s)
{
    return !c->removed && !c->pending && hd_scope_has(s, c->def.tenant);
}

hd_agent_check_t *hd_agent_check_find(hd_agent_t *a, const hd_scope_t *s, const char *id)
{
    hd_agent_check_t *c = s->tenant ? hd_agent_check_get(a, s->tenant, id) : NULL;
    return c && visible(c, s) ? c : NULL;
}

hd_agent_check_t *hd_agent_check_next(hd_agent_t *a, const hd_scope_t *s, size_t *pos)
{
    hd_map_slot_t *slot;
    while ((slot = hd_map_next(&a->checks, pos)))
        if (visible(slot->val, s)) return slot->val;
    return NULL;
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

/* What the served state and the disk owe each other.
 *
 * A probe result (or a TTL expiry) is a fact: it changes the check at once
 * and the check's state is then owed to the disk (gen != gen_disk) until a
 * write that carries it is durable. An API change (pause, resume, a TTL
 * report) is a request that may fail: it is written first, as the state
 * the check would have with it, and applied to the check only once that
 * write is durable. A write that fails leaves the check as it was and is
 * answered with the error.
 *
 * One state write per check is in flight at a time (`writing`): the store
 * commits in order, and two writes of one check in flight could land in
 * the other order than the changes they carry. An API change that finds its
 * check writing waits in a->changes_head; a result's write waits in the
 * state-write queue. When a write answers, the check's next write leaves.
 *
 * A state write that fails (the disk is full, an I/O error) leaves the
 * state owed and the check marked `retry`. Once a tick (on_tick) the
 * checks marked so are queued again, at most once per retry_delay, which
 * doubles from RETRY_MIN_US to RETRY_MAX_US while writes keep failing and
 * starts over at the first success: the loop never waits for the disk,
 * memory stays one flag per check, and what is owed is written at most
 * RETRY_MAX_US plus a tick after space returns. heed_state_writes_owed and
 * heed_state_writes_failed_total show it. History rows are best effort and
 * not retried (the store counts the rows lost). */
#define RETRY_MIN_US 1000000LL
#define RETRY_MAX_US 16000000LL

typedef struct write_s {
    hd_agent_t *a;
    hd_agent_check_t *c;
    int64_t started;
    hd_agent_done_cb cb;
    void *arg;
    int kind;               /* what to do when durable */
    hd_check_def_t *newdef; /* W_REPLACE: the definition to take, owned */
    /* State writes: the check's gen the written state includes. */
    uint32_t gen;
    /* W_PAUSE and W_TTL: the change, applied to the check once durable. */
    int paused;               /* W_PAUSE */
    hd_check_status_t status; /* W_TTL */
    char *output;             /* W_TTL, owned */
    int64_t wall;             /* when it was asked for */
    struct write_s *next;     /* in a->changes_head while it waits */
    /* State writes: the alert events and the cancellation they carry. */
    struct hd_outbox_event_s *taken;
    uint64_t cancel;
} write_t;

enum {
    W_STATE,
    W_QUEUED, /* a W_STATE from the state-write queue: its answer frees a slot */
    W_CREATE,
    W_REPLACE,
    W_DELETE,
    W_PAUSE,
    W_TTL,
};

static int submit_state(hd_agent_t *a, hd_agent_check_t *c, write_t *w);
static void state_pump(hd_agent_t *a);
static void queue_state(hd_agent_t *a, hd_agent_check_t *c);
static void state_next(hd_agent_t *a, hd_agent_check_t *c);

/* Logs c's change from status old (-1: its first result) to its status now:
 * one line on stdout (agent/changelog.h). */
static void log_change(const hd_agent_t *a, const hd_agent_check_t *c, int old, int64_t wall)
{
    char *line = hd_changelog_line(a->log_json ? HD_LOG_JSON : HD_LOG_TEXT, wall, c->def.tenant,
                                   c->def.id, old < 0 ? NULL : hd_check_status_str(old),
                                   hd_check_status_str(c->st.status), c->st.output);
    fputs(line, stdout);
    fflush(stdout);
    free(line);
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

static int is_change(const write_t *w)
{
    return w->kind == W_PAUSE || w->kind == W_TTL;
}

static size_t output_max(const hd_agent_t *a)
{
    return a->cfg.limits.output_max_bytes ? a->cfg.limits.output_max_bytes : 4096;
}

/* Applies an API change to st; returns HD_STATE_* flags. */
static int apply_change(const hd_agent_t *a, const write_t *w, hd_check_state_t *st)
{
    if (w->kind == W_PAUSE) return hd_state_pause(st, w->paused, w->wall);
    return hd_state_ttl(st, w->status, w->output, w->wall, output_max(a));
}

/* An API change is durable: the check takes it, with what follows from it
 * (runs stop or start, the TTL restarts, the history gets the report). */
static void change_done(hd_agent_t *a, hd_agent_check_t *c, const write_t *w)
{
    hd_check_status_t old = c->st.status;
    int flags = apply_change(a, w, &c->st);
    if (c->st.status != old) log_change(a, c, (int)old, w->wall);
    int64_t now = hd_time_now_us();
    if (w->kind == W_PAUSE) {
        if (!flags) return;
        if (w->paused) {
            if (c->running) hd_probe_cancel(c->running);
            c->running = NULL;
            hd_sched_remove(&a->sched, &c->item);
        } else if (!c->def.ttl) {
            /* Resumed with the status it had: run it now, so that the
             * status is fresh at once, not one interval later. */
            hd_sched_add(&a->sched, &c->item, now);
            hd_sched_arm(&a->sched, a->base, now, on_sched, a);
        } else {
            schedule_check(a, c, now);
        }
    } else if (!c->st.paused) {
        char q[HD_TENANT_KEY_MAX];
        (void)hd_store_history_add(a->store, qname(q, &c->def), w->wall, c->st.status,
                                   (int)c->st.reason, 0, NULL, NULL);
        hd_sched_add(&a->sched, &c->item, now + c->def.ttl_us);
        hd_sched_arm(&a->sched, a->base, now, on_sched, a);
    }
}

/* A state write answered: the check learns what the disk has now, and its
 * next write may leave. */
static void state_done(hd_agent_t *a, hd_agent_check_t *c, write_t *w, int status, int64_t rev)
{
    c->writing = 0;
    hd_agent_alert_written(a, c, status, rev, w->taken, w->cancel);
    w->taken = NULL;
    w->cancel = 0;
    if (status == 0 && c->ev_head && !c->removed)
        c->gen++; /* events the transaction had no room for: another write */
    if (status == 0) {
        /* The disk has the state of gen w->gen (and w's change): the
         * check owes nothing unless it changed since. */
        c->gen_disk = w->gen;
        c->retry = 0;
        a->retry_due = a->retry_delay = 0; /* the disk takes writes: the rest now */
        if (a->write_failing) {
            a->write_failing = 0;
            fprintf(stderr, "heed agent: state writes succeed again; %zu checks still owed\n",
                    hd_agent_state_owed(a));
        }
        if (is_change(w) && !c->removed) change_done(a, c, w);
    } else {
        a->state_failed_total++;
        /* What the write carried is still owed, unless the disk had it. */
        if (!is_change(w) || w->gen != c->gen_disk) c->retry = 1;
        if (!a->write_failing && !c->removed) {
            a->write_failing = 1;
            char q[HD_TENANT_KEY_MAX];
            fprintf(stderr,
                    "heed agent: %s: cannot write state: %s; retried until written "
                    "(heed_state_writes_owed)\n",
                    qname(q, &c->def), hd_store_strerror(status));
        }
    }
}

/* A moved check's history has its new name (or failed to: the rows stay
 * under the old one, said on stderr): the replace is answered now. */
static void on_moved(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    write_t *w = arg;
    hd_agent_check_t *c = w->c;
    if (status != 0) {
        char q[HD_TENANT_KEY_MAX];
        fprintf(stderr, "heed agent: %s: moving its history failed: %s\n", qname(q, &c->def),
                hd_store_strerror(status));
    }
    if (w->cb) w->cb(0, c->removed ? NULL : c, w->arg);
    unref(c);
    free(w->output);
    free(w);
}

static void on_written(int status, const hd_store_write_result_t *r, void *arg)
{
    write_t *w = arg;
    hd_agent_t *a = w->a;
    hd_agent_check_t *c = w->c;
    int deferred = 0;
    hd_hist_add(&a->commit_lat, hd_time_now_us() - w->started);
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
            int moved = !hd_tenant_same(c->def.tenant, w->newdef->tenant);
            char from[HD_TENANT_KEY_MAX], to[HD_TENANT_KEY_MAX];
            if (c->running) hd_probe_cancel(c->running);
            c->running = NULL;
            if (moved && hd_map_get(&a->checks, qname(from, &c->def)) == c)
                hd_map_del(&a->checks, from);
            hd_check_def_free(&c->def);
            c->def = *w->newdef;
            memset(w->newdef, 0, sizeof(*w->newdef));
            if (moved) { /* under its new name, and its history with it */
                check_put(a, c);
                /* The reply waits for the history too: a read after it
                 * must find the history under the new name. */
                if (hd_store_history_rename(a->store, from, qname(to, &c->def), on_moved, w) == 0)
                    deferred = 1;
            }
            if (target_changed) {
                int paused = c->st.paused;
                struct hd_alert_state_s *al = c->st.alert; /* alerts go on */
                c->st.alert = NULL;
                hd_state_free(&c->st);
                hd_state_init(&c->st, hd_time_wall_us());
                c->st.alert = al;
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
    default: /* a state write */
        state_done(a, c, w, status, r ? r->revision : 0);
        if (c->removed) result = NULL;
        break;
    }
    if (w->newdef) {
        hd_check_def_free(w->newdef);
        free(w->newdef);
        w->newdef = NULL;
    }
    if (deferred) return; /* on_moved answers */
    if (w->cb) w->cb(status, result, w->arg);
    if (w->kind != W_CREATE && w->kind != W_REPLACE && w->kind != W_DELETE) state_next(a, c);
    unref(c);
    if (w->kind == W_QUEUED) {
        a->state_inflight--;
        state_pump(a);
    }
    free(w->output);
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

static void write_drop(write_t *w)
{
    w->c->refs--;
    free(w->output);
    free(w);
}

/* Writes c's state, as it would be with w's change for an API change, and
 * marks c writing. Returns 0, or a store error (w not sent, c unchanged). */
static int submit_state(hd_agent_t *a, hd_agent_check_t *c, write_t *w)
{
    hd_check_state_t next;
    hd_check_state_t *st = &c->st;
    if (is_change(w)) {
        hd_state_copy(&next, &c->st);
        (void)apply_change(a, w, &next);
        st = &next;
        /* The change's alert goes in its own transaction. */
        hd_agent_alert_change(a, c, &next, c->st.status, w->wall, &c->ev_head, &c->ev_tail);
    }
    /* The state, and the alert events it caused (agent_alerts.c): one
     * transaction, so that no event is stored without its cause, nor sent
     * before both are durable. */
    hd_store_op_t ops[HD_STORE_TXN_OPS_MAX];
    hd_outbox_scratch_t sc = {0};
    size_t nops = 1 + hd_agent_alert_ops(a, c, st, ops + 1, HD_STORE_TXN_OPS_MAX - 1, &sc,
                                         &w->taken, &w->cancel);
    size_t vlen;
    char key[STORE_KEY_MAX];
    size_t klen = store_key(key, HD_AGENT_KEY_STATE, &c->def);
    char *val = dump(hd_check_state_to_json(st), &vlen);
    if (st == &next) {
        /* The check keeps the alert state just written. */
        struct hd_alert_state_s *keep = next.alert;
        next.alert = c->st.alert;
        c->st.alert = keep;
        hd_state_free(&next);
    }
    w->gen = c->gen;
    w->started = hd_time_now_us();
    ops[0] = (hd_store_op_t){HD_STORE_OP_PUT, key, klen, val, vlen, 0};
    int rc = nops == 1 ? hd_store_put(a->store, key, klen, val, vlen, 0, on_written, w)
                       : hd_store_txn(a->store, NULL, 0, ops, nops, on_written, w);
    free(val);
    hd_outbox_scratch_free(&sc);
    if (rc < 0 && (w->taken || w->cancel)) { /* not sent: still owed */
        hd_agent_alert_written(a, c, rc, 0, w->taken, w->cancel);
        w->taken = NULL;
        w->cancel = 0;
    }
    if (rc == 0) {
        c->writing = is_change(w) ? 2 : 1;
        c->state_written = hd_time_wall_us();
        c->state_dirty = 0;
    }
    return rc;
}

/* Writes c's state now, outside the queue (shutdown); cb may be NULL. */
static int write_state(hd_agent_t *a, hd_agent_check_t *c, int kind, hd_agent_done_cb cb, void *arg)
{
    write_t *w = write_new(a, c, kind, cb, arg);
    int rc = submit_state(a, c, w);
    if (rc < 0) write_drop(w);
    return rc;
}

/* An API change: written now, or after the check's write in flight. */
static int write_change(hd_agent_t *a, hd_agent_check_t *c, write_t *w)
{
    if (c->writing || c->changes_waiting) {
        if (a->changes_tail)
            a->changes_tail->next = w;
        else
            a->changes_head = w;
        a->changes_tail = w;
        c->changes_waiting++;
        return 0;
    }
    int rc = submit_state(a, c, w);
    if (rc < 0) write_drop(w);
    return rc;
}

/* c's write answered: its next API change leaves, else what c owes joins
 * the queue (unless it waits for the retry round). */
static void state_next(hd_agent_t *a, hd_agent_check_t *c)
{
    if (a->closing || c->writing) return;
    write_t **p = &a->changes_head, *prev = NULL;
    while (c->changes_waiting && *p) {
        write_t *w = *p;
        if (w->c != c) {
            prev = w;
            p = &w->next;
            continue;
        }
        *p = w->next;
        if (a->changes_tail == w) a->changes_tail = prev;
        c->changes_waiting--;
        int rc = c->removed ? HD_STORE_ENOTFOUND : submit_state(a, c, w);
        if (rc == 0) return;
        /* Answered here, later than the call that asked: the contract holds. */
        if (w->cb) w->cb(rc == HD_STORE_ENOTFOUND ? 0 : rc, NULL, w->arg);
        write_drop(w);
    }
    if (!c->removed && !c->retry && c->gen != c->gen_disk && !c->state_queued) {
        c->state_queued = 1;
        c->refs++;
        if (a->state_tail)
            a->state_tail->state_next = c;
        else
            a->state_head = c;
        a->state_tail = c;
        state_pump(a);
    }
}

/* The state-write queue. A status change goes to the store at once, but
 * 10,000 checks changing within one interval (every check's first result,
 * or a network blip) must not mean 10,000 writes held in memory together
 * (each ~0.5 KB of request and JSON until its batch commits: +3.5 MB). So
 * at most STATE_INFLIGHT_MAX writes of this queue are in flight; beyond
 * that a check waits in the queue, once however often it changes meanwhile,
 * and its JSON is made when its write leaves, from its state at that
 * moment. Each answer lets the next one go. Writes whose caller waits for
 * durability (API pauses, TTL updates) do not queue. A check whose write
 * is in flight, or waits for the retry round, leaves the queue unwritten:
 * that write's answer, or the round, queues it again. */
#define STATE_INFLIGHT_MAX 256

static void state_pump(hd_agent_t *a)
{
    while (a->state_head && a->state_inflight < STATE_INFLIGHT_MAX) {
        hd_agent_check_t *c = a->state_head;
        a->state_head = c->state_next;
        if (!a->state_head) a->state_tail = NULL;
        c->state_next = NULL;
        c->state_queued = 0;
        if (!c->removed && !c->writing && !c->retry && c->gen != c->gen_disk) {
            write_t *w = write_new(a, c, W_QUEUED, NULL, NULL);
            if (submit_state(a, c, w) == 0) {
                a->state_inflight++;
            } else {
                write_drop(w);
                c->retry = 1; /* the store refused it: the retry round asks again */
            }
        }
        unref(c);
    }
}

/* c's state changed in memory and is owed to the disk: it is written now
 * when a slot is free, else when its turn in the queue comes. Errors are
 * logged when the write answers. */
static void queue_state(hd_agent_t *a, hd_agent_check_t *c)
{
    c->gen++;
    state_next(a, c);
}

size_t hd_agent_state_owed(const hd_agent_t *a)
{
    size_t n = 0, pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos))) {
        const hd_agent_check_t *c = s->val;
        n += !c->removed && (c->retry || c->gen != c->gen_disk);
    }
    return n;
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
        /* The history of a check is its qualified name's ("tenant/id"):
         * the names of this batch, packed in one allocation. */
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += strlen(hd_tenant_name(a->hist_rows[i].c->def.tenant)) + 1 +
                     strlen(a->hist_rows[i].c->def.id) + 1;
        hd_hist_row_t *rows = hd_xmalloc(n * sizeof(*rows) + bytes);
        char *names = (char *)(rows + n);
        for (size_t i = 0; i < n; i++) {
            const hist_row_t *h = &a->hist_rows[i];
            int len = hd_tenant_key(names, bytes, h->c->def.tenant, h->c->def.id);
            rows[i] = (hd_hist_row_t){names, h->wall, h->status, h->reason, h->latency_us};
            names += len + 1;
            bytes -= (size_t)len + 1;
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
    hd_check_status_t old = c->st.status;
    int first = !c->st.last_checked; /* its first result is logged whatever it is */
    int flags = hd_state_apply(&c->st, &c->def, res, wall, a->cfg.limits.output_max_bytes);
    if (flags & HD_STATE_STATUS_CHANGED)
        hd_agent_alert_change(a, c, &c->st, old, wall, &c->ev_head, &c->ev_tail);
    if ((flags & HD_STATE_STATUS_CHANGED) || (first && c->st.last_checked))
        log_change(a, c, first ? -1 : (int)old, wall);
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
    const char *code;
    char why[1200];
    if (!hd_agent_api_target_allowed(&a->cfg, &c->def, &code, why, sizeof(why))) {
        /* Stored before the config turned it off (or before the rule
         * existed): it stays, and tells why it does not run. */
        hd_result_t res;
        memset(&res, 0, sizeof(res));
        res.status = HD_STATUS_CRITICAL;
        res.reason = HD_R_NOT_ALLOWED;
        snprintf(res.output, sizeof(res.output), "not run: %s", why);
        on_result(&res, c);
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
    hd_check_status_t old = c->st.status;
    c->st.status = HD_CHECK_CRITICAL;
    c->st.reason = HD_R_TIMEOUT;
    free(c->st.output);
    size_t n = strlen(secs) + 64;
    c->st.output = hd_xmalloc(n);
    snprintf(c->st.output, n, "TTL expired: no update within %s", secs);
    /* The expiry is a result like a probe's: the history must show it. */
    char q[HD_TENANT_KEY_MAX];
    (void)hd_store_history_add(a->store, qname(q, &c->def), wall, HD_CHECK_CRITICAL,
                               (int)HD_R_TIMEOUT, 0, NULL, NULL);
    if (changed) {
        c->st.last_change = wall;
        hd_agent_alert_change(a, c, &c->st, old, wall, &c->ev_head, &c->ev_tail);
        log_change(a, c, (int)old, wall);
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

int hd_agent_api_target_allowed(const hd_config_t *cfg, const hd_check_def_t *d, const char **code,
                                char *why, size_t whylen)
{
    if (d->from_config || d->ttl) return 1;
    if (hd_tls_files_any(&d->target.tls_files)) {
        /* The agent would read files an API client names: the config
         * file's, as notifiers' ca_file. */
        *code = "tls_files_forbidden";
        snprintf(why, whylen,
                 "tls: ca_file, cert_file and key_file come from the config file only, never "
                 "from the API");
        return 0;
    }
    if (d->target.kind == HD_KIND_EXEC && !cfg->enable_api_exec_checks) {
        *code = "exec_forbidden";
        snprintf(why, whylen,
                 "exec: checks come from the config file only (set enable_api_exec_checks: "
                 "true to allow them through the API)");
        return 0;
    }
    if (d->target.kind == HD_KIND_FILE && !hd_config_api_file_allowed(cfg, d->target.path)) {
        *code = "file_forbidden";
        if (cfg->api_file_paths)
            snprintf(why, whylen,
                     "file://%.1024s: file:// checks through the API may name only paths under "
                     "api_file_paths (without . or .. parts)",
                     d->target.path);
        else
            snprintf(why, whylen,
                     "file:// checks come from the config file only (set "
                     "enable_api_file_checks: true, or list the directories they may look in "
                     "under api_file_paths)");
        return 0;
    }
    return 1;
}

int hd_agent_check_create(hd_agent_t *a, hd_check_def_t *def, hd_agent_done_cb cb, void *arg)
{
    if (hd_agent_check_get(a, def->tenant, def->id)) return HD_STORE_ECONFLICT;
    prepare_target(def);
    hd_agent_check_t *c = check_new(a, def);
    if (c->def.initial_status) { /* Consul's Status: the state it starts in */
        c->st.status = (hd_check_status_t)(c->def.initial_status - 1);
        (void)hd_state_set_output(&c->st, "", 0);
        c->def.initial_status = 0;
    }
    size_t dv, sv;
    char dkey[STORE_KEY_MAX], skey[STORE_KEY_MAX];
    size_t dk = store_key(dkey, HD_AGENT_KEY_CHECKS, &c->def);
    size_t sk = store_key(skey, HD_AGENT_KEY_STATE, &c->def);
    char *dval = dump(hd_check_def_to_json(&c->def), &dv); /* the key holds the tenant */
    char *sval = dump(hd_check_state_to_json(&c->st), &sv);
    hd_store_cmp_t cmp = {dkey, dk, HD_STORE_CMP_ABSENT, 0};
    hd_store_op_t ops[2] = {{HD_STORE_OP_PUT, dkey, dk, dval, dv, 0},
                            {HD_STORE_OP_PUT, skey, sk, sval, sv, 0}};
    c->pending = 1;
    check_put(a, c);
    write_t *w = write_new(a, c, W_CREATE, cb, arg);
    int rc = hd_store_txn(a->store, &cmp, 1, ops, 2, on_written, w);
    free(dval);
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
    size_t dv;
    char dkey[STORE_KEY_MAX];
    size_t dk = store_key(dkey, HD_AGENT_KEY_CHECKS, def);
    char *dval = dump(hd_check_def_to_json(def), &dv);
    write_t *w = write_new(a, c, W_REPLACE, cb, arg);
    w->newdef = hd_xmalloc(sizeof(*w->newdef));
    *w->newdef = *def;
    memset(def, 0, sizeof(*def));
    int rc;
    if (hd_tenant_same(c->def.tenant, w->newdef->tenant)) {
        rc = hd_store_put(a->store, dkey, dk, dval, dv, 0, on_written, w);
    } else {
        /* To another tenant: its keys move in one transaction, and only
         * if that tenant has no check with this id. */
        size_t sv;
        char okey[STORE_KEY_MAX], oskey[STORE_KEY_MAX], skey[STORE_KEY_MAX];
        size_t ok = store_key(okey, HD_AGENT_KEY_CHECKS, &c->def);
        size_t osk = store_key(oskey, HD_AGENT_KEY_STATE, &c->def);
        size_t sk = store_key(skey, HD_AGENT_KEY_STATE, w->newdef);
        char *sval = dump(hd_check_state_to_json(&c->st), &sv);
        hd_store_cmp_t cmp = {dkey, dk, HD_STORE_CMP_ABSENT, 0};
        hd_store_op_t ops[4] = {{HD_STORE_OP_DELETE, okey, ok, NULL, 0, 0},
                                {HD_STORE_OP_DELETE, oskey, osk, NULL, 0, 0},
                                {HD_STORE_OP_PUT, dkey, dk, dval, dv, 0},
                                {HD_STORE_OP_PUT, skey, sk, sval, sv, 0}};
        rc = hd_store_txn(a->store, &cmp, 1, ops, 4, on_written, w);
        free(sval);
    }
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
    char dkey[STORE_KEY_MAX], skey[STORE_KEY_MAX];
    size_t dk = store_key(dkey, HD_AGENT_KEY_CHECKS, &c->def);
    size_t sk = store_key(skey, HD_AGENT_KEY_STATE, &c->def);
    hd_store_op_t ops[2] = {{HD_STORE_OP_DELETE, dkey, dk, NULL, 0, 0},
                            {HD_STORE_OP_DELETE, skey, sk, NULL, 0, 0}};
    write_t *w = write_new(a, c, W_DELETE, cb, arg);
    int rc = hd_store_txn(a->store, NULL, 0, ops, 2, on_written, w);
    if (rc < 0) {
        c->refs--;
        free(w);
    }
    return rc;
}

int hd_agent_check_pause(hd_agent_t *a, hd_agent_check_t *c, int paused, hd_agent_done_cb cb,
                         void *arg)
{
    write_t *w = write_new(a, c, W_PAUSE, cb, arg);
    w->paused = paused;
    w->wall = hd_time_wall_us();
    return write_change(a, c, w);
}

int hd_agent_check_ttl_update(hd_agent_t *a, hd_agent_check_t *c, hd_status_t status,
                              const char *output, hd_agent_done_cb cb, void *arg)
{
    int64_t wall = hd_time_wall_us();
    hd_check_status_t s = status == HD_STATUS_PASSING   ? HD_CHECK_PASSING
                          : status == HD_STATUS_WARNING ? HD_CHECK_WARNING
                                                        : HD_CHECK_CRITICAL;
    /* The status stays (or the check is paused, which ignores reports), and
     * no API change of the check is on its way to the disk, which could
     * change the status first: nothing for the disk to refuse. */
    if (c->writing != 2 && !c->changes_waiting && (c->st.paused || c->st.status == s)) {
        if (c->st.paused) return 1;
        write_t now = {.kind = W_TTL, .status = s, .wall = wall};
        now.output = (char *)(output ? output : ""); /* read only */
        change_done(a, c, &now);
        c->state_dirty = 1; /* the output waits for the throttle */
        return 1;
    }
    write_t *w = write_new(a, c, W_TTL, cb, arg);
    w->status = s;
    w->output = hd_xstrdup(output ? output : "");
    w->wall = wall;
    return write_change(a, c, w);
}

/* ---- the tick: loop lag and throttled writes -------------------------------- */

/* Consul's DeregisterCriticalServiceAfter: a service whose check has been
 * critical that long is deregistered, then the checks the API made for it
 * (a config file's checks stay: the file defines them). The service goes
 * first: no reader sees it without its checks. */
typedef struct reap_s {
    hd_agent_t *a;
    char *tenant, *id;
} reap_t;

static void on_reaped(int status, int64_t rev, void *arg)
{
    reap_t *r = arg;
    hd_agent_t *a = r->a;
    (void)rev;
    if (status == 0 && !a->closing) {
        hd_scope_t s = {hd_tenant_name(r->tenant)};
        size_t pos = 0, n = 0;
        hd_agent_check_t *c, **gone = NULL;
        while ((c = hd_agent_check_next(a, &s, &pos))) {
            if (c->def.from_config || !c->def.service_id || strcmp(c->def.service_id, r->id))
                continue;
            gone = hd_xrealloc(gone, (n + 1) * sizeof(*gone));
            gone[n++] = c;
        }
        for (size_t i = 0; i < n; i++)
            (void)hd_agent_check_delete(a, gone[i], NULL, NULL); /* a restart finds it else */
        free(gone);
    }
    free(r->tenant);
    free(r->id);
    free(r);
}

static void reap_service(hd_agent_t *a, const hd_agent_check_t *why, int64_t wall)
{
    const char *node = hd_catalog_local_node(a->catalog), *sid = why->def.service_id;
    hd_scope_t s = {hd_tenant_name(why->def.tenant)};
    if (!hd_catalog_service(a->catalog, &s, why->def.tenant, node, sid)) return;
    fprintf(stderr,
            "heed agent: service %s (tenant %s) deregistered: check %s critical for %llds "
            "(deregister_critical_service_after)\n",
            sid, s.tenant, why->def.id, (long long)((wall - why->st.last_change) / 1000000));
    reap_t *r = hd_xcalloc(1, sizeof(*r));
    r->a = a;
    r->tenant = why->def.tenant ? hd_xstrdup(why->def.tenant) : NULL;
    r->id = hd_xstrdup(sid);
    if (hd_catalog_service_delete(a->catalog, r->tenant, node, r->id, on_reaped, r) < 0) {
        free(r->tenant);
        free(r->id);
        free(r);
    }
}

static void reap_services(hd_agent_t *a, int64_t wall)
{
    hd_agent_check_t **due = NULL;
    size_t n = 0, pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos))) {
        hd_agent_check_t *c = s->val;
        if (c->def.deregister_after_us <= 0 || !c->def.service_id || c->removed || c->pending ||
            c->st.paused || c->st.status != HD_CHECK_CRITICAL ||
            wall - c->st.last_change < c->def.deregister_after_us)
            continue;
        due = hd_xrealloc(due, (n + 1) * sizeof(*due));
        due[n++] = c;
    }
    for (size_t i = 0; i < n; i++)
        if (!due[i]->removed) reap_service(a, due[i], wall);
    free(due);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_agent_t *a = arg;
    int64_t now = hd_time_now_us();
    hd_hist_add(&a->loop_lag, now - a->tick_due);
    a->tick_due = now + TICK_US;
    int64_t wall = hd_time_wall_us();
    int round = a->retry_due <= now, retried = 0; /* state writes that failed: see there */
    size_t pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos))) {
        hd_agent_check_t *c = s->val;
        if (c->retry && round) {
            c->retry = 0;
            retried = 1;
            queue_state(a, c);
        } else if (c->state_dirty && !c->retry &&
                   wall - c->state_written >= HD_AGENT_OUTPUT_THROTTLE_US) {
            queue_state(a, c);
        }
        if (a->outbox && !a->closing && hd_agent_alert_tick(a, c, wall) && !c->retry &&
            !c->state_queued)
            queue_state(a, c); /* a reminder, flapping's end, a window closing */
    }
    if (retried) {
        a->retry_delay = a->retry_delay ? 2 * a->retry_delay : RETRY_MIN_US;
        if (a->retry_delay > RETRY_MAX_US) a->retry_delay = RETRY_MAX_US;
        a->retry_due = now + a->retry_delay;
    }
    if (a->catalog && !a->closing) reap_services(a, wall);
    struct timeval tv = {1, 0};
    evtimer_add(a->tick, &tv);
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
        char key[STORE_KEY_MAX];
        size_t klen = store_key(key, HD_AGENT_KEY_STATE, &gone[i]->def);
        (void)hd_store_delete(a->store, key, klen, NULL, NULL);    /* best effort cleanup */
        klen = store_key(key, HD_AGENT_KEY_CHECKS, &gone[i]->def); /* the catalog's copy */
        (void)hd_store_delete(a->store, key, klen, NULL, NULL);
        check_remove(a, gone[i]);
    }
    free(gone);

    for (size_t i = 0; i < cfg->nchecks; i++) {
        hd_check_def_t *d = &cfg->checks[i];
        prepare_target(d);
        hd_agent_check_t *c = hd_agent_check_get(a, d->tenant, d->id);
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
                struct hd_alert_state_s *al = c->st.alert; /* alerts go on */
                c->st.alert = NULL;
                hd_state_free(&c->st);
                hd_state_init(&c->st, hd_time_wall_us());
                c->st.alert = al;
                if (paused) hd_state_pause(&c->st, 1, hd_time_wall_us());
                queue_state(a, c);
            }
        } else {
            c = check_new(a, d);
            check_put(a, c);
        }
        schedule_check(a, c, now);
    }
}

/* Takes the API's part of a reloaded config: tokens, limits, rate limits
 * and TLS files, once the command's hook has given them to the API server.
 * 0, or -1 with err (nothing changed). */
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
    if (a->reload_fn && a->reload_fn(a->reload_arg, cfg, err, errlen) < 0) goto bad;
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
    sync_config_catalog(a, cfg.services, cfg.nservices);
    { /* the services are the new file's now (the old go with cfg) */
        hd_config_service_t *sv = a->cfg.services;
        size_t nsv = a->cfg.nservices;
        a->cfg.services = cfg.services;
        a->cfg.nservices = cfg.nservices;
        cfg.services = sv;
        cfg.nservices = nsv;
    }
    /* Keep what only a restart can change; take the rest. */
    a->cfg.enable_api_exec_checks = cfg.enable_api_exec_checks;
    a->cfg.enable_api_file_checks = cfg.enable_api_file_checks;
    char **paths = a->cfg.api_file_paths; /* swapped: the old list goes with cfg */
    a->cfg.api_file_paths = cfg.api_file_paths;
    cfg.api_file_paths = paths;
    { /* the status page's groups are the new file's (the old go with cfg) */
        hd_config_status_page_t sp = a->cfg.status_page;
        a->cfg.status_page = cfg.status_page;
        cfg.status_page = sp;
    }
    hd_agent_alerts_reload(a, &cfg);
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
            const char *name = kv->key + plen; /* "tenant/id", the registry's key */
            if (!strchr(name, '/')) continue;  /* the layout before tenants: migrate.c's */
            hd_agent_check_t *c = hd_map_get(&a->checks, name);
            json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
            if (c && (!o || hd_check_state_from_json(o, &c->st) < 0))
                fprintf(stderr, "heed agent: %s: stored state unreadable, starting afresh\n", name);
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
        const char *name = kv->key + plen, *id;
        size_t tlen, idlen;
        hd_check_def_t d;
        char err[512];
        if (hd_tenant_split(name, kv->key_len - plen, &tlen, &id, &idlen) < 0 ||
            !hd_tenant_valid(name, tlen)) {
            fprintf(stderr,
                    "heed agent: stored check %s: not heed/checks/TENANT/ID; left in the "
                    "store\n",
                    name);
            continue;
        }
        json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
        json_t *src = json_object_get(o, "source");
        if (json_is_string(src) && !strcmp(json_string_value(src), "config")) {
            /* The catalog's copy of a config file's check: the file is the
             * truth; one the file no longer has goes. */
            char cid[HD_ID_MAX];
            snprintf(cid, sizeof(cid), "%.*s", (int)idlen, id);
            hd_agent_check_t *mine = hd_agent_check_get(a, NULL, cid);
            if (!mine || !mine->def.from_config)
                (void)hd_store_delete(a->store, kv->key, kv->key_len, NULL, NULL);
            json_decref(o);
            continue;
        }
        json_object_del(o, "tenant"); /* the key says it (older stores kept it here) */
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!text || hd_config_parse_check(text, strlen(text), name, &d, err, sizeof(err)) < 0) {
            fprintf(stderr, "heed agent: stored check %s unreadable (%s); left in the store\n",
                    name, text ? err : "not JSON");
            free(text);
            continue;
        }
        free(text);
        if (strlen(d.id) != idlen || memcmp(d.id, id, idlen) != 0) {
            fprintf(stderr, "heed agent: stored check %s holds the id '%s'; left in the store\n",
                    name, d.id);
            hd_check_def_free(&d);
            continue;
        }
        d.from_config = 0;
        d.tenant = tlen == strlen(HD_TENANT_DEFAULT) && !memcmp(name, HD_TENANT_DEFAULT, tlen)
                       ? NULL
                       : hd_xstrndup(name, tlen);
        prepare_target(&d);
        if (hd_agent_check_get(a, d.tenant, d.id)) { /* a config check's id: the file wins */
            hd_check_def_free(&d);
            continue;
        }
        hd_agent_check_t *c = check_new(a, &d);
        check_put(a, c);
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

void hd_agent_close(hd_agent_t *a)
{
    if (a->closing) return;
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
    /* API changes still waiting for their turn are refused; the answers
     * here and below start no new writes. */
    a->closing = 1;
    while (a->changes_head) {
        write_t *w = a->changes_head;
        hd_agent_check_t *c = w->c;
        a->changes_head = w->next;
        c->changes_waiting--;
        if (w->cb) w->cb(HD_STORE_ECLOSED, NULL, w->arg);
        free(w->output);
        free(w);
        unref(c);
    }
    a->changes_tail = NULL;
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
            if (!c->state_queued && !c->state_dirty && !c->retry && c->gen == c->gen_disk &&
                c->st.last_checked <= c->state_written)
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
        /* The catalog's watches end before the store does (its close frees
         * them); held requests still wait on its topics until the API goes. */
        if (a->catalog) hd_catalog_stop(a->catalog);
        hd_agent_alerts_stop(a); /* nothing sent from here on */
        hd_store_close(a->store);
    }
    free(all);
}

void hd_agent_free(hd_agent_t *a)
{
    if (!a) return;
    hd_agent_close(a); /* when the command did not */
    /* After the API server (the command freed it): its held requests wait
     * on the caches' topics. */
    hd_session_free(a->sessions);
    hd_kv_free(a->kv);
    hd_catalog_free(a->catalog);
    hd_outbox_free(a->outbox);
    free(a->ui_url);
    hd_sched_free(&a->sched); /* before the checks: the heap points into them */
    size_t pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos)))
        check_free(s->val); /* the map goes whole, below */
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
    free(a);
}

/* ---- the catalog's copy of the config file ---------------------------------- */

/* Writes the config file's checks and services where the catalog reads
 * them (heed/checks/ with "source": "config", heed/services/ with Source
 * config), each only when it differs from what is stored, and deletes the
 * services the file no longer has. The writes need no answer: the file is
 * read again at the next start. */
static void sync_config_catalog(hd_agent_t *a, const hd_config_service_t *svcs, size_t nsvcs)
{
    hd_catalog_t *cat = a->catalog;
    const char *node = hd_catalog_local_node(cat);
    hd_scope_t all = {NULL};
    size_t pos = 0;
    hd_map_slot_t *sl;
    while ((sl = hd_map_next(&a->checks, &pos))) {
        hd_agent_check_t *c = sl->val;
        if (!c->def.from_config) continue;
        json_t *o = hd_check_def_to_json(&c->def);
        json_object_set_new(o, "source", json_string("config"));
        size_t len;
        char *text = dump(o, &len);
        const hd_cat_check_t *k = hd_catalog_check(cat, &all, c->def.tenant, node, c->def.id);
        if (!k || !k->def_text || strcmp(k->def_text, text) != 0) {
            char key[STORE_KEY_MAX];
            size_t klen = store_key(key, HD_AGENT_KEY_CHECKS, &c->def);
            (void)hd_store_put(a->store, key, klen, text, len, 0, NULL, NULL); /* see above */
        }
        free(text);
    }
    for (size_t i = 0; i < nsvcs; i++) {
        const hd_config_service_t *cs = &svcs[i];
        hd_service_t s;
        memset(&s, 0, sizeof(s));
        s.id = cs->id ? cs->id : cs->name;
        s.name = cs->name;
        s.node = (char *)node;
        s.address = cs->address;
        s.port = cs->port;
        s.tags = cs->tags;
        s.weight_passing = s.weight_warning = 1;
        s.source = HD_SOURCE_CONFIG;
        if (cs->nmeta) {
            s.meta = json_object();
            for (size_t j = 0; j < cs->nmeta; j++)
                json_object_set_new(s.meta, cs->meta[j].key, json_string(cs->meta[j].value));
        }
        const hd_cat_service_t *old = hd_catalog_service(cat, &all, NULL, node, s.id);
        if (old) { /* maintenance is the API's, and stays */
            s.maint = old->s.maint;
            s.maint_reason = old->s.maint_reason;
        }
        if (!old || !hd_service_equal(&old->s, &s))
            (void)hd_catalog_service_put(cat, &s, NULL, NULL); /* see above */
        json_decref(s.meta);
    }
    const hd_cat_service_t **l;
    hd_scope_t def = {HD_TENANT_DEFAULT};
    size_t n = hd_catalog_services(cat, &def, NULL, node, &l);
    for (size_t i = 0; i < n; i++) {
        if (l[i]->s.source != HD_SOURCE_CONFIG) continue;
        int kept = 0;
        for (size_t j = 0; j < nsvcs && !kept; j++)
            kept = !strcmp(svcs[j].id ? svcs[j].id : svcs[j].name, l[i]->s.id);
        if (!kept) (void)hd_catalog_service_delete(cat, NULL, node, l[i]->s.id, NULL, NULL);
    }
    free(l);
}

typedef struct node_write_s {
    int done, status;
} node_write_t;

static void on_node_written(int status, int64_t rev, void *arg)
{
    node_write_t *w = arg;
    (void)rev;
    w->status = status;
    w->done = 1;
}

/* The address the local node shows: the bind address, or loopback for a
 * wildcard one (which is no address to reach). */
static const char *node_address(const hd_config_t *cfg)
{
    const char *h = cfg->bind_host;
    if (!strcmp(h, "0.0.0.0") || !strcmp(h, "localhost")) return "127.0.0.1";
    if (!strcmp(h, "::")) return "::1";
    return h;
}

/* Opens the catalog and writes this agent's node (heed/nodes/<node>) as
 * the config says, keeping its ID and maintenance from before. */
static int start_catalog(hd_agent_t *a, char *err, size_t errlen)
{
    const hd_config_t *cfg = &a->cfg;
    if (hd_catalog_open(a->store, a->base, cfg->node, &a->catalog, err, errlen) < 0) return -1;
    const hd_cat_node_t *old = hd_catalog_node(a->catalog, cfg->node);
    hd_node_t n;
    memset(&n, 0, sizeof(n));
    char uuid[37];
    hd_node_uuid(uuid);
    n.name = cfg->node;
    n.id = old && old->n.id && *old->n.id ? old->n.id : uuid;
    n.address = (char *)node_address(cfg);
    n.datacenter = cfg->datacenter;
    n.agent = 1;
    n.maint = old ? old->n.maint : 0;
    n.maint_reason = old ? old->n.maint_reason : NULL;
    n.tagged_addresses = json_pack("{s:s, s:s}", "lan", n.address, "wan", n.address);
    if (cfg->nnode_meta) {
        n.meta = json_object();
        for (size_t i = 0; i < cfg->nnode_meta; i++)
            json_object_set_new(n.meta, cfg->node_meta[i].key,
                                json_string(cfg->node_meta[i].value));
    }
    int same = old && hd_node_equal(&old->n, &n);
    node_write_t w = {0, 0};
    int rc = same ? 0 : hd_catalog_node_put(a->catalog, &n, on_node_written, &w);
    json_decref(n.meta);
    json_decref(n.tagged_addresses);
    if (same) return 0;
    if (rc == 0)
        while (!w.done)
            event_base_loop(a->base, EVLOOP_ONCE);
    if (rc < 0 || w.status != 0) {
        snprintf(err, errlen, "writing the node %s: %s", cfg->node,
                 hd_store_strerror(rc < 0 ? rc : w.status));
        return -1;
    }
    return 0;
}

/* Whether a session may name check id of tenant (agent/session.h). */
static int session_check(void *arg, const char *tenant, const char *id)
{
    return hd_agent_check_get(arg, tenant, id) != NULL;
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

/* Start-up, phase 1: the config as it will run (--dev's data dir, every
 * check of --validate, the flags' overrides) and data_dir made. 0, or -1
 * with the reason printed. */
static int take_config(hd_agent_t *a, const hd_agent_opts_t *o)
{
    char err[8192];
    if (o->dev) {
        char tmpl[] = "/tmp/heed-dev-XXXXXX";
        if (!mkdtemp(tmpl)) {
            fprintf(stderr, "heed agent: cannot make a temporary data dir: %s\n", strerror(errno));
            return -1;
        }
        a->tmp_dir = hd_xstrdup(tmpl);
    }
    /* Every check of --validate too (preflight.h), then what only a start
     * does: make data_dir, open the store (and the command binds). */
    if (hd_agent_preflight(o, a->tmp_dir, &a->cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    a->dev = o->dev;
    a->log_json = o->log_json;
    if (!o->dev) a->config_path = hd_xstrdup(o->config_path);
    if (o->dev && o->bind) dev_follow_bind(&a->cfg);
    /* What the flags override, for a reload to override again. */
    if (o->data_dir) a->opt_data_dir = hd_xstrdup(a->cfg.data_dir); /* made absolute */
    if (o->bind) a->opt_bind = hd_xstrdup(o->bind);
    if (mkdir_p(a->cfg.data_dir) < 0) {
        fprintf(stderr, "heed agent: cannot create data_dir %s: %s\n", a->cfg.data_dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Phase 2: the loop, the probes' environment, and the store at path,
 * migrated to today's layout. 0, or -1 with the reason printed. */
static int open_store(hd_agent_t *a, const char *path)
{
    char err[8192];
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
        return -1;
    }
    hd_probe_env_init(&a->env, a->base);
    signal(SIGPIPE, SIG_IGN);

    hd_store_config_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.path = path;
    sc.hist_raw_keep_us = a->cfg.history.raw_us;
    sc.hist_1m_keep_us = a->cfg.history.minute_us;
    sc.hist_1h_keep_us = a->cfg.history.hour_us;
    if (hd_store_open(a->base, &sc, &a->store, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s\n", err);
        return -1;
    }
    if (hd_agent_migrate(a, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

/* Phase 3: the checks (the config file's, then the store's), the KV and
 * sessions caches, the catalog with this node, and the config file's
 * services committed to it. 0, or -1 with the reason printed. */
static int load(hd_agent_t *a, const char *path)
{
    char err[8192];
    /* Config checks first: an API check with the same id then loses. */
    for (size_t i = 0; i < a->cfg.nchecks; i++) {
        hd_check_def_t *d = &a->cfg.checks[i];
        prepare_target(d);
        hd_agent_check_t *c = check_new(a, d);
        check_put(a, c);
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
        return -1;
    }
    /* The KV cache loads in the same turn of the loop. */
    if (hd_kv_open(a->base, a->store, &a->kv, err, sizeof(err)) < 0 ||
        hd_session_open(a->base, a->store, a->kv, a->cfg.node, session_check, a, &a->sessions, err,
                        sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s: %s\n", path, err);
        return -1;
    }
    event_base_dispatch(a->base);
    if (l.status != 0) {
        fprintf(stderr, "heed agent: %s: %s\n", path, l.err);
        return -1;
    }
    if (hd_kv_status(a->kv) != 0 || hd_session_status(a->sessions) != 0) {
        fprintf(stderr, "heed agent: %s: cannot read the KV store or the sessions\n", path);
        return -1;
    }
    if (hd_agent_alerts_start(a, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s: %s\n", path, err);
        return -1;
    }
    if (start_catalog(a, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s: %s\n", path, err);
        return -1;
    }
    sync_config_catalog(a, a->cfg.services, a->cfg.nservices);
    hd_store_flush(a->store); /* the file's services are in the catalog before the API is up */
    return 0;
}

int hd_agent_open(const hd_agent_opts_t *o, hd_agent_t **out)
{
    /* Big buffers (a /metrics text is ~2.8 MB for 10,000 checks, a list
     * reply alike) are mmap'd and given back when freed. glibc otherwise
     * raises its mmap threshold to the size of the first such buffer freed
     * and serves the next ones from the heap, where they stay resident: one
     * scrape raised peak RSS by 7.2 MB, with the threshold fixed by 3.3. */
    (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    hd_agent_t *a = hd_xcalloc(1, sizeof(*a));
    *out = NULL;
    hd_map_init(&a->checks);
    hd_sched_init(&a->sched);
    char path[4096];
    if (take_config(a, o) < 0) goto bad;
    snprintf(path, sizeof(path), "%s/heed.db", a->cfg.data_dir);
    if (open_store(a, path) < 0 || load(a, path) < 0) goto bad;
    hd_session_start(a->sessions);
    *out = a;
    return 0;
bad:
    hd_agent_free(a);
    return -1;
}

void hd_agent_api_bound(hd_agent_t *a, int port)
{
    const char *host = a->cfg.bind_host;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) host = a->cfg.node;
    char url[512];
    snprintf(url, sizeof(url), strchr(host, ':') ? "%s://[%s]:%d/ui/" : "%s://%s:%d/ui/",
             a->cfg.tls.cert_file ? "https" : "http", host, port);
    free(a->ui_url);
    a->ui_url = hd_xstrdup(url);
    hd_agent_alerts_ui_url(a);
    if (!a->dev || a->cfg.bind_port != 0) return; /* --bind HOST:0: the port the kernel gave */
    hd_agent_check_t *c = hd_agent_check_get(a, NULL, "agent-api");
    if (c && c->def.from_config) dev_point(&c->def, a->cfg.bind_host, port);
}

void hd_agent_on_reload(hd_agent_t *a, hd_agent_reload_fn fn, void *arg)
{
    a->reload_fn = fn;
    a->reload_arg = arg;
}

int hd_agent_run(hd_agent_t *a)
{
    int64_t now = hd_time_now_us();
    size_t pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&a->checks, &pos))) {
        hd_agent_check_t *c = s->val;
        /* --dev's sample checks run at once, so that `heed status` means
         * something a second after the start; a config's first runs are
         * spread over their interval (sched.h). */
        if (a->dev && !c->st.paused && !c->def.ttl)
            hd_sched_add(&a->sched, &c->item, now);
        else
            schedule_check(a, c, now);
    }
    hd_sched_arm(&a->sched, a->base, now, on_sched, a);

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
    event_base_dispatch(a->base);
    return 0;
}

/* ---- what the API reads ------------------------------------------------------ */

const hd_config_t *hd_agent_config(const hd_agent_t *a)
{
    return &a->cfg;
}

struct event_base *hd_agent_base(const hd_agent_t *a)
{
    return a->base;
}

hd_probe_env_t *hd_agent_probe_env(hd_agent_t *a)
{
    return &a->env;
}

struct hd_store_s *hd_agent_store(const hd_agent_t *a)
{
    return a->store;
}

struct hd_catalog_s *hd_agent_catalog(const hd_agent_t *a)
{
    return a->catalog;
}

struct hd_kv_s *hd_agent_kv(const hd_agent_t *a)
{
    return a->kv;
}

struct hd_session_reg_s *hd_agent_sessions(const hd_agent_t *a)
{
    return a->sessions;
}

size_t hd_agent_check_count(const hd_agent_t *a)
{
    return a->checks.n;
}

void hd_agent_stats(const hd_agent_t *a, hd_agent_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->results_total = a->results_total;
    st->skipped_total = a->skipped_total;
    st->state_failed_total = a->state_failed_total;
    st->reloads_total = a->reloads_total;
    st->reload_errors_total = a->reload_errors_total;
    st->state_owed = hd_agent_state_owed(a);
    st->started_wall = a->started_wall;
    st->sched_lag = &a->sched.lag;
    st->loop_lag = &a->loop_lag;
    st->commit_lat = &a->commit_lat;
    st->alert_events_lost = a->alert_events_lost;
}

const hd_check_def_t *hd_agent_check_def(const hd_agent_check_t *c)
{
    return &c->def;
}

struct hd_outbox_s *hd_agent_outbox(hd_agent_t *a)
{
    return a->outbox;
}

const hd_check_state_t *hd_agent_check_state(const hd_agent_check_t *c)
{
    if (!c->in_window || c->st.paused) return &c->st;
    /* In a maintenance window: shown as maintenance, as a paused check is.
     * The view shares st's output; it lives until the next call. */
    hd_agent_check_t *m = (hd_agent_check_t *)c;
    m->view = c->st;
    m->view.status = HD_CHECK_MAINTENANCE;
    return &m->view;
}

uint64_t hd_agent_check_runs(const hd_agent_check_t *c)
{
    return c->runs;
}

int64_t hd_agent_check_cert_expiry(const hd_agent_check_t *c)
{
    return c->cert_expiry;
}

int hd_agent_check_removed(const hd_agent_check_t *c)
{
    return c->removed;
}
