/* test_omap — the ordered map against a sorted array: order after random
 * puts and deletes, seek, prefixes, replacing a value, and keys with
 * NUL bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/omap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_random_against_sorted(void **state)
{
    (void)state;
    enum { N = 3000 };
    hd_omap_t m;
    hd_omap_init(&m);
    char *keys[N];
    int present[N];
    srand(11);
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof(k), "k/%d/%d", rand() % 50, i);
        keys[i] = strdup(k);
        present[i] = 0;
    }
    for (int round = 0; round < 3 * N; round++) {
        int i = rand() % N;
        if (present[i]) {
            assert_ptr_equal(hd_omap_del(&m, keys[i], strlen(keys[i])), keys[i]);
            present[i] = 0;
        } else {
            void *old = (void *)1;
            hd_omap_put(&m, keys[i], strlen(keys[i]), keys[i], &old);
            assert_null(old);
            present[i] = 1;
        }
    }
    char *sorted[N];
    size_t n = 0;
    for (int i = 0; i < N; i++)
        if (present[i]) sorted[n++] = keys[i];
    qsort(sorted, n, sizeof(sorted[0]), cmp_str);
    assert_int_equal(m.n, n);
    size_t j = 0;
    for (hd_omap_node_t *x = hd_omap_first(&m); x; x = hd_omap_next(x), j++) {
        assert_true(j < n);
        assert_string_equal(x->key, sorted[j]);
        assert_ptr_equal(x->val, sorted[j]);
    }
    assert_int_equal(j, n);
    /* A prefix's keys: contiguous from the seek of the prefix. */
    const char *p = "k/7/";
    size_t want = 0, got = 0;
    for (size_t i = 0; i < n; i++)
        want += strncmp(sorted[i], p, strlen(p)) == 0;
    for (hd_omap_node_t *x = hd_omap_seek(&m, p, strlen(p));
         x && hd_omap_has_prefix(x, p, strlen(p)); x = hd_omap_next(x))
        got++;
    assert_int_equal(got, want);
    assert_true(want > 0);
    for (int i = 0; i < N; i++) {
        hd_omap_node_t *x = hd_omap_find(&m, keys[i], strlen(keys[i]));
        if (present[i])
            assert_ptr_equal(x->val, keys[i]);
        else
            assert_null(x);
        assert_null(hd_omap_del(&m, "absent", 6));
    }
    hd_omap_free(&m);
    for (int i = 0; i < N; i++)
        free(keys[i]);
}

static void test_replace_and_seek(void **state)
{
    (void)state;
    hd_omap_t m;
    hd_omap_init(&m);
    int a, b;
    void *old;
    hd_omap_put(&m, "b", 1, &a, &old);
    hd_omap_put(&m, "b", 1, &b, &old);
    assert_ptr_equal(old, &a);
    assert_int_equal(m.n, 1);
    assert_ptr_equal(hd_omap_find(&m, "b", 1)->val, &b);
    assert_string_equal(hd_omap_seek(&m, "a", 1)->key, "b");
    assert_string_equal(hd_omap_seek(&m, "b", 1)->key, "b");
    assert_null(hd_omap_seek(&m, "ba", 2));
    /* NUL bytes are part of a key, and "a\0" sorts after "a". */
    hd_omap_put(&m, "a\0x", 3, &a, NULL);
    hd_omap_put(&m, "a", 1, &b, NULL);
    hd_omap_node_t *x = hd_omap_first(&m);
    assert_int_equal(x->len, 1);
    x = hd_omap_next(x);
    assert_int_equal(x->len, 3);
    assert_memory_equal(x->key, "a\0x", 3);
    assert_null(hd_omap_find(&m, "a\0y", 3));
    assert_true(hd_omap_has_prefix(x, "a\0", 2));
    assert_false(hd_omap_has_prefix(x, "a\0xy", 4));
    hd_omap_free(&m);
    hd_omap_free(&m); /* harmless twice */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_sorted),
        cmocka_unit_test(test_replace_and_seek),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
