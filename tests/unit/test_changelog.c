/* test_changelog — the status-change lines: text with the time, check,
 * old -> new and output on one line; JSON with the same fields, old null
 * for a first result; --log-format's values. */
#include "agent/changelog.h"

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 2026-12-06T06:40:01.123Z */
#define WALL (1796539201123000LL)

static void test_text(void **state)
{
    (void)state;
    char *l = hd_changelog_line(HD_LOG_TEXT, WALL, NULL, "web", "passing", "critical",
                                "tcp://127.0.0.1:1: connection refused");
    assert_string_equal(l, "2026-12-06T06:40:01.123Z check web: passing -> critical: "
                           "tcp://127.0.0.1:1: connection refused\n");
    free(l);
    /* A first result, no output, another tenant. */
    l = hd_changelog_line(HD_LOG_TEXT, WALL, "acme", "db", NULL, "passing", "");
    assert_string_equal(l, "2026-12-06T06:40:01.123Z check acme/db: unchecked -> passing\n");
    free(l);
    /* The default tenant named is shown as no tenant. */
    l = hd_changelog_line(HD_LOG_TEXT, WALL, "default", "db", "warning", "passing", NULL);
    assert_string_equal(l, "2026-12-06T06:40:01.123Z check db: warning -> passing\n");
    free(l);
    /* An exec check's output of several lines stays one log line. */
    l = hd_changelog_line(HD_LOG_TEXT, WALL, NULL, "x", "passing", "warning",
                          "DISK WARNING\nused 91%\r\tof /");
    assert_string_equal(l,
                        "2026-12-06T06:40:01.123Z check x: passing -> warning: DISK WARNING used "
                        "91%  of /\n");
    free(l);
}

static void test_json(void **state)
{
    (void)state;
    char *l = hd_changelog_line(HD_LOG_JSON, WALL, NULL, "web", "passing", "critical",
                                "say \"no\"\nthen stop");
    size_t n = strlen(l);
    assert_true(n > 1 && l[n - 1] == '\n');
    assert_null(memchr(l, '\n', n - 1)); /* one line */
    json_error_t err;
    json_t *o = json_loads(l, 0, &err);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "time")), "2026-12-06T06:40:01.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "check")), "web");
    assert_string_equal(json_string_value(json_object_get(o, "tenant")), "default");
    assert_string_equal(json_string_value(json_object_get(o, "old")), "passing");
    assert_string_equal(json_string_value(json_object_get(o, "new")), "critical");
    assert_string_equal(json_string_value(json_object_get(o, "output")), "say \"no\"\nthen stop");
    json_decref(o);
    free(l);
    l = hd_changelog_line(HD_LOG_JSON, WALL, "acme", "db", NULL, "passing", NULL);
    o = json_loads(l, 0, &err);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "old")));
    assert_string_equal(json_string_value(json_object_get(o, "tenant")), "acme");
    assert_string_equal(json_string_value(json_object_get(o, "output")), "");
    json_decref(o);
    free(l);
}

static void test_format_parse(void **state)
{
    (void)state;
    hd_log_format_t f = HD_LOG_JSON;
    assert_int_equal(hd_log_format_parse("text", &f), 0);
    assert_int_equal(f, HD_LOG_TEXT);
    assert_int_equal(hd_log_format_parse("json", &f), 0);
    assert_int_equal(f, HD_LOG_JSON);
    assert_int_equal(hd_log_format_parse("JSON", &f), -1);
    assert_int_equal(hd_log_format_parse("", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_format_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
