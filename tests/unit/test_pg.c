/* test_pg — the postgres probe's protocol: the StartupMessage it sends and
 * its verdict on real-shaped server replies, whole, cut short or garbled. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "proto_check.h"

static const hd_proto_t *const P = &hd_proto_pg;

/* Appends one backend message: type, length (itself included), body. */
static void msg(hd_buf_t *b, char type, const void *body, size_t n)
{
    unsigned char h[5] = {(unsigned char)type, (unsigned char)((n + 4) >> 24),
                          (unsigned char)((n + 4) >> 16), (unsigned char)((n + 4) >> 8),
                          (unsigned char)(n + 4)};
    hd_buf_append(b, h, 5);
    hd_buf_append(b, body, n);
}

/* An Authentication message with the given code and extra bytes. */
static void auth(hd_buf_t *b, uint32_t code, const void *extra, size_t n)
{
    hd_buf_t body = {0};
    unsigned char c[4] = {(unsigned char)(code >> 24), (unsigned char)(code >> 16),
                          (unsigned char)(code >> 8), (unsigned char)code};
    hd_buf_append(&body, c, 4);
    hd_buf_append(&body, extra, n);
    msg(b, 'R', body.data, body.len);
    hd_buf_free(&body);
}

/* A ParameterStatus message. */
static void param(hd_buf_t *b, const char *name, const char *value)
{
    hd_buf_t body = {0};
    hd_buf_append(&body, name, strlen(name) + 1);
    hd_buf_append(&body, value, strlen(value) + 1);
    msg(b, 'S', body.data, body.len);
    hd_buf_free(&body);
}

/* An ErrorResponse (or NoticeResponse, type 'N') as a server sends it:
 * severity, code and message, then the fields heed ignores. A NULL code or
 * message leaves the field out. */
static void error(hd_buf_t *b, char type, const char *code, const char *text)
{
    hd_buf_t body = {0};
    hd_buf_append(&body, "SFATAL", 7);
    hd_buf_append(&body, "VFATAL", 7);
    if (code) {
        hd_buf_puts(&body, "C");
        hd_buf_append(&body, code, strlen(code) + 1);
    }
    if (text) {
        hd_buf_puts(&body, "M");
        hd_buf_append(&body, text, strlen(text) + 1);
    }
    hd_buf_append(&body, "Fpostmaster.c", 14);
    hd_buf_append(&body, "L2343", 6);
    hd_buf_append(&body, "RProcessStartupPacket", 22);
    hd_buf_append(&body, "", 1);
    msg(b, type, body.data, body.len);
    hd_buf_free(&body);
}

/* The trust-auth startup tail: ParameterStatus x3, BackendKeyData. */
static void startup_tail(hd_buf_t *b)
{
    param(b, "application_name", "heed");
    param(b, "server_version", "16.2 (Debian 16.2-1.pgdg120+2)");
    param(b, "client_encoding", "UTF8");
    msg(b, 'K', "\x00\x00\x30\x39\x12\x34\x56\x78", 8);
}

static void test_hello_bytes(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://alice:pw@db/app", &t);
    hd_buf_t out = {0};
    P->hello(&t, &out);
    static const char want[] = "\x00\x00\x00\x37"
                               "\x00\x03\x00\x00" /* protocol 3.0 = 196608 */
                               "user\0alice\0database\0app\0application_name\0heed\0\0";
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(out.data, want, sizeof(want) - 1);
    /* The password is never sent. */
    assert_null(memmem(out.data, out.len, "pw", 2));
    hd_buf_free(&out);
    hd_target_free(&t);
}

static void test_hello_defaults(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    hd_buf_t out = {0};
    P->hello(&t, &out);
    static const char want[] = "\x00\x00\x00\x3f"
                               "\x00\x03\x00\x00"
                               "user\0postgres\0database\0postgres\0application_name\0heed\0\0";
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(out.data, want, sizeof(want) - 1);
    hd_buf_free(&out);
    hd_target_free(&t);

    /* A target built by hand, without user or database. */
    hd_target_t bare;
    memset(&bare, 0, sizeof(bare));
    bare.kind = HD_KIND_PG;
    P->hello(&bare, &out);
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(out.data, want, sizeof(want) - 1);
    hd_buf_reset(&out);

    /* A user but no database: the database is the user's name. */
    bare.user = "bob";
    P->hello(&bare, &out);
    static const char bob[] = "\x00\x00\x00\x35"
                              "\x00\x03\x00\x00"
                              "user\0bob\0database\0bob\0application_name\0heed\0\0";
    assert_int_equal(out.len, sizeof(bob) - 1);
    assert_memory_equal(out.data, bob, sizeof(bob) - 1);
    hd_buf_free(&out);
}

static void test_bye_is_terminate(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    hd_buf_t out = {0};
    assert_non_null(P->bye);
    P->bye(&t, &out);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "X\x00\x00\x00\x04", 5);
    hd_buf_free(&out);
    hd_target_free(&t);
}

static void test_auth_requests_pass(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://alice@db/app", &t);
    const char *asks =
        "accepting connections (authentication required: the server asks for a password)";
    hd_buf_t b = {0};

    auth(&b, 5, "\x9a\x1b\x2c\x3d", 4); /* AuthenticationMD5Password with salt */
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_REQUIRED, asks);
    hd_buf_reset(&b);

    auth(&b, 10, "SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0", 34); /* AuthenticationSASL */
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_REQUIRED, asks);
    hd_buf_reset(&b);

    auth(&b, 3, "", 0); /* AuthenticationCleartextPassword */
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_REQUIRED, asks);
    hd_buf_reset(&b);

    /* What follows the decisive message does not matter. */
    auth(&b, 5, "salt", 4);
    hd_buf_append(&b, "\xff\xff\xff garbage", 11);
    expect_now(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_REQUIRED, asks);
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_trust_needs_ready_for_query(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    hd_buf_t b = {0};
    auth(&b, 0, "", 0); /* AuthenticationOk */
    expect_more(P, &t, b.data, b.len);
    startup_tail(&b);
    expect_more(P, &t, b.data, b.len); /* everything but ReadyForQuery */
    msg(&b, 'Z', "I", 1);
    /* Every prefix, including all of the above, waits for the 'Z'. */
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK, "accepting connections");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_notices_and_negotiation_are_skipped(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    hd_buf_t b = {0};
    error(&b, 'N', "01000", "just so you know");
    /* NegotiateProtocolVersion: newest minor 0, one option not recognised. */
    msg(&b, 'v', "\x00\x00\x00\x00\x00\x00\x00\x01_pq_.x\0", 15);
    auth(&b, 10, "SCRAM-SHA-256\0\0", 15);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_REQUIRED,
                   "accepting connections (authentication required: the server asks for a "
                   "password)");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_starting_up(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    const char *texts[] = {"the database system is starting up",
                           "the database system is in recovery mode",
                           "the database system is shutting down",
                           "the database system is not yet accepting connections"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        hd_buf_t b = {0};
        error(&b, 'E', "57P03", texts[i]);
        expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_STARTING, texts[i]);
        hd_buf_free(&b);
    }
    hd_target_free(&t);
}

static void test_no_database(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db/app", &t);
    hd_buf_t b = {0};
    /* trust: the server accepts the login, then finds no database. */
    auth(&b, 0, "", 0);
    error(&b, 'E', "3D000", "database \"app\" does not exist");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_NO_DATABASE,
                   "database \"app\" does not exist");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_auth_failure_is_up(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://alice@db", &t);
    hd_buf_t b = {0};
    error(&b, 'E', "28P01", "password authentication failed for user \"alice\"");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_FAILED,
                   "accepting connections (authentication failed: password authentication "
                   "failed for user \"alice\")");
    hd_buf_reset(&b);

    error(&b, 'E', "28000",
          "no pg_hba.conf entry for host \"10.0.0.5\", user \"alice\", database \"alice\", no "
          "encryption");
    expect_now(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_FAILED,
               "accepting connections (authentication failed: no pg_hba.conf entry");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_other_errors(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    hd_buf_t b = {0};

    error(&b, 'E', "53300", "sorry, too many clients already");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_ERROR,
                   "53300: sorry, too many clients already");
    hd_buf_reset(&b);

    error(&b, 'E', "0A000", "unsupported frontend protocol 3.0");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_ERROR,
                   "0A000: unsupported frontend protocol 3.0");
    hd_buf_reset(&b);

    error(&b, 'E', NULL, "no code given");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_ERROR, "no code given");
    hd_buf_reset(&b);

    error(&b, 'E', "XX000", NULL);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_ERROR, "XX000: error");
    hd_buf_reset(&b);

    msg(&b, 'E', "", 0); /* an empty ErrorResponse */
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_ERROR, "error");
    hd_buf_reset(&b);

    /* A field without its NUL inside the message is not read past it. */
    msg(&b, 'E', "C57P03", 6);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_ERROR, "error");
    hd_buf_reset(&b);
    msg(&b, 'E', "C57P03\0Mcut sh", 14);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_STARTING, "error");
    hd_buf_reset(&b);

    /* Control characters from the server are not printed as such. */
    error(&b, 'E', "57P03", "line one\nline\ttwo\x1b[31m");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_PG_STARTING,
                   "line one line two [31m");
    hd_buf_reset(&b);

    /* A long message is cut to fit, never overflowing. */
    char longtext[600];
    memset(longtext, 'x', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    error(&b, 'E', "28P01", longtext);
    hd_verdict_t v;
    assert_int_equal(parse_exact(P, &t, b.data, b.len, &v), HD_PARSE_DONE);
    assert_int_equal(v.reason, HD_R_AUTH_FAILED);
    assert_true(strlen(v.msg) < sizeof(v.msg));
    assert_contains(v.msg, "accepting connections (authentication failed: xxx");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_length_fields(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);

    expect_now(P, &t, "R\x7f\xff\xff\xff", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply (message length 2147483647)");
    expect_now(P, &t, "R\xff\xff\xff\xff", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply (message length 4294967295)");
    expect_now(P, &t, "R\x00\x01\x00\x01", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply (message length 65537)");
    expect_now(P, &t, "R\x00\x00\x00\x03", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply (message length 3)");
    expect_now(P, &t, "Z\x00\x00\x00\x00", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply (message length 0)");
    /* The largest length allowed is waited for. */
    expect_more(P, &t, "S\x00\x01\x00\x00", 5);

    /* A length too large found after good messages. */
    hd_buf_t b = {0};
    auth(&b, 0, "", 0);
    hd_buf_append(&b, "S\x10\x00\x00\x00", 5);
    expect_now(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY, "message length");
    hd_buf_reset(&b);

    /* A big ParameterStatus within the limit is read through. */
    char big[60000];
    memset(big, 'v', sizeof(big));
    big[0] = 'k';
    big[1] = '\0';
    big[sizeof(big) - 1] = '\0';
    auth(&b, 0, "", 0);
    msg(&b, 'S', big, sizeof(big));
    msg(&b, 'Z', "I", 1);
    expect_now(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK, "accepting connections");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_short_auth_message(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    expect_verdict(P, &t, "R\x00\x00\x00\x04", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "short authentication message");
    expect_verdict(P, &t, "R\x00\x00\x00\x07\x00\x00\x00", 8, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "short authentication message");
    hd_target_free(&t);
}

static void test_not_postgres(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);

    const char *http = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n";
    expect_now(P, &t, http, strlen(http), HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply");
    const char *ssh = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n";
    expect_now(P, &t, ssh, strlen(ssh), HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply");
    const char *redis = "-ERR wrong number of arguments\r\n";
    expect_now(P, &t, redis, strlen(redis), HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply");
    /* A TLS alert, as from a server that wants TLS first. */
    expect_now(P, &t, "\x15\x03\x01\x00\x02\x02\x46", 7, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a PostgreSQL reply");
    /* A well-framed message of a type a server never sends first. */
    expect_verdict(P, &t, "Q\x00\x00\x00\x04", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a PostgreSQL reply (message type 0x51)");
    expect_verdict(P, &t, "\x00\x00\x00\x00\x05x", 6, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a PostgreSQL reply (message type 0x00)");
    hd_target_free(&t);
}

static void test_random_bytes(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("postgres://db", &t);
    random_bytes_survive(P, &t, 20000, 64, NULL, 0);
    /* Mostly small lengths and known types, to reach deeper. */
    static const char alphabet[] = "RSKZENv\x00\x00\x00\x01\x04\x05\x08\x0c"
                                   "C28P01M";
    random_bytes_survive(P, &t, 20000, 48, alphabet, sizeof(alphabet) - 1);
    hd_target_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_bytes),
        cmocka_unit_test(test_hello_defaults),
        cmocka_unit_test(test_bye_is_terminate),
        cmocka_unit_test(test_auth_requests_pass),
        cmocka_unit_test(test_trust_needs_ready_for_query),
        cmocka_unit_test(test_notices_and_negotiation_are_skipped),
        cmocka_unit_test(test_starting_up),
        cmocka_unit_test(test_no_database),
        cmocka_unit_test(test_auth_failure_is_up),
        cmocka_unit_test(test_other_errors),
        cmocka_unit_test(test_length_fields),
        cmocka_unit_test(test_short_auth_message),
        cmocka_unit_test(test_not_postgres),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
