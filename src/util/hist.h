/* hist — a fixed-size latency histogram with ~19% wide log buckets, for
 * percentiles of scheduling lag, loop lag and commit latency without
 * keeping samples.
 *
 * Percentiles describe the recent past, not the whole run: like the
 * summaries of Prometheus's client libraries (client_golang's MaxAge and
 * AgeBuckets), values are kept in HD_HIST_AGES slots of
 * HD_HIST_WINDOW_US / HD_HIST_AGES each, and a quantile reads the slots
 * begun within the last HD_HIST_WINDOW_US (8 to 10 minutes). An agent that
 * lagged at start-up an hour ago shows today's lag. count and sum_us are
 * since start (a summary's _count and _sum). */
#ifndef HD_HIST_H
#define HD_HIST_H

#include <stdint.h>

#define HD_HIST_BUCKETS   96 /* bucket i holds values below 2^(i/4) microseconds */
#define HD_HIST_AGES      5
#define HD_HIST_WINDOW_US (600LL * 1000000)

typedef struct hd_hist_age_s {
    int64_t start_us; /* monotonic; the slot holds values added from then */
    int64_t max_us;
    uint64_t n;
    uint32_t buckets[HD_HIST_BUCKETS];
} hd_hist_age_t;

typedef struct hd_hist_s {
    uint64_t count;  /* since start */
    uint64_t sum_us; /* since start */
    int cur;         /* the slot values go to */
    hd_hist_age_t age[HD_HIST_AGES];
} hd_hist_t;

/* Records one value in microseconds (negative counts as 0), now. */
void hd_hist_add(hd_hist_t *h, int64_t us);
/* The same at a given monotonic time (tests); times must not go back. */
void hd_hist_add_at(hd_hist_t *h, int64_t us, int64_t now_us);
/* The q-quantile (0..1) of the window's values as the upper bound of its
 * bucket (q = 1: the largest value); 0 when the window is empty. */
int64_t hd_hist_quantile(const hd_hist_t *h, double q);
int64_t hd_hist_quantile_at(const hd_hist_t *h, double q, int64_t now_us);
/* Values in the window. */
uint64_t hd_hist_window_count_at(const hd_hist_t *h, int64_t now_us);
/* Empties the histogram. */
void hd_hist_reset(hd_hist_t *h);

#endif
