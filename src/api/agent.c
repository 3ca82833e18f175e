/* agent — Consul's /v1/agent/service routes: registering a service with
 * its checks, deregistering it, and reading the services of this agent's
 * node. A service's checks are heed checks (the agent's one registry, with
 * service_id set), so /v1/checks shows them too. Reads come from the
 * catalog (api/disco.h). */
#include "agent/agent.h"
#include "agent/catalog.h"
#include "api/consul.h"
#include "api/disco.h"
#include "api/register.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PUT /v1/agent/service/register ---------------------------------------- */

typedef struct reg_s {
    hd_api_req_t *r;
    hd_agent_t *a;
    hd_service_t svc;
    hd_check_def_t *defs;
    size_t ndefs;
    int replace; /* ?replace-existing-checks */
    int pending, failed;
    char why[256];
} reg_t;

static void reg_free(reg_t *g)
{
    hd_service_free(&g->svc);
    for (size_t i = 0; i < g->ndefs; i++)
        hd_check_def_free(&g->defs[i]);
    free(g->defs);
    free(g);
}

/* The order of the writes: the checks first, then the service, so that no
 * reader ever sees the service without its checks (and so passing). */
static void reg_reply(reg_t *g)
{
    if (g->failed)
        hd_consul_error(g->r, 500, "%s", g->why);
    else
        hd_api_reply_text(g->r, 200, "text/plain; charset=utf-8", "", 0);
    reg_free(g);
}

static void on_service_written(int status, int64_t rev, void *arg)
{
    reg_t *g = arg;
    (void)rev;
    if (status != 0) {
        g->failed = 1;
        snprintf(g->why, sizeof(g->why), "registering the service: %s", hd_store_strerror(status));
    }
    reg_reply(g);
}

/* One check write ended; after the last, the service. */
static void reg_checks_step(reg_t *g)
{
    if (--g->pending > 0) return;
    if (g->failed) {
        reg_reply(g);
        return;
    }
    int rc = hd_catalog_service_put(hd_agent_catalog(g->a), &g->svc, on_service_written, g);
    if (rc < 0) {
        g->failed = 1;
        snprintf(g->why, sizeof(g->why), "registering the service: %s", hd_store_strerror(rc));
        reg_reply(g);
    }
}

static void on_check_done(int status, hd_agent_check_t *c, void *arg)
{
    reg_t *g = arg;
    (void)c;
    if (status != 0 && !g->failed) {
        g->failed = 1;
        snprintf(g->why, sizeof(g->why), "registering a check: %s", hd_store_strerror(status));
    }
    reg_checks_step(g);
}

static int def_listed(const reg_t *g, const char *id)
{
    for (size_t i = 0; i < g->ndefs; i++)
        if (g->defs[i].id && !strcmp(g->defs[i].id, id)) return 1;
    return 0;
}

static void reg_checks(reg_t *g)
{
    hd_agent_t *a = g->a;
    g->pending = 1;   /* this function's own share */
    if (g->replace) { /* the service's checks the body did not name go */
        hd_scope_t s = {hd_tenant_name(g->svc.tenant)};
        size_t pos = 0, n = 0;
        hd_agent_check_t *c, **gone = NULL;
        while ((c = hd_agent_check_next(a, &s, &pos))) {
            const hd_check_def_t *cd = hd_agent_check_def(c);
            if (cd->from_config || !cd->service_id || strcmp(cd->service_id, g->svc.id)) continue;
            if (def_listed(g, cd->id)) continue;
            gone = hd_xrealloc(gone, (n + 1) * sizeof(*gone));
            gone[n++] = c;
        }
        for (size_t i = 0; i < n; i++)
            if (hd_agent_check_delete(a, gone[i], on_check_done, g) == 0) g->pending++;
        free(gone);
    }
    for (size_t i = 0; i < g->ndefs; i++) {
        hd_check_def_t *d = &g->defs[i];
        /* Replaced when its tenant's requests may see it (the one
         * visibility rule), created otherwise. */
        hd_scope_t own = {hd_tenant_name(d->tenant)};
        hd_agent_check_t *live = hd_agent_check_find(a, &own, d->id);
        int rc = live ? hd_agent_check_replace(a, live, d, on_check_done, g)
                      : hd_agent_check_create(a, d, on_check_done, g);
        if (rc == 0) {
            g->pending++;
            memset(d, 0, sizeof(*d)); /* the registry took it */
        } else if (!g->failed) {
            g->failed = 1;
            snprintf(g->why, sizeof(g->why), "registering check %s: %s", d->id,
                     hd_store_strerror(rc));
        }
    }
    reg_checks_step(g);
}

static void put_register(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_reg_scope(r, &scope) < 0) return;
    if (!r->body) {
        hd_consul_error(r, 400, "Request decode failed: the body must be a service definition");
        return;
    }
    reg_t *g = hd_xcalloc(1, sizeof(*g));
    g->r = r;
    g->a = a;
    const char *rep = hd_api_query(r, "replace-existing-checks");
    g->replace = rep && strcmp(rep, "false") != 0 && strcmp(rep, "0") != 0;
    hd_reg_error_t e = {400, ""};
    if (hd_reg_service(hd_agent_config(a), r->body, scope.tenant,
                       hd_catalog_local_node(hd_agent_catalog(a)), HD_SOURCE_API, &g->svc, &g->defs,
                       &g->ndefs, &e) < 0) {
        hd_consul_error(r, e.status, "%s", e.msg);
        reg_free(g);
        return;
    }
    /* A check the config file defines is the file's. */
    for (size_t i = 0; i < g->ndefs; i++) {
        hd_agent_check_t *c = hd_agent_check_get(a, g->defs[i].tenant, g->defs[i].id);
        if (c && hd_agent_check_def(c)->from_config) {
            hd_consul_error(r, 400, "Invalid check: check %s is defined in the config file",
                            g->defs[i].id);
            reg_free(g);
            return;
        }
    }
    reg_checks(g);
}

/* ---- PUT /v1/agent/service/deregister/:id ---------------------------------- */

/* The service goes first, then its checks: no reader sees the service
 * without them. */
typedef struct dereg_s {
    hd_api_req_t *r;
    hd_agent_t *a;
    char *tenant, *id;
    int pending, failed;
} dereg_t;

static void dereg_finish(dereg_t *d)
{
    if (--d->pending > 0) return;
    if (d->failed)
        hd_consul_error(d->r, 500, "deregistering the service failed");
    else
        hd_api_reply_text(d->r, 200, "text/plain; charset=utf-8", "", 0);
    free(d->tenant);
    free(d->id);
    free(d);
}

static void on_dereg_check(int status, hd_agent_check_t *c, void *arg)
{
    dereg_t *d = arg;
    (void)c;
    if (status != 0) d->failed = 1;
    dereg_finish(d);
}

static void on_dereg_service(int status, int64_t rev, void *arg)
{
    dereg_t *d = arg;
    (void)rev;
    if (status != 0) {
        d->failed = 1;
        dereg_finish(d);
        return;
    }
    hd_agent_t *a = d->a;
    hd_scope_t s = {hd_tenant_name(d->tenant)};
    size_t pos = 0, n = 0;
    hd_agent_check_t *c, **gone = NULL;
    while ((c = hd_agent_check_next(a, &s, &pos))) {
        const hd_check_def_t *cd = hd_agent_check_def(c);
        if (cd->from_config || !cd->service_id || strcmp(cd->service_id, d->id)) continue;
        gone = hd_xrealloc(gone, (n + 1) * sizeof(*gone));
        gone[n++] = c;
    }
    for (size_t i = 0; i < n; i++) {
        if (hd_agent_check_delete(a, gone[i], on_dereg_check, d) == 0)
            d->pending++;
        else
            d->failed = 1;
    }
    free(gone);
    dereg_finish(d); /* the service's share */
}

static void put_deregister(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_api_scope(r, HD_SCOPE_ONE, &scope) < 0) return;
    const char *id = hd_api_param(r, "id");
    const char *node = hd_catalog_local_node(hd_agent_catalog(a));
    if (!hd_catalog_service(hd_agent_catalog(a), &scope, scope.tenant, node, id)) {
        hd_consul_error(r, 404,
                        "Unknown service ID \"%s\". Ensure that the service ID is passed, not "
                        "the service name.",
                        id);
        return;
    }
    dereg_t *d = hd_xcalloc(1, sizeof(*d));
    d->r = r;
    d->a = a;
    d->tenant = scope.tenant ? hd_xstrdup(scope.tenant) : NULL;
    d->id = hd_xstrdup(id);
    d->pending = 1;
    int rc =
        hd_catalog_service_delete(hd_agent_catalog(a), scope.tenant, node, id, on_dereg_service, d);
    if (rc < 0) {
        d->failed = 1;
        dereg_finish(d);
    }
}

/* ---- GET /v1/agent/services, /v1/agent/service/:id ------------------------- */

static void answer_services(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_AGENT_SERVICE) < 0) return;
    const char *node = hd_catalog_local_node(q->c);
    const hd_cat_service_t **l;
    size_t n = hd_catalog_services(q->c, &q->scope, NULL, node, &l);
    json_t *o = json_object();
    const char *dc = hd_disco_dc(q->c);
    for (size_t i = 0; i < n; i++) {
        json_t *row = hd_disco_agent_service_json(l[i], dc);
        hd_disco_add(q, o, l[i]->s.id, row);
    }
    free(l);
    hd_disco_topic(q, q->scope.tenant ? hd_catalog_topic_tenant_node(q->c, q->scope.tenant, node)
                                      : hd_catalog_topic_services(q->c, &q->scope));
    q->hashed = 1;
    hd_disco_reply_json(q, 200, o);
}

static void get_services(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_services, NULL);
}

static void answer_service(hd_disco_read_t *q)
{
    const char *node = hd_catalog_local_node(q->c), *id = hd_api_param(q->r, "id");
    hd_disco_topic(q, hd_catalog_topic_tenant_node(q->c, q->scope.tenant, node));
    const hd_cat_service_t *s = hd_catalog_service(q->c, &q->scope, q->scope.tenant, node, id);
    if (!s) {
        char msg[HD_ID_MAX + 40];
        snprintf(msg, sizeof(msg), "unknown service ID: %s", id);
        hd_disco_reply_text(q, 404, msg);
        return;
    }
    q->hashed = 1;
    q->hash_in_body = 1; /* ContentHash: the hash of the rest */
    hd_disco_reply_json(q, 200, hd_disco_agent_service_json(s, hd_disco_dc(q->c)));
}

static void get_service(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_ONE, answer_service, NULL);
}

/* ---- routes ---------------------------------------------------------------- */

int hd_consul_route(hd_api_t *api, const char *method, const char *pattern, hd_api_role_t role,
                    hd_api_handler_fn fn, void *arg, char *err, size_t errlen)
{
    if (hd_api_route(api, method, pattern, role, fn, arg, err, errlen) < 0) return -1;
    return hd_api_route_consul(api, method, pattern);
}

int hd_api_agent_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    if (hd_consul_route(api, "PUT", "/v1/agent/service/register", HD_ROLE_WRITE, put_register, a,
                        err, errlen) < 0 ||
        hd_consul_route(api, "PUT", "/v1/agent/service/deregister/:id", HD_ROLE_WRITE,
                        put_deregister, a, err, errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/agent/services", HD_ROLE_READ, get_services, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/agent/service/:id", HD_ROLE_READ, get_service, a, err,
                        errlen) < 0)
        return -1;
    return 0;
}
