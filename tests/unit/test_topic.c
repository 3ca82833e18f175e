/* test_topic — waiters on a change: a bump runs each waiter once, oldest
 * first; waiters registered during a bump wait for the next; a waiter may
 * unregister others during a bump; the index never goes back; the idle
 * function runs when the last waiter leaves, and close runs nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/topic.h"

typedef struct rec_s {
    int order[16];
    int n;
    hd_topic_t *t;
    hd_topic_waiter_t *again;  /* registered again on t by its own function */
    hd_topic_waiter_t *remove; /* unregistered by the first function that runs */
    int idle;
} rec_t;

static rec_t R;

static void fn(hd_topic_waiter_t *w, void *arg)
{
    int id = (int)(intptr_t)arg;
    R.order[R.n++] = id;
    if (R.remove) {
        hd_topic_unwait(R.remove);
        R.remove = NULL;
    }
    if (w == R.again) hd_topic_wait(R.t, w, fn, arg);
}

static void on_idle(hd_topic_t *t, void *arg)
{
    (void)t;
    (void)arg;
    R.idle++;
}

static void setup_rec(hd_topic_t *t)
{
    R = (rec_t){0};
    R.t = t;
    hd_topic_init(t);
    hd_topic_on_idle(t, on_idle, NULL);
}

static void test_bump_runs_each_once_oldest_first(void **state)
{
    (void)state;
    hd_topic_t t;
    hd_topic_waiter_t w[3];
    setup_rec(&t);
    for (int i = 0; i < 3; i++)
        hd_topic_wait(&t, &w[i], fn, (void *)(intptr_t)(i + 1));
    assert_int_equal(t.nwaiters, 3);
    hd_topic_bump(&t, 7);
    assert_int_equal(t.index, 7);
    assert_int_equal(R.n, 3);
    assert_int_equal(R.order[0], 1);
    assert_int_equal(R.order[1], 2);
    assert_int_equal(R.order[2], 3);
    assert_int_equal(t.nwaiters, 0);
    assert_null(w[0].topic);
    assert_int_equal(R.idle, 1);
    /* Nobody waits: a bump moves the index only; never backwards. */
    hd_topic_bump(&t, 5);
    assert_int_equal(t.index, 7);
    assert_int_equal(R.n, 3);
    assert_int_equal(R.idle, 1);
}

static void test_waiting_again_waits_for_the_next_bump(void **state)
{
    (void)state;
    hd_topic_t t;
    hd_topic_waiter_t a, b;
    setup_rec(&t);
    hd_topic_wait(&t, &a, fn, (void *)1);
    hd_topic_wait(&t, &b, fn, (void *)2);
    R.again = &a;
    hd_topic_bump(&t, 1);
    assert_int_equal(R.n, 2); /* a ran once, not again in the same bump */
    assert_int_equal(t.nwaiters, 1);
    assert_ptr_equal(a.topic, &t);
    assert_int_equal(R.idle, 0);
    R.again = NULL;
    hd_topic_bump(&t, 2);
    assert_int_equal(R.n, 3);
    assert_int_equal(R.order[2], 1);
    assert_int_equal(R.idle, 1);
}

static void test_a_function_may_unregister_another(void **state)
{
    (void)state;
    hd_topic_t t;
    hd_topic_waiter_t w[3];
    setup_rec(&t);
    for (int i = 0; i < 3; i++)
        hd_topic_wait(&t, &w[i], fn, (void *)(intptr_t)(i + 1));
    R.remove = &w[1]; /* the first to run (w[0]) takes w[1] away */
    hd_topic_bump(&t, 3);
    assert_int_equal(R.n, 2);
    assert_int_equal(R.order[0], 1);
    assert_int_equal(R.order[1], 3);
    assert_null(w[1].topic);
    assert_int_equal(t.nwaiters, 0);
}

static void test_unwait_idle_and_close(void **state)
{
    (void)state;
    hd_topic_t t;
    hd_topic_waiter_t a, b;
    setup_rec(&t);
    hd_topic_wait(&t, &a, fn, (void *)1);
    hd_topic_wait(&t, &b, fn, (void *)2);
    hd_topic_unwait(&a);
    hd_topic_unwait(&a); /* twice: nothing */
    assert_int_equal(t.nwaiters, 1);
    assert_int_equal(R.idle, 0);
    hd_topic_unwait(&b);
    assert_int_equal(R.idle, 1);
    hd_topic_wait(&t, &a, fn, (void *)1);
    hd_topic_close(&t);
    assert_null(a.topic);
    assert_int_equal(t.nwaiters, 0);
    hd_topic_unwait(&a); /* after close: nothing */
    hd_topic_bump(&t, 9);
    assert_int_equal(R.n, 0);
    assert_int_equal(R.idle, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bump_runs_each_once_oldest_first),
        cmocka_unit_test(test_waiting_again_waits_for_the_next_bump),
        cmocka_unit_test(test_a_function_may_unregister_another),
        cmocka_unit_test(test_unwait_idle_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
