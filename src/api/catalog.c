/* catalog — Consul's /v1/catalog routes (services, a service's instances,
 * nodes, datacenters) and /v1/status/leader and /peers, from the catalog
 * cache (agent/catalog.h). */
#include "agent/agent_impl.h"
#include "agent/catalog.h"
#include "api/consul.h"
#include "api/disco.h"
#include "api/register.h"
#include "api/routes.h"
#include "api/scope.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_tag(const hd_service_t *s, const char *tag)
{
    for (char **t = s->tags; t && *t; t++)
        if (!strcmp(*t, tag)) return 1;
    return 0;
}

static int node_meta_ok(const hd_cat_node_t *n, const char *want)
{
    if (!want) return 1;
    const char *colon = strchr(want, ':');
    size_t klen = colon ? (size_t)(colon - want) : strlen(want);
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)klen, want);
    const char *v = json_string_value(json_object_get(n ? n->n.meta : NULL, key));
    return v && (!colon || !strcmp(v, colon + 1));
}

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
        if (meta && !node_meta_ok(hd_catalog_node(q->c, s->node), meta)) continue;
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
        if ((tag && !has_tag(&l[i]->s, tag)) || !node_meta_ok(node, meta)) continue;
        json_t *row = hd_disco_catalog_row(node, l[i]);
        if (hd_disco_keep(q, row))
            json_array_append_new(out, row);
        else
            json_decref(row);
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
        if (!node_meta_ok(l[i], meta)) continue;
        json_t *row = hd_disco_node_json(l[i]);
        if (hd_disco_keep(q, row))
            json_array_append_new(out, row);
        else
            json_decref(row);
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
    hd_api_reply_json(r, 200, json_pack("[s]", hd_disco_dc(a->catalog)));
}

/* The one server: the agent itself, at its node's address and Consul's
 * server port (a client only compares or shows it). */
static void leader_text(hd_agent_t *a, char *out, size_t len)
{
    const hd_cat_node_t *n = hd_catalog_node(a->catalog, hd_catalog_local_node(a->catalog));
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

int hd_agent_catalog_routes(hd_agent_t *a, hd_api_t *api, char *err, size_t errlen)
{
    if (hd_consul_route(api, "GET", "/v1/catalog/services", HD_ROLE_READ, get_services, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/catalog/service/:name", HD_ROLE_READ, get_service, a, err,
                        errlen) < 0 ||
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
