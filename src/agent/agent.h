/* agent — `heed agent`'s core: runs the configured and API-created checks
 * on one loop, keeps their state and history in the store, and owns the
 * caches that Consul's routes read (catalog, KV, sessions).
 *
 * This header is the agent's whole public face, for the command that runs
 * it (src/cmd/agent.c) and for the API's resource handlers (in src/api/):
 * they see an opaque hd_agent_t and hd_agent_check_t and these functions,
 * never agent_impl.h. The agent knows nothing of HTTP: the command makes
 * the API server, registers the routes and listens, and tells the agent
 * through the hooks below what it must know of the API (the API's check of
 * a config, a reload's new tokens, limits and TLS files).
 *
 * Life, in this order (src/cmd/agent.c):
 *   hd_agent_open     config checked (o->check_api), store opened and
 *                     loaded, catalog, KV and sessions loaded, the config
 *                     file's services committed: all before the API listens
 *   (the command)     makes the API server on hd_agent_base, registers the
 *                     routes, listens, hd_agent_on_reload, hd_agent_api_bound
 *   hd_agent_run      runs the checks until SIGTERM or SIGINT
 *   hd_agent_close    stops the checks, writes what the store is owed and
 *                     closes the store (answering every write in flight)
 *   (the command)     frees the API server: held requests wait on the
 *                     caches' topics until it goes
 *   hd_agent_free     frees the caches and the loop.
 *
 * The visibility rule for checks (which checks a request may see: its
 * tenant, and a check neither being created nor being deleted) is
 * hd_agent_check_find and hd_agent_check_next, written once in agent.c on
 * hd_scope_has (agent/tenant.h). */
#ifndef HD_AGENT_H
#define HD_AGENT_H

#include "agent/check.h"
#include "agent/config.h"
#include "agent/tenant.h"
#include "probe/probe.h"
#include "util/hist.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct hd_store_s;
struct hd_catalog_s;
struct hd_kv_s;
struct hd_session_reg_s;

typedef struct hd_agent_s hd_agent_t;
typedef struct hd_agent_check_s hd_agent_check_t;

/* The API's judgement of cfg short of binding (tokens beyond loopback,
 * TLS unless allow_plaintext, TLS files that load): 0, or -1 with what to
 * change in err. Given by the command, which knows the API server. */
typedef int (*hd_agent_api_check_fn)(const hd_config_t *cfg, char *err, size_t errlen);

typedef struct hd_agent_opts_s {
    const char *config_path;         /* NULL with dev */
    int dev;                         /* --dev: a temporary data dir, loopback, sample checks */
    const char *bind;                /* overrides the config's bind ("host:port"), or NULL */
    const char *data_dir;            /* overrides the config's data_dir, or NULL */
    hd_agent_api_check_fn check_api; /* start-up and --validate ask it; NULL: no API check */
    int log_json;                    /* --log-format json: status changes as JSON lines */
} hd_agent_opts_t;

/* ---- life ------------------------------------------------------------------ */

/* Opens the agent as o says: checks the config (agent/preflight.h), makes
 * data_dir, opens and loads the store, loads the catalog, KV and sessions,
 * writes the local node and commits the config file's services; no check
 * runs yet. Returns 0 with *out, or -1 with the reason printed on stderr
 * (nothing left to free). */
int hd_agent_open(const hd_agent_opts_t *o, hd_agent_t **out);

/* Runs the checks until SIGTERM or SIGINT (SIGHUP reloads the config
 * file, asking the reload hook). Returns 0. */
int hd_agent_run(hd_agent_t *a);

/* Stops the checks, writes every state the store is owed and closes the
 * store, which answers the writes in flight (their callbacks run now). The
 * caches stay for hd_agent_free. */
void hd_agent_close(hd_agent_t *a);

/* Frees what hd_agent_close left: the caches (catalog, KV, sessions), the
 * checks, the loop, and --dev's data dir. The API server must be gone. */
void hd_agent_free(hd_agent_t *a);

/* Takes the API's part of a reloaded config: next's tokens, limits, rate
 * limits and TLS files (next->bind_host is the running one). Returns 0,
 * or -1 with err, and then nothing changed and the reload is refused. */
typedef int (*hd_agent_reload_fn)(void *arg, const hd_config_t *next, char *err, size_t errlen);

/* Sets the hook a SIGHUP reload asks before it takes a new config; none:
 * reloads take it without asking. */
void hd_agent_on_reload(hd_agent_t *a, hd_agent_reload_fn fn, void *arg);

/* Tells the agent the port its API listens on: with --dev and --bind
 * HOST:0, the sample check of the agent's own port follows it, and alerts
 * link to the dashboard there (the bind address, or the node's name when
 * the agent binds every address). */
void hd_agent_api_bound(hd_agent_t *a, int port);

/* ---- what the API reads -------------------------------------------------------- */

/* The running configuration (after --bind and --data-dir, and reloads). */
const hd_config_t *hd_agent_config(const hd_agent_t *a);
/* The agent's loop. */
struct event_base *hd_agent_base(const hd_agent_t *a);
/* The probes' shared environment (resolver, ICMP engine): /v1/ping's. */
hd_probe_env_t *hd_agent_probe_env(hd_agent_t *a);
/* The store: history reads, and the store's own counters. */
struct hd_store_s *hd_agent_store(const hd_agent_t *a);
/* The caches Consul's routes read: nodes, services and checks
 * (agent/catalog.h), KV (agent/kv.h), sessions (agent/session.h). */
struct hd_catalog_s *hd_agent_catalog(const hd_agent_t *a);
struct hd_kv_s *hd_agent_kv(const hd_agent_t *a);
struct hd_session_reg_s *hd_agent_sessions(const hd_agent_t *a);
/* How many checks the registry holds, of every tenant, being created or
 * deleted included: an upper bound for a walk with hd_agent_check_next. */
size_t hd_agent_check_count(const hd_agent_t *a);

/* The agent's counters, for /v1/status and /metrics. */
typedef struct hd_agent_stats_s {
    uint64_t results_total;       /* check results since start */
    uint64_t skipped_total;       /* runs skipped: the previous one still running */
    uint64_t state_failed_total;  /* state writes that failed (disk full, I/O error) */
    uint64_t reloads_total;       /* successful SIGHUP reloads */
    uint64_t reload_errors_total; /* reloads refused */
    size_t state_owed;            /* checks whose state the store does not have yet */
    int64_t started_wall;         /* when the agent started to run, epoch µs */
    const hd_hist_t *sched_lag;   /* a check's due time to its start */
    const hd_hist_t *loop_lag;    /* lateness of the one-second tick */
    const hd_hist_t *commit_lat;  /* a state write's request to its durable commit */
    uint64_t alert_events_lost;   /* alert events dropped while waiting for their check's write */
} hd_agent_stats_t;

/* Fills *st with the agent's counters now (the histograms are the live
 * ones: read them before the loop turns). */
void hd_agent_stats(const hd_agent_t *a, hd_agent_stats_t *st);

/* ---- checks -------------------------------------------------------------------- */

/* A check's definition and state, read-only: the agent changes them only
 * through the functions below (or its own runs). */
const hd_check_def_t *hd_agent_check_def(const hd_agent_check_t *c);
const hd_check_state_t *hd_agent_check_state(const hd_agent_check_t *c);
/* The alert outbox (agent/outbox.h); NULL before the agent is open. */
struct hd_outbox_s *hd_agent_outbox(hd_agent_t *a);

/* ---- alerting: notifiers and rules (agent/alerting.c) ------------------------
 * The config file's are read-only; the API's are stored under
 * heed/alerting/ and belong to the tenant of the token that made them.
 * The changing calls return 0 and answer cb(status, arg) once the change is
 * durable and applied (status 0, or a store error), or return an HTTP
 * status (400, 403, 404, 409) with the reason in err (cb never called). */
typedef void (*hd_agent_alerting_cb)(int status, void *arg);
struct hd_notifier_def_s;
struct hd_alert_rule_s;
/* The notifiers scope s sees, secrets masked, with "source" and "tenant". */
json_t *hd_agent_notifiers_json(hd_agent_t *a, const hd_scope_t *s);
/* The rules scope s sees. */
json_t *hd_agent_rules_json(hd_agent_t *a, const hd_scope_t *s);
/* Adds notifier def (taken, even on error) for tenant (NULL: none): exec is
 * refused (403), a webhook URL must pass alerting.webhook_allow (403), the
 * name must be new (409); with replace, it replaces the API-made one of
 * that name in the tenant (404 when none, 403 for the config file's). */
int hd_agent_notifier_add(hd_agent_t *a, struct hd_notifier_def_s *def, const char *tenant,
                          int replace, hd_agent_alerting_cb cb, void *arg, char *err,
                          size_t errlen);
int hd_agent_notifier_delete(hd_agent_t *a, const hd_scope_t *s, const char *name,
                             hd_agent_alerting_cb cb, void *arg, char *err, size_t errlen);
/* Adds rule r (taken, even on error; r->id set) for tenant: its notifiers
 * must exist and be within the tenant's reach (400), its id new (409);
 * with replace, the tenant's rule of that id is replaced (404 when none). */
int hd_agent_rule_add(hd_agent_t *a, struct hd_alert_rule_s *r, const char *tenant, int replace,
                      hd_agent_alerting_cb cb, void *arg, char *err, size_t errlen);
int hd_agent_rule_delete(hd_agent_t *a, const hd_scope_t *s, const char *id,
                         hd_agent_alerting_cb cb, void *arg, char *err, size_t errlen);
/* Results of the check since start. */
uint64_t hd_agent_check_runs(const hd_agent_check_t *c);
/* tls checks: the certificate's notAfter, epoch seconds; 0 unknown. */
int64_t hd_agent_check_cert_expiry(const hd_agent_check_t *c);
/* 1 when a held check (hd_agent_check_hold) was deleted meanwhile. */
int hd_agent_check_removed(const hd_agent_check_t *c);

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
 * the check may be removed meanwhile (hd_agent_check_removed), not freed.
 * Each hold is paired with a release. */
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
