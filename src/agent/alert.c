/* alert — alert rules, flapping and maintenance windows (alert.h). */
#include "agent/alert.h"

#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define DAY_US (86400LL * 1000000)

static int failing(hd_check_status_t s)
{
    return s == HD_CHECK_WARNING || s == HD_CHECK_CRITICAL;
}

const char *hd_alert_kind_str(hd_alert_kind_t k)
{
    static const char *const names[] = {"triggered", "resolved", "reminder", "flapping",
                                        "flapping_end"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

/* ---- told: the notifiers of the current failure ------------------------- */

static int told_find(const hd_alert_state_t *as, const char *name)
{
    for (int i = 0; i < HD_ALERT_NOTIFY_MAX && as->told[i]; i++)
        if (strcmp(as->told[i], name) == 0) return i;
    return -1;
}

static void told_add(hd_alert_state_t *as, const char *name, int held)
{
    int i = told_find(as, name);
    if (i >= 0) {
        if (!held) as->held[i] = 0;
        return;
    }
    for (i = 0; i < HD_ALERT_NOTIFY_MAX; i++)
        if (!as->told[i]) {
            as->told[i] = hd_xstrdup(name);
            as->held[i] = (unsigned char)held;
            return;
        }
}

/* Removes told[i], keeping the rest packed in order. */
static void told_del(hd_alert_state_t *as, int i)
{
    free(as->told[i]);
    for (; i + 1 < HD_ALERT_NOTIFY_MAX; i++) {
        as->told[i] = as->told[i + 1];
        as->held[i] = as->held[i + 1];
    }
    as->told[HD_ALERT_NOTIFY_MAX - 1] = NULL;
    as->held[HD_ALERT_NOTIFY_MAX - 1] = 0;
}

static void told_clear(hd_alert_state_t *as)
{
    for (int i = 0; i < HD_ALERT_NOTIFY_MAX; i++) {
        free(as->told[i]);
        as->told[i] = NULL;
        as->held[i] = 0;
    }
}

/* ---- the rules ---------------------------------------------------------- */

/* Adds name with due to out, keeping the earliest due of a repeated name. */
static void out_add(hd_alert_out_t *out, const char *name, int64_t due)
{
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->notify[i], name) == 0) {
            if (due < out->due[i]) out->due[i] = due;
            return;
        }
    if (out->n < HD_ALERT_NOTIFY_MAX) {
        out->notify[out->n] = name;
        out->due[out->n++] = due;
    }
}

enum { NEED_ANY, NEED_RESOLVED, NEED_REMIND };

/* The rule's own copy of name, from a rule matching subj that lists it and
 * has what need asks for; NULL when none. */
static const char *rule_name(const hd_alert_rule_t *rules, size_t nrules,
                             const hd_match_subject_t *subj, const char *name, int need)
{
    for (size_t r = 0; r < nrules; r++) {
        const hd_alert_rule_t *ru = &rules[r];
        if (need == NEED_RESOLVED && !ru->send_resolved) continue;
        if (need == NEED_REMIND && !ru->remind_every_us) continue;
        if (!hd_match(&ru->match, subj)) continue;
        for (size_t i = 0; ru->notify && ru->notify[i]; i++)
            if (strcmp(ru->notify[i], name) == 0) return ru->notify[i];
    }
    return NULL;
}

/* Every notifier of the rules matching subj, due now (+ the rule's for:
 * when with_for). */
static void all_notifiers(const hd_alert_rule_t *rules, size_t nrules,
                          const hd_match_subject_t *subj, int64_t now, int with_for,
                          hd_alert_out_t *out)
{
    for (size_t r = 0; r < nrules; r++) {
        if (!hd_match(&rules[r].match, subj)) continue;
        for (size_t i = 0; rules[r].notify && rules[r].notify[i]; i++)
            out_add(out, rules[r].notify[i], now + (with_for ? rules[r].for_us : 0));
    }
}

/* The told notifiers (not held) that a matching rule lists with need. */
static void told_notifiers(const hd_alert_state_t *as, const hd_alert_rule_t *rules, size_t nrules,
                           const hd_match_subject_t *subj, int need, int64_t now,
                           hd_alert_out_t *out)
{
    for (int i = 0; i < HD_ALERT_NOTIFY_MAX && as->told[i]; i++) {
        if (as->held[i]) continue;
        const char *name = rule_name(rules, nrules, subj, as->told[i], need);
        if (name) out_add(out, name, now);
    }
}

/* A failure is alerted on: deliveries to every matching rule's notifiers,
 * held for the rule's for:. */
static int trigger(hd_alert_state_t *as, const hd_alert_rule_t *rules, size_t nrules,
                   const hd_match_subject_t *subj, int64_t now, hd_alert_out_t *out)
{
    out->kind = HD_ALERT_TRIGGERED;
    out->since = as->since;
    all_notifiers(rules, nrules, subj, now, 1, out);
    as->last_remind = now;
    for (size_t i = 0; i < out->n; i++) {
        int held = out->due[i] > now;
        told_add(as, out->notify[i], held);
        if (held && out->due[i] > as->held_until) as->held_until = out->due[i];
    }
    return out->n > 0;
}

/* ---- changes ------------------------------------------------------------ */

static void record_change(hd_alert_state_t *as, int64_t now)
{
    if (as->nchanges == HD_ALERT_CHANGES_MAX) {
        memmove(as->changes, as->changes + 1, (HD_ALERT_CHANGES_MAX - 1) * sizeof(int64_t));
        as->nchanges--;
    }
    as->changes[as->nchanges++] = now;
}

static int changes_within(const hd_alert_state_t *as, int64_t now, int64_t window)
{
    int n = 0;
    for (unsigned i = 0; i < as->nchanges; i++)
        n += as->changes[i] > now - window;
    return n;
}

/* The held deliveries are cancelled: their notifiers were never told. */
static void cancel_held(hd_alert_state_t *as, hd_alert_out_t *out)
{
    out->cancel_held = 1;
    out->cancel_seq = as->held_seq;
    for (int i = HD_ALERT_NOTIFY_MAX - 1; i >= 0; i--)
        if (as->told[i] && as->held[i]) told_del(as, i);
    as->held_until = 0;
    as->held_seq = 0;
}

int hd_alert_change(hd_alert_state_t *as, const hd_alert_rule_t *rules, size_t nrules,
                    const hd_match_subject_t *subj, const hd_alert_flap_t *flap, int in_window,
                    hd_check_status_t old, hd_check_status_t now_status, int64_t now,
                    hd_alert_out_t *out)
{
    memset(out, 0, sizeof(*out));
    if (old == now_status) return 0;
    if (as->held_until > now) {
        cancel_held(as, out);
    } else if (as->held_until) { /* due already: those notifiers are told */
        as->held_until = 0;
        as->held_seq = 0;
        memset(as->held, 0, sizeof(as->held));
    }
    /* Paused: silent. The failure, if any, stays the one alerted on. */
    if (now_status == HD_CHECK_MAINTENANCE) return 0;
    if (old == HD_CHECK_MAINTENANCE) {
        /* Resumed: an alert only when it comes back otherwise than it left. */
        if (failing(now_status) == (as->since != 0)) return 0;
        old = as->since ? HD_CHECK_CRITICAL : HD_CHECK_PASSING;
    }
    record_change(as, now);
    if (!as->flapping && changes_within(as, now, flap->window_us) > flap->changes) {
        as->flapping = 1;
        if (failing(now_status) && !as->since) as->since = now;
        if (in_window) return 0;
        out->kind = HD_ALERT_FLAPPING;
        out->since = as->since;
        all_notifiers(rules, nrules, subj, now, 0, out);
        for (size_t i = 0; i < out->n; i++)
            told_add(as, out->notify[i], 0);
        return out->n > 0;
    }
    if (as->flapping) return 0; /* flapping_end tells where it settled */
    if (in_window) {
        if (failing(now_status) && !as->since) {
            as->since = now;
            as->quiet = 1;
        } else if (!failing(now_status)) {
            as->since = 0;
            as->quiet = 0;
            told_clear(as);
        }
        return 0;
    }
    if (failing(now_status)) {
        if (!as->since) as->since = now;
        as->quiet = 0;
        return trigger(as, rules, nrules, subj, now, out);
    }
    /* Passing again: resolved, to the notifiers told of the failure. */
    out->kind = HD_ALERT_RESOLVED;
    out->since = as->since;
    told_notifiers(as, rules, nrules, subj, NEED_RESOLVED, now, out);
    as->since = 0;
    as->quiet = 0;
    as->last_remind = 0;
    told_clear(as);
    return out->n > 0;
}

int hd_alert_tick(hd_alert_state_t *as, const hd_alert_rule_t *rules, size_t nrules,
                  const hd_match_subject_t *subj, const hd_alert_flap_t *flap, int in_window,
                  hd_check_status_t status, int64_t now, hd_alert_out_t *out)
{
    memset(out, 0, sizeof(*out));
    if (as->held_until && as->held_until <= now) { /* the held deliveries are due now */
        as->held_until = 0;
        as->held_seq = 0;
        memset(as->held, 0, sizeof(as->held));
    }
    if (status == HD_CHECK_MAINTENANCE) return 0;
    if (as->flapping) {
        if (as->nchanges && as->changes[as->nchanges - 1] > now - flap->window_us) return 0;
        as->flapping = 0;
        as->nchanges = 0;
        out->kind = HD_ALERT_FLAPPING_END;
        told_notifiers(as, rules, nrules, subj, NEED_ANY, now, out);
        if (failing(status)) {
            as->since = now;
            as->last_remind = now;
            out->since = now;
        } else {
            as->since = 0;
            told_clear(as);
        }
        return !in_window && out->n > 0;
    }
    if (in_window || !failing(status) || !as->since) return 0;
    if (as->quiet) { /* failed in a window that has closed since */
        as->quiet = 0;
        return trigger(as, rules, nrules, subj, now, out);
    }
    int64_t every = 0;
    for (size_t r = 0; r < nrules; r++)
        if (rules[r].remind_every_us && (!every || rules[r].remind_every_us < every) &&
            hd_match(&rules[r].match, subj))
            every = rules[r].remind_every_us;
    if (!every || now < as->last_remind + every) return 0;
    as->last_remind = now;
    out->kind = HD_ALERT_REMINDER;
    out->since = as->since;
    told_notifiers(as, rules, nrules, subj, NEED_REMIND, now, out);
    return out->n > 0;
}

void hd_alert_stored(hd_alert_state_t *as, const hd_alert_out_t *out, uint64_t seq, int64_t now)
{
    for (size_t i = 0; i < out->n; i++)
        if (out->due[i] > now && as->held_until) {
            as->held_seq = seq;
            return;
        }
}

/* ---- maintenance windows ------------------------------------------------- */

int hd_alert_window_open(const hd_alert_window_t *w, int64_t now)
{
    if (now < w->start_us) return 0;
    int64_t off = now - w->start_us;
    if (w->every == HD_WINDOW_DAY) off %= DAY_US;
    if (w->every == HD_WINDOW_WEEK) off %= 7 * DAY_US;
    return off < w->duration_us;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int hd_alert_parse_time(const char *s, int64_t *us)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) < 20) return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 6) frac = frac * 10 + (*p - '0');
        if (nd == 0 || nd > 9) return -1;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 60LL + om) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p) return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + se - off;
    *us = secs * 1000000 + frac;
    return 0;
}

/* ---- the stored form ------------------------------------------------------ */

int hd_alert_state_empty(const hd_alert_state_t *as)
{
    return !as->since && !as->last_remind && !as->held_until && !as->flapping && !as->quiet &&
           !as->nchanges && !as->told[0];
}

json_t *hd_alert_state_to_json(const hd_alert_state_t *as)
{
    json_t *o = json_object();
    if (as->since) json_object_set_new(o, "since", json_integer(as->since));
    if (as->last_remind) json_object_set_new(o, "last_remind", json_integer(as->last_remind));
    if (as->held_until) json_object_set_new(o, "held_until", json_integer(as->held_until));
    if (as->held_seq) json_object_set_new(o, "held_seq", json_integer((json_int_t)as->held_seq));
    if (as->flapping) json_object_set_new(o, "flapping", json_true());
    if (as->quiet) json_object_set_new(o, "quiet", json_true());
    if (as->nchanges) {
        json_t *a = json_array();
        for (unsigned i = 0; i < as->nchanges; i++)
            json_array_append_new(a, json_integer(as->changes[i]));
        json_object_set_new(o, "changes", a);
    }
    if (as->told[0]) {
        json_t *t = json_array(), *h = json_array();
        for (int i = 0; i < HD_ALERT_NOTIFY_MAX && as->told[i]; i++) {
            json_array_append_new(t, json_string(as->told[i]));
            json_array_append_new(h, json_boolean(as->held[i]));
        }
        json_object_set_new(o, "told", t);
        json_object_set_new(o, "held", h);
    }
    return o;
}

static int64_t int_of(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

void hd_alert_state_from_json(const json_t *o, hd_alert_state_t *as)
{
    memset(as, 0, sizeof(*as));
    if (!json_is_object(o)) return;
    as->since = int_of(o, "since");
    as->last_remind = int_of(o, "last_remind");
    as->held_until = int_of(o, "held_until");
    as->held_seq = (uint64_t)int_of(o, "held_seq");
    as->flapping = json_is_true(json_object_get(o, "flapping"));
    as->quiet = json_is_true(json_object_get(o, "quiet"));
    const json_t *ch = json_object_get(o, "changes"), *t = json_object_get(o, "told"),
                 *h = json_object_get(o, "held");
    size_t i;
    const json_t *v;
    json_array_foreach(ch, i, v)
    {
        if (as->nchanges < HD_ALERT_CHANGES_MAX && json_is_integer(v))
            as->changes[as->nchanges++] = json_integer_value(v);
    }
    json_array_foreach(t, i, v)
    {
        if (json_is_string(v) && json_string_length(v) > 0)
            told_add(as, json_string_value(v), json_is_true(json_array_get(h, i)));
    }
}

void hd_alert_state_copy(hd_alert_state_t *dst, const hd_alert_state_t *src)
{
    *dst = *src;
    for (int i = 0; i < HD_ALERT_NOTIFY_MAX; i++)
        dst->told[i] = src->told[i] ? hd_xstrdup(src->told[i]) : NULL;
}

void hd_alert_state_free(hd_alert_state_t *as)
{
    told_clear(as);
}

static void names_free(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

void hd_alert_rule_copy(hd_alert_rule_t *dst, const hd_alert_rule_t *src)
{
    *dst = *src;
    hd_match_copy(&dst->match, &src->match);
    dst->id = src->id ? hd_xstrdup(src->id) : NULL;
    dst->tenant = src->tenant ? hd_xstrdup(src->tenant) : NULL;
    size_t n = 0;
    while (src->notify && src->notify[n])
        n++;
    dst->notify = src->notify ? hd_xcalloc(n + 1, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++)
        dst->notify[i] = hd_xstrdup(src->notify[i]);
}

static json_t *names_json(char *const *l)
{
    json_t *a = json_array();
    for (size_t i = 0; l && l[i]; i++)
        json_array_append_new(a, json_string(l[i]));
    return a;
}

static json_t *duration_json(int64_t us)
{
    char t[32];
    if (us % 1000000 == 0)
        snprintf(t, sizeof(t), "%llds", (long long)(us / 1000000));
    else if (us % 1000 == 0)
        snprintf(t, sizeof(t), "%lldms", (long long)(us / 1000));
    else
        snprintf(t, sizeof(t), "%lldus", (long long)us);
    return json_string(t);
}

json_t *hd_alert_rule_to_json(const hd_alert_rule_t *r)
{
    json_t *o = json_object(), *m = json_object();
    if (r->match.checks) json_object_set_new(m, "checks", names_json(r->match.checks));
    if (r->match.services) json_object_set_new(m, "services", names_json(r->match.services));
    if (r->match.tags) json_object_set_new(m, "tags", names_json(r->match.tags));
    if (r->match.tenant) json_object_set_new(m, "tenant", json_string(r->match.tenant));
    if (r->id) json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "source", json_string(r->id ? "api" : "config"));
    json_object_set_new(o, "tenant", r->tenant ? json_string(r->tenant) : json_null());
    json_object_set_new(o, "match", m);
    json_object_set_new(o, "notify", names_json(r->notify));
    json_object_set_new(o, "for", duration_json(r->for_us));
    json_object_set_new(o, "send_resolved", json_boolean(r->send_resolved));
    if (r->remind_every_us)
        json_object_set_new(o, "remind_every", duration_json(r->remind_every_us));
    return o;
}

void hd_alert_rule_free(hd_alert_rule_t *r)
{
    free(r->id);
    free(r->tenant);
    hd_match_free(&r->match);
    names_free(r->notify);
    memset(r, 0, sizeof(*r));
}

void hd_alert_window_free(hd_alert_window_t *w)
{
    hd_match_free(&w->match);
    memset(w, 0, sizeof(*w));
}
