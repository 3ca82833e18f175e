/* agent_impl — the agent's insides, shared by agent.c and migrate.c.
 * Nothing outside src/agent/ includes it: the API and the command see
 * agent/agent.h. */
#ifndef HD_AGENT_IMPL_H
#define HD_AGENT_IMPL_H

#include "agent/agent.h"
#include "agent/alert.h"
#include "agent/check.h"
#include "agent/config.h"
#include "agent/sched.h"
#include "agent/tenant.h"
#include "probe/probe.h"
#include "util/hist.h"
#include "util/map.h"

#include <stdint.h>

struct event_base;
struct event;
struct hd_store_s;
struct hd_store_op_s;
struct hd_outbox_s;
struct hd_outbox_event_s;
struct hd_outbox_scratch_s;
struct hd_catalog_s;

#define HD_AGENT_OUTPUT_THROTTLE_US (60LL * 1000000) /* output-only changes: one write a minute */
#define HD_AGENT_KEY_CHECKS         "heed/checks/"   /* + tenant/id: an API-created definition */
#define HD_AGENT_KEY_STATE          "heed/state/"    /* + tenant/id: a check's state */
#define HD_AGENT_KEY_LAYOUT         "heed/layout"    /* the key layout's version (migrate.c) */
#define HD_AGENT_LAYOUT             "2"              /* 2: per-tenant ids; absent: before */

struct hd_agent_check_s {
    hd_check_def_t def;
    hd_check_state_t st;
    hd_sched_item_t item; /* next run (probes) or TTL expiry (ttl checks) */
    hd_agent_t *agent;
    hd_probe_t *running;                 /* the run in flight */
    int64_t state_written;               /* wall time of the last state write */
    int64_t cert_expiry;                 /* tls: the certificate's notAfter, epoch seconds */
    uint64_t runs;                       /* results so far */
    struct hd_agent_check_s *state_next; /* in the agent's state-write queue */
    int refs;                            /* writes in flight that point here */
    /* What the store owes (agent.c, "state writes"): gen counts the changes
     * of st that must reach the disk; gen_disk is the one the disk has. */
    uint32_t gen, gen_disk;
    uint16_t changes_waiting; /* API changes (pause, TTL) waiting for `writing` to end */
    /* Flags, 0 or 1 unless said (a byte each: 10,000 checks). */
    unsigned char state_queued; /* in that queue (which holds a reference) */
    unsigned char state_dirty;  /* an output change waits for the throttle */
    unsigned char writing;      /* a state write is in flight: 1 from the queue or a
                                   shutdown, 2 an API change (one at a time per check) */
    unsigned char retry;        /* the last state write failed: the retry round writes it */
    unsigned char removed;      /* deleted: freed when refs drop to 0 */
    unsigned char pending;      /* created, not yet durable: invisible to reads */
    unsigned char in_window;    /* a maintenance window covering it is open: shown as
                                   maintenance (agent_alerts.c) */
    unsigned char nev;          /* alert events waiting in ev_head */
    /* Alert events made by status changes, waiting for the check's next
     * state write, which stores them in its transaction (agent_alerts.c). */
    struct hd_outbox_event_s *ev_head, *ev_tail;
    uint64_t cancel_seq;   /* the stored event whose held deliveries the next write cancels */
    hd_check_state_t view; /* hd_agent_check_state's answer while in_window */
};

struct hd_agent_s {
    struct event_base *base;
    hd_config_t cfg;
    char *config_path;  /* for SIGHUP; NULL in --dev */
    char *opt_bind;     /* --bind, re-applied on SIGHUP; NULL without */
    char *opt_data_dir; /* --data-dir, likewise */
    int dev;            /* --dev: its sample check of the API's port follows --bind */
    int log_json;       /* --log-format json: status-change lines as JSON */
    char *ui_url;       /* the dashboard's URL once the API listens (alerts link to it) */
    char *tmp_dir;      /* --dev's data dir, removed at exit */
    hd_probe_env_t env;
    hd_sched_t sched;
    struct hd_store_s *store;
    hd_agent_reload_fn reload_fn; /* the API's part of a reload (hd_agent_on_reload) */
    void *reload_arg;
    struct hd_kv_s *kv;                /* Consul's KV (agent/kv.h) */
    struct hd_session_reg_s *sessions; /* its sessions (agent/session.h) */
    struct hd_catalog_s *catalog;      /* nodes, services, checks: what Consul's routes read */
    hd_map_t checks;                   /* "tenant/id" (agent/tenant.h) -> hd_agent_check_t */
    struct event *sig_hup, *sig_term, *sig_int;
    struct event *tick; /* once a second: loop lag, throttled state writes */
    /* Checks whose state waits for a write slot, oldest first (agent.c:
     * state writes), and the state writes in flight from that queue. */
    struct hd_agent_check_s *state_head, *state_tail;
    size_t state_inflight;
    /* API state changes waiting for their check's write in flight, oldest
     * first; state-write retries after a failure (agent.c). */
    struct write_s *changes_head, *changes_tail;
    int64_t retry_due, retry_delay; /* monotonic time of the next retry round; its backoff */
    uint64_t state_failed_total;    /* state writes that failed (disk full, I/O error) */
    int write_failing;              /* the last state write failed (logged once) */
    int closing;                    /* hd_agent_close runs or ran: no new writes from answers */
    struct hist_row_s *hist_rows;   /* results waiting for the next history flush */
    size_t hist_n, hist_cap;
    struct event *hist_ev; /* flushes them a moment after the first */
    int64_t tick_due;
    hd_hist_t loop_lag;
    hd_hist_t commit_lat;
    uint64_t results_total;
    uint64_t skipped_total; /* runs skipped: the previous one still running */
    uint64_t reloads_total, reload_errors_total;
    int64_t started_wall;
    struct hd_outbox_s *outbox; /* alert events (agent/outbox.h); NULL: no alerts configured */
    uint64_t alert_events_lost; /* events dropped while waiting for their check's write */
    struct hd_notifier_s **notifiers; /* cfg.notifiers' (same order; NULL: refused at
                                         start), then the API's (alerting.c) */
    size_t nnotifiers;
    hd_alert_rule_t *rules; /* cfg.alerts' copies, then the API's (alerting.c) */
    size_t nrules;
};

/* agent_alerts.c: the alert engine's side of the agent. */

/* 1 when alert rules or maintenance windows are configured. */
int hd_agent_alerts_on(const hd_agent_t *a);
/* c's status goes from old to st->status at wall (st is c->st or the state
 * an API change is about to write): alert state in st updated, the event
 * made (if any) appended to the list at head and tail, a cancellation noted in c. */
void hd_agent_alert_change(hd_agent_t *a, hd_agent_check_t *c, hd_check_state_t *st,
                           hd_check_status_t old, int64_t wall, struct hd_outbox_event_s **head,
                           struct hd_outbox_event_s **tail);
/* Once a second: windows opening and closing, reminders, flapping ending.
 * Returns 1 when c's state must be written (an event waits). */
int hd_agent_alert_tick(hd_agent_t *a, hd_agent_check_t *c, int64_t wall);
/* The operations that store c's waiting events (then owned by *taken) and
 * its pending cancellation (*cancel), at most room of them; the held
 * event's sequence is noted in st's alert state. */
size_t hd_agent_alert_ops(hd_agent_t *a, hd_agent_check_t *c, hd_check_state_t *st,
                          struct hd_store_op_s *ops, size_t room, struct hd_outbox_scratch_s *sc,
                          struct hd_outbox_event_s **taken, uint64_t *cancel);
/* A write that carried taken and cancel answered with status. */
void hd_agent_alert_written(hd_agent_t *a, hd_agent_check_t *c, int status, int64_t rev,
                            struct hd_outbox_event_s *taken, uint64_t cancel);
/* Starts the outbox (after the states are loaded): 0, or -1 with err. */
int hd_agent_alerts_start(hd_agent_t *a, char *err, size_t errlen);
/* SIGHUP: the new file's alerts:, maintenance:, notify: and
 * alerting.flapping and webhook_allow replace the old (taken from cfg, which
 * gets the old ones to free); the API's rules and notifiers stay. The
 * outbox's settings (retries, cap, kept) change at a restart. */
void hd_agent_alerts_reload(hd_agent_t *a, hd_config_t *cfg);
/* Gives every notifier a->ui_url, the dashboard its alerts link to. */
void hd_agent_alerts_ui_url(hd_agent_t *a);
/* Stops sending and frees the notifiers (before the store closes). */
void hd_agent_alerts_stop(hd_agent_t *a);
/* alerting.c: reads the API-made notifiers and rules back from the store
 * (inside hd_agent_alerts_start). 0, or -1 with err. */
int hd_agent_alerting_load(hd_agent_t *a, char *err, size_t errlen);
/* Frees c's waiting events. */
void hd_agent_alert_check_free(hd_agent_check_t *c);

/* Checks whose state the store does not have yet: changed since their last
 * durable write, or whose write failed and waits for a retry. */
size_t hd_agent_state_owed(const hd_agent_t *a);

#endif
