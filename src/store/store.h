/* store — heed's key/value store with revisions, the etcd model.
 *
 * Keys are byte strings, by convention under prefixes: heed/checks/<id>,
 * heed/state/<id>, heed/kv/... Every write transaction that changes anything
 * takes the next store-wide revision; each key keeps the revision that
 * created it, the revision that last changed it and its version (1 on
 * create, +1 per put). Writes can be conditional (compare-and-set on
 * mod_revision, version or absence), keys can be attached to leases that
 * delete them when they expire, and watches stream the changes under a
 * prefix from any revision still kept in the event log.
 *
 * The interface is asynchronous because the cluster backend (etcd) answers
 * over the network; the SQLite backend (sqlite.c) answers from a writer
 * thread. The contract follows libuv's:
 *   - results arrive by callback, always later, on the loop thread, never
 *     from inside the call that started the request;
 *   - when a function that takes a callback returns an error, the callback
 *     is never called; when it returns 0 the callback is called exactly once
 *     (watches: until cancelled);
 *   - errors are negative HD_STORE_E* codes; hd_store_strerror() names them;
 *   - every pointer handed to a callback (keys, values, arrays) is valid only
 *     during the callback; copy what you keep;
 *   - inputs are copied: the caller may free them as soon as the call returns.
 * A write's callback runs only once the write is durable: committed and
 * synced to disk (power-loss safe).
 *
 * Backends: SQLite now (store/sqlite.c). A second backend adds an operations
 * table behind these same functions; callers do not change. Result history
 * is not here: it is local to an agent (store/history.h). */
#ifndef HD_STORE_H
#define HD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* A value holds Consul's largest KV value (512 KiB) and heed's header of
 * a KV value ahead of it (agent/kv.c). */
#define HD_STORE_KEY_MAX     1024 /* bytes in a key (etcd allows more; heed's keys are short) */
#define HD_STORE_VALUE_MAX   (513 * 1024) /* bytes in a value */
#define HD_STORE_TXN_OPS_MAX 128          /* compares, and operations, per transaction (etcd's) */

/* Every error of the store, one table with messages (hd_store_strerror).
 * Keep in step with the table in store.c. */
typedef enum hd_store_err_e {
    HD_STORE_OK = 0,
    HD_STORE_EINVAL = -1,     /* a bad argument: NULL store, unknown operation, bad TTL */
    HD_STORE_EKEY = -2,       /* key empty, or longer than HD_STORE_KEY_MAX */
    HD_STORE_ETOOBIG = -3,    /* value longer than HD_STORE_VALUE_MAX */
    HD_STORE_ETOOMANY = -4,   /* more than HD_STORE_TXN_OPS_MAX compares or operations */
    HD_STORE_EDUPKEY = -5,    /* a transaction writes one key twice */
    HD_STORE_ENOTFOUND = -6,  /* get: no such key */
    HD_STORE_ECONFLICT = -7,  /* a compare did not hold: nothing was written */
    HD_STORE_ENOLEASE = -8,   /* no such lease: never granted, revoked or expired */
    HD_STORE_ECOMPACTED = -9, /* watch: the start revision's events were compacted away */
    HD_STORE_EFUTURE = -10,   /* compact: that revision is not committed yet */
    HD_STORE_EIO = -11,       /* the disk failed: the write did not happen */
    HD_STORE_EFULL = -12,     /* the disk is full: the write did not happen */
    HD_STORE_ECORRUPT = -13,  /* the file is not a heed store, or is damaged */
    HD_STORE_ENEWER = -14,    /* the store was written by a newer heed (unknown schema) */
    HD_STORE_EOPEN = -15,     /* the file cannot be opened or created */
    HD_STORE_EBUSY = -16,     /* another process holds the store locked */
    HD_STORE_ECLOSED = -17,   /* the store is closing */
    HD_STORE_E__COUNT = 18
} hd_store_err_t;

typedef struct hd_store_s hd_store_t;
typedef struct hd_store_watch_s hd_store_watch_t;

typedef struct hd_store_config_s {
    const char *path;            /* the store file; created when missing */
    int64_t event_retention;     /* revisions kept for watches; 0: 10,000 */
    int64_t hist_raw_keep_us;    /* history: raw results kept; 0: 48 h */
    int64_t hist_1m_keep_us;     /* history: per-minute rollups kept; 0: 30 days */
    int64_t hist_1h_keep_us;     /* history: per-hour rollups kept; 0: 365 days */
    int64_t hist_maint_us;       /* history: period of the rollup/prune slice; 0: 1 s; <0: never
                                    (tests call hd_store_history_maintain) */
    int64_t hist_queue_max_rows; /* history rows queued, not yet committed, at most; more
                                    are dropped; 0: 200,000 (20 s of 10,000 checks/s) */
} hd_store_config_t;

/* One key as stored. key and value are NUL-terminated for convenience (the
 * NUL is not counted in the lengths; keys and values may hold NULs). */
typedef struct hd_store_kv_s {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    int64_t create_revision; /* the revision that created the key (0 after a delete) */
    int64_t mod_revision;    /* the revision of the last put or delete */
    int64_t version;         /* 1 on create, +1 per put; 0 once deleted */
    int64_t lease;           /* the lease the key is attached to, 0 for none */
} hd_store_kv_t;

/* A range's answer: kvs in key order, consistent at revision. */
typedef struct hd_store_range_s {
    const hd_store_kv_t *kvs;
    size_t n;
    int more;         /* the limit cut the answer short */
    int64_t revision; /* the store's revision the answer was read at */
} hd_store_range_t;

typedef enum hd_store_op_kind_e {
    HD_STORE_OP_PUT = 0,
    HD_STORE_OP_DELETE,        /* one key; deleting a missing key changes nothing */
    HD_STORE_OP_DELETE_PREFIX, /* every key that starts with key[0..key_len) ("" = all) */
} hd_store_op_kind_t;

typedef struct hd_store_op_s {
    hd_store_op_kind_t kind;
    const char *key; /* the key, or the prefix */
    size_t key_len;
    const char *value; /* puts only */
    size_t value_len;
    int64_t lease; /* puts only: attach the key to this lease; 0 for none */
} hd_store_op_t;

typedef enum hd_store_cmp_target_e {
    HD_STORE_CMP_MOD_REVISION = 0, /* the key's mod_revision equals value */
    HD_STORE_CMP_VERSION,          /* the key's version equals value (0: absent) */
    HD_STORE_CMP_ABSENT,           /* the key does not exist (value ignored) */
} hd_store_cmp_target_t;

/* A condition of a transaction. A missing key has mod_revision 0, version 0. */
typedef struct hd_store_cmp_s {
    const char *key;
    size_t key_len;
    hd_store_cmp_target_t target;
    int64_t value;
} hd_store_cmp_t;

typedef struct hd_store_write_result_s {
    int64_t revision; /* the write's revision; when it changed nothing (or failed), the
                         store's revision at that point */
    int64_t deleted;  /* keys deleted */
    int failed_cmp;   /* HD_STORE_ECONFLICT: index of the first compare that failed, else -1 */
} hd_store_write_result_t;

typedef enum hd_store_event_type_e {
    HD_STORE_EV_PUT = 0,
    HD_STORE_EV_DELETE,
} hd_store_event_type_t;

/* A change: kv is the key after a put; after a delete its value is empty,
 * create_revision, version and lease 0. kv.mod_revision is the event's
 * revision either way. */
typedef struct hd_store_event_s {
    hd_store_event_type_t type;
    hd_store_kv_t kv;
} hd_store_event_t;

/* status 0 and kv, or HD_STORE_ENOTFOUND (kv NULL), or another error. */
typedef void (*hd_store_get_cb)(int status, const hd_store_kv_t *kv, int64_t revision, void *arg);
typedef void (*hd_store_range_cb)(int status, const hd_store_range_t *r, void *arg);
typedef void (*hd_store_write_cb)(int status, const hd_store_write_result_t *r, void *arg);
typedef void (*hd_store_lease_cb)(int status, int64_t lease, int64_t ttl_ms, void *arg);
/* status 0 with n >= 1 events in revision order (a revision is never split
 * across calls), or a final error (then ev is NULL and no call follows):
 * HD_STORE_ECOMPACTED, HD_STORE_ECLOSED, HD_STORE_EIO. */
typedef void (*hd_store_watch_cb)(int status, const hd_store_event_t *ev, size_t n, void *arg);

/* The message of an HD_STORE_E* code ("compare failed: nothing written"). */
const char *hd_store_strerror(int err);

/* Opens (creating if needed) the store cfg->path on base, running schema
 * migrations. Returns 0 and the store in *out, or an error with a message
 * naming the file in err. */
int hd_store_open(struct event_base *base, const hd_store_config_t *cfg, hd_store_t **out,
                  char *err, size_t errlen);
/* Checks, reading only, that hd_store_open could open the store file at
 * path: absent (hd_store_open creates it), or a heed store of a schema this
 * heed knows, which this process may read and write (with its -wal and -shm
 * files). Takes no lock and leaves no file behind, so the store of a
 * running agent can be checked. Returns 0, or an error with a message
 * naming the file in err, in hd_store_open's form. */
int hd_store_check(const char *path, char *err, size_t errlen);
/* Commits every write already requested, answers every pending request (from
 * inside this call), ends open watches without calling them again (their
 * handles are freed: do not cancel them afterwards), stops the writer thread
 * and frees the store. Requests made from those callbacks fail with
 * HD_STORE_ECLOSED. Not to be called from inside a store callback. */
void hd_store_close(hd_store_t *s);
/* Commits every write asked for so far and answers it, inside this call, as
 * hd_store_close does, but leaves the store open. Writes made from those
 * callbacks are committed too. Not to be called from inside a store
 * callback. */
void hd_store_flush(hd_store_t *s);
/* The last revision this process has seen committed. */
int64_t hd_store_revision(const hd_store_t *s);

/* Reads one key. */
int hd_store_get(hd_store_t *s, const char *key, size_t key_len, hd_store_get_cb cb, void *arg);
/* Reads the keys starting with prefix ("" = all), at most limit (0 = all). */
int hd_store_range(hd_store_t *s, const char *prefix, size_t prefix_len, size_t limit,
                   hd_store_range_cb cb, void *arg);
/* As hd_store_range, from the first key after `after` (a key with the
 * prefix, e.g. the last one of the previous page): a long range read page
 * by page, never held in memory whole. HD_STORE_EKEY when after does not
 * start with prefix. */
int hd_store_range_after(hd_store_t *s, const char *prefix, size_t prefix_len, const char *after,
                         size_t after_len, size_t limit, hd_store_range_cb cb, void *arg);

/* Writes value under key, attached to lease (0: none). cb may be NULL. */
int hd_store_put(hd_store_t *s, const char *key, size_t key_len, const char *value,
                 size_t value_len, int64_t lease, hd_store_write_cb cb, void *arg);
/* Deletes one key. cb may be NULL. */
int hd_store_delete(hd_store_t *s, const char *key, size_t key_len, hd_store_write_cb cb,
                    void *arg);
/* Deletes every key starting with prefix. cb may be NULL. */
int hd_store_delete_prefix(hd_store_t *s, const char *prefix, size_t prefix_len,
                           hd_store_write_cb cb, void *arg);
/* If every compare holds, applies every op atomically under one revision;
 * else HD_STORE_ECONFLICT and nothing changes. A key may be written only
 * once per transaction (HD_STORE_EDUPKEY). cb may be NULL. */
int hd_store_txn(hd_store_t *s, const hd_store_cmp_t *cmps, size_t ncmp, const hd_store_op_t *ops,
                 size_t nops, hd_store_write_cb cb, void *arg);

/* Grants a lease of ttl_ms (>= 1) milliseconds; cb gets its id. */
int hd_store_lease_grant(hd_store_t *s, int64_t ttl_ms, hd_store_lease_cb cb, void *arg);
/* Restarts a lease's TTL; HD_STORE_ENOLEASE once it has expired. */
int hd_store_lease_keepalive(hd_store_t *s, int64_t lease, hd_store_lease_cb cb, void *arg);
/* Ends a lease now, deleting its keys under one revision. cb may be NULL. */
int hd_store_lease_revoke(hd_store_t *s, int64_t lease, hd_store_write_cb cb, void *arg);

/* Streams the events of keys under prefix from from_revision on (0: from
 * the next revision). A start revision older than the event log keeps gets
 * HD_STORE_ECOMPACTED through cb. The handle stays the caller's until
 * hd_store_watch_cancel(), which must be called even after a final error. */
int hd_store_watch(hd_store_t *s, const char *prefix, size_t prefix_len, int64_t from_revision,
                   hd_store_watch_cb cb, void *arg, hd_store_watch_t **out);
/* Ends a watch and frees it; its callback is not called again. */
void hd_store_watch_cancel(hd_store_watch_t *w);
/* Drops the events of revisions <= revision from the event log. The store
 * also compacts by itself, keeping cfg->event_retention revisions. */
int hd_store_compact(hd_store_t *s, int64_t revision, hd_store_write_cb cb, void *arg);

#endif
