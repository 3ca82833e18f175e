/* ratelimit — token bucket (see ratelimit.h). */
#include "util/ratelimit.h"

#include <math.h>

void hd_ratelimit_init(hd_ratelimit_t *rl, double rate, double burst, int64_t now_us)
{
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    rl->tokens = rl->burst;
    rl->last_us = now_us;
}

/* Brings the bucket forward to now_us. */
static void refill(hd_ratelimit_t *rl, int64_t now_us)
{
    if (now_us <= rl->last_us) return;
    rl->tokens += (double)(now_us - rl->last_us) * rl->rate / 1e6;
    if (rl->tokens > rl->burst) rl->tokens = rl->burst;
    rl->last_us = now_us;
}

int64_t hd_ratelimit_take(hd_ratelimit_t *rl, int64_t now_us)
{
    if (rl->rate <= 0) return 0;
    refill(rl, now_us);
    if (rl->tokens >= 1) {
        rl->tokens -= 1;
        return 0;
    }
    double wait = ceil((1 - rl->tokens) * 1e6 / rl->rate);
    return wait < 1 ? 1 : (int64_t)wait;
}

int hd_ratelimit_full(const hd_ratelimit_t *rl, int64_t now_us)
{
    if (rl->rate <= 0) return 1;
    double t = rl->tokens;
    if (now_us > rl->last_us) t += (double)(now_us - rl->last_us) * rl->rate / 1e6;
    return t >= rl->burst;
}
