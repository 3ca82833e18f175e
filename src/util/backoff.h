/* backoff — the retry schedule of a readiness wait: fast while the wait is
 * young, then gently slower, so a service that comes up early is seen
 * within milliseconds and one that takes minutes is not hammered. */
#ifndef HD_BACKOFF_H
#define HD_BACKOFF_H

#include <stdint.h>

#define HD_BACKOFF_FAST_US        1000000LL /* stay at the base interval this long */
#define HD_BACKOFF_SLOPE_PERMILLE 20        /* then add 20 ms per second waited */

/* The interval between attempt starts when the wait began elapsed_us ago:
 * base_us during the first second, then growing by 2% of the time waited,
 * never above max_us (nor below base_us). */
int64_t hd_backoff_interval(int64_t elapsed_us, int64_t base_us, int64_t max_us);

#endif
