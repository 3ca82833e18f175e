/* test_metrics — the Prometheus text writer: exact text for a few families
 * written in interleaved order, escaping, special values, summaries from a
 * latency histogram, and that `promtool check metrics` (Debian's
 * prometheus package, installed by scripts/deps.sh) accepts the result. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "api/metrics.h"

#include <math.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs promtool check metrics on text; returns its exit status and puts
 * its output in out. */
static int promtool(const char *text, char *out, size_t outlen)
{
    char path[] = "/tmp/heed-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(path);
    if (!WIFEXITED(st)) fail_msg("promtool did not run");
    if (WEXITSTATUS(st) == 127) fail_msg("promtool is missing: run scripts/deps.sh");
    return WEXITSTATUS(st);
}

static void test_families_once_in_first_seen_order(void **state)
{
    (void)state;
    hd_metrics_t *m = hd_metrics_new();
    /* Per-check loops interleave families; the text must not. */
    const char *checks[] = {"web", "db"};
    for (int i = 0; i < 2; i++) {
        hd_metrics_gauge(m, "heed_check_up", "1 when the check passes", i == 0 ? 1 : 0, "check",
                         checks[i], NULL);
        hd_metrics_gauge(m, "heed_check_latency_seconds", "Latency of the last run",
                         i == 0 ? 0.0125 : 2, "check", checks[i], NULL);
    }
    hd_metrics_counter(m, "heed_runs_total", "Check runs", 42, NULL);
    const char *want = "# HELP heed_check_up 1 when the check passes\n"
                       "# TYPE heed_check_up gauge\n"
                       "heed_check_up{check=\"web\"} 1\n"
                       "heed_check_up{check=\"db\"} 0\n"
                       "# HELP heed_check_latency_seconds Latency of the last run\n"
                       "# TYPE heed_check_latency_seconds gauge\n"
                       "heed_check_latency_seconds{check=\"web\"} 0.0125\n"
                       "heed_check_latency_seconds{check=\"db\"} 2\n"
                       "# HELP heed_runs_total Check runs\n"
                       "# TYPE heed_runs_total counter\n"
                       "heed_runs_total 42\n";
    size_t len = 0;
    const char *text = hd_metrics_text(m, &len);
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));
    char out[2048];
    if (promtool(text, out, sizeof(out)) != 0) fail_msg("promtool: %s", out);
    hd_metrics_free(m);
}

static void test_escaping_and_values(void **state)
{
    (void)state;
    hd_metrics_t *m = hd_metrics_new();
    hd_metrics_gauge(m, "heed_check_info", "Help with a \\ backslash\nand a newline", 1, "name",
                     "say \"hi\"\\\nbye", "tenant", "", NULL);
    hd_metrics_gauge(m, "heed_cert_expiry_seconds", "Seconds until the certificate expires", NAN,
                     "check", "a", NULL);
    hd_metrics_gauge(m, "heed_cert_expiry_seconds", "Seconds until the certificate expires",
                     INFINITY, "check", "b", NULL);
    hd_metrics_gauge(m, "heed_cert_expiry_seconds", "Seconds until the certificate expires",
                     -INFINITY, "check", "c", NULL);
    hd_metrics_gauge(m, "heed_cert_expiry_seconds", "Seconds until the certificate expires", 1e20,
                     "check", "d", NULL);
    const char *text = hd_metrics_text(m, NULL);
    assert_contains(text, "# HELP heed_check_info Help with a \\\\ backslash\\nand a newline\n");
    assert_contains(text, "heed_check_info{name=\"say \\\"hi\\\"\\\\\\nbye\",tenant=\"\"} 1\n");
    assert_contains(text, "heed_cert_expiry_seconds{check=\"a\"} NaN\n");
    assert_contains(text, "heed_cert_expiry_seconds{check=\"b\"} +Inf\n");
    assert_contains(text, "heed_cert_expiry_seconds{check=\"c\"} -Inf\n");
    assert_contains(text, "heed_cert_expiry_seconds{check=\"d\"} 1e+20\n");
    char out[2048];
    if (promtool(text, out, sizeof(out)) != 0) fail_msg("promtool: %s\n%s", out, text);
    hd_metrics_free(m);
}

static void test_summary(void **state)
{
    (void)state;
    hd_hist_t h = {0};
    for (int i = 1; i <= 1000; i++)
        hd_hist_add(&h, i * 10); /* 10 us .. 10 ms */
    hd_hist_t empty = {0};
    hd_metrics_t *m = hd_metrics_new();
    hd_metrics_summary(m, "heed_api_request_duration_seconds", "Request latency", &h, "route",
                       "/v1/checks", NULL);
    hd_metrics_summary(m, "heed_api_request_duration_seconds", "Request latency", &empty, "route",
                       "/v1/ping", NULL);
    const char *text = hd_metrics_text(m, NULL);
    assert_contains(text, "# TYPE heed_api_request_duration_seconds summary\n");
    assert_contains(text, "heed_api_request_duration_seconds{route=\"/v1/checks\",quantile=\"1\"} "
                          "0.01\n");
    assert_contains(text, "heed_api_request_duration_seconds_sum{route=\"/v1/checks\"} 5.005\n");
    assert_contains(text, "heed_api_request_duration_seconds_count{route=\"/v1/checks\"} 1000\n");
    assert_contains(text, "heed_api_request_duration_seconds{route=\"/v1/ping\",quantile=\"0.5\"} "
                          "NaN\n");
    assert_contains(text, "heed_api_request_duration_seconds_count{route=\"/v1/ping\"} 0\n");
    char out[2048];
    if (promtool(text, out, sizeof(out)) != 0) fail_msg("promtool: %s\n%s", out, text);
    hd_metrics_free(m);
}

static void test_empty(void **state)
{
    (void)state;
    hd_metrics_t *m = hd_metrics_new();
    size_t len = 99;
    assert_string_equal(hd_metrics_text(m, &len), "");
    assert_int_equal(len, 0);
    hd_metrics_free(m);
}

/* Programming errors abort: run each in a child. */
static void expect_abort(void (*fn)(hd_metrics_t *))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(2); /* then not SIGABRT: the test fails */
        hd_metrics_t *m = hd_metrics_new();
        fn(m);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void counter_without_total(hd_metrics_t *m)
{
    hd_metrics_counter(m, "heed_runs", "x", 1, NULL);
}
static void bad_metric_name(hd_metrics_t *m)
{
    hd_metrics_gauge(m, "heed-runs", "x", 1, NULL);
}
static void bad_label_name(hd_metrics_t *m)
{
    hd_metrics_gauge(m, "heed_up", "x", 1, "check-name", "a", NULL);
}
static void type_clash(hd_metrics_t *m)
{
    hd_metrics_gauge(m, "heed_up_total", "x", 1, NULL);
    hd_metrics_counter(m, "heed_up_total", "x", 1, NULL);
}

static void test_programming_errors_abort(void **state)
{
    (void)state;
    expect_abort(counter_without_total);
    expect_abort(bad_metric_name);
    expect_abort(bad_label_name);
    expect_abort(type_clash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families_once_in_first_seen_order),
        cmocka_unit_test(test_escaping_and_values),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_programming_errors_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
