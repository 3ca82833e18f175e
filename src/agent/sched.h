/* sched — when each check runs next: a min-heap of due times with one
 * libevent timer for its head, fixed-rate schedules (a check due every 10 s
 * runs at t, t+10, t+20 ... regardless of how long each run took), first
 * runs spread across the interval, and the scheduling lag (start time minus
 * due time) recorded.
 *
 * The heap is intrusive: the caller embeds an hd_sched_item_t in each of
 * its checks. The time arithmetic is pure (tests drive it with a fake
 * clock); only hd_sched_arm() touches the loop. */
#ifndef HD_SCHED_H
#define HD_SCHED_H

#include "util/hist.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;

typedef struct hd_sched_item_s {
    int64_t due_us; /* monotonic time of the next run */
    size_t idx;     /* position in the heap; SIZE_MAX when not scheduled */
} hd_sched_item_t;

/* A heap slot keeps a copy of its item's due time: sifting compares slots
 * in one array instead of following a pointer into each check (with 10,000
 * checks, a cache miss per comparison). */
typedef struct hd_sched_slot_s {
    int64_t due_us;
    hd_sched_item_t *it;
} hd_sched_slot_t;

typedef struct hd_sched_s {
    hd_sched_slot_t *heap;
    size_t n, cap;
    hd_hist_t lag;       /* start minus due, per run */
    struct event *timer; /* fires at the head's due time */
} hd_sched_t;

/* Prepares an empty scheduler; the timer is made by hd_sched_arm(). */
void hd_sched_init(hd_sched_t *s);
/* Frees the heap and the timer; the items stay the caller's. */
void hd_sched_free(hd_sched_t *s);
/* Marks an item as not scheduled (do this once before first use). */
void hd_sched_item_init(hd_sched_item_t *it);

/* Schedules it at due_us (re-schedules it if already in). */
void hd_sched_add(hd_sched_t *s, hd_sched_item_t *it, int64_t due_us);
/* Takes it out; a no-op when it is not scheduled. */
void hd_sched_remove(hd_sched_t *s, hd_sched_item_t *it);
/* Removes and returns the earliest item due at or before now_us, recording
 * its lag; NULL when none is due. */
hd_sched_item_t *hd_sched_pop_due(hd_sched_t *s, int64_t now_us);
/* The earliest due time, or INT64_MAX when nothing is scheduled. */
int64_t hd_sched_next_due(const hd_sched_t *s);

/* The first run of a check: an offset within one interval derived from its
 * id, so that first runs spread evenly and stay put across restarts. */
int64_t hd_sched_first_due(const char *id, int64_t interval_us, int64_t now_us);
/* The run after one due at due_us: due_us + interval, or, if that is already
 * more than one interval late (a long pause, a stalled loop), the next slot
 * of the same phase after now: missed runs are skipped, not bunched. */
int64_t hd_sched_next_after(int64_t due_us, int64_t interval_us, int64_t now_us);

/* Arms (or re-arms) the scheduler's timer on base for the head's due time
 * rounded up to a multiple of HD_SCHED_WAKE_US (now_us is the current
 * monotonic time); cb runs when it fires. */
#define HD_SCHED_WAKE_US 1000
void hd_sched_arm(hd_sched_t *s, struct event_base *base, int64_t now_us,
                  void (*cb)(int, short, void *), void *arg);

#endif
