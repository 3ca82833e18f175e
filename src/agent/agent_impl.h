/* agent_impl — the agent's insides, shared by agent.c and the API's
 * resource handlers (src/api/checks.c, ...). Nothing else includes it. */
#ifndef HD_AGENT_IMPL_H
#define HD_AGENT_IMPL_H

#include "agent/check.h"
#include "agent/config.h"
#include "agent/sched.h"
#include "probe/probe.h"
#include "util/hist.h"
#include "util/map.h"

#include <stdint.h>

struct event_base;
struct event;
struct hd_store_s;
struct hd_api_s;

#define HD_AGENT_OUTPUT_THROTTLE_US (60LL * 1000000) /* output-only changes: one write a minute */
#define HD_AGENT_KEY_CHECKS         "heed/checks/"   /* + id: an API-created definition */
#define HD_AGENT_KEY_STATE          "heed/state/"    /* + id: a check's state */

typedef struct hd_agent_s hd_agent_t;

typedef struct hd_agent_check_s {
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
    /* Flags, 0 or 1 (a byte each: 10,000 checks). */
    unsigned char state_queued; /* in that queue (which holds a reference) */
    unsigned char state_dirty;  /* an output change waits for the throttle */
    unsigned char removed;      /* deleted: freed when refs drop to 0 */
    unsigned char pending;      /* created, not yet durable: invisible to reads */
} hd_agent_check_t;

struct hd_agent_s {
    struct event_base *base;
    hd_config_t cfg;
    char *config_path; /* for SIGHUP; NULL in --dev */
    char *opt_bind;     /* --bind, re-applied on SIGHUP; NULL without */
    char *opt_data_dir; /* --data-dir, likewise */
    long nofile;        /* the open-file limit after raising it */
    char *tmp_dir;     /* --dev's data dir, removed at exit */
    hd_probe_env_t env;
    hd_sched_t sched;
    struct hd_store_s *store;
    struct hd_api_s *api;
    hd_map_t checks; /* id -> hd_agent_check_t */
    struct event *sig_hup, *sig_term, *sig_int;
    struct event *tick; /* once a second: loop lag, throttled state writes */
    /* Checks whose state waits for a write slot, oldest first (agent.c:
     * state writes), and the state writes in flight from that queue. */
    struct hd_agent_check_s *state_head, *state_tail;
    size_t state_inflight;
    struct hist_row_s *hist_rows; /* results waiting for the next history flush */
    size_t hist_n, hist_cap;
    struct event *hist_ev; /* flushes them a moment after the first */
    int64_t tick_due;
    hd_hist_t loop_lag;
    hd_hist_t commit_lat;
    uint64_t results_total;
    uint64_t skipped_total; /* runs skipped: the previous one still running */
    uint64_t reloads_total, reload_errors_total;
    int64_t started_wall;
};

/* Completion of an agent write: status 0 or an HD_STORE_E* code; c is the
 * check afterwards (NULL after a delete or a failure). */
typedef void (*hd_agent_done_cb)(int status, hd_agent_check_t *c, void *arg);

/* The check with id, or NULL. */
hd_agent_check_t *hd_agent_check_get(hd_agent_t *a, const char *id);
/* Keeps c's memory while a reply still has to show it (a streamed list):
 * the check may be removed meanwhile (c->removed), not freed. Each hold
 * is paired with a release. */
void hd_agent_check_hold(hd_agent_check_t *c);
void hd_agent_check_release(hd_agent_check_t *c);
/* Stores a new API-created definition (taking def) and starts it once the
 * write is durable. HD_STORE_ECONFLICT when the id exists. */
int hd_agent_check_create(hd_agent_t *a, hd_check_def_t *def, hd_agent_done_cb cb, void *arg);
/* Replaces an API-created check's definition (taking def). */
int hd_agent_check_replace(hd_agent_t *a, hd_agent_check_t *c, hd_check_def_t *def,
                           hd_agent_done_cb cb, void *arg);
/* Deletes a check, its definition and its state. */
int hd_agent_check_delete(hd_agent_t *a, hd_agent_check_t *c, hd_agent_done_cb cb, void *arg);
/* Pauses (maintenance) or resumes a check, durably. */
int hd_agent_check_pause(hd_agent_t *a, hd_agent_check_t *c, int paused, hd_agent_done_cb cb,
                         void *arg);
/* A TTL check's report from its service: status and output. A status
 * change is written durably (returns 0, cb follows); an unchanged status
 * with new output needs no durable write: returns 1 and cb is not called. */
int hd_agent_check_ttl_update(hd_agent_t *a, hd_agent_check_t *c, hd_status_t status,
                              const char *output, hd_agent_done_cb cb, void *arg);

#endif
