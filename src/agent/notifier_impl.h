/* notifier_impl — what notifier.c, notifier_send.c and notifier_exec.c
 * share; not for other modules. */
#ifndef HD_NOTIFIER_IMPL_H
#define HD_NOTIFIER_IMPL_H

#include "agent/notifier.h"
#include "agent/notifier_tmpl.h"
#include "util/buf.h"
#include "util/curl_dl.h"
#include "util/proc.h"

#include <event2/event.h>
#include <sys/types.h>

typedef struct delivery_s delivery_t;

struct hd_notifier_s {
    struct event_base *base;
    hd_notifier_def_t def;
    hd_tmpl_t *tmpl;        /* webhook */
    const hd_curl_api_t *c; /* webhook, alertmanager, smtp */
    CURLM *multi;
    struct event *timer; /* libcurl's timer */
    char *url;           /* what is asked: alertmanager's /api/v2/alerts, smtp's scheme */
    int starttls;        /* smtp+starttls:// */
    char *password;      /* the URL's, decoded: scrubbed from every reason */
    char *basic;         /* base64 of "user:password" (HTTP Basic auth), scrubbed too */
    delivery_t *live;    /* in flight */
    int busy;            /* callbacks running: hd_notifier_free waits for them */
    int doomed;          /* hd_notifier_free was called while busy */
};

/* One hd_notifier_send or hd_notifier_send_batch: one request (a batch the
 * receiver takes at once), or events sent one after another. */
struct delivery_s {
    hd_notifier_t *n;
    delivery_t *prev, *next; /* n->live */
    hd_notifier_done_cb cb;
    void *arg;
    json_t **events; /* deep copies; one request sends events[idx] */
    size_t count, idx;
    struct event *soon; /* a result known before any I/O, reported from the loop */
    hd_notifier_result_t soon_result;
    char soon_reason[256];
    /* libcurl */
    CURL *easy;
    struct curl_slist *headers, *rcpt;
    hd_buf_t body;  /* the request body, or the mail */
    size_t sent;    /* smtp: bytes of body handed to libcurl */
    hd_buf_t reply; /* at most HD_NOTIFIER_REPLY_MAX bytes */
    char errbuf[CURL_ERROR_SIZE];
    /* exec */
    hd_proc_t proc; /* the command; the event JSON (body) is written to its stdin */
    int timed_out;
    struct event *deadline_ev;
    char out[512]; /* the first bytes of its output (proc.out_len) */
};

/* One request of d done: the next event of a batch sent one by one, or
 * the callback. Returns 1 when n was freed by the callback (the caller
 * touches neither n nor d again), else 0 (d may be gone). */
int hd_notifier_step(delivery_t *d, hd_notifier_result_t r, const char *reason);
/* Reports r later from the loop (a result known before any I/O). */
void hd_notifier_soon(delivery_t *d, hd_notifier_result_t r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The effective timeout of one delivery. */
int64_t hd_notifier_timeout_us(const hd_notifier_t *n);

/* exec: starts the command for d->events[d->idx] (the result through
 * hd_notifier_step or hd_notifier_soon), and stops it (killed, reaped). */
void hd_nexec_start(delivery_t *d);
void hd_nexec_stop(delivery_t *d);

/* notifier.c: helpers shared with config.c and the senders. */
int hd_notifier_kind_parse(const char *s, hd_notifier_kind_t *k);
int hd_notifier_header_name_ok(const char *s);
int hd_notifier_mail_ok(const char *s);
hd_tmpl_t *hd_notifier_template(const hd_notifier_def_t *d, char *err, size_t errlen);
int hd_notifier_render(const hd_notifier_def_t *d, const hd_tmpl_t *t, const json_t *event,
                       hd_buf_t *out, char *err, size_t errlen);

#endif
