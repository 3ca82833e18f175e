/* ratelimit — a token bucket: `rate` tokens per second refill a bucket that
 * holds at most `burst`; each request takes one.
 *
 * Pure: the caller passes the clock (microseconds, any monotonic origin), so
 * tests drive it without sleeping. It knows nothing of tokens, clients or
 * routes; api/server.c keeps one bucket per caller and per limited route. */
#ifndef HD_RATELIMIT_H
#define HD_RATELIMIT_H

#include <stdint.h>

typedef struct hd_ratelimit_s {
    double rate;   /* tokens per second; <= 0 means unlimited */
    double burst;  /* bucket size; at least 1 */
    double tokens; /* tokens in the bucket at last_us */
    int64_t last_us;
} hd_ratelimit_t;

/* Starts a full bucket at now_us. A burst below 1 is taken as 1. */
void hd_ratelimit_init(hd_ratelimit_t *rl, double rate, double burst, int64_t now_us);

/* Takes one token. Returns 0 when the request may go, else the microseconds
 * until a token will be there (at least 1); nothing is taken then. A clock
 * that goes backwards is treated as standing still. */
int64_t hd_ratelimit_take(hd_ratelimit_t *rl, int64_t now_us);

/* 1 when the bucket would be full at now_us (its state can be forgotten). */
int hd_ratelimit_full(const hd_ratelimit_t *rl, int64_t now_us);

#endif
