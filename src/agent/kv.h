/* kv — Consul's key/value store on heed's store: the keys live under
 * heed/kv/<tenant>/<key>, and readers are served from a cache in memory
 * that the store's watch feeds (never a store read per request), so that
 * the same code serves a cluster on etcd where other agents write too.
 *
 * The cache holds every key of every tenant in key order (util/omap.h),
 * with what Consul shows of it: CreateIndex and ModifyIndex (the store's
 * create and mod revisions), LockIndex, Flags, Session and the value.
 * Flags, LockIndex and Session travel in the stored value, ahead of the
 * user's bytes (see kv.c), so that one store write changes them all.
 *
 * Indexes (Consul's X-Consul-Index): a key's is its ModifyIndex, also
 * after its deletion (a tombstone keeps it for HD_KV_TOMBSTONE_US); a
 * prefix's is the highest of its keys' and tombstones'. A key or prefix
 * with nothing in the cache answers the floor: the store's revision when
 * the cache was loaded, raised to each reaped tombstone's, so an index
 * never goes back for the same query and is never 0.
 *
 * Topics (util/topic.h): one per watched key and one per watched prefix,
 * made on demand and freed when their last waiter leaves. Applying a
 * change bumps the key's topic and the topics of the prefixes of that key,
 * and no other: a blocking query on key A is not woken by key B.
 *
 * Writes go to the store as compare-and-set transactions against what the
 * cache holds (retried when another write came first), and are answered
 * once durable and applied to the cache: a read after the answer sees the
 * write. Loop thread only. */
#ifndef HD_KV_H
#define HD_KV_H

#include "store/store.h"
#include "util/buf.h"
#include "util/topic.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;

#define HD_KV_PREFIX       "heed/kv/"            /* + tenant/key */
#define HD_KV_VALUE_MAX    (512 * 1024)          /* bytes in a value, Consul's kv_max_value_size */
#define HD_KV_SESSION_MAX  36                    /* bytes in a session id (a UUID) */
#define HD_KV_TOMBSTONE_US (15 * 60 * 1000000LL) /* how long a deletion's index is kept */
/* Bytes a key may have in tenant t (the store key's room less heed/kv/T/). */
#define HD_KV_KEY_MAX(tlen) (HD_STORE_KEY_MAX - sizeof(HD_KV_PREFIX) - (tlen))

typedef struct hd_kv_s hd_kv_t;

/* One key as the cache holds it; valid until the next change is applied
 * (copy what you keep past a callback). */
typedef struct hd_kv_entry_s {
    int64_t create_index;                /* the revision that created the key */
    int64_t modify_index;                /* the revision of its last change (or its deletion) */
    uint64_t lock_index;                 /* times a session acquired it */
    uint64_t flags;                      /* the client's opaque number */
    char session[HD_KV_SESSION_MAX + 1]; /* the holder of its lock, "" for none */
    char *value;                         /* the client's bytes (NUL after them) */
    size_t value_len;
    int dead;                          /* a tombstone: deleted at modify_index */
    int64_t dead_us;                   /* when (monotonic), for reaping */
    struct hd_kv_entry_s *prev, *next; /* tombstones, oldest first */
    void *node;                        /* the cache's map node */
} hd_kv_entry_t;

/* Asked by ?acquire (agent/session.c answers it): whether session id of
 * tenant exists, and if so the store key and mod revision of its record
 * (the lock's transaction compares it, so a session ended meanwhile
 * fails the acquire) and its lock-delay state for key. Returns 0 when the
 * session exists, -1 when not. *delayed is 1 while key is in a lock-delay. */
typedef int (*hd_kv_session_fn)(void *arg, const char *tenant, const char *id, const char *key,
                                size_t key_len, char *skey, size_t skey_len, int64_t *srev,
                                int *delayed);

/* Loads the cache from store (the loop must run for it to complete: the
 * agent dispatches it before it serves) and follows the store's watch.
 * Returns 0 and the cache in *out, or -1 with a message in err. */
int hd_kv_open(struct event_base *base, hd_store_t *store, hd_kv_t **out, char *err, size_t errlen);
/* 0 once loaded, the store's error if the load failed, 1 while loading. */
int hd_kv_status(const hd_kv_t *kv);
/* Sets the session registry ?acquire asks (NULL: every acquire fails). */
void hd_kv_on_session(hd_kv_t *kv, hd_kv_session_fn fn, void *arg);
/* Frees the cache, after hd_store_close (which ended its watch) and after
 * the API server (whose held requests wait on its topics). */
void hd_kv_free(hd_kv_t *kv);

/* The live key of tenant (NULL: none), and in *index the index of a read
 * of it (never 0). */
const hd_kv_entry_t *hd_kv_get(const hd_kv_t *kv, const char *tenant, const char *key,
                               size_t key_len, int64_t *index);

/* A walk over the keys of a tenant under a prefix, in key order. */
typedef struct hd_kv_iter_s {
    const hd_kv_t *kv;
    const void *node;                /* the next node to look at */
    size_t skip;                     /* bytes of "tenant/" ahead of each key */
    char qual[HD_STORE_KEY_MAX + 1]; /* "tenant/prefix" */
    size_t qual_len;
    int64_t index; /* after the walk: the index of a read of the prefix */
} hd_kv_iter_t;

/* Starts a walk over tenant's keys that start with prefix[0..len). */
void hd_kv_iter_init(hd_kv_iter_t *it, const hd_kv_t *kv, const char *tenant, const char *prefix,
                     size_t len);
/* The next live key (its name in *key, *key_len, without the tenant), or
 * NULL at the end, when it->index holds the prefix's index. The cache
 * must not change during a walk. */
const hd_kv_entry_t *hd_kv_iter_next(hd_kv_iter_t *it, const char **key, size_t *key_len);
/* The first key after every key that starts with key[0..len) (to skip a
 * folder of ?separator): repositions the walk. */
void hd_kv_iter_skip_past(hd_kv_iter_t *it, const char *key, size_t len);

/* The topic of a key or of a prefix of tenant's, made if needed (freed
 * when nobody waits on it any more: wait on it at once). */
hd_topic_t *hd_kv_key_topic(hd_kv_t *kv, const char *tenant, const char *key, size_t len);
hd_topic_t *hd_kv_prefix_topic(hd_kv_t *kv, const char *tenant, const char *prefix, size_t len);

/* Consul's KV verbs (those of PUT and DELETE /v1/kv, and /v1/txn's). */
typedef enum hd_kv_verb_e {
    HD_KV_SET = 0,          /* write value and flags; keep a lock's holder */
    HD_KV_CAS,              /* as SET if ModifyIndex is cas (0: the key is absent) */
    HD_KV_LOCK,             /* acquire for session: as SET if free or already its */
    HD_KV_UNLOCK,           /* release: as SET, clearing Session, if session holds it */
    HD_KV_DELETE,           /* the key */
    HD_KV_DELETE_CAS,       /* the key if ModifyIndex is cas (true when already absent) */
    HD_KV_DELETE_TREE,      /* every key under the prefix key */
    HD_KV_GET,              /* txn: fails if the key is absent */
    HD_KV_GET_OR_EMPTY,     /* txn: never fails */
    HD_KV_GET_TREE,         /* txn: the keys under a prefix */
    HD_KV_CHECK_INDEX,      /* txn: fails unless ModifyIndex is cas */
    HD_KV_CHECK_SESSION,    /* txn: fails unless session holds the key */
    HD_KV_CHECK_NOT_EXISTS, /* txn: fails if the key exists */
} hd_kv_verb_t;

typedef struct hd_kv_op_s {
    hd_kv_verb_t verb;
    const char *tenant; /* NULL: "default" (hd_kv_txn: its tenant is used) */
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    uint64_t flags;
    uint64_t cas;        /* CAS, DELETE_CAS, CHECK_INDEX: the index */
    const char *session; /* LOCK, UNLOCK, CHECK_SESSION */
} hd_kv_op_t;

/* The outcome of a write: status 0 and ok (Consul's true or false) at
 * revision, or a negative error: HD_STORE_E* from the store, HD_KV_ENOSESSION
 * (acquire with a session that does not exist). */
typedef void (*hd_kv_done_fn)(int status, int ok, int64_t revision, void *arg);

#define HD_KV_ENOSESSION  (-100)
#define HD_KV_EBUSY       (-101) /* another write won every retry */
#define HD_KV_TXN_OPS_MAX 64     /* operations in one /v1/txn */

/* Applies op (copied) and calls cb once, later, when it is durable and in
 * the cache. Returns 0, or a negative error (then cb is never called):
 * HD_STORE_EKEY for a key that does not fit, HD_STORE_ETOOBIG for a value
 * over HD_KV_VALUE_MAX, HD_STORE_EINVAL for a lock without a session. */
int hd_kv_apply(hd_kv_t *kv, const hd_kv_op_t *op, hd_kv_done_fn cb, void *arg);

/* A failed operation of a transaction, in Consul's words. */
typedef struct hd_kv_txn_err_s {
    size_t op; /* its index */
    char what[600];
} hd_kv_txn_err_t;

/* A transaction's outcome: status 0 and either nerr 0 (applied, at
 * revision; read what the operations return from the cache now) or
 * nerr > 0 (rolled back: nothing written), or a negative error. */
typedef void (*hd_kv_txn_fn)(int status, const hd_kv_txn_err_t *errs, size_t nerr, int64_t revision,
                             void *arg);

/* Applies ops[0..n) of tenant all or nothing (Consul's /v1/txn): in
 * order, each seeing what the earlier ones did to its key (a key they
 * wrote has no ModifyIndex yet: cas and check-index of it fail), as one
 * store transaction with compares on what it read from before it,
 * planned again when another write came first. cb once, later.
 * Returns 0, or an error as hd_kv_apply's (HD_STORE_ETOOMANY past
 * HD_KV_TXN_OPS_MAX). */
int hd_kv_txn(hd_kv_t *kv, const char *tenant, const hd_kv_op_t *ops, size_t n, hd_kv_txn_fn cb,
              void *arg);

/* What ends a session's hold on its keys (agent/session.c): the store
 * compares and operations of one transaction, with their memory. */
typedef struct hd_kv_batch_s {
    hd_store_cmp_t cmps[HD_STORE_TXN_OPS_MAX];
    hd_store_op_t ops[HD_STORE_TXN_OPS_MAX];
    size_t n;     /* cmps[i] and ops[i] go together */
    int more;     /* keys were left out: max was reached */
    hd_buf_t mem; /* the keys and values the entries point into */
} hd_kv_batch_t;

/* Fills b (which it first empties) with, for each key of tenant that
 * session holds (at most max), a compare on the key's ModifyIndex and
 * either a put of the same entry with no Session (release; LockIndex,
 * Flags and value kept) or its delete (delete_keys: Consul's "delete"
 * behaviour). Returns b->n. */
size_t hd_kv_held(hd_kv_t *kv, const char *tenant, const char *session, int delete_keys, size_t max,
                  hd_kv_batch_t *b);
/* Frees what b holds. */
void hd_kv_batch_free(hd_kv_batch_t *b);

/* The highest revision applied to the cache. */
int64_t hd_kv_revision(const hd_kv_t *kv);

#endif
