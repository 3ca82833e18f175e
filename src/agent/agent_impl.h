/* agent_impl — the agent's insides, shared by agent.c and the API's
 * resource handlers (src/api/checks.c, ...). Nothing else includes it. */
#ifndef HD_AGENT_IMPL_H
#define HD_AGENT_IMPL_H

#include "api/routes.h"
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
struct hd_api_s;
struct hd_catalog_s;

#define HD_AGENT_OUTPUT_THROTTLE_US (60LL * 1000000) /* output-only changes: one write a minute */
#define HD_AGENT_KEY_CHECKS         "heed/checks/"   /* + tenant/id: an API-created definition */
#define HD_AGENT_KEY_STATE          "heed/state/"    /* + tenant/id: a check's state */
#define HD_AGENT_KEY_LAYOUT         "heed/layout"    /* the key layout's version (migrate.c) */
#define HD_AGENT_LAYOUT             "2"              /* 2: per-tenant ids; absent: before */

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
} hd_agent_check_t;

struct hd_agent_s {
    struct event_base *base;
    hd_config_t cfg;
    char *config_path;  /* for SIGHUP; NULL in --dev */
    char *opt_bind;     /* --bind, re-applied on SIGHUP; NULL without */
    char *opt_data_dir; /* --data-dir, likewise */
    long nofile;        /* the open-file limit after raising it */
    char *tmp_dir;      /* --dev's data dir, removed at exit */
    hd_probe_env_t env;
    hd_sched_t sched;
    struct hd_store_s *store;
    struct hd_api_s *api;
    struct hd_kv_s *kv;                /* Consul's KV (agent/kv.h) */
    struct hd_session_reg_s *sessions; /* its sessions (agent/session.h) */
    hd_api_consul_ctx_t consul;        /* what the Consul routes serve from */
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
    int closing;                    /* agent_free runs: no new writes from answers */
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
};

/* Checks whose state the store does not have yet: changed since their last
 * durable write, or whose write failed and waits for a retry. */
size_t hd_agent_state_owed(const hd_agent_t *a);

/* Completion of an agent write: status 0 or an HD_STORE_E* code; c is the
 * check afterwards (NULL after a delete or a failure). */
typedef void (*hd_agent_done_cb)(int status, hd_agent_check_t *c, void *arg);

/* The check id of tenant (NULL: "default"), being created or deleted
 * included, or NULL. For conflicts; reads use hd_agent_check_find. */
hd_agent_check_t *hd_agent_check_get(hd_agent_t *a, const char *tenant, const char *id);
/* The check id that a request of scope s (which names one tenant) may
 * see, or NULL: for a check that does not exist, that is being created or
 * deleted, or that is another tenant's alike. */
hd_agent_check_t *hd_agent_check_find(hd_agent_t *a, const hd_scope_t *s, const char *id);
/* The next check a request of scope s may see, in no particular order:
 * start with *pos = 0; NULL at the end. The registry must not change
 * during the walk. */
hd_agent_check_t *hd_agent_check_next(hd_agent_t *a, const hd_scope_t *s, size_t *pos);
/* Whether the config lets d (from the API) run: exec: needs
 * enable_api_exec_checks, file:// enable_api_file_checks or a path under
 * api_file_paths (Consul's lesson: the API must not be a way to run
 * commands or to learn which files exist). 1, or 0 with the refusal's
 * code ("exec_forbidden", "file_forbidden") and message. Config-file
 * checks and TTL checks always may. */
int hd_agent_api_target_allowed(const hd_config_t *cfg, const hd_check_def_t *d, const char **code,
                                char *why, size_t whylen);
/* Keeps c's memory while a reply still has to show it (a streamed list):
 * the check may be removed meanwhile (c->removed), not freed. Each hold
 * is paired with a release. */
void hd_agent_check_hold(hd_agent_check_t *c);
void hd_agent_check_release(hd_agent_check_t *c);
/* Stores a new API-created definition (taking def) and starts it once the
 * write is durable. HD_STORE_ECONFLICT when its tenant has the id. */
int hd_agent_check_create(hd_agent_t *a, hd_check_def_t *def, hd_agent_done_cb cb, void *arg);
/* Replaces an API-created check's definition (taking def). A def of
 * another tenant moves the check there, with its state and history:
 * HD_STORE_ECONFLICT when that tenant has the id. */
int hd_agent_check_replace(hd_agent_t *a, hd_agent_check_t *c, hd_check_def_t *def,
                           hd_agent_done_cb cb, void *arg);
/* Deletes a check, its definition and its state. */
int hd_agent_check_delete(hd_agent_t *a, hd_agent_check_t *c, hd_agent_done_cb cb, void *arg);
/* Pauses (maintenance) or resumes a check, durably: the check shows the
 * change only once it is written; a write that fails changes nothing. */
int hd_agent_check_pause(hd_agent_t *a, hd_agent_check_t *c, int paused, hd_agent_done_cb cb,
                         void *arg);
/* A TTL check's report from its service: status and output. A status
 * change is written durably and shown once written (returns 0, cb
 * follows; a failed write changes nothing); an unchanged status with new
 * output needs no durable write: returns 1, shown at once, cb not called. */
int hd_agent_check_ttl_update(hd_agent_t *a, hd_agent_check_t *c, hd_status_t status,
                              const char *output, hd_agent_done_cb cb, void *arg);

#endif
