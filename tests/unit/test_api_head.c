/* test_api_head — HTTP/1.1 request heads and chunked bodies without a
 * socket: where a head ends, what a partial head may still become, every
 * refusal with its status and message, keep-alive by version and
 * Connection, Content-Length and Transfer-Encoding rules, and chunked
 * bodies fed in pieces of every size. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "api/chunked.h"
#include "api/head.h"

#include <stdio.h>
#include <string.h>

/* Parses a whole head s (found by hd_api_head_end); 0 or -1 with e. */
static int parse(const char *s, hd_api_head_t *h, hd_api_head_err_t *e, char *buf, size_t buflen,
                 hd_api_field_t *fields, size_t nfields)
{
    size_t len = strlen(s), scanned = 0;
    assert_true(len < buflen);
    memcpy(buf, s, len + 1);
    size_t end = hd_api_head_end(buf, len, &scanned);
    if (end != len) fail_msg("head end %zu, want %zu for '%s'", end, len, s);
    assert_true(hd_api_head_lines(buf, len) <= nfields);
    return hd_api_head_parse(buf, len, fields, nfields, h, e);
}

#define PARSE(s) parse((s), &h, &e, buf, sizeof(buf), fields, 16)

static void refused(const char *s, int status, const char *code, const char *msg)
{
    char buf[1024];
    hd_api_field_t fields[16];
    hd_api_head_t h;
    hd_api_head_err_t e;
    if (parse(s, &h, &e, buf, sizeof(buf), fields, 16) == 0) fail_msg("'%s' was accepted", s);
    if (e.status != status || strcmp(e.code, code) != 0)
        fail_msg("'%s': want %d %s, got %d %s (%s)", s, status, code, e.status, e.code, e.msg);
    assert_contains(e.msg, msg);
}

static void test_end(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
    size_t scanned = 0;
    /* Byte by byte: found exactly once the empty line is complete. */
    for (size_t n = 1; n <= strlen(s); n++) {
        size_t end = hd_api_head_end(s, n, &scanned);
        if (n < 27)
            assert_int_equal(end, 0);
        else
            assert_int_equal(end, 27);
        if (end) scanned = 0; /* a fresh search for the next n */
    }
    scanned = 0;
    assert_int_equal(hd_api_head_end("GET / HTTP/1.0\n\nx", 17, &scanned), 16); /* bare LF */
    scanned = 0;
    const char *mixed = "GET / HTTP/1.0\r\nA: b\n\r\n";
    assert_int_equal(hd_api_head_end(mixed, strlen(mixed), &scanned), strlen(mixed));
    /* A CR alone inside a line does not end anything. */
    scanned = 0;
    assert_int_equal(hd_api_head_end("GET / HTTP/1.1\r\nA: \r\r\n", 23, &scanned), 0);
    assert_int_equal(hd_api_head_skip_empty("\r\n\r\nGET", 7), 4);
    assert_int_equal(hd_api_head_skip_empty("GET", 3), 0);
}

static void test_partial(void **state)
{
    (void)state;
    hd_api_head_err_t e;
    assert_int_equal(hd_api_head_partial("", 0, 100, &e), 0);
    assert_int_equal(hd_api_head_partial("GE", 2, 100, &e), 0);
    assert_int_equal(hd_api_head_partial("GET /x HTTP/1.1\r\nHost", 21, 100, &e), 0);
    /* A TLS ClientHello on a plain port: refused at its first byte. */
    assert_int_equal(hd_api_head_partial("\x16\x03\x01\x02", 4, 100, &e), -1);
    assert_int_equal(e.status, 400);
    assert_contains(e.msg, "not an HTTP request line");
    assert_int_equal(hd_api_head_partial("GET\t/", 5, 100, &e), -1);
    assert_int_equal(e.status, 400);
    char longm[64];
    memset(longm, 'A', sizeof(longm));
    assert_int_equal(hd_api_head_partial(longm, sizeof(longm), 1000, &e), -1);
    assert_int_equal(e.status, 501);
    /* Over the limit: 414 while still in the request line, else 431. */
    char big[300];
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    assert_int_equal(hd_api_head_partial(big, sizeof(big), 200, &e), -1);
    assert_int_equal(e.status, 414);
    assert_string_equal(e.code, "uri_too_long");
    assert_string_equal(e.msg, "the request line is longer than the limit of 200 bytes");
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(hd_api_head_partial(big, sizeof(big), 200, &e), -1);
    assert_int_equal(e.status, 431);
    assert_string_equal(e.code, "headers_too_large");
    assert_int_equal(hd_api_head_partial(big, 200, 200, &e), 0); /* at the limit */
}

static void test_parse_ok(void **state)
{
    (void)state;
    char buf[1024];
    hd_api_field_t fields[16];
    hd_api_head_t h;
    hd_api_head_err_t e;
    assert_int_equal(PARSE("POST /v1/checks?x=1 HTTP/1.1\r\nHost: h\r\n"
                           "content-length:   12  \r\nX-Consul-Token:\tabc\t\r\n"
                           "Expect: 100-Continue\r\nEmpty:\r\n\r\n"),
                     0);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.target, "/v1/checks?x=1");
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.nfields, 5);
    assert_string_equal(h.host, "h");
    assert_true(h.has_length);
    assert_int_equal(h.length, 12);
    assert_true(h.expect_continue);
    assert_true(h.keep_alive);
    assert_false(h.chunked);
    assert_string_equal(hd_api_head_field(&h, "x-consul-token"), "abc");
    assert_string_equal(hd_api_head_field(&h, "EMPTY"), "");
    assert_null(hd_api_head_field(&h, "Nope"));

    /* HTTP/1.0: no Host needed, keep-alive only when asked. */
    assert_int_equal(PARSE("GET / HTTP/1.0\n\n"), 0);
    assert_int_equal(h.minor, 0);
    assert_false(h.keep_alive);
    assert_int_equal(PARSE("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    assert_true(h.keep_alive);
    assert_int_equal(PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, close\r\n\r\n"), 0);
    assert_false(h.keep_alive);
    /* A later HTTP/1.x is read as 1.1. */
    assert_int_equal(PARSE("GET / HTTP/1.7\r\nHost: a\r\n\r\n"), 0);
    assert_int_equal(h.minor, 1);
    /* Chunked, and equal Content-Lengths. */
    assert_int_equal(PARSE("PUT /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
    assert_true(h.chunked);
    assert_int_equal(PARSE("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                           "Content-Length: 3\r\n\r\n"),
                     0);
    assert_int_equal(h.length, 3);
    /* Raw bytes over 0x7f in the target are left to the router. */
    assert_int_equal(PARSE("GET /v1/nope\xff HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    assert_string_equal(h.target, "/v1/nope\xff");
    /* Huge lengths saturate (the caller answers 413). */
    assert_int_equal(PARSE("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: "
                           "999999999999999999999999999\r\n\r\n"),
                     0);
    assert_true(h.length == UINT64_MAX);
}

static void test_parse_refused(void **state)
{
    (void)state;
    refused("GET /\r\n\r\n", 505, "version_not_supported", "HTTP/0.9 is not supported");
    refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version_not_supported",
            "HTTP/2.0 is not supported");
    refused("PRI * HTTP/2.0\r\n\r\n", 505, "version_not_supported", "HTTP/2.0");
    refused("GET / HTTP/0.9\r\n\r\n", 505, "version_not_supported", "HTTP/0.9");
    refused("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, "bad_request", "HTTP version");
    refused("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "bad_request", "HTTP version");
    refused("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request", "%20");
    refused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request", "no target");
    refused("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request", "control byte 0x01");
    refused("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request", "method");
    refused("GET / HTTP/1.1\r\n\r\n", 400, "bad_request", "must have a Host header");
    refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad_request", "not several");
    refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad_request", "only one Host");
    refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "bad_request", "space before its colon");
    refused("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "bad_request",
            "obsolete line folding");
    refused("GET / HTTP/1.1\r\nHost: a\r\nNocolon\r\n\r\n", 400, "bad_request", "Name: value");
    refused("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, "bad_request", "empty name");
    refused("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bad_request",
            "control byte 0x0d");
    refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "bad_request",
            "Content-Length must be a number");
    refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400, "bad_request",
            "Content-Length");
    refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
            "bad_request", "disagree");
    refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            400, "bad_request", "both Content-Length and Transfer-Encoding");
    refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
            "not_implemented", "'gzip' is not supported");
    refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
            "bad_request", "chunked, once");
    refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_request",
            "HTTP/1.0");
    refused("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417, "expectation_failed",
            "only 100-continue");
    char longm[128];
    snprintf(longm, sizeof(longm), "%s / HTTP/1.1\r\nHost: a\r\n\r\n",
             "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJ");
    refused(longm, 501, "not_implemented", "longer than 32");

    /* A raw NUL in the target: the head is not a C string. */
    char buf[64];
    hd_api_field_t fields[4];
    hd_api_head_t h;
    hd_api_head_err_t e;
    static const char nul[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    memcpy(buf, nul, sizeof(nul));
    size_t scanned = 0, len = sizeof(nul) - 1;
    assert_int_equal(hd_api_head_end(buf, len, &scanned), len);
    assert_int_equal(hd_api_head_parse(buf, len, fields, 4, &h, &e), -1);
    assert_int_equal(e.status, 400);
    assert_contains(e.msg, "control byte 0x00 at position 2");
    /* More fields than room: 431. */
    memcpy(buf, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", 31);
    assert_int_equal(hd_api_head_parse(buf, 30, fields, 1, &h, &e), -1);
    assert_int_equal(e.status, 431);
}

/* Feeds s in pieces of n bytes; returns the decoder's verdict and the
 * body in out, *rest the bytes after the body. */
static int chunked_in_pieces(const char *s, size_t n, uint64_t max, hd_buf_t *out,
                             hd_api_head_err_t *e, size_t *rest)
{
    hd_api_chunked_t c;
    hd_api_chunked_init(&c);
    size_t len = strlen(s);
    for (size_t off = 0; off < len;) {
        size_t piece = len - off < n ? len - off : n, used = 0;
        int rc = hd_api_chunked_feed(&c, s + off, piece, &used, max, out, e);
        assert_true(used <= piece);
        off += used;
        if (rc != 0) {
            *rest = len - off;
            return rc;
        }
        assert_int_equal(used, piece);
    }
    *rest = 0;
    return 0;
}

static void test_chunked(void **state)
{
    (void)state;
    const char *body = "5\r\nhello\r\n1a;name=value\r\n abcdefghijklmnopqrstuvwxy\r\n0\r\n"
                       "Trailer: x\r\n\r\nNEXT";
    for (size_t n = 1; n < 40; n++) {
        hd_buf_t out = {0};
        hd_api_head_err_t e;
        size_t rest;
        assert_int_equal(chunked_in_pieces(body, n, 1000, &out, &e, &rest), 1);
        assert_string_equal(out.data, "hello abcdefghijklmnopqrstuvwxy");
        assert_int_equal(rest, 4); /* "NEXT" is the next request's */
        hd_buf_free(&out);
    }
    static const struct {
        const char *in;
        int status;
        const char *msg;
    } bad[] = {
        {"x\r\n", 400, "must start with its size"},
        {"5\nhello", 400, "stray character"},
        {"5;ext\n", 400, "must end in CRLF"},
        {"5\r\nhelloXX", 400, "chunk data must end in CRLF"},
        {"5\r\nhello\rX", 400, "chunk data must end in CRLF"},
        {"10000000000000000\r\n", 400, "more than 16 hex digits"},
        {"ffffffffffffffff\r\n", 413, "larger than the limit of 100 bytes"},
        {"70\r\n", 413, "limit of 100 bytes"},
        {"40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n40\r\n", 413,
         "limit of 100"},
        {"0\r\nX\n", 400, "trailer line must end in CRLF"},
        {"0\r\n\rX", 400, "must end in an empty line"},
        {"5 x\r\n", 400, "stray character"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hd_buf_t out = {0};
        hd_api_head_err_t e;
        size_t rest;
        if (chunked_in_pieces(bad[i].in, 3, 100, &out, &e, &rest) != -1)
            fail_msg("'%s' was accepted", bad[i].in);
        assert_int_equal(e.status, bad[i].status);
        assert_contains(e.msg, bad[i].msg);
        hd_buf_free(&out);
    }
    /* Exactly at the limit; blanks before an extension. */
    hd_buf_t out = {0};
    hd_api_head_err_t e;
    size_t rest;
    assert_int_equal(chunked_in_pieces("3 \t;x\r\nabc\r\n0\r\n\r\n", 2, 3, &out, &e, &rest), 1);
    assert_string_equal(out.data, "abc");
    hd_buf_free(&out);
    /* Endless trailers or extensions are cut off. */
    hd_buf_t big = {0};
    hd_buf_puts(&big, "1;");
    for (int i = 0; i < 5000; i++)
        hd_buf_puts(&big, "x");
    assert_int_equal(chunked_in_pieces(big.data, 100, 10, &out, &e, &rest), -1);
    assert_contains(e.msg, "chunk size line is too long");
    hd_buf_reset(&big);
    hd_buf_puts(&big, "0\r\n");
    for (int i = 0; i < 2000; i++)
        hd_buf_puts(&big, "A: b\r\n");
    assert_int_equal(chunked_in_pieces(big.data, 100, 10, &out, &e, &rest), -1);
    assert_contains(e.msg, "trailer section is too long");
    hd_buf_free(&big);
    hd_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end),      cmocka_unit_test(test_partial),
        cmocka_unit_test(test_parse_ok), cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_chunked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
