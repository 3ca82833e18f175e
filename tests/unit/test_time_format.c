/* test_time_format — durations and timestamps as the API prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/time.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_round_trips),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
