/* catalog_view — checks as replies show them (see catalog.h, "reads"):
 * a node's checks, a service's, every check of a scope, with the ones the
 * catalog makes (serfHealth, maintenance), in order. */
#include "agent/catalog_impl.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A made view's id points into its own made_id: after the array moved
 * (realloc, qsort), point it there again. */
static void views_fix(hd_cat_views_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i].made == HD_CAT_MADE_SERVICE_MAINT) v->v[i].id = v->v[i].made_id;
}

static hd_cat_view_t *view_add(hd_cat_views_t *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 8;
        v->v = hd_xrealloc(v->v, v->cap * sizeof(*v->v));
        views_fix(v);
    }
    hd_cat_view_t *x = &v->v[v->n++];
    memset(x, 0, sizeof(*x));
    return x;
}

static void view_check(hd_cat_views_t *out, const hd_cat_check_t *k, const hd_cat_service_t *svc)
{
    hd_cat_view_t *x = view_add(out);
    x->check = k;
    x->service = svc;
    x->node = k->node;
    x->tenant = hd_tenant_name(k->tenant);
    x->id = k->id;
    x->name = k->name;
    x->notes = k->notes ? k->notes : "";
    x->output = k->output ? k->output : "";
    x->status = k->status;
    x->create_rev = k->create_rev ? k->create_rev : k->mod_rev;
    x->mod_rev = k->mod_rev;
}

static int view_cmp(const void *x, const void *y)
{
    const hd_cat_view_t *a = x, *b = y;
    int d = strcmp(a->node, b->node);
    return d ? d : strcmp(a->id, b->id);
}

static void group_views(const hd_catalog_t *c, const char *tenant, const char *node,
                        const char *sid, const hd_cat_service_t *svc, hd_cat_views_t *out)
{
    char key[HD_STORE_KEY_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s/%s", hd_tenant_name(tenant), node, sid ? sid : "");
    cat_group_t *g = hd_map_get(&c->groups, key);
    size_t first = out->n;
    for (hd_cat_check_t *k = g ? g->head : NULL; k; k = k->g_next)
        view_check(out, k, svc);
    if (out->n - first > 1) qsort(out->v + first, out->n - first, sizeof(*out->v), view_cmp);
    views_fix(out);
}

/* The checks the catalog makes for node cn: serfHealth (with serf, on an
 * agent's node) and _node_maintenance. */
static void node_made(const hd_cat_node_t *cn, int serf, hd_cat_views_t *out)
{
    if (cn->n.agent && serf) {
        hd_cat_view_t *x = view_add(out);
        x->made = HD_CAT_MADE_SERF;
        x->node = cn->n.name;
        x->tenant = HD_TENANT_DEFAULT;
        x->id = "serfHealth";
        x->name = "Serf Health Status";
        x->notes = "";
        x->output = "Agent alive and reachable";
        x->status = HD_CHECK_PASSING;
        x->create_rev = x->mod_rev = cn->create_rev;
    }
    if (cn->n.maint) {
        hd_cat_view_t *x = view_add(out);
        x->made = HD_CAT_MADE_NODE_MAINT;
        x->node = cn->n.name;
        x->tenant = HD_TENANT_DEFAULT;
        x->id = "_node_maintenance";
        x->name = "Node Maintenance Mode";
        x->notes =
            cn->n.maint_reason ? cn->n.maint_reason : "Maintenance mode is enabled for this node";
        x->output = "";
        x->status = HD_CHECK_CRITICAL;
        x->create_rev = x->mod_rev = cn->mod_rev;
    }
}

void hd_catalog_node_checks(const hd_catalog_t *c, const hd_scope_t *s, const char *node, int serf,
                            hd_cat_views_t *out)
{
    const hd_cat_node_t *cn = hd_catalog_node(c, node);
    if (cn) node_made(cn, serf, out);
    if (s->tenant) {
        group_views(c, s->tenant, node, NULL, NULL, out);
        return;
    }
    /* Every tenant's: walk the groups (few per node). */
    size_t pos = 0, first = out->n;
    hd_map_slot_t *sl;
    while ((sl = hd_map_next(&c->groups, &pos))) {
        const cat_group_t *g = sl->val;
        const hd_cat_check_t *h = g->head;
        if (!h || h->service_id || strcmp(h->node, node) != 0) continue;
        for (const hd_cat_check_t *k = h; k; k = k->g_next)
            view_check(out, k, NULL);
    }
    if (out->n - first > 1) qsort(out->v + first, out->n - first, sizeof(*out->v), view_cmp);
    views_fix(out);
}

void hd_catalog_service_checks(const hd_catalog_t *c, const hd_cat_service_t *svc,
                               hd_cat_views_t *out)
{
    if (svc->s.maint) {
        hd_cat_view_t *x = view_add(out);
        x->made = HD_CAT_MADE_SERVICE_MAINT;
        x->service = svc;
        x->node = svc->s.node;
        x->tenant = hd_tenant_name(svc->s.tenant);
        snprintf(x->made_id, sizeof(x->made_id), "_service_maintenance:%s", svc->s.id);
        x->id = x->made_id;
        x->name = "Service Maintenance Mode";
        x->notes = svc->s.maint_reason ? svc->s.maint_reason
                                       : "Maintenance mode is enabled for this service";
        x->output = "";
        x->status = HD_CHECK_CRITICAL;
        x->create_rev = x->mod_rev = svc->mod_rev;
    }
    group_views(c, svc->s.tenant, svc->s.node, svc->s.id, svc, out);
}

void hd_catalog_checks(const hd_catalog_t *c, const hd_scope_t *s, const char *node, int serf,
                       hd_cat_views_t *out)
{
    const hd_cat_node_t **nodes;
    size_t nn = hd_catalog_nodes(c, &nodes);
    for (size_t i = 0; i < nn; i++)
        if (!node || strcmp(nodes[i]->n.name, node) == 0) node_made(nodes[i], serf, out);
    free(nodes);
    size_t pos = 0;
    hd_map_slot_t *sl;
    while ((sl = hd_map_next(&c->checks, &pos))) {
        const hd_cat_check_t *k = sl->val;
        if (!k->has_def || !hd_scope_has(s, k->tenant)) continue;
        if (node && strcmp(k->node, node) != 0) continue;
        const hd_cat_service_t *svc = NULL;
        if (k->service_id) {
            char key[HD_STORE_KEY_MAX + 2];
            snprintf(key, sizeof(key), "%s/%s/%s", k->tenant, k->node, k->service_id);
            svc = hd_map_get(&c->services, key);
        }
        view_check(out, k, svc);
    }
    /* Services in maintenance. */
    pos = 0;
    while ((sl = hd_map_next(&c->services, &pos))) {
        const hd_cat_service_t *cs = sl->val;
        if (!cs->s.maint || !hd_scope_has(s, cs->s.tenant)) continue;
        if (node && strcmp(cs->s.node, node) != 0) continue;
        hd_cat_views_t one = {0};
        hd_catalog_service_checks(c, cs, &one);
        *view_add(out) = one.v[0];
        views_fix(out);
        hd_cat_views_free(&one);
    }
    hd_cat_views_sort(out);
}

hd_check_status_t hd_cat_views_worst(const hd_cat_views_t *v)
{
    hd_check_status_t w = HD_CHECK_PASSING;
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i].status > w) w = v->v[i].status;
    return w;
}

void hd_cat_views_sort(hd_cat_views_t *v)
{
    if (v->n > 1) qsort(v->v, v->n, sizeof(*v->v), view_cmp);
    views_fix(v);
}

void hd_cat_views_free(hd_cat_views_t *v)
{
    free(v->v);
    memset(v, 0, sizeof(*v));
}
