/* history — every result of every check, kept local to the agent in its
 * SQLite store (never in etcd: high volume, no value to other nodes).
 *
 * Three tables with bounded retention (hd_store_config_t):
 *   raw  every result (time, status, reason, latency)        48 h
 *   1m   per check per minute: count, ok count, latency       30 days
 *        min/avg/max, worst status
 *   1h   the same per hour                                    365 days
 * Rollup and pruning run in small slices on the writer thread (a timer on
 * the loop asks for one slice per second, sooner while behind), inside the
 * group-commit transaction, so they never stall writes for long. Rollup
 * tables hold only finished buckets; queries add the unfinished part from
 * the finer table.
 *
 * Functions follow store.h's contract (callbacks later, on the loop; none
 * after an error return). They need the SQLite backend. */
#ifndef HD_HISTORY_H
#define HD_HISTORY_H

#include "agent/check.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hd_hist_step_e {
    HD_HIST_RAW = 0, /* every result */
    HD_HIST_1M,      /* per minute */
    HD_HIST_1H,      /* per hour */
} hd_hist_step_t;

typedef struct hd_hist_point_s {
    int64_t ts_us;      /* the result's time (raw) or the bucket's start, wall clock */
    int64_t count;      /* results in the bucket (1 for raw) */
    int64_t ok;         /* of which passing */
    int64_t lat_min_us; /* latency over the bucket's results */
    int64_t lat_avg_us;
    int64_t lat_max_us;
    hd_check_status_t worst; /* critical > warning > maintenance > passing */
    int reason;              /* raw only: the result's hd_reason_t; else 0 */
} hd_hist_point_t;

typedef struct hd_hist_series_s {
    const hd_hist_point_t *pts; /* in time order */
    size_t n;
    hd_hist_step_t step; /* the step answered: the one asked, or coarser when the finer
                            table no longer covers since */
} hd_hist_series_t;

typedef void (*hd_hist_query_cb)(int status, const hd_hist_series_t *series, void *arg);
/* more: the slice stopped at its budget; call again to finish. */
typedef void (*hd_hist_maint_cb)(int status, int more, void *arg);

/* One result, as hd_store_history_add_batch takes it. */
typedef struct hd_hist_row_s {
    const char *check_id; /* NUL-terminated; copied by the call */
    int64_t ts_us;        /* wall clock, microseconds since the epoch */
    hd_check_status_t status;
    int reason; /* the result's hd_reason_t */
    int64_t latency_us;
} hd_hist_row_t;

/* Appends n results, one request for them all: their ids are copied into
 * a single allocation and the writer stores them in one transaction. A bad
 * row (empty or long id, negative time or latency, unknown status) refuses
 * the whole call, nothing queued. History is best effort: rows that would
 * take the queue past hd_store_config_t.hist_queue_max_rows are dropped and
 * counted (hd_store_history_dropped), and the call still returns 0; cb (may
 * be NULL) answers for the rows kept. */
int hd_store_history_add_batch(hd_store_t *s, const hd_hist_row_t *rows, size_t n,
                               hd_store_write_cb cb, void *arg);
/* Appends one result of check_id at ts_us (wall clock, microseconds since
 * the epoch): a batch of one. cb may be NULL (the agent does not wait for
 * history). */
int hd_store_history_add(hd_store_t *s, const char *check_id, int64_t ts_us,
                         hd_check_status_t status, int reason, int64_t latency_us,
                         hd_store_write_cb cb, void *arg);
/* Renames the history of check name from to to: its rows are to's from
 * now on (merged with to's, whose rows win a clash of timestamps, when to
 * has rows already). Nothing to do when from has none. Requests are
 * answered in order, so rows added after this call under to follow the
 * renamed ones. cb may be NULL. */
int hd_store_history_rename(hd_store_t *s, const char *from, const char *to, hd_store_write_cb cb,
                            void *arg);
/* History rows dropped since open because the queue was full; 0 for NULL. */
int64_t hd_store_history_dropped(const hd_store_t *s);
/* History rows lost since open because their write failed (a full or
 * failing disk; history is not retried); 0 for NULL. */
int64_t hd_store_history_failed(const hd_store_t *s);
/* The results of check_id in [since_us, until_us) at step, or coarser when
 * step's table does not reach back to since_us. now_us: the present, 0 for
 * the wall clock (tests pass synthetic times). An unknown check has an
 * empty history. */
int hd_store_history_query(hd_store_t *s, const char *check_id, int64_t since_us, int64_t until_us,
                           hd_hist_step_t step, int64_t now_us, hd_hist_query_cb cb, void *arg);
/* Runs one rollup and prune slice as of now_us (0: the wall clock). */
int hd_store_history_maintain(hd_store_t *s, int64_t now_us, hd_hist_maint_cb cb, void *arg);
/* "raw", "1m", "1h". */
const char *hd_hist_step_str(hd_hist_step_t step);

#endif
