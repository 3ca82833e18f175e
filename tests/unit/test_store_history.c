/* test_store_history — result history: raw rows, per-minute and per-hour
 * rollups, pruning by age, the choice of table by a query's reach. All on
 * synthetic times: the rollup slice takes its "now" from the test, so
 * nothing sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "store/history.h"
#include "store_util.h"

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define T0   (1699999200LL * SEC) /* on the hour */

typedef struct hq_s {
    int done, status, more;
    hd_hist_step_t step;
    size_t n;
    hd_hist_point_t pts[512];
} hq_t;

static void query_cb(int status, const hd_hist_series_t *r, void *arg)
{
    hq_t *q = arg;
    q->status = status;
    if (r) {
        q->step = r->step;
        q->n = r->n;
        for (size_t i = 0; i < r->n && i < 512; i++)
            q->pts[i] = r->pts[i];
    }
    q->done = 1;
}

static void maint_cb(int status, int more, void *arg)
{
    hq_t *q = arg;
    q->status = status;
    q->more = more;
    q->done = 1;
}

static void add(tstore_t *t, const char *id, int64_t ts, hd_check_status_t st, int64_t lat)
{
    assert_int_equal(hd_store_history_add(t->s, id, ts, st, st ? 1 : 0, lat, NULL, NULL), 0);
}

/* Waits until every write queued so far is committed. */
static void sync_writes(tstore_t *t)
{
    assert_int_equal(t_put(t, "heed/sync", "", 0, NULL), 0);
}

/* Runs rollup slices as of now until a round is complete; returns slices. */
static int maintain(tstore_t *t, int64_t now)
{
    int slices = 0;
    hq_t q;
    do {
        memset(&q, 0, sizeof(q));
        assert_int_equal(hd_store_history_maintain(t->s, now, maint_cb, &q), 0);
        t_spin(t, &q.done);
        assert_int_equal(q.status, 0);
        slices++;
        assert_true(slices < 100);
    } while (q.more);
    return slices;
}

static hq_t *query(tstore_t *t, const char *id, int64_t since, int64_t until, hd_hist_step_t step,
                   int64_t now)
{
    static hq_t q;
    memset(&q, 0, sizeof(q));
    assert_int_equal(hd_store_history_query(t->s, id, since, until, step, now, query_cb, &q), 0);
    t_spin(t, &q.done);
    assert_int_equal(q.status, 0);
    return &q;
}

/* Three hours of "web" every 10 s: critical once in minute 5, warning once
 * in minute 70; latency 1000..1500 us within each minute. */
static void three_hours(tstore_t *t)
{
    for (int i = 0; i < 3 * 360; i++) {
        hd_check_status_t st = i == 30    ? HD_CHECK_CRITICAL
                               : i == 420 ? HD_CHECK_WARNING
                                          : HD_CHECK_PASSING;
        add(t, "web", T0 + i * 10 * SEC, st, 1000 + (i % 6) * 100);
    }
    add(t, "db", T0, HD_CHECK_PASSING, 5);
    sync_writes(t);
}

static void test_raw_and_rollups(void **state)
{
    tstore_t *t = *state;
    three_hours(t);
    int64_t now = T0 + 3 * HOUR + 10 * SEC;

    /* Before any rollup, a per-minute query is computed from raw rows. */
    hq_t *q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1M, now);
    assert_int_equal(q->n, 180);
    assert_int_equal(q->pts[5].count, 6);

    maintain(t, now);

    q = query(t, "web", T0 + 2 * HOUR, T0 + 3 * HOUR, HD_HIST_RAW, now);
    assert_int_equal(q->step, HD_HIST_RAW);
    assert_int_equal(q->n, 360);
    assert_int_equal(q->pts[0].ts_us, T0 + 2 * HOUR);
    assert_int_equal(q->pts[0].count, 1);
    assert_int_equal(q->pts[1].lat_avg_us, 1100);

    q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1M, now);
    assert_int_equal(q->step, HD_HIST_1M);
    assert_int_equal(q->n, 180);
    for (size_t i = 0; i < 180; i++) {
        const hd_hist_point_t *p = &q->pts[i];
        assert_int_equal(p->ts_us, T0 + (int64_t)i * MIN);
        assert_int_equal(p->count, 6);
        assert_int_equal(p->lat_min_us, 1000);
        assert_int_equal(p->lat_max_us, 1500);
        assert_int_equal(p->lat_avg_us, 1250);
        assert_int_equal(p->ok, i == 5 || i == 70 ? 5 : 6);
        assert_int_equal(p->worst, i == 5    ? HD_CHECK_CRITICAL
                                   : i == 70 ? HD_CHECK_WARNING
                                             : HD_CHECK_PASSING);
    }

    q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1H, now);
    assert_int_equal(q->step, HD_HIST_1H);
    assert_int_equal(q->n, 3);
    assert_int_equal(q->pts[0].count, 360);
    assert_int_equal(q->pts[0].ok, 359);
    assert_int_equal(q->pts[0].worst, HD_CHECK_CRITICAL);
    assert_int_equal(q->pts[1].worst, HD_CHECK_WARNING);
    assert_int_equal(q->pts[2].ok, 360);
    assert_int_equal(q->pts[2].worst, HD_CHECK_PASSING);
    assert_int_equal(q->pts[2].lat_avg_us, 1250);

    /* A since inside a bucket still gets that whole bucket. */
    q = query(t, "web", T0 + 90 * MIN, T0 + 3 * HOUR, HD_HIST_1H, now);
    assert_int_equal(q->n, 2);
    assert_int_equal(q->pts[0].ts_us, T0 + HOUR);

    /* Checks do not mix; an unknown check has no history. */
    q = query(t, "db", T0, T0 + 3 * HOUR, HD_HIST_RAW, now);
    assert_int_equal(q->n, 1);
    assert_int_equal(q->pts[0].lat_max_us, 5);
    q = query(t, "nope", T0, T0 + 3 * HOUR, HD_HIST_1M, now);
    assert_int_equal(q->n, 0);
    /* No end. */
    q = query(t, "web", T0 + 2 * HOUR, INT64_MAX, HD_HIST_RAW, now);
    assert_int_equal(q->n, 360);
}

static void test_unfinished_buckets(void **state)
{
    tstore_t *t = *state;
    three_hours(t);
    maintain(t, T0 + 3 * HOUR + 10 * SEC);
    /* Three results in the running minute: not rolled up yet, but shown. */
    for (int i = 0; i < 3; i++)
        add(t, "web", T0 + 3 * HOUR + 20 * SEC + i * 10 * SEC, HD_CHECK_PASSING, 700);
    sync_writes(t);
    int64_t now = T0 + 3 * HOUR + 50 * SEC;
    maintain(t, now);
    hq_t *q = query(t, "web", T0 + 2 * HOUR, T0 + 4 * HOUR, HD_HIST_1M, now);
    assert_int_equal(q->n, 61);
    assert_int_equal(q->pts[60].count, 3);
    assert_int_equal(q->pts[60].lat_min_us, 700);
    q = query(t, "web", T0, T0 + 4 * HOUR, HD_HIST_1H, now);
    assert_int_equal(q->n, 4);
    assert_int_equal(q->pts[3].count, 3);
    assert_int_equal(q->pts[3].ts_us, T0 + 3 * HOUR);
}

static void test_retention_and_table_choice(void **state)
{
    tstore_t *t = *state;
    three_hours(t);
    maintain(t, T0 + 3 * HOUR + 10 * SEC);

    /* Two days on: raw no longer reaches back to T0, so 1m answers. */
    int64_t now = T0 + 3 * HOUR + 49 * HOUR;
    hq_t *q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_RAW, now);
    assert_int_equal(q->step, HD_HIST_1M);
    assert_int_equal(q->n, 180);
    maintain(t, now);
    /* Raw rows older than 48 h are gone. */
    q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_RAW, T0 + 3 * HOUR);
    assert_int_equal(q->step, HD_HIST_RAW);
    assert_int_equal(q->n, 0);
    q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1M, now);
    assert_int_equal(q->n, 180);

    /* A month on: per-minute rows pruned, 1h answers. */
    now = T0 + 31 * DAY;
    maintain(t, now);
    q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1M, now);
    assert_int_equal(q->step, HD_HIST_1H);
    assert_int_equal(q->n, 3);
    q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1M, T0 + 3 * HOUR);
    assert_int_equal(q->n, 0);

    /* Past a year nothing is left. */
    now = T0 + 400 * DAY;
    maintain(t, now);
    q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1H, T0 + 3 * HOUR);
    assert_int_equal(q->n, 0);
}

static void test_slices_are_bounded(void **state)
{
    tstore_t *t = *state;
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "check-%d", i);
        for (int j = 0; j < 12; j++)
            add(t, id, T0 + j * 10 * SEC, HD_CHECK_PASSING, 100);
    }
    sync_writes(t);
    /* 300 checks and 3,600 rows take more than one slice. */
    assert_true(maintain(t, T0 + HOUR) > 1);
    hq_t *q = query(t, "check-299", T0, T0 + HOUR, HD_HIST_1M, T0 + HOUR);
    assert_int_equal(q->n, 2);
    assert_int_equal(q->pts[1].count, 6);
}

static void test_history_survives_reopen(void **state)
{
    tstore_t *t = *state;
    three_hours(t);
    maintain(t, T0 + 3 * HOUR + 10 * SEC);
    t_close(t);
    t_open_cfg(t);
    hq_t *q = query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_1H, T0 + 3 * HOUR + 10 * SEC);
    assert_int_equal(q->n, 3);
    assert_int_equal(q->pts[0].count, 360);
}

static void test_history_bad_input(void **state)
{
    tstore_t *t = *state;
    hq_t q = {0};
    assert_int_equal(
        hd_store_history_add(t->s, "", T0, HD_CHECK_PASSING, 0, 1, t_never_write, NULL),
        HD_STORE_EKEY);
    assert_int_equal(
        hd_store_history_add(t->s, NULL, T0, HD_CHECK_PASSING, 0, 1, t_never_write, NULL),
        HD_STORE_EKEY);
    assert_int_equal(
        hd_store_history_add(t->s, "x", T0, (hd_check_status_t)9, 0, 1, t_never_write, NULL),
        HD_STORE_EINVAL);
    assert_int_equal(
        hd_store_history_add(t->s, "x", T0, HD_CHECK_PASSING, 0, -1, t_never_write, NULL),
        HD_STORE_EINVAL);
    assert_int_equal(hd_store_history_query(t->s, "x", T0, T0 - 1, HD_HIST_RAW, 0, query_cb, &q),
                     HD_STORE_EINVAL);
    assert_int_equal(hd_store_history_query(t->s, "x", T0, T0 + 1, HD_HIST_RAW, 0, NULL, NULL),
                     HD_STORE_EINVAL);
    assert_false(q.done);
    assert_string_equal(hd_hist_step_str(HD_HIST_1M), "1m");
}

/* Three checks' rows, interleaved as the agent flushes them. */
static void rows_of(hd_hist_row_t *rows, size_t n)
{
    static const char *const ids[] = {"web", "db", "cache"};
    for (size_t i = 0; i < n; i++)
        rows[i] = (hd_hist_row_t){ids[i % 3], T0 + (int64_t)(i / 3) * 10 * SEC,
                                  i == 4 ? HD_CHECK_CRITICAL : HD_CHECK_PASSING, i == 4 ? 7 : 0,
                                  100 + (int64_t)i};
}

static void test_batch(void **state)
{
    tstore_t *t = *state;
    hd_hist_row_t rows[30];
    rows_of(rows, 30);
    answer_t a = {0};
    assert_int_equal(hd_store_history_add_batch(t->s, rows, 30, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    hq_t *q = query(t, "db", T0, T0 + HOUR, HD_HIST_RAW, T0 + HOUR);
    assert_int_equal(q->n, 10);
    assert_int_equal(q->pts[1].ts_us, T0 + 10 * SEC);
    assert_int_equal(q->pts[1].worst, HD_CHECK_CRITICAL);
    assert_int_equal(q->pts[1].reason, 7);
    assert_int_equal(q->pts[1].lat_max_us, 104);
    assert_int_equal(q->pts[2].lat_max_us, 107);
    q = query(t, "cache", T0, T0 + HOUR, HD_HIST_RAW, T0 + HOUR);
    assert_int_equal(q->n, 10);
    assert_int_equal(q->pts[9].lat_max_us, 129);
    q = query(t, "web", T0, T0 + HOUR, HD_HIST_1M, T0 + HOUR);
    assert_int_equal(q->n, 2);
    assert_int_equal(q->pts[0].count, 6);
    assert_int_equal(q->pts[0].ok, 6);
    /* An empty batch with a callback is answered; without one, nothing. */
    memset(&a, 0, sizeof(a));
    assert_int_equal(hd_store_history_add_batch(t->s, NULL, 0, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    assert_int_equal(hd_store_history_add_batch(t->s, NULL, 0, NULL, NULL), 0);
    assert_int_equal(hd_store_history_dropped(t->s), 0);
}

/* A rename moves a check's whole history to a new name (the agent's
 * migration to per-tenant ids, and a check moved to another tenant). */
static void rename_to(tstore_t *t, const char *from, const char *to)
{
    answer_t a = {0};
    assert_int_equal(hd_store_history_rename(t->s, from, to, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
}

static void test_rename(void **state)
{
    tstore_t *t = *state;
    three_hours(t);
    assert_int_equal(maintain(t, T0 + 3 * HOUR + MIN), 1);
    rename_to(t, "web", "team-a/web");
    assert_int_equal(query(t, "web", T0, T0 + 3 * HOUR, HD_HIST_RAW, T0 + 3 * HOUR)->n, 0);
    hq_t *q = query(t, "team-a/web", T0, T0 + 3 * HOUR, HD_HIST_RAW, T0 + 3 * HOUR);
    assert_int_equal(q->n, 3 * 360);
    assert_int_equal(q->pts[30].worst, HD_CHECK_CRITICAL);
    q = query(t, "team-a/web", T0, T0 + 3 * HOUR, HD_HIST_1M, T0 + 3 * HOUR);
    assert_int_equal(q->n, 180);
    /* A name with no history: nothing happens, and it is no error. */
    rename_to(t, "nothing", "default/nothing");
    assert_int_equal(query(t, "default/nothing", T0, T0 + HOUR, HD_HIST_RAW, T0 + HOUR)->n, 0);
    /* Both names hold rows: they merge, the target's row wins a clash. */
    add(t, "default/db", T0, HD_CHECK_CRITICAL, 9);
    add(t, "default/db", T0 + SEC, HD_CHECK_PASSING, 9);
    sync_writes(t);
    rename_to(t, "db", "default/db");
    q = query(t, "default/db", T0, T0 + HOUR, HD_HIST_RAW, T0 + HOUR);
    assert_int_equal(q->n, 2);
    assert_int_equal(q->pts[0].worst, HD_CHECK_CRITICAL);
    assert_int_equal(q->pts[0].lat_max_us, 9);
    assert_int_equal(query(t, "db", T0, T0 + HOUR, HD_HIST_RAW, T0 + HOUR)->n, 0);
    /* New rows under the new name follow the renamed ones. */
    add(t, "team-a/web", T0 + 3 * HOUR, HD_CHECK_PASSING, 1);
    sync_writes(t);
    q = query(t, "team-a/web", T0, T0 + 3 * HOUR + MIN, HD_HIST_RAW, T0 + 3 * HOUR + MIN);
    assert_int_equal(q->n, 3 * 360 + 1);
    /* Bad names are refused at once. */
    assert_int_equal(hd_store_history_rename(t->s, "", "x", NULL, NULL), HD_STORE_EKEY);
    assert_int_equal(hd_store_history_rename(t->s, "x", NULL, NULL, NULL), HD_STORE_EKEY);
}

static void test_batch_bad_row_refuses_all(void **state)
{
    tstore_t *t = *state;
    hd_hist_row_t rows[9];
    struct {
        int at;
        hd_hist_row_t bad;
        int err;
    } cases[] = {
        {8, {"x", T0, HD_CHECK_PASSING, 0, -1}, HD_STORE_EINVAL},
        {0, {"x", -1, HD_CHECK_PASSING, 0, 1}, HD_STORE_EINVAL},
        {4, {"x", T0, (hd_check_status_t)9, 0, 1}, HD_STORE_EINVAL},
        {4, {"", T0, HD_CHECK_PASSING, 0, 1}, HD_STORE_EKEY},
        {4, {NULL, T0, HD_CHECK_PASSING, 0, 1}, HD_STORE_EKEY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rows_of(rows, 9);
        rows[cases[i].at] = cases[i].bad;
        assert_int_equal(hd_store_history_add_batch(t->s, rows, 9, t_never_write, NULL),
                         cases[i].err);
    }
    assert_int_equal(hd_store_history_add_batch(t->s, NULL, 3, t_never_write, NULL),
                     HD_STORE_EINVAL);
    sync_writes(t);
    /* Nothing of the refused batches was stored, not even their good rows. */
    const char *ids[] = {"web", "db", "cache", "x"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(query(t, ids[i], T0, T0 + HOUR, HD_HIST_RAW, T0 + HOUR)->n, 0);
    assert_int_equal(hd_store_history_dropped(t->s), 0);
}

/* The queue limit: the rows past it are dropped and counted, the first
 * ones kept. The count is of rows not yet back from the writer, so rows
 * added within one loop turn all count, however fast the writer is. */
static void test_batch_queue_limit(void **state)
{
    (void)state;
    tstore_t t;
    t_setup(&t);
    t.cfg.hist_queue_max_rows = 10;
    t_open_cfg(&t);
    hd_hist_row_t rows[30];
    rows_of(rows, 30);
    answer_t a = {0}, b = {0}, c = {0};
    assert_int_equal(hd_store_history_add_batch(t.s, rows, 6, t_write_cb, &a), 0);
    assert_int_equal(hd_store_history_dropped(t.s), 0);
    /* 6 + 9 > 10: rows 6..9 fit, 10..14 are dropped. */
    assert_int_equal(hd_store_history_add_batch(t.s, rows + 6, 9, t_write_cb, &b), 0);
    assert_int_equal(hd_store_history_dropped(t.s), 5);
    /* Full: the whole batch is dropped; its callback still answers. */
    assert_int_equal(hd_store_history_add_batch(t.s, rows + 15, 3, t_write_cb, &c), 0);
    assert_int_equal(hd_store_history_dropped(t.s), 8);
    assert_int_equal(
        hd_store_history_add(t.s, "web", T0 + HOUR, HD_CHECK_PASSING, 0, 1, NULL, NULL), 0);
    assert_int_equal(hd_store_history_dropped(t.s), 9);
    t_spin(&t, &a.done);
    t_spin(&t, &b.done);
    t_spin(&t, &c.done);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, 0);
    assert_int_equal(c.status, 0);
    /* Rows 0..9 were stored: web 0,3,6,9; db 1,4,7; cache 2,5,8. */
    hq_t *q = query(&t, "web", T0, T0 + 2 * HOUR, HD_HIST_RAW, T0 + 2 * HOUR);
    assert_int_equal(q->n, 4);
    assert_int_equal(q->pts[3].lat_max_us, 109);
    q = query(&t, "cache", T0, T0 + 2 * HOUR, HD_HIST_RAW, T0 + 2 * HOUR);
    assert_int_equal(q->n, 3);
    assert_int_equal(q->pts[2].lat_max_us, 108);
    /* Committed rows leave the queue: there is room again. */
    memset(&a, 0, sizeof(a));
    assert_int_equal(hd_store_history_add_batch(t.s, rows + 20, 10, t_write_cb, &a), 0);
    t_spin(&t, &a.done);
    assert_int_equal(a.status, 0);
    assert_int_equal(hd_store_history_dropped(t.s), 9);
    q = query(&t, "web", T0, T0 + 2 * HOUR, HD_HIST_RAW, T0 + 2 * HOUR);
    assert_int_equal(q->n, 7); /* and 21, 24, 27 */
    assert_int_equal(hd_store_history_dropped(NULL), 0);
    t_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_raw_and_rollups, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unfinished_buckets, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_retention_and_table_choice, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_slices_are_bounded, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_history_survives_reopen, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_history_bad_input, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_batch, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rename, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_batch_bad_row_refuses_all, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test(test_batch_queue_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
