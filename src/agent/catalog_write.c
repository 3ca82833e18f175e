/* catalog_write — the writes of the catalog's keys (see catalog.h,
 * "writes"): nodes and services, and another node's entries in one
 * transaction. Each is answered once durable, when the catalog (fed by
 * the store's watch before it answers) already has it. */
#include "agent/catalog_impl.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct put_s {
    hd_catalog_done_cb cb;
    void *arg;
} put_t;

static void on_put(int status, const hd_store_write_result_t *r, void *arg)
{
    put_t *p = arg;
    if (p->cb) p->cb(status, r ? r->revision : 0, p->arg);
    free(p);
}

static int put_json(hd_catalog_t *c, const char *key, json_t *o, hd_catalog_done_cb cb, void *arg)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    put_t *p = hd_xmalloc(sizeof(*p));
    p->cb = cb;
    p->arg = arg;
    int rc = hd_store_put(c->store, key, strlen(key), text, strlen(text), 0, on_put, p);
    free(text);
    if (rc < 0) free(p);
    return rc;
}

int hd_catalog_node_put(hd_catalog_t *c, const hd_node_t *n, hd_catalog_done_cb cb, void *arg)
{
    char key[HD_STORE_KEY_MAX];
    if (!hd_node_name_valid(n->name, strlen(n->name))) return HD_STORE_EKEY;
    snprintf(key, sizeof(key), "%s%s", HD_CAT_KEY_NODES, n->name);
    return put_json(c, key, hd_node_to_json(n), cb, arg);
}

static int service_key(char *key, size_t len, const char *tenant, const char *node, const char *id)
{
    int n = snprintf(key, len, "%s%s/%s/%s", HD_CAT_KEY_SERVICES, hd_tenant_name(tenant), node, id);
    return n < 0 || (size_t)n >= len ? HD_STORE_EKEY : 0;
}

int hd_catalog_service_put(hd_catalog_t *c, const hd_service_t *s, hd_catalog_done_cb cb, void *arg)
{
    char key[HD_STORE_KEY_MAX];
    if (service_key(key, sizeof(key), s->tenant, s->node, s->id) < 0) return HD_STORE_EKEY;
    return put_json(c, key, hd_service_to_json(s), cb, arg);
}

int hd_catalog_service_delete(hd_catalog_t *c, const char *tenant, const char *node, const char *id,
                              hd_catalog_done_cb cb, void *arg)
{
    char key[HD_STORE_KEY_MAX];
    if (service_key(key, sizeof(key), tenant, node, id) < 0) return HD_STORE_EKEY;
    put_t *p = hd_xmalloc(sizeof(*p));
    p->cb = cb;
    p->arg = arg;
    int rc = hd_store_delete(c->store, key, strlen(key), on_put, p);
    if (rc < 0) free(p);
    return rc;
}

/* ---- another node's entries (/v1/catalog/register) ------------------------- */

typedef struct txn_s {
    hd_store_op_t ops[HD_STORE_TXN_OPS_MAX];
    char *mem[HD_STORE_TXN_OPS_MAX * 2];
    size_t n, nmem;
} txn_t;

static char *txn_keep(txn_t *t, char *s)
{
    t->mem[t->nmem++] = s;
    return s;
}

static int txn_add(txn_t *t, hd_store_op_kind_t kind, char *key, json_t *value)
{
    if (t->n == HD_STORE_TXN_OPS_MAX) {
        free(key);
        json_decref(value);
        return HD_STORE_ETOOMANY;
    }
    hd_store_op_t *op = &t->ops[t->n++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->key = txn_keep(t, key);
    op->key_len = strlen(key);
    if (value) {
        op->value = txn_keep(t, json_dumps(value, JSON_COMPACT));
        op->value_len = strlen(op->value);
        json_decref(value);
    }
    return 0;
}

static char *keyf(const char *fmt, const char *a, const char *b, const char *d)
{
    char k[HD_STORE_KEY_MAX + 1];
    snprintf(k, sizeof(k), fmt, a, b, d);
    return hd_xstrdup(k);
}

static int txn_run(hd_catalog_t *c, txn_t *t, int rc, hd_catalog_done_cb cb, void *arg)
{
    if (rc == 0) {
        put_t *p = hd_xmalloc(sizeof(*p));
        p->cb = cb;
        p->arg = arg;
        rc = hd_store_txn(c->store, NULL, 0, t->ops, t->n, on_put, p);
        if (rc < 0) free(p);
    }
    for (size_t i = 0; i < t->nmem; i++)
        free(t->mem[i]);
    free(t);
    return rc;
}

int hd_catalog_register(hd_catalog_t *c, const char *node, const hd_node_t *n, const char *tenant,
                        const hd_service_t *s, json_t *const *checks, size_t nchecks,
                        hd_catalog_done_cb cb, void *arg)
{
    const char *t = hd_tenant_name(tenant);
    if (nchecks > HD_CAT_REGISTER_CHECKS_MAX) return HD_STORE_ETOOMANY;
    txn_t *x = hd_xcalloc(1, sizeof(*x));
    int rc = 0;
    if (n)
        rc = txn_add(x, HD_STORE_OP_PUT, keyf("%s%s%s", HD_CAT_KEY_NODES, node, ""),
                     hd_node_to_json(n));
    if (s && rc == 0)
        rc = txn_add(x, HD_STORE_OP_PUT, keyf(HD_CAT_KEY_SERVICES "%s/%s/%s", t, node, s->id),
                     hd_service_to_json(s));
    for (size_t i = 0; i < nchecks && rc == 0; i++) {
        const char *id = json_string_value(json_object_get(checks[i], "CheckID"));
        if (!id) {
            rc = HD_STORE_EINVAL;
            break;
        }
        rc = txn_add(x, HD_STORE_OP_PUT, keyf(HD_CAT_KEY_EXTCHECKS "%s/%s/%s", t, node, id),
                     json_incref(checks[i]));
    }
    return txn_run(c, x, rc, cb, arg);
}

int hd_catalog_deregister(hd_catalog_t *c, const char *node, const char *tenant,
                          const char *service_id, const char *check_id, hd_catalog_done_cb cb,
                          void *arg)
{
    const char *t = hd_tenant_name(tenant);
    txn_t *x = hd_xcalloc(1, sizeof(*x));
    int rc = 0;
    if (check_id) {
        rc = txn_add(x, HD_STORE_OP_DELETE,
                     keyf(HD_CAT_KEY_EXTCHECKS "%s/%s/%s", t, node, check_id), NULL);
    }
    if (service_id && rc == 0) {
        rc = txn_add(x, HD_STORE_OP_DELETE,
                     keyf(HD_CAT_KEY_SERVICES "%s/%s/%s", t, node, service_id), NULL);
        char g[HD_STORE_KEY_MAX];
        snprintf(g, sizeof(g), "%s/%s/%s", t, node, service_id);
        cat_group_t *grp = hd_map_get(&c->groups, g);
        for (hd_cat_check_t *k = grp ? grp->head : NULL; k && rc == 0; k = k->g_next)
            if (k->external)
                rc = txn_add(x, HD_STORE_OP_DELETE,
                             keyf(HD_CAT_KEY_EXTCHECKS "%s/%s/%s", t, node, k->id), NULL);
    }
    if (!check_id && !service_id && rc == 0) {
        rc = txn_add(x, HD_STORE_OP_DELETE_PREFIX,
                     keyf(HD_CAT_KEY_SERVICES "%s/%s/%s", t, node, ""), NULL);
        if (rc == 0)
            rc = txn_add(x, HD_STORE_OP_DELETE_PREFIX,
                         keyf(HD_CAT_KEY_EXTCHECKS "%s/%s/%s", t, node, ""), NULL);
        /* The node goes with its last tenant's entries. */
        int others = 0;
        size_t pos = 0;
        hd_map_slot_t *sl;
        while (!others && (sl = hd_map_next(&c->services, &pos))) {
            const hd_cat_service_t *cs = sl->val;
            others = !strcmp(cs->s.node, node) && !hd_tenant_same(cs->s.tenant, t);
        }
        pos = 0;
        while (!others && (sl = hd_map_next(&c->checks, &pos))) {
            const hd_cat_check_t *k = sl->val;
            others = !strcmp(k->node, node) && !hd_tenant_same(k->tenant, t);
        }
        if (!others && rc == 0)
            rc = txn_add(x, HD_STORE_OP_DELETE, keyf("%s%s%s", HD_CAT_KEY_NODES, node, ""), NULL);
    }
    return txn_run(c, x, rc, cb, arg);
}
