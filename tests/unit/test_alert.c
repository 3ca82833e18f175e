/* test_alert — alert rules on an explicit clock: triggered and resolved,
 * for: holding and cancelling, reminders, flapping and its end, maintenance
 * windows (once, daily, weekly), pause, RFC 3339 times, the stored form. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/alert.h"
#include "check.h"

#include <jansson.h>

#define S  1000000LL
#define T0 (1764547200LL * S) /* 2025-12-01T00:00:00Z */

static char *hook_names[] = {"hook", "am", NULL};
static char *web_tags[] = {"web", NULL};

typedef struct fx_s {
    hd_alert_rule_t rule;
    hd_alert_flap_t flap;
    hd_check_def_t def;
    hd_match_subject_t subj;
    hd_alert_state_t as;
    hd_alert_out_t out;
} fx_t;

static void fx_init(fx_t *f, int64_t for_us, int64_t remind)
{
    memset(f, 0, sizeof(*f));
    f->rule.notify = hook_names;
    f->rule.for_us = for_us;
    f->rule.send_resolved = 1;
    f->rule.remind_every_us = remind;
    f->flap.changes = 6;
    f->flap.window_us = 600 * S;
    f->def.id = "web1";
    f->def.tags = web_tags;
    f->subj.def = &f->def;
}

static int change(fx_t *f, hd_check_status_t a, hd_check_status_t b, int64_t t, int win)
{
    return hd_alert_change(&f->as, &f->rule, 1, &f->subj, &f->flap, win, a, b, t, &f->out);
}

static int tick(fx_t *f, hd_check_status_t s, int64_t t, int win)
{
    return hd_alert_tick(&f->as, &f->rule, 1, &f->subj, &f->flap, win, s, t, &f->out);
}

static void test_triggered_resolved(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 0, 0);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 0), 1);
    assert_int_equal(f.out.kind, HD_ALERT_TRIGGERED);
    assert_int_equal(f.out.n, 2);
    assert_string_equal(f.out.notify[0], "hook");
    assert_int_equal(f.out.due[0], T0);
    assert_int_equal(f.as.since, T0);
    /* No reminders configured: a tick an hour later creates nothing. */
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 3600 * S, 0), 0);
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_PASSING, T0 + 10 * S, 0), 1);
    assert_int_equal(f.out.kind, HD_ALERT_RESOLVED);
    assert_int_equal(f.out.n, 2);
    assert_int_equal(f.out.since, T0); /* the failure it ends */
    assert_int_equal(f.as.since, 0);
    assert_null(f.as.told[0]);
    hd_alert_state_free(&f.as);
}

static void test_rule_not_matching(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 0, 0);
    char *other[] = {"db", NULL};
    f.rule.match.tags = other;
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 0), 0);
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_PASSING, T0 + S, 0), 0);
    hd_alert_state_free(&f.as);
}

static void test_no_resolved_without_send_resolved(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 0, 0);
    f.rule.send_resolved = 0;
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_WARNING, T0, 0), 1);
    assert_int_equal(change(&f, HD_CHECK_WARNING, HD_CHECK_PASSING, T0 + S, 0), 0);
    hd_alert_state_free(&f.as);
}

static void test_for_holds_then_cancels(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 30 * S, 0);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 0), 1);
    assert_int_equal(f.out.due[0], T0 + 30 * S);
    assert_int_equal(f.as.held_until, T0 + 30 * S);
    hd_alert_stored(&f.as, &f.out, 7, T0);
    assert_int_equal(f.as.held_seq, 7);
    /* Back within for: the held deliveries are cancelled, no resolved. */
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_PASSING, T0 + 10 * S, 0), 0);
    assert_int_equal(f.out.cancel_held, 1);
    assert_int_equal(f.out.cancel_seq, 7);
    assert_null(f.as.told[0]);
    hd_alert_state_free(&f.as);
}

static void test_for_elapses_then_resolved(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 30 * S, 0);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 0), 1);
    hd_alert_stored(&f.as, &f.out, 1, T0);
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 31 * S, 0), 0);
    assert_int_equal(f.as.held_until, 0);
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_PASSING, T0 + 40 * S, 0), 1);
    assert_int_equal(f.out.kind, HD_ALERT_RESOLVED);
    assert_int_equal(f.out.cancel_held, 0);
    hd_alert_state_free(&f.as);
}

static void test_reminder(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 0, 3600 * S);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 0), 1);
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 3599 * S, 0), 0);
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 3600 * S, 0), 1);
    assert_int_equal(f.out.kind, HD_ALERT_REMINDER);
    assert_int_equal(f.out.n, 2);
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 3601 * S, 0), 0);
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 7200 * S, 0), 1);
    /* Passing: no more reminders. */
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_PASSING, T0 + 7201 * S, 0), 1);
    assert_int_equal(tick(&f, HD_CHECK_PASSING, T0 + 99999 * S, 0), 0);
    hd_alert_state_free(&f.as);
}

static void test_flapping_once_then_end(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 0, 0);
    int events = 0, flapping = 0;
    hd_check_status_t s = HD_CHECK_PASSING;
    for (int i = 0; i < 20; i++) {
        hd_check_status_t n = s == HD_CHECK_PASSING ? HD_CHECK_CRITICAL : HD_CHECK_PASSING;
        if (change(&f, s, n, T0 + i * 10 * S, 0)) {
            events++;
            flapping += f.out.kind == HD_ALERT_FLAPPING;
        }
        s = n;
    }
    /* Six changes alert as usual (3 triggered, 3 resolved); the seventh
     * starts flapping; the rest are quiet. */
    assert_int_equal(flapping, 1);
    assert_int_equal(events, 7);
    assert_int_equal(f.as.flapping, 1);
    int64_t last = T0 + 19 * 10 * S;
    assert_int_equal(tick(&f, s, last + 599 * S, 0), 0);
    assert_int_equal(tick(&f, s, last + 600 * S, 0), 1);
    assert_int_equal(f.out.kind, HD_ALERT_FLAPPING_END);
    assert_int_equal(f.out.n, 2);
    assert_int_equal(f.as.flapping, 0);
    assert_int_equal(tick(&f, s, last + 1200 * S, 0), 0);
    hd_alert_state_free(&f.as);
}

static void test_window_silences_then_alerts_at_close(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 0, 0);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 1), 0);
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + S, 1), 0);
    /* The window closed on a failure: it is alerted on now, once. */
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 2 * S, 0), 1);
    assert_int_equal(f.out.kind, HD_ALERT_TRIGGERED);
    assert_int_equal(tick(&f, HD_CHECK_CRITICAL, T0 + 3 * S, 0), 0);
    hd_alert_state_free(&f.as);
    /* Failed and recovered inside the window: nothing at all. */
    fx_init(&f, 0, 0);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 1), 0);
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_PASSING, T0 + S, 1), 0);
    assert_int_equal(tick(&f, HD_CHECK_PASSING, T0 + 2 * S, 0), 0);
    hd_alert_state_free(&f.as);
}

static void test_pause_is_silent(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 0, 0);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 0), 1);
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_MAINTENANCE, T0 + S, 0), 0);
    /* Resumed still failing: already alerted. */
    assert_int_equal(change(&f, HD_CHECK_MAINTENANCE, HD_CHECK_CRITICAL, T0 + 2 * S, 0), 0);
    assert_int_equal(change(&f, HD_CHECK_CRITICAL, HD_CHECK_MAINTENANCE, T0 + 3 * S, 0), 0);
    /* Resumed passing: resolved. */
    assert_int_equal(change(&f, HD_CHECK_MAINTENANCE, HD_CHECK_PASSING, T0 + 4 * S, 0), 1);
    assert_int_equal(f.out.kind, HD_ALERT_RESOLVED);
    hd_alert_state_free(&f.as);
}

static void test_windows(void **state)
{
    (void)state;
    hd_alert_window_t w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(hd_alert_parse_time("2026-12-01T02:00:00Z", &w.start_us), 0);
    w.duration_us = 3600 * S;
    assert_int_equal(hd_alert_window_open(&w, w.start_us - 1), 0);
    assert_int_equal(hd_alert_window_open(&w, w.start_us), 1);
    assert_int_equal(hd_alert_window_open(&w, w.start_us + 3599 * S), 1);
    assert_int_equal(hd_alert_window_open(&w, w.start_us + 3600 * S), 0);
    assert_int_equal(hd_alert_window_open(&w, w.start_us + 86400 * S), 0);
    w.every = HD_WINDOW_DAY;
    assert_int_equal(hd_alert_window_open(&w, w.start_us + 86400 * S + 10 * S), 1);
    assert_int_equal(hd_alert_window_open(&w, w.start_us + 86400 * S + 3600 * S), 0);
    w.every = HD_WINDOW_WEEK;
    assert_int_equal(hd_alert_window_open(&w, w.start_us + 86400 * S + 10 * S), 0);
    assert_int_equal(hd_alert_window_open(&w, w.start_us + 7 * 86400 * S + 10 * S), 1);
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(hd_alert_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(hd_alert_parse_time("2025-12-01T00:00:00Z", &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(hd_alert_parse_time("2025-12-01T01:30:00.5+01:30", &t), 0);
    assert_int_equal(t, T0 + S / 2);
    assert_int_equal(hd_alert_parse_time("2024-02-29T00:00:00Z", &t), 0);
    assert_int_equal(hd_alert_parse_time("2025-02-29T00:00:00Z", &t), -1);
    assert_int_equal(hd_alert_parse_time("2025-13-01T00:00:00Z", &t), -1);
    assert_int_equal(hd_alert_parse_time("2025-12-01T00:00:00", &t), -1);
    assert_int_equal(hd_alert_parse_time("2025-12-01T00:00:00Zx", &t), -1);
    assert_int_equal(hd_alert_parse_time("tomorrow", &t), -1);
    assert_int_equal(hd_alert_parse_time(NULL, &t), -1);
}

static void test_state_json_round_trip(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 30 * S, 0);
    assert_int_equal(change(&f, HD_CHECK_PASSING, HD_CHECK_CRITICAL, T0, 0), 1);
    hd_alert_stored(&f.as, &f.out, 42, T0);
    json_t *o = hd_alert_state_to_json(&f.as);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_contains(s, "\"told\":[\"hook\",\"am\"]");
    assert_contains(s, "\"held_seq\":42");
    hd_alert_state_t back;
    hd_alert_state_from_json(o, &back);
    assert_int_equal(back.since, T0);
    assert_int_equal(back.held_seq, 42);
    assert_int_equal(back.held[1], 1);
    assert_string_equal(back.told[1], "am");
    assert_int_equal(back.nchanges, 1);
    hd_alert_state_free(&back);
    free(s);
    json_decref(o);
    /* Garbage reads as nothing. */
    json_t *bad = json_loads("{\"since\":\"x\",\"told\":[1,\"\"],\"changes\":{}}", 0, NULL);
    hd_alert_state_from_json(bad, &back);
    assert_true(hd_alert_state_empty(&back));
    json_decref(bad);
    hd_alert_state_free(&f.as);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_triggered_resolved),
        cmocka_unit_test(test_rule_not_matching),
        cmocka_unit_test(test_no_resolved_without_send_resolved),
        cmocka_unit_test(test_for_holds_then_cancels),
        cmocka_unit_test(test_for_elapses_then_resolved),
        cmocka_unit_test(test_reminder),
        cmocka_unit_test(test_flapping_once_then_end),
        cmocka_unit_test(test_window_silences_then_alerts_at_close),
        cmocka_unit_test(test_pause_is_silent),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_state_json_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
