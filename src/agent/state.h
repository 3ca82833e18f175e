/* state — the check state machine: turns each probe result into the
 * check's status with thresholds, as Gatus and Consul users expect:
 *
 *   - a pass counts towards success_before_passing; a check that is not
 *     passing becomes passing after that many passes in a row;
 *   - a failure (a critical result) counts towards failures_before_warning
 *     and failures_before_critical; at the first threshold the check is
 *     warning, at the second critical;
 *   - a warning result (exec exit 1, a certificate near expiry, a pass
 *     slower than expect.latency_ms) counts as a failure that can raise the
 *     check to warning but never to critical;
 *   - a paused check is in maintenance and ignores results; resumed, it has
 *     the status it had when paused until its next result (the agent runs
 *     it at once), so that pausing a healthy check does not page anyone;
 *
 * A new check starts critical ("not checked yet"), as Consul's do: nothing
 * is routed to a service before its checks pass. Pure: no I/O, no clock. */
#ifndef HD_STATE_H
#define HD_STATE_H

#include "agent/check.h"

enum {
    HD_STATE_STATUS_CHANGED = 1, /* status differs: write it now */
    HD_STATE_OUTPUT_CHANGED = 2, /* only the output differs: write when throttling allows */
};

/* Sets st to a new check's state at wall time now_us. */
void hd_state_init(hd_check_state_t *st, int64_t now_us);
/* Frees what st holds. */
void hd_state_free(hd_check_state_t *st);
/* Applies one result at wall time now_us; output is capped at output_max
 * bytes. Returns HD_STATE_* flags. */
int hd_state_apply(hd_check_state_t *st, const hd_check_def_t *d, const hd_result_t *r,
                   int64_t now_us, size_t output_max);
/* Pauses (maintenance) or resumes a check; resumed, it gets back the status
 * it had when paused (its output is still that of its last result). Returns
 * HD_STATE_* flags. */
int hd_state_pause(hd_check_state_t *st, int paused, int64_t now_us);
/* A TTL check's report from its service at wall time now_us: status
 * (passing, warning, critical) and output cut to max bytes (0: no limit).
 * A paused check ignores it (returns 0). Returns HD_STATE_* flags. */
int hd_state_ttl(hd_check_state_t *st, hd_check_status_t status, const char *output, int64_t now_us,
                 size_t max);
/* Sets dst to a copy of src (its own output); free it with hd_state_free. */
void hd_state_copy(hd_check_state_t *dst, const hd_check_state_t *src);
/* Sets the output to out cut below max bytes (0: no limit) at a UTF-8
 * character boundary; HD_STATE_OUTPUT_CHANGED when it differs, else 0. */
int hd_state_set_output(hd_check_state_t *st, const char *out, size_t max);

#endif
