/* check — what the agent knows about one check: its definition (from the
 * config file or the API) and its current state. The scheduler runs
 * definitions, the state machine turns results into states, the store keeps
 * both, the API shows them. */
#ifndef HD_CHECK_H
#define HD_CHECK_H

#include "probe/probe.h"
#include "probe/target.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hd_check_status_e {
    HD_CHECK_PASSING = 0,
    HD_CHECK_WARNING,
    HD_CHECK_CRITICAL,
    HD_CHECK_MAINTENANCE, /* paused by an operator */
} hd_check_status_t;

typedef struct hd_check_def_s {
    char *id; /* stable: "name" from the config, or assigned by the API */
    char *name;
    char *service_id;   /* the service it belongs to, NULL for a standalone check */
    char *tenant;       /* NULL: no tenant (management's own) */
    hd_target_t target; /* what to probe and the probe-level expectations */
    int64_t interval_us;
    int64_t timeout_us;
    int64_t ttl_us;          /* TTL checks: critical when not updated within this */
    int64_t latency_warn_us; /* expect.latency_ms: a slower pass is a warning; 0 = off */
    int ttl;                 /* a TTL check: no probe; the service reports through the API */
    int success_before_passing;
    int failures_before_warning;
    int failures_before_critical;
    int from_config;    /* defined in the config file (exec: allowed there) */
    int cert_days_left; /* expect.cert_days_left (https, tls): fewer days left fails; 0 = off */
    char **tags;        /* NULL-terminated, may be NULL */
    char *dns_expect;   /* expect.dns (dns://): a record the name must resolve to; NULL = any */
    char *notes;        /* free text for people (Consul's Notes); NULL: none */
    int64_t deregister_after_us; /* a service check critical this long deregisters its
                                    service (Consul's DeregisterCriticalServiceAfter); 0: never */
    int initial_status;          /* at creation only, never stored: 1 + the hd_check_status_t a new
                                    check starts with (Consul's Status); 0: critical, as always */
} hd_check_def_t;

/* The state the state machine keeps for a check. */
typedef struct hd_check_state_s {
    hd_check_status_t status;
    hd_reason_t reason;
    char *output; /* capped (4 KiB by default) */
    int64_t latency_us;
    int64_t last_checked; /* wall clock, microseconds since the epoch */
    int64_t last_change;  /* wall clock, when status last changed */
    int64_t last_success;
    int consecutive_ok;
    int consecutive_fail;
    int paused;
    struct hd_alert_state_s *alert; /* the alert engine's (agent/alert.h); NULL: none */
    hd_check_status_t before_pause; /* the status when paused, given back on resume */
} hd_check_state_t;

/* Frees everything a definition holds. */
void hd_check_def_free(hd_check_def_t *d);
/* 1 when a and b define the same check (every field of the definition, tags
 * in order), else 0. A config reload keeps the state of checks that compare
 * equal. */
int hd_check_def_equal(const hd_check_def_t *a, const hd_check_def_t *b);
/* "passing", "warning", "critical", "maintenance". */
const char *hd_check_status_str(hd_check_status_t s);

#endif
