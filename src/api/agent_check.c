/* agent_check — Consul's /v1/agent routes beyond services: the checks of
 * this agent's node (list, register, deregister), maintenance of a service
 * or of the node, a service's aggregated health (200, 429, 503), and
 * /v1/agent/self and /members. Checks registered here are heed checks (the
 * agent's registry: /v1/checks shows them); reads come from the catalog. */
#include "agent/agent.h"
#include "agent/catalog.h"
#include "api/consul.h"
#include "api/disco.h"
#include "api/register.h"
#include "api/routes.h"
#include "api/scope.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply_empty(hd_api_req_t *r)
{
    hd_api_reply_text(r, 200, "text/plain; charset=utf-8", "", 0);
}

/* ---- GET /v1/agent/checks --------------------------------------------------- */

static void answer_checks(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_CHECK) < 0) return;
    const char *node = hd_catalog_local_node(q->c);
    hd_disco_topic(q, q->scope.tenant ? hd_catalog_topic_tenant_node(q->c, q->scope.tenant, node)
                                      : hd_catalog_topic_checks(q->c, &q->scope));
    hd_disco_topic(q, hd_catalog_topic_node(q->c, node));
    hd_cat_views_t v = {0};
    hd_catalog_checks(q->c, &q->scope, node, 0, &v);
    json_t *o = json_object();
    for (size_t i = 0; i < v.n; i++) {
        json_t *row = hd_disco_check_json(&v.v[i]);
        hd_disco_add(q, o, v.v[i].id, row);
    }
    hd_cat_views_free(&v);
    hd_disco_reply_json(q, 200, o);
}

static void get_checks(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_checks, NULL);
}

/* ---- PUT /v1/agent/check/register ------------------------------------------- */

static void on_check_written(int status, hd_agent_check_t *c, void *arg)
{
    hd_api_req_t *r = arg;
    (void)c;
    if (status != 0)
        hd_consul_error(r, 500, "registering the check: %s", hd_store_strerror(status));
    else
        reply_empty(r);
}

static void put_check_register(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_reg_scope(r, &scope) < 0) return;
    if (!r->body) {
        hd_consul_error(r, 400, "Request decode failed: the body must be a check definition");
        return;
    }
    json_t *name = hd_consul_field(r->body, "Name");
    if (!json_is_string(name) || !*json_string_value(name)) {
        hd_consul_error(r, 400, "Missing check name");
        return;
    }
    json_t *sid = hd_consul_field(r->body, "ServiceID");
    if (!sid) sid = hd_consul_field(r->body, "service_id");
    const char *svc_id =
        json_is_string(sid) && *json_string_value(sid) ? json_string_value(sid) : NULL;
    const hd_cat_service_t *svc = NULL;
    if (svc_id) {
        svc = hd_catalog_service(hd_agent_catalog(a), &scope, scope.tenant,
                                 hd_catalog_local_node(hd_agent_catalog(a)), svc_id);
        if (!svc) {
            hd_consul_error(r, 400, "ServiceID \"%s\" does not exist", svc_id);
            return;
        }
    }
    hd_check_def_t d;
    hd_reg_error_t e = {400, ""};
    if (hd_reg_check(hd_agent_config(a), r->body, scope.tenant, svc_id, svc ? svc->s.name : NULL,
                     NULL, &d, &e) < 0) {
        hd_consul_error(r, e.status, "%s", e.msg);
        return;
    }
    hd_agent_check_t *old = hd_agent_check_get(a, d.tenant, d.id);
    if (old && hd_agent_check_def(old)->from_config) {
        hd_consul_error(r, 400, "Invalid check: check %s is defined in the config file", d.id);
        hd_check_def_free(&d);
        return;
    }
    /* Replaced when its tenant's requests may see it (not being created or
     * deleted: the one visibility rule), created otherwise. */
    hd_scope_t own = {hd_tenant_name(d.tenant)};
    hd_agent_check_t *live = hd_agent_check_find(a, &own, d.id);
    int rc = live ? hd_agent_check_replace(a, live, &d, on_check_written, r)
                  : hd_agent_check_create(a, &d, on_check_written, r);
    if (rc < 0) {
        hd_check_def_free(&d);
        hd_consul_error(r, rc == HD_STORE_ECONFLICT ? 409 : 500, "registering the check: %s",
                        hd_store_strerror(rc));
    }
}

/* ---- PUT /v1/agent/check/deregister/:id ------------------------------------- */

static void on_check_deleted(int status, hd_agent_check_t *c, void *arg)
{
    hd_api_req_t *r = arg;
    (void)c;
    if (status != 0)
        hd_consul_error(r, 500, "deregistering the check: %s", hd_store_strerror(status));
    else
        reply_empty(r);
}

static void put_check_deregister(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_api_scope(r, HD_SCOPE_ONE, &scope) < 0) return;
    const char *id = hd_api_param(r, "id");
    hd_agent_check_t *c = hd_agent_check_find(a, &scope, id);
    if (!c) {
        hd_consul_error(r, 404,
                        "Unknown check ID \"%s\". Ensure that the check ID is passed, not "
                        "the check name.",
                        id);
        return;
    }
    if (hd_agent_check_def(c)->from_config) {
        hd_consul_error(r, 400, "check %s is defined in the config file: remove it there", id);
        return;
    }
    int rc = hd_agent_check_delete(a, c, on_check_deleted, r);
    if (rc < 0) hd_consul_error(r, 500, "deregistering the check: %s", hd_store_strerror(rc));
}

/* ---- maintenance ------------------------------------------------------------- */

/* ?enable= (required) and ?reason=. Returns 0/1 in *on, or replies 400. */
static int maint_params(hd_api_req_t *r, int *on)
{
    const char *en = hd_api_query(r, "enable");
    if (!en || !*en) {
        hd_consul_error(r, 400, "Missing value for enable");
        return -1;
    }
    /* Go's strconv.ParseBool, as Consul reads it. */
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False", NULL};
    *on = -1;
    for (size_t i = 0; yes[i]; i++) {
        if (!strcmp(en, yes[i])) *on = 1;
        if (!strcmp(en, no[i])) *on = 0;
    }
    if (*on < 0) {
        hd_consul_error(r, 400, "Invalid value for enable: \"%s\"", en);
        return -1;
    }
    return 0;
}

static void on_maint_written(int status, int64_t rev, void *arg)
{
    hd_api_req_t *r = arg;
    (void)rev;
    if (status != 0)
        hd_consul_error(r, 500, "maintenance: %s", hd_store_strerror(status));
    else
        reply_empty(r);
}

static void put_service_maint(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    int on;
    if (hd_api_scope(r, HD_SCOPE_ONE, &scope) < 0 || maint_params(r, &on) < 0) return;
    const char *id = hd_api_param(r, "id"), *reason = hd_api_query(r, "reason");
    hd_catalog_t *cat = hd_agent_catalog(a);
    const hd_cat_service_t *cs =
        hd_catalog_service(cat, &scope, scope.tenant, hd_catalog_local_node(cat), id);
    if (!cs) {
        hd_consul_error(r, 404, "Unknown service ID \"%s\"", id);
        return;
    }
    hd_service_t s;
    hd_service_copy(&s, &cs->s);
    s.maint = on;
    free(s.maint_reason);
    s.maint_reason = on && reason && *reason ? hd_xstrdup(reason) : NULL;
    int rc = hd_catalog_service_put(cat, &s, on_maint_written, r);
    hd_service_free(&s);
    if (rc < 0) hd_consul_error(r, 500, "maintenance: %s", hd_store_strerror(rc));
}

static void put_node_maint(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    int on;
    if (maint_params(r, &on) < 0) return;
    const char *reason = hd_api_query(r, "reason");
    hd_catalog_t *cat = hd_agent_catalog(a);
    const hd_cat_node_t *cn = hd_catalog_node(cat, hd_catalog_local_node(cat));
    if (!cn) {
        hd_consul_error(r, 500, "this agent's node is missing from the catalog");
        return;
    }
    hd_node_t n;
    hd_node_copy(&n, &cn->n);
    n.maint = on;
    free(n.maint_reason);
    n.maint_reason = on && reason && *reason ? hd_xstrdup(reason) : NULL;
    int rc = hd_catalog_node_put(cat, &n, on_maint_written, r);
    hd_node_free(&n);
    if (rc < 0) hd_consul_error(r, 500, "maintenance: %s", hd_store_strerror(rc));
}

/* ---- GET /v1/agent/health/service/id/:id and /name/:name --------------------- */

/* Consul's answer codes: passing 200, warning 429, critical (and
 * maintenance) 503. */
static int health_code(hd_check_status_t s)
{
    return s == HD_CHECK_PASSING ? 200 : s == HD_CHECK_WARNING ? 429 : 503;
}

static json_t *health_entry(hd_disco_read_t *q, const hd_cat_service_t *cs,
                            hd_check_status_t *worst)
{
    hd_scope_t own = {hd_tenant_name(cs->s.tenant)};
    hd_cat_views_t v = {0};
    hd_catalog_node_checks(q->c, &own, cs->s.node, 0, &v);
    hd_catalog_service_checks(q->c, cs, &v);
    *worst = hd_cat_views_worst(&v);
    json_t *checks = json_array();
    for (size_t i = 0; i < v.n; i++)
        json_array_append_new(checks, hd_disco_check_json(&v.v[i]));
    hd_cat_views_free(&v);
    return json_pack("{s:s, s:o, s:o}", "AggregatedStatus", hd_disco_status(*worst), "Service",
                     hd_disco_agent_service_json(cs, hd_disco_dc(q->c)), "Checks", checks);
}

static int want_text(const hd_api_req_t *r)
{
    const char *f = hd_api_query(r, "format"), *acc = hd_api_header(r, "Accept");
    return (f && !strcmp(f, "text")) || (acc && !strncmp(acc, "text/plain", 10));
}

static void answer_health_id(hd_disco_read_t *q)
{
    const char *node = hd_catalog_local_node(q->c), *id = hd_api_param(q->r, "id");
    q->no_index = 1;
    const hd_cat_service_t *cs = hd_catalog_service(q->c, &q->scope, q->scope.tenant, node, id);
    char msg[HD_ID_MAX + 64];
    if (!cs) {
        snprintf(msg, sizeof(msg), "ServiceId %s not found", id);
        hd_disco_reply_text(q, 404, msg);
        return;
    }
    hd_check_status_t worst;
    json_t *e = health_entry(q, cs, &worst);
    if (want_text(q->r)) {
        json_decref(e);
        hd_disco_reply_text(q, health_code(worst), hd_disco_status(worst));
    } else {
        hd_disco_reply_json(q, health_code(worst), e);
    }
}

static void answer_health_name(hd_disco_read_t *q)
{
    const char *node = hd_catalog_local_node(q->c), *name = hd_api_param(q->r, "name");
    q->no_index = 1;
    const hd_cat_service_t **l;
    size_t n = hd_catalog_services(q->c, &q->scope, name, node, &l);
    if (!n) {
        free(l);
        char msg[HD_ID_MAX + 64];
        snprintf(msg, sizeof(msg), "ServiceName %s Not Found", name);
        hd_disco_reply_text(q, 404, msg);
        return;
    }
    json_t *out = json_array();
    hd_check_status_t all = HD_CHECK_PASSING, worst;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(out, health_entry(q, l[i], &worst));
        if (worst > all) all = worst;
    }
    free(l);
    if (want_text(q->r)) {
        json_decref(out);
        hd_disco_reply_text(q, health_code(all), hd_disco_status(all));
    } else {
        hd_disco_reply_json(q, health_code(all), out);
    }
}

static void get_health_id(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_ONE, answer_health_id, NULL);
}

static void get_health_name(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_ONE, answer_health_name, NULL);
}

/* ---- GET /v1/agent/self, /v1/agent/members ---------------------------------- */

static json_t *member(hd_agent_t *a)
{
    hd_catalog_t *cat = hd_agent_catalog(a);
    const hd_cat_node_t *n = hd_catalog_node(cat, hd_catalog_local_node(cat));
    const char *addr = n && n->n.address ? n->n.address : "127.0.0.1";
    return json_pack("{s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
                     "Name", hd_catalog_local_node(cat), "Addr", addr, "Port", 8301, "Tags", "role",
                     "consul", "dc", hd_disco_dc(cat), "id", n && n->n.id ? n->n.id : "", "build",
                     HEED_VERSION, "Status", 1, "ProtocolMin", 1, "ProtocolMax", 5, "ProtocolCur",
                     2, "DelegateMin", 2, "DelegateMax", 5, "DelegateCur", 4);
}

static void get_self(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_catalog_t *cat = hd_agent_catalog(a);
    const hd_cat_node_t *n = hd_catalog_node(cat, hd_catalog_local_node(cat));
    json_t *o = json_pack("{s:{s:s, s:s, s:s, s:b, s:s, s:s}, s:o, s:o}", "Config", "Datacenter",
                          hd_disco_dc(cat), "NodeName", hd_catalog_local_node(cat), "NodeID",
                          n && n->n.id ? n->n.id : "", "Server", 1, "Revision", "heed", "Version",
                          HEED_VERSION, "Member", member(a), "Meta",
                          n && n->n.meta ? json_deep_copy(n->n.meta) : json_object());
    hd_api_reply_json(r, 200, o);
}

static void get_members(hd_api_req_t *r, void *arg)
{
    hd_api_reply_json(r, 200, json_pack("[o]", member(arg)));
}

int hd_api_agent_check_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    static const struct {
        const char *method, *pattern;
        hd_api_role_t role;
        hd_api_handler_fn fn;
    } routes[] = {
        {"GET", "/v1/agent/checks", HD_ROLE_READ, get_checks},
        {"PUT", "/v1/agent/check/register", HD_ROLE_WRITE, put_check_register},
        {"PUT", "/v1/agent/check/deregister/:id", HD_ROLE_WRITE, put_check_deregister},
        {"PUT", "/v1/agent/service/maintenance/:id", HD_ROLE_WRITE, put_service_maint},
        {"PUT", "/v1/agent/maintenance", HD_ROLE_MANAGEMENT, put_node_maint},
        {"GET", "/v1/agent/health/service/id/:id", HD_ROLE_READ, get_health_id},
        {"GET", "/v1/agent/health/service/name/:name", HD_ROLE_READ, get_health_name},
        {"GET", "/v1/agent/self", HD_ROLE_READ, get_self},
        {"GET", "/v1/agent/members", HD_ROLE_READ, get_members},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (hd_consul_route(api, routes[i].method, routes[i].pattern, routes[i].role, routes[i].fn,
                            a, err, errlen) < 0)
            return -1;
    return 0;
}
