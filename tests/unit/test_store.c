/* test_store — the SQLite store against a real file in a temporary
 * directory: revisions, compare-and-set, transactions, leases, watches,
 * compaction, reopening, migrations from an older schema, bad input.
 * History has its own file (test_store_history.c), durability too
 * (test_store_durability.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "store_util.h"

#include <sqlite3.h>

static void test_revisions(void **state)
{
    tstore_t *t = *state;
    hd_store_write_result_t wr;
    answer_t a;
    assert_int_equal(hd_store_revision(t->s), 0);
    assert_int_equal(t_put(t, "heed/kv/a", "1", 0, &wr), 0);
    assert_int_equal(wr.revision, 1);
    assert_int_equal(t_put(t, "heed/kv/a", "2", 0, &wr), 0);
    assert_int_equal(wr.revision, 2);
    assert_int_equal(t_put(t, "heed/kv/b", "x", 0, &wr), 0);
    assert_int_equal(wr.revision, 3);

    assert_int_equal(t_get(t, "heed/kv/a", &a), 0);
    assert_string_equal(a.kv.key, "heed/kv/a");
    assert_string_equal(a.kv.value, "2");
    assert_int_equal(a.kv.create_revision, 1);
    assert_int_equal(a.kv.mod_revision, 2);
    assert_int_equal(a.kv.version, 2);
    assert_int_equal(a.kv.lease, 0);
    assert_int_equal(a.rev, 3);

    assert_int_equal(t_del(t, "heed/kv/a", &wr), 0);
    assert_int_equal(wr.revision, 4);
    assert_int_equal(wr.deleted, 1);
    t_expect_absent(t, "heed/kv/a");
    /* Deleting a missing key changes nothing, so takes no revision. */
    assert_int_equal(t_del(t, "heed/kv/a", &wr), 0);
    assert_int_equal(wr.revision, 4);
    assert_int_equal(wr.deleted, 0);
    /* Re-created: a new life, version 1. */
    assert_int_equal(t_put(t, "heed/kv/a", "3", 0, &wr), 0);
    assert_int_equal(t_get(t, "heed/kv/a", &a), 0);
    assert_int_equal(a.kv.create_revision, 5);
    assert_int_equal(a.kv.version, 1);
    assert_int_equal(hd_store_revision(t->s), 5);
}

static void test_binary_keys_and_values(void **state)
{
    tstore_t *t = *state;
    const char key[] = {'h', 0, (char)0xff, 'k'}, val[] = {0, 1, 0, 2};
    answer_t a = {0};
    assert_int_equal(hd_store_put(t->s, key, 4, val, 4, 0, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    memset(&a, 0, sizeof(a));
    assert_int_equal(hd_store_get(t->s, key, 4, t_get_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.kv.key_len, 4);
    assert_int_equal(a.kv.value_len, 4);
    assert_memory_equal(a.kv.value, val, 4);
    /* An empty value is a value. */
    assert_int_equal(t_put(t, "heed/kv/empty", "", 0, NULL), 0);
    t_expect(t, "heed/kv/empty", "");
}

static void test_range_and_delete_prefix(void **state)
{
    tstore_t *t = *state;
    hd_store_write_result_t wr;
    answer_t a;
    const char *keys[] = {"heed/checks/2", "heed/checks/1", "heed/checkz", "heed/state/1",
                          "heed/checks/10"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(t_put(t, keys[i], "v", 0, NULL), 0);
    assert_int_equal(t_range(t, "heed/checks/", 0, &a), 0);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.keys[0], "heed/checks/1=v");
    assert_string_equal(a.keys[1], "heed/checks/10=v");
    assert_string_equal(a.keys[2], "heed/checks/2=v");
    assert_false(a.more);
    assert_int_equal(a.rev, 5);
    assert_int_equal(t_range(t, "heed/checks/", 2, &a), 0);
    assert_int_equal(a.n, 2);
    assert_true(a.more);
    assert_int_equal(t_range(t, "", 0, &a), 0);
    assert_int_equal(a.n, 5);
    assert_int_equal(t_range(t, "nothing/", 0, &a), 0);
    assert_int_equal(a.n, 0);

    /* Page by page: after a key, the keys past it, never one outside the
     * prefix; an after that is not in the prefix is refused. */
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        hd_store_range_after(t->s, "heed/checks/", 12, "heed/checks/1", 13, 1, t_range_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.keys[0], "heed/checks/10=v");
    assert_true(a.more);
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        hd_store_range_after(t->s, "heed/checks/", 12, "heed/checks/10", 14, 0, t_range_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.keys[0], "heed/checks/2=v");
    assert_false(a.more);
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        hd_store_range_after(t->s, "heed/checks/", 12, "heed/checks/2", 13, 0, t_range_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.n, 0); /* not heed/checkz */
    assert_int_equal(hd_store_range_after(t->s, "heed/checks/", 12, "heed/a", 6, 0, t_range_cb, &a),
                     HD_STORE_EKEY);

    answer_t w = {0};
    assert_int_equal(hd_store_delete_prefix(t->s, "heed/checks/", 12, t_write_cb, &w), 0);
    t_spin(t, &w.done);
    assert_int_equal(w.status, 0);
    assert_int_equal(w.wr.deleted, 3);
    assert_int_equal(w.wr.revision, 6); /* one revision for the three */
    assert_int_equal(t_range(t, "", 0, &a), 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.keys[0], "heed/checkz=v");
    (void)wr;
}

static void test_cas(void **state)
{
    tstore_t *t = *state;
    hd_store_write_result_t wr;
    const char *k = "heed/checks/web";
    hd_store_cmp_t absent = {k, strlen(k), HD_STORE_CMP_ABSENT, 0};
    hd_store_op_t put = {HD_STORE_OP_PUT, k, strlen(k), "v1", 2, 0};

    /* Create-if-absent: once. */
    assert_int_equal(t_txn(t, &absent, 1, &put, 1, &wr), 0);
    assert_int_equal(wr.revision, 1);
    put.value = "v2";
    assert_int_equal(t_txn(t, &absent, 1, &put, 1, &wr), HD_STORE_ECONFLICT);
    assert_int_equal(wr.failed_cmp, 0);
    assert_int_equal(wr.revision, 1);
    t_expect(t, k, "v1");

    /* Update if unchanged since mod_revision 1. */
    hd_store_cmp_t modrev = {k, strlen(k), HD_STORE_CMP_MOD_REVISION, 1};
    assert_int_equal(t_txn(t, &modrev, 1, &put, 1, &wr), 0);
    assert_int_equal(wr.revision, 2);
    put.value = "v3";
    assert_int_equal(t_txn(t, &modrev, 1, &put, 1, &wr), HD_STORE_ECONFLICT);
    t_expect(t, k, "v2");

    /* On version. */
    hd_store_cmp_t ver = {k, strlen(k), HD_STORE_CMP_VERSION, 2};
    assert_int_equal(t_txn(t, &ver, 1, &put, 1, &wr), 0);
    t_expect(t, k, "v3");
    assert_int_equal(t_txn(t, &ver, 1, &put, 1, &wr), HD_STORE_ECONFLICT);

    /* Version 0 and mod_revision 0 mean absent. */
    hd_store_cmp_t v0 = {"heed/x", 6, HD_STORE_CMP_VERSION, 0};
    hd_store_op_t px = {HD_STORE_OP_PUT, "heed/x", 6, "x", 1, 0};
    assert_int_equal(t_txn(t, &v0, 1, &px, 1, &wr), 0);
    assert_int_equal(t_txn(t, &v0, 1, &px, 1, &wr), HD_STORE_ECONFLICT);

    /* The second compare fails: index 1 is reported, nothing written. */
    hd_store_cmp_t two[] = {{k, strlen(k), HD_STORE_CMP_VERSION, 3},
                            {"heed/x", 6, HD_STORE_CMP_ABSENT, 0}};
    int64_t before = hd_store_revision(t->s);
    assert_int_equal(t_txn(t, two, 2, &put, 1, &wr), HD_STORE_ECONFLICT);
    assert_int_equal(wr.failed_cmp, 1);
    assert_int_equal(hd_store_revision(t->s), before);
}

static void test_txn_atomic(void **state)
{
    tstore_t *t = *state;
    hd_store_write_result_t wr;
    answer_t a;
    assert_int_equal(t_put(t, "heed/kv/old", "o", 0, NULL), 0);
    hd_store_op_t ops[] = {
        {HD_STORE_OP_PUT, "heed/kv/a", 9, "A", 1, 0},
        {HD_STORE_OP_PUT, "heed/kv/b", 9, "B", 1, 0},
        {HD_STORE_OP_DELETE, "heed/kv/old", 11, NULL, 0, 0},
    };
    assert_int_equal(t_txn(t, NULL, 0, ops, 3, &wr), 0);
    assert_int_equal(wr.revision, 2);
    assert_int_equal(wr.deleted, 1);
    assert_int_equal(t_get(t, "heed/kv/a", &a), 0);
    assert_int_equal(a.kv.mod_revision, 2);
    assert_int_equal(t_get(t, "heed/kv/b", &a), 0);
    assert_int_equal(a.kv.mod_revision, 2);
    t_expect_absent(t, "heed/kv/old");

    /* The second put names a lease that does not exist: the first put is
     * undone too. */
    hd_store_op_t bad[] = {
        {HD_STORE_OP_PUT, "heed/kv/c", 9, "C", 1, 0},
        {HD_STORE_OP_PUT, "heed/kv/d", 9, "D", 1, 12345},
    };
    assert_int_equal(t_txn(t, NULL, 0, bad, 2, &wr), HD_STORE_ENOLEASE);
    t_expect_absent(t, "heed/kv/c");
    assert_int_equal(hd_store_revision(t->s), 2);

    /* In one batch (one loop turn), a failing request between two good
     * ones fails alone, and the good ones take consecutive revisions. */
    answer_t r1 = {0}, r2 = {0}, r3 = {0};
    hd_store_cmp_t never = {"heed/kv/a", 9, HD_STORE_CMP_ABSENT, 0};
    assert_int_equal(hd_store_put(t->s, "heed/kv/x", 9, "X", 1, 0, t_write_cb, &r1), 0);
    assert_int_equal(hd_store_txn(t->s, &never, 1, bad, 1, t_write_cb, &r2), 0);
    assert_int_equal(hd_store_put(t->s, "heed/kv/y", 9, "Y", 1, 0, t_write_cb, &r3), 0);
    t_spin(t, &r3.done);
    assert_true(r1.done && r2.done);
    assert_int_equal(r1.status, 0);
    assert_int_equal(r2.status, HD_STORE_ECONFLICT);
    assert_int_equal(r3.status, 0);
    assert_int_equal(r1.wr.revision, 3);
    assert_int_equal(r3.wr.revision, 4);
    t_expect_absent(t, "heed/kv/c");
    t_expect(t, "heed/kv/y", "Y");
}

static void test_bad_input(void **state)
{
    tstore_t *t = *state;
    hd_store_write_result_t wr;
    answer_t a;
    assert_int_equal(t_put(t, "heed/kv/keep", "1", 0, NULL), 0);

    assert_int_equal(hd_store_put(t->s, "", 0, "v", 1, 0, t_never_write, NULL), HD_STORE_EKEY);
    assert_int_equal(hd_store_put(t->s, NULL, 3, "v", 1, 0, t_never_write, NULL), HD_STORE_EKEY);
    char *big = calloc(1, HD_STORE_VALUE_MAX + 2);
    memset(big, 'k', HD_STORE_KEY_MAX + 1);
    assert_int_equal(hd_store_put(t->s, big, HD_STORE_KEY_MAX + 1, "v", 1, 0, t_never_write, NULL),
                     HD_STORE_EKEY);
    assert_int_equal(
        hd_store_put(t->s, "heed/kv/big", 11, big, HD_STORE_VALUE_MAX + 1, 0, t_never_write, NULL),
        HD_STORE_ETOOBIG);
    /* The limits themselves are accepted. */
    assert_int_equal(t_put(t, "heed/kv/keep", "2", 0, NULL), 0);
    answer_t ok = {0};
    assert_int_equal(
        hd_store_put(t->s, big, HD_STORE_KEY_MAX, big, HD_STORE_VALUE_MAX, 0, t_write_cb, &ok), 0);
    t_spin(t, &ok.done);
    assert_int_equal(ok.status, 0);
    free(big);

    hd_store_op_t many[HD_STORE_TXN_OPS_MAX + 1];
    for (size_t i = 0; i <= HD_STORE_TXN_OPS_MAX; i++)
        many[i] = (hd_store_op_t){HD_STORE_OP_PUT, "heed/kv/m", 9, "v", 1, 0};
    assert_int_equal(
        hd_store_txn(t->s, NULL, 0, many, HD_STORE_TXN_OPS_MAX + 1, t_never_write, NULL),
        HD_STORE_ETOOMANY);
    assert_int_equal(hd_store_txn(t->s, NULL, 0, many, 2, t_never_write, NULL), HD_STORE_EDUPKEY);
    hd_store_op_t under[] = {{HD_STORE_OP_DELETE_PREFIX, "heed/kv/", 8, NULL, 0, 0},
                             {HD_STORE_OP_PUT, "heed/kv/n", 9, "v", 1, 0}};
    assert_int_equal(hd_store_txn(t->s, NULL, 0, under, 2, t_never_write, NULL), HD_STORE_EDUPKEY);
    hd_store_op_t kind = {(hd_store_op_kind_t)42, "heed/kv/n", 9, NULL, 0, 0};
    assert_int_equal(hd_store_txn(t->s, NULL, 0, &kind, 1, t_never_write, NULL), HD_STORE_EINVAL);
    hd_store_cmp_t badcmp = {"", 0, HD_STORE_CMP_ABSENT, 0};
    assert_int_equal(hd_store_txn(t->s, &badcmp, 1, many, 1, t_never_write, NULL), HD_STORE_EKEY);
    assert_int_equal(hd_store_get(t->s, "heed/kv/keep", 12, NULL, NULL), HD_STORE_EINVAL);
    assert_int_equal(hd_store_get(t->s, "", 0, t_get_cb, &a), HD_STORE_EKEY);
    assert_int_equal(hd_store_lease_grant(t->s, 0, t_lease_cb, &a), HD_STORE_EINVAL);
    assert_int_equal(hd_store_lease_revoke(t->s, -1, t_never_write, NULL), HD_STORE_EINVAL);
    hd_store_watch_t *w;
    assert_int_equal(hd_store_watch(t->s, "x", 1, -1, NULL, NULL, &w), HD_STORE_EINVAL);

    /* Nothing of the above changed the store: two puts of "keep" and the
     * one at the limits. */
    assert_int_equal(hd_store_revision(t->s), 3);
    assert_int_equal(t_range(t, "", 0, &a), 0);
    assert_int_equal(a.n, 2);
    t_expect(t, "heed/kv/keep", "2");
    (void)wr;

    assert_string_equal(hd_store_strerror(HD_STORE_ETOOBIG), "value is larger than 513 KiB");
    assert_string_equal(hd_store_strerror(HD_STORE_EKEY), "key is empty or longer than 1024 bytes");
    assert_string_equal(hd_store_strerror(-1000), "unknown store error");
    for (int e = 0; e > -HD_STORE_E__COUNT; e--)
        assert_non_null(hd_store_strerror(e));
}

/* ---- watches ---- */

typedef struct seen_s {
    int calls;
    int status; /* the final error, when one came */
    int final;
    size_t n;
    struct {
        int type;
        int64_t rev;
        char key[64];
        char value[64];
    } ev[64];
    int64_t call_rev[64][2]; /* first and last revision of each call */
} seen_t;

static void watch_cb(int status, const hd_store_event_t *ev, size_t n, void *arg)
{
    seen_t *s = arg;
    if (s->final) fail_msg("watch called after its final error");
    if (status) {
        s->status = status;
        s->final = 1;
        return;
    }
    assert_true(n > 0);
    if (s->calls < 64) {
        s->call_rev[s->calls][0] = ev[0].kv.mod_revision;
        s->call_rev[s->calls][1] = ev[n - 1].kv.mod_revision;
    }
    s->calls++;
    for (size_t i = 0; i < n && s->n < 64; i++, s->n++) {
        s->ev[s->n].type = ev[i].type;
        s->ev[s->n].rev = ev[i].kv.mod_revision;
        snprintf(s->ev[s->n].key, 64, "%s", ev[i].kv.key);
        snprintf(s->ev[s->n].value, 64, "%s", ev[i].kv.value);
    }
}

/* Runs the loop until the watch has seen n events. */
static void wait_events(tstore_t *t, seen_t *s, size_t n)
{
    int64_t end = t_now_ms() + 5000;
    struct timeval tick = {0, 5000};
    while (s->n < n && !s->final) {
        if (t_now_ms() > end) fail_msg("saw %zu events, expected %zu", s->n, n);
        event_base_loopexit(t->base, &tick);
        event_base_loop(t->base, EVLOOP_ONCE);
    }
}

/* Lets the loop run a little, for "nothing more arrives". */
static void settle(tstore_t *t)
{
    answer_t a;
    /* A get is answered after everything queued before it. */
    (void)t_get(t, "heed/settle", &a);
}

static void test_watch_from_now(void **state)
{
    tstore_t *t = *state;
    seen_t s = {0};
    hd_store_watch_t *w;
    assert_int_equal(t_put(t, "heed/kv/before", "0", 0, NULL), 0);
    assert_int_equal(hd_store_watch(t->s, "heed/kv/", 8, 0, watch_cb, &s, &w), 0);
    assert_int_equal(t_put(t, "heed/kv/a", "1", 0, NULL), 0);
    assert_int_equal(t_put(t, "heed/other", "x", 0, NULL), 0);
    assert_int_equal(t_put(t, "heed/kv/b", "2", 0, NULL), 0);
    assert_int_equal(t_del(t, "heed/kv/a", NULL), 0);
    wait_events(t, &s, 3);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.ev[0].key, "heed/kv/a");
    assert_int_equal(s.ev[0].type, HD_STORE_EV_PUT);
    assert_int_equal(s.ev[0].rev, 2);
    assert_string_equal(s.ev[0].value, "1");
    assert_string_equal(s.ev[1].key, "heed/kv/b");
    assert_int_equal(s.ev[1].rev, 4);
    assert_int_equal(s.ev[2].type, HD_STORE_EV_DELETE);
    assert_string_equal(s.ev[2].key, "heed/kv/a");
    assert_int_equal(s.ev[2].rev, 5);

    /* A transaction arrives in one call, at one revision. */
    hd_store_op_t ops[] = {{HD_STORE_OP_PUT, "heed/kv/c", 9, "C", 1, 0},
                           {HD_STORE_OP_PUT, "heed/kv/d", 9, "D", 1, 0}};
    int calls = s.calls;
    assert_int_equal(t_txn(t, NULL, 0, ops, 2, NULL), 0);
    wait_events(t, &s, 5);
    assert_int_equal(s.calls, calls + 1);
    assert_int_equal(s.ev[3].rev, 6);
    assert_int_equal(s.ev[4].rev, 6);

    /* A write is answered after its watchers saw it. */
    answer_t a = {0};
    assert_int_equal(hd_store_put(t->s, "heed/kv/e", 9, "E", 1, 0, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(s.n, 6);

    hd_store_watch_cancel(w);
    assert_int_equal(t_put(t, "heed/kv/f", "F", 0, NULL), 0);
    settle(t);
    assert_int_equal(s.n, 6);
}

static void test_watch_from_past(void **state)
{
    tstore_t *t = *state;
    seen_t s = {0}, all = {0};
    hd_store_watch_t *w, *w2;
    for (int i = 1; i <= 5; i++) {
        char k[32];
        snprintf(k, sizeof(k), "heed/kv/%d", i);
        assert_int_equal(t_put(t, k, k + 8, 0, NULL), 0);
    }
    assert_int_equal(hd_store_watch(t->s, "heed/kv/", 8, 2, watch_cb, &s, &w), 0);
    assert_int_equal(hd_store_watch(t->s, "", 0, 1, watch_cb, &all, &w2), 0);
    assert_int_equal(s.n, 0); /* never from inside the call */
    wait_events(t, &s, 4);
    assert_int_equal(s.ev[0].rev, 2);
    assert_string_equal(s.ev[0].key, "heed/kv/2");
    assert_int_equal(s.ev[3].rev, 5);
    /* Then the live ones, no gap, no repeat. */
    assert_int_equal(t_put(t, "heed/kv/6", "6", 0, NULL), 0);
    wait_events(t, &s, 5);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.ev[4].rev, 6);
    wait_events(t, &all, 6);
    assert_int_equal(all.n, 6);
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal(all.ev[i].rev, (int64_t)i + 1);
    hd_store_watch_cancel(w);
    hd_store_watch_cancel(w2);
}

typedef struct order_s {
    int64_t n, last_rev, calls;
    int status;
} order_t;

static void order_cb(int status, const hd_store_event_t *ev, size_t n, void *arg)
{
    order_t *o = arg;
    o->calls++;
    if (status) o->status = status;
    for (size_t i = 0; i < n; i++) {
        /* One put per revision here: every revision, once, in order. */
        if (ev[i].kv.mod_revision != o->last_rev + 1)
            fail_msg("event at revision %lld after %lld", (long long)ev[i].kv.mod_revision,
                     (long long)o->last_rev);
        o->last_rev = ev[i].kv.mod_revision;
        o->n++;
    }
}

static void test_watch_catch_up_in_chunks(void **state)
{
    tstore_t *t = *state;
    order_t o = {0};
    hd_store_watch_t *w;
    answer_t *a = calloc(1200, sizeof(*a));
    char k[32];
    /* 1,200 puts in one turn: one batch, 1,200 revisions. */
    for (int i = 0; i < 1200; i++) {
        snprintf(k, sizeof(k), "heed/kv/%04d", i);
        assert_int_equal(hd_store_put(t->s, k, strlen(k), "v", 1, 0, t_write_cb, &a[i]), 0);
    }
    t_spin(t, &a[1199].done);
    assert_int_equal(a[1199].wr.revision, 1200);
    assert_int_equal(hd_store_watch(t->s, "", 0, 1, order_cb, &o, &w), 0);
    /* Live writes arrive while it catches up, in later turns. */
    assert_int_equal(t_put(t, "heed/kv/live", "v", 0, NULL), 0);
    int64_t end = t_now_ms() + 5000;
    while (o.n < 1201 && t_now_ms() < end) {
        struct timeval tick = {0, 5000};
        event_base_loopexit(t->base, &tick);
        event_base_loop(t->base, EVLOOP_ONCE);
    }
    assert_int_equal(o.status, 0);
    assert_int_equal(o.n, 1201);
    assert_true(o.calls >= 3); /* 512 at a time, then the rest */
    hd_store_watch_cancel(w);
    free(a);
}

typedef struct self_cancel_s {
    hd_store_watch_t *w;
    int calls;
} self_cancel_t;

static void cancel_cb(int status, const hd_store_event_t *ev, size_t n, void *arg)
{
    self_cancel_t *c = arg;
    (void)status, (void)ev, (void)n;
    c->calls++;
    hd_store_watch_cancel(c->w);
}

static void test_watch_cancel_inside_callback(void **state)
{
    tstore_t *t = *state;
    seen_t s = {0};
    self_cancel_t c = {0};
    hd_store_watch_t *w;
    assert_int_equal(hd_store_watch(t->s, "", 0, 0, cancel_cb, &c, &c.w), 0);
    assert_int_equal(hd_store_watch(t->s, "", 0, 0, watch_cb, &s, &w), 0);
    assert_int_equal(t_put(t, "heed/a", "1", 0, NULL), 0);
    assert_int_equal(t_put(t, "heed/b", "2", 0, NULL), 0);
    wait_events(t, &s, 2);
    assert_int_equal(c.calls, 1);
    hd_store_watch_cancel(w);
}

static void test_compaction(void **state)
{
    tstore_t *t = *state;
    seen_t s = {0}, s2 = {0};
    hd_store_watch_t *w, *w2;
    answer_t a = {0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(t_put(t, "heed/kv/c", "v", 0, NULL), 0);
    assert_int_equal(hd_store_compact(t->s, 3, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    /* Events up to 3 are gone: from 3 is compacted, from 4 is not. */
    assert_int_equal(hd_store_watch(t->s, "heed/", 5, 3, watch_cb, &s, &w), 0);
    assert_int_equal(hd_store_watch(t->s, "heed/", 5, 4, watch_cb, &s2, &w2), 0);
    wait_events(t, &s, 1);
    assert_true(s.final);
    assert_int_equal(s.status, HD_STORE_ECOMPACTED);
    assert_int_equal(s.n, 0);
    wait_events(t, &s2, 3);
    assert_false(s2.final);
    assert_int_equal(s2.ev[0].rev, 4);
    hd_store_watch_cancel(w);
    hd_store_watch_cancel(w2);
    /* A revision not committed yet cannot be compacted. */
    memset(&a, 0, sizeof(a));
    assert_int_equal(hd_store_compact(t->s, 99, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, HD_STORE_EFUTURE);
    assert_string_equal(hd_store_strerror(HD_STORE_ECOMPACTED),
                        "revision compacted: the events asked for are no longer kept");
}

static void test_retention_compacts(void **state)
{
    tstore_t *t = *state;
    seen_t s = {0}, s2 = {0};
    hd_store_watch_t *w, *w2;
    t_close(t);
    t->cfg.event_retention = 4;
    t_open_cfg(t);
    for (int i = 0; i < 20; i++)
        assert_int_equal(t_put(t, "heed/kv/r", "v", 0, NULL), 0);
    assert_int_equal(hd_store_watch(t->s, "", 0, 1, watch_cb, &s, &w), 0);
    assert_int_equal(hd_store_watch(t->s, "", 0, 17, watch_cb, &s2, &w2), 0);
    wait_events(t, &s, 1);
    assert_int_equal(s.status, HD_STORE_ECOMPACTED);
    wait_events(t, &s2, 4);
    assert_int_equal(s2.ev[0].rev, 17);
    assert_int_equal(s2.ev[3].rev, 20);
    hd_store_watch_cancel(w);
    hd_store_watch_cancel(w2);
}

/* ---- leases ---- */

static int lease_grant(tstore_t *t, int64_t ttl_ms, int64_t *id)
{
    answer_t a = {0};
    int rc = hd_store_lease_grant(t->s, ttl_ms, t_lease_cb, &a);
    if (rc) return rc;
    t_spin(t, &a.done);
    *id = a.lease;
    return a.status;
}

static int lease_keepalive(tstore_t *t, int64_t id)
{
    answer_t a = {0};
    int rc = hd_store_lease_keepalive(t->s, id, t_lease_cb, &a);
    if (rc) return rc;
    t_spin(t, &a.done);
    return a.status;
}

static void test_lease_expiry(void **state)
{
    tstore_t *t = *state;
    int64_t id = 0;
    seen_t s = {0};
    hd_store_watch_t *w;
    assert_int_equal(lease_grant(t, 400, &id), 0);
    assert_true(id > 0);
    assert_int_equal(t_put(t, "heed/svc/a", "1", id, NULL), 0);
    assert_int_equal(t_put(t, "heed/svc/b", "2", id, NULL), 0);
    assert_int_equal(t_put(t, "heed/svc/keep", "3", 0, NULL), 0);
    answer_t a;
    assert_int_equal(t_get(t, "heed/svc/a", &a), 0);
    assert_int_equal(a.kv.lease, id);
    assert_int_equal(hd_store_watch(t->s, "heed/svc/", 9, 0, watch_cb, &s, &w), 0);

    /* Kept alive past its TTL, it lives. */
    int64_t start = t_now_ms();
    while (t_now_ms() - start < 600) {
        assert_int_equal(lease_keepalive(t, id), 0);
        usleep(40000);
    }
    t_expect(t, "heed/svc/a", "1");

    /* Left alone, it expires: both keys go, in one revision. */
    wait_events(t, &s, 2);
    assert_int_equal(s.ev[0].type, HD_STORE_EV_DELETE);
    assert_int_equal(s.ev[1].type, HD_STORE_EV_DELETE);
    assert_int_equal(s.ev[0].rev, s.ev[1].rev);
    assert_true(t_now_ms() - start < 600 + 3000);
    t_expect_absent(t, "heed/svc/a");
    t_expect_absent(t, "heed/svc/b");
    t_expect(t, "heed/svc/keep", "3");
    assert_int_equal(lease_keepalive(t, id), HD_STORE_ENOLEASE);
    assert_int_equal(t_put(t, "heed/svc/c", "4", id, NULL), HD_STORE_ENOLEASE);
    t_expect_absent(t, "heed/svc/c");
    hd_store_watch_cancel(w);
}

static void test_lease_revoke(void **state)
{
    tstore_t *t = *state;
    int64_t id = 0, id2 = 0;
    answer_t a = {0};
    assert_int_equal(lease_grant(t, 60000, &id), 0);
    assert_int_equal(lease_grant(t, 60000, &id2), 0);
    assert_true(id2 != id);
    assert_int_equal(t_put(t, "heed/lock/a", "me", id, NULL), 0);
    int64_t before = hd_store_revision(t->s);
    assert_int_equal(hd_store_lease_revoke(t->s, id, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.wr.deleted, 1);
    assert_int_equal(a.wr.revision, before + 1);
    t_expect_absent(t, "heed/lock/a");
    memset(&a, 0, sizeof(a));
    assert_int_equal(hd_store_lease_revoke(t->s, id, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, HD_STORE_ENOLEASE);
    /* A lease with no keys revokes without a revision. */
    memset(&a, 0, sizeof(a));
    assert_int_equal(hd_store_lease_revoke(t->s, id2, t_write_cb, &a), 0);
    t_spin(t, &a.done);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.wr.revision, before + 1);
}

/* ---- reopening, migrations ---- */

static void test_reopen_keeps_everything(void **state)
{
    tstore_t *t = *state;
    int64_t id = 0;
    answer_t a;
    assert_int_equal(t_put(t, "heed/kv/a", "1", 0, NULL), 0);
    assert_int_equal(t_put(t, "heed/kv/a", "2", 0, NULL), 0);
    assert_int_equal(lease_grant(t, 60000, &id), 0);
    assert_int_equal(t_put(t, "heed/svc/x", "x", id, NULL), 0);
    answer_t c = {0};
    assert_int_equal(hd_store_compact(t->s, 1, t_write_cb, &c), 0);
    t_spin(t, &c.done);

    /* Writes still queued at close are committed and answered by close. */
    answer_t late = {0};
    assert_int_equal(hd_store_put(t->s, "heed/kv/late", 12, "L", 1, 0, t_write_cb, &late), 0);
    t_close(t);
    assert_true(late.done);
    assert_int_equal(late.status, 0);
    assert_int_equal(late.wr.revision, 4);

    t_open_cfg(t);
    assert_int_equal(hd_store_revision(t->s), 4);
    assert_int_equal(t_get(t, "heed/kv/a", &a), 0);
    assert_string_equal(a.kv.value, "2");
    assert_int_equal(a.kv.version, 2);
    assert_int_equal(a.kv.create_revision, 1);
    t_expect(t, "heed/kv/late", "L");
    assert_int_equal(lease_keepalive(t, id), 0);
    assert_int_equal(t_get(t, "heed/svc/x", &a), 0);
    assert_int_equal(a.kv.lease, id);
    /* New leases do not reuse ids. */
    int64_t id2 = 0;
    assert_int_equal(lease_grant(t, 1000, &id2), 0);
    assert_true(id2 > id);
    /* The compaction and the event log survived. */
    seen_t s = {0}, s2 = {0};
    hd_store_watch_t *w, *w2;
    assert_int_equal(hd_store_watch(t->s, "", 0, 1, watch_cb, &s, &w), 0);
    assert_int_equal(hd_store_watch(t->s, "", 0, 2, watch_cb, &s2, &w2), 0);
    wait_events(t, &s, 1);
    assert_int_equal(s.status, HD_STORE_ECOMPACTED);
    wait_events(t, &s2, 3);
    assert_int_equal(s2.ev[0].rev, 2);
    assert_int_equal(s2.ev[2].rev, 4);
    assert_int_equal(t_put(t, "heed/kv/b", "b", 0, NULL), 0);
    assert_int_equal(hd_store_revision(t->s), 5);
    hd_store_watch_cancel(w);
    hd_store_watch_cancel(w2);
}

static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    char *err = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s", err);
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_migrate_from_v1(void **state)
{
    tstore_t *t = *state;
    answer_t a;
    t_close(t);
    unlink(t->path);
    /* A store as heed 0.1 left it: schema version 1, no leases, no events. */
    raw_sql(t->path,
            "PRAGMA application_id = 1751475556;"
            "CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
            "INSERT INTO meta VALUES ('revision', 7);"
            "CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL,"
            " create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL,"
            " version INTEGER NOT NULL) WITHOUT ROWID;"
            "INSERT INTO kv VALUES (CAST('heed/checks/web' AS BLOB), CAST('{}' AS BLOB), 2, 7, 3);"
            "INSERT INTO kv VALUES (CAST('heed/kv/x' AS BLOB), CAST('x' AS BLOB), 5, 5, 1);"
            "PRAGMA user_version = 1;");
    t_open_cfg(t);
    assert_int_equal(raw_int(t->path, "PRAGMA user_version"), 2);
    assert_int_equal(hd_store_revision(t->s), 7);
    assert_int_equal(t_get(t, "heed/checks/web", &a), 0);
    assert_string_equal(a.kv.value, "{}");
    assert_int_equal(a.kv.create_revision, 2);
    assert_int_equal(a.kv.mod_revision, 7);
    assert_int_equal(a.kv.version, 3);
    assert_int_equal(a.kv.lease, 0);
    assert_int_equal(t_range(t, "heed/", 0, &a), 0);
    assert_int_equal(a.n, 2);
    /* It works as a new one: writes, CAS, leases; the event log starts at 8. */
    hd_store_write_result_t wr;
    hd_store_cmp_t c = {"heed/checks/web", 15, HD_STORE_CMP_VERSION, 3};
    hd_store_op_t o = {HD_STORE_OP_PUT, "heed/checks/web", 15, "{\"v\":2}", 7, 0};
    assert_int_equal(t_txn(t, &c, 1, &o, 1, &wr), 0);
    assert_int_equal(wr.revision, 8);
    int64_t id;
    assert_int_equal(lease_grant(t, 1000, &id), 0);
    seen_t s = {0}, s2 = {0};
    hd_store_watch_t *w, *w2;
    assert_int_equal(hd_store_watch(t->s, "", 0, 7, watch_cb, &s, &w), 0);
    assert_int_equal(hd_store_watch(t->s, "", 0, 8, watch_cb, &s2, &w2), 0);
    wait_events(t, &s, 1);
    assert_int_equal(s.status, HD_STORE_ECOMPACTED);
    wait_events(t, &s2, 1);
    assert_int_equal(s2.ev[0].rev, 8);
    hd_store_watch_cancel(w);
    hd_store_watch_cancel(w2);
    /* And it reopens as version 2 without migrating again. */
    t_close(t);
    t_open_cfg(t);
    assert_int_equal(hd_store_revision(t->s), 8);
}

static void test_refuses_foreign_and_newer(void **state)
{
    tstore_t *t = *state;
    char err[512] = "";
    hd_store_t *s = NULL;
    char path[200];
    hd_store_config_t cfg = {0};
    cfg.path = path;

    snprintf(path, sizeof(path), "%s/other.db", t->dir);
    raw_sql(path, "CREATE TABLE users(name TEXT);");
    assert_int_equal(hd_store_open(t->base, &cfg, &s, err, sizeof(err)), HD_STORE_ECORRUPT);
    assert_contains(err, "other.db");
    assert_contains(err, "not a heed store");
    assert_null(s);
    unlink(path);

    snprintf(path, sizeof(path), "%s/newer.db", t->dir);
    raw_sql(path, "PRAGMA application_id = 1751475556; PRAGMA user_version = 99;"
                  "CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);");
    assert_int_equal(hd_store_open(t->base, &cfg, &s, err, sizeof(err)), HD_STORE_ENEWER);
    assert_contains(err, "schema version 99 is newer");
    /* Refusing changed nothing. */
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 99);
    unlink(path);

    snprintf(path, sizeof(path), "%s/garbage.db", t->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database at all. ", f);
    fclose(f);
    assert_int_equal(hd_store_open(t->base, &cfg, &s, err, sizeof(err)), HD_STORE_ECORRUPT);
    unlink(path);

    snprintf(path, sizeof(path), "%s/no/such/dir/x.db", t->dir);
    assert_int_equal(hd_store_open(t->base, &cfg, &s, err, sizeof(err)), HD_STORE_EOPEN);
    assert_contains(err, "no/such/dir");
}

typedef struct again_s {
    tstore_t *t;
    int status, rc, done;
} again_t;

static void again_cb(int status, const hd_store_write_result_t *r, void *arg)
{
    again_t *g = arg;
    (void)r;
    g->status = status;
    g->done = 1;
    g->rc = hd_store_put(g->t->s, "heed/kv/b", 9, "2", 1, 0, t_never_write, NULL);
}

static void test_close_answers_and_refuses(void **state)
{
    tstore_t *t = *state;
    again_t g = {t, 0, 0, 0};
    assert_int_equal(hd_store_put(t->s, "heed/kv/a", 9, "1", 1, 0, again_cb, &g), 0);
    t_close(t);
    /* Answered from inside close, durable; a request made then is refused. */
    assert_true(g.done);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.rc, HD_STORE_ECLOSED);
    t_open_cfg(t);
    t_expect(t, "heed/kv/a", "1");
    t_expect_absent(t, "heed/kv/b");
}

typedef struct flush_s {
    tstore_t *t;
    int status_a, status_b, rc, done_a, done_b;
} flush_t;

static void flush_b(int status, const hd_store_write_result_t *r, void *arg)
{
    flush_t *f = arg;
    (void)r;
    f->status_b = status;
    f->done_b = 1;
}

static void flush_a(int status, const hd_store_write_result_t *r, void *arg)
{
    flush_t *f = arg;
    (void)r;
    f->status_a = status;
    f->done_a = 1;
    f->rc = hd_store_put(f->t->s, "heed/kv/b", 9, "2", 1, 0, flush_b, f);
}

/* hd_store_flush: the write asked for, and the one its callback asks for,
 * are committed and answered inside the call; the store stays open. */
static void test_flush_answers_and_stays_open(void **state)
{
    tstore_t *t = *state;
    flush_t f = {t, -1, -1, -1, 0, 0};
    assert_int_equal(hd_store_put(t->s, "heed/kv/a", 9, "1", 1, 0, flush_a, &f), 0);
    hd_store_flush(t->s);
    assert_true(f.done_a && f.done_b);
    assert_int_equal(f.status_a, 0);
    assert_int_equal(f.rc, 0);
    assert_int_equal(f.status_b, 0);
    hd_store_flush(t->s); /* nothing pending: returns at once */
    t_expect(t, "heed/kv/a", "1");
    t_expect(t, "heed/kv/b", "2");
    t_close(t);
    t_open_cfg(t);
    t_expect(t, "heed/kv/b", "2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_revisions, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_binary_keys_and_values, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_range_and_delete_prefix, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_cas, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_txn_atomic, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_watch_from_now, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_watch_from_past, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_watch_catch_up_in_chunks, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_watch_cancel_inside_callback, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_compaction, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_retention_compacts, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lease_expiry, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lease_revoke, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, t_fixture_setup, t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_foreign_and_newer, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_close_answers_and_refuses, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_flush_answers_and_stays_open, t_fixture_setup,
                                        t_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
