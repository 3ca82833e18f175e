/* block — blocking queries: a request held on topics until one changes,
 * its wait ends or its client leaves (see server.h). */
#include "api/server_impl.h"
#include "util/mem.h"
#include "util/time.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hd_api_hold_s {
    hd_api_rq_t *q;
    struct event *timer;
    hd_api_retry_fn fn;
    void *arg;
    size_t n;
    hd_topic_waiter_t w[]; /* one per topic */
} hold_t;

int hd_api_block_params(const hd_api_req_t *r, uint64_t *index, int64_t *wait_ms, char *err,
                        size_t errlen)
{
    *index = 0;
    *wait_ms = HD_API_WAIT_DEFAULT_MS;
    const char *qi = hd_api_query(r, "index"), *qw = hd_api_query(r, "wait");
    if (qi && *qi) {
        uint64_t v = 0;
        for (const char *p = qi; *p; p++) {
            if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
                snprintf(err, errlen, "Invalid index");
                return -1;
            }
            v = v * 10 + (uint64_t)(*p - '0');
        }
        *index = v;
    }
    if (qw && *qw) {
        int64_t ns;
        char why[160];
        if (hd_time_parse_go_duration(qw, strlen(qw), &ns, why, sizeof(why)) < 0 || ns < 0) {
            snprintf(err, errlen, "Invalid wait time");
            return -1;
        }
        int64_t ms = ns / 1000000;
        if (ms > HD_API_WAIT_MAX_MS) ms = HD_API_WAIT_MAX_MS;
        if (ms > 0) *wait_ms = ms; /* Consul: a zero wait is the default */
    }
    /* Up to wait/16 more, so that watchers that started together do not all
     * come back at once (Consul's jitter). Not a secret: rand() will do. */
    int64_t j = *wait_ms / 16;
    if (j > 0) *wait_ms += (int64_t)((uint64_t)rand() % (uint64_t)(j + 1));
    return 0;
}

/* Ends q's hold (waiters, timer) and runs its function. */
static void release(hold_t *h)
{
    hd_api_rq_t *q = h->q;
    for (size_t i = 0; i < h->n; i++)
        hd_topic_unwait(&h->w[i]);
    event_free(h->timer);
    q->hold = NULL;
    q->cancel = NULL;
    q->api->st.held--;
    hd_api_retry_fn fn = h->fn;
    void *arg = h->arg;
    free(h);
    fn(&q->pub, arg);
}

static void on_bump(hd_topic_waiter_t *w, void *arg)
{
    (void)w;
    release(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    release(arg);
}

static void on_gone(hd_api_req_t *r, void *arg)
{
    (void)r;
    release(arg);
}

int hd_api_hold(hd_api_req_t *r, hd_topic_t *const *topics, size_t n, int64_t wait_ms,
                hd_api_retry_fn fn, void *arg)
{
    hd_api_rq_t *q = (hd_api_rq_t *)r;
    if (!q->conn) return 1;
    int64_t now = hd_time_now_us();
    if (!q->hold_until_us) q->hold_until_us = now + wait_ms * HD_USEC_PER_MSEC;
    int64_t left = q->hold_until_us - now;
    if (left <= 0) return 1;
    hold_t *h = hd_xcalloc(1, sizeof(*h) + n * sizeof(h->w[0]));
    h->q = q;
    h->fn = fn;
    h->arg = arg;
    h->n = n;
    h->timer = evtimer_new(q->api->base, on_deadline, h);
    if (!h->timer) {
        fprintf(stderr, "heed: out of memory (a timer for a blocking query)\n");
        abort();
    }
    struct timeval tv = {(time_t)(left / HD_USEC_PER_SEC), (suseconds_t)(left % HD_USEC_PER_SEC)};
    evtimer_add(h->timer, &tv);
    for (size_t i = 0; i < n; i++)
        hd_topic_wait(topics[i], &h->w[i], on_bump, h);
    q->hold = h;
    q->cancel = on_gone;
    q->cancel_arg = h;
    q->api->st.held++;
    return 0;
}
