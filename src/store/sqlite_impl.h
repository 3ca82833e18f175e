/* sqlite_impl — what the SQLite backend's files (sqlite.c: open, close,
 * the writer thread and requests; sqlite_watch.c: watches) share: the
 * store's struct, the request queue and small statement helpers. Nobody
 * else includes this. */
#ifndef HD_SQLITE_IMPL_H
#define HD_SQLITE_IMPL_H

#include "store/history.h"
#include "store/store.h"
#include "store/store_impl.h"

#include <event2/event.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#define SCHEMA_VERSION    2
#define APPLICATION_ID    0x68656564 /* "heed" */
#define DEFAULT_RETENTION 10000
#define COMPACT_MAX_STEP  4096 /* revisions dropped per batch at most */
#define CATCHUP_CHUNK     512  /* events a catching-up watch gets per loop turn */
#define MAINT_BEHIND_US   50000
/* History rows queued and not yet committed, at most (hd_store_config_t's
 * hist_queue_max_rows). 200,000 is 20 s of 10,000 checks/s: a writer that
 * far behind is starved, not having a slow moment, and a queued row costs
 * about 50 bytes (its hd_hist_row_t and id), so the queue stays under
 * ~10 MB instead of growing with the starvation. */
#define HIST_QUEUE_MAX_ROWS 200000

enum req_kind {
    /* the writer's */
    RQ_TXN,
    RQ_GRANT,
    RQ_REVOKE,
    RQ_COMPACT,
    RQ_HIST_ADD,
    RQ_HIST_MAINT,
    RQ_HIST_RENAME,
    /* the loop's */
    RQ_GET,
    RQ_RANGE,
    RQ_KEEPALIVE,
    RQ_HIST_QUERY,
};

typedef struct req_s req_t;
struct req_s {
    req_t *next;
    int kind;
    int internal; /* made by the store itself (lease expiry, maintenance timer) */
    hd_store_cmp_t *cmps;
    size_t ncmp;
    hd_store_op_t *ops;
    size_t nops;
    const char *key; /* get/range: key or prefix; history query: the check id; rename: from,
                        and the new name after its NUL (n1 bytes) */
    size_t key_len;
    int64_t n1, n2, n3;  /* by kind: lease id and TTL; revision; times; range:
                            limit and the length of the start key after key's NUL (0: key) */
    int i1, i2;          /* by kind: step; maintenance: behind */
    hd_hist_row_t *rows; /* history: the rows, their ids packed after them */
    size_t nrows;
    /* results */
    int status;
    int more;
    hd_store_write_result_t wr;
    union {
        hd_store_write_cb write;
        hd_store_get_cb get;
        hd_store_range_cb range;
        hd_store_lease_cb lease;
        hd_hist_query_cb hquery;
        hd_hist_maint_cb maint;
    } cb;
    void *arg;
};

typedef struct queue_s {
    req_t *head, *tail;
} queue_t;

typedef struct lease_s {
    int64_t id;
    int64_t ttl_ms;
    int64_t expires_us; /* monotonic */
    int revoking;       /* expired: a revoke is on its way to the writer */
} lease_t;

struct hd_store_watch_s {
    hd_store_t *s;
    hd_store_watch_t *next;
    char *prefix;
    size_t prefix_len;
    int64_t next_rev; /* the first revision not delivered yet */
    int synced;       /* caught up: fed by dispatch after each commit */
    int done;         /* a final error was delivered */
    int dead;         /* cancelled while the store was walking the list */
    hd_store_watch_cb cb;
    void *arg;
};

/* Writer statements, prepared once. */
enum {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_SAVE,
    W_RELEASE,
    W_UNDO,
    W_KEYMETA,
    W_PUT,
    W_DEL,
    W_EVENT,
    W_EV_DELRANGE,
    W_EV_DELRANGE_ALL,
    W_DELRANGE,
    W_DELRANGE_ALL,
    W_LEASE_EXISTS,
    W_LEASE_INS,
    W_LEASE_DEL,
    W_EV_LEASE,
    W_DEL_LEASE_KEYS,
    W_META_SET,
    W_COMPACT,
    W__COUNT
};

enum { R_BEGIN, R_COMMIT, R_META, R_GET, R_RANGE, R_RANGE_ALL, R_EVENTS, R__COUNT };

struct hd_store_s {
    struct event_base *base;
    char *path;
    int64_t retention;
    hd_hist_conf_t hconf;
    int64_t maint_us;

    /* loop thread */
    sqlite3 *rdb;
    sqlite3_stmt *r[R__COUNT];
    queue_t pending;  /* writes not yet handed to the writer */
    queue_t deferred; /* requests the loop answers itself */
    int busy;         /* a batch is with the writer */
    int closing;
    int64_t rev;       /* committed and dispatched to watches */
    int64_t compacted; /* the event log starts after this revision */
    int64_t next_lease;
    lease_t *leases;
    size_t nleases, cap_leases;
    hd_store_watch_t *watches;
    int walking; /* the watch list is being walked: cancel marks, does not free */
    int maint_inflight;
    int64_t hist_queued;    /* history rows submitted, not yet back from the writer */
    int64_t hist_queue_max; /* more are dropped */
    int64_t hist_dropped;   /* rows dropped since open */
    int64_t hist_failed;    /* rows whose write failed since open */
    struct event *flush_ev, *defer_ev, *done_ev, *lease_ev, *maint_ev, *catchup_ev;
    int efd;
    int lockfd; /* the store file, holding an exclusive flock while open */

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    req_t *submitted;
    int64_t sub_dispatched; /* the loop's s->rev when the batch left: compaction stops there */
    req_t *completed;
    int64_t done_rev, done_compacted;
    int stop;
    pthread_t thread;
    int thread_started;

    /* writer thread (and open/close, while the writer does not run) */
    sqlite3 *wdb;
    sqlite3_stmt *w[W__COUNT];
    int64_t wrev, wcompacted, wlease_seq;
    hd_hist_writer_t *hist;
};

/* Steps a statement that returns no rows (or whose rows do not matter) and
 * resets it. Returns 0 or an HD_STORE_E* code. */
static inline int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : hd_store__sqlite_err(rc);
}

static inline void bind_blob(sqlite3_stmt *st, int i, const char *p, size_t n)
{
    /* Never NULL: an empty key or value is a zero-length blob, not NULL. */
    sqlite3_bind_blob64(st, i, n ? p : "", n, SQLITE_STATIC);
}

static inline int read_begin(hd_store_t *s)
{
    return run(s->r[R_BEGIN]);
}

static inline void read_end(hd_store_t *s)
{
    /* A read transaction cannot fail to end in a way the caller could act on. */
    (void)run(s->r[R_COMMIT]);
}

static inline int64_t read_meta(hd_store_t *s, const char *name, int *rc)
{
    sqlite3_stmt *st = s->r[R_META];
    int64_t v = 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else if (!*rc)
        *rc = r == SQLITE_DONE ? HD_STORE_ECORRUPT : hd_store__sqlite_err(r);
    sqlite3_reset(st);
    return v;
}

/* The common refusals: no store, a closing store, no callback where needed. */
static inline int refuse(const hd_store_t *s, const void *cb, int cb_required)
{
    if (!s || (cb_required && !cb)) return HD_STORE_EINVAL;
    if (s->closing) return HD_STORE_ECLOSED;
    return 0;
}

/* sqlite_watch.c: feeds the events of (s->rev, rev] to caught-up watches
 * and advances s->rev. */
void hd_sqlite__dispatch(hd_store_t *s, int64_t rev);
/* sqlite_watch.c: the catch-up event: brings lagging watches forward. */
void hd_sqlite__catchup_cb(evutil_socket_t fd, short what, void *arg);
/* sqlite_watch.c: frees the watches marked dead. */
void hd_sqlite__watch_free_dead(hd_store_t *s);

#endif
