/* test_time — hd_time_parse_duration (the --timeout and --interval values
 * users type), hd_time_format_secs and the monotonic clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "check.h"
#include "util/time.h"

#include <stdio.h>

static void dur_is(const char *s, int64_t want_us)
{
    char err[128] = "";
    int64_t us = -12345;
    if (hd_time_parse_duration(s, &us, err, sizeof(err)) != 0) fail_msg("'%s' refused: %s", s, err);
    if (us != want_us)
        fail_msg("'%s' is %lld us, expected %lld", s, (long long)us, (long long)want_us);
}

/* Expects s refused, with the message naming it, and *out untouched. */
static void dur_bad(const char *s)
{
    char err[128] = "", want[128];
    int64_t us = -12345;
    if (hd_time_parse_duration(s, &us, err, sizeof(err)) == 0)
        fail_msg("'%s' accepted as %lld us", s ? s : "(null)", (long long)us);
    snprintf(want, sizeof(want), "invalid duration '%s' (expected e.g. 500ms, 2s, 1.5m, 1h)",
             s ? s : "");
    assert_string_equal(err, want);
    assert_int_equal(us, -12345);
}

static void test_units(void **state)
{
    (void)state;
    dur_is("500us", 500);
    dur_is("10ms", 10 * HD_USEC_PER_MSEC);
    dur_is("2s", 2 * HD_USEC_PER_SEC);
    dur_is("2m", 120 * HD_USEC_PER_SEC);
    dur_is("1h", 3600 * HD_USEC_PER_SEC);
    dur_is("0s", 0);
    dur_is("0", 0);
}

static void test_bare_number_is_seconds(void **state)
{
    (void)state;
    dur_is("30", 30 * HD_USEC_PER_SEC);
    dur_is("0.25", 250 * HD_USEC_PER_MSEC);
}

static void test_fractions(void **state)
{
    (void)state;
    dur_is("1.5s", 1500 * HD_USEC_PER_MSEC);
    dur_is("1.5m", 90 * HD_USEC_PER_SEC);
    dur_is("0.5h", 1800 * HD_USEC_PER_SEC);
    dur_is(".5s", 500 * HD_USEC_PER_MSEC);
    dur_is("5.s", 5 * HD_USEC_PER_SEC);
    dur_is("0.1ms", 100);
    dur_is("1.5us", 2); /* rounded to the nearest microsecond */
    dur_is("007s", 7 * HD_USEC_PER_SEC);
}

static void test_garbage(void **state)
{
    (void)state;
    dur_bad("");
    dur_bad(NULL);
    dur_bad("s");
    dur_bad("ms");
    dur_bad(".");
    dur_bad("abc");
    dur_bad("10 s"); /* no space before the unit */
    dur_bad(" 10s"); /* nor before the number */
    dur_bad("10s ");
    dur_bad("10sec"); /* only us, ms, s, m, h */
    dur_bad("10S");   /* units are lower case */
    dur_bad("10ns");
    dur_bad("10d");
    dur_bad("1.5.5s");
    dur_bad("1m30s"); /* one number, one unit */
    dur_bad("nan");
    dur_bad("inf");
    dur_bad("0x10"); /* decimal only: strtod would read 16 */
    dur_bad("0x1p3s");
    dur_bad("1e3"); /* no exponents: strtod would read 1000 */
    dur_bad("1e-3s");
    dur_bad("10\n");
}

static void test_negative(void **state)
{
    (void)state;
    dur_bad("-1");
    dur_bad("-1s");
    dur_bad("-0.5ms");
    dur_bad("+1s");
}

static void test_overflow(void **state)
{
    (void)state;
    /* The limit is 9e15 us, about 285 years: beyond it is a typo. */
    dur_is("9000000000s", 9000000000LL * HD_USEC_PER_SEC);
    dur_bad("9000000001s");
    dur_bad("2500001h");
    dur_bad("99999999999999999999999999999999");
    char big[400];
    memset(big, '9', sizeof(big) - 1); /* past DBL_MAX */
    big[sizeof(big) - 1] = '\0';
    dur_bad(big);
}

static void test_error_names_input(void **state)
{
    (void)state;
    char err[128];
    int64_t us;
    assert_int_equal(hd_time_parse_duration("5 minutes", &us, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid duration '5 minutes' (expected e.g. 500ms, 2s, 1.5m, 1h)");
    char small[9];
    assert_int_equal(hd_time_parse_duration("x", &us, small, sizeof(small)), -1);
    assert_string_equal(small, "invalid ");
}

static int64_t go(const char *s)
{
    int64_t ns = 12345;
    char err[160];
    assert_int_equal(hd_time_parse_go_duration(s, strlen(s), &ns, err, sizeof(err)), 0);
    return ns;
}

static void go_bad(const char *s, const char *want)
{
    int64_t ns = 12345;
    char err[160];
    assert_int_equal(hd_time_parse_go_duration(s, strlen(s), &ns, err, sizeof(err)), -1);
    assert_int_equal(ns, 12345);
    assert_string_equal(err, want);
}

static void test_go_durations(void **state)
{
    (void)state;
    const int64_t NS = 1, US = 1000, MS = 1000000, SEC = 1000000000;
    assert_int_equal(go("0"), 0);
    assert_int_equal(go("-0"), 0); /* as Go: what is left after the sign is "0" */
    assert_int_equal(go("10s"), 10 * SEC);
    assert_int_equal(go("1m30s"), 90 * SEC);
    assert_int_equal(go("1h2m3s4ms5us6ns"), 3723 * SEC + 4 * MS + 5 * US + 6 * NS);
    assert_int_equal(go("500ms"), 500 * MS);
    assert_int_equal(go("1.5h"), 5400 * SEC);
    assert_int_equal(go(".5s"), SEC / 2);
    assert_int_equal(go("1.s"), SEC);
    assert_int_equal(go("-2ms"), -2 * MS);
    assert_int_equal(go("+3us"), 3 * US);
    assert_int_equal(go("7\xc2\xb5s"), 7 * US); /* U+00B5 */
    assert_int_equal(go("7\xce\xbcs"), 7 * US); /* U+03BC */
    assert_int_equal(go("15000000000ns"), 15 * SEC);
    assert_int_equal(go("0.000000001s"), 1);
    assert_int_equal(go("0.1234567891234s"), 123456789); /* rounded down, as Go */
    assert_int_equal(go("2562047h47m16.854775807s"), INT64_MAX);
    assert_int_equal(go("-2562047h47m16.854775808s"), INT64_MIN);
    go_bad("", "invalid duration \"\" (expected Go's syntax, like 10s or 1m30s)");
    go_bad("10", "invalid duration \"10\" (expected Go's syntax, like 10s or 1m30s)");
    go_bad("s", "invalid duration \"s\" (expected Go's syntax, like 10s or 1m30s)");
    go_bad(".s", "invalid duration \".s\" (expected Go's syntax, like 10s or 1m30s)");
    go_bad("1d", "invalid duration \"1d\" (expected Go's syntax, like 10s or 1m30s)");
    go_bad("1s ", "invalid duration \"1s \" (expected Go's syntax, like 10s or 1m30s)");
    go_bad("-", "invalid duration \"-\" (expected Go's syntax, like 10s or 1m30s)");
    go_bad("2562048h", "duration \"2562048h\" is out of range");
    go_bad("2562047h47m16.854775808s", "duration \"2562047h47m16.854775808s\" is out of range");
    go_bad("99999999999999999999999s", "duration \"99999999999999999999999s\" is out of range");
}

static void test_format_secs(void **state)
{
    (void)state;
    char out[32];
    hd_time_format_secs(2100000, out, sizeof(out));
    assert_string_equal(out, "2.1 s");
    hd_time_format_secs(0, out, sizeof(out));
    assert_string_equal(out, "0.0 s");
    hd_time_format_secs(49999, out, sizeof(out));
    assert_string_equal(out, "0.0 s");
    hd_time_format_secs(61 * HD_USEC_PER_SEC, out, sizeof(out));
    assert_string_equal(out, "61.0 s");
    char tiny[4];
    hd_time_format_secs(2100000, tiny, sizeof(tiny));
    assert_string_equal(tiny, "2.1");
}

static void test_now_is_monotonic(void **state)
{
    (void)state;
    int64_t a = hd_time_now_us();
    int64_t b = hd_time_now_us();
    assert_true(a > 0);
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_bare_number_is_seconds),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_error_names_input),
        cmocka_unit_test(test_go_durations),
        cmocka_unit_test(test_format_secs),
        cmocka_unit_test(test_now_is_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
