/* test_backoff — the readiness retry schedule: the base interval for the
 * first second, then 20 ms more per second waited, capped at the maximum. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/backoff.h"

#define MS 1000LL
#define S  1000000LL

static void test_base_during_first_second(void **state)
{
    (void)state;
    assert_int_equal(hd_backoff_interval(0, 10 * MS, 500 * MS), 10 * MS);
    assert_int_equal(hd_backoff_interval(500 * MS, 10 * MS, 500 * MS), 10 * MS);
    assert_int_equal(hd_backoff_interval(HD_BACKOFF_FAST_US, 10 * MS, 500 * MS), 10 * MS);
    /* A clock that looks like it went back is still "young". */
    assert_int_equal(hd_backoff_interval(-5 * S, 10 * MS, 500 * MS), 10 * MS);
}

static void test_growth(void **state)
{
    (void)state;
    /* The schedule backoff.c documents for the defaults. */
    assert_int_equal(hd_backoff_interval(2 * S, 10 * MS, 500 * MS), 30 * MS);
    assert_int_equal(hd_backoff_interval(3 * S, 10 * MS, 500 * MS), 50 * MS);
    assert_int_equal(hd_backoff_interval(10 * S, 10 * MS, 500 * MS), 190 * MS);
    /* 20 us per millisecond past the first second. */
    assert_int_equal(hd_backoff_interval(S + 1 * MS, 10 * MS, 500 * MS), 10 * MS + 20);
    assert_int_equal(hd_backoff_interval(S + 999, 10 * MS, 500 * MS), 10 * MS);
    assert_int_equal(hd_backoff_interval(1500 * MS, 10 * MS, 500 * MS), 20 * MS);
    /* Never shrinks as time goes on. */
    int64_t prev = 0;
    for (int64_t t = 0; t < 30 * S; t += 7 * MS) {
        int64_t iv = hd_backoff_interval(t, 10 * MS, 500 * MS);
        assert_true(iv >= prev);
        assert_in_range(iv, 10 * MS, 500 * MS);
        prev = iv;
    }
}

static void test_cap(void **state)
{
    (void)state;
    /* 10 ms + 20 ms per second reaches 500 ms at 1 + 490/20 = 25.5 s. */
    assert_int_equal(hd_backoff_interval(25 * S, 10 * MS, 500 * MS), 490 * MS);
    assert_int_equal(hd_backoff_interval(25500 * MS, 10 * MS, 500 * MS), 500 * MS);
    assert_int_equal(hd_backoff_interval(26 * S, 10 * MS, 500 * MS), 500 * MS);
    assert_int_equal(hd_backoff_interval(3600 * S, 10 * MS, 500 * MS), 500 * MS);
    assert_int_equal(hd_backoff_interval(INT64_MAX, 10 * MS, 500 * MS), 500 * MS);
}

static void test_max_below_base(void **state)
{
    (void)state;
    /* max < base: the base wins, at every age. */
    assert_int_equal(hd_backoff_interval(0, 200 * MS, 50 * MS), 200 * MS);
    assert_int_equal(hd_backoff_interval(10 * S, 200 * MS, 50 * MS), 200 * MS);
    assert_int_equal(hd_backoff_interval(INT64_MAX, 200 * MS, 50 * MS), 200 * MS);
    /* max == base: a fixed interval. */
    assert_int_equal(hd_backoff_interval(10 * S, 100 * MS, 100 * MS), 100 * MS);
}

static void test_degenerate_base(void **state)
{
    (void)state;
    /* A zero or negative base is lifted to 1 us, so the loop never spins. */
    assert_int_equal(hd_backoff_interval(0, 0, 500 * MS), 1);
    assert_int_equal(hd_backoff_interval(0, -7, 500 * MS), 1);
    assert_int_equal(hd_backoff_interval(2 * S, 0, 500 * MS), 1 + 20 * MS);
    assert_int_equal(hd_backoff_interval(2 * S, 0, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_during_first_second),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_max_below_base),
        cmocka_unit_test(test_degenerate_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
