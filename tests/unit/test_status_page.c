/* test_status_page — the pure half of the status page (api/status_page.h):
 * day bucketing at UTC day edges and windows on an explicit clock, the
 * figures (cut, never rounded up to 100%), colours by threshold, ?window=
 * parsed strictly, the group status rule, escaping, the badge's SVG and the
 * HTML page (90 bars, everything escaped, only what the model gives). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/status_page.h"
#include "util/time.h"

#include <stdio.h>
#include <string.h>

#define H   (3600LL * HD_USEC_PER_SEC)
#define DAY (24 * H)
/* 2026-12-06T12:00:00Z */
#define NOW (1796558400LL * HD_USEC_PER_SEC)

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_days_and_windows(void **state)
{
    (void)state;
    hd_status_page_uptime_t u;
    hd_status_page_uptime_init(&u, NOW);
    int64_t today = NOW - 12 * H; /* 2026-12-06T00:00:00Z */
    assert_int_equal(u.first_day * DAY, today - 89 * DAY);

    hd_status_page_uptime_add(&u, NOW - H, 60, 60);              /* today, every window */
    hd_status_page_uptime_add(&u, today - H, 60, 30);            /* yesterday 23:00, in 24h */
    hd_status_page_uptime_add(&u, NOW - 24 * H - H, 60, 0);      /* yesterday 11:00: 7d on */
    hd_status_page_uptime_add(&u, today - 89 * DAY, 10, 10);     /* the first day's first hour */
    hd_status_page_uptime_add(&u, today - 89 * DAY - H, 99, 99); /* before it: left out */
    hd_status_page_uptime_add(&u, NOW + H, 99, 99);              /* the future: left out */
    hd_status_page_uptime_add(&u, NOW - 2 * H, 0, 0);            /* no result: nothing */
    hd_status_page_uptime_add(&u, NOW - 3 * H, 5, 9);            /* ok > count: count */

    assert_int_equal(u.days[89].count, 65);
    assert_int_equal(u.days[89].ok, 65);
    assert_int_equal(u.days[88].count, 120);
    assert_int_equal(u.days[88].ok, 30);
    assert_int_equal(u.days[0].count, 10);
    for (int d = 1; d < 88; d++)
        assert_int_equal(u.days[d].count, 0);
    assert_int_equal(u.win[HD_STATUS_PAGE_24H].count, 125);
    assert_int_equal(u.win[HD_STATUS_PAGE_24H].ok, 95);
    assert_int_equal(u.win[HD_STATUS_PAGE_7D].count, 185);
    assert_int_equal(u.win[HD_STATUS_PAGE_30D].count, 185);
    assert_int_equal(u.win[HD_STATUS_PAGE_90D].count, 195);
    assert_int_equal(u.win[HD_STATUS_PAGE_90D].ok, 105);

    /* A group sums its checks. */
    hd_status_page_uptime_t g;
    hd_status_page_uptime_init(&g, NOW);
    hd_status_page_uptime_merge(&g, &u);
    hd_status_page_uptime_merge(&g, &u);
    assert_int_equal(g.days[88].count, 240);
    assert_int_equal(g.win[HD_STATUS_PAGE_90D].ok, 210);
}

static void test_window_parse(void **state)
{
    (void)state;
    assert_int_equal(hd_status_page_window_parse("24h"), HD_STATUS_PAGE_24H);
    assert_int_equal(hd_status_page_window_parse("7d"), HD_STATUS_PAGE_7D);
    assert_int_equal(hd_status_page_window_parse("30d"), HD_STATUS_PAGE_30D);
    assert_int_equal(hd_status_page_window_parse("90d"), HD_STATUS_PAGE_90D);
    const char *bad[] = {"", "24H", "7d ", " 7d", "1d", "1y", "7", "d", "90d\n", "24h24h", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(hd_status_page_window_parse(bad[i]), -1);
    assert_int_equal(hd_status_page_window_parse(NULL), -1);
    assert_string_equal(hd_status_page_window_str(HD_STATUS_PAGE_30D), "30d");
}

static void pct_is(int64_t count, int64_t ok, const char *want)
{
    hd_status_page_tally_t t = {count, ok};
    char out[24];
    hd_status_page_pct(&t, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_figures(void **state)
{
    (void)state;
    pct_is(0, 0, "no data");
    pct_is(10, 10, "100%");
    pct_is(10, 0, "0%");
    pct_is(2, 1, "50%");
    pct_is(8, 7, "87.5%");
    pct_is(3, 1, "33.33%");
    pct_is(3, 2, "66.66%"); /* cut, not rounded */
    pct_is(10000, 9999, "99.99%");
    pct_is(100000, 99999, "99.99%"); /* 99.999: never shown as 100% */
    pct_is(100000000, 99999999, "99.99%");
    pct_is(1000, 1, "0.1%");
    pct_is(100000, 1, "0%");
}

static void color_is(int64_t count, int64_t ok, const char *want)
{
    hd_status_page_tally_t t = {count, ok};
    assert_string_equal(hd_status_page_pct_color(&t), want);
}

static void test_colors(void **state)
{
    (void)state;
    color_is(0, 0, "#9f9f9f");
    color_is(10, 10, "#44cc11");
    color_is(1000, 995, "#44cc11");
    color_is(1000, 994, "#97ca00");
    color_is(1000, 990, "#97ca00");
    color_is(1000, 989, "#dfb317");
    color_is(1000, 970, "#dfb317");
    color_is(1000, 969, "#fe7d37");
    color_is(1000, 950, "#fe7d37");
    color_is(1000, 949, "#e05d44");
    color_is(1000, 0, "#e05d44");
    assert_string_equal(hd_status_page_status_word(HD_CHECK_PASSING), "up");
    assert_string_equal(hd_status_page_status_word(HD_CHECK_WARNING), "degraded");
    assert_string_equal(hd_status_page_status_word(HD_CHECK_CRITICAL), "down");
    assert_string_equal(hd_status_page_status_word(HD_CHECK_MAINTENANCE), "maintenance");
    assert_string_equal(hd_status_page_status_word(-1), "no checks");
    assert_string_equal(hd_status_page_status_color(HD_CHECK_PASSING), "#44cc11");
    assert_string_equal(hd_status_page_status_color(HD_CHECK_CRITICAL), "#e05d44");
    assert_string_equal(hd_status_page_status_color(-1), "#9f9f9f");
}

static int status_of(const hd_check_status_t *st, size_t n)
{
    hd_status_page_check_t c[8];
    memset(c, 0, sizeof(c));
    for (size_t i = 0; i < n; i++) {
        c[i].name = "x";
        c[i].status = st[i];
    }
    hd_status_page_group_t g = {.name = "g", .title = "g", .checks = c, .nchecks = n};
    return hd_status_page_group_status(&g);
}

static void test_group_status(void **state)
{
    (void)state;
    const hd_check_status_t P = HD_CHECK_PASSING, W = HD_CHECK_WARNING, C = HD_CHECK_CRITICAL,
                            M = HD_CHECK_MAINTENANCE;
    assert_int_equal(status_of(NULL, 0), -1);
    assert_int_equal(status_of((hd_check_status_t[]){P, P}, 2), P);
    assert_int_equal(status_of((hd_check_status_t[]){P, W, P}, 3), W);
    assert_int_equal(status_of((hd_check_status_t[]){W, C, P}, 3), C);
    /* A check in maintenance does not make its group look down or up. */
    assert_int_equal(status_of((hd_check_status_t[]){M, P}, 2), P);
    assert_int_equal(status_of((hd_check_status_t[]){M, M}, 2), M);
}

static void test_escape(void **state)
{
    (void)state;
    hd_buf_t b = {0};
    hd_status_page_escape(&b, "<a href=\"x\">&'</a>\x01\x7f\tok\né");
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;??\tok\né");
    hd_buf_free(&b);
    hd_status_page_escape(&b, NULL);
    hd_status_page_escape(&b, "");
    assert_int_equal(b.len, 0);
    hd_buf_free(&b);
}

static void test_badge(void **state)
{
    (void)state;
    hd_buf_t b = {0};
    hd_status_page_badge_svg(&b, "Web <b>&", "up", "#44cc11");
    const char *s = b.data;
    assert_true(!strncmp(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", 47));
    assert_true(strlen(s) > 8 && !strcmp(s + strlen(s) - 7, "</svg>\n"));
    assert_non_null(strstr(s, "<title>Web &lt;b&gt;&amp;: up</title>"));
    assert_non_null(strstr(s, "aria-label=\"Web &lt;b&gt;&amp;: up\""));
    assert_non_null(strstr(s, "fill=\"#44cc11\""));
    assert_null(strstr(s, "<b>"));
    assert_int_equal(count_of(s, "<text "), 4);
    assert_int_equal(count_of(s, "</text>"), 4);
    assert_null(strstr(s, "<script"));
    /* The width is the label's part plus the message's. */
    int w = 0, lw = 0, mx = 0, mw = 0;
    assert_int_equal(sscanf(strstr(s, "width=\""), "width=\"%d\"", &w), 1);
    const char *grey = strstr(s, "<rect width=\"");
    assert_non_null(grey);
    grey = strstr(grey + 1, "<rect width=\""); /* after the clip path's */
    assert_int_equal(sscanf(grey, "<rect width=\"%d\"", &lw), 1);
    assert_int_equal(sscanf(strstr(s, "<rect x=\""), "<rect x=\"%d\" width=\"%d\"", &mx, &mw), 2);
    assert_int_equal(mx, lw);
    assert_int_equal(lw + mw, w);
    /* A longer message makes a wider badge. */
    hd_buf_t b2 = {0};
    hd_status_page_badge_svg(&b2, "Web <b>&", "maintenance", "#007ec6");
    int w2 = 0;
    assert_int_equal(sscanf(strstr(b2.data, "width=\""), "width=\"%d\"", &w2), 1);
    assert_true(w2 > w);
    hd_buf_free(&b);
    hd_buf_free(&b2);
}

static void test_html(void **state)
{
    (void)state;
    hd_status_page_check_t c[2] = {
        {.name = "<script>alert(1)</script>", .status = HD_CHECK_PASSING, .total = {10, 10}},
        {.name = "db",
         .status = HD_CHECK_CRITICAL,
         .output = "refused & <gone>",
         .target = "tcp://127.0.0.1:1",
         .total = {0, 0}},
    };
    hd_status_page_group_t g = {.name = "web", .title = "Web \"site\"", .checks = c, .nchecks = 2};
    hd_status_page_uptime_init(&g.up, NOW);
    hd_status_page_uptime_add(&g.up, NOW - H, 100, 99);
    hd_buf_t b = {0};
    hd_status_page_html(&b, "Acme <status>", &g, 1, 0);
    const char *s = b.data;
    assert_true(!strncmp(s, "<!DOCTYPE html>", 15));
    assert_null(strstr(s, "<script"));
    assert_non_null(strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(s, "<title>Acme &lt;status&gt;</title>"));
    assert_non_null(strstr(s, "Web &quot;site&quot;"));
    assert_non_null(strstr(s, "<pre>refused &amp; &lt;gone&gt;</pre>"));
    assert_non_null(strstr(s, "tcp://127.0.0.1:1"));
    assert_null(strstr(s, "href="));
    assert_null(strstr(s, " src="));
    /* 90 bars: 89 without data, today's 99% (light green). */
    assert_int_equal(count_of(s, ": no data\"></span>"), 89);
    assert_non_null(strstr(s, "<span class=\"l4\" title=\"2026-12-06: 99% (100 results)\">"));
    assert_non_null(strstr(s, "title=\"2026-09-08: no data\""));
    assert_non_null(strstr(s, "Some systems are down"));
    hd_buf_free(&b);

    /* The index links each group; without output or target none shows. */
    c[1].output = NULL;
    c[1].target = NULL;
    hd_status_page_html(&b, "Acme", &g, 1, 1);
    assert_non_null(strstr(b.data, "<a href=\"/status/web\">"));
    assert_null(strstr(b.data, "refused"));
    assert_null(strstr(b.data, "127.0.0.1"));
    assert_null(strstr(b.data, "<pre>"));
    hd_buf_free(&b);

    /* The 404 page is the same bytes every time. */
    hd_buf_t x = {0}, y = {0};
    hd_status_page_html_404(&x);
    hd_status_page_html_404(&y);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    hd_buf_free(&x);
    hd_buf_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_and_windows),
        cmocka_unit_test(test_window_parse),
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_colors),
        cmocka_unit_test(test_group_status),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_badge),
        cmocka_unit_test(test_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
