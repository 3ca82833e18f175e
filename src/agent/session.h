/* session — Consul's sessions: what a KV lock is held by. A session lives
 * in the store under heed/sessions/<tenant>/<id> (a JSON record), and the
 * registry here is a cache of them fed by the store's watch, as the KV
 * cache is (agent/kv.h).
 *
 * A session ends (is invalidated) when it is destroyed, when its TTL
 * passes without a renewal (Consul's rule: at 2 x TTL, so between TTL and
 * 2 x TTL after the last renewal), or when one of its checks goes
 * critical: the registry follows check states under heed/state/ for
 * that. Ending a session is one store transaction that deletes its
 * record and releases the keys it holds (release behaviour: Session
 * cleared, the rest kept) or deletes them (delete behaviour); each such
 * key is then in a lock-delay for the session's LockDelay, during which
 * ?acquire fails. Renewals are not written to the store; after a restart
 * every session's TTL starts again. Loop thread only. */
#ifndef HD_SESSION_H
#define HD_SESSION_H

#include "agent/kv.h"
#include "agent/tenant.h"
#include "store/store.h"
#include "util/topic.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define HD_SESSION_PREFIX       "heed/sessions/" /* + tenant/id */
#define HD_SESSION_STATE_PREFIX "heed/state/"    /* + tenant/check id: a check's state */
#define HD_SESSION_SERF         "serfHealth"     /* the node's check: always passing on one node */
#define HD_SESSION_TTL_MIN_NS   (10 * 1000000000LL)    /* Consul's session_ttl_min */
#define HD_SESSION_TTL_MAX_NS   (86400 * 1000000000LL) /* and its maximum, 24 h */
#define HD_SESSION_LOCK_DELAY   (15 * 1000000000LL)    /* the default LockDelay */
#define HD_SESSION_CHECKS_MAX   64                     /* checks of one session */

typedef struct hd_session_reg_s hd_session_reg_t;

/* One session as the registry holds it. */
typedef struct hd_session_s {
    char id[HD_KV_SESSION_MAX + 1];
    char tenant[HD_TENANT_MAX + 1];
    char *name;
    char *node;
    char *ttl; /* as given ("30s"), "" for none */
    int64_t ttl_ns;
    int64_t lock_delay_ns;
    int delete_keys; /* Behavior "delete" */
    char **node_checks;
    size_t nnode;
    char **service_checks;
    size_t nservice;
    int64_t create_index, modify_index;
    int ending;          /* its end is being written */
    int stale;           /* a reload has not read it again (yet) */
    struct event *timer; /* its TTL */
    hd_session_reg_t *reg;
} hd_session_t;

/* Whether check id of tenant exists (the agent's registry answers). */
typedef int (*hd_session_check_fn)(void *arg, const char *tenant, const char *id);

/* Loads the sessions and check states from store (the loop must run for
 * it to complete, as hd_kv_open's) and follows both. kv is the KV cache
 * whose keys sessions lock; node is the local node's name. Returns 0, or
 * -1 with a message in err. */
int hd_session_open(struct event_base *base, hd_store_t *store, hd_kv_t *kv, const char *node,
                    hd_session_check_fn check_fn, void *check_arg, hd_session_reg_t **out,
                    char *err, size_t errlen);
/* 0 once loaded, 1 while loading, a store error if the load failed. */
int hd_session_status(const hd_session_reg_t *reg);
/* Once loaded and the agent's checks are known: starts the sessions' TTL
 * timers (after a restart they start again) and ends those whose checks
 * are critical or gone. */
void hd_session_start(hd_session_reg_t *reg);
/* Frees the registry, after hd_store_close and the API server (as
 * hd_kv_free). */
void hd_session_free(hd_session_reg_t *reg);

/* Parses a session/create body (NULL: none) as Consul's decoder does:
 * fields in any case, unknown ones ignored; Name, Node, TTL (Go
 * duration), LockDelay (Go duration, or a number: seconds below 1000,
 * else nanoseconds), Behavior, Checks, NodeChecks, ServiceChecks ([{ID}]).
 * Returns 0 with s filled (free it with hd_session_clear), or the HTTP
 * status (400 for a decode error naming the field, 500 for what Consul's
 * server refuses) with Consul's message in err. Pure. */
int hd_session_parse(const json_t *body, const char *node, hd_session_t *s, char *err,
                     size_t errlen);
/* Frees what a parsed session holds. */
void hd_session_clear(hd_session_t *s);

/* Creates session s (taken: the registry owns what it holds) in tenant:
 * checks that its node is the local one and that its checks exist and
 * are not critical, writes it, and calls cb once with 0 and its id, or
 * an error: the HTTP status with Consul's message. Returns 0, or the
 * status to answer now with the message in err (cb not called). */
typedef void (*hd_session_done_fn)(int status, const char *msg, const char *id, void *arg);
int hd_session_create(hd_session_reg_t *reg, const char *tenant, hd_session_t *s,
                      hd_session_done_fn cb, void *arg, char *err, size_t errlen);
/* Ends session id of tenant (its keys released or deleted); cb gets 0
 * once written. A missing session is done at once (later, by cb). */
int hd_session_destroy(hd_session_reg_t *reg, const char *tenant, const char *id,
                       hd_session_done_fn cb, void *arg);
/* Restarts session id's TTL; returns it, or NULL when there is none. */
const hd_session_t *hd_session_renew(hd_session_reg_t *reg, const char *tenant, const char *id);
/* Session id of tenant, or NULL. */
const hd_session_t *hd_session_get(const hd_session_reg_t *reg, const char *tenant, const char *id);
/* The next session of tenant: start with *pos = 0; NULL at the end. */
const hd_session_t *hd_session_next(const hd_session_reg_t *reg, const char *tenant, size_t *pos);
/* The topic of every session change, and the index of a read of them
 * (never 0). */
hd_topic_t *hd_session_topic(hd_session_reg_t *reg);
int64_t hd_session_index(const hd_session_reg_t *reg);

#endif
