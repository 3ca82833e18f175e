/* test_outbox — the alert outbox on a real SQLite store: an event and its
 * delivery records written in one transaction, sent once stored, the
 * outcome recorded (delivered never sent again, a retry with backoff),
 * resumed after a reopen, held deliveries waiting for their time and
 * cancelled, the cap dropping the oldest, finished events pruned.
 *
 * The receiver here is a function that answers on the loop as the test
 * says: this tests the outbox's bookkeeping; real receivers are driven by
 * tests/integration/test_alerts.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/outbox.h"
#include "check.h"
#include "store_util.h"
#include "util/time.h"

typedef struct sink_s {
    int calls;
    char ids[32][48];
    size_t nids;
    hd_notifier_done_cb cb;
    void *arg;
    int pending; /* a send waits for the test's answer */
} sink_t;

static int sink_send(void *ctx, const char *name, const json_t *const *events, size_t n,
                     hd_notifier_done_cb cb, void *arg)
{
    sink_t *s = ctx;
    if (strcmp(name, "hook") != 0) return -1;
    for (size_t i = 0; i < n && s->nids < 32; i++)
        snprintf(s->ids[s->nids++], sizeof(s->ids[0]), "%s",
                 json_string_value(json_object_get(events[i], "id")));
    s->calls++;
    s->cb = cb;
    s->arg = arg;
    s->pending = 1;
    return 0;
}

/* Stores one event for check id with a delivery to each notifier at due. */
static uint64_t store_event(tstore_t *t, hd_outbox_t *ob, const char *id, const char *nf,
                            int64_t due)
{
    json_t *ev = json_pack("{s:s, s:{s:s}}", "kind", "triggered", "check", "id", id);
    char q[64];
    snprintf(q, sizeof(q), "default/%s", id);
    hd_outbox_event_t *e = hd_outbox_event_new(ev, NULL, q);
    hd_outbox_event_add(e, nf, due, hd_time_wall_us());
    hd_store_op_t ops[4];
    hd_outbox_scratch_t sc = {0};
    size_t n = hd_outbox_ops(ob, e, ops, &sc);
    assert_int_equal(n, 2);
    hd_store_write_result_t wr = {0};
    assert_int_equal(t_txn(t, NULL, 0, ops, n, &wr), 0);
    hd_outbox_scratch_free(&sc);
    uint64_t seq = e->seq;
    hd_outbox_stored(ob, e, wr.revision);
    return seq;
}

/* Spins the loop until the sink has a send waiting, then answers it. */
static void answer(tstore_t *t, sink_t *s, hd_notifier_result_t r)
{
    t_spin(t, &s->pending);
    s->pending = 0;
    s->cb(r, r == HD_NOTIFY_DELIVERED ? "HTTP 200" : "HTTP 503", s->arg);
}

static void settle(tstore_t *t, int ms)
{
    int64_t end = t_now_ms() + ms;
    while (t_now_ms() < end) {
        struct timeval tick = {0, 2000};
        event_base_loopexit(t->base, &tick);
        event_base_loop(t->base, EVLOOP_ONCE);
    }
}

static const char *record(tstore_t *t, uint64_t seq, const char *nf, answer_t *a)
{
    char k[128];
    snprintf(k, sizeof(k), "heed/events/n1/%020llu/%s", (unsigned long long)seq, nf);
    assert_int_equal(t_get(t, k, a), 0);
    return a->kv.value;
}

/* The record once it contains want (it is written after the answer,
 * asynchronously); fails after 5 s. */
static const char *record_with(tstore_t *t, uint64_t seq, const char *nf, const char *want,
                               answer_t *a)
{
    int64_t end = t_now_ms() + 5000;
    while (!strstr(record(t, seq, nf, a), want) && t_now_ms() < end)
        settle(t, 5);
    return a->kv.value;
}

static void loaded(int status, void *arg)
{
    assert_int_equal(status, 0);
    *(int *)arg = 1;
}

static hd_outbox_t *reopen(tstore_t *t, sink_t *s, size_t max, size_t keep)
{
    hd_outbox_opts_t o;
    memset(&o, 0, sizeof(o));
    o.base = t->base;
    o.store = t->s;
    o.node = "n1";
    o.settings.retry_min_us = 20000;
    o.settings.retry_max_us = 40000;
    o.settings.outbox_max = max;
    o.settings.keep_delivered = keep;
    o.send = s ? sink_send : NULL;
    o.ctx = s;
    hd_outbox_t *ob = hd_outbox_new(&o);
    int done = 0;
    assert_int_equal(hd_outbox_load(ob, loaded, &done), 0);
    t_spin(t, &done);
    return ob;
}

static void test_deliver_retry_and_record(void **state)
{
    tstore_t *t = *state;
    sink_t s = {0};
    hd_outbox_t *ob = reopen(t, &s, 100, 100);
    uint64_t seq = store_event(t, ob, "web", "hook", 0);
    assert_int_equal(seq, 1);
    answer(t, &s, HD_NOTIFY_RETRY);
    assert_string_equal(s.ids[0], "n1-1");
    answer_t a;
    assert_contains(record_with(t, seq, "hook", "\"attempts\":1", &a), "\"state\":\"pending\"");
    assert_contains(a.kv.value, "HTTP 503");
    answer(t, &s, HD_NOTIFY_DELIVERED); /* after the backoff */
    assert_contains(record_with(t, seq, "hook", "\"state\":\"delivered\"", &a),
                    "\"state\":\"delivered\"");
    assert_int_equal(s.calls, 2);
    hd_outbox_stats_t st;
    hd_outbox_stats(ob, &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.undelivered, 0);
    /* Reopened: the delivered one is never sent again; the sequence goes on. */
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
    ob = reopen(t, &s, 100, 100);
    settle(t, 60);
    assert_int_equal(s.calls, 2);
    assert_int_equal(store_event(t, ob, "web", "hook", 0), 2);
    answer(t, &s, HD_NOTIFY_DELIVERED);
    hd_outbox_stop(ob);
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
}

static void test_resume_after_reopen(void **state)
{
    tstore_t *t = *state;
    sink_t s = {0};
    hd_outbox_t *ob = reopen(t, NULL, 100, 100); /* nothing sends */
    store_event(t, ob, "a", "hook", 0);
    store_event(t, ob, "b", "hook", 0);
    settle(t, 5);
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
    ob = reopen(t, &s, 100, 100);
    answer(t, &s, HD_NOTIFY_DELIVERED);
    answer(t, &s, HD_NOTIFY_DELIVERED);
    assert_int_equal(s.nids, 2);
    assert_string_equal(s.ids[0], "n1-1"); /* in order */
    assert_string_equal(s.ids[1], "n1-2");
    hd_outbox_stop(ob);
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
}

static void test_held_then_cancelled(void **state)
{
    tstore_t *t = *state;
    sink_t s = {0};
    hd_outbox_t *ob = reopen(t, &s, 100, 100);
    int64_t now = hd_time_wall_us();
    uint64_t held = store_event(t, ob, "a", "hook", now + 3600000000LL);
    store_event(t, ob, "b", "hook", hd_time_wall_us() + 300000);
    assert_int_equal(s.calls, 0);       /* neither is due */
    answer(t, &s, HD_NOTIFY_DELIVERED); /* b, past the held a */
    assert_string_equal(s.ids[0], "n1-2");
    hd_store_op_t ops[HD_ALERT_NOTIFY_MAX];
    hd_outbox_scratch_t sc = {0};
    size_t n = hd_outbox_cancel_ops(ob, held, now, ops, &sc);
    assert_int_equal(n, 1);
    hd_store_write_result_t wr = {0};
    assert_int_equal(t_txn(t, NULL, 0, ops, n, &wr), 0);
    hd_outbox_scratch_free(&sc);
    hd_outbox_cancelled(ob, held, wr.revision);
    answer_t a;
    assert_contains(record_with(t, held, "hook", "\"state\":\"cancelled\"", &a),
                    "\"state\":\"cancelled\"");
    hd_outbox_stats_t st;
    hd_outbox_stats(ob, &st);
    assert_int_equal(st.cancelled, 1);
    assert_int_equal(st.undelivered, 0);
    hd_outbox_stop(ob);
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
}

static void test_cap_drops_oldest_and_prunes(void **state)
{
    tstore_t *t = *state;
    hd_outbox_t *ob = reopen(t, NULL, 2, 1);
    for (int i = 0; i < 4; i++)
        store_event(t, ob, "a", "hook", 0);
    settle(t, 5);
    hd_outbox_stats_t st;
    hd_outbox_stats(ob, &st);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.undelivered, 2);
    /* Two finished (dropped), one kept: the oldest event is gone. */
    assert_int_equal(st.kept, 3);
    answer_t a;
    int64_t end = t_now_ms() + 5000; /* the delete is written after the drop */
    while (t_get(t, "heed/events/n1/00000000000000000001", &a) == 0 && t_now_ms() < end)
        settle(t, 5);
    assert_int_equal(t_get(t, "heed/events/n1/00000000000000000001", &a), HD_STORE_ENOTFOUND);
    assert_contains(record_with(t, 2, "hook", "\"state\":\"dropped\"", &a),
                    "\"state\":\"dropped\"");
    assert_contains(record(t, 3, "hook", &a), "\"state\":\"pending\"");
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
    /* An unknown notifier fails its deliveries for good. */
    sink_t s = {0};
    ob = reopen(t, &s, 10, 10);
    store_event(t, ob, "z", "nobody", 0);
    settle(t, 5);
    assert_contains(record_with(t, 5, "nobody", "\"state\":\"failed\"", &a),
                    "\"state\":\"failed\"");
    hd_outbox_stop(ob);
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
}

static void test_forget_resends(void **state)
{
    tstore_t *t = *state;
    sink_t s = {0};
    hd_outbox_t *ob = reopen(t, &s, 100, 100);
    store_event(t, ob, "a", "hook", 0);
    t_spin(t, &s.pending); /* sent; the notifier goes away unanswered */
    s.pending = 0;
    hd_outbox_forget(ob, "hook");
    answer(t, &s, HD_NOTIFY_DELIVERED); /* sent again, through the new one */
    assert_int_equal(s.calls, 2);
    assert_string_equal(s.ids[1], "n1-1");
    answer_t a;
    assert_contains(record_with(t, 1, "hook", "\"state\":\"delivered\"", &a),
                    "\"state\":\"delivered\"");
    hd_outbox_stop(ob);
    hd_store_flush(t->s); /* its answers point at ob */
    hd_outbox_free(ob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deliver_retry_and_record, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_reopen, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_held_then_cancelled, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_cap_drops_oldest_and_prunes, t_fixture_setup,
                                        t_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_forget_resends, t_fixture_setup, t_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
