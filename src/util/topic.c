/* topic — waiters on a change (see topic.h). The waiters are a list,
 * newest at the head; a bump takes them from the tail, oldest first, while
 * they were registered before it began (by generation), so that waiters
 * registered by the functions it runs wait for the next bump. */
#include "util/topic.h"

#include <stddef.h>

void hd_topic_init(hd_topic_t *t)
{
    t->index = 0;
    t->head = t->tail = NULL;
    t->nwaiters = 0;
    t->gen = 0;
    t->idle = NULL;
    t->idle_arg = NULL;
}

void hd_topic_on_idle(hd_topic_t *t, hd_topic_idle_fn fn, void *arg)
{
    t->idle = fn;
    t->idle_arg = arg;
}

static void push_head(hd_topic_t *t, hd_topic_waiter_t *w)
{
    w->topic = t;
    w->prev = NULL;
    w->next = t->head;
    if (t->head)
        t->head->prev = w;
    else
        t->tail = w;
    t->head = w;
}

static void unlink_waiter(hd_topic_t *t, hd_topic_waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        t->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        t->tail = w->prev;
    w->prev = w->next = NULL;
    w->topic = NULL;
}

void hd_topic_wait(hd_topic_t *t, hd_topic_waiter_t *w, hd_topic_fn fn, void *arg)
{
    w->fn = fn;
    w->arg = arg;
    w->gen = t->gen;
    push_head(t, w);
    t->nwaiters++;
}

void hd_topic_unwait(hd_topic_waiter_t *w)
{
    hd_topic_t *t = w->topic;
    if (!t) return;
    unlink_waiter(t, w);
    t->nwaiters--;
    if (t->nwaiters == 0 && t->idle) t->idle(t, t->idle_arg);
}

void hd_topic_bump(hd_topic_t *t, int64_t rev)
{
    if (rev > t->index) t->index = rev;
    if (!t->head) return;
    uint64_t gen = t->gen++;
    while (t->tail && t->tail->gen <= gen) {
        hd_topic_waiter_t *w = t->tail;
        unlink_waiter(t, w);
        t->nwaiters--;
        w->fn(w, w->arg);
    }
    if (t->nwaiters == 0 && t->idle) t->idle(t, t->idle_arg);
}

void hd_topic_close(hd_topic_t *t)
{
    while (t->head)
        unlink_waiter(t, t->head);
    t->nwaiters = 0;
}
