/* outbox — alert events stored, sent, retried, capped and pruned
 * (outbox.h). It owns the keys under heed/events/<node>/ and nothing else;
 * which events exist is alert.c's decision and the agent's, how one is sent
 * a notifier's. */
#include "agent/outbox.h"

#include "agent/tenant.h"
#include "util/mem.h"
#include "util/time.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_DIGITS 20
#define PAGE       512 /* keys per page when loading */

/* One delivery not finished yet (held or pending). 24 bytes. */
typedef struct dlv_s {
    uint64_t seq;
    int64_t due; /* wall time it may be (re)sent */
    uint32_t attempts;
    uint16_t nf;   /* index in ob->nf */
    uint8_t state; /* HD_DLV_*; a finished one waits for compaction */
    uint8_t busy;  /* being sent */
} dlv_t;

/* One event in the store. 24 bytes. */
typedef struct evrec_s {
    uint64_t seq;
    uint32_t tenant_hash;
    uint32_t check_hash;
    uint32_t open; /* deliveries not finished */
} evrec_t;

typedef struct nf_s {
    char *name;
    size_t cursor; /* no open delivery of this notifier below this index of ob->d */
    int busy;      /* a send in flight */
} nf_t;

typedef struct send_s send_t;

struct hd_outbox_s {
    struct event_base *base;
    hd_store_t *store;
    char *node;
    char prefix[HD_STORE_KEY_MAX]; /* heed/events/<node>/ */
    size_t prefix_len;
    hd_config_alerting_t set;
    hd_outbox_send_fn send;
    hd_outbox_batches_fn batches;
    void *ctx;
    uint64_t next_seq;
    dlv_t *d; /* open deliveries, by (seq, nf) */
    size_t nd, capd, ndead;
    evrec_t *ev; /* events kept, by seq */
    size_t nev, capev, nopen;
    nf_t *nf;
    size_t nnf;
    struct event *timer;
    int64_t timer_due;
    hd_topic_t topic;
    hd_outbox_stats_t st;
    send_t *sends; /* in flight */
    int loading;
    int stopped; /* hd_outbox_stop ran */
    /* Loading: done callback and the page position. */
    void (*load_done)(int, void *);
    void *load_arg;
    char load_after[HD_STORE_KEY_MAX];
    size_t load_after_len;
};

struct send_s {
    hd_outbox_t *ob;
    size_t nf;
    size_t n, got;
    int reading, closing;
    uint64_t seq[HD_OUTBOX_BATCH];
    json_t *events[HD_OUTBOX_BATCH];
    send_t *prev, *next;
};

static void pump(hd_outbox_t *ob);

static void oom(void)
{
    fprintf(stderr, "heed agent: out of memory encoding an alert event\n");
    abort();
}

const char *hd_dlv_state_str(hd_dlv_state_t s)
{
    static const char *const names[] = {"held",   "pending", "delivered",
                                        "failed", "dropped", "cancelled"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static int dlv_state_parse(const char *s)
{
    for (int i = 0; i <= HD_DLV_CANCELLED; i++)
        if (s && strcmp(s, hd_dlv_state_str((hd_dlv_state_t)i)) == 0) return i;
    return -1;
}

static int is_open(int state)
{
    return state == HD_DLV_HELD || state == HD_DLV_PENDING;
}

uint32_t hd_outbox_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* ---- keys and records ------------------------------------------------------ */

static size_t event_key(const hd_outbox_t *ob, uint64_t seq, char *out)
{
    return (size_t)snprintf(out, HD_STORE_KEY_MAX, "%s%020" PRIu64, ob->prefix, seq);
}

static size_t dlv_key(const hd_outbox_t *ob, uint64_t seq, const char *nf, char *out)
{
    return (size_t)snprintf(out, HD_STORE_KEY_MAX, "%s%020" PRIu64 "/%s", ob->prefix, seq, nf);
}

static json_t *time_or_null(int64_t us)
{
    if (!us) return json_null();
    char t[40];
    hd_time_format_rfc3339(us, t, sizeof(t));
    return json_string(t);
}

static char *record(int state, const char *nf, uint32_t attempts, const char *last_error,
                    int64_t next_try, int64_t delivered_at)
{
    json_t *o = json_object();
    json_object_set_new(o, "notifier", json_string(nf));
    json_object_set_new(o, "state", json_string(hd_dlv_state_str((hd_dlv_state_t)state)));
    json_object_set_new(o, "attempts", json_integer(attempts));
    json_object_set_new(o, "last_error", last_error ? json_string(last_error) : json_null());
    json_object_set_new(o, "next_try", time_or_null(is_open(state) ? next_try : 0));
    json_object_set_new(o, "delivered_at", time_or_null(delivered_at));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) oom();
    return s;
}

static char *scratch_keep(hd_outbox_scratch_t *sc, char *p)
{
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? 2 * sc->cap : 16;
        sc->bufs = hd_xrealloc(sc->bufs, sc->cap * sizeof(*sc->bufs));
    }
    sc->bufs[sc->n++] = p;
    return p;
}

static void put_op(hd_store_op_t *op, hd_outbox_scratch_t *sc, const char *key, size_t klen,
                   char *value)
{
    memset(op, 0, sizeof(*op));
    op->kind = HD_STORE_OP_PUT;
    op->key = scratch_keep(sc, hd_xstrdup(key));
    op->key_len = klen;
    op->value = scratch_keep(sc, value);
    op->value_len = strlen(value);
}

void hd_outbox_scratch_free(hd_outbox_scratch_t *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->bufs[i]);
    free(sc->bufs);
    memset(sc, 0, sizeof(*sc));
}

/* ---- the index ------------------------------------------------------------- */

static size_t nf_index(hd_outbox_t *ob, const char *name)
{
    for (size_t i = 0; i < ob->nnf; i++)
        if (strcmp(ob->nf[i].name, name) == 0) return i;
    ob->nf = hd_xrealloc(ob->nf, (ob->nnf + 1) * sizeof(*ob->nf));
    ob->nf[ob->nnf] = (nf_t){hd_xstrdup(name), 0, 0};
    return ob->nnf++;
}

static evrec_t *ev_find(hd_outbox_t *ob, uint64_t seq)
{
    size_t lo = 0, hi = ob->nev;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ob->ev[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ob->nev && ob->ev[lo].seq == seq ? &ob->ev[lo] : NULL;
}

static evrec_t *ev_insert(hd_outbox_t *ob, uint64_t seq, uint32_t tenant_hash, uint32_t check_hash)
{
    evrec_t *e = ev_find(ob, seq);
    if (e) return e;
    if (ob->nev == ob->capev) {
        ob->capev = ob->capev ? 2 * ob->capev : 256;
        ob->ev = hd_xrealloc(ob->ev, ob->capev * sizeof(*ob->ev));
    }
    size_t i = ob->nev;
    while (i > 0 && ob->ev[i - 1].seq > seq)
        i--;
    memmove(&ob->ev[i + 1], &ob->ev[i], (ob->nev - i) * sizeof(*ob->ev));
    ob->ev[i] = (evrec_t){seq, tenant_hash, check_hash, 0};
    ob->nev++;
    return &ob->ev[i];
}

static dlv_t *dlv_find(hd_outbox_t *ob, uint64_t seq, size_t nf)
{
    size_t lo = 0, hi = ob->nd;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ob->d[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < ob->nd && ob->d[lo].seq == seq; lo++)
        if (ob->d[lo].nf == nf) return &ob->d[lo];
    return NULL;
}

static void dlv_insert(hd_outbox_t *ob, const dlv_t *d)
{
    if (ob->nd == ob->capd) {
        ob->capd = ob->capd ? 2 * ob->capd : 256;
        ob->d = hd_xrealloc(ob->d, ob->capd * sizeof(*ob->d));
    }
    size_t i = ob->nd;
    while (i > 0 &&
           (ob->d[i - 1].seq > d->seq || (ob->d[i - 1].seq == d->seq && ob->d[i - 1].nf > d->nf)))
        i--;
    memmove(&ob->d[i + 1], &ob->d[i], (ob->nd - i) * sizeof(*ob->d));
    ob->d[i] = *d;
    ob->nd++;
    if (ob->nf[d->nf].cursor > i) ob->nf[d->nf].cursor = i;
    for (size_t k = 0; k < ob->nnf; k++)
        if (k != d->nf && ob->nf[k].cursor > i) ob->nf[k].cursor++;
}

/* Drops finished deliveries from the index once they are half of it. */
static void compact(hd_outbox_t *ob)
{
    if (ob->ndead < 64 || ob->ndead * 2 < ob->nd) return;
    for (size_t k = 0; k < ob->nnf; k++)
        if (ob->nf[k].busy) return; /* their sends hold no index, but keep it simple */
    size_t j = 0;
    for (size_t i = 0; i < ob->nd; i++)
        if (is_open(ob->d[i].state) || ob->d[i].busy) ob->d[j++] = ob->d[i];
    ob->nd = j;
    ob->ndead = 0;
    for (size_t k = 0; k < ob->nnf; k++)
        ob->nf[k].cursor = 0;
}

static void on_pruned(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)status;
    (void)r;
    (void)arg;
}

/* Deletes the oldest finished events past keep_delivered. */
static void prune(hd_outbox_t *ob)
{
    size_t finished = ob->nev - ob->nopen;
    size_t i = 0;
    while (finished > ob->set.keep_delivered && i < ob->nev) {
        if (ob->ev[i].open) {
            i++;
            continue;
        }
        char key[HD_STORE_KEY_MAX];
        size_t klen = event_key(ob, ob->ev[i].seq, key);
        /* Best effort: a failed delete is retried by the next prune after
         * a restart (the event is loaded again as finished). */
        (void)hd_store_delete_prefix(ob->store, key, klen, on_pruned, NULL);
        memmove(&ob->ev[i], &ob->ev[i + 1], (ob->nev - i - 1) * sizeof(*ob->ev));
        ob->nev--;
        finished--;
    }
}

static void on_recorded(int status, const hd_store_write_result_t *r, void *arg)
{
    hd_outbox_t *ob = arg;
    if (status == 0) hd_topic_bump(&ob->topic, r->revision);
}

/* d finished as state: recorded in the store, counted, the event closed
 * when it was its last open delivery. */
static void finish(hd_outbox_t *ob, dlv_t *d, int state, const char *why, int64_t now)
{
    const char *name = ob->nf[d->nf].name;
    char key[HD_STORE_KEY_MAX];
    size_t klen = dlv_key(ob, d->seq, name, key);
    uint32_t attempts = d->attempts + (state == HD_DLV_DELIVERED || state == HD_DLV_FAILED);
    char *val = record(state, name, attempts, why, 0, state == HD_DLV_DELIVERED ? now : 0);
    /* A record that fails to be written leaves the delivery open in the
     * store: sent again after a restart (at least once; the event id lets
     * the receiver tell). */
    (void)hd_store_put(ob->store, key, klen, val, strlen(val), 0, on_recorded, ob);
    free(val);
    d->state = (uint8_t)state;
    d->attempts = attempts;
    ob->ndead++;
    switch (state) {
    case HD_DLV_DELIVERED:
        ob->st.delivered++;
        break;
    case HD_DLV_FAILED:
        ob->st.failed++;
        break;
    case HD_DLV_CANCELLED:
        ob->st.cancelled++;
        break;
    default:
        break;
    }
    evrec_t *e = ev_find(ob, d->seq);
    if (e && e->open && --e->open == 0) ob->nopen--;
}

/* The cap: past outbox_max undelivered events, the oldest are dropped. */
static void cap(hd_outbox_t *ob, int64_t now)
{
    while (ob->nopen > ob->set.outbox_max) {
        uint64_t seq = 0;
        for (size_t i = 0; i < ob->nd; i++)
            if (is_open(ob->d[i].state) && !ob->d[i].busy) {
                seq = ob->d[i].seq;
                break;
            }
        if (!seq) return;
        for (size_t i = 0; i < ob->nd; i++)
            if (ob->d[i].seq == seq && is_open(ob->d[i].state))
                finish(ob, &ob->d[i], HD_DLV_DROPPED, "dropped: the outbox is full", now);
        ob->st.dropped++;
        if (ob->st.dropped == 1 || ob->st.dropped % 1000 == 0)
            fprintf(stderr,
                    "heed agent: alert outbox full (%zu undelivered events, alerting.outbox_max): "
                    "the oldest dropped (%" PRIu64 " so far, heed_alert_events_dropped_total)\n",
                    ob->set.outbox_max, ob->st.dropped);
    }
}

/* ---- sending -------------------------------------------------------------- */

static int64_t backoff(const hd_outbox_t *ob, uint32_t attempts)
{
    int64_t d = ob->set.retry_min_us;
    for (uint32_t i = 1; i < attempts && d < ob->set.retry_max_us; i++)
        d *= 2;
    return d < ob->set.retry_max_us ? d : ob->set.retry_max_us;
}

static void send_unlink(hd_outbox_t *ob, send_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        ob->sends = s->next;
    if (s->next) s->next->prev = s->prev;
    for (size_t i = 0; i < s->n; i++)
        json_decref(s->events[i]);
    free(s);
}

static void on_sent(hd_notifier_result_t result, const char *reason, void *arg)
{
    send_t *s = arg;
    hd_outbox_t *ob = s->ob;
    int64_t now = hd_time_wall_us();
    const char *name = ob->nf[s->nf].name;
    for (size_t i = 0; i < s->n; i++) {
        dlv_t *d = dlv_find(ob, s->seq[i], s->nf);
        if (!d) continue;
        d->busy = 0;
        if (!is_open(d->state)) continue; /* dropped meanwhile */
        if (result == HD_NOTIFY_DELIVERED) {
            finish(ob, d, HD_DLV_DELIVERED, NULL, now);
        } else if (result == HD_NOTIFY_FAILED) {
            fprintf(stderr, "heed agent: alert %s-%" PRIu64 " to %s failed: %s (not retried)\n",
                    ob->node, d->seq, name, reason ? reason : "refused");
            finish(ob, d, HD_DLV_FAILED, reason, now);
        } else {
            d->attempts++;
            d->state = HD_DLV_PENDING;
            d->due = now + backoff(ob, d->attempts);
            ob->st.retries++;
            char key[HD_STORE_KEY_MAX];
            size_t klen = dlv_key(ob, d->seq, name, key);
            char *val = record(HD_DLV_PENDING, name, d->attempts, reason, d->due, 0);
            (void)hd_store_put(ob->store, key, klen, val, strlen(val), 0, on_recorded, ob);
            free(val);
            if (d->attempts == 1 || d->attempts % 10 == 0)
                fprintf(stderr,
                        "heed agent: alert %s-%" PRIu64 " to %s: %s; retrying (attempt %u)\n",
                        ob->node, d->seq, name, reason ? reason : "failed", d->attempts);
        }
    }
    ob->nf[s->nf].busy = 0;
    send_unlink(ob, s);
    compact(ob);
    prune(ob);
    pump(ob);
}

static void on_event_read(int status, const hd_store_kv_t *kv, int64_t rev, void *arg)
{
    (void)rev;
    send_t *s = arg;
    hd_outbox_t *ob = s->ob;
    size_t i = s->got++;
    if (status == 0) s->events[i] = json_loadb(kv->value, kv->value_len, 0, NULL);
    if (s->got < s->n) return;
    s->reading = 0;
    if (s->closing) {
        send_unlink(ob, s);
        return;
    }
    /* An event that cannot be read (gone, damaged) cannot be sent. */
    size_t k = 0;
    for (size_t j = 0; j < s->n; j++) {
        if (s->events[j]) {
            s->seq[k] = s->seq[j];
            s->events[k++] = s->events[j];
            continue;
        }
        dlv_t *d = dlv_find(ob, s->seq[j], s->nf);
        if (d) {
            d->busy = 0;
            finish(ob, d, HD_DLV_FAILED, "the event cannot be read from the store",
                   hd_time_wall_us());
        }
    }
    s->n = k;
    if (k == 0 || ob->send(ob->ctx, ob->nf[s->nf].name, (const json_t *const *)s->events, k,
                           on_sent, s) < 0) {
        int64_t now = hd_time_wall_us();
        for (size_t j = 0; j < k; j++) {
            dlv_t *d = dlv_find(ob, s->seq[j], s->nf);
            if (!d) continue;
            d->busy = 0;
            finish(ob, d, HD_DLV_FAILED, "no notifier of that name", now);
        }
        ob->nf[s->nf].busy = 0;
        send_unlink(ob, s);
        pump(ob);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_outbox_t *ob = arg;
    ob->timer_due = 0;
    pump(ob);
}

static void arm(hd_outbox_t *ob, int64_t due, int64_t now)
{
    if (ob->timer_due && ob->timer_due <= due) return;
    ob->timer_due = due;
    int64_t wait = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
    evtimer_add(ob->timer, &tv);
}

/* Starts a send for notifier k when one is due: the first open delivery
 * in event order (held ones not yet due are passed over; a pending one
 * waiting for its retry holds the notifier's queue). */
static void pump_one(hd_outbox_t *ob, size_t k, int64_t now, int64_t *next)
{
    nf_t *nf = &ob->nf[k];
    if (nf->busy) return;
    int batch = ob->batches && ob->batches(ob->ctx, nf->name);
    send_t *s = NULL;
    size_t i = nf->cursor, first_open = ob->nd;
    for (; i < ob->nd; i++) {
        dlv_t *d = &ob->d[i];
        if (d->nf != k || !is_open(d->state)) continue;
        if (first_open == ob->nd) first_open = i;
        if (d->due > now) {
            if (!*next || d->due < *next) *next = d->due;
            if (d->state == HD_DLV_PENDING) break; /* a retry: wait, in order */
            continue;
        }
        if (!s) {
            s = hd_xcalloc(1, sizeof(*s));
            s->ob = ob;
            s->nf = k;
        }
        d->busy = 1;
        d->state = HD_DLV_PENDING;
        s->seq[s->n++] = d->seq;
        if (!batch || s->n == HD_OUTBOX_BATCH) break;
    }
    nf->cursor = first_open;
    if (!s) return;
    nf->busy = 1;
    s->reading = 1;
    s->next = ob->sends;
    if (ob->sends) ob->sends->prev = s;
    ob->sends = s;
    size_t n = s->n;
    for (size_t j = 0; j < n; j++) {
        char key[HD_STORE_KEY_MAX];
        size_t klen = event_key(ob, s->seq[j], key);
        if (hd_store_get(ob->store, key, klen, on_event_read, s) < 0)
            on_event_read(HD_STORE_ECLOSED, NULL, 0, s); /* counted as unreadable */
    }
}

static void pump(hd_outbox_t *ob)
{
    if (!ob->send || ob->loading || ob->stopped) return;
    int64_t now = hd_time_wall_us(), next = 0;
    for (size_t k = 0; k < ob->nnf; k++)
        pump_one(ob, k, now, &next);
    if (next) arm(ob, next, now);
}

/* ---- storing events -------------------------------------------------------- */

hd_outbox_event_t *hd_outbox_event_new(json_t *event, const char *tenant, const char *qname)
{
    (void)qname;
    hd_outbox_event_t *e = hd_xcalloc(1, sizeof(*e));
    e->event = event;
    e->tenant_hash = hd_outbox_hash(hd_tenant_name(tenant));
    e->check_hash = hd_outbox_hash(qname);
    return e;
}

void hd_outbox_event_add(hd_outbox_event_t *e, const char *notifier, int64_t due, int64_t now)
{
    if (e->n == HD_ALERT_NOTIFY_MAX) return;
    e->notify[e->n] = hd_xstrdup(notifier);
    e->due[e->n] = due;
    e->state[e->n++] = due > now ? HD_DLV_HELD : HD_DLV_PENDING;
}

void hd_outbox_event_free(hd_outbox_event_t *e)
{
    if (!e) return;
    json_decref(e->event);
    for (size_t i = 0; i < e->n; i++)
        free(e->notify[i]);
    free(e);
}

size_t hd_outbox_ops(hd_outbox_t *ob, hd_outbox_event_t *e, hd_store_op_t *ops,
                     hd_outbox_scratch_t *sc)
{
    e->seq = ob->next_seq++;
    char id[HD_STORE_KEY_MAX];
    snprintf(id, sizeof(id), "%s-%" PRIu64, ob->node, e->seq);
    json_object_set_new(e->event, "id", json_string(id));
    char key[HD_STORE_KEY_MAX];
    size_t klen = event_key(ob, e->seq, key);
    char *val = json_dumps(e->event, JSON_COMPACT);
    if (!val) oom();
    put_op(&ops[0], sc, key, klen, val);
    size_t n = 1;
    for (size_t i = 0; i < e->n; i++) {
        klen = dlv_key(ob, e->seq, e->notify[i], key);
        put_op(&ops[n++], sc, key, klen, record(e->state[i], e->notify[i], 0, NULL, e->due[i], 0));
    }
    return n;
}

void hd_outbox_stored(hd_outbox_t *ob, hd_outbox_event_t *e, int64_t rev)
{
    int64_t now = hd_time_wall_us();
    evrec_t *ev = ev_insert(ob, e->seq, e->tenant_hash, e->check_hash);
    ob->st.created++;
    for (size_t i = 0; i < e->n; i++) {
        if (!is_open(e->state[i])) continue;
        dlv_t d = {e->seq, e->due[i], 0, (uint16_t)nf_index(ob, e->notify[i]), e->state[i], 0};
        dlv_insert(ob, &d);
        ev = ev_find(ob, e->seq);
        if (ev->open++ == 0) ob->nopen++;
    }
    hd_outbox_event_free(e);
    hd_topic_bump(&ob->topic, rev);
    cap(ob, now);
    prune(ob);
    pump(ob);
}

size_t hd_outbox_cancel_ops(hd_outbox_t *ob, uint64_t seq, int64_t now, hd_store_op_t *ops,
                            hd_outbox_scratch_t *sc)
{
    (void)now;
    size_t n = 0;
    for (size_t k = 0; k < ob->nnf && n < HD_ALERT_NOTIFY_MAX; k++) {
        dlv_t *d = dlv_find(ob, seq, k);
        if (!d || d->state != HD_DLV_HELD || d->busy) continue;
        char key[HD_STORE_KEY_MAX];
        size_t klen = dlv_key(ob, seq, ob->nf[k].name, key);
        put_op(&ops[n++], sc, key, klen,
               record(HD_DLV_CANCELLED, ob->nf[k].name, 0,
                      "the status changed before the rule's for: ended", 0, 0));
    }
    return n;
}

void hd_outbox_cancelled(hd_outbox_t *ob, uint64_t seq, int64_t rev)
{
    for (size_t k = 0; k < ob->nnf; k++) {
        dlv_t *d = dlv_find(ob, seq, k);
        if (!d || d->state != HD_DLV_HELD || d->busy) continue;
        d->state = HD_DLV_CANCELLED;
        ob->ndead++;
        ob->st.cancelled++;
        evrec_t *e = ev_find(ob, seq);
        if (e && e->open && --e->open == 0) ob->nopen--;
    }
    hd_topic_bump(&ob->topic, rev);
    prune(ob);
}

/* ---- loading ---------------------------------------------------------------- */

static int parse_seq(const char *s, size_t len, uint64_t *seq)
{
    if (len < SEQ_DIGITS) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < SEQ_DIGITS; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *seq = v;
    return 0;
}

static void load_kv(hd_outbox_t *ob, const hd_store_kv_t *kv)
{
    const char *rest = kv->key + ob->prefix_len;
    size_t len = kv->key_len - ob->prefix_len;
    uint64_t seq;
    if (parse_seq(rest, len, &seq) < 0) return;
    if (seq >= ob->next_seq) ob->next_seq = seq + 1;
    json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
    if (!o) return;
    if (len == SEQ_DIGITS) {
        const json_t *c = json_object_get(o, "check");
        const char *tenant = json_string_value(json_object_get(c, "tenant"));
        const char *id = json_string_value(json_object_get(c, "id"));
        char q[HD_TENANT_KEY_MAX];
        if (!id || hd_tenant_key(q, sizeof(q), tenant, id) < 0) q[0] = '\0';
        ev_insert(ob, seq, hd_outbox_hash(hd_tenant_name(tenant)), hd_outbox_hash(q));
    } else if (rest[SEQ_DIGITS] == '/' && ev_find(ob, seq)) {
        int state = dlv_state_parse(json_string_value(json_object_get(o, "state")));
        if (is_open(state)) {
            int64_t due = 0;
            (void)hd_alert_parse_time(json_string_value(json_object_get(o, "next_try")), &due);
            json_int_t att = json_integer_value(json_object_get(o, "attempts"));
            dlv_t d = {seq,
                       due,
                       (uint32_t)(att > 0 ? att : 0),
                       (uint16_t)nf_index(ob, rest + SEQ_DIGITS + 1),
                       (uint8_t)state,
                       0};
            dlv_insert(ob, &d);
            evrec_t *e = ev_find(ob, seq);
            if (e->open++ == 0) ob->nopen++;
        }
    }
    json_decref(o);
}

static void on_page(int status, const hd_store_range_t *r, void *arg)
{
    hd_outbox_t *ob = arg;
    if (status == 0) {
        for (size_t i = 0; i < r->n; i++)
            load_kv(ob, &r->kvs[i]);
        if (r->more && r->n) {
            const hd_store_kv_t *last = &r->kvs[r->n - 1];
            memcpy(ob->load_after, last->key, last->key_len);
            ob->load_after_len = last->key_len;
            status = hd_store_range_after(ob->store, ob->prefix, ob->prefix_len, ob->load_after,
                                          ob->load_after_len, PAGE, on_page, ob);
            if (status == 0) return;
        }
    }
    ob->loading = 0;
    hd_topic_bump(&ob->topic, hd_store_revision(ob->store));
    if (status == 0) {
        int64_t now = hd_time_wall_us();
        cap(ob, now);
        prune(ob);
        pump(ob);
    }
    ob->load_done(status, ob->load_arg);
}

int hd_outbox_load(hd_outbox_t *ob, void (*done)(int status, void *arg), void *arg)
{
    ob->loading = 1;
    ob->load_done = done;
    ob->load_arg = arg;
    int rc = hd_store_range(ob->store, ob->prefix, ob->prefix_len, PAGE, on_page, ob);
    if (rc < 0) ob->loading = 0;
    return rc;
}

/* ---- the object --------------------------------------------------------------- */

hd_outbox_t *hd_outbox_new(const hd_outbox_opts_t *o)
{
    hd_outbox_t *ob = hd_xcalloc(1, sizeof(*ob));
    ob->base = o->base;
    ob->store = o->store;
    ob->node = hd_xstrdup(o->node);
    ob->prefix_len =
        (size_t)snprintf(ob->prefix, sizeof(ob->prefix), "%s%s/", HD_OUTBOX_PREFIX, o->node);
    ob->set = o->settings;
    ob->set.webhook_allow = NULL;
    if (!ob->set.outbox_max) ob->set.outbox_max = 100000;
    if (!ob->set.retry_min_us) ob->set.retry_min_us = 1000000;
    if (ob->set.retry_max_us < ob->set.retry_min_us) ob->set.retry_max_us = ob->set.retry_min_us;
    ob->send = o->send;
    ob->batches = o->batches;
    ob->ctx = o->ctx;
    ob->next_seq = 1;
    ob->timer = evtimer_new(o->base, on_timer, ob);
    hd_topic_init(&ob->topic);
    return ob;
}

void hd_outbox_forget(hd_outbox_t *ob, const char *name)
{
    size_t k;
    for (k = 0; k < ob->nnf && strcmp(ob->nf[k].name, name) != 0; k++)
        ;
    if (k == ob->nnf) return;
    send_t *s = ob->sends;
    while (s) {
        send_t *next = s->next;
        if (s->nf == k && !s->reading && !s->closing) {
            for (size_t i = 0; i < s->n; i++) {
                dlv_t *d = dlv_find(ob, s->seq[i], k);
                if (d) d->busy = 0;
            }
            ob->nf[k].busy = 0;
            send_unlink(ob, s);
        }
        s = next;
    }
    if (ob->base && !ob->stopped) arm(ob, hd_time_wall_us(), hd_time_wall_us());
}

void hd_outbox_stop(hd_outbox_t *ob)
{
    ob->send = NULL;
    ob->stopped = 1;
    evtimer_del(ob->timer);
    for (send_t *s = ob->sends; s; s = s->next)
        s->closing = 1;
}

void hd_outbox_free(hd_outbox_t *ob)
{
    if (!ob) return;
    while (ob->sends)
        send_unlink(ob, ob->sends);
    hd_topic_close(&ob->topic);
    if (ob->timer) event_free(ob->timer);
    for (size_t k = 0; k < ob->nnf; k++)
        free(ob->nf[k].name);
    free(ob->nf);
    free(ob->d);
    free(ob->ev);
    free(ob->node);
    free(ob);
}

void hd_outbox_stats(const hd_outbox_t *ob, hd_outbox_stats_t *st)
{
    *st = ob->st;
    st->undelivered = ob->nopen;
    st->kept = ob->nev;
}

hd_topic_t *hd_outbox_topic(hd_outbox_t *ob)
{
    return &ob->topic;
}

/* ---- listing ------------------------------------------------------------------ */

typedef struct list_s {
    hd_outbox_t *ob;
    size_t n, got;
    json_t **slots;
    struct slot_s *args;
    hd_outbox_list_cb cb;
    void *arg;
    int64_t index;
} list_t;

typedef struct slot_s {
    list_t *l;
    size_t i;
} slot_t;

static void list_end(list_t *l)
{
    json_t *out = json_array();
    for (size_t k = 0; k < l->n; k++)
        if (l->slots[k]) json_array_append_new(out, l->slots[k]);
    l->cb(0, out, l->index, l->arg);
    json_decref(out);
    free(l->slots);
    free(l->args);
    free(l);
}

static void on_listed(int status, const hd_store_range_t *r, void *arg)
{
    slot_t *sl = arg;
    list_t *l = sl->l;
    l->got++;
    if (status == 0 && r->n) {
        json_t *ev = json_loadb(r->kvs[0].value, r->kvs[0].value_len, 0, NULL);
        if (ev) {
            json_t *dl = json_array();
            for (size_t k = 1; k < r->n; k++) {
                json_t *d = json_loadb(r->kvs[k].value, r->kvs[k].value_len, 0, NULL);
                if (d) json_array_append_new(dl, d);
            }
            json_object_set_new(ev, "deliveries", dl);
            l->slots[sl->i] = ev;
        }
    }
    if (l->got == l->n) list_end(l);
}

static void on_list_empty(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    list_end(arg);
}

int hd_outbox_list(hd_outbox_t *ob, const char *qname, int tenant_only, const char *tenant,
                   size_t limit, hd_outbox_list_cb cb, void *arg)
{
    list_t *l = hd_xcalloc(1, sizeof(*l));
    l->ob = ob;
    l->cb = cb;
    l->arg = arg;
    l->index = ob->topic.index;
    uint32_t th = hd_outbox_hash(hd_tenant_name(tenant)), ch = hd_outbox_hash(qname);
    uint64_t *seqs = hd_xcalloc(limit ? limit : 1, sizeof(*seqs));
    for (size_t i = ob->nev; i > 0 && l->n < limit; i--) {
        const evrec_t *e = &ob->ev[i - 1];
        if (tenant_only && e->tenant_hash != th) continue;
        if (qname && e->check_hash != ch) continue;
        seqs[l->n++] = e->seq;
    }
    l->slots = hd_xcalloc(l->n ? l->n : 1, sizeof(*l->slots));
    l->args = hd_xcalloc(l->n ? l->n : 1, sizeof(*l->args));
    size_t asked = l->n, failed = 0;
    for (size_t i = 0; i < asked; i++) {
        char key[HD_STORE_KEY_MAX];
        size_t klen = event_key(ob, seqs[i], key);
        l->args[i] = (slot_t){l, i};
        if (hd_store_range(ob->store, key, klen, 0, on_listed, &l->args[i]) < 0) failed++;
    }
    free(seqs);
    l->got += failed;
    if (failed == asked) {
        /* Nothing asked of the store: answered later, never from inside this call. */
        if (event_base_once(ob->base, -1, EV_TIMEOUT, on_list_empty, l, NULL) < 0) {
            free(l->slots);
            free(l->args);
            free(l);
            return -1;
        }
    }
    return 0;
}
