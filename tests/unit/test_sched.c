/* test_sched — the check schedule on a fake clock: heap order, fixed-rate
 * runs, skipped missed runs, spread of first runs, lag percentiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/sched.h"
#include "util/hist.h"

#define S 1000000LL

static void test_pops_in_due_order(void **state)
{
    (void)state;
    hd_sched_t s;
    hd_sched_init(&s);
    hd_sched_item_t it[100];
    for (int i = 0; i < 100; i++) {
        hd_sched_item_init(&it[i]);
        hd_sched_add(&s, &it[i], (int64_t)((i * 37) % 100) * 1000);
    }
    assert_null(hd_sched_pop_due(&s, -1));
    int64_t last = -1;
    for (int i = 0; i < 100; i++) {
        hd_sched_item_t *p = hd_sched_pop_due(&s, 1000 * S);
        assert_non_null(p);
        assert_true(p->due_us >= last);
        last = p->due_us;
        assert_int_equal(p->idx, SIZE_MAX);
    }
    assert_null(hd_sched_pop_due(&s, 1000 * S));
    assert_int_equal(hd_sched_next_due(&s), INT64_MAX);
    hd_sched_free(&s);
}

static void test_only_due_items_pop(void **state)
{
    (void)state;
    hd_sched_t s;
    hd_sched_init(&s);
    hd_sched_item_t a, b;
    hd_sched_item_init(&a);
    hd_sched_item_init(&b);
    hd_sched_add(&s, &a, 5 * S);
    hd_sched_add(&s, &b, 2 * S);
    assert_int_equal(hd_sched_next_due(&s), 2 * S);
    assert_null(hd_sched_pop_due(&s, 1 * S));
    assert_ptr_equal(hd_sched_pop_due(&s, 3 * S), &b);
    assert_null(hd_sched_pop_due(&s, 3 * S));
    /* moving an item earlier and later keeps the heap right */
    hd_sched_add(&s, &b, 10 * S);
    hd_sched_add(&s, &a, 20 * S);
    assert_int_equal(hd_sched_next_due(&s), 10 * S);
    hd_sched_add(&s, &a, 1 * S);
    assert_int_equal(hd_sched_next_due(&s), 1 * S);
    hd_sched_remove(&s, &a);
    hd_sched_remove(&s, &a); /* twice is a no-op */
    assert_int_equal(hd_sched_next_due(&s), 10 * S);
    hd_sched_free(&s);
}

static void test_remove_from_middle(void **state)
{
    (void)state;
    hd_sched_t s;
    hd_sched_init(&s);
    hd_sched_item_t it[50];
    for (int i = 0; i < 50; i++) {
        hd_sched_item_init(&it[i]);
        hd_sched_add(&s, &it[i], (int64_t)(50 - i) * S);
    }
    for (int i = 0; i < 50; i += 2)
        hd_sched_remove(&s, &it[i]);
    int n = 0;
    int64_t last = 0;
    hd_sched_item_t *p;
    while ((p = hd_sched_pop_due(&s, 100 * S))) {
        assert_true((p - it) % 2 == 1);
        assert_true(p->due_us >= last);
        last = p->due_us;
        n++;
    }
    assert_int_equal(n, 25);
    hd_sched_free(&s);
}

static void test_fixed_rate_and_skips(void **state)
{
    (void)state;
    /* on time or a little late: the next slot keeps the phase */
    assert_int_equal(hd_sched_next_after(10 * S, 10 * S, 10 * S + 3000), 20 * S);
    assert_int_equal(hd_sched_next_after(10 * S, 10 * S, 19 * S), 20 * S);
    /* less than one interval behind: run now, do not skip */
    assert_int_equal(hd_sched_next_after(10 * S, 10 * S, 25 * S), 20 * S);
    /* far behind (a pause, a stalled loop): skip to the next slot after now */
    assert_int_equal(hd_sched_next_after(10 * S, 10 * S, 95 * S), 100 * S);
    assert_int_equal(hd_sched_next_after(10 * S, 10 * S, 100 * S), 110 * S);
}

static void test_first_runs_spread(void **state)
{
    (void)state;
    /* 1,000 checks with a 10 s interval: first runs land in [now, now+10s)
     * and no tenth of the interval gets more than twice its share. */
    int slots[10] = {0};
    for (int i = 0; i < 1000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "check-%d", i);
        int64_t due = hd_sched_first_due(id, 10 * S, 1000 * S);
        assert_true(due >= 1000 * S && due < 1010 * S);
        slots[(due - 1000 * S) / S]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(slots[i] > 50 && slots[i] < 200);
    /* stable across restarts */
    assert_int_equal(hd_sched_first_due("db", 5 * S, 0), hd_sched_first_due("db", 5 * S, 0));
}

static void test_lag_is_recorded(void **state)
{
    (void)state;
    hd_sched_t s;
    hd_sched_init(&s);
    hd_sched_item_t it[100];
    for (int i = 0; i < 100; i++) {
        hd_sched_item_init(&it[i]);
        hd_sched_add(&s, &it[i], 0);
    }
    /* 99 pops 1 ms late, one 50 ms late */
    for (int i = 0; i < 99; i++)
        assert_non_null(hd_sched_pop_due(&s, 1000));
    assert_non_null(hd_sched_pop_due(&s, 50000));
    assert_int_equal(s.lag.count, 100);
    int64_t p50 = hd_hist_quantile(&s.lag, 0.5), p99 = hd_hist_quantile(&s.lag, 0.99);
    assert_true(p50 >= 1000 && p50 <= 1190); /* the bucket above 1 ms, at most 19% wide */
    assert_true(p99 >= 1000 && p99 <= 1190);
    assert_int_equal(hd_hist_quantile(&s.lag, 1.0), 50000);
    hd_sched_free(&s);
}

static void test_hist_quantiles(void **state)
{
    (void)state;
    hd_hist_t h;
    hd_hist_reset(&h);
    assert_int_equal(hd_hist_quantile(&h, 0.99), 0);
    for (int i = 1; i <= 1000; i++)
        hd_hist_add(&h, i * 10); /* 10 us .. 10 ms */
    int64_t p50 = hd_hist_quantile(&h, 0.5), p99 = hd_hist_quantile(&h, 0.99);
    assert_true(p50 >= 5000 * 0.8 && p50 <= 5000 * 1.2);
    assert_true(p99 >= 9900 * 0.8 && p99 <= 10000);
    hd_hist_add(&h, -5); /* counted as 0 */
    assert_int_equal(h.count, 1001);
}

/* Quantiles read the last ten minutes, as Prometheus client summaries do;
 * count and sum stay since start. */
static void test_hist_window(void **state)
{
    (void)state;
    const int64_t MIN = 60LL * 1000000;
    hd_hist_t h;
    hd_hist_reset(&h);
    int64_t t = 1000 * MIN;
    for (int i = 0; i < 100; i++)
        hd_hist_add_at(&h, 50000, t); /* a bad start: 50 ms */
    assert_int_equal(hd_hist_quantile_at(&h, 0.99, t), 50000);
    for (int m = 1; m <= 12; m++)
        for (int i = 0; i < 100; i++)
            hd_hist_add_at(&h, 1000, t + m * MIN); /* then 1 ms, every minute */
    int64_t now = t + 12 * MIN;
    int64_t p99 = hd_hist_quantile_at(&h, 0.99, now);
    assert_true(p99 >= 1000 && p99 <= 1190); /* the start has left the window */
    assert_int_equal(hd_hist_quantile_at(&h, 1.0, now), 1000);
    uint64_t w = hd_hist_window_count_at(&h, now);
    assert_true(w >= 800 && w <= 1100); /* 8 to 10 minutes of 100 a minute */
    assert_int_equal(h.count, 1300);
    assert_int_equal(h.sum_us, 100 * 50000 + 1200 * 1000);
    /* Nothing added for longer than the window: empty. */
    assert_int_equal(hd_hist_window_count_at(&h, now + 11 * MIN), 0);
    assert_int_equal(hd_hist_quantile_at(&h, 0.5, now + 11 * MIN), 0);
    /* Within the window a bad minute shows in the max and p99. */
    hd_hist_add_at(&h, 80000, now + 11 * MIN);
    assert_int_equal(hd_hist_quantile_at(&h, 1.0, now + 11 * MIN), 80000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pops_in_due_order),  cmocka_unit_test(test_only_due_items_pop),
        cmocka_unit_test(test_remove_from_middle), cmocka_unit_test(test_fixed_rate_and_skips),
        cmocka_unit_test(test_first_runs_spread),  cmocka_unit_test(test_lag_is_recorded),
        cmocka_unit_test(test_hist_quantiles),     cmocka_unit_test(test_hist_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
