/* test_ui_query — the dashboard's query (q, tag, status, limit, after,
 * history, sort) and If-None-Match against a file's ETag (api/ui_query.h); and
 * the embedded files' table (api/ui_assets.h): every file of ui/ with its
 * Content-Type and a strong ETag. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "agent/check.h"
#include "api/ui_assets.h"
#include "api/ui_query.h"

#include <string.h>

static void test_query_defaults_and_values(void **state)
{
    (void)state;
    hd_ui_query_t q;
    char err[200] = "";
    assert_int_equal(
        hd_ui_query_parse(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 50, &q, err, sizeof(err)), 0);
    assert_null(q.q);
    assert_null(q.tag);
    assert_null(q.after);
    assert_int_equal(q.status, HD_UI_STATUS_ANY);
    assert_int_equal(q.limit, 50);
    assert_int_equal(q.history, 0);
    /* Empty values are none. */
    assert_int_equal(hd_ui_query_parse("", "", "", "", "", "0", NULL, 7, &q, err, sizeof(err)), 0);
    assert_null(q.q);
    assert_null(q.tag);
    assert_null(q.after);
    assert_int_equal(q.status, HD_UI_STATUS_ANY);
    assert_int_equal(q.limit, 7);
    assert_int_equal(q.history, 0);
    assert_int_equal(hd_ui_query_parse("db", "prod", "critical", "1000", "web", "1", NULL, 50, &q,
                                       err, sizeof(err)),
                     0);
    assert_string_equal(q.q, "db");
    assert_string_equal(q.tag, "prod");
    assert_string_equal(q.after, "web");
    assert_int_equal(q.status, HD_CHECK_CRITICAL);
    assert_int_equal(q.limit, 1000);
    assert_int_equal(q.history, 1);
    const char *names[] = {"passing", "warning", "critical", "maintenance"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hd_ui_query_parse(NULL, NULL, names[i], "1", NULL, "false", NULL, 50, &q,
                                           err, sizeof(err)),
                         0);
        assert_int_equal(q.status, i);
        assert_int_equal(q.limit, 1);
        assert_int_equal(q.history, 0);
    }
}

static void test_query_errors_name_the_parameter(void **state)
{
    (void)state;
    hd_ui_query_t q;
    char err[200];
    assert_int_equal(
        hd_ui_query_parse(NULL, NULL, "down", NULL, NULL, NULL, NULL, 50, &q, err, sizeof(err)),
        -1);
    assert_string_equal(err,
                        "status: expected passing, warning, critical or maintenance, got 'down'");
    const char *bad[] = {"0", "1001", "-1", "x", "1x", " 5", "+5", "99999999999999999999", NULL};
    for (const char **b = bad; *b; b++) {
        err[0] = '\0';
        assert_int_equal(
            hd_ui_query_parse(NULL, NULL, NULL, *b, NULL, NULL, NULL, 50, &q, err, sizeof(err)),
            -1);
        assert_contains(err, "limit: expected a number from 1 to 1000");
    }
    char after[HD_UI_AFTER_MAX + 2];
    memset(after, 'a', sizeof(after) - 1);
    after[sizeof(after) - 1] = '\0';
    assert_int_equal(
        hd_ui_query_parse(NULL, NULL, NULL, NULL, after, NULL, NULL, 50, &q, err, sizeof(err)), -1);
    assert_string_equal(err, "after: longer than 1023 bytes");
    after[HD_UI_AFTER_MAX] = '\0'; /* 1,023 bytes: taken */
    assert_int_equal(
        hd_ui_query_parse(NULL, NULL, NULL, NULL, after, NULL, NULL, 50, &q, err, sizeof(err)), 0);
}

static void test_sort_by_status(void **state)
{
    (void)state;
    hd_ui_query_t q;
    char err[200] = "";
    assert_int_equal(hd_ui_query_parse(NULL, NULL, NULL, NULL, "2:default/web", NULL, "status", 50,
                                       &q, err, sizeof(err)),
                     0);
    assert_int_equal(q.by_status, 1);
    assert_int_equal(q.after_rank, 2);
    assert_string_equal(q.after, "default/web");
    assert_int_equal(
        hd_ui_query_parse(NULL, NULL, NULL, NULL, "web", NULL, "name", 50, &q, err, sizeof(err)),
        0);
    assert_int_equal(q.by_status, 0);
    assert_string_equal(q.after, "web");
    const char *bad_after[] = {"web", "4:web", "0:", "0web", NULL};
    for (const char **b = bad_after; *b; b++) {
        assert_int_equal(
            hd_ui_query_parse(NULL, NULL, NULL, NULL, *b, NULL, "status", 50, &q, err, sizeof(err)),
            -1);
        assert_contains(err, "after: with sort=status, expected RANK:KEY");
    }
    assert_int_equal(
        hd_ui_query_parse(NULL, NULL, NULL, NULL, NULL, NULL, "age", 50, &q, err, sizeof(err)), -1);
    assert_string_equal(err, "sort: expected name or status, got 'age'");
    /* The worst first. */
    assert_true(hd_ui_status_rank(HD_CHECK_CRITICAL) < hd_ui_status_rank(HD_CHECK_WARNING));
    assert_true(hd_ui_status_rank(HD_CHECK_WARNING) < hd_ui_status_rank(HD_CHECK_MAINTENANCE));
    assert_true(hd_ui_status_rank(HD_CHECK_MAINTENANCE) < hd_ui_status_rank(HD_CHECK_PASSING));
    assert_int_equal(hd_ui_status_rank(HD_CHECK_PASSING), 3);
}

static void test_etag_match(void **state)
{
    (void)state;
    const char *e = "\"0123456789abcdef\"";
    assert_int_equal(hd_ui_etag_match(NULL, e), 0);
    assert_int_equal(hd_ui_etag_match("", e), 0);
    assert_int_equal(hd_ui_etag_match(e, e), 1);
    assert_int_equal(hd_ui_etag_match("*", e), 1);
    assert_int_equal(hd_ui_etag_match("W/\"0123456789abcdef\"", e), 1);
    assert_int_equal(hd_ui_etag_match("\"x\", \"0123456789abcdef\"", e), 1);
    assert_int_equal(hd_ui_etag_match("\"x\",\"0123456789abcdef\" ,\"y\"", e), 1);
    assert_int_equal(hd_ui_etag_match("\"0123456789abcdef0\"", e), 0);
    assert_int_equal(hd_ui_etag_match("\"0123456789abcde\"", e), 0);
    assert_int_equal(hd_ui_etag_match("0123456789abcdef", e), 0);
    assert_int_equal(hd_ui_etag_match("\"0123456789abcdef", e), 0);
    assert_int_equal(hd_ui_etag_match("\"a,b\", \"0123456789abcdef\"", e), 1);
}

static void test_assets_table(void **state)
{
    (void)state;
    const char *want[][2] = {{"index.html", "text/html; charset=utf-8"},
                             {"app.js", "text/javascript; charset=utf-8"},
                             {"app.css", "text/css; charset=utf-8"},
                             {"favicon.svg", "image/svg+xml"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const hd_ui_asset_t *f = hd_ui_assets;
        while (f->name && strcmp(f->name, want[i][0]) != 0)
            f++;
        if (!f->name) fail_msg("ui/%s is not embedded", want[i][0]);
        assert_string_equal(f->type, want[i][1]);
        assert_true(f->len > 100);
        assert_int_equal(f->data[f->len], '\0');
        assert_int_equal(strlen(f->etag), 18);
        assert_true(f->etag[0] == '"' && f->etag[17] == '"');
    }
    const hd_ui_asset_t *index = hd_ui_assets;
    while (strcmp(index->name, "index.html") != 0)
        index++;
    assert_contains((const char *)index->data, "<script src=\"/ui/app.js\" defer></script>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_defaults_and_values),
        cmocka_unit_test(test_query_errors_name_the_parameter),
        cmocka_unit_test(test_sort_by_status),
        cmocka_unit_test(test_etag_match),
        cmocka_unit_test(test_assets_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
