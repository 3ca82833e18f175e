/* sqlite — the store (store.h) on one SQLite file in WAL mode.
 *
 * Threads. Everything a caller touches runs on the loop thread. Writes go
 * to one writer thread with its own connection:
 *   - a request is queued (s->pending) and a "flush" event is activated; the
 *     flush runs after the callbacks already active in this loop turn, so a
 *     turn's writes leave together;
 *   - the flush hands the whole queue to the writer, which runs it as ONE
 *     transaction (group commit): one savepoint per request, so a failed
 *     compare or a missing lease undoes only its own request;
 *   - while the writer works, new requests queue up and leave together as
 *     the next batch; only one batch is ever in flight;
 *   - after COMMIT returns (durable, see open_conn on synchronous=FULL) the
 *     writer posts the batch back through an eventfd; the loop then feeds
 *     watches and only then calls the write callbacks. No callback ever runs
 *     on the writer thread.
 * Reads (get, range, watch catch-up, history queries) are served on the loop
 * thread from a second, read-only connection. In WAL mode a reader sees the
 * last committed snapshot and neither blocks nor is blocked by the writer;
 * the reads are indexed lookups on pages mostly in cache, a few
 * microseconds each. They still answer through a deferred event, never from
 * inside the call.
 *
 * Revisions, leases, watches (sqlite_watch.c). The writer owns the revision counter and keeps
 * it in the meta table in the same transaction as the data, so a revision
 * is never reused. Every change is also appended to the events table (the
 * event log) that watches read from; the writer compacts it to the last
 * cfg->event_retention revisions, never past what the loop has already
 * dispatched. Lease grants and revocations are written; lease deadlines are
 * kept in memory on the loop only (as etcd does), and a reopened store
 * restarts every lease's full TTL. A timer on the loop revokes expired
 * leases through the writer like any other write.
 *
 * History rows (history.c) are writes like any other, many rows per
 * request (hd_store_history_add_batch). Their queue is bounded: the loop
 * counts the rows submitted and not yet back from the writer, and drops the
 * rows past cfg->hist_queue_max_rows (counted for /metrics), so a writer
 * starved of CPU or disk costs lost history, never unbounded memory.
 *
 * Schema: PRAGMA user_version, migrations run at open, each in its own
 * transaction (see migrations[]). */
#include "store/sqlite_impl.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const wsql[W__COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVE] = "SAVEPOINT req",
    [W_RELEASE] = "RELEASE req",
    [W_UNDO] = "ROLLBACK TO req",
    [W_KEYMETA] = "SELECT create_rev, mod_rev, version FROM kv WHERE key = ?1",
    [W_PUT] = "INSERT OR REPLACE INTO kv(key, value, create_rev, mod_rev, version, lease) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [W_DEL] = "DELETE FROM kv WHERE key = ?1",
    [W_EVENT] = "INSERT INTO events(rev, seq, type, key, value, create_rev, version, lease) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [W_EV_DELRANGE] = "INSERT INTO events(rev, seq, type, key) SELECT ?1, ?2 + row_number() "
                      "OVER (ORDER BY key), 1, key FROM kv WHERE key >= ?3 AND key < ?4",
    [W_EV_DELRANGE_ALL] = "INSERT INTO events(rev, seq, type, key) SELECT ?1, ?2 + row_number() "
                          "OVER (ORDER BY key), 1, key FROM kv WHERE key >= ?3",
    [W_DELRANGE] = "DELETE FROM kv WHERE key >= ?1 AND key < ?2",
    [W_DELRANGE_ALL] = "DELETE FROM kv WHERE key >= ?1",
    [W_LEASE_EXISTS] = "SELECT 1 FROM leases WHERE id = ?1",
    [W_LEASE_INS] = "INSERT INTO leases(id, ttl_ms) VALUES (?1, ?2)",
    [W_LEASE_DEL] = "DELETE FROM leases WHERE id = ?1",
    [W_EV_LEASE] = "INSERT INTO events(rev, seq, type, key) SELECT ?1, row_number() "
                   "OVER (ORDER BY key) - 1, 1, key FROM kv WHERE lease = ?2 AND lease <> 0",
    [W_DEL_LEASE_KEYS] = "DELETE FROM kv WHERE lease = ?1 AND lease <> 0",
    [W_META_SET] = "UPDATE meta SET value = ?2 WHERE name = ?1",
    [W_COMPACT] = "DELETE FROM events WHERE rev <= ?1",
};

/* Read statements (loop thread). */

static const char *const rsql[R__COUNT] = {
    [R_BEGIN] = "BEGIN",
    [R_COMMIT] = "COMMIT",
    [R_META] = "SELECT value FROM meta WHERE name = ?1",
    [R_GET] = "SELECT value, create_rev, mod_rev, version, lease FROM kv WHERE key = ?1",
    [R_RANGE] = "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                "WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3",
    [R_RANGE_ALL] = "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                    "WHERE key >= ?1 ORDER BY key LIMIT ?2",
    [R_EVENTS] = "SELECT rev, type, key, value, create_rev, version, lease FROM events "
                 "WHERE rev >= ?1 AND rev <= ?2 ORDER BY rev, seq",
};

/* ---- small helpers ---- */

int hd_store__sqlite_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_FULL:
        return HD_STORE_EFULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return HD_STORE_EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return HD_STORE_ECORRUPT;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        return HD_STORE_EOPEN;
    default:
        return HD_STORE_EIO;
    }
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void q_push(queue_t *q, req_t *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
}

static req_t *q_take(queue_t *q)
{
    req_t *r = q->head;
    q->head = q->tail = NULL;
    return r;
}

/* A request with room for ncmp compares, nops operations and bytes bytes of
 * copied keys and values; *data points at the bytes. */
static req_t *req_new(int kind, size_t ncmp, size_t nops, size_t bytes, char **data)
{
    size_t size = sizeof(req_t) + ncmp * sizeof(hd_store_cmp_t) + nops * sizeof(hd_store_op_t);
    req_t *r = hd_xcalloc(1, size + bytes);
    r->kind = kind;
    r->cmps = ncmp ? (hd_store_cmp_t *)(r + 1) : NULL;
    r->ncmp = ncmp;
    r->ops = nops ? (hd_store_op_t *)((char *)(r + 1) + ncmp * sizeof(hd_store_cmp_t)) : NULL;
    r->nops = nops;
    r->wr.failed_cmp = -1;
    *data = (char *)r + size;
    return r;
}

/* Copies n bytes to *data, NUL-terminated, and advances it. */
static const char *copy_bytes(char **data, const char *p, size_t n)
{
    char *d = *data;
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    *data = d + n + 1;
    return d;
}

static req_t *req_key(int kind, const char *key, size_t len)
{
    char *data;
    req_t *r = req_new(kind, 0, 0, len + 1, &data);
    r->key = copy_bytes(&data, key, len);
    r->key_len = len;
    return r;
}

/* ---- the writer thread ---- */

/* 1 and the key's revisions when it exists, 0 when not, or an error. */
static int key_meta(hd_store_t *s, const char *key, size_t len, int64_t *create, int64_t *mod,
                    int64_t *ver)
{
    sqlite3_stmt *st = s->w[W_KEYMETA];
    bind_blob(st, 1, key, len);
    int rc = sqlite3_step(st), found = 0;
    *create = *mod = *ver = 0;
    if (rc == SQLITE_ROW) {
        *create = sqlite3_column_int64(st, 0);
        *mod = sqlite3_column_int64(st, 1);
        *ver = sqlite3_column_int64(st, 2);
        found = 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return hd_store__sqlite_err(rc);
    return found;
}

static int add_event(hd_store_t *s, int64_t rev, int64_t seq, int type, const char *key,
                     size_t klen, const char *val, size_t vlen, int64_t create, int64_t ver,
                     int64_t lease)
{
    sqlite3_stmt *st = s->w[W_EVENT];
    sqlite3_bind_int64(st, 1, rev);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_int(st, 3, type);
    bind_blob(st, 4, key, klen);
    if (type == HD_STORE_EV_PUT)
        bind_blob(st, 5, val, vlen);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, create);
    sqlite3_bind_int64(st, 7, ver);
    sqlite3_bind_int64(st, 8, lease);
    return run(st);
}

static int op_put(hd_store_t *s, const hd_store_op_t *o, int64_t rev, int64_t seq)
{
    int64_t create, mod, ver;
    if (o->lease) {
        sqlite3_stmt *st = s->w[W_LEASE_EXISTS];
        sqlite3_bind_int64(st, 1, o->lease);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) return HD_STORE_ENOLEASE;
        if (rc != SQLITE_ROW) return hd_store__sqlite_err(rc);
    }
    int found = key_meta(s, o->key, o->key_len, &create, &mod, &ver);
    if (found < 0) return found;
    if (!found) create = rev;
    ver = found ? ver + 1 : 1;
    sqlite3_stmt *st = s->w[W_PUT];
    bind_blob(st, 1, o->key, o->key_len);
    bind_blob(st, 2, o->value, o->value_len);
    sqlite3_bind_int64(st, 3, create);
    sqlite3_bind_int64(st, 4, rev);
    sqlite3_bind_int64(st, 5, ver);
    sqlite3_bind_int64(st, 6, o->lease);
    int rc = run(st);
    if (rc) return rc;
    return add_event(s, rev, seq, HD_STORE_EV_PUT, o->key, o->key_len, o->value, o->value_len,
                     create, ver, o->lease);
}

/* Deletes one key; returns the number deleted (0 or 1) or an error. */
static int op_delete(hd_store_t *s, const hd_store_op_t *o, int64_t rev, int64_t seq)
{
    int64_t create, mod, ver;
    int found = key_meta(s, o->key, o->key_len, &create, &mod, &ver);
    if (found <= 0) return found;
    sqlite3_stmt *st = s->w[W_DEL];
    bind_blob(st, 1, o->key, o->key_len);
    int rc = run(st);
    if (rc) return rc;
    rc = add_event(s, rev, seq, HD_STORE_EV_DELETE, o->key, o->key_len, NULL, 0, 0, 0, 0);
    return rc ? rc : 1;
}

/* Deletes every key under a prefix; returns how many, or an error. */
static int64_t op_delete_prefix(hd_store_t *s, const hd_store_op_t *o, int64_t rev, int64_t seq)
{
    char end[HD_STORE_KEY_MAX];
    size_t elen = hd_store__prefix_end(o->key, o->key_len, end);
    sqlite3_stmt *ev = s->w[elen ? W_EV_DELRANGE : W_EV_DELRANGE_ALL];
    sqlite3_stmt *del = s->w[elen ? W_DELRANGE : W_DELRANGE_ALL];
    sqlite3_bind_int64(ev, 1, rev);
    sqlite3_bind_int64(ev, 2, seq - 1); /* row_number() starts at 1 */
    bind_blob(ev, 3, o->key, o->key_len);
    if (elen) bind_blob(ev, 4, end, elen);
    int rc = run(ev);
    if (rc) return rc;
    int64_t n = sqlite3_changes64(s->wdb);
    bind_blob(del, 1, o->key, o->key_len);
    if (elen) bind_blob(del, 2, end, elen);
    rc = run(del);
    return rc ? rc : n;
}

/* Ends a request's savepoint: keeps its changes, or undoes them. */
static int end_save(hd_store_t *s, int keep)
{
    int rc = keep ? 0 : run(s->w[W_UNDO]);
    int rc2 = run(s->w[W_RELEASE]);
    return rc ? rc : rc2;
}

static int w_txn(hd_store_t *s, req_t *r)
{
    int64_t create, mod, ver, rev = s->wrev + 1, seq = 0, deleted = 0;
    int rc = 0, changed = 0;
    r->wr.revision = s->wrev;
    for (size_t i = 0; i < r->ncmp; i++) {
        const hd_store_cmp_t *c = &r->cmps[i];
        int found = key_meta(s, c->key, c->key_len, &create, &mod, &ver);
        if (found < 0) return found;
        int ok = c->target == HD_STORE_CMP_MOD_REVISION ? mod == c->value
                 : c->target == HD_STORE_CMP_VERSION    ? ver == c->value
                                                        : !found;
        if (!ok) {
            r->wr.failed_cmp = (int)i;
            return HD_STORE_ECONFLICT;
        }
    }
    if ((rc = run(s->w[W_SAVE]))) return rc;
    for (size_t i = 0; i < r->nops && !rc; i++) {
        const hd_store_op_t *o = &r->ops[i];
        int64_t n;
        switch (o->kind) {
        case HD_STORE_OP_PUT:
            rc = op_put(s, o, rev, seq++);
            changed = changed || !rc;
            break;
        case HD_STORE_OP_DELETE:
            n = op_delete(s, o, rev, seq);
            if (n < 0)
                rc = (int)n;
            else
                seq += n, deleted += n;
            break;
        case HD_STORE_OP_DELETE_PREFIX:
            n = op_delete_prefix(s, o, rev, seq);
            if (n < 0)
                rc = (int)n;
            else
                seq += n, deleted += n;
            break;
        }
    }
    changed = !rc && (changed || deleted > 0);
    int rc2 = end_save(s, changed);
    if (rc) return rc;
    if (rc2) return rc2;
    if (changed) s->wrev = rev;
    r->wr.revision = s->wrev;
    r->wr.deleted = deleted;
    return 0;
}

static int w_grant(hd_store_t *s, req_t *r)
{
    sqlite3_stmt *st = s->w[W_LEASE_INS];
    sqlite3_bind_int64(st, 1, r->n1);
    sqlite3_bind_int64(st, 2, r->n2);
    int rc = run(st);
    if (!rc && r->n1 > s->wlease_seq) s->wlease_seq = r->n1;
    r->wr.revision = s->wrev;
    return rc;
}

static int w_revoke(hd_store_t *s, req_t *r)
{
    int64_t rev = s->wrev + 1, n = 0;
    int rc, rc2;
    r->wr.revision = s->wrev;
    if ((rc = run(s->w[W_SAVE]))) return rc;
    sqlite3_stmt *ev = s->w[W_EV_LEASE], *del = s->w[W_DEL_LEASE_KEYS], *ld = s->w[W_LEASE_DEL];
    sqlite3_bind_int64(ev, 1, rev);
    sqlite3_bind_int64(ev, 2, r->n1);
    sqlite3_bind_int64(del, 1, r->n1);
    sqlite3_bind_int64(ld, 1, r->n1);
    if (!(rc = run(ev))) {
        n = sqlite3_changes64(s->wdb);
        if (!(rc = run(del)) && !(rc = run(ld)) && sqlite3_changes64(s->wdb) == 0)
            rc = HD_STORE_ENOLEASE;
    }
    rc2 = end_save(s, !rc);
    if (rc) return rc;
    if (rc2) return rc2;
    if (n > 0) s->wrev = rev;
    r->wr.revision = s->wrev;
    r->wr.deleted = n;
    return 0;
}

static int compact_to(hd_store_t *s, int64_t rev)
{
    if (rev <= s->wcompacted) return 0;
    sqlite3_bind_int64(s->w[W_COMPACT], 1, rev);
    int rc = run(s->w[W_COMPACT]);
    if (!rc) s->wcompacted = rev;
    return rc;
}

static int w_compact(hd_store_t *s, req_t *r, int64_t dispatched)
{
    r->wr.revision = s->wrev;
    if (r->n1 > dispatched) return HD_STORE_EFUTURE;
    return compact_to(s, r->n1);
}

static int meta_set(hd_store_t *s, const char *name, int64_t v)
{
    sqlite3_stmt *st = s->w[W_META_SET];
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    return run(st);
}

static int w_one(hd_store_t *s, req_t *r, int64_t dispatched)
{
    switch (r->kind) {
    case RQ_TXN:
        return w_txn(s, r);
    case RQ_GRANT:
        return w_grant(s, r);
    case RQ_REVOKE:
        return w_revoke(s, r);
    case RQ_COMPACT:
        return w_compact(s, r, dispatched);
    case RQ_HIST_ADD:
        /* No savepoint: a row fails only when the disk does, which ends the
         * whole transaction, and a savepoint would copy every page the rows
         * touch to a statement journal (measured: +0.4 us of writer CPU per
         * row). */
        r->wr.revision = s->wrev;
        return hd_hist__add(s->hist, r->rows, r->nrows);
    case RQ_HIST_MAINT:
        r->wr.revision = s->wrev;
        return hd_hist__maintain(s->hist, r->n1 ? r->n1 : wall_us(), &r->more, &r->i2);
    case RQ_HIST_RENAME:
        r->wr.revision = s->wrev;
        return hd_hist__rename(s->hist, r->key, r->key_len, r->key + r->key_len + 1, (size_t)r->n1);
    }
    return HD_STORE_EINVAL;
}

/* Runs a batch as one transaction; every request gets its status.
 *
 * A full disk or an I/O error in any request ends the batch: every request
 * of it fails and nothing of it stays. SQLite may have rolled the whole
 * transaction back already, or only the failing statement (its documented
 * choice for SQLITE_FULL and SQLITE_IOERR), which would leave part of a
 * history request (it has no savepoint) or a maintenance slice behind.
 * Ending the batch is the one answer that holds either way; the writer's
 * connection stays usable, and the next batch starts afresh. */
static void run_batch(hd_store_t *s, req_t *batch, int64_t dispatched)
{
    int64_t rev0 = s->wrev, comp0 = s->wcompacted, lease0 = s->wlease_seq;
    int rc = run(s->w[W_BEGIN]);
    for (req_t *r = batch; r && !rc; r = r->next) {
        r->status = w_one(s, r, dispatched);
        if (r->status == HD_STORE_EFULL || r->status == HD_STORE_EIO)
            rc = r->status;
        else if (sqlite3_get_autocommit(s->wdb)) /* the transaction ended anyway */
            rc = r->status ? r->status : HD_STORE_EIO;
    }
    if (!rc) {
        int64_t target = s->wrev - s->retention;
        int64_t step = s->retention / 16 > 0 ? s->retention / 16 : 1;
        if (target > dispatched) target = dispatched;
        if (target - s->wcompacted > COMPACT_MAX_STEP) target = s->wcompacted + COMPACT_MAX_STEP;
        if (target - s->wcompacted >= step) rc = compact_to(s, target);
    }
    if (!rc && s->wrev != rev0) rc = meta_set(s, "revision", s->wrev);
    if (!rc && s->wcompacted != comp0) rc = meta_set(s, "compacted", s->wcompacted);
    if (!rc && s->wlease_seq != lease0) rc = meta_set(s, "lease_seq", s->wlease_seq);
    if (!rc) rc = run(s->w[W_COMMIT]);
    if (rc) {
        if (!sqlite3_get_autocommit(s->wdb)) (void)run(s->w[W_ROLLBACK]); /* best effort */
        s->wrev = rev0;
        s->wcompacted = comp0;
        s->wlease_seq = lease0;
        for (req_t *r = batch; r; r = r->next) {
            if (r->status == 0 || r->status == HD_STORE_ECONFLICT || r->status == HD_STORE_ENOLEASE)
                r->status = rc;
            r->wr.revision = rev0;
            if (r->kind == RQ_HIST_MAINT) r->more = r->i2 = 0;
        }
    }
}

static void *writer_main(void *arg)
{
    hd_store_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->submitted && !s->stop)
            pthread_cond_wait(&s->work_cv, &s->mu);
        if (!s->submitted) break;
        req_t *batch = s->submitted;
        int64_t dispatched = s->sub_dispatched;
        s->submitted = NULL;
        pthread_mutex_unlock(&s->mu);

        run_batch(s, batch, dispatched);

        pthread_mutex_lock(&s->mu);
        s->completed = batch;
        s->done_rev = s->wrev;
        s->done_compacted = s->wcompacted;
        pthread_cond_signal(&s->done_cv);
        pthread_mutex_unlock(&s->mu);
        uint64_t one = 1;
        /* The counter cannot overflow here; a failed write would only delay
         * the answer to hd_store_close, which waits on done_cv anyway. */
        (void)!write(s->efd, &one, sizeof(one));
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the loop: handing batches over and taking them back ---- */

static void hand_over(hd_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->submitted = q_take(&s->pending);
    s->sub_dispatched = s->rev;
    s->busy = 1;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    hd_store_t *s = arg;
    (void)fd, (void)what;
    if (!s->busy && s->pending.head) hand_over(s);
}

/* Queues a write; it leaves with this loop turn's batch. */
static void submit(hd_store_t *s, req_t *r)
{
    q_push(&s->pending, r);
    if (!s->busy) event_active(s->flush_ev, 0, 0);
}

/* Queues a request the loop answers itself, later in this turn. */
static void defer(hd_store_t *s, req_t *r)
{
    q_push(&s->deferred, r);
    event_active(s->defer_ev, 0, 0);
}

static lease_t *lease_find(hd_store_t *s, int64_t id)
{
    for (size_t i = 0; i < s->nleases; i++)
        if (s->leases[i].id == id) return &s->leases[i];
    return NULL;
}

static void lease_add(hd_store_t *s, int64_t id, int64_t ttl_ms)
{
    if (s->nleases == s->cap_leases) {
        s->cap_leases = s->cap_leases ? 2 * s->cap_leases : 16;
        s->leases = hd_xrealloc(s->leases, s->cap_leases * sizeof(lease_t));
    }
    s->leases[s->nleases++] = (lease_t){id, ttl_ms, mono_us() + ttl_ms * 1000, 0};
}

static void lease_remove(hd_store_t *s, int64_t id)
{
    lease_t *l = lease_find(s, id);
    if (l) *l = s->leases[--s->nleases];
}

/* Arms the lease timer for the earliest deadline. */
static void lease_arm(hd_store_t *s)
{
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < s->nleases; i++)
        if (!s->leases[i].revoking && s->leases[i].expires_us < first)
            first = s->leases[i].expires_us;
    if (first == INT64_MAX || s->closing) {
        evtimer_del(s->lease_ev);
        return;
    }
    int64_t d = first - mono_us();
    if (d < 0) d = 0;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(s->lease_ev, &tv);
}

static void lease_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    hd_store_t *s = arg;
    int64_t now = mono_us();
    (void)fd, (void)what;
    for (size_t i = 0; i < s->nleases; i++) {
        lease_t *l = &s->leases[i];
        if (l->revoking || l->expires_us > now) continue;
        l->revoking = 1;
        char *data;
        req_t *r = req_new(RQ_REVOKE, 0, 0, 0, &data);
        r->internal = 1;
        r->n1 = l->id;
        submit(s, r);
    }
    lease_arm(s);
}

static void maint_arm(hd_store_t *s, int64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    if (!s->closing) evtimer_add(s->maint_ev, &tv);
}

static void maint_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    hd_store_t *s = arg;
    (void)fd, (void)what;
    if (s->maint_inflight || s->closing) return;
    char *data;
    req_t *r = req_new(RQ_HIST_MAINT, 0, 0, 0, &data);
    r->internal = 1;
    s->maint_inflight = 1;
    submit(s, r);
}

/* Answers the requests of a finished batch, after feeding the watches. */
static void finish_batch(hd_store_t *s, req_t *batch, int64_t rev, int64_t compacted)
{
    s->compacted = compacted;
    for (req_t *r = batch; r; r = r->next) {
        if (r->kind == RQ_HIST_ADD) {
            s->hist_queued -= (int64_t)r->nrows;
            if (r->status) s->hist_failed += (int64_t)r->nrows;
        }
        if (r->kind == RQ_GRANT && r->status == 0) lease_add(s, r->n1, r->n2);
        if (r->kind == RQ_REVOKE) {
            if (r->status == 0 || r->status == HD_STORE_ENOLEASE)
                lease_remove(s, r->n1);
            else if (lease_find(s, r->n1)) /* the disk failed: try again in a second */
                *lease_find(s, r->n1) =
                    (lease_t){r->n1, lease_find(s, r->n1)->ttl_ms, mono_us() + 1000000, 0};
        }
        if (r->kind == RQ_HIST_MAINT && r->internal) {
            s->maint_inflight = 0;
            if (s->maint_us > 0) maint_arm(s, r->i2 ? MAINT_BEHIND_US : s->maint_us);
        }
    }
    lease_arm(s);
    hd_sqlite__dispatch(s, rev);
    while (batch) {
        req_t *r = batch;
        batch = r->next;
        if (r->kind == RQ_GRANT) {
            if (r->cb.lease) r->cb.lease(r->status, r->status ? 0 : r->n1, r->n2, r->arg);
        } else if (r->kind == RQ_HIST_MAINT) {
            if (r->cb.maint) r->cb.maint(r->status, r->more, r->arg);
        } else if (r->cb.write) {
            r->cb.write(r->status, &r->wr, r->arg);
        }
        free(r);
    }
}

/* Takes back a finished batch, if any; returns whether there was one. */
static int take_done(hd_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    req_t *batch = s->completed;
    int64_t rev = s->done_rev, compacted = s->done_compacted;
    s->completed = NULL;
    pthread_mutex_unlock(&s->mu);
    if (!batch) return 0;
    s->busy = 0;
    finish_batch(s, batch, rev, compacted);
    if (s->pending.head) hand_over(s);
    return 1;
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    hd_store_t *s = arg;
    uint64_t v;
    (void)what;
    /* Nonblocking: EAGAIN only means close already took the batch. */
    (void)!read(fd, &v, sizeof(v));
    take_done(s);
}

/* ---- the loop's own answers: reads, keepalives, history queries ---- */

static void do_get(hd_store_t *s, req_t *r)
{
    int rc = read_begin(s), found = 0;
    int64_t rev = 0;
    hd_store_kv_t kv = {0};
    char *mem = NULL;
    if (!rc) {
        rev = read_meta(s, "revision", &rc);
        sqlite3_stmt *st = s->r[R_GET];
        bind_blob(st, 1, r->key, r->key_len);
        int x = rc ? SQLITE_DONE : sqlite3_step(st);
        if (x == SQLITE_ROW) {
            size_t vlen = (size_t)sqlite3_column_bytes(st, 0);
            const void *v = sqlite3_column_blob(st, 0);
            mem = hd_xmalloc(vlen + 1);
            if (vlen) memcpy(mem, v, vlen);
            mem[vlen] = '\0';
            kv = (hd_store_kv_t){r->key,
                                 r->key_len,
                                 mem,
                                 vlen,
                                 sqlite3_column_int64(st, 1),
                                 sqlite3_column_int64(st, 2),
                                 sqlite3_column_int64(st, 3),
                                 sqlite3_column_int64(st, 4)};
            found = 1;
        } else if (x != SQLITE_DONE) {
            rc = hd_store__sqlite_err(x);
        }
        sqlite3_reset(st);
        read_end(s);
    }
    if (!rc && !found) rc = HD_STORE_ENOTFOUND;
    r->cb.get(rc, rc ? NULL : &kv, rev, r->arg);
    free(mem);
}

static void do_range(hd_store_t *s, req_t *r)
{
    char end[HD_STORE_KEY_MAX];
    size_t elen = hd_store__prefix_end(r->key, r->key_len, end);
    hd_store_range_t res = {0};
    hd_store_kv_t *kvs = NULL;
    size_t cap = 0, *off = NULL;
    hd_buf_t b = {0};
    int rc = read_begin(s);
    if (!rc) {
        res.revision = read_meta(s, "revision", &rc);
        sqlite3_stmt *st = s->r[elen ? R_RANGE : R_RANGE_ALL];
        /* After a key: from that key and its NUL, the next possible key. */
        if (r->n2)
            bind_blob(st, 1, r->key + r->key_len + 1, (size_t)r->n2);
        else
            bind_blob(st, 1, r->key, r->key_len);
        if (elen) bind_blob(st, 2, end, elen);
        /* One more than the limit tells whether there is more. */
        sqlite3_bind_int64(st, elen ? 3 : 2, r->n1 ? r->n1 + 1 : -1);
        int x = rc ? SQLITE_DONE : SQLITE_ROW;
        while (x == SQLITE_ROW && (x = sqlite3_step(st)) == SQLITE_ROW) {
            if (r->n1 && res.n == (size_t)r->n1) {
                res.more = 1;
                break;
            }
            if (res.n == cap) {
                cap = cap ? 2 * cap : 16;
                kvs = hd_xrealloc(kvs, cap * sizeof(*kvs));
                off = hd_xrealloc(off, 2 * cap * sizeof(*off));
            }
            size_t klen = (size_t)sqlite3_column_bytes(st, 0);
            size_t vlen = (size_t)sqlite3_column_bytes(st, 1);
            off[2 * res.n] = b.len;
            hd_buf_append(&b, sqlite3_column_blob(st, 0), klen);
            hd_buf_append(&b, "", 1);
            off[2 * res.n + 1] = b.len;
            hd_buf_append(&b, sqlite3_column_blob(st, 1), vlen);
            hd_buf_append(&b, "", 1);
            kvs[res.n++] = (hd_store_kv_t){NULL,
                                           klen,
                                           NULL,
                                           vlen,
                                           sqlite3_column_int64(st, 2),
                                           sqlite3_column_int64(st, 3),
                                           sqlite3_column_int64(st, 4),
                                           sqlite3_column_int64(st, 5)};
        }
        if (x != SQLITE_DONE && x != SQLITE_ROW) rc = hd_store__sqlite_err(x);
        sqlite3_reset(st);
        read_end(s);
    }
    for (size_t i = 0; i < res.n; i++) {
        kvs[i].key = b.data + off[2 * i];
        kvs[i].value = b.data + off[2 * i + 1];
    }
    res.kvs = kvs;
    if (rc) res = (hd_store_range_t){0};
    r->cb.range(rc, rc ? NULL : &res, r->arg);
    free(kvs);
    free(off);
    hd_buf_free(&b);
}

static void do_keepalive(hd_store_t *s, req_t *r)
{
    lease_t *l = lease_find(s, r->n1);
    if (!l || l->revoking) {
        r->cb.lease(HD_STORE_ENOLEASE, r->n1, 0, r->arg);
        return;
    }
    l->expires_us = mono_us() + l->ttl_ms * 1000;
    r->cb.lease(0, l->id, l->ttl_ms, r->arg);
}

static void do_hist_query(hd_store_t *s, req_t *r)
{
    hd_hist_point_t *pts = NULL;
    hd_hist_series_t series = {0};
    int rc = read_begin(s);
    if (!rc) {
        rc = hd_hist__query(s->rdb, &s->hconf, r->key, r->key_len, r->n1, r->n2,
                            (hd_hist_step_t)r->i1, r->n3 ? r->n3 : wall_us(), &pts, &series.n,
                            &series.step);
        read_end(s);
    }
    series.pts = pts;
    r->cb.hquery(rc, rc ? NULL : &series, r->arg);
    free(pts);
}

static void run_deferred(hd_store_t *s)
{
    req_t *r = q_take(&s->deferred);
    while (r) {
        req_t *next = r->next;
        switch (r->kind) {
        case RQ_GET:
            do_get(s, r);
            break;
        case RQ_RANGE:
            do_range(s, r);
            break;
        case RQ_KEEPALIVE:
            do_keepalive(s, r);
            break;
        case RQ_HIST_QUERY:
            do_hist_query(s, r);
            break;
        }
        free(r);
        r = next;
    }
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    run_deferred(arg);
}

/* ---- open and close ---- */

/* Schema migrations: migrations[v] takes a store from version v to v + 1.
 * Never edit a released step; add one. */
static const char *const migrations[SCHEMA_VERSION] = {
    /* 0 -> 1: keys with revisions (heed 0.1). */
    "PRAGMA application_id = 1751475556;"
    "CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta VALUES ('revision', 0);"
    "CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL, create_rev INTEGER NOT NULL,"
    " mod_rev INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;",
    /* 1 -> 2: leases, the event log for watches, result history. Events from
     * before the log existed are gone: the log starts compacted at the
     * current revision. */
    "ALTER TABLE kv ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX kv_lease ON kv(lease) WHERE lease <> 0;"
    "CREATE TABLE leases(id INTEGER PRIMARY KEY, ttl_ms INTEGER NOT NULL);"
    "CREATE TABLE events(rev INTEGER NOT NULL, seq INTEGER NOT NULL, type INTEGER NOT NULL,"
    " key BLOB NOT NULL, value BLOB, create_rev INTEGER NOT NULL DEFAULT 0,"
    " version INTEGER NOT NULL DEFAULT 0, lease INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (rev, seq)) WITHOUT ROWID;"
    "INSERT INTO meta SELECT 'compacted', value FROM meta WHERE name = 'revision';"
    "INSERT INTO meta VALUES ('lease_seq', 0);",
};

static int exec_sql(sqlite3 *db, const char *sql)
{
    return hd_store__sqlite_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc) return hd_store__sqlite_err(rc);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : hd_store__sqlite_err(rc);
}

/* The schema version of the store db, once it is known to be a heed store
 * (or an empty file) of a schema this heed can read; else an error with
 * the reason in err. */
static int schema_version(sqlite3 *db, int64_t *version, char *err, size_t errlen)
{
    int64_t app = 0, tables = 0; /* set by pragma_int; GCC -O2 cannot see it */
    int rc = pragma_int(db, "PRAGMA user_version", version);
    if (!rc) rc = pragma_int(db, "PRAGMA application_id", &app);
    if (!rc) rc = pragma_int(db, "SELECT count(*) FROM sqlite_master", &tables);
    if (rc) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return rc;
    }
    if ((app != 0 && app != APPLICATION_ID) || (*version == 0 && tables > 0)) {
        snprintf(err, errlen, "not a heed store (another program's SQLite file)");
        return HD_STORE_ECORRUPT;
    }
    if (*version > SCHEMA_VERSION) {
        snprintf(err, errlen, "schema version %lld is newer than this heed's %d: upgrade heed",
                 (long long)*version, SCHEMA_VERSION);
        return HD_STORE_ENEWER;
    }
    return 0;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int64_t version;
    int rc = schema_version(db, &version, err, errlen);
    if (rc) return rc;
    for (; version < SCHEMA_VERSION; version++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld;", (long long)version + 1);
        rc = exec_sql(db, "BEGIN IMMEDIATE");
        if (!rc) rc = exec_sql(db, migrations[version]);
        if (!rc && version + 1 == 2) rc = exec_sql(db, hd_hist__schema_v2);
        if (!rc) rc = exec_sql(db, sql);
        if (!rc) rc = exec_sql(db, "COMMIT");
        if (rc) {
            snprintf(err, errlen, "migrating the schema from version %lld: %s", (long long)version,
                     sqlite3_errmsg(db));
            (void)exec_sql(db, "ROLLBACK"); /* nothing of the step stays */
            return rc;
        }
    }
    return 0;
}

/* Opens one connection with heed's settings.
 *
 * Durability: journal_mode=WAL with synchronous=FULL. SQLite's documentation
 * (pragma.html#pragma_synchronous): in WAL mode, NORMAL syncs only at
 * checkpoints, so "a transaction committed in WAL mode with
 * synchronous=NORMAL might roll back following a power loss or system
 * crash" — it survives kill -9 (the data is in the OS), not a power cut.
 * FULL syncs the WAL at every commit, so a committed transaction survives
 * both; that is the promise of an acknowledged write. Group commit pays the
 * one fsync per batch, not per write. */
static int open_conn(const char *path, int writer, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc) goto bad;
    /* The writer waits for another process briefly; the reader must not
     * stall the loop for long (a WAL reader only waits in rare recovery). */
    sqlite3_busy_timeout(db, writer ? 5000 : 50);
    if (writer) {
        int64_t dummy;
        rc = pragma_int(db, "PRAGMA journal_mode = WAL", &dummy);
        if (!rc)
            rc = exec_sql(db, "PRAGMA synchronous = FULL;"
                              "PRAGMA journal_size_limit = 67108864;");
    } else {
        rc = exec_sql(db, "PRAGMA query_only = 1; PRAGMA cache_size = -8192;");
    }
    if (rc) {
        rc = sqlite3_errcode(db);
        goto bad;
    }
    *out = db;
    return 0;
bad:
    snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return rc ? hd_store__sqlite_err(rc) : HD_STORE_EOPEN;
}

static int prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
        if (rc) return hd_store__sqlite_err(rc);
    }
    return 0;
}

static void finalize_all(sqlite3_stmt **st, int n)
{
    for (int i = 0; i < n; i++) {
        sqlite3_finalize(st[i]);
        st[i] = NULL;
    }
}

/* Loads what the writer and the loop keep in memory: revisions and leases. */
static int load_state(hd_store_t *s)
{
    int rc = 0;
    sqlite3_stmt *st;
    s->wrev = read_meta(s, "revision", &rc);
    s->wcompacted = read_meta(s, "compacted", &rc);
    s->wlease_seq = read_meta(s, "lease_seq", &rc);
    if (rc) return rc;
    s->rev = s->wrev;
    s->compacted = s->wcompacted;
    s->next_lease = s->wlease_seq + 1;
    rc = sqlite3_prepare_v2(s->rdb, "SELECT id, ttl_ms FROM leases", -1, &st, NULL);
    if (rc) return hd_store__sqlite_err(rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        lease_add(s, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : hd_store__sqlite_err(rc);
}

static void store_free(hd_store_t *s)
{
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->work_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    if (s->hist) hd_hist__writer_close(s->hist);
    finalize_all(s->w, W__COUNT);
    finalize_all(s->r, R__COUNT);
    sqlite3_close(s->rdb);
    sqlite3_close(s->wdb);
    struct event *evs[] = {s->flush_ev, s->defer_ev, s->done_ev,
                           s->lease_ev, s->maint_ev, s->catchup_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i]) event_free(evs[i]);
    if (s->efd >= 0) close(s->efd);
    if (s->lockfd >= 0) close(s->lockfd); /* drops the flock */
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    free(s->leases);
    free(s->path);
    free(s);
}

/* One process per store: two agents on one data_dir would each serve
 * their own idea of the checks and write over each other's states.
 * SQLite's locks only order single transactions, so the store holds an
 * exclusive flock(2) on the store file for as long as it is open (the
 * kernel drops it when the process dies). On Linux flock locks and the
 * POSIX record locks SQLite takes do not interact, and an empty file is
 * a new SQLite database, so the file may be created here. */
static int lock_store(hd_store_t *s, char *detail, size_t len)
{
    s->lockfd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lockfd < 0) {
        snprintf(detail, len, "%s", strerror(errno));
        return HD_STORE_EOPEN;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno == EWOULDBLOCK) {
        snprintf(detail, len, "one agent per data_dir");
        return HD_STORE_EBUSY;
    }
    snprintf(detail, len, "flock: %s", strerror(errno));
    return HD_STORE_EIO;
}

int hd_store_open(struct event_base *base, const hd_store_config_t *cfg, hd_store_t **out,
                  char *err, size_t errlen)
{
    char detail[256] = "";
    int rc;
    if (!base || !cfg || !cfg->path || !out) return HD_STORE_EINVAL;
    hd_store_t *s = hd_xcalloc(1, sizeof(*s));
    s->base = base;
    s->path = hd_xstrdup(cfg->path);
    s->efd = -1;
    s->lockfd = -1;
    s->retention = cfg->event_retention > 0 ? cfg->event_retention : DEFAULT_RETENTION;
    s->hconf.raw_keep_ms =
        (cfg->hist_raw_keep_us > 0 ? cfg->hist_raw_keep_us : 48LL * 3600 * 1000000) / 1000;
    s->hconf.m1_keep_ms =
        (cfg->hist_1m_keep_us > 0 ? cfg->hist_1m_keep_us : 30LL * 86400 * 1000000) / 1000;
    s->hconf.h1_keep_ms =
        (cfg->hist_1h_keep_us > 0 ? cfg->hist_1h_keep_us : 365LL * 86400 * 1000000) / 1000;
    s->maint_us = cfg->hist_maint_us == 0 ? 1000000 : cfg->hist_maint_us;
    s->hist_queue_max =
        cfg->hist_queue_max_rows > 0 ? cfg->hist_queue_max_rows : HIST_QUEUE_MAX_ROWS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);

    if ((rc = lock_store(s, detail, sizeof(detail)))) goto bad;
    if ((rc = open_conn(s->path, 1, &s->wdb, detail, sizeof(detail)))) goto bad;
    if ((rc = migrate(s->wdb, detail, sizeof(detail)))) goto bad;
    if ((rc = open_conn(s->path, 0, &s->rdb, detail, sizeof(detail)))) goto bad;
    if ((rc = prepare_all(s->wdb, wsql, s->w, W__COUNT)) ||
        (rc = prepare_all(s->rdb, rsql, s->r, R__COUNT)) ||
        (rc = hd_hist__writer_open(s->wdb, &s->hconf, &s->hist)) || (rc = load_state(s))) {
        snprintf(detail, sizeof(detail), "%s", sqlite3_errmsg(s->wdb));
        goto bad;
    }

    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        snprintf(detail, sizeof(detail), "eventfd: %s", strerror(errno));
        rc = HD_STORE_EIO;
        goto bad;
    }
    s->flush_ev = event_new(base, -1, 0, flush_cb, s);
    s->defer_ev = event_new(base, -1, 0, defer_cb, s);
    s->catchup_ev = event_new(base, -1, 0, hd_sqlite__catchup_cb, s);
    s->done_ev = event_new(base, s->efd, EV_READ | EV_PERSIST, done_cb, s);
    s->lease_ev = evtimer_new(base, lease_timer_cb, s);
    s->maint_ev = evtimer_new(base, maint_timer_cb, s);
    if (!s->flush_ev || !s->defer_ev || !s->catchup_ev || !s->done_ev || !s->lease_ev ||
        !s->maint_ev || event_add(s->done_ev, NULL) != 0) {
        snprintf(detail, sizeof(detail), "cannot create loop events");
        rc = HD_STORE_EIO;
        goto bad;
    }
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        snprintf(detail, sizeof(detail), "cannot start the writer thread");
        rc = HD_STORE_EIO;
        goto bad;
    }
    s->thread_started = 1;
    lease_arm(s);
    if (s->maint_us > 0) maint_arm(s, s->maint_us);
    *out = s;
    return 0;
bad:
    if (err && errlen)
        snprintf(err, errlen, "%s: %s: %s", cfg->path, hd_store_strerror(rc), detail);
    store_free(s);
    return rc;
}

/* 0 when path can be read and written, or when it does not exist and
 * may_be_missing; else an error with the reason in detail. */
static int check_access(const char *path, int may_be_missing, char *detail, size_t len)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && may_be_missing) return 0;
        snprintf(detail, len, "%s: %s", path, strerror(errno));
        return HD_STORE_EOPEN;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(detail, len, "%s: not a regular file", path);
        return HD_STORE_EOPEN;
    }
    if (eaccess(path, R_OK | W_OK) != 0) {
        snprintf(detail, len, "%s: %s", path, strerror(errno));
        return HD_STORE_EOPEN;
    }
    return 0;
}

int hd_store_check(const char *path, char *err, size_t errlen)
{
    char detail[512] = "", side[4096];
    sqlite3 *db = NULL;
    hd_buf_t uri = {0};
    int64_t version;
    struct stat sb;
    int rc;
    if (!path) return HD_STORE_EINVAL;
    if (stat(path, &sb) != 0 && errno == ENOENT) return 0; /* hd_store_open creates it */
    if ((rc = check_access(path, 0, detail, sizeof(detail)))) goto bad;
    snprintf(side, sizeof(side), "%s-wal", path);
    if ((rc = check_access(side, 1, detail, sizeof(detail)))) goto bad;
    snprintf(side, sizeof(side), "%s-shm", path);
    if ((rc = check_access(side, 1, detail, sizeof(detail)))) goto bad;
    /* immutable=1: no lock, and no -wal or -shm opened or created. A check
     * must neither wait for a running agent nor leave files behind (made
     * by another user, they would stop the agent opening its store). It
     * reads the main file as it is on disk, which holds the schema. */
    hd_buf_puts(&uri, "file:");
    for (const char *p = path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#')
            hd_buf_printf(&uri, "%%%02X", (unsigned char)*p);
        else
            hd_buf_append(&uri, p, 1);
    }
    hd_buf_puts(&uri, "?mode=ro&immutable=1");
    rc = sqlite3_open_v2(uri.data, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    hd_buf_free(&uri);
    if (rc) {
        snprintf(detail, sizeof(detail), "%s", db ? sqlite3_errmsg(db) : "out of memory");
        rc = hd_store__sqlite_err(rc);
        goto bad;
    }
    rc = schema_version(db, &version, detail, sizeof(detail));
    if (rc) goto bad;
    sqlite3_close(db);
    return 0;
bad:
    sqlite3_close(db);
    if (err && errlen) snprintf(err, errlen, "%s: %s: %s", path, hd_store_strerror(rc), detail);
    return rc ? rc : HD_STORE_EOPEN;
}

void hd_store_flush(hd_store_t *s)
{
    if (!s) return;
    /* The eventfd's later wake-up finds nothing to take: harmless. */
    while (s->busy || s->pending.head) {
        if (!s->busy) hand_over(s);
        pthread_mutex_lock(&s->mu);
        while (!s->completed)
            pthread_cond_wait(&s->done_cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
        take_done(s);
    }
}

void hd_store_close(hd_store_t *s)
{
    if (!s) return;
    s->closing = 1;
    hd_store_flush(s); /* every write already asked for is committed and answered */
    while (s->deferred.head)
        run_deferred(s);
    for (hd_store_watch_t *w = s->watches; w; w = w->next)
        w->dead = 1;
    hd_sqlite__watch_free_dead(s);
    store_free(s);
}

int64_t hd_store_revision(const hd_store_t *s)
{
    return s ? s->rev : 0;
}

/* ---- requests ---- */

int hd_store_get(hd_store_t *s, const char *key, size_t key_len, hd_store_get_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 1);
    if (rc || (rc = hd_store__check_key(key, key_len))) return rc;
    req_t *r = req_key(RQ_GET, key, key_len);
    r->cb.get = cb;
    r->arg = arg;
    defer(s, r);
    return 0;
}

int hd_store_range(hd_store_t *s, const char *prefix, size_t prefix_len, size_t limit,
                   hd_store_range_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 1);
    if (rc) return rc;
    if (prefix_len > HD_STORE_KEY_MAX || (prefix_len && !prefix)) return HD_STORE_EKEY;
    req_t *r = req_key(RQ_RANGE, prefix, prefix_len);
    r->n1 = (int64_t)limit;
    r->cb.range = cb;
    r->arg = arg;
    defer(s, r);
    return 0;
}

int hd_store_range_after(hd_store_t *s, const char *prefix, size_t prefix_len, const char *after,
                         size_t after_len, size_t limit, hd_store_range_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 1);
    if (rc) return rc;
    if (prefix_len > HD_STORE_KEY_MAX || (prefix_len && !prefix)) return HD_STORE_EKEY;
    if ((rc = hd_store__check_key(after, after_len))) return rc;
    if (after_len < prefix_len || memcmp(after, prefix, prefix_len) != 0) return HD_STORE_EKEY;
    char *data;
    req_t *r = req_new(RQ_RANGE, 0, 0, prefix_len + 1 + after_len + 1, &data);
    r->key = copy_bytes(&data, prefix, prefix_len);
    r->key_len = prefix_len;
    (void)copy_bytes(&data, after, after_len); /* right after the prefix's NUL */
    r->n2 = (int64_t)after_len + 1;            /* with its NUL: the first key past it */
    r->n1 = (int64_t)limit;
    r->cb.range = cb;
    r->arg = arg;
    defer(s, r);
    return 0;
}

int hd_store_txn(hd_store_t *s, const hd_store_cmp_t *cmps, size_t ncmp, const hd_store_op_t *ops,
                 size_t nops, hd_store_write_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 0);
    if (rc || (rc = hd_store__check_txn(cmps, ncmp, ops, nops))) return rc;
    size_t bytes = 0;
    for (size_t i = 0; i < ncmp; i++)
        bytes += cmps[i].key_len + 1;
    for (size_t i = 0; i < nops; i++)
        bytes += ops[i].key_len + 1 + (ops[i].kind == HD_STORE_OP_PUT ? ops[i].value_len + 1 : 0);
    char *data;
    req_t *r = req_new(RQ_TXN, ncmp, nops, bytes, &data);
    for (size_t i = 0; i < ncmp; i++) {
        r->cmps[i] = cmps[i];
        r->cmps[i].key = copy_bytes(&data, cmps[i].key, cmps[i].key_len);
    }
    for (size_t i = 0; i < nops; i++) {
        r->ops[i] = ops[i];
        r->ops[i].key = copy_bytes(&data, ops[i].key, ops[i].key_len);
        if (ops[i].kind == HD_STORE_OP_PUT)
            r->ops[i].value = copy_bytes(&data, ops[i].value, ops[i].value_len);
        else
            r->ops[i].value = NULL, r->ops[i].value_len = 0, r->ops[i].lease = 0;
    }
    r->cb.write = cb;
    r->arg = arg;
    submit(s, r);
    return 0;
}

int hd_store_put(hd_store_t *s, const char *key, size_t key_len, const char *value,
                 size_t value_len, int64_t lease, hd_store_write_cb cb, void *arg)
{
    hd_store_op_t op = {HD_STORE_OP_PUT, key, key_len, value, value_len, lease};
    return hd_store_txn(s, NULL, 0, &op, 1, cb, arg);
}

int hd_store_delete(hd_store_t *s, const char *key, size_t key_len, hd_store_write_cb cb, void *arg)
{
    hd_store_op_t op = {HD_STORE_OP_DELETE, key, key_len, NULL, 0, 0};
    return hd_store_txn(s, NULL, 0, &op, 1, cb, arg);
}

int hd_store_delete_prefix(hd_store_t *s, const char *prefix, size_t prefix_len,
                           hd_store_write_cb cb, void *arg)
{
    hd_store_op_t op = {HD_STORE_OP_DELETE_PREFIX, prefix, prefix_len, NULL, 0, 0};
    return hd_store_txn(s, NULL, 0, &op, 1, cb, arg);
}

int hd_store_lease_grant(hd_store_t *s, int64_t ttl_ms, hd_store_lease_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 1);
    if (rc) return rc;
    if (ttl_ms < 1 || ttl_ms > 1000LL * 86400 * 365) return HD_STORE_EINVAL;
    char *data;
    req_t *r = req_new(RQ_GRANT, 0, 0, 0, &data);
    r->n1 = s->next_lease++;
    r->n2 = ttl_ms;
    r->cb.lease = cb;
    r->arg = arg;
    submit(s, r);
    return 0;
}

int hd_store_lease_keepalive(hd_store_t *s, int64_t lease, hd_store_lease_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 1);
    if (rc) return rc;
    if (lease <= 0) return HD_STORE_EINVAL;
    char *data;
    req_t *r = req_new(RQ_KEEPALIVE, 0, 0, 0, &data);
    r->n1 = lease;
    r->cb.lease = cb;
    r->arg = arg;
    defer(s, r);
    return 0;
}

int hd_store_lease_revoke(hd_store_t *s, int64_t lease, hd_store_write_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 0);
    if (rc) return rc;
    if (lease <= 0) return HD_STORE_EINVAL;
    char *data;
    req_t *r = req_new(RQ_REVOKE, 0, 0, 0, &data);
    r->n1 = lease;
    r->cb.write = cb;
    r->arg = arg;
    submit(s, r);
    return 0;
}

int hd_store_compact(hd_store_t *s, int64_t revision, hd_store_write_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 0);
    if (rc) return rc;
    if (revision < 0) return HD_STORE_EINVAL;
    char *data;
    req_t *r = req_new(RQ_COMPACT, 0, 0, 0, &data);
    r->n1 = revision;
    r->cb.write = cb;
    r->arg = arg;
    submit(s, r);
    return 0;
}

/* ---- history requests (history.h); the SQL is in history.c ---- */

int hd_store_history_add_batch(hd_store_t *s, const hd_hist_row_t *rows, size_t n,
                               hd_store_write_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 0);
    if (rc) return rc;
    if (n && !rows) return HD_STORE_EINVAL;
    /* The rows that fit under the limit are the first ones; the rest are
     * dropped, but still checked: a bad row refuses the call either way. */
    int64_t room = s->hist_queue_max - s->hist_queued;
    size_t keep = room <= 0 ? 0 : (uint64_t)room < n ? (size_t)room : n;
    size_t bytes = keep * sizeof(hd_hist_row_t);
    for (size_t i = 0; i < n; i++) {
        const hd_hist_row_t *h = &rows[i];
        size_t len = h->check_id ? strlen(h->check_id) : 0;
        if ((rc = hd_store__check_key(h->check_id, len))) return rc;
        if (h->ts_us < 0 || h->latency_us < 0 || (unsigned)h->status > HD_CHECK_MAINTENANCE)
            return HD_STORE_EINVAL;
        if (i < keep) bytes += len + 1;
    }
    s->hist_dropped += (int64_t)(n - keep);
    if (!keep && !cb) return 0;
    char *data;
    req_t *r = req_new(RQ_HIST_ADD, 0, 0, bytes, &data);
    r->rows = (hd_hist_row_t *)(void *)data; /* right after the request: aligned as it is */
    r->nrows = keep;
    data += keep * sizeof(hd_hist_row_t);
    for (size_t i = 0; i < keep; i++) {
        r->rows[i] = rows[i];
        r->rows[i].check_id = copy_bytes(&data, rows[i].check_id, strlen(rows[i].check_id));
    }
    s->hist_queued += (int64_t)keep;
    r->cb.write = cb;
    r->arg = arg;
    submit(s, r);
    return 0;
}

int hd_store_history_add(hd_store_t *s, const char *check_id, int64_t ts_us,
                         hd_check_status_t status, int reason, int64_t latency_us,
                         hd_store_write_cb cb, void *arg)
{
    hd_hist_row_t row = {check_id, ts_us, status, reason, latency_us};
    return hd_store_history_add_batch(s, &row, 1, cb, arg);
}

int64_t hd_store_history_dropped(const hd_store_t *s)
{
    return s ? s->hist_dropped : 0;
}

int64_t hd_store_history_failed(const hd_store_t *s)
{
    return s ? s->hist_failed : 0;
}

int hd_store_history_query(hd_store_t *s, const char *check_id, int64_t since_us, int64_t until_us,
                           hd_hist_step_t step, int64_t now_us, hd_hist_query_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 1);
    if (rc) return rc;
    size_t len = check_id ? strlen(check_id) : 0;
    if ((rc = hd_store__check_key(check_id, len))) return rc;
    if (since_us < 0 || until_us < since_us || (unsigned)step > HD_HIST_1H || now_us < 0)
        return HD_STORE_EINVAL;
    req_t *r = req_key(RQ_HIST_QUERY, check_id, len);
    r->n1 = since_us;
    r->n2 = until_us;
    r->n3 = now_us;
    r->i1 = (int)step;
    r->cb.hquery = cb;
    r->arg = arg;
    defer(s, r);
    return 0;
}

int hd_store_history_rename(hd_store_t *s, const char *from, const char *to, hd_store_write_cb cb,
                            void *arg)
{
    int rc = refuse(s, (const void *)cb, 0);
    if (rc) return rc;
    size_t flen = from ? strlen(from) : 0, tlen = to ? strlen(to) : 0;
    if ((rc = hd_store__check_key(from, flen)) || (rc = hd_store__check_key(to, tlen))) return rc;
    char *data;
    req_t *r = req_new(RQ_HIST_RENAME, 0, 0, flen + 1 + tlen + 1, &data);
    r->key = copy_bytes(&data, from, flen);
    r->key_len = flen;
    (void)copy_bytes(&data, to, tlen); /* right after from's NUL */
    r->n1 = (int64_t)tlen;
    r->cb.write = cb;
    r->arg = arg;
    submit(s, r);
    return 0;
}

int hd_store_history_maintain(hd_store_t *s, int64_t now_us, hd_hist_maint_cb cb, void *arg)
{
    int rc = refuse(s, (const void *)cb, 0);
    if (rc) return rc;
    if (now_us < 0) return HD_STORE_EINVAL;
    char *data;
    req_t *r = req_new(RQ_HIST_MAINT, 0, 0, 0, &data);
    r->n1 = now_us;
    r->cb.maint = cb;
    r->arg = arg;
    submit(s, r);
    return 0;
}
