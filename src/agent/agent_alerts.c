/* agent_alerts — the agent's side of alerting: which rules and windows a
 * check falls under, the event JSON (agent/notifier.h's), the events waiting
 * for the check's next state write and the outbox they go to once it is
 * durable. The decisions are alert.c's; storing and sending outbox.c's. */
#include "agent/agent_impl.h"
#include "agent/alert.h"
#include "agent/catalog.h"
#include "agent/notifier.h"
#include "agent/outbox.h"
#include "agent/tenant.h"
#include "util/mem.h"
#include "util/time.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_WAITING_MAX 16 /* per check; more: the oldest is dropped and counted */

int hd_agent_alerts_on(const hd_agent_t *a)
{
    return a->outbox != NULL;
}

/* c's service as the catalog holds it (registered by the config file or
 * through the API), or NULL: its name and tags are what rules match and
 * what events carry. */
static const hd_service_t *service_of(const hd_agent_t *a, const hd_agent_check_t *c)
{
    if (!c->def.service_id || !a->catalog) return NULL;
    hd_scope_t all = {NULL};
    const hd_cat_service_t *svc = hd_catalog_service(
        a->catalog, &all, c->def.tenant, hd_catalog_local_node(a->catalog), c->def.service_id);
    return svc ? &svc->s : NULL;
}

static void subject(const hd_agent_t *a, const hd_agent_check_t *c, hd_match_subject_t *s)
{
    const hd_service_t *svc = service_of(a, c);
    s->def = &c->def;
    s->service_name = svc ? svc->name : NULL;
    s->service_tags = svc ? svc->tags : NULL;
}

static int in_window(const hd_agent_t *a, const hd_match_subject_t *s, int64_t wall)
{
    for (size_t i = 0; i < a->cfg.nmaintenance; i++)
        if (hd_alert_window_open(&a->cfg.maintenance[i], wall) &&
            hd_match(&a->cfg.maintenance[i].match, s))
            return 1;
    return 0;
}

static json_t *str_list(char *const *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; l && l[i]; i++)
        json_array_append_new(arr, json_string(l[i]));
    return arr;
}

static json_t *time_str(int64_t us)
{
    if (!us) return json_null();
    char t[40];
    hd_time_format_rfc3339(us, t, sizeof(t));
    return json_string(t);
}

/* The event of notifier.h, without its "id" (the outbox gives it). */
static json_t *event_json(const hd_agent_t *a, const hd_agent_check_t *c,
                          const hd_check_state_t *st, hd_alert_kind_t kind, int64_t since,
                          hd_check_status_t old, int64_t wall)
{
    const hd_check_def_t *d = &c->def;
    json_t *chk = json_object();
    json_object_set_new(chk, "id", json_string(d->id));
    json_object_set_new(chk, "name", json_string(d->name ? d->name : d->id));
    if (d->tenant) json_object_set_new(chk, "tenant", json_string(d->tenant));
    json_object_set_new(chk, "target", json_string(d->target.display ? d->target.display : ""));
    json_object_set_new(chk, "tags", str_list(d->tags));
    json_object_set_new(chk, "notes", d->notes ? json_string(d->notes) : json_null());
    const hd_service_t *svc = service_of(a, c);
    json_t *sv = json_null();
    if (d->service_id) {
        sv = json_object();
        json_object_set_new(sv, "id", json_string(d->service_id));
        json_object_set_new(sv, "name", json_string(svc ? svc->name : d->service_id));
        json_object_set_new(sv, "tags", str_list(svc ? svc->tags : NULL));
    }
    const hd_alert_state_t *as = st->alert;
    json_t *e = json_object();
    json_object_set_new(e, "kind", json_string(hd_alert_kind_str(kind)));
    json_object_set_new(e, "time", time_str(wall));
    json_object_set_new(e, "time_unix_ms", json_integer(wall / 1000));
    json_object_set_new(e, "since", time_str(since));
    json_object_set_new(e, "node", json_string(a->cfg.node));
    json_object_set_new(e, "check", chk);
    json_object_set_new(e, "service", sv);
    json_object_set_new(e, "old_status", json_string(hd_check_status_str(old)));
    json_object_set_new(e, "status", json_string(hd_check_status_str(st->status)));
    json_t *out = json_string(st->output ? st->output : "");
    json_object_set_new(e, "output", out ? out : json_string("(output not UTF-8)"));
    json_object_set_new(e, "reason", json_string(hd_reason_name(st->reason)));
    json_object_set_new(e, "flapping", json_boolean(as && as->flapping));
    return e;
}

static void append(hd_agent_t *a, hd_agent_check_t *c, hd_outbox_event_t *e,
                   hd_outbox_event_t **head, hd_outbox_event_t **tail, int counted)
{
    if (counted && c->nev == EVENTS_WAITING_MAX) { /* bounded: the oldest goes */
        hd_outbox_event_t *old = *head;
        *head = old->next;
        if (!*head) *tail = NULL;
        hd_outbox_event_free(old);
        c->nev--;
        a->alert_events_lost++;
    }
    if (*tail)
        (*tail)->next = e;
    else
        *head = e;
    *tail = e;
    if (counted) c->nev++;
}

static void make_event(hd_agent_t *a, hd_agent_check_t *c, const hd_check_state_t *st,
                       const hd_alert_out_t *out, hd_check_status_t old, int64_t wall,
                       hd_outbox_event_t **head, hd_outbox_event_t **tail)
{
    char q[HD_TENANT_KEY_MAX];
    if (hd_tenant_key(q, sizeof(q), c->def.tenant, c->def.id) < 0) q[0] = '\0';
    hd_outbox_event_t *e = hd_outbox_event_new(
        event_json(a, c, st, out->kind, out->since, old, wall), c->def.tenant, q);
    for (size_t i = 0; i < out->n; i++)
        hd_outbox_event_add(e, out->notify[i], out->due[i], wall);
    append(a, c, e, head, tail, head == &c->ev_head);
}

static hd_alert_state_t *alert_of(hd_check_state_t *st)
{
    if (!st->alert) st->alert = hd_xcalloc(1, sizeof(*st->alert));
    return st->alert;
}

/* The held deliveries of events still waiting are cancelled in place. */
static void cancel_waiting(hd_agent_check_t *c)
{
    for (hd_outbox_event_t *e = c->ev_head; e; e = e->next)
        for (size_t i = 0; i < e->n; i++)
            if (e->state[i] == HD_DLV_HELD) e->state[i] = HD_DLV_CANCELLED;
}

void hd_agent_alert_change(hd_agent_t *a, hd_agent_check_t *c, hd_check_state_t *st,
                           hd_check_status_t old, int64_t wall, hd_outbox_event_t **head,
                           hd_outbox_event_t **tail)
{
    if (!a->outbox || old == st->status || (!a->nrules && !a->cfg.nmaintenance)) return;
    hd_match_subject_t s;
    subject(a, c, &s);
    hd_alert_out_t out;
    int win = in_window(a, &s, wall);
    int made = hd_alert_change(alert_of(st), a->rules, a->nrules, &s, &a->cfg.alerting.flapping,
                               win, old, st->status, wall, &out);
    if (out.cancel_held) {
        if (out.cancel_seq)
            c->cancel_seq = out.cancel_seq;
        else
            cancel_waiting(c);
    }
    if (made) make_event(a, c, st, &out, old, wall, head, tail);
}

int hd_agent_alert_tick(hd_agent_t *a, hd_agent_check_t *c, int64_t wall)
{
    if (!a->outbox || c->removed || c->pending ||
        (!a->nrules && !a->cfg.nmaintenance && !c->in_window && !c->st.alert))
        return 0;
    /* Most checks have nothing due: passing, no window configured. The
     * tick runs for every check each second, so this test comes first. */
    const hd_alert_state_t *as = c->st.alert;
    if (!a->cfg.nmaintenance && !c->in_window &&
        (!as || (!as->since && !as->flapping && !as->held_until)))
        return 0;
    hd_match_subject_t s;
    subject(a, c, &s);
    int win = in_window(a, &s, wall);
    if (win != c->in_window) c->in_window = (unsigned char)win;
    if (!c->st.alert && !a->nrules) return 0;
    hd_alert_out_t out;
    int made = hd_alert_tick(alert_of(&c->st), a->rules, a->nrules, &s, &a->cfg.alerting.flapping,
                             win, c->st.status, wall, &out);
    if (!made) return 0;
    make_event(a, c, &c->st, &out, c->st.status, wall, &c->ev_head, &c->ev_tail);
    return 1;
}

size_t hd_agent_alert_ops(hd_agent_t *a, hd_agent_check_t *c, hd_check_state_t *st,
                          hd_store_op_t *ops, size_t room, hd_outbox_scratch_t *sc,
                          hd_outbox_event_t **taken, uint64_t *cancel)
{
    *taken = NULL;
    *cancel = 0;
    if (!a->outbox) return 0;
    size_t n = 0;
    if (c->cancel_seq) {
        n += hd_outbox_cancel_ops(a->outbox, c->cancel_seq, hd_time_wall_us(), ops, sc);
        *cancel = c->cancel_seq;
        c->cancel_seq = 0;
    }
    hd_outbox_event_t *tail = NULL;
    while (c->ev_head && n + 1 + c->ev_head->n <= room) {
        hd_outbox_event_t *e = c->ev_head;
        c->ev_head = e->next;
        if (!c->ev_head) c->ev_tail = NULL;
        c->nev--;
        e->next = NULL;
        n += hd_outbox_ops(a->outbox, e, ops + n, sc);
        int held = 0;
        for (size_t i = 0; i < e->n; i++)
            held |= e->state[i] == HD_DLV_HELD;
        if (held && st->alert && st->alert->held_until && !st->alert->held_seq)
            st->alert->held_seq = e->seq;
        if (tail)
            tail->next = e;
        else
            *taken = e;
        tail = e;
    }
    return n;
}

void hd_agent_alert_written(hd_agent_t *a, hd_agent_check_t *c, int status, int64_t rev,
                            hd_outbox_event_t *taken, uint64_t cancel)
{
    if (status != 0) {
        /* Still owed: back at the front, in order, for the next write. */
        if (cancel && !c->cancel_seq) c->cancel_seq = cancel;
        if (!taken) return;
        if (c->removed || !a->outbox) {
            while (taken) {
                hd_outbox_event_t *next = taken->next;
                hd_outbox_event_free(taken);
                taken = next;
            }
            return;
        }
        hd_outbox_event_t *last = taken;
        size_t k = 1;
        while (last->next) {
            last = last->next;
            k++;
        }
        last->next = c->ev_head;
        if (!c->ev_head) c->ev_tail = last;
        c->ev_head = taken;
        c->nev = (unsigned char)(c->nev + k);
        return;
    }
    if (cancel) hd_outbox_cancelled(a->outbox, cancel, rev);
    while (taken) {
        hd_outbox_event_t *next = taken->next;
        taken->next = NULL;
        hd_outbox_stored(a->outbox, taken, rev);
        taken = next;
    }
}

void hd_agent_alert_check_free(hd_agent_check_t *c)
{
    while (c->ev_head) {
        hd_outbox_event_t *next = c->ev_head->next;
        hd_outbox_event_free(c->ev_head);
        c->ev_head = next;
    }
    c->ev_tail = NULL;
    c->nev = 0;
}

static hd_notifier_t *notifier_named(hd_agent_t *a, const char *name)
{
    for (size_t i = 0; i < a->nnotifiers; i++)
        if (a->notifiers[i] && strcmp(hd_notifier_def(a->notifiers[i])->name, name) == 0)
            return a->notifiers[i];
    return NULL;
}

static int send_fn(void *ctx, const char *name, const json_t *const *events, size_t n,
                   hd_notifier_done_cb cb, void *arg)
{
    hd_notifier_t *nf = notifier_named(ctx, name);
    if (!nf) return -1;
    return n == 1 ? hd_notifier_send(nf, events[0], cb, arg)
                  : hd_notifier_send_batch(nf, events, n, cb, arg);
}

static int batches_fn(void *ctx, const char *name)
{
    hd_notifier_t *nf = notifier_named(ctx, name);
    return nf && hd_notifier_batches(nf);
}

void hd_agent_alerts_stop(hd_agent_t *a)
{
    if (a->outbox) hd_outbox_stop(a->outbox);
    for (size_t i = 0; i < a->nnotifiers; i++)
        hd_notifier_free(a->notifiers[i]);
    free(a->notifiers);
    a->notifiers = NULL;
    a->nnotifiers = 0;
    for (size_t i = 0; i < a->nrules; i++)
        hd_alert_rule_free(&a->rules[i]);
    free(a->rules);
    a->rules = NULL;
    a->nrules = 0;
}

#define SWAP(x, y)                                                                                 \
    do {                                                                                           \
        __typeof__(x) t_ = (x);                                                                    \
        (x) = (y);                                                                                 \
        (y) = t_;                                                                                  \
    } while (0)

void hd_agent_alerts_reload(hd_agent_t *a, hd_config_t *cfg)
{
    /* Rules: the file's first, then the API's, as at start. */
    size_t old = a->cfg.nalerts, napi = a->nrules - old;
    hd_alert_rule_t *rules = hd_xcalloc(cfg->nalerts + napi + 1, sizeof(*rules));
    for (size_t i = 0; i < cfg->nalerts; i++)
        hd_alert_rule_copy(&rules[i], &cfg->alerts[i]);
    if (napi) memcpy(rules + cfg->nalerts, a->rules + old, napi * sizeof(*rules));
    for (size_t i = 0; i < old; i++)
        hd_alert_rule_free(&a->rules[i]);
    free(a->rules);
    a->rules = rules;
    a->nrules = cfg->nalerts + napi;
    /* Notifiers likewise; a send in flight to a replaced one is tried
     * again through the new one of its name. */
    size_t oldn = a->cfg.nnotifiers, napin = a->nnotifiers - oldn;
    hd_notifier_t **ns = hd_xcalloc(cfg->nnotifiers + napin + 1, sizeof(*ns));
    for (size_t i = 0; i < oldn; i++) {
        if (!a->notifiers[i]) continue;
        if (a->outbox) hd_outbox_forget(a->outbox, hd_notifier_def(a->notifiers[i])->name);
        hd_notifier_free(a->notifiers[i]);
    }
    for (size_t i = 0; i < cfg->nnotifiers; i++) {
        char why[512];
        ns[i] = hd_notifier_new(a->base, &cfg->notifiers[i], why, sizeof(why));
        if (!ns[i]) fprintf(stderr, "heed agent: notifier %s: %s\n", cfg->notifiers[i].name, why);
    }
    if (napin) memcpy(ns + cfg->nnotifiers, a->notifiers + oldn, napin * sizeof(*ns));
    free(a->notifiers);
    a->notifiers = ns;
    a->nnotifiers = cfg->nnotifiers + napin;
    hd_agent_alerts_ui_url(a);
    SWAP(a->cfg.alerts, cfg->alerts);
    SWAP(a->cfg.nalerts, cfg->nalerts);
    SWAP(a->cfg.maintenance, cfg->maintenance);
    SWAP(a->cfg.nmaintenance, cfg->nmaintenance);
    SWAP(a->cfg.notifiers, cfg->notifiers);
    SWAP(a->cfg.nnotifiers, cfg->nnotifiers);
    SWAP(a->cfg.alerting.webhook_allow, cfg->alerting.webhook_allow);
    a->cfg.alerting.flapping = cfg->alerting.flapping;
    /* Checks whose window closed show their status again at the next tick. */
}

void hd_agent_alerts_ui_url(hd_agent_t *a)
{
    for (size_t i = 0; i < a->nnotifiers; i++)
        if (a->notifiers[i]) hd_notifier_set_ui_url(a->notifiers[i], a->ui_url);
}

static void on_loaded(int status, void *arg)
{
    int *st = arg;
    *st = status;
}

int hd_agent_alerts_start(hd_agent_t *a, char *err, size_t errlen)
{
    hd_outbox_opts_t o;
    memset(&o, 0, sizeof(o));
    o.base = a->base;
    o.store = a->store;
    o.node = a->cfg.node;
    o.settings = a->cfg.alerting;
    o.send = send_fn;
    o.batches = batches_fn;
    o.ctx = a;
    a->notifiers = hd_xcalloc(a->cfg.nnotifiers + 1, sizeof(*a->notifiers));
    for (size_t i = 0; i < a->cfg.nnotifiers; i++) {
        char why[512];
        a->notifiers[i] = hd_notifier_new(a->base, &a->cfg.notifiers[i], why, sizeof(why));
        if (!a->notifiers[i]) {
            /* Its deliveries fail ("no notifier of that name"), counted. */
            fprintf(stderr, "heed agent: notifier %s: %s\n", a->cfg.notifiers[i].name, why);
        }
    }
    a->nnotifiers = a->cfg.nnotifiers;
    a->rules = hd_xcalloc(a->cfg.nalerts + 1, sizeof(*a->rules));
    for (size_t i = 0; i < a->cfg.nalerts; i++)
        hd_alert_rule_copy(&a->rules[i], &a->cfg.alerts[i]);
    a->nrules = a->cfg.nalerts;
    if (hd_agent_alerting_load(a, err, errlen) < 0) return -1;
    a->outbox = hd_outbox_new(&o);
    int status = 1;
    int rc = hd_outbox_load(a->outbox, on_loaded, &status);
    while (rc == 0 && status == 1)
        event_base_loop(a->base, EVLOOP_ONCE);
    if (rc < 0 || status != 0) {
        snprintf(err, errlen, "reading the alert outbox: %s",
                 hd_store_strerror(rc < 0 ? rc : status));
        return -1;
    }
    return 0;
}
