/* test_api_route — the API's request parsing that needs no socket: targets
 * (paths, params, percent-decoding, trailing '/', query strings), route
 * patterns, and the JSON body check with its error position. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "api/route.h"
#include "api/server.h"

#include <stdio.h>

static hd_api_target_t target(const char *uri)
{
    hd_api_target_t t;
    char err[200] = "";
    if (hd_api_target_parse(uri, &t, err, sizeof(err)) < 0) fail_msg("'%s' refused: %s", uri, err);
    return t;
}

static void target_bad(const char *uri, const char *want)
{
    hd_api_target_t t;
    char err[200] = "";
    if (hd_api_target_parse(uri, &t, err, sizeof(err)) == 0) fail_msg("'%s' accepted", uri);
    assert_contains(err, want);
}

static hd_api_pattern_t pattern(const char *s)
{
    hd_api_pattern_t p;
    char err[200] = "";
    if (hd_api_pattern_parse(s, &p, err, sizeof(err)) < 0) fail_msg("'%s' refused: %s", s, err);
    return p;
}

static void test_paths(void **state)
{
    (void)state;
    hd_api_target_t t = target("/v1/checks/web%201?x=1");
    assert_string_equal(t.path, "/v1/checks/web%201");
    assert_int_equal(t.nsegs, 3);
    assert_string_equal(t.segs[2], "web 1");
    hd_api_target_free(&t);

    t = target("/v1/checks/");
    assert_int_equal(t.nsegs, 2);
    hd_api_target_free(&t);

    t = target("/");
    assert_int_equal(t.nsegs, 0);
    hd_api_target_free(&t);

    /* An encoded '/' stays inside its segment. */
    t = target("/v1/kv/a%2Fb");
    assert_int_equal(t.nsegs, 3);
    assert_string_equal(t.segs[2], "a/b");
    hd_api_target_free(&t);

    /* Absolute form. */
    t = target("http://127.0.0.1:8500/v1/checks?pretty");
    assert_string_equal(t.path, "/v1/checks");
    assert_non_null(hd_api_target_query(&t, "pretty"));
    hd_api_target_free(&t);

    target_bad("v1/checks", "must be a path");
    target_bad("*", "must be a path");
    target_bad("/v1/checks/%zz", "bad percent-escape in the path");
    target_bad("/v1/checks/%00", "bad percent-escape");
    target_bad("/v1/checks/%4", "bad percent-escape");
    target_bad("/v1?a=%", "bad percent-escape in the query");
}

static void test_query(void **state)
{
    (void)state;
    hd_api_target_t t = target("/x?since=1h&include=a+b%2Bc&pretty&&include=later&e=");
    assert_string_equal(hd_api_target_query(&t, "since"), "1h");
    assert_string_equal(hd_api_target_query(&t, "include"), "a b+c"); /* first wins */
    assert_string_equal(hd_api_target_query(&t, "pretty"), "");
    assert_string_equal(hd_api_target_query(&t, "e"), "");
    assert_null(hd_api_target_query(&t, "until"));
    assert_int_equal(t.nquery, 5);
    hd_api_target_free(&t);
}

static void test_patterns(void **state)
{
    (void)state;
    hd_api_pattern_t p = pattern("/v1/checks/:id/history");
    assert_int_equal(p.nparams, 1);
    const char *v[2] = {NULL, NULL};
    hd_api_target_t t = target("/v1/checks/db%3A1/history/");
    assert_true(hd_api_pattern_match(&p, &t, v));
    assert_string_equal(v[0], "db:1");
    hd_api_target_free(&t);

    t = target("/v1/checks//history");
    assert_false(hd_api_pattern_match(&p, &t, v)); /* a parameter is never empty */
    hd_api_target_free(&t);
    t = target("/v1/checks/a/b/history");
    assert_false(hd_api_pattern_match(&p, &t, v));
    hd_api_target_free(&t);
    t = target("/v1/%63hecks/a/history"); /* literals compare decoded */
    assert_true(hd_api_pattern_match(&p, &t, v));
    hd_api_target_free(&t);
    hd_api_pattern_free(&p);

    hd_api_pattern_t q;
    char err[200] = "";
    assert_int_equal(hd_api_pattern_parse("v1", &q, err, sizeof(err)), -1);
    assert_contains(err, "must start with '/'");
    assert_int_equal(hd_api_pattern_parse("/v1//x", &q, err, sizeof(err)), -1);
    assert_contains(err, "empty segment");
    assert_int_equal(hd_api_pattern_parse("/v1/:", &q, err, sizeof(err)), -1);
    assert_int_equal(hd_api_pattern_parse("/v1/:a/:a", &q, err, sizeof(err)), -1);
    assert_contains(err, "repeats parameter ':a'");
}

/* Matches uri against pattern and returns the "*" parameter's value
 * (checked against want), or fails when it does not match. */
static void rest_is(const hd_api_pattern_t *p, const char *uri, const char *want)
{
    const char *v[2] = {NULL, NULL};
    hd_api_target_t t = target(uri);
    if (!hd_api_pattern_match(p, &t, v)) fail_msg("'%s' does not match '%s'", uri, p->text);
    assert_non_null(v[0]);
    assert_string_equal(v[0], want);
    hd_api_target_free(&t);
}

/* A last "*name" parameter: the rest of the path, '/'s, empty segments
 * and a trailing '/' included, decoded as one string; it may be empty. */
static void test_rest_parameter(void **state)
{
    (void)state;
    hd_api_pattern_t p = pattern("/v1/kv/*key");
    assert_int_equal(p.nparams, 1);
    assert_int_equal(p.is_param[2], HD_API_SEG_REST);
    assert_string_equal(p.segs[2], "key");
    rest_is(&p, "/v1/kv/web/config", "web/config");
    rest_is(&p, "/v1/kv/web/", "web/");
    rest_is(&p, "/v1/kv/a%2Fb%2Fc?recurse", "a/b/c");
    rest_is(&p, "/v1/kv/a//b/", "a//b/");
    rest_is(&p, "/v1/kv//lead", "/lead");
    rest_is(&p, "/v1/kv/sp%20ace%3F", "sp ace?");
    rest_is(&p, "/v1/kv/", "");
    rest_is(&p, "/v1/kv", "");
    rest_is(&p, "http://h:1/v1/kv/x/y", "x/y");
    hd_api_target_t t = target("/v1/kvx/a");
    assert_false(hd_api_pattern_match(&p, &t, NULL));
    hd_api_target_free(&t);
    t = target("/v1");
    assert_false(hd_api_pattern_match(&p, &t, NULL));
    hd_api_target_free(&t);
    hd_api_pattern_free(&p);

    /* With a ":name" before it, and as the whole pattern. */
    p = pattern("/v1/:ns/*rest");
    const char *v[2] = {NULL, NULL};
    t = target("/v1/team/x/y");
    assert_true(hd_api_pattern_match(&p, &t, v));
    assert_string_equal(v[0], "team");
    assert_string_equal(v[1], "x/y");
    hd_api_target_free(&t);
    hd_api_pattern_free(&p);
    p = pattern("/*all");
    rest_is(&p, "/", "");
    rest_is(&p, "/a/b", "a/b");
    hd_api_pattern_free(&p);

    hd_api_pattern_t q;
    char err[200] = "";
    assert_int_equal(hd_api_pattern_parse("/v1/*key/x", &q, err, sizeof(err)), -1);
    assert_contains(err, "must be the last segment");
    assert_int_equal(hd_api_pattern_parse("/v1/*", &q, err, sizeof(err)), -1);
    assert_contains(err, "empty segment");
    assert_int_equal(hd_api_pattern_parse("/v1/:k/*k", &q, err, sizeof(err)), -1);
    assert_contains(err, "repeats parameter");
}

static void body_bad(const char *body, const char *want)
{
    json_t *j = (json_t *)1;
    char err[300] = "";
    assert_int_equal(hd_api_parse_body(body, strlen(body), &j, err, sizeof(err)), -1);
    assert_null(j);
    assert_string_equal(err, want);
}

static void test_body(void **state)
{
    (void)state;
    json_t *j = NULL;
    char err[300] = "";
    assert_int_equal(hd_api_parse_body("{\"name\": \"web\"}", 15, &j, err, sizeof(err)), 0);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "web");
    json_decref(j);
    assert_int_equal(hd_api_parse_body(NULL, 0, &j, err, sizeof(err)), 0);
    assert_null(j);

    body_bad("{\"name\": \"web\",\n \"interval\": 10s}",
             "invalid JSON at line 2 column 16: '}' expected near 's'");
    body_bad("{\"a\": 1, \"a\": 2}", "invalid JSON at line 1 column 12: duplicate object key near "
                                     "'\"a\"'");
    body_bad("[1, 2]", "the request body must be a JSON object, not an array");
    body_bad("null", "the request body must be a JSON object, not null");
    body_bad("{} x", "invalid JSON at line 1 column 4: end of file expected near 'x'");
}

static void test_roles(void **state)
{
    (void)state;
    assert_int_equal(hd_api_role_parse("read"), HD_ROLE_READ);
    assert_int_equal(hd_api_role_parse("write"), HD_ROLE_WRITE);
    assert_int_equal(hd_api_role_parse("management"), HD_ROLE_MANAGEMENT);
    assert_int_equal(hd_api_role_parse("admin"), HD_ROLE_NONE);
    assert_string_equal(hd_api_role_name(HD_ROLE_WRITE), "write");
    assert_true(HD_ROLE_READ < HD_ROLE_WRITE && HD_ROLE_WRITE < HD_ROLE_MANAGEMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),    cmocka_unit_test(test_query),
        cmocka_unit_test(test_patterns), cmocka_unit_test(test_body),
        cmocka_unit_test(test_roles),    cmocka_unit_test(test_rest_parameter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
