/* test_map — the string hash map against a simple reference model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/map.h"

static void test_put_get_del(void **state)
{
    (void)state;
    hd_map_t m;
    hd_map_init(&m);
    int a = 1, b = 2;
    assert_null(hd_map_get(&m, "x"));
    assert_null(hd_map_del(&m, "x"));
    assert_null(hd_map_put(&m, "x", &a));
    assert_ptr_equal(hd_map_get(&m, "x"), &a);
    assert_ptr_equal(hd_map_put(&m, "x", &b), &a);
    assert_int_equal(m.n, 1);
    assert_ptr_equal(hd_map_del(&m, "x"), &b);
    assert_null(hd_map_get(&m, "x"));
    assert_int_equal(m.n, 0);
    hd_map_free(&m);
}

static void test_against_model(void **state)
{
    (void)state;
    /* 20,000 random operations over 500 keys, checked against an array. */
    enum { KEYS = 500 };
    static int vals[KEYS];
    int present[KEYS] = {0};
    hd_map_t m;
    hd_map_init(&m);
    srand(7);
    char key[32];
    for (int op = 0; op < 20000; op++) {
        int k = rand() % KEYS;
        snprintf(key, sizeof(key), "check-%d", k);
        if (rand() % 3) {
            hd_map_put(&m, key, &vals[k]);
            present[k] = 1;
        } else {
            void *v = hd_map_del(&m, key);
            assert_ptr_equal(v, present[k] ? &vals[k] : NULL);
            present[k] = 0;
        }
    }
    size_t n = 0;
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof(key), "check-%d", k);
        assert_ptr_equal(hd_map_get(&m, key), present[k] ? &vals[k] : NULL);
        n += (size_t)present[k];
    }
    assert_int_equal(m.n, n);
    size_t pos = 0, walked = 0;
    hd_map_slot_t *s;
    while ((s = hd_map_next(&m, &pos))) {
        assert_ptr_equal(s->val, hd_map_get(&m, s->key));
        walked++;
    }
    assert_int_equal(walked, n);
    hd_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
