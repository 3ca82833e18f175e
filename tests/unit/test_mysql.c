/* test_mysql — the mysql probe's protocol: its verdict on the server's first
 * packet (a protocol 10 greeting or an error packet), whole, cut short or
 * garbled; with a user in the URL, the login heed answers with (no
 * password) and its verdict on the server's reply. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "proto_check.h"

static const hd_proto_t *const P = &hd_proto_mysql;

/* Appends one packet: 3-byte little-endian length, sequence id, payload. */
static void packet(hd_buf_t *b, unsigned seq, const void *payload, size_t n)
{
    unsigned char h[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                          (unsigned char)seq};
    hd_buf_append(b, h, 4);
    hd_buf_append(b, payload, n);
}

/* A HandshakeV10 packet as MySQL 8 sends it, with the given version. */
static void greeting(hd_buf_t *b, const char *version)
{
    hd_buf_t p = {0};
    hd_buf_append(&p, "\x0a", 1);                             /* protocol 10 */
    hd_buf_append(&p, version, strlen(version) + 1);          /* NUL-terminated */
    hd_buf_append(&p, "\x2a\x00\x00\x00", 4);                 /* connection id 42 */
    hd_buf_append(&p, "\x3b\x5f\x1e\x6a\x22\x4d\x0f\x52", 8); /* auth data, part 1 */
    hd_buf_append(&p, "\x00", 1);                             /* filler */
    hd_buf_append(&p, "\xff\xff", 2);                         /* capabilities, low */
    hd_buf_append(&p, "\xff", 1);                             /* utf8mb4_0900_ai_ci */
    hd_buf_append(&p, "\x02\x00", 2);                         /* status: autocommit */
    hd_buf_append(&p, "\xff\xdf", 2);                         /* capabilities, high */
    hd_buf_append(&p, "\x15", 1);                             /* auth data length */
    hd_buf_append(&p, "\0\0\0\0\0\0\0\0\0\0", 10);            /* reserved */
    hd_buf_append(&p, "\x12\x34\x56\x78\x1a\x2b\x3c\x4d\x5e\x6f\x70\x01\x00", 13);
    hd_buf_append(&p, "caching_sha2_password", 22);
    packet(b, 0, p.data, p.len);
    hd_buf_free(&p);
}

/* An ERR packet: 0xff, code, optionally '#' and a SQLSTATE, message. */
static void err_packet(hd_buf_t *b, unsigned code, const char *sqlstate, const char *text)
{
    hd_buf_t p = {0};
    unsigned char h[3] = {0xff, (unsigned char)code, (unsigned char)(code >> 8)};
    hd_buf_append(&p, h, 3);
    if (sqlstate) {
        hd_buf_puts(&p, "#");
        hd_buf_puts(&p, sqlstate);
    }
    hd_buf_puts(&p, text);
    packet(b, 0, p.data, p.len);
    hd_buf_free(&p);
}

static void test_sends_nothing(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://app:pw@db/shop", &t);
    hd_buf_t out = {0};
    P->hello(&t, &out);
    assert_int_equal(out.len, 0); /* the server speaks first */
    hd_target_free(&t);

    /* Without a user: nothing in answer to the greeting, no goodbye. */
    target_of("mysql://db", &t);
    hd_buf_t b = {0};
    greeting(&b, "8.0.36");
    P->answer(&t, (const uint8_t *)b.data, b.len, &out);
    assert_int_equal(out.len, 0);
    P->bye(&t, &out);
    assert_int_equal(out.len, 0);
    hd_buf_free(&b);
    hd_buf_free(&out);
    hd_target_free(&t);
}

static void test_login_without_password(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://app:secret@db/shop", &t);
    hd_buf_t b = {0}, out = {0};
    greeting(&b, "8.0.36");
    /* Nothing is answered to half a greeting. */
    P->answer(&t, (const uint8_t *)b.data, b.len - 1, &out);
    assert_int_equal(out.len, 0);
    expect_more(P, &t, b.data, b.len);
    P->answer(&t, (const uint8_t *)b.data, b.len, &out);
    /* HandshakeResponse41: sequence 1, protocol 4.1 + secure connection +
     * plugin auth, user "app", an empty auth response (never the password),
     * and the server's plugin. */
    const char user_part[] = "app\0\0caching_sha2_password\0";
    size_t body = 4 + 4 + 1 + 23 + sizeof(user_part) - 1;
    assert_int_equal(out.len, 4 + body);
    assert_int_equal(out.data[0], (char)body);
    assert_int_equal(out.data[3], 1);
    unsigned char caps = (unsigned char)out.data[5];
    assert_true(caps & 0x02);        /* CLIENT_PROTOCOL_41 (0x200) */
    assert_true(caps & 0x80);        /* CLIENT_SECURE_CONNECTION (0x8000) */
    assert_true(out.data[6] & 0x08); /* CLIENT_PLUGIN_AUTH (0x80000) */
    assert_memory_equal(out.data + 4 + 32, user_part, sizeof(user_part) - 1);
    assert_null(memmem(out.data, out.len, "secret", 6));

    /* Access denied: up and checking logins. */
    size_t g = b.len;
    err_packet(&b, 1045, "28000", "Access denied for user 'app'@'10.0.0.5' (using password: NO)");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_FAILED,
                   "accepting connections (authentication failed: ERROR 1045: Access denied for "
                   "user 'app'@'10.0.0.5' (using password: NO))");
    b.len = g;
    /* An auth switch request: it wants a password. */
    packet(&b, 2, "\xfemysql_native_password\0abcdefghijklmnopqrst\0", 44);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_AUTH_REQUIRED,
                   "accepting connections (authentication required: the server asks for a "
                   "password)");
    b.len = g;
    /* An account without a password gets in. */
    packet(&b, 2, "\x00\x00\x00\x02\x00\x00\x00", 7);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK,
                   "accepting connections (login without a password)");
    b.len = g;
    /* Any other error is not ready. */
    err_packet(&b, 1040, "08004", "Too many connections");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR,
                   "ERROR 1040: Too many connections");
    b.len = g;
    packet(&b, 2, "\x42", 1);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a MySQL reply to a login (0x42)");
    hd_buf_reset(&out);
    P->bye(&t, &out);
    assert_int_equal(out.len, 5); /* COM_QUIT */
    assert_memory_equal(out.data, "\x01\x00\x00\x00\x01", 5);

    /* A greeting that names no plugin: no plugin in the answer either. */
    hd_buf_reset(&b);
    hd_buf_reset(&out);
    packet(&b, 0,
           "\x0a"
           "5.0\0"
           "\x01\x00\x00\x00"
           "abcdefgh"
           "\x00",
           18);
    P->answer(&t, (const uint8_t *)b.data, b.len, &out);
    assert_int_equal(out.len, 4 + 4 + 4 + 1 + 23 + 4 + 1);
    assert_false(out.data[6] & 0x08);
    hd_buf_free(&b);
    hd_buf_free(&out);
    hd_target_free(&t);
}

static void test_greeting_passes(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    hd_buf_t b = {0};

    greeting(&b, "8.0.36");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK, "server 8.0.36");
    hd_buf_reset(&b);

    greeting(&b, "5.5.5-10.11.6-MariaDB-0+deb12u1");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK,
                   "server 5.5.5-10.11.6-MariaDB-0+deb12u1");
    hd_buf_reset(&b);

    /* Bytes after the greeting do not matter. */
    greeting(&b, "8.4.0");
    hd_buf_append(&b, "\xde\xad", 2);
    expect_now(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK, "server 8.4.0");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_greeting_minimum_length(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    /* protocol, version, connection id (4), auth data part 1 (8), filler */
    static const char min[] = "\x0a"
                              "5.7.44\0"
                              "\x01\x00\x00\x00"
                              "abcdefgh\0";
    hd_buf_t b = {0};
    packet(&b, 0, min, sizeof(min) - 1);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK, "server 5.7.44");
    hd_buf_reset(&b);
    packet(&b, 0, min, sizeof(min) - 2);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a MySQL greeting (too short)");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_error_packets(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    hd_buf_t b = {0};

    /* Before the handshake the server sends no SQLSTATE ... */
    err_packet(&b, 1040, NULL, "Too many connections");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR,
                   "ERROR 1040: Too many connections");
    hd_buf_reset(&b);

    /* ... but some do; it is not part of the message. */
    err_packet(&b, 1040, "08004", "Too many connections");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR,
                   "ERROR 1040: Too many connections");
    hd_buf_reset(&b);

    err_packet(&b, 1129, NULL,
               "Host '172.17.0.1' is blocked because of many connection errors; unblock with "
               "'mysqladmin flush-hosts'");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR,
                   "ERROR 1129: Host '172.17.0.1' is blocked because of many connection errors; "
                   "unblock with 'mysqladmin flush-hosts'");
    hd_buf_reset(&b);

    err_packet(&b, 1130, NULL, "Host '10.0.0.5' is not allowed to connect to this MySQL server");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR,
                   "ERROR 1130: Host '10.0.0.5' is not allowed to connect to this MySQL server");
    hd_buf_reset(&b);

    /* A '#' too short to hold a SQLSTATE is message text. */
    err_packet(&b, 1040, NULL, "#0800");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR, "ERROR 1040: #0800");
    hd_buf_reset(&b);

    err_packet(&b, 65535, NULL, "");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR, "ERROR 65535: ");
    hd_buf_reset(&b);

    /* Control and non-ASCII bytes are shown as spaces. */
    err_packet(&b, 1045, NULL, "bad\r\nthing\x1b\xc3\xa9");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_MYSQL_ERROR,
                   "ERROR 1045: bad  thing   ");
    hd_buf_reset(&b);

    /* A long message is cut to 200 bytes. */
    char text[400];
    memset(text, 'm', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    err_packet(&b, 1040, NULL, text);
    hd_verdict_t v;
    assert_int_equal(parse_exact(P, &t, b.data, b.len, &v), HD_PARSE_DONE);
    assert_int_equal(v.reason, HD_R_MYSQL_ERROR);
    assert_int_equal(strlen(v.msg), strlen("ERROR 1040: ") + 200);
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_short_error_packet(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    expect_verdict(P, &t, "\x01\x00\x00\x00\xff", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "short MySQL error packet");
    expect_verdict(P, &t, "\x02\x00\x00\x00\xff\x10", 6, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "short MySQL error packet");
    hd_target_free(&t);
}

static void test_header(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    hd_buf_t b = {0};
    greeting(&b, "8.0.36");
    b.data[3] = 1; /* the greeting is always packet 0 */
    expect_now(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting (header 4a 00 00 01)");
    hd_buf_free(&b);

    expect_now(P, &t, "\x00\x00\x00\x00", 4, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting (header 00 00 00 00)");
    expect_now(P, &t, "\xff\xff\xff\x00", 4, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting (header ff ff ff 00)");
    /* The largest packet that fits the read limit is waited for. */
    expect_more(P, &t, "\xfc\xff\x00\x00\x0a", 5);
    expect_now(P, &t, "\xfd\xff\x00\x00\x0a", 5, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting (header fd ff 00 00)");
    hd_target_free(&t);
}

static void test_bad_greetings(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    hd_buf_t b = {0};

    packet(&b, 0,
           "\x09"
           "4.0\0"
           "\x01\x00\x00\x00"
           "abcdefgh\0",
           18);
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a MySQL greeting (protocol 9)");
    hd_buf_reset(&b);

    packet(&b, 0, "\x0a", 1); /* no version at all */
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a MySQL greeting (bad server version)");
    hd_buf_reset(&b);

    packet(&b, 0,
           "\x0a"
           "8.0.36",
           7); /* no NUL after the version */
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a MySQL greeting (bad server version)");
    hd_buf_reset(&b);

    greeting(&b, "8.0\x01");
    expect_verdict(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
                   "not a MySQL greeting (bad server version)");
    hd_buf_reset(&b);

    char version[102];
    memset(version, '8', sizeof(version) - 1);
    version[sizeof(version) - 1] = '\0'; /* 101 bytes: too long */
    greeting(&b, version);
    expect_now(P, &t, b.data, b.len, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting (bad server version)");
    hd_buf_reset(&b);
    version[100] = '\0'; /* 100 bytes: fine */
    greeting(&b, version);
    expect_now(P, &t, b.data, b.len, HD_STATUS_PASSING, HD_R_OK, "server 8888");
    hd_buf_free(&b);
    hd_target_free(&t);
}

static void test_not_mysql(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    const char *http = "HTTP/1.1 400 Bad Request\r\n\r\n";
    expect_now(P, &t, http, strlen(http), HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting (header 48 54 54 50)");
    const char *redis = "-ERR unknown command\r\n";
    expect_now(P, &t, redis, strlen(redis), HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting");
    expect_now(P, &t, "\x15\x03\x01\x00\x02\x02\x46", 7, HD_STATUS_CRITICAL, HD_R_BAD_REPLY,
               "not a MySQL greeting");
    hd_target_free(&t);
}

static void test_random_bytes(void **state)
{
    (void)state;
    hd_target_t t;
    target_of("mysql://db", &t);
    random_bytes_survive(P, &t, 20000, 64, NULL, 0);
    static const char alphabet[] = "\x00\x00\x00\x01\x05\x0a\x0e\x14\x20\xff"
                                   "#8.0a";
    random_bytes_survive(P, &t, 20000, 40, alphabet, sizeof(alphabet) - 1);
    hd_target_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sends_nothing),   cmocka_unit_test(test_login_without_password),
        cmocka_unit_test(test_greeting_passes), cmocka_unit_test(test_greeting_minimum_length),
        cmocka_unit_test(test_error_packets),   cmocka_unit_test(test_short_error_packet),
        cmocka_unit_test(test_header),          cmocka_unit_test(test_bad_greetings),
        cmocka_unit_test(test_not_mysql),       cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
