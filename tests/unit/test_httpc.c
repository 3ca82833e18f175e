/* test_httpc — the CLI client's address and token from the environment
 * (HEED_* before CONSUL_*, host:port without a scheme, as Consul's CLI),
 * HEED_HTTP_SSL/CONSUL_HTTP_SSL read as Go's ParseBool, URL joining, and a
 * refused connection's message. Requests against a real server are in
 * test_api_server; over TLS, in the integration test test_cli_tls. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "util/httpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void addr_is(const char *in, const char *want)
{
    char err[300] = "";
    char *got = hd_httpc_addr_normalize(in, err, sizeof(err));
    if (!got) fail_msg("'%s' refused: %s", in, err);
    assert_string_equal(got, want);
    free(got);
}

static void test_normalize(void **state)
{
    (void)state;
    addr_is("127.0.0.1:8500", "http://127.0.0.1:8500");
    addr_is("http://agent.local:8500/", "http://agent.local:8500");
    addr_is("https://[::1]:8501", "https://[::1]:8501");
    addr_is("HTTP://a:1//", "HTTP://a:1");
    char err[300] = "";
    assert_null(hd_httpc_addr_normalize("unix:///run/heed.sock", err, sizeof(err)));
    assert_contains(err, "'unix:///run/heed.sock' is not http:// or https://");
    assert_null(hd_httpc_addr_normalize("", err, sizeof(err)));
}

static void test_env(void **state)
{
    (void)state;
    char err[300] = "";
    unsetenv("HEED_HTTP_ADDR");
    unsetenv("CONSUL_HTTP_ADDR");
    unsetenv("HEED_TOKEN");
    unsetenv("CONSUL_HTTP_TOKEN");
    char *a = hd_httpc_env_addr(err, sizeof(err));
    assert_string_equal(a, "http://127.0.0.1:8500");
    free(a);
    assert_null(hd_httpc_env_token());

    setenv("CONSUL_HTTP_ADDR", "10.0.0.1:8500", 1);
    setenv("CONSUL_HTTP_TOKEN", "consul-secret", 1);
    a = hd_httpc_env_addr(err, sizeof(err));
    assert_string_equal(a, "http://10.0.0.1:8500");
    free(a);
    assert_string_equal(hd_httpc_env_token(), "consul-secret");

    setenv("HEED_HTTP_ADDR", "https://heed:9500", 1);
    setenv("HEED_TOKEN", "heed-secret", 1);
    a = hd_httpc_env_addr(err, sizeof(err));
    assert_string_equal(a, "https://heed:9500");
    free(a);
    assert_string_equal(hd_httpc_env_token(), "heed-secret");

    /* Empty means unset, as in Consul. */
    setenv("HEED_HTTP_ADDR", "", 1);
    a = hd_httpc_env_addr(err, sizeof(err));
    assert_string_equal(a, "http://10.0.0.1:8500");
    free(a);

    setenv("HEED_HTTP_ADDR", "ftp://x", 1);
    assert_null(hd_httpc_env_addr(err, sizeof(err)));
    assert_contains(err, "HEED_HTTP_ADDR: agent address 'ftp://x' is not http");
}

static void ssl_is(const char *heed, const char *consul, int rc, int on)
{
    char err[300] = "";
    int got = -1;
    if (heed)
        setenv("HEED_HTTP_SSL", heed, 1);
    else
        unsetenv("HEED_HTTP_SSL");
    if (consul)
        setenv("CONSUL_HTTP_SSL", consul, 1);
    else
        unsetenv("CONSUL_HTTP_SSL");
    assert_int_equal(hd_httpc_env_ssl(&got, err, sizeof(err)), rc);
    assert_int_equal(got, on);
}

static void test_env_ssl(void **state)
{
    (void)state;
    char err[300] = "";
    int on;
    ssl_is(NULL, NULL, 0, 0);
    ssl_is(NULL, "true", 0, 1);
    ssl_is(NULL, "1", 0, 1);
    ssl_is(NULL, "T", 0, 1);
    ssl_is(NULL, "False", 0, 0);
    ssl_is("0", "true", 0, 0); /* HEED_* first */
    ssl_is("", "TRUE", 0, 1);  /* empty is unset */
    ssl_is(NULL, "yes", -1, 0);
    setenv("CONSUL_HTTP_SSL", "yes", 1);
    assert_int_equal(hd_httpc_env_ssl(&on, err, sizeof(err)), -1);
    assert_string_equal(err, "CONSUL_HTTP_SSL: expected true or false, got 'yes'");
    unsetenv("CONSUL_HTTP_SSL");
    unsetenv("HEED_HTTP_SSL");

    char *u = hd_httpc_to_https("http://127.0.0.1:8500");
    assert_string_equal(u, "https://127.0.0.1:8500");
    free(u);
    u = hd_httpc_to_https("https://a:1");
    assert_string_equal(u, "https://a:1");
    free(u);
    u = hd_httpc_to_https("a:1");
    assert_string_equal(u, "https://a:1");
    free(u);
}

static void test_url(void **state)
{
    (void)state;
    char *u = hd_httpc_url("http://a:1/", "/v1/checks");
    assert_string_equal(u, "http://a:1/v1/checks");
    free(u);
    u = hd_httpc_url("http://a:1", "v1/checks/x");
    assert_string_equal(u, "http://a:1/v1/checks/x");
    free(u);
}

static void test_refused(void **state)
{
    (void)state;
    /* A port that was free a moment ago. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
    close(s);
    char url[64], err[300] = "";
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/checks", ntohs(sin.sin_port));
    hd_httpc_req_t req = {.url = url, .timeout_ms = 2000};
    hd_httpc_resp_t resp;
    assert_int_equal(hd_httpc_do(&req, &resp, err, sizeof(err)), -1);
    assert_contains(err, url);
    assert_contains(err, "onnect"); /* "Failed to connect ... Connection refused" */
    assert_null(resp.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_ssl),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
