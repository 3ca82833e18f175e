/* kv — the KV cache fed by the store's watch, its topics, and its writes
 * (see kv.h).
 *
 * A stored value is a header line, then the client's bytes:
 *     "1 <flags> <lock_index> <session or ->\n<value>"
 * (the leading 1 is the layout's version). The cache keys entries by
 * "tenant/key" in an ordered map, so a tenant's prefix is one seek and a
 * walk. */
#include "agent/kv.h"
#include "agent/tenant.h"
#include "util/buf.h"
#include "util/map.h"
#include "util/mem.h"
#include "util/omap.h"
#include "util/time.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUAL_MAX      HD_STORE_KEY_MAX /* "tenant/key" fits in a store key */
#define WRITE_TRIES   64               /* compare-and-set attempts of one write */
#define REAP_EVERY_US (60 * 1000000LL)

/* A topic made on demand, in key_topics or prefix_topics by its name. */
typedef struct ktopic_s {
    hd_topic_t t;
    hd_kv_t *kv;
    int prefix;
    size_t len;
    char name[]; /* "tenant/key" or "tenant/prefix" */
} ktopic_t;

/* One operation of a write, copied. */
typedef struct wop_s {
    hd_kv_verb_t verb;
    char *qual; /* "tenant/key" */
    size_t qual_len;
    char *value;
    size_t value_len;
    uint64_t flags, index;
    char session[HD_KV_SESSION_MAX + 1];
} wop_t;

/* A write (one PUT or DELETE, or a /v1/txn) waiting for the store, or for
 * the cache to reach its revision. */
typedef struct write_s {
    hd_kv_t *kv;
    char tenant[HD_TENANT_MAX + 1];
    wop_t *ops;
    size_t n;
    int txn;  /* failures are listed (a /v1/txn), not answered false */
    int took; /* it holds its keys in kv->busy */
    hd_kv_done_fn cb;
    hd_kv_txn_fn tcb;
    void *arg;
    int tries;
    int status, ok, conflict;
    int64_t rev;
    hd_kv_txn_err_t *errs;
    size_t nerr;
    struct write_s *next; /* in kv->pending, or in its key's queue */
} write_t;

/* A key taken by the write in flight that writes it, and the writes
 * (PUTs, DELETEs, transactions) waiting for it, in order: one at a time,
 * each planned on the cache its predecessor left, so that writers of a
 * hot key queue instead of failing each other's compares. A write takes
 * all its keys at once or none (it waits on the first one taken), so no
 * two writes wait for each other. */
typedef struct kq_s {
    int owned;
    write_t *head, *tail;
} kq_t;

struct hd_kv_s {
    struct event_base *base;
    hd_store_t *store;
    hd_store_watch_t *watch;
    hd_omap_t keys;         /* "tenant/key" -> hd_kv_entry_t (tombstones too) */
    hd_map_t key_topics;    /* "tenant/key" -> ktopic_t */
    hd_map_t prefix_topics; /* "tenant/prefix" -> ktopic_t */
    uint32_t *prefix_lens;  /* [n]: prefix topics of n bytes */
    size_t nprefix;
    int64_t applied; /* the highest revision in the cache */
    int64_t floor;   /* the index of what the cache has nothing of */
    hd_kv_entry_t *tomb_head, *tomb_tail;
    struct event *reaper;
    write_t *pending; /* writes answered by the store, ahead of the cache */
    hd_map_t busy;    /* "tenant/key" -> kq_t: taken by a write, or waited for */
    int status;       /* 1 loading, 0 loaded, < 0 failed */
    hd_kv_session_fn session_fn;
    void *session_arg;
};

/* ---- values --------------------------------------------------------------- */

/* Reads a stored value into e (value copied). Returns 0, or -1 for a value
 * that is not in the layout (kept, shown as a plain value). */
static int decode(hd_kv_entry_t *e, const char *v, size_t len)
{
    const char *nl = memchr(v, '\n', len);
    e->flags = 0;
    e->lock_index = 0;
    e->session[0] = '\0';
    const char *body = v;
    size_t blen = len;
    int rc = -1;
    if (nl && len > 2 && v[0] == '1' && v[1] == ' ' && nl - v < 128) {
        char line[128], sess[64];
        memcpy(line, v, (size_t)(nl - v));
        line[nl - v] = '\0';
        uint64_t f, l;
        if (sscanf(line, "1 %" SCNu64 " %" SCNu64 " %63s", &f, &l, sess) == 3 &&
            strlen(sess) <= HD_KV_SESSION_MAX) {
            e->flags = f;
            e->lock_index = l;
            if (strcmp(sess, "-") != 0) memcpy(e->session, sess, strlen(sess) + 1);
            body = nl + 1;
            blen = len - (size_t)(nl + 1 - v);
            rc = 0;
        }
    }
    free(e->value);
    e->value = hd_xmalloc(blen + 1);
    if (blen) memcpy(e->value, body, blen);
    e->value[blen] = '\0';
    e->value_len = blen;
    return rc;
}

static void encode(hd_buf_t *b, uint64_t flags, uint64_t lock_index, const char *session,
                   const char *value, size_t len)
{
    hd_buf_printf(b, "1 %" PRIu64 " %" PRIu64 " %s\n", flags, lock_index,
                  session && *session ? session : "-");
    if (len) hd_buf_append(b, value, len);
}

/* "tenant/key" into out (QUAL_MAX + 1 bytes); its length, or -1. */
static int qualify(char *out, const char *tenant, const char *key, size_t len)
{
    const char *t = hd_tenant_name(tenant);
    size_t tl = strlen(t);
    if (sizeof(HD_KV_PREFIX) - 1 + tl + 1 + len > QUAL_MAX) return -1;
    memcpy(out, t, tl);
    out[tl] = '/';
    if (len) memcpy(out + tl + 1, key, len);
    out[tl + 1 + len] = '\0';
    return (int)(tl + 1 + len);
}

/* ---- tombstones ------------------------------------------------------------ */

static void tomb_unlink(hd_kv_t *kv, hd_kv_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else if (kv->tomb_head == e)
        kv->tomb_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else if (kv->tomb_tail == e)
        kv->tomb_tail = e->prev;
    e->prev = e->next = NULL;
}

/* The reaper runs while there are tombstones (not a timer for nothing:
 * the agent's start-up loop runs until no event is pending). */
static void reap_later(hd_kv_t *kv)
{
    if (!kv->tomb_head || evtimer_pending(kv->reaper, NULL)) return;
    struct timeval tv = {REAP_EVERY_US / 1000000, 0};
    evtimer_add(kv->reaper, &tv);
}

static void tomb_push(hd_kv_t *kv, hd_kv_entry_t *e)
{
    e->prev = kv->tomb_tail;
    e->next = NULL;
    if (kv->tomb_tail)
        kv->tomb_tail->next = e;
    else
        kv->tomb_head = e;
    kv->tomb_tail = e;
    reap_later(kv);
}

static void entry_free(hd_kv_entry_t *e)
{
    if (!e) return;
    free(e->value);
    free(e);
}

/* Forgets deletions older than HD_KV_TOMBSTONE_US; the floor takes their
 * revisions, so no index goes back. */
static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_kv_t *kv = arg;
    int64_t now = hd_time_now_us();
    hd_omap_t *m = &kv->keys;
    while (kv->tomb_head && now - kv->tomb_head->dead_us >= HD_KV_TOMBSTONE_US) {
        hd_kv_entry_t *e = kv->tomb_head;
        tomb_unlink(kv, e);
        if (e->modify_index > kv->floor) kv->floor = e->modify_index;
        hd_omap_node_t *n = e->node;
        hd_omap_del(m, n->key, n->len); /* compares with the key, then frees it */
        entry_free(e);
    }
    reap_later(kv);
}

/* ---- topics ---------------------------------------------------------------- */

static void topic_idle(hd_topic_t *t, void *arg)
{
    (void)t;
    ktopic_t *k = arg;
    hd_kv_t *kv = k->kv;
    if (k->prefix) {
        hd_map_del(&kv->prefix_topics, k->name);
        kv->prefix_lens[k->len]--;
        kv->nprefix--;
    } else {
        hd_map_del(&kv->key_topics, k->name);
    }
    free(k);
}

static hd_topic_t *topic_get(hd_kv_t *kv, int prefix, const char *tenant, const char *key,
                             size_t len)
{
    char q[QUAL_MAX + 1];
    int ql = qualify(q, tenant, key, len);
    if (ql < 0) return NULL;
    hd_map_t *m = prefix ? &kv->prefix_topics : &kv->key_topics;
    ktopic_t *k = hd_map_get(m, q);
    if (k) return &k->t;
    k = hd_xcalloc(1, sizeof(*k) + (size_t)ql + 1);
    hd_topic_init(&k->t);
    k->kv = kv;
    k->prefix = prefix;
    k->len = (size_t)ql;
    memcpy(k->name, q, (size_t)ql + 1);
    hd_topic_on_idle(&k->t, topic_idle, k);
    /* The topic starts at the index a read would answer now. */
    if (prefix) {
        hd_kv_iter_t it;
        hd_kv_iter_init(&it, kv, tenant, key, len);
        while (hd_kv_iter_next(&it, NULL, NULL))
            ;
        k->t.index = it.index;
        kv->prefix_lens[ql]++;
        kv->nprefix++;
    } else {
        (void)hd_kv_get(kv, tenant, key, len, &k->t.index);
    }
    hd_map_put(m, k->name, k);
    return &k->t;
}

hd_topic_t *hd_kv_key_topic(hd_kv_t *kv, const char *tenant, const char *key, size_t len)
{
    return topic_get(kv, 0, tenant, key, len);
}

hd_topic_t *hd_kv_prefix_topic(hd_kv_t *kv, const char *tenant, const char *prefix, size_t len)
{
    return topic_get(kv, 1, tenant, prefix, len);
}

/* Wakes the watchers of qual ("tenant/key") and of its prefixes. */
static void bump(hd_kv_t *kv, const char *qual, size_t len, int64_t rev)
{
    ktopic_t *k = hd_map_get(&kv->key_topics, qual);
    if (k) hd_topic_bump(&k->t, rev);
    if (!kv->nprefix) return;
    /* A tenant's prefix topics are named "tenant/..." (at least the '/'). */
    const char *slash = memchr(qual, '/', len);
    if (!slash) return;
    char name[QUAL_MAX + 1];
    memcpy(name, qual, len);
    name[len] = '\0';
    for (size_t n = (size_t)(slash - qual) + 1; n <= len; n++) {
        if (!kv->prefix_lens[n]) continue;
        char c = name[n];
        name[n] = '\0';
        k = hd_map_get(&kv->prefix_topics, name);
        if (k) hd_topic_bump(&k->t, rev);
        name[n] = c;
    }
}

/* ---- the cache ------------------------------------------------------------- */

/* Applies one stored key, or one event, to the cache. */
static void apply(hd_kv_t *kv, const hd_store_kv_t *s, int deleted)
{
    size_t plen = sizeof(HD_KV_PREFIX) - 1;
    if (s->key_len <= plen || memcmp(s->key, HD_KV_PREFIX, plen) != 0) return;
    const char *q = s->key + plen;
    size_t ql = s->key_len - plen;
    hd_omap_node_t *n = hd_omap_find(&kv->keys, q, ql);
    hd_kv_entry_t *e = n ? n->val : NULL;
    if (deleted) {
        if (!e) {
            e = hd_xcalloc(1, sizeof(*e));
            e->node = hd_omap_put(&kv->keys, q, ql, e, NULL);
        } else if (e->dead) {
            tomb_unlink(kv, e);
        }
        free(e->value);
        e->value = NULL;
        e->value_len = 0;
        e->session[0] = '\0';
        e->dead = 1;
        e->modify_index = s->mod_revision;
        e->dead_us = hd_time_now_us();
        tomb_push(kv, e);
        return;
    }
    if (!e) {
        e = hd_xcalloc(1, sizeof(*e));
        e->node = hd_omap_put(&kv->keys, q, ql, e, NULL);
    } else if (e->dead) {
        tomb_unlink(kv, e);
        e->dead = 0;
    }
    e->create_index = s->create_revision;
    e->modify_index = s->mod_revision;
    (void)decode(e, s->value, s->value_len);
}

static void flush_pending(hd_kv_t *kv);
static void write_free(struct write_s *w);
static void on_watch(int status, const hd_store_event_t *ev, size_t n, void *arg);

/* Every topic's watchers, after a reload: the cache may have changed
 * anywhere. */
static void bump_all(hd_kv_t *kv, int64_t rev)
{
    for (int pass = 0; pass < 2; pass++) {
        hd_map_t *m = pass ? &kv->prefix_topics : &kv->key_topics;
        /* A bump may free its topic (idle): collect them first. */
        size_t pos = 0, cnt = 0;
        hd_map_slot_t *s;
        ktopic_t **all = hd_xcalloc(m->n + 1, sizeof(*all));
        while ((s = hd_map_next(m, &pos)))
            all[cnt++] = s->val;
        for (size_t i = 0; i < cnt; i++)
            if (hd_map_get(m, all[i]->name) == all[i]) hd_topic_bump(&all[i]->t, rev);
        free(all);
    }
}

static void on_load(int status, const hd_store_range_t *r, void *arg)
{
    hd_kv_t *kv = arg;
    if (status != 0) {
        kv->status = status;
        fprintf(stderr, "heed agent: reading KV: %s\n", hd_store_strerror(status));
        return;
    }
    int reload = kv->status == 0;
    if (reload) {
        /* After a watch error: the cache starts again from the store. */
        hd_omap_node_t *x = hd_omap_first(&kv->keys);
        while (x) {
            entry_free(x->val);
            x = hd_omap_next(x);
        }
        hd_omap_free(&kv->keys);
        hd_omap_init(&kv->keys);
        kv->tomb_head = kv->tomb_tail = NULL;
    }
    for (size_t i = 0; i < r->n; i++)
        apply(kv, &r->kvs[i], 0);
    kv->applied = r->revision;
    if (r->revision > kv->floor) kv->floor = r->revision;
    if (kv->floor < 1) kv->floor = 1;
    int rc = hd_store_watch(kv->store, HD_KV_PREFIX, sizeof(HD_KV_PREFIX) - 1, r->revision + 1,
                            on_watch, kv, &kv->watch);
    if (rc < 0) {
        kv->status = rc;
        fprintf(stderr, "heed agent: watching KV: %s\n", hd_store_strerror(rc));
        return;
    }
    kv->status = 0;
    if (reload) bump_all(kv, kv->applied);
    flush_pending(kv);
}

static void on_watch(int status, const hd_store_event_t *ev, size_t n, void *arg)
{
    hd_kv_t *kv = arg;
    if (status != 0) {
        /* A watch that ended (the disk failed, events compacted away): read
         * the whole prefix again and follow from there. */
        fprintf(stderr, "heed agent: the KV watch ended (%s); reloading\n",
                hd_store_strerror(status));
        hd_store_watch_cancel(kv->watch);
        kv->watch = NULL;
        if (status == HD_STORE_ECLOSED ||
            hd_store_range(kv->store, HD_KV_PREFIX, sizeof(HD_KV_PREFIX) - 1, 0, on_load, kv) < 0)
            kv->status = status;
        return;
    }
    for (size_t i = 0; i < n; i++)
        apply(kv, &ev[i].kv, ev[i].type == HD_STORE_EV_DELETE);
    if (n && ev[n - 1].kv.mod_revision > kv->applied) kv->applied = ev[n - 1].kv.mod_revision;
    /* Every change is in; now wake whoever reads what changed. */
    size_t plen = sizeof(HD_KV_PREFIX) - 1;
    for (size_t i = 0; i < n; i++)
        if (ev[i].kv.key_len > plen)
            bump(kv, ev[i].kv.key + plen, ev[i].kv.key_len - plen, ev[i].kv.mod_revision);
    flush_pending(kv);
}

int hd_kv_open(struct event_base *base, hd_store_t *store, hd_kv_t **out, char *err, size_t errlen)
{
    hd_kv_t *kv = hd_xcalloc(1, sizeof(*kv));
    kv->base = base;
    kv->store = store;
    kv->status = 1;
    kv->floor = 1;
    hd_omap_init(&kv->keys);
    hd_map_init(&kv->key_topics);
    hd_map_init(&kv->prefix_topics);
    hd_map_init(&kv->busy);
    kv->prefix_lens = hd_xcalloc(QUAL_MAX + 2, sizeof(*kv->prefix_lens));
    kv->reaper = evtimer_new(base, on_reap, kv);
    int rc = hd_store_range(store, HD_KV_PREFIX, sizeof(HD_KV_PREFIX) - 1, 0, on_load, kv);
    if (rc < 0 || !kv->reaper) {
        snprintf(err, errlen, "reading KV: %s", hd_store_strerror(rc < 0 ? rc : HD_STORE_EINVAL));
        hd_kv_free(kv);
        return -1;
    }
    *out = kv;
    return 0;
}

int hd_kv_status(const hd_kv_t *kv)
{
    return kv->status;
}

void hd_kv_on_session(hd_kv_t *kv, hd_kv_session_fn fn, void *arg)
{
    kv->session_fn = fn;
    kv->session_arg = arg;
}

int64_t hd_kv_revision(const hd_kv_t *kv)
{
    return kv->applied;
}

static void close_topics(hd_map_t *m)
{
    size_t pos = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(m, &pos))) {
        ktopic_t *k = s->val;
        hd_topic_close(&k->t);
        free(k);
    }
    hd_map_free(m);
}

void hd_kv_free(hd_kv_t *kv)
{
    if (!kv) return;
    if (kv->reaper) event_free(kv->reaper);
    close_topics(&kv->key_topics);
    close_topics(&kv->prefix_topics);
    for (hd_omap_node_t *x = hd_omap_first(&kv->keys); x; x = hd_omap_next(x))
        entry_free(x->val);
    hd_omap_free(&kv->keys);
    /* Writes the store answered at its close, which the watch (ended with
     * it) will never bring: their requests were freed with the server. */
    while (kv->pending) {
        write_t *w = kv->pending;
        kv->pending = w->next;
        write_free(w);
    }
    size_t pos = 0;
    hd_map_slot_t *slot;
    while ((slot = hd_map_next(&kv->busy, &pos))) {
        kq_t *q = slot->val;
        while (q->head) {
            write_t *w = q->head;
            q->head = w->next;
            write_free(w);
        }
        free(q);
    }
    hd_map_free(&kv->busy);
    free(kv->prefix_lens);
    free(kv);
}

/* ---- reads ----------------------------------------------------------------- */

const hd_kv_entry_t *hd_kv_get(const hd_kv_t *kv, const char *tenant, const char *key,
                               size_t key_len, int64_t *index)
{
    char q[QUAL_MAX + 1];
    int ql = qualify(q, tenant, key, key_len);
    hd_omap_node_t *n = ql < 0 ? NULL : hd_omap_find(&kv->keys, q, (size_t)ql);
    hd_kv_entry_t *e = n ? n->val : NULL;
    int64_t idx = e ? e->modify_index : 0;
    if (idx < kv->floor) idx = kv->floor;
    if (index) *index = idx;
    return e && !e->dead ? e : NULL;
}

void hd_kv_iter_init(hd_kv_iter_t *it, const hd_kv_t *kv, const char *tenant, const char *prefix,
                     size_t len)
{
    char *q = it->qual;
    it->kv = kv;
    it->node = NULL;
    it->qual_len = 0;
    it->skip = 0;
    it->index = kv->floor;
    int ql = qualify(q, tenant, prefix, len);
    if (ql < 0) {
        it->qual[0] = '\0';
        return;
    }
    it->qual_len = (size_t)ql;
    it->skip = strlen(hd_tenant_name(tenant)) + 1;
    it->node = hd_omap_seek(&kv->keys, q, (size_t)ql);
}

const hd_kv_entry_t *hd_kv_iter_next(hd_kv_iter_t *it, const char **key, size_t *key_len)
{
    const hd_omap_node_t *n = it->node;
    while (n && hd_omap_has_prefix(n, it->qual, it->qual_len)) {
        hd_kv_entry_t *e = n->val;
        const hd_omap_node_t *cur = n;
        n = hd_omap_next(n);
        if (e->modify_index > it->index) it->index = e->modify_index;
        if (e->dead) continue;
        it->node = n;
        if (key) *key = cur->key + it->skip;
        if (key_len) *key_len = cur->len - it->skip;
        return e;
    }
    it->node = NULL;
    return NULL;
}

void hd_kv_iter_skip_past(hd_kv_iter_t *it, const char *key, size_t len)
{
    /* Every key that starts with key[0..len) sorts before key + "\xff...":
     * walk them for the index (their revisions count), not for output. */
    const hd_omap_node_t *n = it->node;
    while (n && hd_omap_has_prefix(n, it->qual, it->qual_len) && n->len >= it->skip + len &&
           memcmp(n->key + it->skip, key, len) == 0) {
        hd_kv_entry_t *e = n->val;
        if (e->modify_index > it->index) it->index = e->modify_index;
        n = hd_omap_next(n);
    }
    it->node = n;
}

/* ---- writes ---------------------------------------------------------------- */

/* A store transaction being planned, and the memory its keys and values
 * live in. */
typedef struct plan_s {
    hd_store_cmp_t cmps[HD_STORE_TXN_OPS_MAX];
    size_t ncmp;
    hd_store_op_t ops[HD_STORE_TXN_OPS_MAX];
    size_t nops;
    char *owned[2 * HD_STORE_TXN_OPS_MAX];
    size_t nowned;
    /* What the transaction's earlier operations made of their keys: a
     * later operation sees it, as Consul applies them in order. */
    struct {
        const char *qual; /* the operation's "tenant/key" */
        size_t len;
        hd_kv_entry_t e; /* Session, LockIndex, Flags; ModifyIndex -1: this one's */
        int exists;
        int op; /* its store operation in ops[], or -1 */
    } ov[HD_KV_TXN_OPS_MAX];
    size_t nov;
    struct {
        const char *qual;
        size_t len;
        int op;
    } trees[HD_KV_TXN_OPS_MAX]; /* prefixes a delete-tree of this transaction emptied */
    size_t ntrees;
    int from_ov; /* the operation being planned reads the overlay: no compare */
} plan_t;

static int ov_find(const plan_t *p, const char *qual, size_t len)
{
    for (size_t i = 0; i < p->nov; i++)
        if (p->ov[i].len == len && !memcmp(p->ov[i].qual, qual, len)) return (int)i;
    return -1;
}

/* The delete-tree of this transaction whose prefix covers qual, or -1. */
static int under_tree(const plan_t *p, const char *qual, size_t len)
{
    for (size_t i = 0; i < p->ntrees; i++)
        if (p->trees[i].len <= len && !memcmp(p->trees[i].qual, qual, p->trees[i].len))
            return (int)i;
    return -1;
}

/* Sets the store operation of o's key (replacing an earlier one of this
 * transaction: the store takes one write per key) and what it leaves. */
static void plan_write(plan_t *p, const wop_t *o, hd_store_op_t op, int exists,
                       const hd_kv_entry_t *before, uint64_t lock_index, const char *session)
{
    int i = ov_find(p, o->qual, o->qual_len);
    if (i < 0) {
        i = (int)p->nov++;
        memset(&p->ov[i], 0, sizeof(p->ov[i]));
        p->ov[i].qual = o->qual;
        p->ov[i].len = o->qual_len;
        p->ov[i].op = -1;
        p->ov[i].e.create_index = before ? before->create_index : -1;
    }
    if (p->ov[i].op >= 0) {
        p->ops[p->ov[i].op] = op;
    } else {
        p->ov[i].op = (int)p->nops;
        p->ops[p->nops++] = op;
    }
    p->ov[i].exists = exists;
    p->ov[i].e.modify_index = -1;
    p->ov[i].e.lock_index = lock_index;
    p->ov[i].e.flags = o->flags;
    snprintf(p->ov[i].e.session, sizeof(p->ov[i].e.session), "%s", session ? session : "");
}

static void plan_free(plan_t *p)
{
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p);
}

/* The store key of a qualified key, kept by the plan. */
static const char *plan_key(plan_t *p, const char *qual, size_t len, size_t *klen)
{
    size_t plen = sizeof(HD_KV_PREFIX) - 1;
    char *k = hd_xmalloc(plen + len + 1);
    memcpy(k, HD_KV_PREFIX, plen);
    memcpy(k + plen, qual, len);
    k[plen + len] = '\0';
    p->owned[p->nowned++] = k;
    *klen = plen + len;
    return k;
}

static int plan_cmp(plan_t *p, const char *key, size_t klen, const hd_kv_entry_t *e)
{
    if (p->from_ov) return 0; /* the transaction itself made it so */
    if (p->ncmp == HD_STORE_TXN_OPS_MAX) return -1;
    p->cmps[p->ncmp++] = e ? (hd_store_cmp_t){key, klen, HD_STORE_CMP_MOD_REVISION, e->modify_index}
                           : (hd_store_cmp_t){key, klen, HD_STORE_CMP_ABSENT, 0};
    return 0;
}

static void plan_put(plan_t *p, const char *key, size_t klen, const wop_t *o,
                     const hd_kv_entry_t *before, uint64_t lock_index, const char *session)
{
    hd_buf_t b = {0};
    encode(&b, o->flags, lock_index, session, o->value, o->value_len);
    if (!b.data) hd_buf_append(&b, "", 0);
    p->owned[p->nowned++] = b.data;
    plan_write(p, o, (hd_store_op_t){HD_STORE_OP_PUT, key, klen, b.data, b.len, 0}, 1, before,
               lock_index, session);
}

static void plan_del(plan_t *p, const char *key, size_t klen, const wop_t *o,
                     const hd_kv_entry_t *before)
{
    plan_write(p, o, (hd_store_op_t){HD_STORE_OP_DELETE, key, klen, NULL, 0, 0}, 0, before, 0, "");
}

/* A delete-tree: the transaction's earlier writes under the prefix give
 * way to it (the store takes no put or delete under a deleted prefix). */
static void plan_tree(plan_t *p, const char *key, size_t klen, const wop_t *o)
{
    if (under_tree(p, o->qual, o->qual_len) >= 0) return; /* emptied already */
    for (size_t i = 0; i < p->nov; i++) {
        if (p->ov[i].len < o->qual_len || memcmp(p->ov[i].qual, o->qual, o->qual_len)) continue;
        if (p->ov[i].op >= 0) p->ops[p->ov[i].op].key = NULL; /* dropped */
        p->ov[i].op = -1;
        p->ov[i].exists = 0;
    }
    for (size_t i = 0; i < p->ntrees; i++) {
        if (p->trees[i].len < o->qual_len || memcmp(p->trees[i].qual, o->qual, o->qual_len))
            continue;
        if (p->trees[i].op >= 0) p->ops[p->trees[i].op].key = NULL; /* a narrower one */
        p->trees[i].op = -1;
    }
    p->trees[p->ntrees].qual = o->qual;
    p->trees[p->ntrees].len = o->qual_len;
    p->trees[p->ntrees++].op = (int)p->nops;
    p->ops[p->nops++] = (hd_store_op_t){HD_STORE_OP_DELETE_PREFIX, key, klen, NULL, 0, 0};
}

enum { PLAN_OK = 0, PLAN_FAIL = -1, PLAN_NOSESSION = -2 };

/* Plans o against the cache into p. Returns PLAN_OK, or PLAN_FAIL or
 * PLAN_NOSESSION with Consul's words for it in msg. */
static int plan_op(hd_kv_t *kv, const char *tenant, const wop_t *o, plan_t *p, char *msg,
                   size_t msglen)
{
    hd_kv_entry_t *e = NULL;
    int ov = ov_find(p, o->qual, o->qual_len);
    int tree = ov < 0 ? under_tree(p, o->qual, o->qual_len) : -1;
    p->from_ov = ov >= 0 || tree >= 0;
    if (ov >= 0) {
        e = p->ov[ov].exists ? &p->ov[ov].e : NULL;
    } else if (tree < 0) {
        hd_omap_node_t *n = hd_omap_find(&kv->keys, o->qual, o->qual_len);
        e = n ? n->val : NULL;
        if (e && e->dead) e = NULL;
    }
    const char *name = o->qual + strlen(tenant) + 1; /* the key without its tenant */
    int nl = (int)(o->qual_len - strlen(tenant) - 1);
    size_t klen;
    const char *key = plan_key(p, o->qual, o->qual_len, &klen);
    if (p->nops == HD_STORE_TXN_OPS_MAX || p->ncmp + 2 > HD_STORE_TXN_OPS_MAX) {
        snprintf(msg, msglen, "too many operations");
        return PLAN_FAIL;
    }
    if (tree >= 0 && o->verb <= HD_KV_UNLOCK) {
        /* The store takes no write under a prefix deleted in the same
         * transaction. */
        snprintf(msg, msglen,
                 "key \"%.*s\" is under a delete-tree earlier in this transaction: write it "
                 "in another one",
                 (int)(o->qual_len - strlen(tenant) - 1), o->qual + strlen(tenant) + 1);
        return PLAN_FAIL;
    }
    switch (o->verb) {
    case HD_KV_SET:
        plan_cmp(p, key, klen, e);
        plan_put(p, key, klen, o, e, e ? e->lock_index : 0, e ? e->session : "");
        return PLAN_OK;
    case HD_KV_CAS:
        if (o->index == 0 ? e != NULL : (!e || (uint64_t)e->modify_index != o->index)) {
            snprintf(msg, msglen, "failed to set key \"%.*s\", index is stale", nl, name);
            return PLAN_FAIL;
        }
        plan_cmp(p, key, klen, e);
        plan_put(p, key, klen, o, e, e ? e->lock_index : 0, e ? e->session : "");
        return PLAN_OK;
    case HD_KV_LOCK: {
        char skey[HD_STORE_KEY_MAX + 1];
        int64_t srev = 0;
        int delayed = 0;
        if (!kv->session_fn || kv->session_fn(kv->session_arg, tenant, o->session, name, (size_t)nl,
                                              skey, sizeof(skey), &srev, &delayed) < 0) {
            snprintf(msg, msglen, "invalid session \"%s\"", o->session);
            return PLAN_NOSESSION;
        }
        int mine = e && !strcmp(e->session, o->session);
        if (delayed || (e && e->session[0] && !mine)) {
            snprintf(msg, msglen, "failed to lock key \"%.*s\", lock is already held", nl, name);
            return PLAN_FAIL;
        }
        plan_cmp(p, key, klen, e);
        /* The session must still be there when the lock is written. */
        char *sk = hd_xstrdup(skey);
        p->owned[p->nowned++] = sk;
        p->cmps[p->ncmp++] = (hd_store_cmp_t){sk, strlen(sk), HD_STORE_CMP_MOD_REVISION, srev};
        plan_put(p, key, klen, o, e, (e ? e->lock_index : 0) + (mine ? 0 : 1), o->session);
        return PLAN_OK;
    }
    case HD_KV_UNLOCK:
        if (!e || strcmp(e->session, o->session) != 0) {
            snprintf(msg, msglen,
                     "failed to unlock key \"%.*s\", lock isn't held, or is held by another "
                     "session",
                     nl, name);
            return PLAN_FAIL;
        }
        plan_cmp(p, key, klen, e);
        plan_put(p, key, klen, o, e, e->lock_index, "");
        return PLAN_OK;
    case HD_KV_DELETE:
        if (p->from_ov && !e) return PLAN_OK; /* absent by this transaction already */
        plan_del(p, key, klen, o, e);
        return PLAN_OK;
    case HD_KV_DELETE_CAS:
        if (!e) return PLAN_OK; /* already gone: true, as Consul */
        if ((uint64_t)e->modify_index != o->index) {
            snprintf(msg, msglen, "failed to delete key \"%.*s\", index is stale", nl, name);
            return PLAN_FAIL;
        }
        plan_cmp(p, key, klen, e);
        plan_del(p, key, klen, o, e);
        return PLAN_OK;
    case HD_KV_DELETE_TREE:
        plan_tree(p, key, klen, o);
        return PLAN_OK;
    case HD_KV_GET:
    case HD_KV_CHECK_INDEX:
    case HD_KV_CHECK_SESSION:
        if (!e) {
            snprintf(msg, msglen, "key \"%.*s\" doesn't exist", nl, name);
            return PLAN_FAIL;
        }
        if (o->verb == HD_KV_CHECK_INDEX && (uint64_t)e->modify_index != o->index) {
            snprintf(msg, msglen, "current modify index %lld != %llu", (long long)e->modify_index,
                     (unsigned long long)o->index);
            return PLAN_FAIL;
        }
        if (o->verb == HD_KV_CHECK_SESSION && strcmp(e->session, o->session) != 0) {
            snprintf(msg, msglen, "key \"%.*s\" is not locked by session \"%s\"", nl, name,
                     o->session);
            return PLAN_FAIL;
        }
        plan_cmp(p, key, klen, e);
        return PLAN_OK;
    case HD_KV_CHECK_NOT_EXISTS:
        if (e) {
            snprintf(msg, msglen, "key \"%.*s\" exists", nl, name);
            return PLAN_FAIL;
        }
        plan_cmp(p, key, klen, NULL);
        return PLAN_OK;
    case HD_KV_GET_OR_EMPTY:
        plan_cmp(p, key, klen, e);
        return PLAN_OK;
    case HD_KV_GET_TREE:
        return PLAN_OK; /* read from the cache; the store has no prefix compare */
    }
    snprintf(msg, msglen, "unknown KV verb");
    return PLAN_FAIL;
}

static void write_free(write_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->ops[i].qual);
        free(w->ops[i].value);
    }
    free(w->ops);
    free(w->errs);
    free(w);
}

static void write_step(write_t *w);

/* 1 when op i's key is an earlier op's too. */
static int seen_key(const write_t *w, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (w->ops[j].qual_len == w->ops[i].qual_len &&
            !memcmp(w->ops[j].qual, w->ops[i].qual, w->ops[i].qual_len))
            return 1;
    return 0;
}

static void enqueue(kq_t *q, write_t *w)
{
    w->next = NULL;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

/* Takes every key of w and returns 1, or queues w behind the first key
 * another write holds and returns 0. */
static int take_keys(hd_kv_t *kv, write_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        kq_t *q = hd_map_get(&kv->busy, w->ops[i].qual);
        if (q && q->owned) {
            enqueue(q, w);
            return 0;
        }
    }
    for (size_t i = 0; i < w->n; i++) {
        kq_t *q = hd_map_get(&kv->busy, w->ops[i].qual);
        if (!q) {
            q = hd_xcalloc(1, sizeof(*q));
            hd_map_put(&kv->busy, w->ops[i].qual, q);
        }
        q->owned = 1;
    }
    w->took = 1;
    return 1;
}

/* w is done: its keys go to the writes waiting for them, in order. */
static void release_keys(hd_kv_t *kv, write_t *w)
{
    if (!w->took) return;
    w->took = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (seen_key(w, i)) continue;
        const char *key = w->ops[i].qual;
        kq_t *q = hd_map_get(&kv->busy, key);
        if (!q) continue;
        q->owned = 0;
        while (!q->owned && q->head) {
            write_t *n = q->head;
            q->head = n->next;
            if (!q->head) q->tail = NULL;
            n->next = NULL;
            /* It takes this key and its others, or waits on another one. */
            if (take_keys(kv, n)) write_step(n);
        }
        if (!q->owned && !q->head) {
            hd_map_del(&kv->busy, key);
            free(q);
        }
    }
}

/* Starts w now, or once the writes ahead of it on its keys are done.
 * Reads-only transactions take no key. */
static void write_start(hd_kv_t *kv, write_t *w)
{
    int writes = 0;
    for (size_t i = 0; i < w->n; i++)
        writes |= w->ops[i].verb <= HD_KV_DELETE_TREE;
    if (!writes || take_keys(kv, w)) write_step(w);
}

static void write_finish(write_t *w)
{
    if (w->conflict && w->status == 0) {
        /* Another write came first; the cache has it now: plan again. */
        w->conflict = 0;
        if (++w->tries < WRITE_TRIES) {
            write_step(w);
            return;
        }
        w->status = HD_KV_EBUSY;
    }
    release_keys(w->kv, w);
    if (w->txn)
        w->tcb(w->status, w->errs, w->nerr, w->rev, w->arg);
    else
        w->cb(w->status, w->ok, w->rev, w->arg);
    write_free(w);
}

/* Answers the writes whose revision the cache has reached. */
static void flush_pending(hd_kv_t *kv)
{
    write_t *ready = NULL, **tail = &ready;
    for (write_t **p = &kv->pending; *p;) {
        write_t *w = *p;
        if (w->rev <= kv->applied || kv->status < 0) {
            *p = w->next;
            w->next = NULL;
            *tail = w;
            tail = &w->next;
        } else {
            p = &w->next;
        }
    }
    while (ready) {
        write_t *w = ready;
        ready = w->next;
        write_finish(w);
    }
}

static void on_written(int status, const hd_store_write_result_t *r, void *arg)
{
    write_t *w = arg;
    hd_kv_t *kv = w->kv;
    w->status = status == HD_STORE_ECONFLICT ? 0 : status;
    w->conflict = status == HD_STORE_ECONFLICT;
    w->ok = status == 0;
    w->rev = r ? r->revision : kv->applied;
    /* A write that changed keys is answered once the watch brought its
     * revision into the cache: a read after the answer must see it. A
     * conflict, a failure or a delete of nothing changed nothing here
     * (the store hands every commit to caught-up watches before it
     * answers writes, so the cache already has what came first). */
    int puts = 0;
    for (size_t i = 0; i < w->n; i++)
        puts |= w->ops[i].verb <= HD_KV_UNLOCK;
    int changed = status == 0 && (puts || (r && r->deleted > 0));
    if (!changed || w->rev <= kv->applied) {
        if (w->rev > kv->applied && !changed) w->rev = kv->applied;
        write_finish(w);
        return;
    }
    w->next = kv->pending;
    kv->pending = w;
}

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    write_finish(arg);
}

/* Settles w without a write: answered with ok (or w->status) at the
 * cache's revision, later, as the store's contract has it: never from
 * inside hd_kv_apply. */
static void write_answer(write_t *w, int ok)
{
    w->ok = ok;
    w->rev = w->kv->applied;
    struct timeval now = {0, 0};
    if (event_base_once(w->kv->base, -1, EV_TIMEOUT, on_deferred, w, &now) < 0) {
        fprintf(stderr, "heed: out of memory (a KV answer)\n");
        abort();
    }
}

/* Plans w against the cache and sends the transaction. */
static void write_step(write_t *w)
{
    hd_kv_t *kv = w->kv;
    plan_t *p = hd_xcalloc(1, sizeof(*p));
    char msg[600];
    w->nerr = 0;
    for (size_t i = 0; i < w->n; i++) {
        int rc = plan_op(kv, w->tenant, &w->ops[i], p, msg, sizeof(msg));
        if (rc == PLAN_OK) continue;
        if (!w->txn) {
            plan_free(p);
            if (rc == PLAN_NOSESSION) w->status = HD_KV_ENOSESSION;
            write_answer(w, 0);
            return;
        }
        if (!w->errs) w->errs = hd_xcalloc(w->n, sizeof(*w->errs));
        w->errs[w->nerr].op = i;
        snprintf(w->errs[w->nerr].what, sizeof(w->errs[w->nerr].what), "%s", msg);
        w->nerr++;
    }
    if (w->nerr || p->nops == 0) {
        /* Rolled back, or nothing to write (reads, checks, a delete-cas of
         * a missing key): answered from the cache. */
        plan_free(p);
        write_answer(w, 1);
        return;
    }
    size_t n = 0; /* operations a later one in the transaction dropped go */
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].key) p->ops[n++] = p->ops[i];
    int rc = hd_store_txn(kv->store, p->cmps, p->ncmp, p->ops, n, on_written, w);
    plan_free(p);
    if (rc < 0) {
        w->status = rc;
        write_answer(w, 0);
    }
}

static write_t *write_new(hd_kv_t *kv, const char *tenant, const hd_kv_op_t *ops, size_t n)
{
    write_t *w = hd_xcalloc(1, sizeof(*w));
    w->kv = kv;
    snprintf(w->tenant, sizeof(w->tenant), "%s", hd_tenant_name(tenant));
    w->ops = hd_xcalloc(n, sizeof(*w->ops));
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        const hd_kv_op_t *op = &ops[i];
        wop_t *o = &w->ops[i];
        char q[QUAL_MAX + 1];
        int ql = qualify(q, tenant, op->key, op->key_len);
        o->verb = op->verb;
        o->qual = hd_xmalloc((size_t)ql + 1);
        memcpy(o->qual, q, (size_t)ql + 1);
        o->qual_len = (size_t)ql;
        o->value = hd_xmalloc(op->value_len + 1);
        if (op->value_len) memcpy(o->value, op->value, op->value_len);
        o->value_len = op->value_len;
        o->flags = op->flags;
        o->index = op->cas;
        if (op->session) snprintf(o->session, sizeof(o->session), "%s", op->session);
    }
    return w;
}

/* The checks every operation passes before anything is planned. */
static int op_valid(const hd_kv_op_t *op, const char *tenant)
{
    char q[QUAL_MAX + 1];
    if (qualify(q, tenant, op->key, op->key_len) < 0) return HD_STORE_EKEY;
    if (op->value_len > HD_KV_VALUE_MAX) return HD_STORE_ETOOBIG;
    if ((op->verb == HD_KV_LOCK || op->verb == HD_KV_UNLOCK || op->verb == HD_KV_CHECK_SESSION) &&
        (!op->session || strlen(op->session) > HD_KV_SESSION_MAX))
        return HD_STORE_EINVAL;
    if (op->verb < HD_KV_SET || op->verb > HD_KV_CHECK_NOT_EXISTS) return HD_STORE_EINVAL;
    return 0;
}

int hd_kv_apply(hd_kv_t *kv, const hd_kv_op_t *op, hd_kv_done_fn cb, void *arg)
{
    int rc = op_valid(op, op->tenant);
    if (rc < 0) return rc;
    write_t *w = write_new(kv, op->tenant, op, 1);
    w->cb = cb;
    w->arg = arg;
    write_start(kv, w);
    return 0;
}

int hd_kv_txn(hd_kv_t *kv, const char *tenant, const hd_kv_op_t *ops, size_t n, hd_kv_txn_fn cb,
              void *arg)
{
    if (n > HD_KV_TXN_OPS_MAX) return HD_STORE_ETOOMANY;
    for (size_t i = 0; i < n; i++) {
        int rc = op_valid(&ops[i], tenant);
        if (rc < 0) return rc;
    }
    write_t *w = write_new(kv, tenant, ops, n);
    w->txn = 1;
    w->tcb = cb;
    w->arg = arg;
    write_start(kv, w);
    return 0;
}

/* ---- a session's keys -------------------------------------------------------- */

size_t hd_kv_held(hd_kv_t *kv, const char *tenant, const char *session, int delete_keys, size_t max,
                  hd_kv_batch_t *b)
{
    hd_buf_reset(&b->mem);
    b->n = 0;
    b->more = 0;
    if (max > HD_STORE_TXN_OPS_MAX) max = HD_STORE_TXN_OPS_MAX;
    /* Offsets first: the buffer moves as it grows; pointers at the end. */
    size_t koff[HD_STORE_TXN_OPS_MAX], klen[HD_STORE_TXN_OPS_MAX];
    size_t voff[HD_STORE_TXN_OPS_MAX], vlen[HD_STORE_TXN_OPS_MAX];
    char q[QUAL_MAX + 1];
    int ql = qualify(q, tenant, "", 0);
    for (hd_omap_node_t *n = hd_omap_seek(&kv->keys, q, (size_t)ql);
         n && hd_omap_has_prefix(n, q, (size_t)ql); n = hd_omap_next(n)) {
        hd_kv_entry_t *e = n->val;
        if (e->dead || strcmp(e->session, session) != 0) continue;
        if (b->n == max) {
            b->more = 1;
            break;
        }
        size_t i = b->n++;
        koff[i] = b->mem.len;
        hd_buf_puts(&b->mem, HD_KV_PREFIX);
        hd_buf_append(&b->mem, n->key, n->len);
        klen[i] = b->mem.len - koff[i];
        hd_buf_append(&b->mem, "", 1);
        voff[i] = b->mem.len;
        if (!delete_keys) encode(&b->mem, e->flags, e->lock_index, "", e->value, e->value_len);
        vlen[i] = b->mem.len - voff[i];
        b->cmps[i].target = HD_STORE_CMP_MOD_REVISION;
        b->cmps[i].value = e->modify_index;
        b->ops[i] = (hd_store_op_t){
            delete_keys ? HD_STORE_OP_DELETE : HD_STORE_OP_PUT, NULL, 0, NULL, 0, 0};
    }
    for (size_t i = 0; i < b->n; i++) {
        b->cmps[i].key = b->ops[i].key = b->mem.data + koff[i];
        b->cmps[i].key_len = b->ops[i].key_len = klen[i];
        if (!delete_keys) {
            b->ops[i].value = b->mem.data + voff[i];
            b->ops[i].value_len = vlen[i];
        }
    }
    return b->n;
}

void hd_kv_batch_free(hd_kv_batch_t *b)
{
    hd_buf_free(&b->mem);
    b->n = 0;
}
