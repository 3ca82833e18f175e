/* test_base64 — RFC 4648's test vectors both ways, and the inputs Go's
 * base64.StdEncoding refuses (Consul's KV values in JSON). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/base64.h"

#include <stdlib.h>
#include <string.h>

static const char *const PLAIN[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const CODED[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(PLAIN) / sizeof(PLAIN[0]); i++) {
        hd_buf_t b = {0};
        hd_base64_encode(&b, PLAIN[i], strlen(PLAIN[i]));
        assert_int_equal(b.len, strlen(CODED[i]));
        assert_int_equal(b.len, hd_base64_len(strlen(PLAIN[i])));
        if (b.len) assert_string_equal(b.data, CODED[i]);
        hd_buf_reset(&b);
        assert_int_equal(hd_base64_decode(CODED[i], strlen(CODED[i]), &b, NULL), 0);
        assert_int_equal(b.len, strlen(PLAIN[i]));
        if (b.len) assert_memory_equal(b.data, PLAIN[i], b.len);
        hd_buf_free(&b);
    }
}

static void test_binary_round_trip(void **state)
{
    (void)state;
    unsigned char all[1000];
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n < sizeof(all); n += 37) {
        hd_buf_t e = {0}, d = {0};
        hd_base64_encode(&e, all, n);
        assert_int_equal(hd_base64_decode(e.data ? e.data : "", e.len, &d, NULL), 0);
        assert_int_equal(d.len, n);
        if (n) assert_memory_equal(d.data, all, n);
        hd_buf_free(&e);
        hd_buf_free(&d);
    }
}

static void test_line_breaks_skipped(void **state)
{
    (void)state;
    hd_buf_t b = {0};
    const char *t = "Zm9v\r\nYmFy\n";
    assert_int_equal(hd_base64_decode(t, strlen(t), &b, NULL), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "foobar", 6);
    hd_buf_free(&b);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } bad[] = {
        {"Zg", 2},       /* no padding */
        {"Zg=", 3},      /* half the padding */
        {"Zm9", 3},      /* a quantum cut short */
        {"Z===", 1},     /* padding in second place */
        {"=Zg=", 0},     /* padding first */
        {"Zm9v!", 4},    /* outside the alphabet */
        {"Zm 9v", 2},    /* a space */
        {"Zg==Zg==", 4}, /* data after the padding */
        {"Zm8=A", 4},    /* data after one '=' */
        {"Zg=A", 3},     /* a '=' in third place not followed by '=' */
        {"Zm9v-_", 4},   /* the URL alphabet */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hd_buf_t b = {0};
        size_t at = 99;
        assert_int_equal(hd_base64_decode(bad[i].text, strlen(bad[i].text), &b, &at), -1);
        assert_int_equal(at, bad[i].at);
        hd_buf_free(&b);
    }
}

static void test_trailing_bits_ignored(void **state)
{
    (void)state;
    /* Go's StdEncoding (not Strict) takes "Zh==" as "f", as Consul does. */
    hd_buf_t b = {0};
    assert_int_equal(hd_base64_decode("Zh==", 4, &b, NULL), 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 'f');
    hd_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_line_breaks_skipped),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_trailing_bits_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
