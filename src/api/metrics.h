/* metrics — a small writer of the Prometheus text exposition format
 * (version 0.0.4), for the agent's GET /metrics.
 *
 * Samples may be added in any order: each family (one metric name) keeps
 * its own lines, and the text lists every family once, in first-seen order,
 * with one HELP and one TYPE line, as `promtool check metrics` requires.
 * Label values are escaped (\\, \", \n); HELP text likewise (\\, \n).
 * Names are checked: a bad metric or label name, a counter without the
 * `_total` suffix, or a family reused with another type is a programming
 * error and aborts with a message. */
#ifndef HD_METRICS_H
#define HD_METRICS_H

#include <stddef.h>

#include "util/hist.h"

#define HD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct hd_metrics_s hd_metrics_t;

/* A new, empty writer. */
hd_metrics_t *hd_metrics_new(void);
/* Frees the writer and its text. */
void hd_metrics_free(hd_metrics_t *m);

/* Adds one sample. The variadic arguments are label name/value pairs (const
 * char *) ending with NULL. Counters' names end in "_total". */
void hd_metrics_counter(hd_metrics_t *m, const char *name, const char *help, double value, ...)
    __attribute__((sentinel));
void hd_metrics_gauge(hd_metrics_t *m, const char *name, const char *help, double value, ...)
    __attribute__((sentinel));

/* Adds a latency histogram as a summary in seconds: quantiles 0.5, 0.9,
 * 0.99 and 1 (the maximum), plus name_sum and name_count. The name should
 * end in "_seconds". */
void hd_metrics_summary(hd_metrics_t *m, const char *name, const char *help, const hd_hist_t *h,
                        ...) __attribute__((sentinel));

/* The text so far (NUL-terminated); *len gets its length if len is set.
 * Valid until the next call on m. */
const char *hd_metrics_text(hd_metrics_t *m, size_t *len);
/* Hands over the text so far (malloc'd, NUL-terminated; the caller frees
 * it), freeing m's copy as it goes; *len gets its length if len is set.
 * m's families are empty afterwards. */
char *hd_metrics_take(hd_metrics_t *m, size_t *len);

#endif
