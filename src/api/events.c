/* events — GET /v1/events: recent alert events and the state of each
 * delivery, newest first, scoped by the token's tenant as /v1/checks is,
 * with Consul-style blocking (?index=&wait=, X-Consul-Index = the highest
 * store revision of an event or delivery record). The events are the
 * outbox's (agent/outbox.h); this file only asks and answers. */
#include "agent/agent.h"
#include "agent/outbox.h"
#include "agent/tenant.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX     1000

typedef struct evq_s {
    hd_agent_t *a;
    hd_api_req_t *r;
    hd_outbox_t *ob;
    char *tenant; /* the scope's; NULL: every tenant */
    char *check;  /* ?check= as "tenant/id"; NULL: every check */
    size_t limit;
    uint64_t index;
    int64_t wait_ms;
} evq_t;

static void evq_free(evq_t *q)
{
    free(q->tenant);
    free(q->check);
    free(q);
}

static void run(hd_api_req_t *r, void *arg);

/* The store's answer; keeps only what the scope may see (the index's
 * hashes chose them, the event's own fields decide). */
static void on_list(int status, json_t *events, int64_t index, void *arg)
{
    evq_t *q = arg;
    hd_api_req_t *r = q->r;
    if (status != 0) {
        hd_api_error(r, 500, "store_error", "reading the events: %s", hd_store_strerror(status));
        evq_free(q);
        return;
    }
    json_t *out = json_array();
    size_t i;
    json_t *e;
    hd_scope_t s = {q->tenant};
    json_array_foreach(events, i, e)
    {
        const json_t *c = json_object_get(e, "check");
        const char *tenant = json_string_value(json_object_get(c, "tenant"));
        const char *id = json_string_value(json_object_get(c, "id"));
        if (!hd_scope_has(&s, tenant)) continue;
        if (q->check) {
            char k[HD_TENANT_KEY_MAX];
            if (!id || hd_tenant_key(k, sizeof(k), tenant, id) < 0 || strcmp(k, q->check) != 0)
                continue;
        }
        json_array_append(out, e);
    }
    char idx[32];
    snprintf(idx, sizeof(idx), "%" PRId64, index > 0 ? index : 1);
    hd_api_set_header(r, "X-Consul-Index", idx);
    hd_api_reply_json(r, 200, out);
    evq_free(q);
}

static void run(hd_api_req_t *r, void *arg)
{
    evq_t *q = arg;
    if (!q->ob) {
        hd_api_set_header(r, "X-Consul-Index", "1");
        hd_api_reply_json(r, 200, json_array());
        evq_free(q);
        return;
    }
    hd_topic_t *t = hd_outbox_topic(q->ob);
    if (q->index && (uint64_t)t->index <= q->index && !hd_api_cancelled(r)) {
        if (hd_api_hold(r, &t, 1, q->wait_ms, run, q) == 0) return;
    }
    if (hd_outbox_list(q->ob, q->check, q->tenant != NULL, q->tenant, q->limit, on_list, q) < 0) {
        hd_api_error(r, 500, "internal", "out of memory");
        evq_free(q);
    }
}

static void get_events(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t s;
    if (hd_api_scope(r, HD_SCOPE_LIST, &s) < 0) return;
    size_t limit = LIMIT_DEFAULT;
    const char *ql = hd_api_query(r, "limit"), *qc = hd_api_query(r, "check");
    if (ql) {
        char *end;
        long v = strtol(ql, &end, 10);
        if (!*ql || *end || v < 1 || v > LIMIT_MAX) {
            hd_api_error(r, 400, "bad_query", "limit must be an integer from 1 to %d, got '%s'",
                         LIMIT_MAX, ql);
            return;
        }
        limit = (size_t)v;
    }
    uint64_t index;
    int64_t wait_ms;
    char err[160];
    if (hd_api_block_params(r, &index, &wait_ms, err, sizeof(err)) < 0) {
        hd_api_error(r, 400, "bad_query", "%s", err);
        return;
    }
    evq_t *q = hd_xcalloc(1, sizeof(*q));
    q->a = a;
    q->r = r;
    q->ob = hd_agent_outbox(a);
    q->tenant = s.tenant ? hd_xstrdup(s.tenant) : NULL;
    q->limit = limit;
    q->index = index;
    q->wait_ms = wait_ms;
    if (qc && *qc) {
        char k[HD_TENANT_KEY_MAX];
        /* Across tenants (ns=*) a check is named "tenant/id". */
        int n = s.tenant || !strchr(qc, '/') ? hd_tenant_key(k, sizeof(k), s.tenant, qc)
                                             : snprintf(k, sizeof(k), "%s", qc);
        if (n < 0 || (size_t)n >= sizeof(k)) {
            hd_api_error(r, 400, "bad_query", "check: too long");
            evq_free(q);
            return;
        }
        q->check = hd_xstrdup(k);
    }
    run(r, q);
}

int hd_api_events_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    return hd_api_route(api, "GET", "/v1/events", HD_ROLE_READ, get_events, a, err, errlen);
}
