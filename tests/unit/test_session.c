/* test_session — hd_session_parse, Consul's session/create body: defaults
 * (serfHealth, 15 s lock-delay, release, the local node), field names in
 * any case, LockDelay as a duration or a number (seconds below 1000, else
 * nanoseconds), Checks and NodeChecks merged, and the refusals: 400 for a
 * decode error naming the field, 500 for what Consul's server refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/session.h"

#include <jansson.h>
#include <string.h>

static int parse(const char *text, hd_session_t *s, char *err, size_t errlen)
{
    json_t *body = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    if (text) assert_non_null(body);
    int rc = hd_session_parse(body, "node-1", s, err, errlen);
    json_decref(body);
    return rc;
}

static void test_defaults(void **state)
{
    (void)state;
    hd_session_t s;
    char err[300];
    assert_int_equal(parse(NULL, &s, err, sizeof(err)), 0);
    assert_string_equal(s.node, "node-1");
    assert_string_equal(s.name, "");
    assert_string_equal(s.ttl, "");
    assert_int_equal(s.ttl_ns, 0);
    assert_int_equal(s.lock_delay_ns, 15000000000LL);
    assert_int_equal(s.delete_keys, 0);
    assert_int_equal(s.nnode, 1);
    assert_string_equal(s.node_checks[0], "serfHealth");
    assert_int_equal(s.nservice, 0);
    hd_session_clear(&s);
}

static void test_fields_any_case(void **state)
{
    (void)state;
    hd_session_t s;
    char err[300];
    assert_int_equal(parse("{\"name\": \"n\", \"ttl\": \"1m30s\", \"behavior\": \"delete\","
                           " \"lockdelay\": \"250ms\", \"checks\": [\"a\", \"b\"],"
                           " \"NodeChecks\": [\"b\", \"c\"], \"ServiceChecks\": [{\"ID\": \"w\"}],"
                           " \"unknown\": {\"x\": 1}}",
                           &s, err, sizeof(err)),
                     0);
    assert_string_equal(s.name, "n");
    assert_string_equal(s.ttl, "1m30s");
    assert_int_equal(s.ttl_ns, 90000000000LL);
    assert_int_equal(s.delete_keys, 1);
    assert_int_equal(s.lock_delay_ns, 250000000LL);
    assert_int_equal(s.nnode, 3); /* a, b, c: Checks and NodeChecks, once each */
    assert_string_equal(s.node_checks[2], "c");
    assert_int_equal(s.nservice, 1);
    assert_string_equal(s.service_checks[0], "w");
    hd_session_clear(&s);
    /* An empty list of checks is no check at all. */
    assert_int_equal(parse("{\"NodeChecks\": []}", &s, err, sizeof(err)), 0);
    assert_int_equal(s.nnode, 0);
    hd_session_clear(&s);
    /* LockDelay numbers: seconds below 1000, nanoseconds from there. */
    assert_int_equal(parse("{\"LockDelay\": 7}", &s, err, sizeof(err)), 0);
    assert_int_equal(s.lock_delay_ns, 7000000000LL);
    hd_session_clear(&s);
    assert_int_equal(parse("{\"LockDelay\": 1000}", &s, err, sizeof(err)), 0);
    assert_int_equal(s.lock_delay_ns, 1000);
    hd_session_clear(&s);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int status;
        const char *err;
    } bad[] = {
        {"[]", 400, "Request decode failed: the body must be a JSON object"},
        {"{\"TTL\": 10}", 400, "Request decode failed: TTL: expected a string"},
        {"{\"Node\": 1}", 400, "Request decode failed: Node: expected a string"},
        {"{\"Checks\": {}}", 400, "Request decode failed: Checks: expected an array"},
        {"{\"NodeChecks\": [null]}", 400,
         "Request decode failed: NodeChecks[0]: expected a string"},
        {"{\"ServiceChecks\": [\"x\"]}", 400,
         "Request decode failed: ServiceChecks[0].ID: expected a string"},
        {"{\"LockDelay\": -1}", 400, "Request decode failed: LockDelay: out of range"},
        {"{\"TTL\": \"9s\"}", 500,
         "Invalid Session TTL '9000000000', must be between [10s=24h0m0s]"},
        {"{\"TTL\": \"25h\"}", 500,
         "Invalid Session TTL '90000000000000', must be between [10s=24h0m0s]"},
        {"{\"Behavior\": \"Release\"}", 500, "Invalid Behavior setting 'Release'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hd_session_t s;
        char err[300] = "";
        assert_int_equal(parse(bad[i].body, &s, err, sizeof(err)), bad[i].status);
        assert_string_equal(err, bad[i].err);
    }
    hd_session_t s;
    char err[300];
    assert_int_equal(parse("{\"TTL\": \"0s\"}", &s, err, sizeof(err)), 0); /* no TTL */
    assert_int_equal(s.ttl_ns, 0);
    assert_string_equal(s.ttl, "");
    hd_session_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_fields_any_case),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
