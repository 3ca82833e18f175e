/* test_filter — Consul's filter expressions: every comparison on every
 * kind of value, absent members, lists of maps (any item), precedence and
 * parentheses, values as Consul writes them, errors with their columns,
 * the endpoint's selector table, the limits, the canonical text, and the
 * two ways to give rows (a C accessor, jansson). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "util/filter.h"

/* How the messages start (filter.h). */
#define P HD_FILTER_ERR_PARSE
#define E HD_FILTER_ERR_EVAL

#include <stdio.h>
#include <string.h>

/* A row of /v1/health/service/:name, shaped as Consul's API page shows it,
 * with a few extra members to reach each kind. */
static const char *ROW =
    "{\"Node\":{\"ID\":\"40e4a748\",\"Node\":\"foobar\",\"Address\":\"10.1.10.12\","
    "\"Datacenter\":\"dc1\",\"TaggedAddresses\":{\"lan\":\"10.1.10.12\"},"
    "\"Meta\":{\"instance_type\":\"t2.medium\",\"rack id\":\"r1\"}},"
    "\"Service\":{\"ID\":\"redis\",\"Service\":\"redis\",\"Tags\":[\"primary\",\"v1\"],"
    "\"Address\":\"10.1.10.12\",\"Meta\":{\"redis_version\":\"4.0\",\"blank\":\"\","
    "\"path\":\"C:\\\\dir\\\\n\",\"caf\\u00e9\":\"cr\\u00e8me\",\"a.b\":\"dotted\"},"
    "\"Port\":8000,\"Weights\":{\"Passing\":10,\"Warning\":1},\"EnableTagOverride\":false,"
    "\"Connect\":{\"Native\":true},\"Numbers\":[1,2.5,-5],\"Flags\":[true],\"Nothing\":null,"
    "\"NoTags\":[],\"NoMeta\":{}},"
    "\"Checks\":[{\"Node\":\"foobar\",\"CheckID\":\"service:redis\",\"Status\":\"passing\","
    "\"Output\":\"PONG\",\"ServiceTags\":[\"primary\"]},"
    "{\"Node\":\"foobar\",\"CheckID\":\"serfHealth\",\"Status\":\"critical\",\"Output\":\"\","
    "\"ServiceTags\":[]}]}";

/* The selectors of /v1/health/service/:name, as Consul's page lists them
 * (the part heed's rows have). */
static const hd_filter_field_t HEALTH[] = {
    {"Checks", HD_FILTER_LIST},
    {"Checks.CheckID", HD_FILTER_STRING},
    {"Checks.Status", HD_FILTER_STRING},
    {"Checks.Output", HD_FILTER_STRING},
    {"Checks.ServiceTags", HD_FILTER_LIST},
    {"Node.Node", HD_FILTER_STRING},
    {"Node.Address", HD_FILTER_STRING},
    {"Node.Meta", HD_FILTER_MAP},
    {"Node.Meta.*", HD_FILTER_STRING},
    {"Service.ID", HD_FILTER_STRING},
    {"Service.Service", HD_FILTER_STRING},
    {"Service.Tags", HD_FILTER_LIST},
    {"Service.Address", HD_FILTER_STRING},
    {"Service.Meta", HD_FILTER_MAP},
    {"Service.Meta.*", HD_FILTER_STRING},
    {"Service.Port", HD_FILTER_NUMBER},
    {"Service.EnableTagOverride", HD_FILTER_BOOL},
    {"Service.Connect.Native", HD_FILTER_BOOL},
};
#define NHEALTH (sizeof(HEALTH) / sizeof(*HEALTH))

static json_t *row_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &je);
    if (!j) fail_msg("bad test row: %s", je.text);
    return j;
}

/* Parses expr (failing the test on an error) and evaluates it on row. */
static int eval_on(const char *expr, const char *row, const hd_filter_field_t *fields,
                   size_t nfields)
{
    char err[512] = "";
    hd_filter_t *f;
    if (hd_filter_parse(expr, strlen(expr), fields, nfields, &f, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", expr, err);
    json_t *j = row_json(row);
    int r = hd_filter_eval_json(f, j, err, sizeof(err));
    if (r < 0) fail_msg("'%s' failed on the row: %s", expr, err);
    json_decref(j);
    hd_filter_free(f);
    return r;
}

/* expr holds (1) or not (0) on ROW, with and without the selector table. */
static void holds(const char *expr, int want)
{
    int r = eval_on(expr, ROW, NULL, 0);
    if (r != want) fail_msg("'%s' is %d on the row, expected %d", expr, r, want);
}

static void holds_typed(const char *expr, int want)
{
    holds(expr, want);
    int r = eval_on(expr, ROW, HEALTH, NHEALTH);
    if (r != want) fail_msg("'%s' (typed) is %d on the row, expected %d", expr, r, want);
}

/* expr is refused by the parser with exactly the message want. */
static void refused(const char *expr, size_t len, const hd_filter_field_t *fields, size_t nfields,
                    const char *want)
{
    char err[512] = "";
    hd_filter_t *f = (hd_filter_t *)&err; /* must become NULL */
    if (hd_filter_parse(expr, len, fields, nfields, &f, err, sizeof(err)) == 0)
        fail_msg("'%s' accepted", expr);
    assert_null(f);
    if (strcmp(err, want) != 0) fail_msg("'%s':\n  got  %s\n  want %s", expr, err, want);
}

static void bad(const char *expr, const char *want)
{
    refused(expr, strlen(expr), NULL, 0, want);
}

static void bad_typed(const char *expr, const char *want)
{
    refused(expr, strlen(expr), HEALTH, NHEALTH, want);
}

/* expr parses (untyped) but its evaluation on ROW fails with want. */
static void eval_fails(const char *expr, const char *want)
{
    char err[512] = "";
    hd_filter_t *f;
    if (hd_filter_parse(expr, strlen(expr), NULL, 0, &f, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", expr, err);
    json_t *j = row_json(ROW);
    assert_int_equal(hd_filter_eval_json(f, j, err, sizeof(err)), -1);
    if (strcmp(err, want) != 0) fail_msg("'%s':\n  got  %s\n  want %s", expr, err, want);
    json_decref(j);
    hd_filter_free(f);
}

static void test_strings(void **state)
{
    (void)state;
    holds_typed("Service.Service == \"redis\"", 1);
    holds_typed("Service.Service == redis", 1); /* a bare word is text */
    holds_typed("Service.Service == `redis`", 1);
    holds_typed("Service.Service == \"Redis\"", 0); /* bytes: case counts */
    holds_typed("Service.Service != \"redis\"", 0);
    holds_typed("Service.Service != \"web\"", 1);
    holds_typed("Service.Meta.redis_version == 4.0", 1); /* a number literal is text here */
    holds_typed("Service.Meta.redis_version == \"4\"", 0);
    holds_typed("Service.Address contains \"10.1\"", 1);
    holds_typed("\"1.10\" in Service.Address", 1);
    holds_typed("\"11.\" in Service.Address", 0);
    holds_typed("\"\" in Service.Address", 1); /* the empty string is in every string */
    holds_typed("Service.Address not contains \"192.\"", 1);
    holds_typed("\"10.\" not in Service.Address", 0);
    holds_typed("Service.Address is empty", 0);
    holds_typed("Service.Address is not empty", 1);
    holds_typed("Service.Meta.blank is empty", 1);
    holds_typed("Service.Meta.blank is not empty", 0);
    holds_typed("Service.Meta.blank == \"\"", 1);
    holds_typed("Service.Address matches `^10\\.1\\.`", 1);
    holds_typed("Service.Address matches \"^10[.]2\"", 0);
    holds_typed("Service.Address not matches \"^192\\\\.\"", 1);
    holds_typed("Service.Meta.blank matches \"^$\"", 1);
    holds_typed("Service.Service matches \"[[:upper:]]\"", 0);
}

static void test_numbers_and_booleans(void **state)
{
    (void)state;
    holds_typed("Service.Port == 8000", 1);
    holds_typed("Service.Port == \"8000\"", 1); /* the value is read as the field's kind */
    holds_typed("Service.Port == 8000.0", 1);
    holds_typed("Service.Port == 8001", 0);
    holds_typed("Service.Port != 80", 1);
    holds_typed("Service.Port != 8000", 0);
    holds("Service.Weights.Passing == 10", 1);
    holds("Service.Weights.Warning == \"1e0\"", 1);
    holds_typed("Service.EnableTagOverride == false", 1);
    holds_typed("Service.EnableTagOverride == False", 1); /* Go's ParseBool forms */
    holds_typed("Service.EnableTagOverride == 0", 1);
    holds_typed("Service.EnableTagOverride != true", 1);
    holds_typed("Service.Connect.Native == true", 1);
    holds_typed("Service.Connect.Native == \"T\"", 1);
    holds_typed("Service.Connect.Native == 1", 1);
    holds_typed("Service.Connect.Native != TRUE", 0);
}

static void test_lists_and_maps(void **state)
{
    (void)state;
    holds_typed("\"primary\" in Service.Tags", 1);
    holds_typed("primary in Service.Tags", 1);
    holds_typed("\"prim\" in Service.Tags", 0); /* an item, not a substring */
    holds_typed("Service.Tags contains v1", 1);
    holds_typed("Service.Tags contains \"v2\"", 0);
    holds_typed("\"v2\" not in Service.Tags", 1);
    holds_typed("Service.Tags not contains \"v1\"", 0);
    holds_typed("Service.Tags is empty", 0);
    holds_typed("Service.Tags is not empty", 1);
    holds("Service.NoTags is empty", 1);
    holds("Service.NoTags contains \"x\"", 0);
    /* Items that are numbers or booleans compare as such. */
    holds("2.5 in Service.Numbers", 1);
    holds("-5 in Service.Numbers", 1);
    holds("\"1\" in Service.Numbers", 1);
    holds("3 in Service.Numbers", 0);
    holds("abc in Service.Numbers", 0);
    holds("Service.Flags contains true", 1);
    holds("Service.Flags contains false", 0);
    /* A map: in and contains look for a key. */
    holds_typed("\"redis_version\" in Service.Meta", 1);
    holds_typed("Service.Meta contains \"redis_version\"", 1);
    holds_typed("\"4.0\" in Service.Meta", 0);
    holds_typed("\"rack id\" in Node.Meta", 1);
    holds_typed("Node.Meta not contains \"rack\"", 1);
    holds_typed("Service.Meta is empty", 0);
    holds_typed("Node.Meta is not empty", 1);
    holds("Service.NoMeta is empty", 1);
    /* Map keys, dotted or in brackets. */
    holds_typed("Node.Meta[\"rack id\"] == r1", 1);
    holds_typed("Node.Meta[`rack id`] == \"r1\"", 1);
    holds_typed("Node.Meta.instance_type == \"t2.medium\"", 1);
    holds_typed("Node.Meta[\"instance_type\"] == \"t2.medium\"", 1);
    holds_typed("Service.Meta[\"a.b\"] == dotted", 1);
    holds_typed("Service.Meta[\"caf\\u00e9\"] == \"cr\\u00e8me\"", 1);
    holds_typed("Service.Meta[ \"caf\u00e9\" ] == `cr\u00e8me`", 1);
}

static void test_absent(void **state)
{
    (void)state;
    /* A missing key: the positive comparisons fail, their negations hold. */
    holds_typed("Service.Meta.nope == \"x\"", 0);
    holds_typed("Service.Meta.nope != \"x\"", 1);
    holds_typed("Service.Meta.nope is empty", 1);
    holds_typed("Service.Meta.nope is not empty", 0);
    holds_typed("\"x\" in Service.Meta.nope", 0);
    holds_typed("\"x\" not in Service.Meta.nope", 1);
    holds_typed("Service.Meta.nope contains \"x\"", 0);
    holds_typed("Service.Meta.nope not contains \"x\"", 1);
    holds_typed("Service.Meta.nope matches \".*\"", 0);
    holds_typed("Service.Meta.nope not matches \".*\"", 1);
    /* Absent on the way, and JSON null, are absent too. */
    holds("Node.Nope.Deeper == 1", 0);
    holds("Node.Nope.Deeper != 1", 1);
    holds("Service.Nothing is empty", 1);
    holds("Service.Nothing == \"\"", 0);
    holds("\"x\" in Service.Nothing", 0);
}

static void test_list_of_maps_any_item(void **state)
{
    (void)state;
    /* Two checks: one passing, one critical. */
    holds_typed("Checks.Status == passing", 1);
    holds_typed("Checks.Status == critical", 1);
    holds_typed("Checks.Status == warning", 0);
    /* A negated comparison also holds when it holds for any check. */
    holds_typed("Checks.Status != passing", 1);
    holds_typed("Checks.Status != warning", 1);
    holds_typed("not Checks.Status == critical", 0);
    holds_typed("\"pass\" in Checks.Status", 1);
    holds_typed("Checks.Output matches \"^PO\"", 1);
    holds_typed("Checks.Output is empty", 1);
    holds_typed("Checks.ServiceTags contains primary", 1);
    holds_typed("Checks.ServiceTags is empty", 1);
    holds_typed("Checks.CheckID == serfHealth and Checks.Status == passing", 1); /* separately */
    holds_typed("Checks is not empty", 1);
    holds_typed("Checks is empty", 0);
    holds("Checks.Missing == x", 0);
    holds("Checks.Missing != x", 1);

    /* No checks: no item for "any", negated or not. */
    const char *none = "{\"Checks\":[]}";
    assert_int_equal(eval_on("Checks.Status == passing", none, NULL, 0), 0);
    assert_int_equal(eval_on("Checks.Status != passing", none, NULL, 0), 0);
    assert_int_equal(eval_on("not Checks.Status == passing", none, NULL, 0), 1);
    assert_int_equal(eval_on("Checks is empty", none, NULL, 0), 1);
    /* All passing: != passing holds for none. */
    const char *ok = "{\"Checks\":[{\"Status\":\"passing\"},{\"Status\":\"passing\"}]}";
    assert_int_equal(eval_on("Checks.Status != passing", ok, NULL, 0), 0);
    /* Lists of lists of maps. */
    const char *nest = "{\"A\":[[{\"B\":1}],[{\"B\":2}]]}";
    assert_int_equal(eval_on("A.B == 2", nest, NULL, 0), 1);
    assert_int_equal(eval_on("A.B == 3", nest, NULL, 0), 0);
}

/* Consul's own examples (api-docs/features/filtering.mdx). */
static void test_consul_examples(void **state)
{
    (void)state;
    /* /v1/agent/services, filter=Meta.env == "qa": redis3 only. */
    const char *redis1 = "{\"ID\":\"redis1\",\"Tags\":[\"primary\",\"production\"],"
                         "\"Meta\":{\"env\":\"production\",\"foo\":\"bar\"},\"Port\":1234}";
    const char *redis3 = "{\"ID\":\"redis3\",\"Tags\":[\"primary\",\"qa\"],"
                         "\"Meta\":{\"env\":\"qa\"},\"Port\":1234}";
    assert_int_equal(eval_on("Meta.env == \"qa\"", redis1, NULL, 0), 0);
    assert_int_equal(eval_on("Meta.env == \"qa\"", redis3, NULL, 0), 1);
    /* /v1/catalog/service/api-internal, filter=NodeMeta.os == "linux". */
    assert_int_equal(eval_on("NodeMeta.os == \"linux\"",
                             "{\"NodeMeta\":{\"arch\":\"arm\",\"os\":\"linux\"}}", NULL, 0),
                     1);
    assert_int_equal(eval_on("NodeMeta.os == \"linux\"",
                             "{\"NodeMeta\":{\"arch\":\"i386\",\"os\":\"darwin\"}}", NULL, 0),
                     0);
    /* /v1/health/node/node-1, filter=ServiceName != "". */
    assert_int_equal(eval_on("ServiceName != \"\"", "{\"ServiceName\":\"\"}", NULL, 0), 0);
    assert_int_equal(eval_on("ServiceName != \"\"", "{\"ServiceName\":\"web\"}", NULL, 0), 1);
    /* ServiceMeta.foo and ServiceMeta["foo"] select the same. */
    const char *svc = "{\"ServiceMeta\":{\"foo\":\"x\"}}";
    assert_int_equal(eval_on("ServiceMeta.foo == x", svc, NULL, 0), 1);
    assert_int_equal(eval_on("ServiceMeta[\"foo\"] == x", svc, NULL, 0), 1);
}

/* Rows with A, B, C booleans, for the truth tables below. */
static int truth(const char *expr, int a, int b, int c)
{
    char row[96];
    snprintf(row, sizeof(row), "{\"A\":%s,\"B\":%s,\"C\":%s}", a ? "true" : "false",
             b ? "true" : "false", c ? "true" : "false");
    return eval_on(expr, row, NULL, 0);
}

static void test_precedence(void **state)
{
    (void)state;
    for (int m = 0; m < 8; m++) {
        int a = m & 1, b = (m >> 1) & 1, c = (m >> 2) & 1;
        /* Consul's page: these two are the same. */
        int want = (a && !b) || c;
        assert_int_equal(truth("A == true and not B == true or C == true", a, b, c), want);
        assert_int_equal(truth("( A == true and (not B == true )) or C == true", a, b, c), want);
        /* and before or, on either side. */
        assert_int_equal(truth("A == true or B == true and C == true", a, b, c), a || (b && c));
        assert_int_equal(truth("A == true and B == true or C == true", a, b, c), (a && b) || c);
        /* Parentheses override. */
        assert_int_equal(truth("A == true and (B == true or C == true)", a, b, c), a && (b || c));
        assert_int_equal(truth("not (A == true or B == true)", a, b, c), !(a || b));
        assert_int_equal(truth("not A == true and B == true", a, b, c), !a && b);
        assert_int_equal(truth("not not A == true", a, b, c), a);
        assert_int_equal(truth("(((A == true)))", a, b, c), a);
        assert_int_equal(truth("not(A==true)or(B!=false)", a, b, c), !a || b);
        assert_int_equal(truth("A == true or B == true or C == true", a, b, c), a || b || c);
        assert_int_equal(truth("A == true and B == true and C == true", a, b, c), a && b && c);
    }
}

static void test_values(void **state)
{
    (void)state;
    /* Go's escapes in "...", none in `...`. */
    holds("Service.Meta.path == \"C:\\\\dir\\\\n\"", 1);
    holds("Service.Meta.path == `C:\\dir\\n`", 1);
    holds("Service.Meta.path == \"C:\\x5cdir\\134n\"", 1); /* hex and octal bytes */
    holds("Service.Meta[\"caf\\U000000e9\"] == \"cr\\xc3\\xa8me\"", 1);
    assert_int_equal(eval_on("A == \"\\a\\b\\f\\n\\r\\t\\v\\\"\"",
                             "{\"A\":\"\\u0007\\b\\f\\n\\r\\t\\u000b\\\"\"}", NULL, 0),
                     1);
    /* A bare word may have dots: it is its text. */
    assert_int_equal(eval_on("Env == prod.eu.west", "{\"Env\":\"prod.eu.west\"}", NULL, 0), 1);
    /* Numbers: negative, fractions, next to ')'. */
    assert_int_equal(eval_on("(N == -1.5)", "{\"N\":-1.5}", NULL, 0), 1);
    assert_int_equal(eval_on("(N == 0)", "{\"N\":0}", NULL, 0), 1);
    /* Blanks anywhere between tokens, none needed around == and !=. */
    assert_int_equal(eval_on(" \t\r\nA==1\n", "{\"A\":1}", NULL, 0), 1);
    assert_int_equal(eval_on("A!=1", "{\"A\":1}", NULL, 0), 0);
    /* Words that are operators elsewhere are names as selectors. */
    assert_int_equal(eval_on("and == or", "{\"and\":\"or\"}", NULL, 0), 1);
    /* Selector parts may be numbers after the first. */
    assert_int_equal(eval_on("M.0 == x", "{\"M\":{\"0\":\"x\"}}", NULL, 0), 1);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    bad("", P "the expression is empty");
    bad(" \n\t", P "the expression is empty");
    bad("Service.Port ==", P "expected a value after '==' at column 16, found the end");
    bad("Service.Port == )", P "expected a value after '==' at column 17, found ')'");
    bad("Service.Tags contains", P "expected a value after 'contains' at column 22, found the end");
    bad("Service.Port == 80 80", P "expected 'and', 'or' or the end at column 20, found '80'");
    bad("Service.Port = 80",
        P "expected an operator (==, !=, is empty, is not empty, contains, matches) after "
          "a selector at column 14, found '='");
    bad("Service.Port", P "expected an operator (==, !=, is empty, is not empty, contains, "
                          "matches) after a selector at column 13, found the end");
    bad("Service.Port is", P "expected 'empty' after 'is' at column 16, found the end");
    bad("Service.Port is not full", P "expected 'empty' after 'is not' at column 21, found 'full'");
    bad("Service.Tags not \"x\"",
        P "expected 'contains' or 'matches' after 'not' at column 18, found '\"'");
    bad("\"x\" Service.Tags",
        P "expected 'in' or 'not in' after a value at column 5, found 'Service'");
    bad("\"x\" not Service.Tags",
        P "expected 'in' or 'not in' after a value at column 5, found 'not'");
    bad("\"x\" in 5", P "expected a selector after 'in' at column 8, found '5'");
    bad("Checks.Status in \"passing critical\"",
        P "expected a selector after 'in' at column 18, found '\"'");
    bad("\"x\" not in", P "expected a selector after 'not in' at column 11, found the end");
    bad("== 1", P "expected a selector, a value or '(' at column 1, found '='");
    bad("A == 1 or", P "expected a selector, a value or '(' at column 10, found the end");
    bad("A == 1 and and B == 2", P "expected an operator (==, !=, is empty, is not empty, "
                                   "contains, matches) after a selector at column 16, found 'B'");
    bad("(A == 1", P "expected 'and', 'or' or ')' (for the '(' at column 1) at column 8, "
                     "found the end");
    bad("A == 1)", P "expected 'and', 'or' or the end at column 7, found ')'");
    bad("()", P "expected a selector, a value or '(' at column 2, found ')'");
    bad("Service. == 1", P "expected a name after '.' at column 9, found ' '");
    bad("Service._x == 1", P "expected a name after '.' at column 9, found '_x'");
    bad("Meta.[\"x\"] == 1", P "expected a name after '.' at column 6, found '['");
    bad("Meta[x] == 1", P "expected a quoted key after '[' at column 6, found 'x'");
    bad("Meta[\"x\" == 1", P "expected ']' (for the '[' at column 5) at column 10, found '='");
    bad("A == \"80", P "the string starting here has no closing \" at column 6");
    bad("A == `80", P "the string starting here has no closing ` at column 6");
    bad("A == 08", P "invalid number '08' at column 6");
    bad("A == 1.", P "invalid number '1.' at column 6");
    bad("A == 1e5", P "invalid number '1e5' at column 6");
    bad("A == -", P "invalid number '-' at column 6");
    bad("A == 80and B == 1", P "invalid number '80and' at column 6");
    bad("A == \"\\q\"", P "unknown escape '\\q' in a string at column 7");
    bad("A == \"\\u12\"", P "the escape '\\u' needs 4 hex digits at column 7");
    bad("A == \"\\9\"", P "unknown escape '\\9' in a string at column 7");
    bad("A == \"\\400\"", P "the octal escape is over 255 at column 7");
    bad("A == \"\\ud800\"", P "the escape is not a valid Unicode character at column 7");
    bad("A == \"\\U00110000\"", P "the escape is not a valid Unicode character at column 7");
    bad("A == \"\\x00\"", P "a NUL character is not allowed in a string at column 7");
    bad("A == \"x\\", P "a '\\' ends the string at column 8");
    refused("A == \"a\0b\"", 10, NULL, 0, P "a NUL character is not allowed at column 8");
    /* Columns count characters, not bytes. */
    bad("A == \"\u00e9\u00e9\" B", P "expected 'and', 'or' or the end at column 11, found 'B'");
    bad("A == \"x\" and \u00e9",
        P "expected a selector, a value or '(' at column 14, found '\u00e9'");
    /* Keywords are lower case, as Consul's. */
    bad("A == 1 AND B == 2", P "expected 'and', 'or' or the end at column 8, found 'AND'");
}

static void test_selector_table(void **state)
{
    (void)state;
    bad_typed("Foo == 1", P "Selector \"Foo\" is not valid at column 1");
    bad_typed("Service.Port == 1 or \"x\" in Service.Nope",
              P "Selector \"Service.Nope\" is not valid at column 29");
    bad_typed("Service == x", P "Selector \"Service\" is not valid at column 1");
    bad_typed("Service.Meta.a.b == x", P "Selector \"Service.Meta.a.b\" is not valid at column 1");
    bad_typed("Node.Meta[\"a b\"].c == x",
              P "Selector \"Node.Meta[\"a b\"].c\" is not valid at column 1");
    bad_typed("Service.Port == abc",
              P "Service.Port is a number, and \"abc\" is not one at column 17");
    bad_typed("Service.Port == \"1x\"",
              P "Service.Port is a number, and \"1x\" is not one at column 17");
    bad_typed("Service.Port contains 1",
              P "'contains' does not apply to Service.Port, a number at column 1");
    bad_typed("\"1\" in Service.Port",
              P "'in' does not apply to Service.Port, a number at column 8");
    bad_typed("Service.Port is empty",
              P "'is empty' does not apply to Service.Port, a number at column 1");
    bad_typed("Service.EnableTagOverride == yes",
              P "Service.EnableTagOverride is a boolean, and \"yes\" is not one (true or "
                "false) at column 30");
    bad_typed("Service.Connect.Native matches x",
              P "'matches' does not apply to Service.Connect.Native, a boolean at column 1");
    bad_typed("Service.Tags == x", P "'==' does not apply to Service.Tags, a list: use "
                                     "'contains', 'in' or 'is empty' at column 1");
    bad_typed("Service.Meta not matches x", P "'not matches' does not apply to "
                                              "Service.Meta, a map: use 'contains', 'in' or 'is "
                                              "empty' at column 1");
    bad_typed("Checks != x", P "'!=' does not apply to Checks, a list: use 'contains', "
                               "'in' or 'is empty' at column 1");
    /* '*' takes any one key, however it is written. */
    holds_typed("Service.Meta[\"any thing\"] != x", 1);
    holds_typed("Node.Meta.x_1 is empty", 1);
    /* An empty table: nothing is valid. */
    refused("A == 1", 6, HEALTH, 0, P "Selector \"A\" is not valid at column 1");
}

static void test_eval_errors(void **state)
{
    (void)state;
    /* Without a table, a comparison that does not fit the row fails when
     * it meets it, naming the selector and where the comparison is. */
    eval_fails("Service.Port == abc",
               E "Service.Port is a number, and \"abc\" is not one (the comparison at column 1)");
    eval_fails("A == 1 or Service.EnableTagOverride == maybe",
               E "Service.EnableTagOverride is a boolean, and \"maybe\" is not one (true or "
                 "false) (the comparison at column 11)");
    eval_fails("Service.Tags == x",
               E "Service.Tags is a list: '==' does not apply to it (the comparison at column 1)");
    eval_fails("Service.Meta matches x",
               E "Service.Meta is a map: 'matches' does not apply to it (the comparison at "
                 "column 1)");
    eval_fails("Service.Port contains 8",
               E "Service.Port is a number: 'contains' does not apply to it (the comparison "
                 "at column 1)");
    eval_fails("Service.Port.x == 1",
               E "Service.Port is a number: it has no member \"x\" (the comparison at column 1)");
    eval_fails(
        "Service.Tags.x == 1", E
        "an item of Service.Tags is a string: it has no member \"x\" (the comparison at column 1)");
    /* Short-circuit: a failing comparison not reached does not fail. */
    holds("Service.Port == 8000 or Service.Port == abc", 1);
    holds("Service.Port == 1 and Service.Port == abc", 0);
    /* A row that is not a map. */
    char err[256];
    hd_filter_t *f;
    assert_int_equal(hd_filter_parse("A == 1", 6, NULL, 0, &f, err, sizeof(err)), 0);
    json_t *s = json_string("x");
    assert_int_equal(hd_filter_eval_json(f, s, err, sizeof(err)), -1);
    assert_string_equal(err, E "the row is a string: it has no member \"A\" (the "
                               "comparison at column 1)");
    json_decref(s);
    hd_filter_free(f);
}

static void test_regex(void **state)
{
    (void)state;
    bad("A matches \"(\"", P "invalid regular expression \"(\": Unmatched ( or \\( at column 11");
    bad("A matches \"a{2,1}\"",
        P "invalid regular expression \"a{2,1}\": Invalid content of \\{\\} at column 11");
    bad("A matches `(a)\\1`",
        P "regular expression \"(a)\\1\": back-references (\\1) are not supported at column 11");
    bad("A matches `\\d+`",
        P "regular expression \"\\d+\": \\d is Go's syntax: write [0-9] at column 11");
    bad("A matches `(?i)web`",
        P "regular expression \"(?i)web\": (?...) flags are Go's syntax, not POSIX's at "
          "column 11");
    bad("A matches `a{256}`",
        P "regular expression \"a{256}\": a repetition over 255 at column 11");
    bad("A matches `a{99999999999}`",
        P "regular expression \"a{99999999999}\": a repetition over 255 at column 11");
    bad("A matches `((a{10}){10}){11}`",
        P "regular expression \"((a{10}){10}){11}\": it expands to over 1000 parts at "
          "column 11");
    bad("A matches `((((((((((((((((((a))))))))))))))))))`",
        P "regular expression \"((((((((((((((((((a))))))))))))))))))\": groups nest deeper "
          "than 16 at column 11");
    /* A repetition of a repetition: glibc's compile time grows
     * exponentially with the count (fuzz_filter found 60 stars taking
     * seconds); Go's regexp refuses them too. */
    bad("A matches `a++++++++++`", P "regular expression \"a++++++++++\": a repetition of a "
                                     "repetition (++): Go's regexp refuses it too at column 11");
    bad("A matches `^(x************************************************************)$`", P
        "regular expression \"^(x************************************************************)$\": "
        "a repetition of a repetition (**): Go's regexp refuses it too at column 11");
    bad("A matches `a{2}{3}`", P "regular expression \"a{2}{3}\": a repetition of a repetition "
                                 "(}{): Go's regexp refuses it too at column 11");
    bad("A matches `a*?`", P "regular expression \"a*?\": lazy repetitions (*?) are Go's "
                             "syntax, not POSIX's at column 11");
    /* glibc copies what '+' repeats: a group of one doubles it each time. */
    assert_int_equal(eval_on("A matches `^((a+)+)+$`", "{\"A\":\"aaa\"}", NULL, 0), 1);
    /* Within the bounds. */
    assert_int_equal(eval_on("A matches `^((a{10}){10}){10}$`", "{\"A\":\"aaa\"}", NULL, 0), 0);
    assert_int_equal(eval_on("A matches `^[]a]+[[:digit:]]{2,}$`", "{\"A\":\"a]a42\"}", NULL, 0),
                     1);
    assert_int_equal(eval_on("A matches `b|^c`", "{\"A\":\"abc\"}", NULL, 0), 1);
    /* The whole value is searched, past a NUL byte in it; but '.' does not
     * match a NUL (POSIX's rule in glibc; Go's '.' would): docs/filtering.md. */
    assert_int_equal(eval_on("A matches `c$`", "{\"A\":\"a\\u0000c\"}", NULL, 0), 1);
    assert_int_equal(eval_on("A matches `^a.c$`", "{\"A\":\"a\\u0000c\"}", NULL, 0), 0);
    assert_int_equal(eval_on("A matches `^a[^b]c$`", "{\"A\":\"a\\u0000c\"}", NULL, 0), 1);
    char pat[HD_FILTER_MAX_PATTERN + 40];
    snprintf(pat, sizeof(pat), "A matches \"%0*d\"", HD_FILTER_MAX_PATTERN + 1, 0);
    bad(pat, P "the regular expression is 257 bytes, over the limit of 256 at column 11");
    /* One compiled pattern serves many rows. */
    char err[256];
    hd_filter_t *f;
    const char *e = "Name matches `^web-[0-9]+$` and Name not matches `-0$`";
    assert_int_equal(hd_filter_parse(e, strlen(e), NULL, 0, &f, err, sizeof(err)), 0);
    const char *rows[] = {"{\"Name\":\"web-1\"}", "{\"Name\":\"web-10\"}", "{\"Name\":\"web-\"}",
                          "{\"Name\":\"db-1\"}", "{\"Name\":\"web-0\"}"};
    int want[] = {1, 1, 0, 0, 0};
    for (size_t i = 0; i < 5; i++) {
        json_t *j = row_json(rows[i]);
        assert_int_equal(hd_filter_eval_json(f, j, err, sizeof(err)), want[i]);
        json_decref(j);
    }
    hd_filter_free(f);
}

/* n copies of s, then tail. */
static char *repeat(const char *s, int n, const char *tail)
{
    size_t l = strlen(s), t = strlen(tail);
    char *out = malloc(l * (size_t)n + t + 1);
    assert_non_null(out);
    for (int i = 0; i < n; i++)
        memcpy(out + l * (size_t)i, s, l);
    memcpy(out + l * (size_t)n, tail, t + 1);
    return out;
}

static void test_limits(void **state)
{
    (void)state;
    /* Too long: refused before it is read. */
    char *big = repeat("(", 100 * 1024, "");
    bad(big, P "the expression is 102400 bytes, over the limit of 8192");
    free(big);
    /* Nesting: 32 levels of '(' and 'not' are fine, 33 are not. */
    char *s = repeat("(", 32, "A == 1");
    char *e = repeat(")", 32, "");
    char *ok = malloc(strlen(s) + strlen(e) + 1);
    snprintf(ok, strlen(s) + strlen(e) + 1, "%s%s", s, e);
    assert_int_equal(eval_on(ok, "{\"A\":1}", NULL, 0), 1);
    free(ok);
    free(s);
    free(e);
    s = repeat("(", 33, "A == 1");
    bad(s, P "more than 32 levels of '(' and 'not' at column 33");
    free(s);
    s = repeat("not ", 32, "A == 1");
    assert_int_equal(eval_on(s, "{\"A\":1}", NULL, 0), 1);
    free(s);
    s = repeat("not ", 33, "A == 1");
    bad(s, P "more than 32 levels of '(' and 'not' at column 129");
    free(s);
    s = repeat("not (", 17, "A == 1");
    bad(s, P "more than 32 levels of '(' and 'not' at column 81");
    free(s);
    /* At the limit of the length, filled with '(': the nesting stops it. */
    s = repeat("(", HD_FILTER_MAX_LEN, "");
    bad(s, P "more than 32 levels of '(' and 'not' at column 33");
    free(s);
    /* 128 comparisons are fine (and evaluate), 129 are not. */
    s = repeat("A == 2 or ", 127, "A == 1");
    assert_int_equal(eval_on(s, "{\"A\":1}", NULL, 0), 1);
    free(s);
    s = repeat("A == 2 or ", 128, "A == 1");
    bad(s, P "more than 128 comparisons in one expression at column 1281");
    free(s);
    /* 16 parts in a selector, not 17. */
    assert_int_equal(eval_on("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p is empty", "{}", NULL, 0), 1);
    bad("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q is empty",
        P "a selector of more than 16 parts at column 33");
    /* 16 patterns, not 17. */
    s = repeat("A matches x or ", 16, "A == 1");
    assert_int_equal(eval_on(s, "{\"A\":\"y\"}", NULL, 0), 0);
    free(s);
    s = repeat("A matches x or ", 17, "A == 1");
    bad(s, P "more than 16 'matches' in one expression at column 251");
    free(s);
    /* An unclosed string the length of the limit. */
    s = repeat("x", HD_FILTER_MAX_LEN - 6, "");
    memcpy(s, "A == \"", 6);
    bad(s, P "the string starting here has no closing \" at column 6");
    free(s);
    /* The longest expression: 8192 bytes, one long string. */
    s = repeat("x", HD_FILTER_MAX_LEN - 1, "\"");
    memcpy(s, "A == \"", 6);
    assert_int_equal(eval_on(s, "{\"A\":\"x\"}", NULL, 0), 0);
    free(s);
}

/* expr's canonical text is want, and want's is itself. */
static void canon(const char *expr, const char *want)
{
    char err[256];
    hd_filter_t *f;
    if (hd_filter_parse(expr, strlen(expr), NULL, 0, &f, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", expr, err);
    hd_buf_t b = {0};
    hd_filter_format(f, &b);
    if (strcmp(b.data, want) != 0) fail_msg("'%s':\n  got  %s\n  want %s", expr, b.data, want);
    hd_filter_free(f);
    assert_int_equal(hd_filter_parse(b.data, b.len, NULL, 0, &f, err, sizeof(err)), 0);
    hd_buf_t again = {0};
    hd_filter_format(f, &again);
    assert_string_equal(again.data, want);
    hd_filter_free(f);
    hd_buf_free(&b);
    hd_buf_free(&again);
}

static void test_format(void **state)
{
    (void)state;
    canon("A==1", "A == \"1\"");
    canon("A == 1 and not B == x or C != `y`", "A == \"1\" and not B == \"x\" or C != \"y\"");
    canon("(A == 1 or B == 2) and C is empty", "(A == \"1\" or B == \"2\") and C is empty");
    canon("A == 1 or (B == 2 and C is not empty)", "A == \"1\" or B == \"2\" and C is not empty");
    canon("((A == 1 or B == 2) or C == 3)", "A == \"1\" or B == \"2\" or C == \"3\"");
    canon("not (A == 1 and B == 2)", "not (A == \"1\" and B == \"2\")");
    canon("not not A == 1", "not not A == \"1\"");
    canon("x in A.B", "\"x\" in A.B");
    canon("5 not in A", "\"5\" not in A");
    canon("A contains prod.eu", "A contains \"prod.eu\"");
    canon("A not contains `a\"b\\c`", "A not contains \"a\\\"b\\\\c\"");
    canon("A matches \"^\\t\"", "A matches \"^\\x09\"");
    canon("A not matches `x`", "A not matches \"x\"");
    canon("M[\"a b\"].c[`d`].0 == 1", "M[\"a b\"].c.d.0 == \"1\"");
    canon("M[\"\"] is empty", "M[\"\"] is empty");
    canon("M[\"1x\"] is empty", "M[\"1x\"] is empty");
}

/* A row as an endpoint has it in C: no JSON in sight. */
typedef struct svc_s {
    const char *name;
    int port;
    const char *tags[3];
    size_t ntags;
    const char *meta[2][2];
    size_t nmeta;
    const char *status[2]; /* its checks' */
    size_t nchecks;
} svc_t;

enum { T_ROW, T_SERVICE, T_TAGS, T_META, T_CHECKS, T_CHECK };

static void svc_member(void *arg, const hd_filter_value_t *in, const char *name,
                       hd_filter_value_t *out)
{
    const svc_t *s = in->ref;
    int *calls = arg;
    (*calls)++;
    switch (in->tag) {
    case T_ROW:
        if (!strcmp(name, "Service"))
            *out = (hd_filter_value_t){.kind = HD_FILTER_MAP, .ref = s, .tag = T_SERVICE, .n = 4};
        if (!strcmp(name, "Checks"))
            *out = (hd_filter_value_t){
                .kind = HD_FILTER_LIST, .ref = s, .tag = T_CHECKS, .n = s->nchecks};
        break;
    case T_SERVICE:
        if (!strcmp(name, "Service"))
            *out =
                (hd_filter_value_t){.kind = HD_FILTER_STRING, .s = s->name, .len = strlen(s->name)};
        if (!strcmp(name, "Port"))
            *out = (hd_filter_value_t){.kind = HD_FILTER_NUMBER, .num = s->port};
        if (!strcmp(name, "Tags"))
            *out =
                (hd_filter_value_t){.kind = HD_FILTER_LIST, .ref = s, .tag = T_TAGS, .n = s->ntags};
        if (!strcmp(name, "Meta"))
            *out =
                (hd_filter_value_t){.kind = HD_FILTER_MAP, .ref = s, .tag = T_META, .n = s->nmeta};
        break;
    case T_META:
        for (size_t i = 0; i < s->nmeta; i++)
            if (!strcmp(name, s->meta[i][0]))
                *out = (hd_filter_value_t){
                    .kind = HD_FILTER_STRING, .s = s->meta[i][1], .len = strlen(s->meta[i][1])};
        break;
    case T_CHECK: {
        const char *st = *(const char *const *)in->ref;
        if (!strcmp(name, "Status"))
            *out = (hd_filter_value_t){.kind = HD_FILTER_STRING, .s = st, .len = strlen(st)};
        break;
    }
    }
}

static void svc_item(void *arg, const hd_filter_value_t *in, size_t i, hd_filter_value_t *out)
{
    const svc_t *s = in->ref;
    (void)arg;
    if (in->tag == T_TAGS)
        *out = (hd_filter_value_t){
            .kind = HD_FILTER_STRING, .s = s->tags[i], .len = strlen(s->tags[i])};
    if (in->tag == T_CHECKS)
        *out = (hd_filter_value_t){
            .kind = HD_FILTER_MAP, .ref = &s->status[i], .tag = T_CHECK, .n = 1};
}

static void test_accessor(void **state)
{
    (void)state;
    svc_t rows[] = {
        {"web",
         80,
         {"primary", "v2"},
         2,
         {{"env", "prod"}, {"rack id", "r1"}},
         2,
         {"passing", "passing"},
         2},
        {"web", 8080, {"canary"}, 1, {{"env", "qa"}}, 1, {"passing", "critical"}, 2},
        {"db", 5432, {0}, 0, {{0}}, 0, {0}, 0},
    };
    int calls = 0;
    hd_filter_access_t a = {svc_member, svc_item, &calls};
    struct {
        const char *expr;
        int want[3];
    } cases[] = {
        {"Service.Service == web", {1, 1, 0}},
        {"Service.Port == 8080", {0, 1, 0}},
        {"primary in Service.Tags", {1, 0, 0}},
        {"Service.Tags is empty", {0, 0, 1}},
        {"Service.Meta.env == prod or Service.Meta[\"rack id\"] == r1", {1, 0, 0}},
        {"\"env\" in Service.Meta", {1, 1, 0}},
        {"Service.Meta is empty", {0, 0, 1}},
        {"Service.Meta.env != prod", {0, 1, 1}},
        {"Checks.Status == critical", {0, 1, 0}},
        {"Checks.Status != passing", {0, 1, 0}},
        {"Checks is empty", {0, 0, 1}},
        {"Service.Service == web and not Checks.Status == critical", {1, 0, 0}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
        char err[256];
        hd_filter_t *f;
        assert_int_equal(
            hd_filter_parse(cases[c].expr, strlen(cases[c].expr), NULL, 0, &f, err, sizeof(err)),
            0);
        for (int r = 0; r < 3; r++) {
            hd_filter_value_t row = {.kind = HD_FILTER_MAP, .ref = &rows[r], .tag = T_ROW, .n = 2};
            int got = hd_filter_eval(f, &a, &row, err, sizeof(err));
            if (got != cases[c].want[r])
                fail_msg("'%s' on row %d: %d, expected %d", cases[c].expr, r, got,
                         cases[c].want[r]);
        }
        hd_filter_free(f);
    }
    assert_true(calls > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers_and_booleans),
        cmocka_unit_test(test_lists_and_maps),
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_list_of_maps_any_item),
        cmocka_unit_test(test_consul_examples),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_selector_table),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_accessor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
