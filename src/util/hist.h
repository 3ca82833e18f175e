/* hist — a fixed-size latency histogram with ~19% wide log buckets, for
 * percentiles of scheduling lag, loop lag and commit latency without
 * keeping samples. */
#ifndef HD_HIST_H
#define HD_HIST_H

#include <stdint.h>

#define HD_HIST_BUCKETS 96 /* bucket i holds values below 2^(i/4) microseconds */

typedef struct hd_hist_s {
    uint64_t count;
    uint64_t sum_us;
    int64_t max_us;
    uint64_t buckets[HD_HIST_BUCKETS];
} hd_hist_t;

/* Records one value in microseconds (negative counts as 0). */
void hd_hist_add(hd_hist_t *h, int64_t us);
/* The q-quantile (0..1) as the upper bound of its bucket; 0 when empty. */
int64_t hd_hist_quantile(const hd_hist_t *h, double q);
/* Empties the histogram. */
void hd_hist_reset(hd_hist_t *h);

#endif
