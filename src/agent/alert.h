/* alert — what an alert rule makes of a check's status changes: which
 * events are created (triggered, resolved, reminder, flapping,
 * flapping_end), for which notifiers, and when each delivery is due
 * (`for:` holds it). Also maintenance windows (open or not at a time) and
 * flapping (more than N status changes within a window).
 *
 * Pure: no I/O and no clock; times are passed in (wall microseconds). The
 * agent (agent.c) calls it on each status change and once a second, and
 * keeps the per-check hd_alert_state_t in the check's stored state, so that
 * a restart neither repeats nor forgets an alert. The outbox
 * (agent/outbox.c) stores and delivers what this decides. */
#ifndef HD_ALERT_H
#define HD_ALERT_H

#include "agent/check.h"
#include "agent/match.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HD_ALERT_NOTIFY_MAX  16 /* notifiers one event goes to, at most */
#define HD_ALERT_CHANGES_MAX 32 /* status change times kept for flapping */

typedef enum hd_alert_kind_e {
    HD_ALERT_TRIGGERED = 0, /* to warning or critical */
    HD_ALERT_RESOLVED,      /* back to passing */
    HD_ALERT_REMINDER,      /* still failing after remind_every */
    HD_ALERT_FLAPPING,      /* started flapping */
    HD_ALERT_FLAPPING_END,  /* settled: no change for a whole flapping window */
} hd_alert_kind_t;

/* An alert rule (`alerts:` in the config, or POST /v1/alerts). */
typedef struct hd_alert_rule_s {
    char *id;     /* API-made: its id; NULL: from the config file */
    char *tenant; /* API-made: the tenant of the token that made it (its checks only) */
    hd_match_t match;
    char **notify;           /* NULL-terminated notifier names, at least one */
    int64_t for_us;          /* the status must hold this long before anyone is told */
    int send_resolved;       /* default 1 */
    int64_t remind_every_us; /* 0: no reminders */
} hd_alert_rule_t;

typedef enum hd_alert_every_e {
    HD_WINDOW_ONCE = 0,
    HD_WINDOW_DAY,
    HD_WINDOW_WEEK,
} hd_alert_every_t;

/* A maintenance window (`maintenance:` in the config). */
typedef struct hd_alert_window_s {
    hd_match_t match;
    int64_t start_us;    /* wall time of the (first) opening */
    int64_t duration_us; /* > 0; shorter than the period when recurring */
    hd_alert_every_t every;
} hd_alert_window_t;

/* Flapping: more than changes status changes within window_us. */
typedef struct hd_alert_flap_s {
    int changes;       /* default 6; 2..30 */
    int64_t window_us; /* default 10 min */
} hd_alert_flap_t;

/* One check's alert state, kept with its state in the store. */
typedef struct hd_alert_state_s {
    int64_t since;       /* when the current failure began; 0: passing */
    int64_t last_remind; /* when the last reminder (or the failure's alert) was due */
    int64_t held_until;  /* deliveries of the last event are held until then; 0: none */
    uint64_t held_seq;   /* that event's outbox sequence (0: not stored yet) */
    int flapping;
    int quiet;                               /* the failure began in a maintenance window:
                                                alert when the window closes */
    unsigned nchanges;                       /* change times kept, oldest first */
    int64_t changes[HD_ALERT_CHANGES_MAX];   /* recent status change times */
    char *told[HD_ALERT_NOTIFY_MAX];         /* notifiers told (or due to be told) of the
                                                current failure; NULL-padded */
    unsigned char held[HD_ALERT_NOTIFY_MAX]; /* told[i]'s delivery is still held */
} hd_alert_state_t;

/* An event to create: its kind, and one delivery per notifier with its due
 * time (now, or now + for: held). */
typedef struct hd_alert_out_s {
    hd_alert_kind_t kind;
    size_t n;
    const char *notify[HD_ALERT_NOTIFY_MAX]; /* the rules' names: valid while the rules are */
    int64_t due[HD_ALERT_NOTIFY_MAX];
    int64_t since;       /* when the failure it is about began (a resolved's too); 0: none */
    int cancel_held;     /* the held deliveries of as->held_seq (or of the event still
                            waiting to be stored) are to be cancelled */
    uint64_t cancel_seq; /* that event's sequence, 0: not stored yet */
} hd_alert_out_t;

/* A check's status changed from old to now_status at now. rules are every
 * rule; those matching subj apply. in_window: a maintenance window covering
 * the check is open. Returns 1 when an event is to be created (out filled),
 * else 0; out->cancel_held is set either way. */
int hd_alert_change(hd_alert_state_t *as, const hd_alert_rule_t *rules, size_t nrules,
                    const hd_match_subject_t *subj, const hd_alert_flap_t *flap, int in_window,
                    hd_check_status_t old, hd_check_status_t now_status, int64_t now,
                    hd_alert_out_t *out);
/* Time passing (called about once a second): a reminder is due, flapping
 * has settled, a window closed on a failure. Returns 1 with out filled
 * when an event is to be created, else 0. */
int hd_alert_tick(hd_alert_state_t *as, const hd_alert_rule_t *rules, size_t nrules,
                  const hd_match_subject_t *subj, const hd_alert_flap_t *flap, int in_window,
                  hd_check_status_t status, int64_t now, hd_alert_out_t *out);
/* The event of out was stored as seq: its held deliveries are tracked. */
void hd_alert_stored(hd_alert_state_t *as, const hd_alert_out_t *out, uint64_t seq, int64_t now);

/* 1 when w is open at now, else 0. */
int hd_alert_window_open(const hd_alert_window_t *w, int64_t now);
/* Parses an RFC 3339 time ("2026-12-01T02:00:00Z", offsets and fractions
 * allowed) into wall microseconds. Returns 0, or -1. */
int hd_alert_parse_time(const char *s, int64_t *us);

/* "triggered", "resolved", "reminder", "flapping", "flapping_end". */
const char *hd_alert_kind_str(hd_alert_kind_t k);

/* The state as stored ({"since":..., "told": [...], ...}), and back. A
 * missing or malformed field reads as its zero. */
json_t *hd_alert_state_to_json(const hd_alert_state_t *as);
void hd_alert_state_from_json(const json_t *o, hd_alert_state_t *as);
/* 1 when as holds nothing worth storing. */
int hd_alert_state_empty(const hd_alert_state_t *as);
void hd_alert_state_copy(hd_alert_state_t *dst, const hd_alert_state_t *src);
void hd_alert_state_free(hd_alert_state_t *as);

void hd_alert_rule_free(hd_alert_rule_t *r);
void hd_alert_rule_copy(hd_alert_rule_t *dst, const hd_alert_rule_t *src);
/* r as JSON for GET /v1/alerts (the config's keys, durations as text). */
json_t *hd_alert_rule_to_json(const hd_alert_rule_t *r);
void hd_alert_window_free(hd_alert_window_t *w);

#endif
