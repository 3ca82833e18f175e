/* health — Consul's /v1/health routes, from the catalog: a service's
 * instances with their node and checks (a service's health is the worst
 * of its own checks and its node's). */
#include "agent/agent.h"
#include "agent/catalog.h"
#include "api/consul.h"
#include "api/disco.h"
#include "api/register.h"
#include "api/routes.h"
#include "api/scope.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* 1 when a query flag (?passing) is on: present and not false. */
static int flag(const hd_api_req_t *r, const char *key)
{
    const char *v = hd_api_query(r, key);
    return v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

/* The instances of name the request sees, with node and checks, as
 * Consul's /v1/health/service/:name lists them. */
static void answer_service(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_HEALTH_SERVICE) < 0) return;
    const char *name = hd_api_param(q->r, "name"), *tag = hd_api_query(q->r, "tag");
    const char *meta = hd_api_query(q->r, "node-meta");
    int passing = flag(q->r, "passing");
    /* The plain question (one tenant's, without ?tag, ?node-meta, ?filter or
     * ?pretty) is the hot one: its answer is kept with the name's topic
     * until that changes (hd_catalog_memo_get). */
    hd_topic_t *t = NULL;
    int plain = q->scope.tenant && !tag && !meta && !q->filter && !hd_api_query(q->r, "pretty");
    if (q->scope.tenant) {
        hd_disco_topic(q, t = hd_catalog_topic_name(q->c, q->scope.tenant, name));
    } else {
        hd_disco_topic(q, hd_catalog_topic_services(q->c, &q->scope));
        hd_disco_topic(q, hd_catalog_topic_checks(q->c, &q->scope));
        hd_disco_topic(q, hd_catalog_topic_nodes(q->c));
    }
    size_t len;
    const char *memo = plain ? hd_catalog_memo_get(t, passing, &len) : NULL;
    if (memo) {
        hd_disco_reply_rendered(q, 200, memo, len);
        return;
    }
    const hd_cat_service_t **l;
    size_t n = hd_catalog_services(q->c, &q->scope, name, NULL, &l);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        const hd_service_t *s = &l[i]->s;
        const hd_cat_node_t *node = hd_catalog_node(q->c, s->node);
        if (!node || (tag && !hd_disco_has_tag(s, tag)) || !hd_disco_node_meta(node, meta))
            continue;
        hd_scope_t own = {hd_tenant_name(s->tenant)};
        hd_cat_views_t v = {0};
        hd_catalog_node_checks(q->c, &own, s->node, 1, &v);
        hd_catalog_service_checks(q->c, l[i], &v);
        if (passing && hd_cat_views_worst(&v) != HD_CHECK_PASSING) {
            hd_cat_views_free(&v);
            continue;
        }
        json_t *checks = json_array();
        for (size_t j = 0; j < v.n; j++)
            json_array_append_new(checks, hd_disco_check_json(&v.v[j]));
        hd_cat_views_free(&v);
        json_t *row = json_pack("{s:o, s:o, s:o}", "Node", hd_disco_node_json(node), "Service",
                                hd_disco_service_json(l[i]), "Checks", checks);
        hd_disco_add(q, out, NULL, row);
    }
    free(l);
    if (plain && json_array_size(out)) { /* never for a name without instances */
        hd_buf_t b = {0};
        hd_disco_render(out, &b);
        hd_catalog_memo_set(t, passing, b.data, b.len);
        hd_disco_reply_rendered(q, 200, b.data, b.len);
        json_decref(out);
        return;
    }
    hd_disco_reply_json(q, 200, out);
}

static void get_service(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_service, NULL);
}

static json_t *views_json(hd_disco_read_t *q, hd_cat_views_t *v)
{
    json_t *out = json_array();
    for (size_t i = 0; i < v->n; i++) {
        json_t *row = hd_disco_check_json(&v->v[i]);
        hd_disco_add(q, out, NULL, row);
    }
    hd_cat_views_free(v);
    return out;
}

/* GET /v1/health/checks/:name: the checks of every instance of name. */
static void answer_checks(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_CHECK) < 0) return;
    const char *name = hd_api_param(q->r, "name"), *meta = hd_api_query(q->r, "node-meta");
    if (q->scope.tenant) {
        hd_disco_topic(q, hd_catalog_topic_name(q->c, q->scope.tenant, name));
    } else {
        hd_disco_topic(q, hd_catalog_topic_services(q->c, &q->scope));
        hd_disco_topic(q, hd_catalog_topic_checks(q->c, &q->scope));
    }
    const hd_cat_service_t **l;
    size_t n = hd_catalog_services(q->c, &q->scope, name, NULL, &l);
    hd_cat_views_t v = {0};
    for (size_t i = 0; i < n; i++)
        if (hd_disco_node_meta(hd_catalog_node(q->c, l[i]->s.node), meta))
            hd_catalog_service_checks(q->c, l[i], &v);
    free(l);
    hd_disco_reply_json(q, 200, views_json(q, &v));
}

static void get_checks(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_checks, NULL);
}

/* GET /v1/health/state/:state: every check in that state (any: all). */
static void answer_state(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_CHECK) < 0) return;
    const char *state = hd_api_param(q->r, "state");
    int want;
    if (!strcmp(state, "any"))
        want = -1;
    else if (!strcmp(state, "passing"))
        want = HD_CHECK_PASSING;
    else if (!strcmp(state, "warning"))
        want = HD_CHECK_WARNING;
    else if (!strcmp(state, "critical"))
        want = HD_CHECK_CRITICAL;
    else if (!strcmp(state, "maintenance"))
        want = HD_CHECK_MAINTENANCE;
    else {
        hd_disco_reply_text(q, 400, "Invalid check state");
        return;
    }
    hd_disco_topic(q, hd_catalog_topic_checks(q->c, &q->scope));
    hd_disco_topic(q, hd_catalog_topic_nodes(q->c));
    hd_cat_views_t v = {0};
    hd_catalog_checks(q->c, &q->scope, NULL, 1, &v);
    size_t k = 0;
    for (size_t i = 0; i < v.n; i++)
        if (want < 0 || (int)v.v[i].status == want) v.v[k++] = v.v[i];
    v.n = k;
    hd_cat_views_sort(&v); /* in order still; and a made id follows its view */
    hd_disco_reply_json(q, 200, views_json(q, &v));
}

static void get_state(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_state, NULL);
}

/* GET /v1/health/node/:node: the node's checks and its services'. */
static void answer_node(hd_disco_read_t *q)
{
    if (hd_disco_filter(q, HD_DISCO_ROWS_CHECK) < 0) return;
    const char *node = hd_api_param(q->r, "node");
    hd_disco_topic(q, hd_catalog_topic_node(q->c, node));
    hd_disco_topic(q, q->scope.tenant ? hd_catalog_topic_tenant_node(q->c, q->scope.tenant, node)
                                      : hd_catalog_topic_checks(q->c, &q->scope));
    hd_cat_views_t v = {0};
    hd_catalog_checks(q->c, &q->scope, node, 1, &v);
    hd_disco_reply_json(q, 200, views_json(q, &v));
}

static void get_node(hd_api_req_t *r, void *arg)
{
    hd_disco_read(r, arg, HD_SCOPE_LIST, answer_node, NULL);
}

int hd_api_health_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    if (hd_consul_route(api, "GET", "/v1/health/service/:name", HD_ROLE_READ, get_service, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/health/checks/:name", HD_ROLE_READ, get_checks, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/health/state/:state", HD_ROLE_READ, get_state, a, err,
                        errlen) < 0 ||
        hd_consul_route(api, "GET", "/v1/health/node/:node", HD_ROLE_READ, get_node, a, err,
                        errlen) < 0)
        return -1;
    return 0;
}
