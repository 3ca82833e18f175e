/* topic — something a reader can wait on for a change: one service's
 * instances, a KV key or prefix, the list of services. It is how blocking
 * queries (Consul's ?index=&wait=) learn that what they read has changed,
 * without waking the watchers of anything else.
 *
 * A topic has an index: the highest store revision that changed what it
 * covers (0 before any). Whoever owns the data (the catalog cache, the KV
 * cache) bumps the topic when it applies a change. A waiter is registered
 * on a topic with a function that runs at most once, on the next bump;
 * the waiter is unregistered before the function runs, which may register
 * it again, unregister or free other waiters, or free the topic's owner's
 * other topics. Waiters are the caller's memory (libuv's manner): a waiter
 * must be unregistered (hd_topic_unwait, harmless twice) before it is
 * freed. Loop thread only; nothing here allocates.
 *
 * A topic made on demand (one per watched KV prefix, say) can be freed
 * when nobody waits on it: its idle function runs when its last waiter
 * leaves, by hd_topic_unwait or by a bump. */
#ifndef HD_TOPIC_H
#define HD_TOPIC_H

#include <stddef.h>
#include <stdint.h>

typedef struct hd_topic_s hd_topic_t;
typedef struct hd_topic_waiter_s hd_topic_waiter_t;

typedef void (*hd_topic_fn)(hd_topic_waiter_t *w, void *arg);
typedef void (*hd_topic_idle_fn)(hd_topic_t *t, void *arg);

struct hd_topic_waiter_s {
    hd_topic_t *topic; /* NULL while not registered */
    hd_topic_waiter_t *prev, *next;
    hd_topic_fn fn;
    void *arg;
    uint64_t gen; /* the topic's bump count when registered */
};

struct hd_topic_s {
    int64_t index;                  /* highest revision bumped in; never goes back */
    hd_topic_waiter_t *head, *tail; /* newest first */
    size_t nwaiters;
    uint64_t gen;          /* bumps begun: a bump runs only waiters of earlier gens */
    hd_topic_idle_fn idle; /* may be NULL */
    void *idle_arg;
};

/* An empty topic at index 0 with no idle function. */
void hd_topic_init(hd_topic_t *t);
/* Sets the function that runs when the last waiter leaves. */
void hd_topic_on_idle(hd_topic_t *t, hd_topic_idle_fn fn, void *arg);
/* Registers w on t: fn(w, arg) runs once, on t's next bump. w must not be
 * registered already. */
void hd_topic_wait(hd_topic_t *t, hd_topic_waiter_t *w, hd_topic_fn fn, void *arg);
/* Unregisters w; nothing when it is not registered. May run t's idle
 * function (w's topic's). */
void hd_topic_unwait(hd_topic_waiter_t *w);
/* A change at revision rev: the index becomes max(index, rev), and every
 * waiter registered before this call is unregistered and its function
 * run, oldest first (waiters registered meanwhile wait for the next bump).
 * Then the idle function, if nobody waits any more: it is the last thing
 * the call does with t, so it may free t. A waiter's function must not
 * free t, nor bump it. */
void hd_topic_bump(hd_topic_t *t, int64_t rev);
/* Unregisters every waiter without running them (their topic becomes
 * NULL), for an owner about to free t. The idle function does not run. */
void hd_topic_close(hd_topic_t *t);

#endif
