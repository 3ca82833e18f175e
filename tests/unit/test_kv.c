/* test_kv — the KV cache (agent/kv.h) on a real store: a write is in the
 * cache when it is answered; a key's topic is bumped by that key only and
 * a prefix's by its keys only (a longer key with the same start is not
 * under the key); a deletion keeps its index; a key never written answers
 * the floor; cas, delete-cas and transactions decide against the cache
 * and the store together; a change made in the store by someone else
 * (another agent, in a cluster) reaches the cache and its watchers; and a
 * session's keys come out as one batch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/kv.h"
#include "store_util.h"

typedef struct done_s {
    int done, status, ok;
    int64_t rev;
    size_t nerr;
    char what[600];
} done_t;

static void on_done(int status, int ok, int64_t rev, void *arg)
{
    done_t *d = arg;
    d->done = 1;
    d->status = status;
    d->ok = ok;
    d->rev = rev;
}

static void on_txn(int status, const hd_kv_txn_err_t *errs, size_t nerr, int64_t rev, void *arg)
{
    done_t *d = arg;
    d->done = 1;
    d->status = status;
    d->nerr = nerr;
    d->rev = rev;
    if (nerr) snprintf(d->what, sizeof(d->what), "%s", errs[0].what);
}

typedef struct fix_s {
    tstore_t t;
    hd_kv_t *kv;
} fix_t;

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof(*f));
    t_setup(&f->t);
    t_open_cfg(&f->t);
    char err[256];
    assert_int_equal(hd_kv_open(f->t.base, f->t.s, &f->kv, err, sizeof(err)), 0);
    int64_t end = t_now_ms() + 5000;
    while (hd_kv_status(f->kv) == 1) {
        assert_true(t_now_ms() < end);
        struct timeval tick = {0, 5000};
        event_base_loopexit(f->t.base, &tick);
        event_base_loop(f->t.base, EVLOOP_ONCE);
    }
    assert_int_equal(hd_kv_status(f->kv), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    t_close(&f->t); /* ends the watch */
    hd_kv_free(f->kv);
    t_teardown(&f->t);
    free(f);
    return 0;
}

static done_t apply(fix_t *f, hd_kv_verb_t verb, const char *tenant, const char *key,
                    const char *value, uint64_t cas)
{
    done_t d = {0};
    hd_kv_op_t op = {verb, tenant, key, strlen(key), value, value ? strlen(value) : 0,
                     0,    cas,    NULL};
    assert_int_equal(hd_kv_apply(f->kv, &op, on_done, &d), 0);
    assert_int_equal(d.done, 0); /* never from inside the call */
    t_spin(&f->t, &d.done);
    assert_int_equal(d.status, 0);
    return d;
}

typedef struct wake_s {
    int n;
} wake_t;

static void on_bump(hd_topic_waiter_t *w, void *arg)
{
    (void)w;
    ((wake_t *)arg)->n++;
}

static void test_read_your_writes_and_topics(void **state)
{
    fix_t *f = *state;
    hd_topic_waiter_t wk = {0}, wp = {0}, wl = {0};
    wake_t key = {0}, prefix = {0}, longer = {0};
    hd_topic_wait(hd_kv_key_topic(f->kv, NULL, "app/db", 6), &wk, on_bump, &key);
    hd_topic_wait(hd_kv_prefix_topic(f->kv, NULL, "app/", 4), &wp, on_bump, &prefix);
    hd_topic_wait(hd_kv_key_topic(f->kv, NULL, "app/dbx", 7), &wl, on_bump, &longer);

    done_t d = apply(f, HD_KV_SET, NULL, "app/db", "pg", 0);
    assert_int_equal(d.ok, 1);
    int64_t idx;
    const hd_kv_entry_t *e = hd_kv_get(f->kv, NULL, "app/db", 6, &idx);
    assert_non_null(e); /* in the cache as the write is answered */
    assert_int_equal(e->value_len, 2);
    assert_memory_equal(e->value, "pg", 2);
    assert_int_equal(idx, d.rev);
    assert_int_equal(e->modify_index, d.rev);
    assert_int_equal(longer.n, 0);
    assert_int_equal(key.n, 1);
    assert_int_equal(prefix.n, 1);

    /* Another tenant's key of the same name, and a key outside the prefix,
     * wake nobody here. */
    hd_topic_wait(hd_kv_key_topic(f->kv, NULL, "app/db", 6), &wk, on_bump, &key);
    hd_topic_wait(hd_kv_prefix_topic(f->kv, NULL, "app/", 4), &wp, on_bump, &prefix);
    apply(f, HD_KV_SET, "team-a", "app/db", "other", 0);
    apply(f, HD_KV_SET, NULL, "apq", "x", 0);
    apply(f, HD_KV_SET, NULL, "app", "x", 0);
    assert_int_equal(key.n, 1);
    assert_int_equal(prefix.n, 1);
    assert_int_equal(longer.n, 0);
    assert_null(hd_kv_get(f->kv, "team-b", "app/db", 6, NULL));

    /* A deletion wakes them and keeps its index. */
    d = apply(f, HD_KV_DELETE, NULL, "app/db", NULL, 0);
    assert_int_equal(key.n, 2);
    assert_int_equal(prefix.n, 2);
    assert_null(hd_kv_get(f->kv, NULL, "app/db", 6, &idx));
    assert_int_equal(idx, d.rev);
    hd_kv_iter_t it;
    hd_kv_iter_init(&it, f->kv, NULL, "app/", 4);
    assert_null(hd_kv_iter_next(&it, NULL, NULL));
    assert_int_equal(it.index, d.rev);
    hd_topic_unwait(&wl);

    /* A key never written answers the floor: not 0, and no later than now. */
    assert_null(hd_kv_get(f->kv, NULL, "never", 5, &idx));
    assert_true(idx >= 1);
    assert_true(idx <= d.rev);
}

static void test_cas_and_delete_cas(void **state)
{
    fix_t *f = *state;
    done_t d = apply(f, HD_KV_CAS, NULL, "k", "1", 0);
    assert_int_equal(d.ok, 1);
    assert_int_equal(apply(f, HD_KV_CAS, NULL, "k", "2", 0).ok, 0);
    int64_t idx;
    const hd_kv_entry_t *e = hd_kv_get(f->kv, NULL, "k", 1, &idx);
    uint64_t mi = (uint64_t)e->modify_index;
    assert_int_equal(apply(f, HD_KV_CAS, NULL, "k", "3", mi + 1).ok, 0);
    d = apply(f, HD_KV_CAS, NULL, "k", "4", mi);
    assert_int_equal(d.ok, 1);
    e = hd_kv_get(f->kv, NULL, "k", 1, NULL);
    assert_memory_equal(e->value, "4", 1);
    assert_int_equal(e->create_index, (int64_t)mi); /* the create revision stays */
    assert_int_equal(apply(f, HD_KV_DELETE_CAS, NULL, "k", NULL, mi).ok, 0);
    assert_int_equal(apply(f, HD_KV_DELETE_CAS, NULL, "k", NULL, (uint64_t)d.rev).ok, 1);
    assert_null(hd_kv_get(f->kv, NULL, "k", 1, NULL));
    assert_int_equal(apply(f, HD_KV_DELETE_CAS, NULL, "k", NULL, 77).ok, 1); /* gone: true */
}

static void test_txn_all_or_nothing(void **state)
{
    fix_t *f = *state;
    apply(f, HD_KV_SET, NULL, "t/a", "1", 0);
    hd_kv_op_t ops[3] = {
        {HD_KV_SET, NULL, "t/b", 3, "2", 1, 0, 0, NULL},
        {HD_KV_CHECK_NOT_EXISTS, NULL, "t/a", 3, NULL, 0, 0, 0, NULL},
        {HD_KV_SET, NULL, "t/c", 3, "3", 1, 0, 0, NULL},
    };
    done_t d = {0};
    assert_int_equal(hd_kv_txn(f->kv, NULL, ops, 3, on_txn, &d), 0);
    t_spin(&f->t, &d.done);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.nerr, 1);
    assert_string_equal(d.what, "key \"t/a\" exists");
    assert_null(hd_kv_get(f->kv, NULL, "t/b", 3, NULL));
    ops[1].verb = HD_KV_GET;
    memset(&d, 0, sizeof(d));
    assert_int_equal(hd_kv_txn(f->kv, NULL, ops, 3, on_txn, &d), 0);
    t_spin(&f->t, &d.done);
    assert_int_equal(d.nerr, 0);
    const hd_kv_entry_t *b = hd_kv_get(f->kv, NULL, "t/b", 3, NULL);
    const hd_kv_entry_t *c = hd_kv_get(f->kv, NULL, "t/c", 3, NULL);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(b->modify_index, c->modify_index); /* one revision */
    hd_kv_op_t many[HD_KV_TXN_OPS_MAX + 1];
    for (size_t i = 0; i <= HD_KV_TXN_OPS_MAX; i++)
        many[i] = (hd_kv_op_t){HD_KV_GET_OR_EMPTY, NULL, "x", 1, NULL, 0, 0, 0, NULL};
    assert_int_equal(hd_kv_txn(f->kv, NULL, many, HD_KV_TXN_OPS_MAX + 1, on_txn, &d),
                     HD_STORE_ETOOMANY);
}

static void test_outside_writes_reach_the_cache(void **state)
{
    fix_t *f = *state;
    hd_topic_waiter_t w = {0};
    wake_t n = {0};
    hd_topic_wait(hd_kv_prefix_topic(f->kv, "team-a", "cfg/", 4), &w, on_bump, &n);
    /* Another writer of the store (another agent in a cluster): a value
     * without heed's header is shown as a plain value. */
    answer_t a = {0};
    const char *k = "heed/kv/team-a/cfg/x";
    assert_int_equal(hd_store_put(f->t.s, k, strlen(k), "raw", 3, 0, t_write_cb, &a), 0);
    t_spin(&f->t, &a.done);
    assert_int_equal(n.n, 1);
    int64_t idx;
    const hd_kv_entry_t *e = hd_kv_get(f->kv, "team-a", "cfg/x", 5, &idx);
    assert_non_null(e);
    assert_int_equal(e->value_len, 3);
    assert_int_equal(e->flags, 0);
    assert_int_equal(idx, a.wr.revision);
}

static int fake_session(void *arg, const char *tenant, const char *id, const char *key,
                        size_t key_len, char *skey, size_t skey_len, int64_t *srev, int *delayed)
{
    (void)arg;
    (void)tenant;
    (void)key;
    (void)key_len;
    if (strcmp(id, "s1") != 0) return -1;
    snprintf(skey, skey_len, "heed/sessions/default/s1");
    *srev = 0; /* the record is absent in this test: revision 0 */
    *delayed = 0;
    return 0;
}

static void test_lock_and_held_batch(void **state)
{
    fix_t *f = *state;
    hd_kv_on_session(f->kv, fake_session, NULL);
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof(key), "l/%d", i);
        done_t d = {0};
        hd_kv_op_t op = {HD_KV_LOCK, NULL, key, strlen(key), "v", 1, 9, 0, "s1"};
        assert_int_equal(hd_kv_apply(f->kv, &op, on_done, &d), 0);
        t_spin(&f->t, &d.done);
        assert_int_equal(d.status, 0);
        assert_int_equal(d.ok, 1);
    }
    done_t d = {0};
    hd_kv_op_t op = {HD_KV_LOCK, NULL, "l/0", 3, "v", 1, 0, 0, "s2"};
    assert_int_equal(hd_kv_apply(f->kv, &op, on_done, &d), 0);
    t_spin(&f->t, &d.done);
    assert_int_equal(d.status, HD_KV_ENOSESSION);
    const hd_kv_entry_t *e = hd_kv_get(f->kv, NULL, "l/1", 3, NULL);
    assert_string_equal(e->session, "s1");
    assert_int_equal(e->lock_index, 1);
    assert_int_equal(e->flags, 9);
    hd_kv_batch_t b = {0};
    assert_int_equal(hd_kv_held(f->kv, NULL, "s1", 0, 2, &b), 2);
    assert_int_equal(b.more, 1);
    assert_int_equal(hd_kv_held(f->kv, NULL, "s1", 0, 10, &b), 3);
    assert_int_equal(b.more, 0);
    answer_t a = {0};
    assert_int_equal(hd_store_txn(f->t.s, b.cmps, b.n, b.ops, b.n, t_write_cb, &a), 0);
    t_spin(&f->t, &a.done);
    assert_int_equal(a.status, 0);
    hd_kv_batch_free(&b);
    e = hd_kv_get(f->kv, NULL, "l/1", 3, NULL);
    assert_string_equal(e->session, "");
    assert_int_equal(e->lock_index, 1); /* a release keeps LockIndex, Flags, value */
    assert_int_equal(e->flags, 9);
    assert_int_equal(e->value_len, 1);
    assert_int_equal(hd_kv_held(f->kv, NULL, "s1", 1, 10, &b), 0);
    hd_kv_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_your_writes_and_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_and_delete_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_writes_reach_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_and_held_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
