/* test_target — hd_target_parse for every scheme, with its defaults, its
 * rules and its messages; hd_argv_split for exec: command lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "target_check.h"
#include "probe/target.h"

#include <stdio.h>

static void test_tcp(void **state)
{
    (void)state;
    hd_target_t t;
    parse_ok("tcp://db:5432", &t);
    assert_int_equal(t.kind, HD_KIND_TCP);
    assert_string_equal(t.host, "db");
    assert_int_equal(t.port, 5432);
    assert_string_equal(t.display, "tcp://db:5432");
    assert_null(t.user);
    assert_null(t.path);
    hd_target_free(&t);

    parse_ok("TCP://DB:1/", &t); /* a bare "/" is allowed; names are lower-cased */
    assert_string_equal(t.host, "db");
    assert_int_equal(t.port, 1);
    hd_target_free(&t);

    parse_ok("tcp://[::1]:65535", &t);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 65535);
    assert_int_equal(t.tcp_graceful, 0); /* closes with RST unless told */
    hd_target_free(&t);

    parse_ok("tcp://db:1?close=graceful", &t);
    assert_int_equal(t.tcp_graceful, 1);
    assert_string_equal(t.url, "tcp://db:1?close=graceful");
    hd_target_free(&t);
    parse_ok("tcp://db:1/?close=reset", &t);
    assert_int_equal(t.tcp_graceful, 0);
    hd_target_free(&t);

    parse_bad("tcp://db", "tcp URL needs a port (tcp://host:port)");
    parse_bad("tcp://[::1]", "tcp URL needs a port (tcp://host:port)");
    parse_bad("tcp://db:0", "port 0 is not a port you can connect to");
    parse_bad("tcp://db:65536", "port '65536' out of range (1-65535)");
    parse_bad("tcp://:5432", "missing host in tcp URL");
    parse_bad("tcp://db:1/x", "tcp URLs are tcp://host:port[?close=reset|graceful] only");
    parse_bad("tcp://db:1?x=1", "tcp URLs are tcp://host:port[?close=reset|graceful] only");
    parse_bad("tcp://u@db:1", "tcp URLs are tcp://host:port[?close=reset|graceful] only");
    parse_bad("tcp://db:1?close=fin", "tcp close 'fin' is not reset or graceful");
    parse_bad("tcp://db:1?close=graceful&x=1", "tcp close 'graceful&x=1' is not reset or graceful");
    parse_bad("tcp://db:1?close=", "tcp close '' is not reset or graceful");
    parse_bad("tcp://db:1#x", "unexpected fragment ('#...') in tcp URL: it takes none");
    parse_bad("tcp:db:1", "expected tcp://...");
}

static void test_http(void **state)
{
    (void)state;
    hd_target_t t;
    parse_ok("http://web", &t);
    assert_int_equal(t.kind, HD_KIND_HTTP);
    assert_string_equal(t.host, "web");
    assert_int_equal(t.port, 80);
    assert_int_equal(t.http.nstatus, 0);
    assert_int_equal(t.http.follow, 0); /* no redirects unless asked */
    hd_target_free(&t);

    parse_ok("https://web", &t);
    assert_int_equal(t.kind, HD_KIND_HTTP);
    assert_int_equal(t.port, 443);
    hd_target_free(&t);

    parse_ok("http://web:8080/health?full=1#x", &t);
    assert_int_equal(t.port, 8080);
    hd_target_free(&t);

    parse_ok("https://admin:hunter2@web/status", &t);
    assert_string_equal(t.display, "https://admin:***@web/status");
    hd_target_free(&t);

    parse_bad("http://web:0", "port 0 is not a port you can connect to");
    parse_bad("http:///x", "missing host in http URL");
}

static void test_postgres(void **state)
{
    (void)state;
    hd_target_t t;

    parse_ok("postgres://db", &t);
    assert_int_equal(t.kind, HD_KIND_PG);
    assert_int_equal(t.port, 5432);
    assert_string_equal(t.user, "postgres");
    assert_string_equal(t.database, "postgres"); /* as libpq: the user's name */
    assert_null(t.password);
    hd_target_free(&t);

    parse_ok("postgresql://alice@db", &t);
    assert_int_equal(t.kind, HD_KIND_PG);
    assert_string_equal(t.user, "alice");
    assert_string_equal(t.database, "alice");
    hd_target_free(&t);

    parse_ok("postgres://alice:s3cret@db:6543/app?sslmode=disable&connect_timeout=3", &t);
    assert_string_equal(t.user, "alice");
    assert_string_equal(t.password, "s3cret");
    assert_string_equal(t.database, "app");
    assert_int_equal(t.port, 6543);
    assert_string_equal(t.display,
                        "postgres://alice:***@db:6543/app?sslmode=disable&connect_timeout=3");
    hd_target_free(&t);

    parse_ok("postgres://:pw@db/", &t); /* an empty user is the default one */
    assert_string_equal(t.user, "postgres");
    assert_string_equal(t.database, "postgres");
    assert_string_equal(t.display, "postgres://:***@db/");
    hd_target_free(&t);

    parse_ok("postgres://db/my%20db", &t);
    assert_string_equal(t.database, "my db");
    hd_target_free(&t);

    parse_bad("postgres://db/a/b", "database name 'a/b' contains '/'");
    parse_bad("postgres://db/a%2Fb", "database name 'a/b' contains '/'");
    parse_bad("postgres://db/%zz", "bad percent-escape in database name");
    parse_bad("postgres://db/x#y", "unexpected fragment ('#...') in postgres URL: it takes none");
    parse_bad("postgres://db:0", "port 0 is not a port you can connect to");
    parse_bad("postgres://", "missing host in postgres URL");
}

static void test_mysql(void **state)
{
    (void)state;
    hd_target_t t;
    parse_ok("mysql://db", &t);
    assert_int_equal(t.kind, HD_KIND_MYSQL);
    assert_int_equal(t.port, 3306);
    assert_null(t.user); /* no login without a user in the URL */
    assert_null(t.database);
    hd_target_free(&t);

    parse_ok("mysql://app:pw@db:3307/shop", &t);
    assert_string_equal(t.user, "app");
    assert_string_equal(t.password, "pw");
    assert_string_equal(t.database, "shop");
    assert_int_equal(t.port, 3307);
    assert_string_equal(t.display, "mysql://app:***@db:3307/shop");
    hd_target_free(&t);
}

static void test_redis(void **state)
{
    (void)state;
    hd_target_t t;

    parse_ok("redis://cache", &t);
    assert_int_equal(t.kind, HD_KIND_REDIS);
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.redis_db, -1);
    assert_null(t.user);
    assert_null(t.password);
    hd_target_free(&t);

    parse_ok("redis://:secret@cache/2", &t);
    assert_null(t.user);
    assert_string_equal(t.password, "secret");
    assert_int_equal(t.redis_db, 2);
    assert_string_equal(t.display, "redis://:***@cache/2");
    hd_target_free(&t);

    parse_ok("redis://default:p%40ss@cache:6380/0", &t);
    assert_string_equal(t.user, "default");
    assert_string_equal(t.password, "p@ss");
    assert_int_equal(t.redis_db, 0);
    assert_int_equal(t.port, 6380);
    assert_string_equal(t.display, "redis://default:***@cache:6380/0");
    hd_target_free(&t);

    parse_ok("redis://cache/", &t);
    assert_int_equal(t.redis_db, -1);
    hd_target_free(&t);

    parse_ok("redis://cache/65535", &t);
    assert_int_equal(t.redis_db, 65535);
    hd_target_free(&t);

    parse_bad("redis://cache/x", "redis database 'x' is not a number");
    parse_bad("redis://cache/-1", "redis database '-1' is not a number");
    parse_bad("redis://cache/+1", "redis database '+1' is not a number");
    parse_bad("redis://cache/1x", "redis database '1x' is not a number");
    parse_bad("redis://cache/65536", "redis database '65536' is not a number");
    parse_bad("redis://cache/99999999999999999999", "redis database '99999999999999999999' is not "
                                                    "a number");
    parse_bad("redis://cache/0/1", "redis database '0/1' is not a number");
    parse_bad("redis://cache?db=1",
              "unexpected query ('?...') in redis URL: a password goes before the host "
              "(redis://:PASSWORD@host)");
    parse_bad("redis://cache#x", "unexpected fragment ('#...') in redis URL: it takes none");
}

static void test_redaction(void **state)
{
    (void)state;
    hd_target_t t;

    /* The password runs to the last '@' of the authority. */
    parse_ok("redis://:p@ss:w@cache/1", &t);
    assert_string_equal(t.password, "p@ss:w");
    assert_string_equal(t.display, "redis://:***@cache/1");
    hd_target_free(&t);

    parse_ok("redis://:@cache", &t); /* an empty password is still hidden */
    assert_string_equal(t.display, "redis://:***@cache");
    hd_target_free(&t);

    /* A user without a password shows as given; so does an '@' in a path. */
    parse_ok("mysql://app@db", &t);
    assert_string_equal(t.display, "mysql://app@db");
    hd_target_free(&t);
    parse_ok("http://web/a:b@c", &t);
    assert_string_equal(t.display, "http://web/a:b@c");
    hd_target_free(&t);

    parse_ok("postgres://u:pw@[::1]:5432/x?a=b:c@d", &t);
    assert_string_equal(t.display, "postgres://u:***@[::1]:5432/x?a=b:c@d");
    hd_target_free(&t);

    /* libpq's and MySQL's password= in the query, any case. */
    parse_ok("postgres://u@db/x?sslmode=disable&Password=pw&password=&a=password=1", &t);
    assert_string_equal(t.display,
                        "postgres://u@db/x?sslmode=disable&Password=***&password=***&a=password=1");
    assert_false(hd_target_masked(&t));
    hd_target_free(&t);
    parse_ok("http://a:pw@web/h?password=x#frag?password=y", &t);
    assert_string_equal(t.display, "http://a:***@web/h?password=***#frag?password=y");
    hd_target_free(&t);

    /* A target as shown, given back: its password is the mask itself. */
    static const char *const masked[] = {"redis://:***@cache", "mysql://u:***@db/x",
                                         "postgres://u@db/x?password=***",
                                         "postgres://u@db/x?a=1&PASSWORD=***&b=2", NULL};
    for (const char *const *m = masked; *m; m++) {
        parse_ok(*m, &t);
        if (!hd_target_masked(&t)) fail_msg("%s not seen as masked", *m);
        hd_target_free(&t);
    }
    static const char *const real[] = {
        "redis://:****@cache", "redis://:p***@cache", "postgres://u@db/x?password=***x",
        "http://web/***@x",    "tcp://db:1",          NULL};
    for (const char *const *m = real; *m; m++) {
        parse_ok(*m, &t);
        if (hd_target_masked(&t)) fail_msg("%s seen as masked", *m);
        hd_target_free(&t);
    }
}

/* Text meant to be a URL, parsed or not, for messages about input that
 * did not parse. */
static void test_redact_any_text(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } t[] = {
        {"redis://:pw@h", "redis://:***@h"},
        /* an unescaped '/' cut the password short: hidden to the last '@' */
        {"postgres://u:p4ss/word@127.0.0.1/app", "postgres://u:***@127.0.0.1/app"},
        {"postgres://u:a?b#c@h/x", "postgres://u:***@h/x"},
        {"redis://h?password=pw&x=1", "redis://h?password=***&x=1"},
        {"no scheme at all", "no scheme at all"},
        {"exec:mysql -psecret", "exec:mysql -psecret"},
        {"", ""},
        {"x://@", "x://@"},
        {"x://:@", "x://:***@"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char *got = hd_target_redact(t[i].in);
        if (strcmp(got, t[i].out) != 0) fail_msg("%s: got %s, want %s", t[i].in, got, t[i].out);
        free(got);
    }
}

/* A server's reply that quotes the password is shown without it. */
static void test_scrub(void **state)
{
    (void)state;
    hd_target_t t;
    char out[64];
    parse_ok("redis://:s%40cret@cache", &t);
    snprintf(out, sizeof(out), "args: 's@cret' and 's%%40cret', s@cre");
    hd_target_scrub(&t, out, sizeof(out));
    assert_string_equal(out, "args: '***' and '***', s@cre");
    hd_target_free(&t);
    /* An http URL's password (the probe does not keep it decoded). */
    parse_ok("http://u:pw1@web/", &t);
    snprintf(out, sizeof(out), "pw1pw1");
    hd_target_scrub(&t, out, sizeof(out));
    assert_string_equal(out, "******");
    hd_target_free(&t);
    /* A short buffer: the result is cut, still without the password. */
    parse_ok("redis://:ab@cache", &t);
    char tiny[6] = "xabab";
    hd_target_scrub(&t, tiny, sizeof(tiny));
    assert_string_equal(tiny, "x****");
    hd_target_free(&t);
    /* No password: nothing changes. */
    parse_ok("tcp://db:1", &t);
    snprintf(out, sizeof(out), "tcp://db:1 refused");
    hd_target_scrub(&t, out, sizeof(out));
    assert_string_equal(out, "tcp://db:1 refused");
    hd_target_free(&t);
}

static void test_unix(void **state)
{
    (void)state;
    hd_target_t t;
    parse_ok("unix:///run/postgresql/.s.PGSQL.5432", &t);
    assert_int_equal(t.kind, HD_KIND_UNIX);
    assert_string_equal(t.path, "/run/postgresql/.s.PGSQL.5432");
    assert_null(t.host);
    hd_target_free(&t);

    parse_ok("unix://localhost/run/a%20b.sock", &t);
    assert_string_equal(t.path, "/run/a b.sock");
    hd_target_free(&t);

    const char *three = "unix URLs name a local path: write unix:///path (three slashes)";
    parse_bad("unix://run/x.sock", three);
    parse_bad("unix://host/run/x.sock", three);
    parse_bad("unix:/run/x.sock", "expected unix://...");
    parse_bad("unix:///", "unix URL needs an absolute path");
    parse_bad("unix://", "unix URL needs an absolute path");
    parse_bad("unix://localhost", "unix URL needs an absolute path");
    parse_bad("unix://u@localhost/x", "unix URLs take no user or port");
    parse_bad("unix://localhost:1/x", "unix URLs take no user or port");
    parse_bad("unix:///x?y", "unexpected query ('?...') in unix URL: it takes none");
    parse_bad("unix:///x#y", "unexpected fragment ('#...') in unix URL: it takes none");
    parse_bad("unix:///x%zz", "bad percent-escape in path");

    /* sun_path holds 108 bytes, the NUL included. */
    char s[200];
    int n = snprintf(s, sizeof(s), "unix://");
    memset(s + n, 'a', 107);
    s[n] = '/';
    s[n + 107] = '\0';
    parse_ok(s, &t);
    assert_int_equal(strlen(t.path), 107);
    hd_target_free(&t);
    s[n + 107] = 'a';
    s[n + 108] = '\0';
    parse_bad(s, "unix socket path longer than 107 bytes");
}

static void test_file(void **state)
{
    (void)state;
    hd_target_t t;
    parse_ok("file:///var/run/app.ready", &t);
    assert_int_equal(t.kind, HD_KIND_FILE);
    assert_string_equal(t.path, "/var/run/app.ready");
    hd_target_free(&t);

    parse_bad("file://var/run/app.ready",
              "file URLs name a local path: write file:///path (three slashes)");
    parse_bad("file:/x", "expected file://...");
    parse_bad("file:///", "file URL needs an absolute path");
}

/* Parses an exec: target and compares its argv with want (NULL-terminated). */
static void exec_is(const char *s, const char *const *want)
{
    hd_target_t t;
    parse_ok(s, &t);
    assert_int_equal(t.kind, HD_KIND_EXEC);
    assert_non_null(t.argv);
    size_t i;
    for (i = 0; want[i]; i++) {
        if (!t.argv[i]) fail_msg("'%s': argv has %zu words, expected more", s, i);
        assert_string_equal(t.argv[i], want[i]);
    }
    if (t.argv[i]) fail_msg("'%s': extra word '%s'", s, t.argv[i]);
    hd_target_free(&t);
}

static void test_exec(void **state)
{
    (void)state;
    exec_is("exec:pg_isready", (const char *[]){"pg_isready", NULL});
    exec_is("exec:  pg_isready  -h db   -q  ",
            (const char *[]){"pg_isready", "-h", "db", "-q", NULL});
    exec_is("exec:sh -c 'echo \"a b\"; exit 3'",
            (const char *[]){"sh", "-c", "echo \"a b\"; exit 3", NULL});
    exec_is("exec:echo \"it's\" 'say \"hi\"'",
            (const char *[]){"echo", "it's", "say \"hi\"", NULL});
    exec_is("exec:echo a\\ b c", (const char *[]){"echo", "a b", "c", NULL});
    exec_is("exec:echo \"a\\\"b\" 'c\\d'", (const char *[]){"echo", "a\"b", "c\\d", NULL});
    exec_is("exec:echo x\"y z\"w", (const char *[]){"echo", "xy zw", NULL});
    exec_is("exec:printf '' \"\"", (const char *[]){"printf", "", "", NULL});
    exec_is("exec:a b c d e f g h i j k",
            (const char *[]){"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", NULL});
    exec_is("exec:test -f /x?y#z", (const char *[]){"test", "-f", "/x?y#z", NULL});

    parse_bad("exec:echo 'abc", "unterminated ' quote in command");
    parse_bad("exec:echo \"abc", "unterminated \" quote in command");
    parse_bad("exec:echo \"abc\\\"", "unterminated \" quote in command");
    parse_bad("exec:", "empty command");
    parse_bad("exec:   ", "empty command");
    parse_bad("exec://host/cmd", "exec targets are written exec:COMMAND ARGS, without //");
    parse_bad("exec:echo\x01", "control character in URL");
    parse_bad("exec:echo\ta", "control character in URL"); /* tabs too: use spaces */
}

/* Splits s and compares with want, or expects the message err_want. */
static void split_is(const char *s, const char *const *want, const char *err_want)
{
    char err[128] = "";
    char **argv = hd_argv_split(s, err, sizeof(err));
    if (err_want) {
        if (argv) fail_msg("'%s' split, expected '%s'", s, err_want);
        assert_string_equal(err, err_want);
        return;
    }
    if (!argv) fail_msg("'%s' refused: %s", s, err);
    size_t i;
    for (i = 0; want[i]; i++) {
        if (!argv[i]) fail_msg("'%s': argv has %zu words, expected more", s, i);
        assert_string_equal(argv[i], want[i]);
    }
    if (argv[i]) fail_msg("'%s': extra word '%s'", s, argv[i]);
    hd_argv_free(argv);
}

static void test_argv_split(void **state)
{
    (void)state;
    split_is("a", (const char *[]){"a", NULL}, NULL);
    split_is("\ta\n b ", (const char *[]){"a", "b", NULL}, NULL);
    split_is("a\\\\b", (const char *[]){"a\\b", NULL}, NULL);
    split_is("\\'a\\'", (const char *[]){"'a'", NULL}, NULL);
    split_is("'a'\"b\"c", (const char *[]){"abc", NULL}, NULL);
    split_is("\"a\\\\b\"", (const char *[]){"a\\b", NULL}, NULL);
    /* A trailing backslash stays, as in sh -c 'echo a\' (it printed "a\"). */
    split_is("echo a\\", (const char *[]){"echo", "a\\", NULL}, NULL);
    split_is("\\", (const char *[]){"\\", NULL}, NULL);
    split_is("", NULL, "empty command");
    split_is(" \t ", NULL, "empty command");
    split_is("'", NULL, "unterminated ' quote in command");
    split_is("a \"b", NULL, "unterminated \" quote in command");
    hd_argv_free(NULL); /* accepted, as free(NULL) */
}

/* Expects s refused as an unknown scheme: the message names it and lists
 * the schemes there are (the list grows, so only their presence is checked). */
static void unknown_scheme(const char *s, const char *scheme)
{
    hd_target_t t;
    char err[512] = "", want[128];
    assert_int_equal(hd_target_parse(s, &t, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "unknown scheme '%s' (expected tcp, unix, http, https, ", scheme);
    if (strncmp(err, want, strlen(want)) != 0) fail_msg("'%s': got '%s'", s, err);
    const char *schemes[] = {" postgres,", " mysql,", " redis,", " file,",
                             " exec,",     " icmp,",  " dns",    " tls"};
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        assert_contains(err, schemes[i]);
    assert_int_equal(err[strlen(err) - 1], ')');
}

static void test_unknown_scheme(void **state)
{
    (void)state;
    unknown_scheme("ftp://h", "ftp");
    unknown_scheme("FTP://h", "ftp");
    /* A forgotten scheme reads as one. */
    unknown_scheme("localhost:5432", "localhost");
    parse_bad("db", "missing scheme (expected e.g. tcp://host:port)");
    parse_bad("", "empty URL");
}

static void test_kind_name(void **state)
{
    (void)state;
    assert_string_equal(hd_kind_name(HD_KIND_TCP), "tcp");
    assert_string_equal(hd_kind_name(HD_KIND_UNIX), "unix");
    assert_string_equal(hd_kind_name(HD_KIND_HTTP), "http");
    assert_string_equal(hd_kind_name(HD_KIND_PG), "postgres");
    assert_string_equal(hd_kind_name(HD_KIND_MYSQL), "mysql");
    assert_string_equal(hd_kind_name(HD_KIND_REDIS), "redis");
    assert_string_equal(hd_kind_name(HD_KIND_FILE), "file");
    assert_string_equal(hd_kind_name(HD_KIND_EXEC), "exec");
}

/* The protocol floor's version names. */
static void test_tls_versions(void **state)
{
    (void)state;
    unsigned m;
    char err[128], buf[64];
    assert_int_equal(hd_tls_versions_parse("tls1.0,TLS1.1", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0x3);
    assert_int_equal(hd_tls_versions_parse("tlsv1,tlsv1.2,tls1.3", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0xd);
    hd_tls_versions_format(m, buf, sizeof(buf));
    assert_string_equal(buf, "tls1.0, tls1.2, tls1.3");
    assert_int_equal(hd_tls_versions_parse("tls1.0,ssl3", &m, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown TLS version 'ssl3' (expected tls1.0, tls1.1, tls1.2 or "
                             "tls1.3)");
    assert_int_equal(hd_tls_versions_parse("tls1.0,", &m, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown TLS version '' (expected tls1.0, tls1.1, tls1.2 or tls1.3)");
    assert_int_equal(hd_tls_versions_parse("", &m, err, sizeof(err)), -1);
    assert_int_equal(hd_tls_version_bit("tls1.4", 6), 0);
    assert_int_equal(hd_tls_version_bit("tls1.1xxxxxxxxxxxxxxxxxxx", 25), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_postgres),
        cmocka_unit_test(test_mysql),
        cmocka_unit_test(test_redis),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_redact_any_text),
        cmocka_unit_test(test_scrub),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_argv_split),
        cmocka_unit_test(test_unknown_scheme),
        cmocka_unit_test(test_kind_name),
        cmocka_unit_test(test_tls_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
