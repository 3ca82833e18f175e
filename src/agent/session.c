/* session — Consul's sessions on the store, their TTLs, their checks and
 * the end that releases or deletes their keys (see session.h).
 *
 * The record under heed/sessions/<tenant>/<id> is JSON:
 *   {"Name", "Node", "TTL", "LockDelay" (ns), "Behavior", "NodeChecks",
 *    "ServiceChecks"}
 * CreateIndex and ModifyIndex are the key's revisions. */
#include "agent/session.h"
#include "agent/check.h"
#include "util/map.h"
#include "util/mem.h"
#include "util/time.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define END_TRIES 32 /* attempts of an end whose keys changed meanwhile */

/* An end in flight: the session's record and keys, one transaction. */
typedef struct end_s {
    hd_session_reg_t *reg;
    char qual[HD_TENANT_KEY_MAX]; /* "tenant/id" */
    char tenant[HD_TENANT_MAX + 1];
    char id[HD_KV_SESSION_MAX + 1];
    int delete_keys;
    int64_t lock_delay_ns;
    int with_record; /* this transaction deletes the record too */
    int tries;
    hd_kv_batch_t batch;
    hd_session_done_fn cb;
    void *arg;
} end_t;

struct hd_session_reg_s {
    struct event_base *base;
    hd_store_t *store;
    hd_kv_t *kv;
    char *node;
    hd_session_check_fn check_fn;
    void *check_arg;
    hd_map_t sessions; /* "tenant/id" -> hd_session_t */
    hd_map_t states;   /* "tenant/check" -> status + 1 (as a pointer) */
    hd_map_t delays;   /* "tenant/key" -> int64_t *: lock-delay end (monotonic us) */
    hd_store_watch_t *w_sessions, *w_states;
    hd_topic_t topic;
    int64_t index;
    int status;
    int started;
    int reloading; /* a watch ended: the sessions and states are read again */
};

/* ---- records ----------------------------------------------------------------- */

/* The member of obj named name in any case, the exact spelling first:
 * Consul's decoder matches fields so (python-consul sends "ttl"). */
static json_t *member(const json_t *obj, const char *name)
{
    if (!json_is_object(obj)) return NULL;
    json_t *v = json_object_get(obj, name);
    if (v) return v;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) if (!strcasecmp(key, name)) return val;
    return NULL;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void hd_session_clear(hd_session_t *s)
{
    free(s->name);
    free(s->node);
    free(s->ttl);
    strv_free(s->node_checks, s->nnode);
    strv_free(s->service_checks, s->nservice);
    s->name = s->node = s->ttl = NULL;
    s->node_checks = s->service_checks = NULL;
    s->nnode = s->nservice = 0;
}

static int has(char **v, size_t n, const char *x)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], x)) return 1;
    return 0;
}

/* Adds the strings of array a (field name for errors) to v. */
static int add_strings(const json_t *a, const char *field, int objects, char ***v, size_t *n,
                       char *err, size_t errlen)
{
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a)) {
        snprintf(err, errlen, "Request decode failed: %s: expected an array", field);
        return 400;
    }
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        json_t *sv = x;
        if (objects) {
            sv = json_is_object(x) ? member(x, "ID") : NULL;
            if (!json_is_object(x) || !json_is_string(sv)) {
                snprintf(err, errlen, "Request decode failed: %s[%zu].ID: expected a string", field,
                         i);
                return 400;
            }
        } else if (!json_is_string(x)) {
            snprintf(err, errlen, "Request decode failed: %s[%zu]: expected a string", field, i);
            return 400;
        }
        const char *str = json_string_value(sv);
        if (has(*v, *n, str)) continue;
        if (*n >= HD_SESSION_CHECKS_MAX) {
            snprintf(err, errlen, "Too many checks: at most %d", HD_SESSION_CHECKS_MAX);
            return 400;
        }
        *v = hd_xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = hd_xstrdup(str);
    }
    return 0;
}

static int get_string(const json_t *body, const char *field, const char **out, char *err,
                      size_t errlen)
{
    json_t *v = member(body, field);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "Request decode failed: %s: expected a string", field);
        return 400;
    }
    *out = json_string_value(v);
    return 0;
}

int hd_session_parse(const json_t *body, const char *node, hd_session_t *s, char *err,
                     size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->lock_delay_ns = HD_SESSION_LOCK_DELAY;
    const char *name = NULL, *nd = NULL, *ttl = NULL, *beh = NULL;
    int rc;
    if (body && !json_is_object(body)) {
        snprintf(err, errlen, "Request decode failed: the body must be a JSON object");
        return 400;
    }
    if ((rc = get_string(body, "Name", &name, err, errlen)) ||
        (rc = get_string(body, "Node", &nd, err, errlen)) ||
        (rc = get_string(body, "TTL", &ttl, err, errlen)) ||
        (rc = get_string(body, "Behavior", &beh, err, errlen)))
        return rc;
    json_t *ld = member(body, "LockDelay");
    if (ld && !json_is_null(ld)) {
        if (json_is_string(ld)) {
            const char *t = json_string_value(ld);
            if (hd_time_parse_go_duration(t, strlen(t), &s->lock_delay_ns, err, errlen) < 0 ||
                s->lock_delay_ns < 0) {
                char why[200];
                snprintf(why, sizeof(why), "%s", err);
                snprintf(err, errlen, "Request decode failed: LockDelay: %s", why);
                return 400;
            }
        } else if (json_is_number(ld)) {
            /* Consul's rule: a number below 1000 is seconds, else nanoseconds. */
            double d = json_number_value(ld);
            if (d < 0 || d > 9.2e18) {
                snprintf(err, errlen, "Request decode failed: LockDelay: out of range");
                return 400;
            }
            s->lock_delay_ns = d < 1000 ? (int64_t)(d * 1e9) : (int64_t)d;
        } else {
            snprintf(err, errlen,
                     "Request decode failed: LockDelay: expected a duration string or a number");
            return 400;
        }
    }
    json_t *checks = member(body, "Checks");
    json_t *nchecks = member(body, "NodeChecks");
    json_t *schecks = member(body, "ServiceChecks");
    if ((rc = add_strings(checks, "Checks", 0, &s->node_checks, &s->nnode, err, errlen)) ||
        (rc = add_strings(nchecks, "NodeChecks", 0, &s->node_checks, &s->nnode, err, errlen)) ||
        (rc = add_strings(schecks, "ServiceChecks", 1, &s->service_checks, &s->nservice, err,
                          errlen))) {
        hd_session_clear(s);
        return rc;
    }
    /* Neither list given: the node's own health, as Consul. */
    if ((!checks || json_is_null(checks)) && (!nchecks || json_is_null(nchecks))) {
        s->node_checks = hd_xcalloc(1, sizeof(char *));
        s->node_checks[0] = hd_xstrdup(HD_SESSION_SERF);
        s->nnode = 1;
    }
    if (beh && *beh && strcmp(beh, "release") != 0 && strcmp(beh, "delete") != 0) {
        snprintf(err, errlen, "Invalid Behavior setting '%.64s'", beh);
        hd_session_clear(s);
        return 500;
    }
    s->delete_keys = beh && !strcmp(beh, "delete");
    if (ttl && *ttl) {
        char why[200];
        if (hd_time_parse_go_duration(ttl, strlen(ttl), &s->ttl_ns, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "Session TTL '%.64s' invalid: %s", ttl, why);
            hd_session_clear(s);
            return 500;
        }
        if (s->ttl_ns != 0 &&
            (s->ttl_ns < HD_SESSION_TTL_MIN_NS || s->ttl_ns > HD_SESSION_TTL_MAX_NS)) {
            snprintf(err, errlen, "Invalid Session TTL '%lld', must be between [10s=24h0m0s]",
                     (long long)s->ttl_ns);
            hd_session_clear(s);
            return 500;
        }
    }
    s->name = hd_xstrdup(name ? name : "");
    s->node = hd_xstrdup(nd && *nd ? nd : node);
    s->ttl = hd_xstrdup(ttl && s->ttl_ns ? ttl : "");
    return 0;
}

/* The stored record of s. */
static char *record(const hd_session_t *s, size_t *len)
{
    json_t *nc = json_array(), *sc = json_array();
    for (size_t i = 0; i < s->nnode; i++)
        json_array_append_new(nc, json_string(s->node_checks[i]));
    for (size_t i = 0; i < s->nservice; i++)
        json_array_append_new(sc, json_string(s->service_checks[i]));
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:o}", "Name", s->name, "Node", s->node, "TTL",
                  s->ttl, "LockDelay", (json_int_t)s->lock_delay_ns, "Behavior",
                  s->delete_keys ? "delete" : "release", "NodeChecks", nc, "ServiceChecks", sc);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        fprintf(stderr, "heed: out of memory (a session record)\n");
        abort();
    }
    *len = strlen(text);
    return text;
}

/* Reads a stored record into s. Returns 0, or -1 when it is not one. */
static int unrecord(const char *v, size_t len, hd_session_t *s)
{
    json_t *o = json_loadb(v, len, 0, NULL);
    char err[256];
    int rc = o ? hd_session_parse(o, "", s, err, sizeof(err)) : -1;
    json_decref(o);
    return rc == 0 ? 0 : -1;
}

/* ---- the registry ------------------------------------------------------------ */

static void session_free(hd_session_t *s)
{
    if (!s) return;
    if (s->timer) event_free(s->timer);
    hd_session_clear(s);
    free(s);
}

static void end_session(hd_session_t *s, hd_session_done_fn cb, void *arg);

static void on_ttl(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    end_session(arg, NULL, NULL);
}

/* Consul's rule: a session is invalidated 2 x TTL after its last renewal. */
static void arm(hd_session_t *s)
{
    hd_session_reg_t *reg = s->reg;
    if (!s->ttl_ns || !reg->started || s->ending) return;
    if (!s->timer) s->timer = evtimer_new(reg->base, on_ttl, s);
    int64_t us = 2 * (s->ttl_ns / 1000);
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    evtimer_add(s->timer, &tv);
}

static int check_status(const hd_session_reg_t *reg, const char *tenant, const char *check)
{
    if (!strcmp(check, HD_SESSION_SERF)) return HD_CHECK_PASSING;
    char q[HD_TENANT_KEY_MAX];
    if (hd_tenant_key(q, sizeof(q), tenant, check) < 0) return -1;
    void *v = hd_map_get(&reg->states, q);
    return v ? (int)((intptr_t)v - 1) : -1;
}

/* 1 when one of s's checks is critical or gone. */
static int doomed(const hd_session_reg_t *reg, const hd_session_t *s)
{
    for (int pass = 0; pass < 2; pass++) {
        char **v = pass ? s->service_checks : s->node_checks;
        size_t n = pass ? s->nservice : s->nnode;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(v[i], HD_SESSION_SERF)) continue;
            if (reg->check_fn && !reg->check_fn(reg->check_arg, s->tenant, v[i])) return 1;
            if (check_status(reg, s->tenant, v[i]) == HD_CHECK_CRITICAL) return 1;
        }
    }
    return 0;
}

static void apply_session(hd_session_reg_t *reg, const hd_store_kv_t *kv, int deleted)
{
    size_t plen = sizeof(HD_SESSION_PREFIX) - 1;
    if (kv->key_len <= plen || kv->key_len - plen >= HD_TENANT_KEY_MAX) return;
    char q[HD_TENANT_KEY_MAX];
    memcpy(q, kv->key + plen, kv->key_len - plen);
    q[kv->key_len - plen] = '\0';
    if (kv->mod_revision > reg->index) reg->index = kv->mod_revision;
    hd_session_t *old = hd_map_del(&reg->sessions, q);
    if (deleted) {
        session_free(old);
        return;
    }
    size_t tlen, idlen;
    const char *id;
    hd_session_t *s = hd_xcalloc(1, sizeof(*s));
    if (hd_tenant_split(q, strlen(q), &tlen, &id, &idlen) < 0 || tlen > HD_TENANT_MAX ||
        idlen > HD_KV_SESSION_MAX || unrecord(kv->value, kv->value_len, s) < 0) {
        fprintf(stderr, "heed agent: stored session %s unreadable; ignored\n", q);
        free(s);
        session_free(old);
        return;
    }
    memcpy(s->tenant, q, tlen);
    s->tenant[tlen] = '\0';
    memcpy(s->id, id, idlen);
    s->id[idlen] = '\0';
    s->reg = reg;
    s->create_index = kv->create_revision;
    s->modify_index = kv->mod_revision;
    if (old) {
        s->ending = old->ending;
        session_free(old);
    }
    hd_map_put(&reg->sessions, q, s);
    arm(s);
}

/* A check's state changed (or it is gone: status -1): sessions that
 * depend on it end when it is critical or gone. */
static void apply_state(hd_session_reg_t *reg, const hd_store_kv_t *kv, int deleted)
{
    size_t plen = sizeof(HD_SESSION_STATE_PREFIX) - 1;
    if (kv->key_len <= plen || kv->key_len - plen >= HD_TENANT_KEY_MAX) return;
    char q[HD_TENANT_KEY_MAX];
    memcpy(q, kv->key + plen, kv->key_len - plen);
    q[kv->key_len - plen] = '\0';
    int status = -1;
    if (!deleted) {
        json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
        json_t *st = json_object_get(o, "status");
        status = json_is_integer(st) ? (int)json_integer_value(st) : -1;
        json_decref(o);
    }
    if (status < 0)
        hd_map_del(&reg->states, q);
    else
        hd_map_put(&reg->states, q, (void *)(intptr_t)(status + 1));
    if (!reg->started || (status >= 0 && status != HD_CHECK_CRITICAL)) return;
    size_t tlen, idlen;
    const char *id;
    if (hd_tenant_split(q, strlen(q), &tlen, &id, &idlen) < 0) return;
    /* Sessions end as their checks go critical or away: collect first, an
     * end changes nothing in the map until its write is watched back. */
    size_t pos = 0;
    hd_map_slot_t *slot;
    while ((slot = hd_map_next(&reg->sessions, &pos))) {
        hd_session_t *s = slot->val;
        if (strlen(s->tenant) != tlen || memcmp(s->tenant, q, tlen) != 0) continue;
        if (has(s->node_checks, s->nnode, id) || has(s->service_checks, s->nservice, id))
            end_session(s, NULL, NULL);
    }
}

static void on_sessions(int status, const hd_store_range_t *r, void *arg);

/* A watch ended (the disk failed, its events were compacted away): both
 * watches stop, the sessions and check states are read again and followed
 * from there, as the KV cache does. */
static void reload(hd_session_reg_t *reg, int status)
{
    fprintf(stderr, "heed agent: a watch of the sessions ended (%s)%s\n", hd_store_strerror(status),
            status == HD_STORE_ECLOSED ? "" : "; reloading");
    if (reg->w_sessions) hd_store_watch_cancel(reg->w_sessions);
    if (reg->w_states) hd_store_watch_cancel(reg->w_states);
    reg->w_sessions = reg->w_states = NULL;
    if (status == HD_STORE_ECLOSED) {
        reg->status = status;
        return;
    }
    reg->reloading = 1;
    size_t pos = 0;
    hd_map_slot_t *slot;
    while ((slot = hd_map_next(&reg->sessions, &pos)))
        ((hd_session_t *)slot->val)->stale = 1;
    int rc = hd_store_range(reg->store, HD_SESSION_PREFIX, sizeof(HD_SESSION_PREFIX) - 1, 0,
                            on_sessions, reg);
    if (rc < 0) reg->status = rc;
}

static void on_watch_sessions(int status, const hd_store_event_t *ev, size_t n, void *arg)
{
    hd_session_reg_t *reg = arg;
    if (status != 0) {
        reload(reg, status);
        return;
    }
    int64_t rev = 0;
    for (size_t i = 0; i < n; i++) {
        apply_session(reg, &ev[i].kv, ev[i].type == HD_STORE_EV_DELETE);
        rev = ev[i].kv.mod_revision;
    }
    if (n) hd_topic_bump(&reg->topic, rev);
}

static void on_watch_states(int status, const hd_store_event_t *ev, size_t n, void *arg)
{
    hd_session_reg_t *reg = arg;
    if (status != 0) {
        reload(reg, status);
        return;
    }
    for (size_t i = 0; i < n; i++)
        apply_state(reg, &ev[i].kv, ev[i].type == HD_STORE_EV_DELETE);
}

static void on_states(int status, const hd_store_range_t *r, void *arg)
{
    hd_session_reg_t *reg = arg;
    if (status != 0) {
        reg->status = status;
        return;
    }
    if (reg->reloading) {
        hd_map_free(&reg->states);
        hd_map_init(&reg->states);
    }
    for (size_t i = 0; i < r->n; i++)
        apply_state(reg, &r->kvs[i], 0);
    if (reg->reloading) {
        /* What changed while nobody watched: sessions whose checks went
         * critical or away end now, and readers look again. */
        reg->reloading = 0;
        if (reg->started) {
            reg->started = 0; /* hd_session_start arms and ends as at a start */
            hd_session_start(reg);
        }
        hd_topic_bump(&reg->topic, r->revision);
    }
    int rc =
        hd_store_watch(reg->store, HD_SESSION_STATE_PREFIX, sizeof(HD_SESSION_STATE_PREFIX) - 1,
                       r->revision + 1, on_watch_states, reg, &reg->w_states);
    reg->status = rc < 0 ? rc : 0;
}

static void on_sessions(int status, const hd_store_range_t *r, void *arg)
{
    hd_session_reg_t *reg = arg;
    if (status != 0) {
        reg->status = status;
        return;
    }
    for (size_t i = 0; i < r->n; i++)
        apply_session(reg, &r->kvs[i], 0);
    if (reg->reloading) {
        /* Sessions the store no longer has (ended while nobody watched). */
        size_t pos = 0;
        hd_map_slot_t *slot;
        while ((slot = hd_map_next(&reg->sessions, &pos))) {
            hd_session_t *s = slot->val;
            if (s->stale) session_free(hd_map_del(&reg->sessions, slot->key));
        }
    }
    if (r->revision > reg->index) reg->index = r->revision;
    int rc = hd_store_watch(reg->store, HD_SESSION_PREFIX, sizeof(HD_SESSION_PREFIX) - 1,
                            r->revision + 1, on_watch_sessions, reg, &reg->w_sessions);
    if (rc == 0)
        rc = hd_store_range(reg->store, HD_SESSION_STATE_PREFIX,
                            sizeof(HD_SESSION_STATE_PREFIX) - 1, 0, on_states, reg);
    if (rc < 0) reg->status = rc;
}

/* KV's question for ?acquire (hd_kv_session_fn). */
static int lock_check(void *arg, const char *tenant, const char *id, const char *key,
                      size_t key_len, char *skey, size_t skey_len, int64_t *srev, int *delayed)
{
    hd_session_reg_t *reg = arg;
    const hd_session_t *s = hd_session_get(reg, tenant, id);
    if (!s || s->ending) return -1;
    snprintf(skey, skey_len, "%s%s/%s", HD_SESSION_PREFIX, s->tenant, s->id);
    *srev = s->modify_index;
    *delayed = 0;
    char q[HD_STORE_KEY_MAX + 1];
    int n = snprintf(q, sizeof(q), "%s/%.*s", hd_tenant_name(tenant), (int)key_len, key);
    if (n > 0 && (size_t)n < sizeof(q)) {
        int64_t *until = hd_map_get(&reg->delays, q);
        if (until && *until > hd_time_now_us())
            *delayed = 1;
        else if (until)
            free(hd_map_del(&reg->delays, q));
    }
    return 0;
}

int hd_session_open(struct event_base *base, hd_store_t *store, hd_kv_t *kv, const char *node,
                    hd_session_check_fn check_fn, void *check_arg, hd_session_reg_t **out,
                    char *err, size_t errlen)
{
    hd_session_reg_t *reg = hd_xcalloc(1, sizeof(*reg));
    reg->base = base;
    reg->store = store;
    reg->kv = kv;
    reg->node = hd_xstrdup(node);
    reg->check_fn = check_fn;
    reg->check_arg = check_arg;
    reg->status = 1;
    reg->index = 1;
    hd_map_init(&reg->sessions);
    hd_map_init(&reg->states);
    hd_map_init(&reg->delays);
    hd_topic_init(&reg->topic);
    int rc = hd_store_range(store, HD_SESSION_PREFIX, sizeof(HD_SESSION_PREFIX) - 1, 0, on_sessions,
                            reg);
    if (rc < 0) {
        snprintf(err, errlen, "reading sessions: %s", hd_store_strerror(rc));
        hd_session_free(reg);
        return -1;
    }
    hd_kv_on_session(kv, lock_check, reg);
    *out = reg;
    return 0;
}

int hd_session_status(const hd_session_reg_t *reg)
{
    return reg->status;
}

void hd_session_start(hd_session_reg_t *reg)
{
    reg->started = 1;
    size_t pos = 0, n = 0;
    hd_map_slot_t *slot;
    hd_session_t **doom = hd_xcalloc(reg->sessions.n + 1, sizeof(*doom));
    while ((slot = hd_map_next(&reg->sessions, &pos))) {
        hd_session_t *s = slot->val;
        arm(s);
        if (doomed(reg, s)) doom[n++] = s;
    }
    for (size_t i = 0; i < n; i++)
        end_session(doom[i], NULL, NULL);
    free(doom);
}

void hd_session_free(hd_session_reg_t *reg)
{
    if (!reg) return;
    size_t pos = 0;
    hd_map_slot_t *slot;
    while ((slot = hd_map_next(&reg->sessions, &pos)))
        session_free(slot->val);
    hd_map_free(&reg->sessions);
    hd_map_free(&reg->states);
    pos = 0;
    while ((slot = hd_map_next(&reg->delays, &pos)))
        free(slot->val);
    hd_map_free(&reg->delays);
    hd_topic_close(&reg->topic);
    free(reg->node);
    free(reg);
}

/* ---- reads ------------------------------------------------------------------- */

const hd_session_t *hd_session_get(const hd_session_reg_t *reg, const char *tenant, const char *id)
{
    char q[HD_TENANT_KEY_MAX];
    if (hd_tenant_key(q, sizeof(q), tenant, id) < 0) return NULL;
    return hd_map_get(&reg->sessions, q);
}

const hd_session_t *hd_session_next(const hd_session_reg_t *reg, const char *tenant, size_t *pos)
{
    hd_map_slot_t *slot;
    while ((slot = hd_map_next(&reg->sessions, pos))) {
        hd_session_t *s = slot->val;
        if (hd_tenant_same(s->tenant, tenant)) return s;
    }
    return NULL;
}

hd_topic_t *hd_session_topic(hd_session_reg_t *reg)
{
    return &reg->topic;
}

int64_t hd_session_index(const hd_session_reg_t *reg)
{
    return reg->index > 0 ? reg->index : 1;
}

const hd_session_t *hd_session_renew(hd_session_reg_t *reg, const char *tenant, const char *id)
{
    hd_session_t *s = (hd_session_t *)hd_session_get(reg, tenant, id);
    if (!s || s->ending) return NULL;
    arm(s);
    return s;
}

/* ---- create ------------------------------------------------------------------ */

typedef struct create_s {
    hd_session_done_fn cb;
    void *arg;
    char id[HD_KV_SESSION_MAX + 1];
} create_t;

static void on_created(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    create_t *c = arg;
    if (status == 0)
        c->cb(0, NULL, c->id, c->arg);
    else
        c->cb(500, hd_store_strerror(status), NULL, c->arg);
    free(c);
}

static void uuid(char out[HD_KV_SESSION_MAX + 1])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        fprintf(stderr, "heed: getrandom failed: no session id\n");
        abort();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, HD_KV_SESSION_MAX + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int hd_session_create(hd_session_reg_t *reg, const char *tenant, hd_session_t *s,
                      hd_session_done_fn cb, void *arg, char *err, size_t errlen)
{
    int rc = 500;
    if (strcmp(s->node, reg->node) != 0) {
        snprintf(err, errlen, "Missing node registration");
        goto bad;
    }
    for (int pass = 0; pass < 2; pass++) {
        char **v = pass ? s->service_checks : s->node_checks;
        size_t n = pass ? s->nservice : s->nnode;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(v[i], HD_SESSION_SERF)) continue;
            if (!reg->check_fn || !reg->check_fn(reg->check_arg, tenant, v[i])) {
                snprintf(err, errlen, "Missing check '%.256s' registration", v[i]);
                goto bad;
            }
            int st = check_status(reg, tenant, v[i]);
            /* A check with no state stored yet has not passed: critical, as
             * a new check starts. */
            if (st < 0 || st == HD_CHECK_CRITICAL) {
                snprintf(err, errlen, "Check '%.256s' is in critical state", v[i]);
                goto bad;
            }
        }
    }
    create_t *c = hd_xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->arg = arg;
    uuid(c->id);
    char key[HD_STORE_KEY_MAX + 1];
    int klen =
        snprintf(key, sizeof(key), "%s%s/%s", HD_SESSION_PREFIX, hd_tenant_name(tenant), c->id);
    size_t vlen;
    char *val = record(s, &vlen);
    /* A new id: the key must be absent (a UUID clash would fail, not overwrite). */
    hd_store_cmp_t cmp = {key, (size_t)klen, HD_STORE_CMP_ABSENT, 0};
    hd_store_op_t op = {HD_STORE_OP_PUT, key, (size_t)klen, val, vlen, 0};
    int src = hd_store_txn(reg->store, &cmp, 1, &op, 1, on_created, c);
    free(val);
    hd_session_clear(s);
    if (src < 0) {
        free(c);
        snprintf(err, errlen, "%s", hd_store_strerror(src));
        return 500;
    }
    return 0;
bad:
    hd_session_clear(s);
    return rc;
}

/* ---- the end ----------------------------------------------------------------- */

static void end_send(end_t *e);

static void end_done(end_t *e, int status)
{
    hd_session_done_fn cb = e->cb;
    void *arg = e->arg;
    hd_kv_batch_free(&e->batch);
    free(e);
    if (cb) cb(status ? 500 : 0, status ? hd_store_strerror(status) : NULL, NULL, arg);
}

static void on_ended(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    end_t *e = arg;
    hd_session_reg_t *reg = e->reg;
    if (status == HD_STORE_ECONFLICT && ++e->tries < END_TRIES) {
        end_send(e); /* a key changed meanwhile: the cache has it now */
        return;
    }
    if (status == 0) {
        /* Lock-delay: the freed keys stay unacquirable for a while. */
        int64_t now = hd_time_now_us(), until = now + e->lock_delay_ns / 1000;
        if (reg->delays.n > 1024) {
            /* Forget lock-delays that have passed (they are also dropped
             * when an acquire finds them over). */
            size_t pos = 0;
            hd_map_slot_t *slot;
            while ((slot = hd_map_next(&reg->delays, &pos)))
                if (*(int64_t *)slot->val <= now) free(hd_map_del(&reg->delays, slot->key));
        }
        size_t plen = sizeof(HD_KV_PREFIX) - 1;
        for (size_t i = 0; e->lock_delay_ns > 0 && i < e->batch.n; i++) {
            char q[HD_STORE_KEY_MAX + 1];
            size_t kl = e->batch.ops[i].key_len - plen;
            memcpy(q, e->batch.ops[i].key + plen, kl);
            q[kl] = '\0';
            int64_t *p = hd_map_get(&reg->delays, q);
            if (!p) {
                p = hd_xmalloc(sizeof(*p));
                hd_map_put(&reg->delays, q, p);
            }
            *p = until;
        }
        if (e->batch.more) {
            /* More keys than one transaction holds: on with the rest (the
             * record is gone, so nothing takes new ones meanwhile). */
            e->with_record = 0;
            e->tries = 0;
            end_send(e);
            return;
        }
    }
    end_done(e, status);
}

static void end_send(end_t *e)
{
    hd_session_reg_t *reg = e->reg;
    size_t max = HD_STORE_TXN_OPS_MAX - (e->with_record ? 1 : 0);
    size_t n = hd_kv_held(reg->kv, e->tenant, e->id, e->delete_keys, max, &e->batch);
    char key[HD_STORE_KEY_MAX + 1];
    int klen = snprintf(key, sizeof(key), "%s%s", HD_SESSION_PREFIX, e->qual);
    hd_store_op_t ops[HD_STORE_TXN_OPS_MAX];
    memcpy(ops, e->batch.ops, n * sizeof(ops[0]));
    if (e->with_record)
        ops[n++] = (hd_store_op_t){HD_STORE_OP_DELETE, key, (size_t)klen, NULL, 0, 0};
    if (n == 0) {
        end_done(e, 0);
        return;
    }
    int rc = hd_store_txn(reg->store, e->batch.cmps, e->batch.n, ops, n, on_ended, e);
    if (rc < 0) end_done(e, rc);
}

static void end_session(hd_session_t *s, hd_session_done_fn cb, void *arg)
{
    hd_session_reg_t *reg = s->reg;
    if (s->ending && !cb) return; /* its end is being written already */
    if (s->timer) evtimer_del(s->timer);
    s->ending = 1;
    end_t *e = hd_xcalloc(1, sizeof(*e));
    e->reg = reg;
    snprintf(e->tenant, sizeof(e->tenant), "%s", s->tenant);
    snprintf(e->id, sizeof(e->id), "%s", s->id);
    (void)hd_tenant_key(e->qual, sizeof(e->qual), s->tenant, s->id);
    e->delete_keys = s->delete_keys;
    e->lock_delay_ns = s->lock_delay_ns;
    e->with_record = 1;
    e->cb = cb;
    e->arg = arg;
    end_send(e);
}

typedef struct gone_s {
    hd_session_done_fn cb;
    void *arg;
} gone_t;

static void on_gone(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gone_t *g = arg;
    g->cb(0, NULL, NULL, g->arg);
    free(g);
}

int hd_session_destroy(hd_session_reg_t *reg, const char *tenant, const char *id,
                       hd_session_done_fn cb, void *arg)
{
    hd_session_t *s = (hd_session_t *)hd_session_get(reg, tenant, id);
    if (s && !s->ending) {
        end_session(s, cb, arg);
        return 0;
    }
    /* Nothing to end (or its end is being written already): done. */
    gone_t *g = hd_xcalloc(1, sizeof(*g));
    g->cb = cb;
    g->arg = arg;
    struct timeval now = {0, 0};
    return event_base_once(reg->base, -1, EV_TIMEOUT, on_gone, g, &now) < 0 ? HD_STORE_EINVAL : 0;
}
