/* history — the SQL of result history (history.h): the tables, storing a
 * result, the rollup/prune slice (writer thread) and queries (the loop's
 * read connection). The requests themselves are queued by sqlite.c.
 *
 * Layout. Checks are numbered in hist_checks so rows carry a small integer,
 * not the id string. Every table is WITHOUT ROWID keyed (chk, ts), so one
 * check's rows are contiguous and a query is one index range. Times are
 * milliseconds since the epoch. Rollups keep the latency sum, not the mean,
 * so buckets merge exactly. hist_checks.wm_1m / wm_1h are the watermarks:
 * every raw row before wm_1m has been rolled into hist_1m (and every 1m row
 * before wm_1h into hist_1h); a result stored with a time before its check's
 * watermark (very late) stays in raw only.
 *
 * Size, measured by bench/store (bench_store: 600,000 results of 1,000
 * checks interleaved as the agent writes them, rolled up; SQLite's dbstat
 * pages / rows; SQLite 3.40, 4 KiB pages, ext4): raw 21.3 bytes/row, 1m
 * 32.0, 1h 38.0 (bigger sums). For 10,000 checks at a 10 s interval:
 *   raw 48 h:    10,000 × 8,640/day × 2   = 172.8 M rows × 21.3 B ≈  3.7 GB
 *   1m 30 days:  10,000 × 1,440/day × 30  = 432.0 M rows × 32.0 B ≈ 13.8 GB
 *   1h 365 days: 10,000 × 24/day × 365    =  87.6 M rows × 38.0 B ≈  3.3 GB
 *   total ≈ 20.8 GB, flat once a year has passed (retention bounds it), plus
 *   the WAL (journal_size_limit 64 MiB). Per check: ≈ 2.1 MB.
 * The per-minute table dominates: at a 10 s interval a minute holds only 6
 * results. hd_store_config_t's hist_*_keep_us trade detail for size: 1m
 * kept 7 days instead of 30 → 3.2 GB, total ≈ 10.2 GB. */
#include "store/store_impl.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define MIN_MS       60000LL
#define HOUR_MS      3600000LL
#define GRACE_MS     5000LL /* a bucket is rolled up this long after it ends */
#define SLICE_CHECKS 256    /* checks one slice visits */
#define SLICE_ROWS   4096   /* rows one slice reads or deletes, about */

const char hd_hist__schema_v2[] =
    "CREATE TABLE hist_checks(id INTEGER PRIMARY KEY, name BLOB NOT NULL UNIQUE,"
    " wm_1m INTEGER NOT NULL DEFAULT 0, wm_1h INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE hist_raw(chk INTEGER NOT NULL, ts INTEGER NOT NULL, status INTEGER NOT NULL,"
    " reason INTEGER NOT NULL, lat INTEGER NOT NULL, PRIMARY KEY (chk, ts)) WITHOUT ROWID;"
    "CREATE TABLE hist_1m(chk INTEGER NOT NULL, ts INTEGER NOT NULL, n INTEGER NOT NULL,"
    " ok INTEGER NOT NULL, lat_min INTEGER NOT NULL, lat_sum INTEGER NOT NULL,"
    " lat_max INTEGER NOT NULL, worst INTEGER NOT NULL, PRIMARY KEY (chk, ts)) WITHOUT ROWID;"
    "CREATE TABLE hist_1h(chk INTEGER NOT NULL, ts INTEGER NOT NULL, n INTEGER NOT NULL,"
    " ok INTEGER NOT NULL, lat_min INTEGER NOT NULL, lat_sum INTEGER NOT NULL,"
    " lat_max INTEGER NOT NULL, worst INTEGER NOT NULL, PRIMARY KEY (chk, ts)) WITHOUT ROWID;";

enum {
    H_FIND,
    H_NEW,
    H_ADD,
    H_SLICE,
    H_RAW_FROM,
    H_1M_FROM,
    H_PUT_1M,
    H_PUT_1H,
    H_SET_WM,
    H_PRUNE_RAW,
    H_PRUNE_1M,
    H_PRUNE_1H,
    H__COUNT
};

#define PRUNE(t)                                                                                   \
    "DELETE FROM " t " WHERE chk = ?1 AND ts IN (SELECT ts FROM " t                                \
    " WHERE chk = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3)"

static const char *const hsql[H__COUNT] = {
    [H_FIND] = "SELECT id FROM hist_checks WHERE name = ?1",
    [H_NEW] = "INSERT INTO hist_checks(name) VALUES (?1)",
    [H_ADD] = "INSERT OR REPLACE INTO hist_raw(chk, ts, status, reason, lat) "
              "VALUES (?1, ?2, ?3, ?4, ?5)",
    [H_SLICE] = "SELECT id, wm_1m, wm_1h FROM hist_checks WHERE id > ?1 ORDER BY id LIMIT ?2",
    [H_RAW_FROM] = "SELECT ts, 1, status = 0, lat, lat, lat, status, reason FROM hist_raw "
                   "WHERE chk = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    [H_1M_FROM] = "SELECT ts, n, ok, lat_min, lat_sum, lat_max, worst, 0 FROM hist_1m "
                  "WHERE chk = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    [H_PUT_1M] = "INSERT OR REPLACE INTO hist_1m VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [H_PUT_1H] = "INSERT OR REPLACE INTO hist_1h VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [H_SET_WM] = "UPDATE hist_checks SET wm_1m = ?2, wm_1h = ?3 WHERE id = ?1",
    [H_PRUNE_RAW] = PRUNE("hist_raw"),
    [H_PRUNE_1M] = PRUNE("hist_1m"),
    [H_PRUNE_1H] = PRUNE("hist_1h"),
};

struct hd_hist_writer_s {
    sqlite3 *db;
    hd_hist_conf_t conf;
    sqlite3_stmt *st[H__COUNT];
    int64_t cursor; /* the last hist_checks.id the slices visited */
};

/* One bucket being summed up. */
typedef struct agg_s {
    int64_t ts, n, ok, lat_min, lat_sum, lat_max;
    int worst, reason;
} agg_t;

/* Severity, for "worst": critical > warning > maintenance > passing. */
static int rank(int status)
{
    static const int r[] = {[HD_CHECK_PASSING] = 0,
                            [HD_CHECK_WARNING] = 2,
                            [HD_CHECK_CRITICAL] = 3,
                            [HD_CHECK_MAINTENANCE] = 1};
    return status >= 0 && status <= HD_CHECK_MAINTENANCE ? r[status] : 3;
}

/* Reads a row of H_RAW_FROM or H_1M_FROM (same columns) into a. */
static void agg_read(sqlite3_stmt *st, agg_t *a)
{
    a->ts = sqlite3_column_int64(st, 0);
    a->n = sqlite3_column_int64(st, 1);
    a->ok = sqlite3_column_int64(st, 2);
    a->lat_min = sqlite3_column_int64(st, 3);
    a->lat_sum = sqlite3_column_int64(st, 4);
    a->lat_max = sqlite3_column_int64(st, 5);
    a->worst = sqlite3_column_int(st, 6);
    a->reason = sqlite3_column_int(st, 7);
}

/* Adds b into a (same bucket). */
static void agg_merge(agg_t *a, const agg_t *b)
{
    a->n += b->n;
    a->ok += b->ok;
    a->lat_sum += b->lat_sum;
    if (b->lat_min < a->lat_min) a->lat_min = b->lat_min;
    if (b->lat_max > a->lat_max) a->lat_max = b->lat_max;
    if (rank(b->worst) > rank(a->worst)) a->worst = b->worst;
    a->reason = 0;
}

static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : hd_store__sqlite_err(rc);
}

int hd_hist__writer_open(sqlite3 *db, const hd_hist_conf_t *conf, hd_hist_writer_t **out)
{
    hd_hist_writer_t *w = hd_xcalloc(1, sizeof(*w));
    w->db = db;
    w->conf = *conf;
    for (int i = 0; i < H__COUNT; i++) {
        int rc = sqlite3_prepare_v3(db, hsql[i], -1, SQLITE_PREPARE_PERSISTENT, &w->st[i], NULL);
        if (rc) {
            hd_hist__writer_close(w);
            return hd_store__sqlite_err(rc);
        }
    }
    *out = w;
    return 0;
}

void hd_hist__writer_close(hd_hist_writer_t *w)
{
    if (!w) return;
    for (int i = 0; i < H__COUNT; i++)
        sqlite3_finalize(w->st[i]);
    free(w);
}

/* The number of check name (len bytes): 0 and *num, 1 when there is none,
 * or an error. */
static int find_num(hd_hist_writer_t *w, const char *name, size_t len, int64_t *num)
{
    sqlite3_stmt *st = w->st[H_FIND];
    sqlite3_bind_blob64(st, 1, name, len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *num = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    return rc == SQLITE_DONE ? 1 : hd_store__sqlite_err(rc);
}

/* The number of a check, made on first use. */
static int check_num(hd_hist_writer_t *w, const char *id, size_t len, int64_t *num)
{
    int rc = find_num(w, id, len, num);
    if (rc <= 0) return rc;
    sqlite3_stmt *st = w->st[H_NEW];
    sqlite3_bind_blob64(st, 1, id, len, SQLITE_STATIC);
    if ((rc = run(st))) return rc;
    *num = sqlite3_last_insert_rowid(w->db);
    return 0;
}

int hd_hist__add(hd_hist_writer_t *w, const hd_hist_row_t *rows, size_t n)
{
    sqlite3_stmt *st = w->st[H_ADD];
    for (size_t i = 0; i < n; i++) {
        const hd_hist_row_t *h = &rows[i];
        int64_t chk = 0;
        int rc = check_num(w, h->check_id, strlen(h->check_id), &chk);
        if (rc) return rc;
        sqlite3_bind_int64(st, 1, chk);
        sqlite3_bind_int64(st, 2, h->ts_us / 1000);
        sqlite3_bind_int(st, 3, (int)h->status);
        sqlite3_bind_int(st, 4, h->reason);
        sqlite3_bind_int64(st, 5, h->latency_us);
        if ((rc = run(st))) return rc;
    }
    return 0;
}

static int put_bucket(sqlite3_stmt *st, int64_t chk, const agg_t *a)
{
    sqlite3_bind_int64(st, 1, chk);
    sqlite3_bind_int64(st, 2, a->ts);
    sqlite3_bind_int64(st, 3, a->n);
    sqlite3_bind_int64(st, 4, a->ok);
    sqlite3_bind_int64(st, 5, a->lat_min);
    sqlite3_bind_int64(st, 6, a->lat_sum);
    sqlite3_bind_int64(st, 7, a->lat_max);
    sqlite3_bind_int(st, 8, a->worst);
    return run(st);
}

/* Rolls the rows of chk in [from, limit) read by sel into buckets of
 * bucket_ms written by put. Stops early, at a bucket boundary, once
 * *budget rows are read. *wm: where the next roll starts. */
static int roll(sqlite3_stmt *sel, sqlite3_stmt *put, int64_t chk, int64_t from, int64_t limit,
                int64_t bucket_ms, int64_t *budget, int64_t *wm)
{
    agg_t cur = {0}, row;
    int have = 0, rc = 0, r;
    *wm = from;
    if (limit <= from) return 0;
    *wm = limit;
    sqlite3_bind_int64(sel, 1, chk);
    sqlite3_bind_int64(sel, 2, from);
    sqlite3_bind_int64(sel, 3, limit);
    while ((r = sqlite3_step(sel)) == SQLITE_ROW) {
        agg_read(sel, &row);
        row.ts -= row.ts % bucket_ms;
        if (have && row.ts != cur.ts) {
            if ((rc = put_bucket(put, chk, &cur))) break;
            have = 0;
            if (*budget <= 0) {
                *wm = row.ts;
                break;
            }
        }
        if (have)
            agg_merge(&cur, &row);
        else
            cur = row, have = 1;
        (*budget)--;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) rc = hd_store__sqlite_err(r);
    sqlite3_reset(sel);
    if (!rc && have) rc = put_bucket(put, chk, &cur);
    return rc;
}

/* Deletes up to *budget rows of chk older than cutoff. */
static int prune(sqlite3_stmt *st, sqlite3 *db, int64_t chk, int64_t cutoff, int64_t *budget)
{
    if (*budget <= 0) return 0;
    sqlite3_bind_int64(st, 1, chk);
    sqlite3_bind_int64(st, 2, cutoff);
    sqlite3_bind_int64(st, 3, *budget);
    int rc = run(st);
    if (!rc) *budget -= sqlite3_changes64(db);
    return rc;
}

static int64_t floor_to(int64_t t, int64_t step)
{
    return t < 0 ? 0 : t - t % step;
}

/* One check's rollups and pruning. */
static int maintain_one(hd_hist_writer_t *w, int64_t chk, int64_t wm1m, int64_t wm1h, int64_t now,
                        int64_t *budget)
{
    int64_t new1m, new1h;
    int rc = roll(w->st[H_RAW_FROM], w->st[H_PUT_1M], chk, wm1m, floor_to(now - GRACE_MS, MIN_MS),
                  MIN_MS, budget, &new1m);
    if (rc) return rc;
    int64_t lim1h = floor_to(now - GRACE_MS, HOUR_MS);
    if (floor_to(new1m, HOUR_MS) < lim1h) lim1h = floor_to(new1m, HOUR_MS);
    rc = roll(w->st[H_1M_FROM], w->st[H_PUT_1H], chk, wm1h, lim1h, HOUR_MS, budget, &new1h);
    if (rc) return rc;
    if (new1m != wm1m || new1h != wm1h) {
        sqlite3_stmt *st = w->st[H_SET_WM];
        sqlite3_bind_int64(st, 1, chk);
        sqlite3_bind_int64(st, 2, new1m);
        sqlite3_bind_int64(st, 3, new1h);
        if ((rc = run(st))) return rc;
    }
    /* Only what has been rolled up may go. */
    int64_t cut = now - w->conf.raw_keep_ms;
    if ((rc = prune(w->st[H_PRUNE_RAW], w->db, chk, cut < new1m ? cut : new1m, budget))) return rc;
    cut = now - w->conf.m1_keep_ms;
    if ((rc = prune(w->st[H_PRUNE_1M], w->db, chk, cut < new1h ? cut : new1h, budget))) return rc;
    return prune(w->st[H_PRUNE_1H], w->db, chk, now - w->conf.h1_keep_ms, budget);
}

/* Runs sql with ?1 = to and ?2 = from (numbers of hist_checks). */
static int exec2(sqlite3 *db, const char *sql, int64_t to, int64_t from)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc) return hd_store__sqlite_err(rc);
    sqlite3_bind_int64(st, 1, to);
    sqlite3_bind_int64(st, 2, from);
    rc = run(st);
    sqlite3_finalize(st);
    return rc;
}

int hd_hist__rename(hd_hist_writer_t *w, const char *from, size_t from_len, const char *to,
                    size_t to_len)
{
    int64_t f = 0, t = 0; /* set by find_num; GCC -O2 cannot see it */
    int rc = find_num(w, from, from_len, &f);
    if (rc) return rc == 1 ? 0 : rc; /* no history under that name: nothing to do */
    rc = find_num(w, to, to_len, &t);
    if (rc < 0) return rc;
    if (rc == 1) { /* the usual case: the rows keep their number, the name changes */
        sqlite3_stmt *st;
        if ((rc = sqlite3_prepare_v2(w->db, "UPDATE hist_checks SET name = ?1 WHERE id = ?2", -1,
                                     &st, NULL)))
            return hd_store__sqlite_err(rc);
        sqlite3_bind_blob64(st, 1, to, to_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, f);
        rc = run(st);
        sqlite3_finalize(st);
        return rc;
    }
    /* Both names hold rows (rows arrived under the new name before the
     * rename ran): the old rows join the new name's, which win a clash of
     * timestamps. Rollups already made under either name stay as they are. */
    static const char *const merge[] = {
        "UPDATE OR IGNORE hist_raw SET chk = ?1 WHERE chk = ?2",
        "UPDATE OR IGNORE hist_1m SET chk = ?1 WHERE chk = ?2",
        "UPDATE OR IGNORE hist_1h SET chk = ?1 WHERE chk = ?2",
        "DELETE FROM hist_raw WHERE chk = ?2",
        "DELETE FROM hist_1m WHERE chk = ?2",
        "DELETE FROM hist_1h WHERE chk = ?2",
        "DELETE FROM hist_checks WHERE id = ?2",
    };
    for (size_t i = 0; i < sizeof(merge) / sizeof(merge[0]) && !rc; i++)
        rc = exec2(w->db, merge[i], t, f);
    return rc;
}

int hd_hist__maintain(hd_hist_writer_t *w, int64_t now_us, int *more, int *behind)
{
    int64_t now = now_us / 1000, budget = SLICE_ROWS;
    int64_t ids[SLICE_CHECKS][3];
    int n = 0, rc;
    sqlite3_stmt *st = w->st[H_SLICE];
    *more = *behind = 0;
    sqlite3_bind_int64(st, 1, w->cursor);
    sqlite3_bind_int64(st, 2, SLICE_CHECKS);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < SLICE_CHECKS) {
        for (int i = 0; i < 3; i++)
            ids[n][i] = sqlite3_column_int64(st, i);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return hd_store__sqlite_err(rc);
    for (int i = 0; i < n; i++) {
        if (budget <= 0) {
            *more = *behind = 1;
            return 0;
        }
        if ((rc = maintain_one(w, ids[i][0], ids[i][1], ids[i][2], now, &budget))) return rc;
        w->cursor = ids[i][0];
    }
    if (budget <= 0) *behind = 1;
    if (n == SLICE_CHECKS || *behind) {
        *more = 1;
    } else {
        w->cursor = 0; /* a full round: start over next time */
    }
    return 0;
}

/* ---- queries (the loop's read connection) ---- */

typedef struct series_s {
    agg_t *a;
    size_t n, cap;
    int64_t bucket_ms; /* 0: raw, no merging */
} series_t;

static void series_add(series_t *s, agg_t *row)
{
    if (s->bucket_ms) row->ts -= row->ts % s->bucket_ms;
    if (s->bucket_ms && s->n && s->a[s->n - 1].ts == row->ts) {
        agg_merge(&s->a[s->n - 1], row);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->a = hd_xrealloc(s->a, s->cap * sizeof(*s->a));
    }
    s->a[s->n++] = *row;
}

/* Adds the rows of chk in [from, until) of table sql to the series. */
static int series_read(sqlite3 *db, const char *sql, int64_t chk, int64_t from, int64_t until,
                       series_t *s)
{
    sqlite3_stmt *st;
    agg_t row;
    if (until <= from) return 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc) return hd_store__sqlite_err(rc);
    sqlite3_bind_int64(st, 1, chk);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, until);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        agg_read(st, &row);
        series_add(s, &row);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : hd_store__sqlite_err(rc);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int hd_hist__query(sqlite3 *db, const hd_hist_conf_t *conf, const char *check_id, size_t id_len,
                   int64_t since_us, int64_t until_us, hd_hist_step_t step, int64_t now_us,
                   hd_hist_point_t **pts, size_t *n, hd_hist_step_t *used)
{
    static const char h1[] = "SELECT ts, n, ok, lat_min, lat_sum, lat_max, worst, 0 FROM hist_1h "
                             "WHERE chk = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts";
    /* until rounds up to the millisecond; INT64_MAX ("no end") must not overflow. */
    int64_t now = now_us / 1000, since = since_us / 1000,
            until = until_us / 1000 + (until_us % 1000 != 0);
    int64_t chk = 0, wm1m = 0, wm1h = 0;
    series_t s = {0};
    sqlite3_stmt *st;
    *pts = NULL;
    *n = 0;
    /* The finest table that still reaches back to since. */
    if (step == HD_HIST_RAW && since < now - conf->raw_keep_ms) step = HD_HIST_1M;
    if (step == HD_HIST_1M && since < now - conf->m1_keep_ms) step = HD_HIST_1H;
    *used = step;

    int rc = sqlite3_prepare_v2(db, "SELECT id, wm_1m, wm_1h FROM hist_checks WHERE name = ?1", -1,
                                &st, NULL);
    if (rc) return hd_store__sqlite_err(rc);
    sqlite3_bind_blob64(st, 1, check_id, id_len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        chk = sqlite3_column_int64(st, 0);
        wm1m = sqlite3_column_int64(st, 1);
        wm1h = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0; /* never seen: no history */
    if (rc != SQLITE_ROW) return hd_store__sqlite_err(rc);

    /* Each table up to its watermark, the finer one after it. */
    const char *raw = hsql[H_RAW_FROM], *m1 = hsql[H_1M_FROM];
    if (step == HD_HIST_RAW) {
        rc = series_read(db, raw, chk, since, until, &s);
    } else if (step == HD_HIST_1M) {
        s.bucket_ms = MIN_MS;
        since = floor_to(since, MIN_MS);
        rc = series_read(db, m1, chk, since, min64(until, wm1m), &s);
        if (!rc) rc = series_read(db, raw, chk, max64(since, wm1m), until, &s);
    } else {
        s.bucket_ms = HOUR_MS;
        since = floor_to(since, HOUR_MS);
        rc = series_read(db, h1, chk, since, min64(until, wm1h), &s);
        if (!rc) rc = series_read(db, m1, chk, max64(since, wm1h), min64(until, wm1m), &s);
        if (!rc) rc = series_read(db, raw, chk, max64(since, max64(wm1h, wm1m)), until, &s);
    }
    if (rc) {
        free(s.a);
        return rc;
    }
    hd_hist_point_t *p = hd_xcalloc(s.n ? s.n : 1, sizeof(*p));
    for (size_t i = 0; i < s.n; i++) {
        const agg_t *a = &s.a[i];
        p[i] = (hd_hist_point_t){a->ts * 1000,
                                 a->n,
                                 a->ok,
                                 a->lat_min,
                                 a->n ? a->lat_sum / a->n : 0,
                                 a->lat_max,
                                 (hd_check_status_t)a->worst,
                                 a->reason};
    }
    free(s.a);
    *pts = p;
    *n = s.n;
    return 0;
}

const char *hd_hist_step_str(hd_hist_step_t step)
{
    switch (step) {
    case HD_HIST_RAW:
        return "raw";
    case HD_HIST_1M:
        return "1m";
    case HD_HIST_1H:
        return "1h";
    }
    return "?";
}
