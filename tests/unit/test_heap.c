/* test_heap — the deadline heap: order, removal from the middle, and
 * removal of nodes that are not in the heap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/heap.h"

#include <stdlib.h>

static void test_order(void **state)
{
    (void)state;
    enum { N = 1000 };
    hd_heap_node_t *nodes = calloc(N, sizeof(*nodes));
    hd_heap_t h = {0};
    srand(7);
    for (int i = 0; i < N; i++)
        hd_heap_push(&h, &nodes[i], rand() % 500);
    /* remove every third node from wherever it sits */
    for (int i = 0; i < N; i += 3)
        hd_heap_remove(&h, &nodes[i]);
    hd_heap_remove(&h, &nodes[0]); /* again: a no-op */
    int64_t prev = -1;
    int n = 0;
    hd_heap_node_t *x;
    while ((x = hd_heap_pop(&h))) {
        assert_true(x->key >= prev);
        assert_int_equal(x->idx, 0);
        prev = x->key;
        n++;
    }
    assert_int_equal(n, N - (N + 2) / 3);
    assert_null(hd_heap_top(&h));
    hd_heap_free(&h);
    free(nodes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_order)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
