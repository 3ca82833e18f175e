/* test_ratelimit — the token bucket on an explicit clock: bursts, refill,
 * the wait it reports, slow rates (12 a minute), clocks going backwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/ratelimit.h"
#include "util/time.h"

#define S HD_USEC_PER_SEC

static void test_burst_then_refuse(void **state)
{
    (void)state;
    hd_ratelimit_t rl;
    hd_ratelimit_init(&rl, 10, 3, 0);
    assert_int_equal(hd_ratelimit_take(&rl, 0), 0);
    assert_int_equal(hd_ratelimit_take(&rl, 0), 0);
    assert_int_equal(hd_ratelimit_take(&rl, 0), 0);
    /* Empty: one token comes back after 1/10 s. */
    assert_int_equal(hd_ratelimit_take(&rl, 0), S / 10);
    assert_int_equal(hd_ratelimit_take(&rl, S / 20), S / 20);
    assert_int_equal(hd_ratelimit_take(&rl, S / 10), 0);
    assert_int_equal(hd_ratelimit_take(&rl, S / 10), S / 10);
}

static void test_refill_caps_at_burst(void **state)
{
    (void)state;
    hd_ratelimit_t rl;
    hd_ratelimit_init(&rl, 100, 2, 0);
    hd_ratelimit_take(&rl, 0);
    hd_ratelimit_take(&rl, 0);
    assert_false(hd_ratelimit_full(&rl, 0));
    /* An hour idle still gives only the burst. */
    assert_true(hd_ratelimit_full(&rl, 3600 * S));
    assert_int_equal(hd_ratelimit_take(&rl, 3600 * S), 0);
    assert_int_equal(hd_ratelimit_take(&rl, 3600 * S), 0);
    assert_true(hd_ratelimit_take(&rl, 3600 * S) > 0);
}

static void test_twelve_a_minute(void **state)
{
    (void)state;
    hd_ratelimit_t rl;
    hd_ratelimit_init(&rl, 12.0 / 60, 12, 0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(hd_ratelimit_take(&rl, i * S), 0);
    /* 12 taken within 11 s; 11 s refilled 2.2 tokens, so 2 more now... */
    assert_int_equal(hd_ratelimit_take(&rl, 11 * S), 0);
    assert_int_equal(hd_ratelimit_take(&rl, 11 * S), 0);
    /* ...leaving 0.2: the next token is 0.8 x 5 s = 4 s away. */
    int64_t wait = hd_ratelimit_take(&rl, 11 * S);
    assert_true(wait >= 4 * S - 10 && wait <= 4 * S + 10);
    assert_int_equal(hd_ratelimit_take(&rl, 11 * S + wait), 0);
}

static void test_unlimited_and_small_burst(void **state)
{
    (void)state;
    hd_ratelimit_t rl;
    hd_ratelimit_init(&rl, 0, 0, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(hd_ratelimit_take(&rl, 0), 0);
    assert_true(hd_ratelimit_full(&rl, 0));
    /* A burst below 1 is 1: one request may always go after a pause. */
    hd_ratelimit_init(&rl, 1, 0.25, 0);
    assert_int_equal(hd_ratelimit_take(&rl, 0), 0);
    assert_int_equal(hd_ratelimit_take(&rl, 0), S);
}

static void test_clock_backwards(void **state)
{
    (void)state;
    hd_ratelimit_t rl;
    hd_ratelimit_init(&rl, 1, 1, 10 * S);
    assert_int_equal(hd_ratelimit_take(&rl, 10 * S), 0);
    /* Going back neither refills nor breaks: the wait is still about 1 s. */
    int64_t wait = hd_ratelimit_take(&rl, 5 * S);
    assert_int_equal(wait, S);
    assert_int_equal(hd_ratelimit_take(&rl, 11 * S), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refuse), cmocka_unit_test(test_refill_caps_at_burst),
        cmocka_unit_test(test_twelve_a_minute),   cmocka_unit_test(test_unlimited_and_small_burst),
        cmocka_unit_test(test_clock_backwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
