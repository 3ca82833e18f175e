/* hist — log-bucket latency histogram over a sliding window (see hist.h). */
#include "util/hist.h"
#include "util/time.h"

#include <math.h>
#include <string.h>

#define AGE_US (HD_HIST_WINDOW_US / HD_HIST_AGES)

static int bucket_of(int64_t us)
{
    if (us < 1) return 0;
    int b = (int)ceil(4.0 * log2((double)us + 1.0));
    return b >= HD_HIST_BUCKETS ? HD_HIST_BUCKETS - 1 : b;
}

void hd_hist_add_at(hd_hist_t *h, int64_t us, int64_t now_us)
{
    if (us < 0) us = 0;
    h->count++;
    h->sum_us += (uint64_t)us;
    hd_hist_age_t *a = &h->age[h->cur];
    if (!a->n || now_us - a->start_us >= AGE_US) {
        if (a->n) {
            h->cur = (h->cur + 1) % HD_HIST_AGES;
            a = &h->age[h->cur];
        }
        memset(a, 0, sizeof(*a));
        a->start_us = now_us;
    }
    a->n++;
    if (us > a->max_us) a->max_us = us;
    if (a->buckets[bucket_of(us)] < UINT32_MAX) a->buckets[bucket_of(us)]++;
}

void hd_hist_add(hd_hist_t *h, int64_t us)
{
    hd_hist_add_at(h, us, hd_time_now_us());
}

/* Whether slot a belongs to the window that ends at now. */
static int live(const hd_hist_age_t *a, int64_t now_us)
{
    return a->n && now_us - a->start_us < HD_HIST_WINDOW_US;
}

uint64_t hd_hist_window_count_at(const hd_hist_t *h, int64_t now_us)
{
    uint64_t n = 0;
    for (int i = 0; i < HD_HIST_AGES; i++)
        if (live(&h->age[i], now_us)) n += h->age[i].n;
    return n;
}

int64_t hd_hist_quantile_at(const hd_hist_t *h, double q, int64_t now_us)
{
    uint64_t total = 0, buckets[HD_HIST_BUCKETS] = {0};
    int64_t max = 0;
    for (int i = 0; i < HD_HIST_AGES; i++) {
        const hd_hist_age_t *a = &h->age[i];
        if (!live(a, now_us)) continue;
        total += a->n;
        if (a->max_us > max) max = a->max_us;
        for (int b = 0; b < HD_HIST_BUCKETS; b++)
            buckets[b] += a->buckets[b];
    }
    if (!total) return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HD_HIST_BUCKETS; i++) {
        seen += buckets[i];
        if (seen >= rank) {
            int64_t upper = (int64_t)floor(exp2((double)i / 4.0));
            return upper < max ? upper : max;
        }
    }
    return max;
}

int64_t hd_hist_quantile(const hd_hist_t *h, double q)
{
    return hd_hist_quantile_at(h, q, hd_time_now_us());
}

void hd_hist_reset(hd_hist_t *h)
{
    memset(h, 0, sizeof(*h));
}
