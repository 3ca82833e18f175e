/* test_url — hd_url_parse and hd_url_decode: what each part of a URL
 * becomes, and the message a user sees for each kind of bad URL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "util/url.h"

#include <stdio.h>

/* Parses s, failing the test (with the parser's message) if it is refused. */
static void parse_ok(const char *s, hd_url_t *u)
{
    char err[256] = "";
    if (hd_url_parse(s, u, err, sizeof(err)) != 0) fail_msg("'%s' refused: %s", s, err);
}

/* Expects s to be refused with exactly the message want. */
static void parse_bad(const char *s, const char *want)
{
    hd_url_t u;
    char err[256] = "";
    if (hd_url_parse(s, &u, err, sizeof(err)) == 0) {
        hd_url_free(&u);
        fail_msg("'%s' accepted, expected '%s'", s, want);
    }
    assert_string_equal(err, want);
    /* Nothing is left to free after a failure. */
    assert_null(u.scheme);
    assert_null(u.host);
    assert_null(u.user);
    assert_null(u.password);
    assert_null(u.path);
    assert_int_equal(u.port, -1);
}

static void test_plain_host_port(void **state)
{
    (void)state;
    hd_url_t u;
    parse_ok("tcp://db:5432", &u);
    assert_string_equal(u.scheme, "tcp");
    assert_int_equal(u.has_authority, 1);
    assert_string_equal(u.host, "db");
    assert_int_equal(u.host_is_ipv6, 0);
    assert_int_equal(u.port, 5432);
    assert_null(u.user);
    assert_null(u.password);
    assert_string_equal(u.path, "");
    assert_null(u.query);
    assert_null(u.fragment);
    hd_url_free(&u);
}

static void test_all_parts(void **state)
{
    (void)state;
    hd_url_t u;
    parse_ok("Postgres://alice:s%40cr%3At@DB.Example.COM:6543/app%20x?sslmode=disable#frag", &u);
    assert_string_equal(u.scheme, "postgres"); /* lower-cased */
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "s@cr:t"); /* decoded */
    assert_string_equal(u.host, "db.example.com");
    assert_int_equal(u.port, 6543);
    assert_string_equal(u.path, "/app%20x"); /* raw */
    assert_string_equal(u.query, "sslmode=disable");
    assert_string_equal(u.fragment, "frag");
    hd_url_free(&u);
}

static void test_userinfo(void **state)
{
    (void)state;
    hd_url_t u;

    parse_ok("mysql://bob@h", &u);
    assert_string_equal(u.user, "bob");
    assert_null(u.password);
    assert_int_equal(u.port, -1);
    hd_url_free(&u);

    parse_ok("redis://:secret@h", &u);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "secret");
    hd_url_free(&u);

    parse_ok("redis://:@h", &u);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");
    hd_url_free(&u);

    /* The last '@' of the authority ends the userinfo; the first ':' splits it. */
    parse_ok("redis://u:p@ss:w@h:1", &u);
    assert_string_equal(u.user, "u");
    assert_string_equal(u.password, "p@ss:w");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 1);
    hd_url_free(&u);

    /* An '@' in the path is not userinfo. */
    parse_ok("http://h/a@b", &u);
    assert_null(u.user);
    assert_string_equal(u.host, "h");
    assert_string_equal(u.path, "/a@b");
    hd_url_free(&u);

    parse_ok("http://h?who=a@b", &u);
    assert_null(u.user);
    assert_string_equal(u.query, "who=a@b");
    hd_url_free(&u);

    parse_ok("redis://us%3Aer:p%2Fw@h", &u);
    assert_string_equal(u.user, "us:er");
    assert_string_equal(u.password, "p/w");
    hd_url_free(&u);
}

static void test_ipv6(void **state)
{
    (void)state;
    hd_url_t u;

    parse_ok("tcp://[::1]:80", &u);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.host_is_ipv6, 1);
    assert_int_equal(u.port, 80);
    hd_url_free(&u);

    parse_ok("tcp://[::1]", &u);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, -1);
    hd_url_free(&u);

    parse_ok("http://[2001:DB8::A]/x", &u);
    assert_string_equal(u.host, "2001:db8::a");
    assert_string_equal(u.path, "/x");
    hd_url_free(&u);

    /* RFC 6874 zone: %25 is the encoded '%'. */
    parse_ok("tcp://[fe80::1%25eth0]:5432", &u);
    assert_string_equal(u.host, "fe80::1%eth0");
    assert_int_equal(u.host_is_ipv6, 1);
    assert_int_equal(u.port, 5432);
    hd_url_free(&u);

    parse_ok("tcp://user:pw@[::ffff:127.0.0.1]:9", &u);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.host, "::ffff:127.0.0.1");
    assert_int_equal(u.port, 9);
    hd_url_free(&u);
}

static void test_edge_ports(void **state)
{
    (void)state;
    hd_url_t u;
    parse_ok("tcp://h:1", &u);
    assert_int_equal(u.port, 1);
    hd_url_free(&u);
    parse_ok("tcp://h:65535", &u);
    assert_int_equal(u.port, 65535);
    hd_url_free(&u);
    parse_ok("tcp://h:00080", &u);
    assert_int_equal(u.port, 80);
    hd_url_free(&u);
    /* Port 0 is a valid URL; targets refuse it (test_target). */
    parse_ok("tcp://h:0", &u);
    assert_int_equal(u.port, 0);
    hd_url_free(&u);
}

static void test_query_fragment(void **state)
{
    (void)state;
    hd_url_t u;

    parse_ok("http://h?x=1&y=2", &u);
    assert_string_equal(u.path, "");
    assert_string_equal(u.query, "x=1&y=2");
    assert_null(u.fragment);
    hd_url_free(&u);

    parse_ok("http://h:8080/health#top", &u);
    assert_string_equal(u.path, "/health");
    assert_null(u.query);
    assert_string_equal(u.fragment, "top");
    hd_url_free(&u);

    parse_ok("http://h/p?#", &u);
    assert_string_equal(u.path, "/p");
    assert_string_equal(u.query, "");
    assert_string_equal(u.fragment, "");
    hd_url_free(&u);

    /* '?' inside the fragment belongs to the fragment. */
    parse_ok("http://h/#a?b", &u);
    assert_null(u.query);
    assert_string_equal(u.fragment, "a?b");
    hd_url_free(&u);
}

static void test_opaque(void **state)
{
    (void)state;
    hd_url_t u;

    parse_ok("exec:pg_isready -h db -p 5432", &u);
    assert_string_equal(u.scheme, "exec");
    assert_int_equal(u.has_authority, 0);
    assert_string_equal(u.host, "");
    assert_int_equal(u.port, -1);
    /* Spaces, '?' and '#' all stay in the opaque part. */
    assert_string_equal(u.path, "pg_isready -h db -p 5432");
    assert_null(u.query);
    assert_null(u.fragment);
    hd_url_free(&u);

    parse_ok("exec:sh -c 'test -f /x?y#z'", &u);
    assert_string_equal(u.path, "sh -c 'test -f /x?y#z'");
    hd_url_free(&u);

    parse_ok("exec:", &u);
    assert_string_equal(u.path, "");
    hd_url_free(&u);

    /* One slash is not an authority. */
    parse_ok("unix:/run/x.sock", &u);
    assert_int_equal(u.has_authority, 0);
    assert_string_equal(u.path, "/run/x.sock");
    hd_url_free(&u);
}

static void test_host_names(void **state)
{
    (void)state;
    hd_url_t u;
    parse_ok("tcp://My_DB-1.internal:1", &u);
    assert_string_equal(u.host, "my_db-1.internal");
    hd_url_free(&u);

    parse_ok("unix:///run/pg.sock", &u);
    assert_string_equal(u.host, "");
    assert_string_equal(u.path, "/run/pg.sock");
    hd_url_free(&u);

    char s[300];
    memset(s, 0, sizeof(s));
    memcpy(s, "tcp://", 6);
    memset(s + 6, 'a', 253);
    parse_ok(s, &u);
    assert_int_equal(strlen(u.host), 253);
    hd_url_free(&u);

    s[6 + 253] = 'a';
    parse_bad(s, "host name longer than 253 characters");

    parse_bad("tcp://h!x:1", "invalid character '!' in host name");
    parse_bad("tcp://h%41:1", "invalid character '%' in host name");
}

static void test_bad_ports(void **state)
{
    (void)state;
    parse_bad("tcp://h:65536", "port '65536' out of range (1-65535)");
    parse_bad("tcp://h:99999999999999999999999", "port '99999999999999999999999' out of range "
                                                 "(1-65535)");
    parse_bad("tcp://h:8o", "invalid port '8o'");
    parse_bad("tcp://h:http", "invalid port 'http'");
    parse_bad("tcp://h:-1", "invalid port '-1'");
    parse_bad("tcp://h:+1", "invalid port '+1'");
    parse_bad("tcp://h:", "empty port after ':'");
    parse_bad("tcp://h:/x", "empty port after ':'");
    parse_bad("tcp://[::1]:", "empty port after ':'");
    parse_bad("tcp://h:1:2", "invalid port '1:2'");
}

static void test_bad_ipv6(void **state)
{
    (void)state;
    parse_bad("tcp://[::1:80", "unterminated '[' in IPv6 address");
    parse_bad("tcp://[::1/x]", "unterminated '[' in IPv6 address");
    parse_bad("tcp://[::g]:80", "invalid IPv6 address '::g'");
    parse_bad("tcp://[]:80", "invalid IPv6 address ''");
    parse_bad("tcp://[127.0.0.1]:80", "invalid IPv6 address '127.0.0.1'");
    parse_bad("tcp://[1:2:3:4:5:6:7:8:9]:80", "invalid IPv6 address '1:2:3:4:5:6:7:8:9'");
    parse_bad("tcp://[fe80::1%25]:80", "invalid IPv6 address 'fe80::1%'");
    parse_bad("tcp://[fe80::1%zz]:80", "bad percent-escape in IPv6 address");
    parse_bad("tcp://[::1]x:80", "unexpected 'x' after host");
    parse_bad("tcp://[::1]]:80", "unexpected ']' after host");
    /* An IPv6 address without brackets: say that it needs them. */
    parse_bad("icmp://::1", "IPv6 address '::1' needs brackets: [::1]");
    parse_bad("http://fe80::1/x", "IPv6 address 'fe80::1' needs brackets: [fe80::1]");
    parse_bad("tcp://::1:5432",
              "IPv6 address needs brackets: [::1]:5432, or [::1:5432] if the address is all of it");
    parse_bad("tcp://2001:db8::1:80", "IPv6 address needs brackets: [2001:db8::1]:80, or "
                                      "[2001:db8::1:80] if the address is all of it");
    parse_bad("tcp://fe80::1::2",
              "an IPv6 address needs brackets, with the port after them: [::1]:5432");
    /* One colon is still a host and a port. */
    parse_bad("tcp://h:x", "invalid port 'x'");
}

static void test_bad_characters(void **state)
{
    (void)state;
    parse_bad("tcp://h st:1", "space or non-ASCII character at offset 7 (percent-encode it)");
    parse_bad("tcp://h:1/a b", "space or non-ASCII character at offset 11 (percent-encode it)");
    parse_bad("tcp://h\x01:1", "space or non-ASCII character at offset 7 (percent-encode it)");
    parse_bad("tcp://h\t:1", "space or non-ASCII character at offset 7 (percent-encode it)");
    parse_bad("tcp://h\x7f:1", "space or non-ASCII character at offset 7 (percent-encode it)");
    parse_bad("tcp://h\xc3\xa9:1", "space or non-ASCII character at offset 7 (percent-encode it)");
    parse_bad("exec:echo\tx", "control character in URL");
    parse_bad("exec:echo x\n", "control character in URL");
    parse_bad("exec:echo \x7f", "control character in URL");
}

static void test_bad_scheme(void **state)
{
    (void)state;
    const char *msg = "missing scheme (expected e.g. tcp://host:port)";
    parse_bad("//db:5432", msg);
    parse_bad("db", msg);
    parse_bad(":5432", msg);
    parse_bad("1tcp://h:1", msg);
    parse_bad("t_p://h:1", msg);
    parse_bad("/run/pg.sock", msg);
    parse_bad("", "empty URL");
}

static void test_bad_userinfo(void **state)
{
    (void)state;
    parse_bad("redis://a%zz@h", "bad percent-escape in user name");
    parse_bad("redis://a%4@h", "bad percent-escape in user name");
    parse_bad("redis://a:%4@h", "bad percent-escape in password");
    parse_bad("redis://a:x%00y@h", "bad percent-escape in password");
}

static void test_length_limit(void **state)
{
    (void)state;
    size_t n = HD_URL_MAX + 1;
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, "http://h/", 9);
    memset(s + 9, 'a', n - 9);
    s[n] = '\0';
    char want[64];
    snprintf(want, sizeof(want), "URL longer than %d bytes", HD_URL_MAX);
    parse_bad(s, want);

    s[HD_URL_MAX] = '\0'; /* exactly the limit is fine */
    hd_url_t u;
    parse_ok(s, &u);
    assert_int_equal(strlen(u.path), HD_URL_MAX - 8);
    hd_url_free(&u);
    free(s);
}

static void test_error_truncated_to_buffer(void **state)
{
    (void)state;
    hd_url_t u;
    char err[8];
    assert_int_equal(hd_url_parse("tcp://h:65536", &u, err, sizeof(err)), -1);
    assert_string_equal(err, "port '6");
}

/* Decodes s and compares with want (NULL: expect refusal). */
static void decode_is(const char *s, const char *want)
{
    char *d = hd_url_decode(s, strlen(s));
    if (!want) {
        if (d) fail_msg("'%s' decoded to '%s', expected refusal", s, d);
        return;
    }
    assert_non_null(d);
    assert_string_equal(d, want);
    free(d);
}

static void test_decode(void **state)
{
    (void)state;
    decode_is("", "");
    decode_is("plain", "plain");
    decode_is("a%20b", "a b");
    decode_is("%41%62%7e", "Ab~");
    decode_is("%2F%2f", "//");
    decode_is("x%41", "xA"); /* an escape that ends the string */
    decode_is("%ff", "\xff");
    decode_is("%", NULL);
    decode_is("%4", NULL);
    decode_is("x%4", NULL);
    decode_is("%zz", NULL);
    decode_is("%g0", NULL);
    decode_is("%00", NULL); /* an encoded NUL would cut the string short */

    /* Only len bytes are read: the escape beyond them is not seen. */
    char *d = hd_url_decode("ab%41", 2);
    assert_string_equal(d, "ab");
    free(d);
    assert_null(hd_url_decode("ab%41", 4));

    /* With an exact-size buffer, ASan catches any read past len. */
    unsigned char *c = exact_copy("a%4", 3);
    assert_null(hd_url_decode((const char *)c, 3));
    free(c);
    c = exact_copy("a%41", 4);
    d = hd_url_decode((const char *)c, 4);
    assert_string_equal(d, "aA");
    free(d);
    free(c);
}

static void test_free_twice_is_safe(void **state)
{
    (void)state;
    hd_url_t u;
    parse_ok("tcp://h:1", &u);
    hd_url_free(&u);
    hd_url_free(&u); /* hd_url_free leaves u empty */
    assert_null(u.scheme);
    assert_int_equal(u.port, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_host_port),
        cmocka_unit_test(test_all_parts),
        cmocka_unit_test(test_userinfo),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_edge_ports),
        cmocka_unit_test(test_query_fragment),
        cmocka_unit_test(test_opaque),
        cmocka_unit_test(test_host_names),
        cmocka_unit_test(test_bad_ports),
        cmocka_unit_test(test_bad_ipv6),
        cmocka_unit_test(test_bad_characters),
        cmocka_unit_test(test_bad_scheme),
        cmocka_unit_test(test_bad_userinfo),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_error_truncated_to_buffer),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_free_twice_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
