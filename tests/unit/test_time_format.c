/* test_time_format — durations and timestamps as the API prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/time.h"

#include <stdio.h>
#include <time.h>

static void test_duration_round_trips(void **state)
{
    (void)state;
    const struct {
        int64_t us;
        const char *text;
    } cases[] = {
        {10000000, "10s"},     {1500000, "1500ms"}, {120000000, "2m"}, {3600000000LL, "1h"},
        {5400000000LL, "90m"}, {250, "250us"},      {0, "0s"},         {1, "1us"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32], err[128];
        hd_time_format_duration(cases[i].us, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
        int64_t back = -1;
        assert_int_equal(hd_time_parse_duration(buf, &back, err, sizeof(err)), 0);
        assert_int_equal(back, cases[i].us);
    }
}

static void test_rfc3339(void **state)
{
    (void)state;
    char buf[40];
    hd_time_format_rfc3339(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    hd_time_format_rfc3339(1795000000123456LL, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-18T11:06:40.123Z");
    assert_true(hd_time_wall_us() > 1795000000000000LL);
}

/* The hand-written formats against snprintf and strftime, which they
 * replaced: every day boundary of years around leap rules, and a spread of
 * instants over 1970..9999; cut short as snprintf cuts. */
static void test_formats_as_libc(void **state)
{
    (void)state;
    char got[40], want[40];
    int64_t samples[4000];
    size_t n = 0;
    const int64_t day = 86400 * HD_USEC_PER_SEC;
    const int64_t starts[] = {0, 946684800LL * HD_USEC_PER_SEC /* 2000 */,
                              4107542400LL * HD_USEC_PER_SEC /* 2100 */,
                              253370764800LL * HD_USEC_PER_SEC /* 9999 */};
    for (size_t s = 0; s < 4; s++)
        for (int64_t i = -1; i < 800 && n < 3200; i++)
            if (starts[s] + i * day - 1 >= 0)
                samples[n++] = starts[s] + i * day - (i % 3 == 0 ? 1 : -999);
    uint64_t x = 88172645463325252ULL;
    while (n < sizeof(samples) / sizeof(samples[0])) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        samples[n++] = (int64_t)(x % (253402300800ULL * HD_USEC_PER_SEC));
    }
    for (size_t i = 0; i < n; i++) {
        int64_t us = samples[i];
        time_t secs = (time_t)(us / HD_USEC_PER_SEC);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char date[32];
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want, sizeof(want), "%s.%03dZ", date, (int)((us % HD_USEC_PER_SEC) / 1000));
        hd_time_format_rfc3339(us, got, sizeof(got));
        assert_string_equal(got, want);
    }
    hd_time_format_rfc3339(253402300799999999LL, got, sizeof(got));
    assert_string_equal(got, "9999-12-31T23:59:59.999Z");
    hd_time_format_rfc3339(1795000000123456LL, got, 11);
    assert_string_equal(got, "2026-11-18");

    const int64_t durs[] = {1,         -1,        999,          1000,
                            1001,      61000000,  3600000000LL, -7200000000LL,
                            INT64_MAX, INT64_MIN, 86400000000LL};
    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
        int64_t us = durs[i];
        if (us % (3600 * HD_USEC_PER_SEC) == 0)
            snprintf(want, sizeof(want), "%lldh", (long long)(us / (3600 * HD_USEC_PER_SEC)));
        else if (us % (60 * HD_USEC_PER_SEC) == 0)
            snprintf(want, sizeof(want), "%lldm", (long long)(us / (60 * HD_USEC_PER_SEC)));
        else if (us % HD_USEC_PER_SEC == 0)
            snprintf(want, sizeof(want), "%llds", (long long)(us / HD_USEC_PER_SEC));
        else if (us % HD_USEC_PER_MSEC == 0)
            snprintf(want, sizeof(want), "%lldms", (long long)(us / HD_USEC_PER_MSEC));
        else
            snprintf(want, sizeof(want), "%lldus", (long long)us);
        hd_time_format_duration(us, got, sizeof(got));
        assert_string_equal(got, want);
    }
    hd_time_format_duration(123000000, got, 3);
    assert_string_equal(got, "12");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_round_trips),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_formats_as_libc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
