/* test_http1 — the HTTP/1.1 exchange of the static build (probe/http1.c):
 * the request it sends, and its verdict on replies whole, cut short, in
 * chunks, delimited by the close, or not HTTP at all. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "proto_check.h"

static const hd_proto_t *const P = &hd_proto_http1;

/* A target for url with the given body_contains and method (or NULL). */
static void http_target(const char *url, const char *contains, const char *method, hd_target_t *t)
{
    target_of(url, t);
    if (contains) t->http.body_contains = strdup(contains);
    if (method) t->http.method = strdup(method);
}

static void hello_is(hd_target_t *t, const char *want)
{
    hd_buf_t out = {0};
    P->hello(t, &out);
    assert_non_null(out.data);
    assert_string_equal(out.data, want);
    hd_buf_free(&out);
}

static void test_hello(void **state)
{
    (void)state;
    hd_target_t t;
    http_target("http://web:8080/health?full=1", NULL, NULL, &t);
    hello_is(&t, "GET /health?full=1 HTTP/1.1\r\nHost: web:8080\r\nUser-Agent: heed/" HEED_VERSION
                 "\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    hd_target_free(&t);
    http_target("http://[::1]", NULL, NULL, &t);
    hello_is(&t, "GET / HTTP/1.1\r\nHost: [::1]\r\nUser-Agent: heed/" HEED_VERSION
                 "\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    hd_target_free(&t);
    /* Basic authentication from the user info; the check's method,
     * headers and body (Consul's Method, Header, Body). */
    http_target("http://ann:s%40cret@web/x", NULL, "POST", &t);
    t.http.body = strdup("{}");
    t.http.headers = calloc(2, sizeof(char *));
    t.http.headers[0] = strdup("X-Probe: 1");
    hello_is(&t, "POST /x HTTP/1.1\r\nHost: web\r\nUser-Agent: heed/" HEED_VERSION
                 "\r\nAccept: */*\r\nConnection: close\r\n"
                 "Authorization: Basic YW5uOnNAY3JldA==\r\n"
                 "X-Probe: 1\r\nContent-Length: 2\r\n\r\n{}");
    hd_target_free(&t);
    assert_null(P->bye);
    assert_non_null(P->eof);
}

static void verdict_is(const char *contains, const char *method, const char *reply, hd_status_t st,
                       hd_reason_t r, const char *msg)
{
    hd_target_t t;
    http_target("http://web/", contains, method, &t);
    expect_verdict(P, &t, reply, strlen(reply), st, r, msg);
    hd_target_free(&t);
}

static void test_status(void **state)
{
    (void)state;
    verdict_is(NULL, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", HD_STATUS_PASSING,
               HD_R_OK, "HTTP 200");
    verdict_is(NULL, NULL, "HTTP/1.0 204 No Content\r\n\r\n", HD_STATUS_PASSING, HD_R_OK,
               "HTTP 204");
    verdict_is(NULL, NULL, "HTTP/1.1 503 Service Unavailable\r\n\r\n", HD_STATUS_CRITICAL,
               HD_R_HTTP_STATUS, "HTTP 503");
    verdict_is(NULL, NULL, "HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", HD_STATUS_CRITICAL,
               HD_R_HTTP_STATUS, "HTTP 301 (redirects are not followed unless asked)");
    /* Interim replies are skipped. */
    verdict_is(NULL, NULL,
               "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"
               "HTTP/1.1 200 OK\r\n\r\n",
               HD_STATUS_PASSING, HD_R_OK, "HTTP 200");
    /* An expected set. */
    hd_target_t t;
    http_target("http://web/", NULL, NULL, &t);
    int codes[] = {404};
    t.http.status = malloc(sizeof(codes));
    memcpy(t.http.status, codes, sizeof(codes));
    t.http.nstatus = 1;
    const char *nf = "HTTP/1.1 404 Not Found\r\n\r\n";
    expect_verdict(P, &t, nf, strlen(nf), HD_STATUS_PASSING, HD_R_OK, "HTTP 404");
    const char *ok = "HTTP/1.1 200 OK\r\n\r\n";
    expect_verdict(P, &t, ok, strlen(ok), HD_STATUS_CRITICAL, HD_R_HTTP_STATUS, "HTTP 200");
    hd_target_free(&t);
}

static void test_body(void **state)
{
    (void)state;
    verdict_is("ok", NULL, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nall ok", HD_STATUS_PASSING,
               HD_R_OK, "HTTP 200");
    verdict_is("ok", NULL, "HTTP/1.1 200 OK\r\ncontent-length:  4 \r\n\r\nfine", HD_STATUS_CRITICAL,
               HD_R_HTTP_BODY, "HTTP 200, body lacks 'ok'");
    /* Past Content-Length is not the body. */
    hd_target_t t;
    http_target("http://web/", "ok", NULL, &t);
    const char *past = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfineok";
    expect_now(P, &t, past, strlen(past), HD_STATUS_CRITICAL, HD_R_HTTP_BODY,
               "HTTP 200, body lacks 'ok'");
    hd_target_free(&t);
    /* Chunked: the text is found across chunks, and not in the sizes. */
    verdict_is("all ok", NULL,
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nall\r\n3;x=1\r\n ok",
               HD_STATUS_PASSING, HD_R_OK, "HTTP 200");
    /* The last chunk ends the body (trailers are not waited for). */
    verdict_is("a", NULL, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n",
               HD_STATUS_CRITICAL, HD_R_HTTP_BODY, "HTTP 200, body lacks 'a'");
    verdict_is("x", NULL, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz",
               HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "HTTP 200, bad chunked body");
    verdict_is("x", NULL, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HD_STATUS_CRITICAL,
               HD_R_BAD_REPLY, "HTTP 200, bad Content-Length");
    /* HEAD and 204 have no body to search. */
    verdict_is("ok", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", HD_STATUS_CRITICAL,
               HD_R_HTTP_BODY, "HTTP 200, body lacks 'ok'");
    /* A wrong status is judged before the body. */
    verdict_is("ok", NULL, "HTTP/1.1 500 Oops\r\n\r\n", HD_STATUS_CRITICAL, HD_R_HTTP_STATUS,
               "HTTP 500");
}

static void test_close_delimited(void **state)
{
    (void)state;
    hd_target_t t;
    http_target("http://web/", "ok", NULL, &t);
    const char *r = "HTTP/1.0 200 OK\r\n\r\nall ok";
    hd_verdict_t v;
    /* Without a length, only the close ends the body. */
    expect_more(P, &t, r, strlen(r) - 2);
    memset(&v, 0, sizeof(v));
    assert_int_equal(P->eof(&t, (const uint8_t *)r, strlen(r) - 2, &v), HD_PARSE_DONE);
    assert_string_equal(v.msg, "HTTP 200, body lacks 'ok'");
    expect_verdict(P, &t, r, strlen(r), HD_STATUS_PASSING, HD_R_OK, "HTTP 200");
    /* Closed before a whole head, or before anything: conn.c reports it. */
    assert_int_equal(P->eof(&t, (const uint8_t *)r, 10, &v), HD_PARSE_MORE);
    assert_int_equal(P->eof(&t, (const uint8_t *)r, 0, &v), HD_PARSE_MORE);
    hd_target_free(&t);
}

static void test_not_http(void **state)
{
    (void)state;
    hd_target_t t;
    http_target("http://web/", NULL, NULL, &t);
    /* Refused as soon as a byte differs: a redis or TLS server, say. */
    expect_now(P, &t, "-ERR", 4, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not an HTTP reply");
    expect_now(P, &t, "\x15\x03\x01", 3, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not an HTTP reply");
    expect_more(P, &t, "HTTP/1", 6);
    const char *bad = "HTTP/1.1 2000 OK\r\n\r\n";
    expect_now(P, &t, bad, strlen(bad), HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not an HTTP status line");
    random_bytes_survive(P, &t, 2000, 200, "HTTP/1.0 2\r\n:chunkedContent-Length", 35);
    random_bytes_survive(P, &t, 2000, 200, NULL, 0);
    hd_target_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),    cmocka_unit_test(test_status),
        cmocka_unit_test(test_body),     cmocka_unit_test(test_close_delimited),
        cmocka_unit_test(test_not_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
