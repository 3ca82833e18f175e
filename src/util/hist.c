/* hist — log-bucket latency histogram (see hist.h). */
#include "util/hist.h"

#include <math.h>
#include <string.h>

static int bucket_of(int64_t us)
{
    if (us < 1) return 0;
    int b = (int)ceil(4.0 * log2((double)us + 1.0));
    return b >= HD_HIST_BUCKETS ? HD_HIST_BUCKETS - 1 : b;
}

void hd_hist_add(hd_hist_t *h, int64_t us)
{
    if (us < 0) us = 0;
    h->count++;
    h->sum_us += (uint64_t)us;
    if (us > h->max_us) h->max_us = us;
    h->buckets[bucket_of(us)]++;
}

int64_t hd_hist_quantile(const hd_hist_t *h, double q)
{
    if (!h->count) return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HD_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            int64_t upper = (int64_t)floor(exp2((double)i / 4.0));
            return upper < h->max_us ? upper : h->max_us;
        }
    }
    return h->max_us;
}

void hd_hist_reset(hd_hist_t *h)
{
    memset(h, 0, sizeof(*h));
}
