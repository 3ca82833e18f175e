/* bench_store — throughput of the SQLite store (src/store) on this disk.
 *
 *   durable puts/s  N puts of a 100-byte value from C requests kept in
 *                   flight on one loop (a new put from each callback), each
 *                   acknowledged only after its group commit is synced
 *                   (synchronous=FULL); for several C
 *   reads/s         gets of random existing keys, 1,000 in flight
 *   range/s         ranges of 100 keys
 *   history bytes   bytes per row of each history table, from SQLite's dbstat
 *                   after 600,000 results of 1,000 checks (10 s interval,
 *                   100 minutes, interleaved as the agent writes them) and
 *                   their rollups
 *
 * usage: bench_store DIR   (DIR on the disk to measure; not tmpfs)
 * Prints "key value" lines; bench/store formats them into RESULTS.md. */
#include "store/history.h"
#include "store/store.h"

#include <event2/event.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_s {
    struct event_base *base;
    hd_store_t *s;
    char path[512];
    int64_t issued, done, total, failed;
    int nkeys;
} bench_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, hd_store_strerror(rc));
    exit(1);
}

static void open_store(bench_t *b)
{
    hd_store_config_t cfg = {.path = b->path, .hist_maint_us = -1};
    char err[512];
    int rc = hd_store_open(b->base, &cfg, &b->s, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bench_store: %s\n", err);
        exit(1);
    }
}

static void run_until_done(bench_t *b)
{
    while (b->done < b->total)
        event_base_loop(b->base, EVLOOP_ONCE);
}

static void put_next(bench_t *b);

static void put_cb(int status, const hd_store_write_result_t *r, void *arg)
{
    bench_t *b = arg;
    (void)r;
    if (status) b->failed++;
    b->done++;
    if (b->issued < b->total) put_next(b);
}

static void put_next(bench_t *b)
{
    char key[64], val[101];
    int64_t i = b->issued++;
    snprintf(key, sizeof(key), "heed/kv/bench/%06lld", (long long)(i % b->nkeys));
    memset(val, 'v', 100);
    int rc = hd_store_put(b->s, key, strlen(key), val, 100, 0, put_cb, b);
    if (rc) die("put", rc);
}

static double bench_puts(bench_t *b, int inflight, int64_t total)
{
    b->issued = b->done = b->failed = 0;
    b->total = total;
    double t0 = now_s();
    for (int i = 0; i < inflight && b->issued < total; i++)
        put_next(b);
    run_until_done(b);
    double dt = now_s() - t0;
    if (b->failed) die("puts failed", HD_STORE_EIO);
    return (double)total / dt;
}

static void get_next(bench_t *b);

static void get_cb(int status, const hd_store_kv_t *kv, int64_t rev, void *arg)
{
    bench_t *b = arg;
    (void)kv, (void)rev;
    if (status) b->failed++;
    b->done++;
    if (b->issued < b->total) get_next(b);
}

static void get_next(bench_t *b)
{
    char key[64];
    b->issued++;
    snprintf(key, sizeof(key), "heed/kv/bench/%06d", rand() % b->nkeys);
    int rc = hd_store_get(b->s, key, strlen(key), get_cb, b);
    if (rc) die("get", rc);
}

static double bench_gets(bench_t *b, int64_t total)
{
    b->issued = b->done = b->failed = 0;
    b->total = total;
    double t0 = now_s();
    for (int i = 0; i < 1000; i++)
        get_next(b);
    run_until_done(b);
    double dt = now_s() - t0;
    if (b->failed) die("gets failed", HD_STORE_ENOTFOUND);
    return (double)total / dt;
}

static void range_cb(int status, const hd_store_range_t *r, void *arg)
{
    bench_t *b = arg;
    if (status || r->n != 100) b->failed++;
    b->done++;
}

static double bench_ranges(bench_t *b, int64_t total)
{
    b->done = b->failed = 0;
    b->total = total;
    double t0 = now_s();
    for (int64_t i = 0; i < total; i++) {
        char prefix[64];
        /* heed/kv/bench/0NNN: 100 keys each. */
        snprintf(prefix, sizeof(prefix), "heed/kv/bench/%04d", (int)(i % 100));
        int rc = hd_store_range(b->s, prefix, strlen(prefix), 0, range_cb, b);
        if (rc) die("range", rc);
        if (i % 100 == 99) {
            b->total = i + 1; /* 100 in flight at a time */
            run_until_done(b);
        }
    }
    b->total = total;
    run_until_done(b);
    double dt = now_s() - t0;
    if (b->failed) die("ranges failed", HD_STORE_EIO);
    return (double)total / dt;
}

static void hist_cb(int status, const hd_store_write_result_t *r, void *arg)
{
    bench_t *b = arg;
    (void)r;
    if (status) b->failed++;
    b->done++;
}

static void maint_cb(int status, int more, void *arg)
{
    int *m = arg;
    *m = status ? -1 : more;
}

/* Bytes per row of each history table, from dbstat. */
static void history_size(bench_t *b)
{
    const int64_t checks = 1000, per_check = 600, t0 = 1699999200LL * 1000000;
    double start = now_s();
    b->done = b->failed = 0;
    b->total = checks * per_check;
    for (int64_t j = 0; j < per_check; j++) {
        for (int64_t c = 0; c < checks; c++) {
            char id[32];
            snprintf(id, sizeof(id), "check-%05lld", (long long)c);
            int64_t lat = 800 + rand() % 4000;
            int rc = hd_store_history_add(b->s, id, t0 + j * 10000000 + c * 1000,
                                          rand() % 50 ? HD_CHECK_PASSING : HD_CHECK_CRITICAL, 0,
                                          lat, hist_cb, b);
            if (rc) die("history add", rc);
        }
        /* One batch per "10 s" of results, as the agent would write them. */
        while (b->done < (j + 1) * checks)
            event_base_loop(b->base, EVLOOP_ONCE);
    }
    double add_dt = now_s() - start;
    for (int more = 1; more;) {
        more = -2;
        int rc = hd_store_history_maintain(b->s, t0 + per_check * 10000000 + 3600000000LL, maint_cb,
                                           &more);
        if (rc) die("maintain", rc);
        while (more == -2)
            event_base_loop(b->base, EVLOOP_ONCE);
        if (more < 0) die("maintain", HD_STORE_EIO);
    }
    hd_store_close(b->s);
    b->s = NULL;

    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open(b->path, &db) != SQLITE_OK) die("sqlite3_open", HD_STORE_EOPEN);
    const char *tables[] = {"hist_raw", "hist_1m", "hist_1h"};
    printf("history_results_per_s %.0f\n", (double)b->total / add_dt);
    for (int i = 0; i < 3; i++) {
        char sql[256];
        int64_t rows = 0, bytes = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == 100)
            rows = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        snprintf(sql, sizeof(sql), "SELECT sum(pgsize) FROM dbstat WHERE name = '%s'", tables[i]);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == 100)
            bytes = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        printf("%s_rows %lld\n%s_bytes_per_row %.1f\n", tables[i], (long long)rows, tables[i],
               rows ? (double)bytes / (double)rows : 0.0);
    }
    sqlite3_close(db);
}

int main(int argc, char **argv)
{
    bench_t b = {0};
    if (argc != 2) {
        fprintf(stderr, "usage: bench_store DIR\n");
        return 2;
    }
    b.base = event_base_new();
    b.nkeys = 10000;
    snprintf(b.path, sizeof(b.path), "%s/kv.db", argv[1]);
    unlink(b.path);
    open_store(&b);

    /* Fill the keys, then measure on a warm store. */
    bench_puts(&b, 1000, b.nkeys);
    const int inflight[] = {1, 16, 256, 1000};
    for (size_t i = 0; i < sizeof(inflight) / sizeof(inflight[0]); i++) {
        int64_t total = inflight[i] == 1 ? 300 : inflight[i] == 16 ? 5000 : 50000;
        printf("durable_puts_per_s_c%d %.0f\n", inflight[i], bench_puts(&b, inflight[i], total));
    }
    printf("gets_per_s %.0f\n", bench_gets(&b, 300000));
    printf("range100_per_s %.0f\n", bench_ranges(&b, 20000));
    hd_store_close(b.s);

    snprintf(b.path, sizeof(b.path), "%s/hist.db", argv[1]);
    unlink(b.path);
    open_store(&b);
    history_size(&b);
    event_base_free(b.base);
    return 0;
}
