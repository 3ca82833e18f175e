/* sched — the check schedule (see sched.h). */
#include "agent/sched.h"
#include "util/mem.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

static void put(hd_sched_t *s, size_t i, hd_sched_slot_t slot)
{
    s->heap[i] = slot;
    slot.it->idx = i;
}

static void up(hd_sched_t *s, size_t i)
{
    hd_sched_slot_t x = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (s->heap[parent].due_us <= x.due_us) break;
        put(s, i, s->heap[parent]);
        i = parent;
    }
    put(s, i, x);
}

static void down(hd_sched_t *s, size_t i)
{
    hd_sched_slot_t x = s->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = l;
        if (l >= s->n) break;
        if (r < s->n && s->heap[r].due_us < s->heap[l].due_us) m = r;
        if (s->heap[m].due_us >= x.due_us) break;
        put(s, i, s->heap[m]);
        i = m;
    }
    put(s, i, x);
}

void hd_sched_init(hd_sched_t *s)
{
    memset(s, 0, sizeof(*s));
}

void hd_sched_free(hd_sched_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->heap[i].it->idx = SIZE_MAX;
    free(s->heap);
    if (s->timer) event_free(s->timer);
    memset(s, 0, sizeof(*s));
}

void hd_sched_item_init(hd_sched_item_t *it)
{
    it->due_us = 0;
    it->idx = SIZE_MAX;
}

void hd_sched_add(hd_sched_t *s, hd_sched_item_t *it, int64_t due_us)
{
    if (it->idx != SIZE_MAX) {
        int64_t old = it->due_us;
        it->due_us = due_us;
        s->heap[it->idx].due_us = due_us;
        if (due_us < old)
            up(s, it->idx);
        else
            down(s, it->idx);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->heap = hd_xrealloc(s->heap, s->cap * sizeof(*s->heap));
    }
    it->due_us = due_us;
    s->heap[s->n] = (hd_sched_slot_t){due_us, it};
    it->idx = s->n++;
    up(s, it->idx);
}

void hd_sched_remove(hd_sched_t *s, hd_sched_item_t *it)
{
    size_t i = it->idx;
    if (i == SIZE_MAX || i >= s->n || s->heap[i].it != it) return;
    s->n--;
    if (i != s->n) {
        put(s, i, s->heap[s->n]);
        down(s, i);
        up(s, i);
    }
    it->idx = SIZE_MAX;
}

hd_sched_item_t *hd_sched_pop_due(hd_sched_t *s, int64_t now_us)
{
    if (!s->n || s->heap[0].due_us > now_us) return NULL;
    hd_sched_item_t *it = s->heap[0].it;
    hd_sched_remove(s, it);
    hd_hist_add(&s->lag, now_us - it->due_us);
    return it;
}

int64_t hd_sched_next_due(const hd_sched_t *s)
{
    return s->n ? s->heap[0].due_us : INT64_MAX;
}

int64_t hd_sched_first_due(const char *id, int64_t interval_us, int64_t now_us)
{
    /* FNV-1a of the id: cheap, stable, and spreads ids well enough. */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    if (interval_us < 1) interval_us = 1;
    return now_us + (int64_t)(h % (uint64_t)interval_us);
}

int64_t hd_sched_next_after(int64_t due_us, int64_t interval_us, int64_t now_us)
{
    if (interval_us < 1) interval_us = 1;
    int64_t next = due_us + interval_us;
    if (next + interval_us > now_us) return next;
    /* More than one interval behind: jump to the first slot after now. */
    int64_t behind = now_us - due_us;
    return due_us + (behind / interval_us + 1) * interval_us;
}

void hd_sched_arm(hd_sched_t *s, struct event_base *base, int64_t now_us,
                  void (*cb)(int, short, void *), void *arg)
{
    if (!s->timer) s->timer = evtimer_new(base, cb, arg);
    int64_t due = hd_sched_next_due(s);
    if (due == INT64_MAX) {
        evtimer_del(s->timer);
        return;
    }
    /* Wake up at most once per HD_SCHED_WAKE_US: the head's due time is
     * rounded up to the next multiple, and everything due by then runs in
     * that one wake-up. With 10,000 checks a second, a wake-up per check
     * (each an epoll_wait and a timerfd_settime) costs more than the checks'
     * own user-space work; this costs at most HD_SCHED_WAKE_US of lag. */
    due = (due + HD_SCHED_WAKE_US - 1) / HD_SCHED_WAKE_US * HD_SCHED_WAKE_US;
    int64_t d = due - now_us;
    if (d < 0) d = 0;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(s->timer, &tv);
}
