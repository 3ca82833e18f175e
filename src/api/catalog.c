/* catalog — Consul's /v1/catalog routes (services, a service's instances,
 * nodes, datacenters) and /v1/status/leader and /peers, from the catalog
 * cache (agent/catalog.h). */
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

/* GET /v1/catalog/services: every service name with its tags (each once). */
static void answer_services(hd_disco_read_t *q)
{
    const char *meta = hd_api_query(q->r, "node-meta");
    hd_disco_topic(q, hd_catalog_topic_services(q->c, &q->scope));
    if (meta) hd_disco_topic(q, hd_catalog_topic_nodes(q->c));
    const hd_cat_service_t **l;
    size_t n = hd_catalog_services(q->c, &q->scope, NULL, NULL, &l);
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        const hd_service_t *s = &l[i]->s;
        if (meta && !hd_disco_node_meta(hd_catalog_node(q->c, s->node), meta)) continue;
        json_t *tags = json_object_get(o, s->name);
        if (!tags) json_object_set_new(o, s->name, tags = json_array());
        for (char **t = s->tags; t && *t; t++) {
            size_t j;
            json_t *x;
            int seen = 0;
            json_array_foreach(tags, j, x) seen |= !strcmp(json_string_value(x), *t);
            if (!seen) json_array_append_new(tags, json_string(*t));
        }
    }
    free(l);
    hd_disco_reply_json(q, 200, o);
}

static void get_services(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_services, NULL);
}

/* GET /v1/catalog/service/:name: its instances, each with its node. */
static void answer_service(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_CATALOG_SERVICE) < 0) return;
    const char *name = hd_api_param(q->r, "name"), *tag = hd_api_query(q->r, "tag");
    const char *meta = hd_api_query(q->r, "node-meta");
    if (q->scope.tenant) {
        hd_disco_topic(q, hd_catalog_topic_name(q->c, q->scope.tenant, name));
    } else {
        hd_disco_topic(q, hd_catalog_topic_services(q->c, &q->scope));
        hd_disco_topic(q, hd_catalog_topic_nodes(q->c));
    }
    const hd_cat_service_t **l;
    size_t n = hd_catalog_services(q->c, &q->scope, name, NULL, &l);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        const hd_cat_node_t *node = hd_catalog_node(q->c, l[i]->s.node);
        if ((tag && !hd_disco_has_tag(&l[i]->s, tag)) || !hd_disco_node_meta(node, meta)) continue;
        json_t *row = hd_disco_catalog_row(node, l[i]);
        hd_disco_add(q, out, NULL, row);
    }
    free(l);
    hd_disco_reply_json(q, 200, out);
}

static void get_service(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_service, NULL);
}

/* GET /v1/catalog/nodes. */
static void answer_nodes(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_NODE) < 0) return;
    const char *meta = hd_api_query(q->r, "node-meta");
    hd_disco_topic(q, hd_catalog_topic_nodes(q->c));
    const hd_cat_node_t **l;
    size_t n = hd_catalog_nodes(q->c, &l);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!hd_disco_node_meta(l[i], meta)) continue;
        json_t *row = hd_disco_node_json(l[i]);
        hd_disco_add(q, out, NULL, row);
    }
    free(l);
    hd_disco_reply_json(q, 200, out);
}

static void get_nodes(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_nodes, NULL);
}

/* GET /v1/catalog/node/:node: the node and its services (null when
 * there is no such node). */
static void answer_node(hd_disco_read_t *q)
{
    const char *name = hd_api_param(q->r, "node");
    hd_disco_topic(q, hd_catalog_topic_node(q->c, name));
    hd_disco_topic(q, q->scope.tenant ? hd_catalog_topic_tenant_node(q->c, q->scope.tenant, name)
                                      : hd_catalog_topic_services(q->c, &q->scope));
    const hd_cat_node_t *n = hd_catalog_node(q->c, name);
    if (!n) {
        hd_disco_reply_json(q, 200, json_null());
        return;
    }
    const hd_cat_service_t **l;
    size_t k = hd_catalog_services(q->c, &q->scope, NULL, name, &l);
    json_t *svcs = json_object();
    for (size_t i = 0; i < k; i++)
        json_object_set_new(svcs, l[i]->s.id, hd_disco_service_json(l[i]));
    free(l);
    hd_disco_reply_json(q, 200,
                        json_pack("{s:o, s:o}", "Node", hd_disco_node_json(n), "Services", svcs));
}

static void get_node(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_node, NULL);
}

static void get_datacenters(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_api_reply_json(r, 200, json_pack("[s]", hd_disco_dc(hd_agent_catalog(a))));
}

/* The one server: the agent itself, at its node's address and Consul's
 * server port (a client only compares or shows it). */
static void leader_text(hd_agent_t *a, char *out, size_t len)
{
    const hd_cat_node_t *n =
        hd_catalog_node(hd_agent_catalog(a), hd_catalog_local_node(hd_agent_catalog(a)));
    const char *addr = n && n->n.address && *n->n.address ? n->n.address : "127.0.0.1";
    snprintf(out, len, strchr(addr, ':') ? "[%s]:8300" : "%s:8300", addr);
}

static void get_leader(hd_api_req_t *r, void *arg)
{
    char l[300];
    leader_text(arg, l, sizeof(l));
    hd_api_reply_json(r, 200, json_string(l));
}

static void get_peers(hd_api_req_t *r, void *arg)
{
    char l[300];
    leader_text(arg, l, sizeof(l));
    hd_api_reply_json(r, 200, json_pack("[s]", l));
}

/* ---- PUT /v1/catalog/register, /v1/catalog/deregister ----------------------- */

static void on_written(int status, int64_t rev, void *arg)
{
    hd_api_req_t *r = arg;
    (void)rev;
    if (status != 0)
        hd_consul_error(r, 500, "%s", hd_store_strerror(status));
    else
        hd_api_reply_json(r, 200, json_true());
}

/* Whether the scope's tenant has service id on node (hd_reg_ext_check). */
typedef struct svc_lookup_s {
    const hd_catalog_t *c;
    const hd_scope_t *scope;
} svc_lookup_t;

static int service_exists(void *arg, const char *node, const char *id)
{
    svc_lookup_t *l = arg;
    return hd_catalog_service(l->c, l->scope, l->scope->tenant, node, id) != NULL;
}

static void put_catalog_register(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_reg_scope(r, &scope) < 0) return;
    if (!r->body) {
        hd_consul_error(r, 400, "Request decode failed: the body must be a registration");
        return;
    }
    const char *node;
    hd_node_t n;
    json_t *skip = hd_consul_field(r->body, "SkipNodeUpdate");
    hd_reg_error_t ne = {400, ""};
    const char *local = hd_catalog_local_node(hd_agent_catalog(a));
    const char *dc = hd_disco_dc(hd_agent_catalog(a));
    if (hd_reg_catalog_node(r->body, local, dc, &node, &n, &ne) < 0) {
        hd_consul_error(r, ne.status, "%s", ne.msg);
        return;
    }
    const hd_cat_node_t *old = hd_catalog_node(hd_agent_catalog(a), node);
    if (json_is_true(skip) && old) { /* the node stays as it is */
        hd_node_free(&n);
    } else if (old) { /* keep its ID unless a new one is given */
        if (!*n.id && old->n.id) {
            free(n.id);
            n.id = hd_xstrdup(old->n.id);
        }
    }
    int keep_node = json_is_true(skip) && old;
    hd_service_t svc;
    int has_svc = 0;
    hd_reg_error_t e = {400, ""};
    json_t *js = hd_consul_field(r->body, "Service");
    json_t *stored[HD_CAT_REGISTER_CHECKS_MAX];
    size_t ns = 0;
    if (js && !json_is_null(js)) {
        json_t *copy = json_is_object(js) ? json_deep_copy(js) : json_incref(js);
        if (json_is_object(copy)) {
            json_t *name = hd_consul_field(copy, "Service");
            if (name) json_object_set(copy, "Name", name);
            json_object_del(copy, "Check");
            json_object_del(copy, "Checks");
            json_object_del(copy, "check");
            json_object_del(copy, "checks");
        }
        hd_check_def_t *none;
        size_t nnone;
        int rc = hd_reg_service(hd_agent_config(a), copy, scope.tenant, node, HD_SOURCE_CATALOG,
                                &svc, &none, &nnone, &e);
        json_decref(copy);
        if (rc < 0) goto bad;
        free(none);
        has_svc = 1;
    }
    json_t *one = hd_consul_field(r->body, "Check"), *many = hd_consul_field(r->body, "Checks");
    if (many && !json_is_null(many) && !json_is_array(many)) {
        snprintf(e.msg, sizeof(e.msg), "Request decode failed: Checks must be a list");
        goto bad;
    }
    size_t total = (one && !json_is_null(one) ? 1 : 0) + json_array_size(many);
    if (total > HD_CAT_REGISTER_CHECKS_MAX) {
        snprintf(e.msg, sizeof(e.msg), "Invalid registration: at most %d checks at once",
                 HD_CAT_REGISTER_CHECKS_MAX);
        goto bad;
    }
    for (size_t i = 0; i < total; i++) {
        const json_t *ck = one && !json_is_null(one) ? (i == 0 ? one : json_array_get(many, i - 1))
                                                     : json_array_get(many, i);
        svc_lookup_t l = {hd_agent_catalog(a), &scope};
        json_t *st = hd_reg_ext_check(ck, node, has_svc ? &svc : NULL, service_exists, &l, &e);
        if (!st) goto bad;
        stored[ns++] = st;
    }
    if (keep_node && !old) {
        snprintf(e.msg, sizeof(e.msg), "Unknown node %s", node);
        goto bad;
    }
    int rc = hd_catalog_register(hd_agent_catalog(a), node, keep_node ? NULL : &n, scope.tenant,
                                 has_svc ? &svc : NULL, stored, ns, on_written, r);
    if (rc < 0) hd_consul_error(r, 500, "%s", hd_store_strerror(rc));
    goto done;
bad:
    hd_consul_error(r, e.status ? e.status : 400, "%s", e.msg);
done:
    for (size_t i = 0; i < ns; i++)
        json_decref(stored[i]);
    if (has_svc) hd_service_free(&svc);
    if (!keep_node) hd_node_free(&n);
}

static void put_catalog_deregister(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    if (hd_reg_scope(r, &scope) < 0) return;
    if (!r->body) {
        hd_consul_error(r, 400, "Request decode failed: the body must name a node");
        return;
    }
    const char *node;
    hd_reg_error_t ne = {400, ""};
    if (hd_reg_catalog_node(r->body, hd_catalog_local_node(hd_agent_catalog(a)),
                            hd_disco_dc(hd_agent_catalog(a)), &node, NULL, &ne) < 0) {
        hd_consul_error(r, ne.status, "%s", ne.msg);
        return;
    }
    json_t *sid = hd_consul_field(r->body, "ServiceID"), *cid = hd_consul_field(r->body, "CheckID");
    if ((sid && !json_is_null(sid) && !json_is_string(sid)) ||
        (cid && !json_is_null(cid) && !json_is_string(cid))) {
        hd_consul_error(r, 400, "Request decode failed: ServiceID and CheckID are strings");
        return;
    }
    const char *s = json_is_string(sid) && *json_string_value(sid) ? json_string_value(sid) : NULL;
    const char *k = json_is_string(cid) && *json_string_value(cid) ? json_string_value(cid) : NULL;
    int rc = hd_catalog_deregister(hd_agent_catalog(a), node, scope.tenant, s, k, on_written, r);
    if (rc < 0) hd_consul_error(r, 500, "%s", hd_store_strerror(rc));
}

int hd_api_catalog_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    if (hd_consul_route(api, "GET", "/v1/catalog/services", HD_ROLE_READ, get_services, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/catalog/service/:name", HD_ROLE_READ, get_service, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "PUT", "/v1/catalog/register", HD_ROLE_WRITE, put_catalog_register, a,
                        err, errlen) < 0 ||
        hd_consul_route(api, "PUT", "/v1/catalog/deregister", HD_ROLE_WRITE, put_catalog_deregister,
                        a, err, errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/catalog/nodes", HD_ROLE_READ, get_nodes, a, err, errlen) <
            0 ||
        hd_consul_route(api, "GET", "/v1/catalog/node/:node", HD_ROLE_READ, get_node, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/catalog/datacenters", HD_ROLE_READ, get_datacenters, a,
                        err, errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/status/leader", HD_ROLE_READ, get_leader, a, err, errlen) <
            0 ||
        hd_consul_route(api, "GET", "/v1/status/peers", HD_ROLE_READ, get_peers, a, err, errlen) <
            0)
        return -1;
    return 0;
}
