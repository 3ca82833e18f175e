/* test_state — the check state machine: thresholds, warnings, slow passes,
 * pause and resume, TTL reports, output capping, change flags and copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent/state.h"

static hd_check_def_t def(int ok, int warn, int crit)
{
    hd_check_def_t d;
    memset(&d, 0, sizeof(d));
    d.success_before_passing = ok;
    d.failures_before_warning = warn;
    d.failures_before_critical = crit;
    return d;
}

static int feed(hd_check_state_t *st, const hd_check_def_t *d, hd_status_t s, const char *out,
                int64_t now)
{
    hd_result_t r;
    memset(&r, 0, sizeof(r));
    r.status = s;
    r.reason = s == HD_STATUS_PASSING ? HD_R_OK : HD_R_CONNECT_REFUSED;
    r.latency_us = 1000;
    snprintf(r.output, sizeof(r.output), "%s", out);
    return hd_state_apply(st, d, &r, now, 4096);
}

static void test_new_check_is_critical_until_it_passes(void **state)
{
    (void)state;
    hd_check_def_t d = def(1, 1, 3);
    hd_check_state_t st;
    hd_state_init(&st, 100);
    assert_int_equal(st.status, HD_CHECK_CRITICAL);
    assert_string_equal(st.output, "not checked yet");
    int f = feed(&st, &d, HD_STATUS_PASSING, "connected", 200);
    assert_true(f & HD_STATE_STATUS_CHANGED);
    assert_int_equal(st.status, HD_CHECK_PASSING);
    assert_int_equal(st.last_change, 200);
    assert_int_equal(st.last_success, 200);
    assert_string_equal(st.output, "connected");
    hd_state_free(&st);
}

static void test_failure_thresholds(void **state)
{
    (void)state;
    hd_check_def_t d = def(2, 1, 3);
    hd_check_state_t st;
    hd_state_init(&st, 0);
    feed(&st, &d, HD_STATUS_PASSING, "ok", 1);
    assert_int_equal(st.status, HD_CHECK_CRITICAL); /* needs 2 passes */
    feed(&st, &d, HD_STATUS_PASSING, "ok", 2);
    assert_int_equal(st.status, HD_CHECK_PASSING);
    assert_true(feed(&st, &d, HD_STATUS_CRITICAL, "refused", 3) & HD_STATE_STATUS_CHANGED);
    assert_int_equal(st.status, HD_CHECK_WARNING);
    assert_false(feed(&st, &d, HD_STATUS_CRITICAL, "refused", 4) & HD_STATE_STATUS_CHANGED);
    assert_int_equal(st.status, HD_CHECK_WARNING);
    feed(&st, &d, HD_STATUS_CRITICAL, "refused", 5);
    assert_int_equal(st.status, HD_CHECK_CRITICAL);
    assert_int_equal(st.last_change, 5);
    /* one pass is not enough to recover with success_before_passing 2 */
    feed(&st, &d, HD_STATUS_PASSING, "ok", 6);
    assert_int_equal(st.status, HD_CHECK_CRITICAL);
    feed(&st, &d, HD_STATUS_PASSING, "ok", 7);
    assert_int_equal(st.status, HD_CHECK_PASSING);
    hd_state_free(&st);
}

static void test_interrupted_failures_reset_the_count(void **state)
{
    (void)state;
    hd_check_def_t d = def(1, 2, 3);
    hd_check_state_t st;
    hd_state_init(&st, 0);
    feed(&st, &d, HD_STATUS_PASSING, "ok", 1);
    feed(&st, &d, HD_STATUS_CRITICAL, "x", 2);
    assert_int_equal(st.status, HD_CHECK_PASSING); /* 1 < failures_before_warning */
    feed(&st, &d, HD_STATUS_PASSING, "ok", 3);
    feed(&st, &d, HD_STATUS_CRITICAL, "x", 4);
    feed(&st, &d, HD_STATUS_PASSING, "ok", 5);
    assert_int_equal(st.status, HD_CHECK_PASSING);
    assert_int_equal(st.consecutive_fail, 0);
    hd_state_free(&st);
}

static void test_warning_results_never_reach_critical(void **state)
{
    (void)state;
    hd_check_def_t d = def(1, 1, 2);
    hd_check_state_t st;
    hd_state_init(&st, 0);
    feed(&st, &d, HD_STATUS_PASSING, "ok", 1);
    for (int i = 0; i < 5; i++)
        feed(&st, &d, HD_STATUS_WARNING, "exit status 1: disk 91%", 2 + i);
    assert_int_equal(st.status, HD_CHECK_WARNING);
    assert_string_equal(st.output, "exit status 1: disk 91%");
    /* a new check whose first results warn is warning, not critical */
    hd_check_state_t st2;
    hd_state_init(&st2, 0);
    feed(&st2, &d, HD_STATUS_WARNING, "w", 1);
    assert_int_equal(st2.status, HD_CHECK_WARNING);
    hd_state_free(&st);
    hd_state_free(&st2);
}

static void test_slow_pass_is_a_warning(void **state)
{
    (void)state;
    hd_check_def_t d = def(1, 1, 3);
    d.latency_warn_us = 500; /* 0.5 ms, results take 1 ms */
    hd_check_state_t st;
    hd_state_init(&st, 0);
    feed(&st, &d, HD_STATUS_PASSING, "HTTP 200", 1);
    assert_int_equal(st.status, HD_CHECK_WARNING);
    assert_string_equal(st.output, "slow: 1.0 ms > 0.5 ms; HTTP 200");
    assert_int_equal(st.last_success, 0);
    hd_state_free(&st);
}

static void test_pause_and_resume(void **state)
{
    (void)state;
    hd_check_def_t d = def(1, 1, 1);
    hd_check_state_t st;
    hd_state_init(&st, 0);
    feed(&st, &d, HD_STATUS_PASSING, "ok", 1);
    assert_true(hd_state_pause(&st, 1, 2) & HD_STATE_STATUS_CHANGED);
    assert_int_equal(st.status, HD_CHECK_MAINTENANCE);
    assert_int_equal(hd_state_pause(&st, 1, 3), 0);
    assert_int_equal(feed(&st, &d, HD_STATUS_CRITICAL, "x", 4), 0); /* ignored */
    assert_int_equal(st.status, HD_CHECK_MAINTENANCE);
    /* Resumed: the status it had when paused, and its last output, stand
     * until the next result (a healthy check does not turn critical). */
    assert_true(hd_state_pause(&st, 0, 5) & HD_STATE_STATUS_CHANGED);
    assert_int_equal(st.status, HD_CHECK_PASSING);
    assert_string_equal(st.output, "ok");
    assert_int_equal(st.last_change, 5);
    feed(&st, &d, HD_STATUS_CRITICAL, "down", 6);
    assert_int_equal(st.status, HD_CHECK_CRITICAL);

    /* A critical check stays critical, and a warning one warning. */
    hd_state_pause(&st, 1, 7);
    hd_state_pause(&st, 0, 8);
    assert_int_equal(st.status, HD_CHECK_CRITICAL);
    feed(&st, &d, HD_STATUS_WARNING, "slow", 9);
    assert_int_equal(st.status, HD_CHECK_WARNING);
    hd_state_pause(&st, 1, 10);
    hd_state_pause(&st, 0, 11);
    assert_int_equal(st.status, HD_CHECK_WARNING);
    hd_state_free(&st);

    /* A check paused before its first result is critical when resumed. */
    hd_state_init(&st, 0);
    hd_state_pause(&st, 1, 1);
    hd_state_pause(&st, 0, 2);
    assert_int_equal(st.status, HD_CHECK_CRITICAL);
    assert_string_equal(st.output, "not checked yet");
    hd_state_free(&st);
}

static void test_output_flags_and_cap(void **state)
{
    (void)state;
    hd_check_def_t d = def(1, 1, 3);
    hd_check_state_t st;
    hd_state_init(&st, 0);
    feed(&st, &d, HD_STATUS_PASSING, "a", 1);
    assert_int_equal(feed(&st, &d, HD_STATUS_PASSING, "a", 2), 0);
    assert_int_equal(feed(&st, &d, HD_STATUS_PASSING, "b", 3), HD_STATE_OUTPUT_CHANGED);
    hd_result_t r;
    memset(&r, 0, sizeof(r));
    memset(r.output, 'x', 100);
    memcpy(r.output + 8, "\xc3\xa9", 2); /* a 2-byte UTF-8 letter across the cap */
    r.output[100] = '\0';
    hd_state_apply(&st, &d, &r, 4, 10);
    assert_int_equal(strlen(st.output), 8); /* cut before the split letter */
    hd_state_free(&st);
}

static void test_ttl_reports(void **state)
{
    (void)state;
    hd_check_state_t st;
    hd_state_init(&st, 0);
    int f = hd_state_ttl(&st, HD_CHECK_PASSING, "up", 10, 4096);
    assert_int_equal(f, HD_STATE_STATUS_CHANGED | HD_STATE_OUTPUT_CHANGED);
    assert_int_equal(st.status, HD_CHECK_PASSING);
    assert_int_equal(st.reason, HD_R_OK);
    assert_int_equal(st.last_change, 10);
    assert_int_equal(st.last_success, 10);
    assert_int_equal(st.last_checked, 10);
    /* The same status again: only the output and the times move. */
    assert_int_equal(hd_state_ttl(&st, HD_CHECK_PASSING, "up", 20, 4096), 0);
    assert_int_equal(hd_state_ttl(&st, HD_CHECK_PASSING, "still up", 30, 4096),
                     HD_STATE_OUTPUT_CHANGED);
    assert_int_equal(st.last_change, 10);
    assert_int_equal(st.last_checked, 30);
    f = hd_state_ttl(&st, HD_CHECK_WARNING, "slow", 40, 4);
    assert_true(f & HD_STATE_STATUS_CHANGED);
    assert_int_equal(st.reason, HD_R_EXEC_STATUS);
    assert_string_equal(st.output, "slo"); /* cut below the 4-byte cap */
    assert_int_equal(st.last_success, 30);
    /* A paused check ignores reports. */
    hd_state_pause(&st, 1, 50);
    assert_int_equal(hd_state_ttl(&st, HD_CHECK_CRITICAL, "down", 60, 4096), 0);
    assert_int_equal(st.status, HD_CHECK_MAINTENANCE);
    assert_int_equal(st.last_checked, 40);
    hd_state_free(&st);
}

static void test_copy_is_independent(void **state)
{
    (void)state;
    hd_check_state_t st, cp;
    hd_state_init(&st, 0);
    hd_state_ttl(&st, HD_CHECK_PASSING, "up", 10, 0);
    hd_state_copy(&cp, &st);
    /* What a change does to the copy (the state a write would store) leaves
     * the original as it was: a write that fails changes nothing. */
    hd_state_pause(&cp, 1, 20);
    assert_int_equal(cp.status, HD_CHECK_MAINTENANCE);
    hd_state_ttl(&st, HD_CHECK_PASSING, "other", 30, 0);
    assert_string_equal(cp.output, "up");
    assert_int_equal(st.status, HD_CHECK_PASSING);
    assert_int_equal(st.paused, 0);
    hd_state_free(&cp);
    hd_state_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_check_is_critical_until_it_passes),
        cmocka_unit_test(test_failure_thresholds),
        cmocka_unit_test(test_interrupted_failures_reset_the_count),
        cmocka_unit_test(test_warning_results_never_reach_critical),
        cmocka_unit_test(test_slow_pass_is_a_warning),
        cmocka_unit_test(test_pause_and_resume),
        cmocka_unit_test(test_output_flags_and_cap),
        cmocka_unit_test(test_ttl_reports),
        cmocka_unit_test(test_copy_is_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
