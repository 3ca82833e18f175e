/* backoff — the readiness retry schedule (see backoff.h).
 *
 * With the defaults (10 ms base, 500 ms cap) the interval is 10 ms for the
 * first second, 30 ms at 2 s, 50 ms at 3 s, 190 ms at 10 s and 500 ms from
 * about 25.5 s on. A service is noticed on average half an interval after it
 * opens: about 5 ms early on and 25 ms at 3 s (the goal there is a median
 * readiness lag of at most 50 ms, process exit included). */
#include "util/backoff.h"

int64_t hd_backoff_interval(int64_t elapsed_us, int64_t base_us, int64_t max_us)
{
    if (base_us < 1) base_us = 1;
    if (max_us < base_us) max_us = base_us;
    if (elapsed_us <= HD_BACKOFF_FAST_US) return base_us;
    int64_t extra = (elapsed_us - HD_BACKOFF_FAST_US) / 1000 * HD_BACKOFF_SLOPE_PERMILLE;
    if (extra > max_us - base_us) return max_us;
    return base_us + extra;
}
