/* test_redis — the redis probe's protocol: the RESP commands it sends
 * ([AUTH], [SELECT], PING) and its verdict on the replies, whole, cut short
 * or garbled. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "proto_check.h"

static const hd_proto_t *const P = &hd_proto_redis;

/* Expects the hello of url to be exactly want. */
static void hello_is(const char *url, const char *want)
{
    hd_target_t t;
    target_of(url, &t);
    hd_buf_t out = {0};
    P->hello(&t, &out);
    assert_non_null(out.data);
    assert_string_equal(out.data, want);
    assert_int_equal(out.len, strlen(want));
    hd_buf_free(&out);
    hd_target_free(&t);
}

/* expect_verdict() on a C string reply, for the target url. */
static void reply_is(const char *url, const char *reply, hd_status_t st, hd_reason_t r,
                     const char *msg)
{
    hd_target_t t;
    target_of(url, &t);
    expect_verdict(P, &t, reply, strlen(reply), st, r, msg);
    hd_target_free(&t);
}

static void test_hello(void **state)
{
    (void)state;
    hello_is("redis://cache", "*1\r\n$4\r\nPING\r\n");
    /* A user without a password sends no AUTH. */
    hello_is("redis://bob@cache", "*1\r\n$4\r\nPING\r\n");
    hello_is("redis://cache/0", "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
                                "*1\r\n$4\r\nPING\r\n");
    hello_is("redis://cache/12", "*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"
                                 "*1\r\n$4\r\nPING\r\n");
    hello_is("redis://:secret@cache/3", "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"
                                        "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"
                                        "*1\r\n$4\r\nPING\r\n");
    /* Redis 6 ACL: AUTH user password. */
    hello_is("redis://default:secret@cache", "*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\nsecret\r\n"
                                             "*1\r\n$4\r\nPING\r\n");
    /* Bulk strings carry their length: a password may hold anything. */
    hello_is("redis://:a%20b%0D%0A@cache", "*2\r\n$4\r\nAUTH\r\n$5\r\na b\r\n\r\n"
                                           "*1\r\n$4\r\nPING\r\n");
    hello_is("redis://:@cache", "*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n"
                                "*1\r\n$4\r\nPING\r\n");
    assert_null(P->bye);
}

static void test_pong(void **state)
{
    (void)state;
    reply_is("redis://cache", "+PONG\r\n", HD_STATUS_PASSING, HD_R_OK, "PONG");
    reply_is("redis://cache/2", "+OK\r\n+PONG\r\n", HD_STATUS_PASSING, HD_R_OK, "PONG");
    reply_is("redis://:pw@cache", "+OK\r\n+PONG\r\n", HD_STATUS_PASSING, HD_R_OK, "PONG");
    reply_is("redis://:pw@cache/2", "+OK\r\n+OK\r\n+PONG\r\n", HD_STATUS_PASSING, HD_R_OK, "PONG");

    /* Bytes after the last reply do not matter. */
    hd_target_t t;
    target_of("redis://cache", &t);
    expect_now(P, &t, "+PONG\r\n\x00\xff", 9, HD_STATUS_PASSING, HD_R_OK, "PONG");
    hd_target_free(&t);
}

static void test_not_ready(void **state)
{
    (void)state;
    const char *u = "redis://cache";
    reply_is(u, "-LOADING Redis is loading the dataset in memory\r\n", HD_STATUS_CRITICAL,
             HD_R_REDIS_LOADING, "LOADING Redis is loading the dataset in memory");
    reply_is(u, "-LOADING\r\n", HD_STATUS_CRITICAL, HD_R_REDIS_LOADING, "LOADING");
    reply_is(u,
             "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
             "NOSAVE.\r\n",
             HD_STATUS_CRITICAL, HD_R_REDIS_LOADING,
             "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
             "NOSAVE.");
    reply_is(u,
             "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
             "'no'.\r\n",
             HD_STATUS_CRITICAL, HD_R_REDIS_LOADING,
             "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
    reply_is(u, "-TRYAGAIN Multiple keys request during rehashing of slot\r\n", HD_STATUS_CRITICAL,
             HD_R_REDIS_LOADING, "TRYAGAIN Multiple keys request during rehashing of slot");
    /* The word must match whole: BUSYGROUP is another error. */
    reply_is(u, "-BUSYGROUP Consumer Group name already exists\r\n", HD_STATUS_CRITICAL,
             HD_R_REDIS_ERROR, "BUSYGROUP Consumer Group name already exists");
    /* Loading seen after AUTH and SELECT went through. */
    reply_is("redis://:pw@cache/1", "+OK\r\n+OK\r\n-LOADING Redis is loading\r\n",
             HD_STATUS_CRITICAL, HD_R_REDIS_LOADING, "LOADING Redis is loading");
    reply_is("redis://:pw@cache", "-LOADING Redis is loading\r\n", HD_STATUS_CRITICAL,
             HD_R_REDIS_LOADING, "LOADING Redis is loading");
}

static void test_auth(void **state)
{
    (void)state;
    /* No password given: the server is up and wants one. */
    reply_is("redis://cache", "-NOAUTH Authentication required.\r\n", HD_STATUS_PASSING,
             HD_R_AUTH_REQUIRED,
             "accepting connections (authentication required: NOAUTH Authentication required.)");
    reply_is("redis://cache/4", "-NOAUTH Authentication required.\r\n", HD_STATUS_PASSING,
             HD_R_AUTH_REQUIRED,
             "accepting connections (authentication required: NOAUTH Authentication required.)");

    /* A rejected password: up, and checking credentials. */
    reply_is(
        "redis://:bad@cache", "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        HD_STATUS_PASSING, HD_R_AUTH_FAILED,
        "accepting connections (authentication failed: WRONGPASS invalid username-password pair or "
        "user is disabled.)");
    reply_is("redis://:bad@cache", "-ERR invalid password\r\n", HD_STATUS_PASSING, HD_R_AUTH_FAILED,
             "accepting connections (authentication failed: ERR invalid password)");

    /* A password the server does not use (the message is cut at 150). */
    hd_target_t t;
    target_of("redis://:pw@cache/1", &t);
    const char *r = "-ERR AUTH <password> called without any password configured for the default "
                    "user. Are you sure your configuration is correct?\r\n";
    expect_now(
        P, &t, r, strlen(r), HD_STATUS_PASSING, HD_R_AUTH_FAILED,
        "accepting connections (authentication failed: ERR AUTH <password> called without any");
    hd_target_free(&t);
}

static void test_errors(void **state)
{
    (void)state;
    reply_is("redis://cache", "-ERR unknown command 'PING', with args beginning with: \r\n",
             HD_STATUS_CRITICAL, HD_R_REDIS_ERROR,
             "ERR unknown command 'PING', with args beginning with: ");
    /* -ERR counts as an AUTH failure only in reply to AUTH. */
    reply_is("redis://cache/99", "-ERR DB index is out of range\r\n", HD_STATUS_CRITICAL,
             HD_R_REDIS_ERROR, "ERR DB index is out of range");
    reply_is("redis://:pw@cache/99", "+OK\r\n-ERR DB index is out of range\r\n", HD_STATUS_CRITICAL,
             HD_R_REDIS_ERROR, "ERR DB index is out of range");
    reply_is("redis://:pw@cache", "+OK\r\n-ERR something else\r\n", HD_STATUS_CRITICAL,
             HD_R_REDIS_ERROR, "ERR something else");
    reply_is("redis://cache", "-\r\n", HD_STATUS_CRITICAL, HD_R_REDIS_ERROR, "");
    reply_is("redis://cache", "-READONLY You can't write against a read only replica.\r\n",
             HD_STATUS_CRITICAL, HD_R_REDIS_ERROR,
             "READONLY You can't write against a read only replica.");

    /* A long error is cut at 200 bytes. */
    hd_target_t t;
    target_of("redis://cache", &t);
    char line[400];
    memset(line, 'e', sizeof(line));
    line[0] = '-';
    memcpy(line + sizeof(line) - 2, "\r\n", 2);
    hd_verdict_t v;
    assert_int_equal(parse_exact(P, &t, line, sizeof(line), &v), HD_PARSE_DONE);
    assert_int_equal(v.reason, HD_R_REDIS_ERROR);
    assert_int_equal(strlen(v.msg), 200);
    hd_target_free(&t);
}

static void test_wrong_replies(void **state)
{
    (void)state;
    const char *u = "redis://cache";
    /* +OK where PONG was due: the server answered something else. */
    reply_is(u, "+OK\r\n", HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a Redis reply to PING: '+OK'");
    reply_is(u, "+PONGS\r\n", HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
             "not a Redis reply to PING: '+PONGS'");
    reply_is(u, "$4\r\n", HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a Redis reply to PING: '$4'");
    reply_is(u, ":1\r\n", HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "not a Redis reply to PING: ':1'");
    reply_is(u, "HTTP/1.1 400 Bad Request\r\n", HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
             "not a Redis reply to PING: 'HTTP/1.1 400 Bad Request'");
    reply_is(u, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n", HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
             "not a Redis reply to PING: 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2'");

    /* Judged on the first reply: the one to PING is never reached. */
    hd_target_t t;
    target_of("redis://cache/1", &t);
    expect_now(P, &t, ":1\r\n+PONG\r\n", 11, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a Redis reply to PING: ':1'");
    hd_target_free(&t);
}

static void test_binary_is_refused_at_once(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("redis://cache", &t);
    const char *bin = "not a Redis reply (binary data)";
    /* A TLS alert has no CRLF: it is judged without waiting for one. */
    expect_now(P, &t, "\x15\x03\x01\x00\x02\x02\x46", 7, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    expect_now(P, &t, "\x16", 1, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    /* A postgres server's reply to the RESP bytes. */
    expect_now(P, &t, "E\x00\x00\x00\x5cSFATAL", 11, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    /* The type byte is checked too, so that no control byte is printed. */
    expect_now(P, &t, "\x01PONG\r\n", 7, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    expect_now(P, &t, "+PO\x00NG\r\n", 8, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    expect_now(P, &t, "+PONG\r\x00", 7, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    expect_now(P, &t, "+PONG\n", 6, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    expect_now(P, &t, "+PONG\xc3\xa9\r\n", 9, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    expect_now(P, &t, "\r\n", 2, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a Redis reply (empty line)");
    hd_target_free(&t);

    target_of("redis://:pw@cache/1", &t);
    expect_now(P, &t, "+OK\r\n\r\n", 7, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a Redis reply (empty line)");
    expect_now(P, &t, "+OK\r\n+OK\r\n\xff", 11, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, bin);
    hd_target_free(&t);
}

static void test_waits_for_the_line(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("redis://:pw@cache/1", &t);
    expect_more(P, &t, "", 0);
    expect_more(P, &t, "+OK\r\n+OK\r\n", 10); /* two of three replies */
    expect_more(P, &t, "+OK\r\n+OK\r\n+PONG\r", 16);
    /* Printable text without CRLF is waited for, up to the read limit. */
    expect_more(P, &t, "hello world", 11);
    hd_target_free(&t);
}

static void test_random_bytes(void **state)
{
    (void)state;
    hd_target_t plain, full;
    target_of("redis://cache", &plain);
    target_of("redis://:pw@cache/1", &full);
    random_bytes_survive(P, &plain, 20000, 64, NULL, 0);
    static const char alphabet[] = "+-:$\r\n\r\n PONGOKLADIBUSYNERRW\x00\x7f";
    random_bytes_survive(P, &plain, 20000, 40, alphabet, sizeof(alphabet) - 1);
    random_bytes_survive(P, &full, 20000, 40, alphabet, sizeof(alphabet) - 1);
    hd_target_free(&plain);
    hd_target_free(&full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_pong),
        cmocka_unit_test(test_not_ready),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_wrong_replies),
        cmocka_unit_test(test_binary_is_refused_at_once),
        cmocka_unit_test(test_waits_for_the_line),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
