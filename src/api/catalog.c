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

/* An object of strings (NodeMeta, a node's TaggedAddresses), or NULL. */
static int strings_object(const json_t *v)
{
    const char *k;
    json_t *x;
    if (!json_is_object(v)) return 0;
    json_object_foreach((json_t *)v, k, x) if (!json_is_string(x)) return 0;
    return 1;
}

/* The node part of a registration; -1 when answered. */
static int reg_node(hd_api_req_t *r, hd_agent_t *a, const json_t *b, const char **node,
                    hd_node_t *n)
{
    json_t *jn = hd_consul_field(b, "Node"), *addr = hd_consul_field(b, "Address");
    json_t *id = hd_consul_field(b, "ID"), *dc = hd_consul_field(b, "Datacenter");
    json_t *tagged = hd_consul_field(b, "TaggedAddresses"), *meta = hd_consul_field(b, "NodeMeta");
    if (!json_is_string(jn) || !*json_string_value(jn)) {
        hd_consul_error(r, 400, "Must provide node");
        return -1;
    }
    *node = json_string_value(jn);
    if (!hd_node_name_valid(*node, strlen(*node))) {
        hd_consul_error(r, 400, "Invalid node name \"%s\": 1 to %d letters, digits and . _ - : @",
                        *node, HD_NODE_NAME_MAX);
        return -1;
    }
    if (!strcmp(*node, hd_catalog_local_node(hd_agent_catalog(a)))) {
        hd_consul_error(r, 400,
                        "Node %s is this agent's own: register its services and checks through "
                        "/v1/agent/service/register and /v1/agent/check/register",
                        *node);
        return -1;
    }
    if (dc && json_is_string(dc) && *json_string_value(dc) &&
        strcmp(json_string_value(dc), hd_disco_dc(hd_agent_catalog(a))) != 0) {
        hd_consul_error(r, 500, "No path to datacenter");
        return -1;
    }
    if (!n) return 0;
    if ((addr && !json_is_string(addr)) || (id && !json_is_null(id) && !json_is_string(id)) ||
        (tagged && !json_is_null(tagged) && !strings_object(tagged)) ||
        (meta && !json_is_null(meta) && !strings_object(meta))) {
        hd_consul_error(r, 400,
                        "Request decode failed: Address and ID are strings, TaggedAddresses and "
                        "NodeMeta objects of strings");
        return -1;
    }
    if (!addr || !*json_string_value(addr)) {
        hd_consul_error(r, 400, "Must provide address");
        return -1;
    }
    memset(n, 0, sizeof(*n));
    n->name = hd_xstrdup(*node);
    n->address = hd_xstrdup(json_string_value(addr));
    n->id = hd_xstrdup(json_is_string(id) ? json_string_value(id) : "");
    n->datacenter = hd_xstrdup(hd_disco_dc(hd_agent_catalog(a)));
    n->meta = json_is_object(meta) && json_object_size(meta) ? json_deep_copy(meta) : NULL;
    n->tagged_addresses =
        json_is_object(tagged) && json_object_size(tagged) ? json_deep_copy(tagged) : NULL;
    return 0;
}

/* A catalog check into its stored form; NULL with e set. */
static json_t *reg_ext_check(const json_t *ck, const char *node, const hd_service_t *svc,
                             const hd_catalog_t *c, const hd_scope_t *scope, hd_reg_error_t *e)
{
    static const char *const strs[] = {"CheckID", "Name",      "Notes", "Status",
                                       "Output",  "ServiceID", "Node",  NULL};
    const char *v[7] = {0};
    if (!json_is_object(ck)) {
        snprintf(e->msg, sizeof(e->msg), "Request decode failed: a check must be an object");
        return NULL;
    }
    for (int i = 0; strs[i]; i++) {
        json_t *x = hd_consul_field(ck, strs[i]);
        if (x && !json_is_null(x) && !json_is_string(x)) {
            snprintf(e->msg, sizeof(e->msg),
                     "Request decode failed: json: cannot unmarshal %s into Go struct field "
                     "HealthCheck.%s of type string",
                     json_is_number(x)    ? "number"
                     : json_is_boolean(x) ? "bool"
                                          : "object",
                     strs[i]);
            return NULL;
        }
        v[i] = json_is_string(x) ? json_string_value(x) : NULL;
    }
    const char *id = v[0] && *v[0] ? v[0] : v[1];
    if (!id || !*id) {
        snprintf(e->msg, sizeof(e->msg), "Missing check name");
        return NULL;
    }
    if (strlen(id) >= HD_ID_MAX) {
        snprintf(e->msg, sizeof(e->msg), "Invalid check: CheckID is too long");
        return NULL;
    }
    if (v[6] && *v[6] && strcmp(v[6], node) != 0) {
        snprintf(e->msg, sizeof(e->msg), "Invalid check: Node \"%s\" differs from the request's",
                 v[6]);
        return NULL;
    }
    const char *st = v[3] && *v[3] ? v[3] : "critical";
    if (strcmp(st, "passing") && strcmp(st, "warning") && strcmp(st, "critical")) {
        snprintf(e->msg, sizeof(e->msg), "Invalid check status: \"%s\"", st);
        return NULL;
    }
    const char *sid = v[5] && *v[5] ? v[5] : NULL;
    if (sid && !(svc && !strcmp(svc->id, sid)) &&
        !hd_catalog_service(c, scope, scope->tenant, node, sid)) {
        snprintf(e->msg, sizeof(e->msg), "Unknown service ID \"%s\" for check \"%s\"", sid, id);
        return NULL;
    }
    json_t *def = hd_consul_field(ck, "Definition");
    if (def && !json_is_null(def) && !json_is_object(def)) {
        snprintf(e->msg, sizeof(e->msg),
                 "Request decode failed: json: cannot unmarshal into Go struct field "
                 "HealthCheck.Definition");
        return NULL;
    }
    json_t *d = json_object();
    if (json_is_object(def)) { /* what a reader shows: HTTP and TCP */
        const char *keys[] = {"HTTP", "TCP", "Interval", "Timeout"};
        for (size_t i = 0; i < 4; i++) {
            json_t *x = hd_consul_field(def, keys[i]);
            if (json_is_string(x))
                json_object_set_new(d, keys[i], json_string(json_string_value(x)));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "CheckID", id, "Name",
                     v[1] && *v[1] ? v[1] : id, "Status", st, "Notes", v[2] ? v[2] : "", "Output",
                     v[4] ? v[4] : "", "ServiceID", sid ? sid : "", "Definition", d);
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
    if (reg_node(r, a, r->body, &node, &n) < 0) return;
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
        json_t *st =
            reg_ext_check(ck, node, has_svc ? &svc : NULL, hd_agent_catalog(a), &scope, &e);
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
    if (reg_node(r, a, r->body, &node, NULL) < 0) return;
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
