/* test_check_json — the API's view of a check written straight to text
 * (hd_check_write_json) is byte for byte what json_dumps made of
 * hd_check_to_json before, for every kind of check and state, so clients
 * see no change; and a state whose output is not UTF-8 still has JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "check.h"

#include "agent/check_json.h"
#include "agent/config.h"
#include "agent/state.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void parse(const char *text, hd_check_def_t *d)
{
    char err[1024] = "";
    if (hd_config_parse_check(text, strlen(text), "test", d, err, sizeof(err)) != 0)
        fail_msg("%s: %s", text, err);
}

/* What the API sent before: json_dumps of the tree, as hd_api_reply_json. */
static char *old_text(const hd_check_def_t *d, const hd_check_state_t *st, int precision)
{
    json_t *o = hd_check_to_json(d, st);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(precision));
    json_decref(o);
    assert_non_null(s);
    return s;
}

static char *new_text(const hd_check_def_t *d, const hd_check_state_t *st, int precision)
{
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, precision);
    hd_check_write_json(&w, d, st);
    return b.data;
}

static void assert_same(const hd_check_def_t *d, const hd_check_state_t *st)
{
    const int precisions[] = {10, 0};
    for (size_t i = 0; i < 2; i++) {
        char *want = old_text(d, st, precisions[i]), *got = new_text(d, st, precisions[i]);
        assert_string_equal(got, want);
        free(want);
        free(got);
    }
}

static const char *const defs[] = {
    "{\"name\":\"hb\",\"ttl\":\"30s\"}",
    "{\"name\":\"hb2\",\"ttl\":\"1500ms\",\"tags\":[\"a\",\"b/c\",\"\xc3\xa9t\xc3\xa9\"]}",
    "{\"name\":\"db\",\"target\":\"tcp://127.0.0.1:5432\"}",
    "{\"id\":\"web-1\",\"name\":\"Web \\\"front\\\"\",\"target\":\"http://127.0.0.1:8080/"
    "health?a=1&b=2\",\"interval\":\"5s\",\"timeout\":\"250ms\",\"expect\":{\"status\":[200,204],"
    "\"body_contains\":\"ok \\\"yes\\\"\\n\",\"latency_ms\":200},\"follow_redirects\":true,"
    "\"tags\":[\"web\",\"prod\"]}",
    "{\"name\":\"web-s\",\"target\":\"https://127.0.0.1:8443/\",\"expect\":{\"status\":[301]},"
    "\"follow_redirects\":true,\"insecure\":true,\"success_before_passing\":2,"
    "\"failures_before_warning\":2,\"failures_before_critical\":5}",
    "{\"name\":\"web-l\",\"target\":\"http://127.0.0.1:8080/\",\"expect\":{\"latency_ms\":1}}",
    "{\"id\":\"cert\",\"name\":\"cert\",\"target\":\"tls://127.0.0.1:8443\",\"expect\":"
    "{\"cert_days_left\":14},\"insecure\":true}",
    "{\"name\":\"cert-https\",\"target\":\"https://127.0.0.1:8443\",\"expect\":"
    "{\"cert_days_left\":30}}",
    "{\"name\":\"ns\",\"target\":\"dns://example.test?server=127.0.0.1:5353\",\"expect\":"
    "{\"dns\":\"127.0.0.7\"}}",
    "{\"name\":\"pg\",\"target\":\"postgres://app@127.0.0.1:5432/app\",\"interval\":\"1h\"}",
    "{\"name\":\"redis\",\"target\":\"redis://:secret@127.0.0.1:6380/2\",\"interval\":\"90s\"}",
    "{\"name\":\"api\",\"target\":\"http://127.0.0.1:8080/v1\",\"method\":\"POST\",\"headers\":"
    "{\"Authorization\":\"Bearer s3cr3t\",\"Accept\":[\"text/plain\",\"application/json\"],"
    "\"X-Trace\":\"1\"},\"body\":\"{\\\"q\\\":1}\",\"notes\":\"pages on-call\"}",
    "{\"name\":\"svc\",\"ttl\":\"10s\",\"service\":\"web\",\"notes\":\"n\","
    "\"deregister_critical_service_after\":\"90m\"}",
};

static void states(hd_check_state_t *out, size_t *n)
{
    memset(out, 0, 5 * sizeof(*out));
    hd_state_init(&out[0], 1795000000123456LL); /* "not checked yet", one timestamp */
    out[1] = (hd_check_state_t){.status = HD_CHECK_PASSING,
                                .reason = HD_R_OK,
                                .output = strdup("HTTP 200 OK"),
                                .latency_us = 373,
                                .last_checked = 1795000000999999LL,
                                .last_change = 1795000000000001LL,
                                .last_success = 1795000000999999LL};
    out[2] = (hd_check_state_t){.status = HD_CHECK_CRITICAL,
                                .reason = HD_R_TIMEOUT,
                                .output = strdup("said \"no\"\\\t\r\n\x01\x1f / caf\xc3\xa9 "
                                                 "\xe2\x82\xac \xf0\x9f\x98\x80"),
                                .latency_us = 2000000,
                                .last_checked = 1,
                                .last_change = 86400LL * 1000000 * 365 * 30};
    out[3] = (hd_check_state_t){
        .status = HD_CHECK_MAINTENANCE, .output = strdup(""), .latency_us = 123456789, .paused = 1};
    out[4] = (hd_check_state_t){.status = HD_CHECK_WARNING,
                                .reason = HD_R_OK,
                                .output = NULL,
                                .latency_us = 99999999999999LL};
    *n = 5;
}

static void test_same_text_as_jansson(void **state)
{
    (void)state;
    hd_check_state_t sts[5];
    size_t nst;
    states(sts, &nst);
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        hd_check_def_t d;
        parse(defs[i], &d);
        assert_same(&d, NULL);
        for (size_t k = 0; k < nst; k++)
            assert_same(&d, &sts[k]);
        /* tenant, service and source, set or not */
        d.tenant = strdup("acme");
        free(d.service_id);
        d.service_id = strdup("web \"1\"");
        d.from_config = 1;
        for (size_t k = 0; k < nst; k++)
            assert_same(&d, &sts[k]);
        hd_check_def_free(&d);
    }
    for (size_t k = 0; k < nst; k++)
        hd_state_free(&sts[k]);
}

/* Output that is not UTF-8 (an exec script's bytes, a TTL note): jansson
 * dropped the "output" key from the reply and could not store the state;
 * now each bad byte is U+FFFD. */
static void test_output_not_utf8(void **state)
{
    (void)state;
    hd_check_def_t d;
    parse(defs[0], &d);
    hd_check_state_t st = {.status = HD_CHECK_PASSING, .output = strdup("bad \xff\xfe end \xc3")};
    char *got = new_text(&d, &st, 10);
    json_error_t je;
    json_t *o = json_loads(got, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "output")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd");
    json_decref(o);
    free(got);

    json_t *stored = hd_check_state_to_json(&st);
    assert_non_null(stored);
    hd_check_state_t back = {0};
    assert_int_equal(hd_check_state_from_json(stored, &back), 0);
    assert_string_equal(back.output, "bad \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd");
    json_decref(stored);
    hd_state_free(&back);
    hd_state_free(&st);
    hd_check_def_free(&d);
}

/* A paused check's stored state keeps the status that resume gives back;
 * one stored before that was kept reads back as critical. */
static void test_paused_state_stored(void **state)
{
    (void)state;
    hd_check_state_t st = {.status = HD_CHECK_MAINTENANCE,
                           .paused = 1,
                           .before_pause = HD_CHECK_WARNING,
                           .output = strdup("slow")};
    json_t *stored = hd_check_state_to_json(&st);
    assert_non_null(stored);
    hd_check_state_t back = {0};
    assert_int_equal(hd_check_state_from_json(stored, &back), 0);
    assert_int_equal(back.before_pause, HD_CHECK_WARNING);
    assert_int_equal(back.paused, 1);
    json_object_del(stored, "before_pause");
    assert_int_equal(hd_check_state_from_json(stored, &back), 0);
    assert_int_equal(back.before_pause, HD_CHECK_CRITICAL);
    json_object_set_new(stored, "before_pause", json_integer(HD_CHECK_MAINTENANCE));
    assert_int_equal(hd_check_state_from_json(stored, &back), -1);
    json_decref(stored);
    hd_state_free(&back);
    hd_state_free(&st);
}

/* Credential headers are "***" in the API's view, whole in the stored
 * form, which reads back to an equal definition; the service is
 * service_id in the view and "service" in the stored form. */
static void test_headers_masked_and_stored(void **state)
{
    (void)state;
    hd_check_def_t d, back;
    parse(defs[sizeof(defs) / sizeof(defs[0]) - 2], &d);
    char *view = new_text(&d, NULL, 10);
    assert_non_null(strstr(view, "\"headers\":{\"Authorization\":\"***\",\"Accept\":"
                                 "[\"text/plain\",\"application/json\"],\"X-Trace\":\"1\"}"));
    assert_null(strstr(view, "s3cr3t"));
    assert_non_null(strstr(view, "\"method\":\"POST\""));
    assert_non_null(strstr(view, "\"notes\":\"pages on-call\""));
    free(view);
    json_t *stored = hd_check_def_to_json(&d);
    char *text = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    assert_non_null(strstr(text, "Bearer s3cr3t"));
    parse(text, &back);
    free(text);
    assert_true(hd_check_def_equal(&d, &back));
    assert_string_equal(back.target.http.headers[0], "Authorization: Bearer s3cr3t");
    assert_string_equal(back.target.http.headers[2], "Accept: application/json");
    hd_check_def_free(&back);
    hd_check_def_free(&d);

    parse(defs[sizeof(defs) / sizeof(defs[0]) - 1], &d);
    view = new_text(&d, NULL, 10);
    assert_non_null(strstr(view, "\"service_id\":\"web\""));
    assert_null(strstr(view, "\"service\":"));
    assert_non_null(strstr(view, "\"deregister_critical_service_after\":\"90m\""));
    free(view);
    stored = hd_check_def_to_json(&d);
    text = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    parse(text, &back);
    free(text);
    assert_true(hd_check_def_equal(&d, &back));
    assert_int_equal(back.deregister_after_us, 90LL * 60 * 1000000);
    hd_check_def_free(&back);
    hd_check_def_free(&d);
}

/* A list is the objects in an array, comma-separated, as json_dumps gives. */
static void test_list(void **state)
{
    (void)state;
    hd_check_state_t sts[5];
    size_t nst;
    states(sts, &nst);
    json_t *arr = json_array();
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 10);
    hd_jsonw_array_begin(&w);
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        hd_check_def_t d;
        parse(defs[i], &d);
        json_array_append_new(arr, hd_check_to_json(&d, &sts[i % nst]));
        hd_check_write_json(&w, &d, &sts[i % nst]);
        hd_check_def_free(&d);
    }
    hd_jsonw_array_end(&w);
    char *want = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(10));
    assert_string_equal(b.data, want);
    free(want);
    json_decref(arr);
    hd_buf_free(&b);
    for (size_t k = 0; k < nst; k++)
        hd_state_free(&sts[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_text_as_jansson),      cmocka_unit_test(test_output_not_utf8),
        cmocka_unit_test(test_paused_state_stored),       cmocka_unit_test(test_list),
        cmocka_unit_test(test_headers_masked_and_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
