/* test_jsonw — the direct JSON writer gives jansson's json_dumps text byte
 * for byte, repairs bytes that are not UTF-8, and its output always parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/jsonw.h"
#include "util/utf8.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What jansson writes for v, compact, reals with precision digits. */
static char *dumps(json_t *v, int precision)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision));
    json_decref(v);
    assert_non_null(s);
    return s;
}

static void assert_string_like_jansson(const char *s, size_t n)
{
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_stringn(&w, s, n);
    char *want = dumps(json_stringn(s, n), 0);
    assert_string_equal(b.data, want);
    free(want);
    hd_buf_free(&b);
}

static void test_strings_escape_as_jansson(void **state)
{
    (void)state;
    const char *cases[] = {
        "",
        "plain ascii 0123 ~!@#$%^&*()",
        "quote \" backslash \\ slash / done",
        "\b\f\n\r\t",
        "\x01\x02\x1f\x7f end", /* \u00XX in upper-case hex; DEL as it is */
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd",
        "<script>alert('x')</script>",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_like_jansson(cases[i], strlen(cases[i]));
    assert_string_like_jansson("a\0b", 3); /* NUL inside: \u0000 */
    char all[0x80];
    for (int c = 0; c < 0x80; c++)
        all[c] = (char)c;
    assert_string_like_jansson(all, sizeof(all));
}

static void test_invalid_utf8_becomes_replacement(void **state)
{
    (void)state;
    const struct {
        const char *in, *out;
    } cases[] = {
        {"\xff", "\"\xef\xbf\xbd\""},
        {"a\x80z", "\"a\xef\xbf\xbdz\""},
        {"\xc3", "\"\xef\xbf\xbd\""},                                 /* cut sequence */
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},                 /* overlong '/' */
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"ok \xe2\x82\xac\xe2\x82", "\"ok \xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hd_buf_t b = {0};
        hd_jsonw_t w;
        hd_jsonw_init(&w, &b, 0);
        hd_jsonw_string(&w, cases[i].in);
        assert_string_equal(b.data, cases[i].out);
        json_t *back = json_loads(b.data, JSON_DECODE_ANY, NULL);
        assert_non_null(back);
        json_decref(back);
        hd_buf_free(&b);
        size_t flen = 0;
        char *fixed = hd_utf8_repair(cases[i].in, strlen(cases[i].in), &flen);
        assert_int_equal(flen, strlen(fixed));
        assert_true(hd_utf8_valid(fixed, strlen(fixed)));
        assert_false(hd_utf8_valid(cases[i].in, strlen(cases[i].in)));
        assert_int_equal(strlen(fixed) + 2, strlen(cases[i].out));
        assert_memory_equal(fixed, cases[i].out + 1, strlen(fixed));
        free(fixed);
    }
}

static void test_numbers_as_jansson(void **state)
{
    (void)state;
    const int64_t ints[] = {0, 1, -1, 42, 1000000, INT64_MAX, INT64_MIN, -9876543210LL};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        hd_buf_t b = {0};
        hd_jsonw_t w;
        hd_jsonw_init(&w, &b, 0);
        hd_jsonw_int(&w, ints[i]);
        char *want = dumps(json_integer(ints[i]), 0);
        assert_string_equal(b.data, want);
        free(want);
        hd_buf_free(&b);
    }
    const double reals[] = {0.0,
                            -0.0,
                            0.373,
                            1.0,
                            12.5,
                            1e20,
                            1e-5,
                            1e-10,
                            1.5e300,
                            -2.5e-7,
                            123456.7,
                            0.1,
                            1.0 / 3,
                            4294967296.0,
                            1e100,
                            5e-324,
                            1.7976931348623157e308,
                            99999999999.0,
                            0.001};
    const int precisions[] = {0, 10, 17, 1, 31};
    for (size_t p = 0; p < sizeof(precisions) / sizeof(precisions[0]); p++)
        for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
            hd_buf_t b = {0};
            hd_jsonw_t w;
            hd_jsonw_init(&w, &b, precisions[p]);
            hd_jsonw_real(&w, reals[i]);
            char *want = dumps(json_real(reals[i]), precisions[p]);
            assert_string_equal(b.data, want);
            free(want);
            hd_buf_free(&b);
        }
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_array_begin(&w);
    hd_jsonw_real(&w, NAN);
    hd_jsonw_real(&w, INFINITY);
    hd_jsonw_array_end(&w);
    assert_string_equal(b.data, "[null,null]"); /* jansson has no text for them */
    hd_buf_free(&b);
}

static void test_nesting_and_commas(void **state)
{
    (void)state;
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_object_begin(&w);
    hd_jsonw_key(&w, "a");
    hd_jsonw_array_begin(&w);
    hd_jsonw_array_end(&w);
    hd_jsonw_key(&w, "b");
    hd_jsonw_object_begin(&w);
    hd_jsonw_object_end(&w);
    hd_jsonw_key(&w, "c");
    hd_jsonw_array_begin(&w);
    hd_jsonw_int(&w, 1);
    hd_jsonw_string(&w, NULL);
    hd_jsonw_bool(&w, 1);
    hd_jsonw_bool(&w, 0);
    hd_jsonw_null(&w);
    hd_jsonw_object_begin(&w);
    hd_jsonw_key(&w, "k\"ey");
    hd_jsonw_string(&w, "v");
    hd_jsonw_object_end(&w);
    hd_jsonw_array_begin(&w);
    hd_jsonw_array_end(&w);
    hd_jsonw_array_end(&w);
    hd_jsonw_key(&w, "d");
    hd_jsonw_real(&w, 2);
    hd_jsonw_object_end(&w);

    json_t *same = json_pack("{s:[], s:{}, s:[i, n, b, b, n, {s:s}, []], s:f}", "a", "b", "c", 1, 1,
                             0, "k\"ey", "v", "d", 2.0);
    char *want = dumps(same, 0);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    free(want);
    /* appends to what the buffer holds */
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_int(&w, 7);
    assert_string_equal(b.data + b.len - 1, "7");
    hd_buf_free(&b);
}

static void test_uint_to_2_64(void **state)
{
    (void)state;
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_array_begin(&w);
    hd_jsonw_uint(&w, 0);
    hd_jsonw_uint(&w, UINT64_MAX);
    hd_jsonw_array_end(&w);
    assert_string_equal(b.data, "[0,18446744073709551615]");
    hd_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_escape_as_jansson),
        cmocka_unit_test(test_invalid_utf8_becomes_replacement),
        cmocka_unit_test(test_numbers_as_jansson),
        cmocka_unit_test(test_nesting_and_commas),
        cmocka_unit_test(test_uint_to_2_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
