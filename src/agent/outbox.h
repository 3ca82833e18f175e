/* outbox — alert events on their way to the notifiers, kept in the store
 * (store.h) so that a restart loses none and an acknowledged one is never
 * sent again.
 *
 * Keys (docs/alerts.md, "The outbox"):
 *   heed/events/<node>/<20-digit seq>             the event (notifier.h's JSON)
 *   heed/events/<node>/<20-digit seq>/<notifier>  one delivery's record
 * A delivery has its own key, so that two notifiers answering at once never
 * rewrite each other's record (no read-modify-write of the event).
 *
 * The agent stores an event and its deliveries in the same transaction as
 * the check state that caused it (hd_outbox_ops), and hands it over once
 * that is durable (hd_outbox_stored): nothing is sent before. From then
 * the outbox sends, in event order per notifier, retries with capped
 * exponential backoff what may work later, records every outcome, caps the
 * undelivered events (dropping the oldest) and prunes finished ones.
 *
 * Memory: only a compact index is held (per delivery 24 bytes, per kept
 * event 16); an event's JSON is read back from the store when it is sent. */
#ifndef HD_OUTBOX_H
#define HD_OUTBOX_H

#include "agent/alert.h"
#include "agent/config.h"
#include "agent/notifier.h"
#include "store/store.h"
#include "util/topic.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define HD_OUTBOX_PREFIX "heed/events/"
#define HD_OUTBOX_BATCH  64 /* events in one delivery to a receiver that takes batches */

typedef enum hd_dlv_state_e {
    HD_DLV_HELD = 0,  /* waits for the rule's for: */
    HD_DLV_PENDING,   /* to be sent, or being retried */
    HD_DLV_DELIVERED, /* acknowledged */
    HD_DLV_FAILED,    /* refused for good */
    HD_DLV_DROPPED,   /* dropped by the outbox cap */
    HD_DLV_CANCELLED, /* held, and the status changed before its for: ended */
} hd_dlv_state_t;

/* Sends events to the notifier named name; cb once, later (notifier.h's
 * contract). Returns 0, or -1: no such notifier (the deliveries fail). */
typedef int (*hd_outbox_send_fn)(void *ctx, const char *name, const json_t *const *events, size_t n,
                                 hd_notifier_done_cb cb, void *arg);
/* 1 when the notifier named name takes batches. */
typedef int (*hd_outbox_batches_fn)(void *ctx, const char *name);

typedef struct hd_outbox_opts_s {
    struct event_base *base;
    hd_store_t *store;
    const char *node;              /* copied */
    hd_config_alerting_t settings; /* retry, cap, kept; webhook_allow is not used */
    hd_outbox_send_fn send;        /* NULL: nothing is sent (deliveries stay pending) */
    hd_outbox_batches_fn batches;  /* may be NULL: no batches */
    void *ctx;
} hd_outbox_opts_t;

/* An event made by the agent, not stored yet. */
typedef struct hd_outbox_event_s {
    uint64_t seq;         /* set by hd_outbox_ops */
    json_t *event;        /* notifier.h's object; "id" is set by hd_outbox_ops */
    uint32_t check_hash;  /* hd_outbox_hash of the check's "tenant/id" */
    uint32_t tenant_hash; /* hd_outbox_hash of its tenant ("" for none) */
    size_t n;
    char *notify[HD_ALERT_NOTIFY_MAX];
    int64_t due[HD_ALERT_NOTIFY_MAX];
    unsigned char state[HD_ALERT_NOTIFY_MAX]; /* HD_DLV_HELD or _PENDING; _CANCELLED */
    struct hd_outbox_event_s *next;
} hd_outbox_event_t;

/* Scratch for a transaction's keys and values (freed after it is sent). */
typedef struct hd_outbox_scratch_s {
    char **bufs;
    size_t n, cap;
} hd_outbox_scratch_t;

typedef struct hd_outbox_s hd_outbox_t;

typedef struct hd_outbox_stats_s {
    uint64_t created;   /* events stored */
    uint64_t delivered; /* deliveries acknowledged */
    uint64_t failed;    /* deliveries refused for good */
    uint64_t retries;   /* deliveries that will be tried again */
    uint64_t dropped;   /* events dropped by the cap */
    uint64_t cancelled; /* held deliveries cancelled */
    size_t undelivered; /* events with a delivery not finished */
    size_t kept;        /* events in the store */
} hd_outbox_stats_t;

hd_outbox_t *hd_outbox_new(const hd_outbox_opts_t *o);
/* Reads the outbox back from the store (page by page) and resumes its
 * deliveries; done(status, arg) once, later. Returns 0, or a store error. */
int hd_outbox_load(hd_outbox_t *ob, void (*done)(int status, void *arg), void *arg);
/* Stops sending: nothing is sent from now on (before the notifiers and
 * the store close). */
void hd_outbox_stop(hd_outbox_t *ob);
/* Frees ob (after the store closed: its answers point at ob). */
void hd_outbox_free(hd_outbox_t *ob);

/* FNV-1a of s, as the index keeps check and tenant names. */
uint32_t hd_outbox_hash(const char *s);

/* A new event (event taken) for the check; add deliveries with
 * hd_outbox_event_add. */
hd_outbox_event_t *hd_outbox_event_new(json_t *event, const char *tenant, const char *qname);
void hd_outbox_event_add(hd_outbox_event_t *e, const char *notifier, int64_t due, int64_t now);
void hd_outbox_event_free(hd_outbox_event_t *e);
/* Operations a transaction needs to store e: the event and one record per
 * delivery. Assigns e's seq and its "id". Returns the number of ops
 * written to ops (room for 1 + e->n); their memory is in sc. */
size_t hd_outbox_ops(hd_outbox_t *ob, hd_outbox_event_t *e, hd_store_op_t *ops,
                     hd_outbox_scratch_t *sc);
/* Operations that record the held deliveries of the stored event seq as
 * cancelled. Returns how many (room for HD_ALERT_NOTIFY_MAX). */
size_t hd_outbox_cancel_ops(hd_outbox_t *ob, uint64_t seq, int64_t now, hd_store_op_t *ops,
                            hd_outbox_scratch_t *sc);
void hd_outbox_scratch_free(hd_outbox_scratch_t *sc);
/* e's transaction is durable at revision rev: ob takes e (frees it) and
 * sends it when due. */
void hd_outbox_stored(hd_outbox_t *ob, hd_outbox_event_t *e, int64_t rev);
/* The cancellation of seq's held deliveries is durable. */
void hd_outbox_cancelled(hd_outbox_t *ob, uint64_t seq, int64_t rev);

/* The notifier named name is being freed or replaced: its sends in flight
 * will never be answered. Their deliveries are tried again (through
 * whatever then has that name). Call before freeing it. */
void hd_outbox_forget(hd_outbox_t *ob, const char *name);

void hd_outbox_stats(const hd_outbox_t *ob, hd_outbox_stats_t *st);
/* Bumped at each event stored and each delivery recorded (blocking reads
 * of GET /v1/events). */
hd_topic_t *hd_outbox_topic(hd_outbox_t *ob);

/* The newest events, newest first, for GET /v1/events: at most limit,
 * only check qname's when qname is not NULL, only tenant's when
 * tenant_only (tenant NULL: those of no tenant). cb gets a JSON array
 * (each the event plus "deliveries") and the topic's index, later; or an
 * error. Returns 0, or -1 (out of memory). */
typedef void (*hd_outbox_list_cb)(int status, json_t *events, int64_t index, void *arg);
int hd_outbox_list(hd_outbox_t *ob, const char *qname, int tenant_only, const char *tenant,
                   size_t limit, hd_outbox_list_cb cb, void *arg);

const char *hd_dlv_state_str(hd_dlv_state_t s);

#endif
