/* catalog — the watch-fed cache of nodes, services and checks (see
 * catalog.h). It owns the keys heed/nodes/, heed/services/ and
 * heed/extchecks/ (their layout and writes), and reads heed/checks/ and
 * heed/state/, which the agent's check registry writes.
 *
 * Loading: each prefix is read whole (one range, consistent at its own
 * revision), then one watch of heed/ follows from the oldest of those
 * revisions on, so nothing is missed between the reads and the watch;
 * events a prefix's read already covered are recognised by their
 * revision and skipped. One watch, not one per prefix: a transaction's
 * keys under several prefixes arrive in one callback and are applied
 * together before any reader wakes.
 *
 * Topics live in one map by key ("n/<tenant>/<name>", "N/<node>",
 * "t/<tenant>/<node>", "s/<tenant>", "s*", "c/<tenant>", "c*", "L"). A
 * topic that was bumped since start is kept for good (a tombstone: the
 * index of what was deleted); one made only to be waited on is freed when
 * its last waiter leaves, and made again at the same index (the load
 * revision). The bumps of one watch callback are collected and made once
 * its events are all applied, so a woken reader never sees half a
 * revision. */
#include "agent/catalog_impl.h"
#include "agent/check_json.h"
#include "agent/state.h"
#include "agent/config.h"
#include "util/mem.h"

#include <event2/event.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const prefixes[W__COUNT] = {HD_CAT_KEY_NODES, HD_CAT_KEY_SERVICES,
                                               HD_CAT_KEY_CHECKS, HD_CAT_KEY_STATE,
                                               HD_CAT_KEY_EXTCHECKS};

/* ---- topics ---------------------------------------------------------------- */

/* Tombstones kept at most (topics of things changed since start, nobody
 * waiting on them); past it they are dropped, and the floor a new topic
 * starts at rises to the highest index dropped, so that no index goes
 * back. A reader then sees a higher index than the last change it covers:
 * at worst one early wake-up, which Consul's clients expect. */
#define TOMBSTONES_MAX 65536 /* c->tombstones_max's default */

static int has_memo(const cat_topic_t *ct)
{
    for (int i = 0; i < HD_CAT_MEMO_SLOTS; i++)
        if (ct->memo[i]) return 1;
    return 0;
}

static void memo_free(cat_topic_t *ct)
{
    for (int i = 0; i < HD_CAT_MEMO_SLOTS; i++) {
        free(ct->memo[i]);
        ct->memo[i] = NULL;
    }
}

static void topic_idle(hd_topic_t *t, void *arg)
{
    cat_topic_t *ct = arg;
    (void)t;
    if (ct->kept || ct->pending || has_memo(ct)) return; /* a memo lives until a change */
    hd_map_del(&ct->c->topics, ct->key);
    memo_free(ct);
    free(ct->key);
    free(ct);
}

/* The topic of key, made (at the load revision) when missing. */
static cat_topic_t *topic_get(hd_catalog_t *c, const char *key)
{
    cat_topic_t *ct = hd_map_get(&c->topics, key);
    if (ct) return ct;
    ct = hd_xcalloc(1, sizeof(*ct));
    hd_topic_init(&ct->t);
    ct->t.index = c->floor > 0 ? c->floor : 1;
    ct->c = c;
    ct->key = hd_xstrdup(key);
    hd_topic_on_idle(&ct->t, topic_idle, ct);
    hd_map_put(&c->topics, key, ct);
    return ct;
}

static void mark(hd_catalog_t *c, const char *fmt, const char *a, const char *b)
{
    if (c->loading) return; /* topics start at the load's revision anyway */
    char key[HD_STORE_KEY_MAX + 8];
    snprintf(key, sizeof(key), fmt, a ? a : "", b ? b : "");
    cat_topic_t *ct = topic_get(c, key);
    ct->kept = 1;
    memo_free(ct); /* what it covers is changing: no reply rendered before stands */
    if (c->cur_rev > ct->pend_rev) ct->pend_rev = c->cur_rev;
    if (ct->pending) return;
    ct->pending = 1;
    if (c->nbump == c->capbump) {
        c->capbump = c->capbump ? 2 * c->capbump : 16;
        c->bump = hd_xrealloc(c->bump, c->capbump * sizeof(*c->bump));
    }
    c->bump[c->nbump++] = ct;
}

static void bump_all(hd_catalog_t *c)
{
    /* A waiter's function may read the catalog and wait again (on any of
     * these topics): every topic is marked not pending first. */
    for (size_t i = 0; i < c->nbump; i++)
        c->bump[i]->pending = 0;
    for (size_t i = 0; i < c->nbump; i++) {
        int64_t rev = c->bump[i]->pend_rev;
        c->bump[i]->pend_rev = 0;
        hd_topic_bump(&c->bump[i]->t, rev); /* kept: never freed by its idle function */
        c->bumps++;
    }
    c->nbump = 0;
    if (c->topics.n > c->tombstones_max) { /* drop every tombstone nobody waits on */
        size_t pos = 0;
        hd_map_slot_t *sl;
        while ((sl = hd_map_next(&c->topics, &pos))) {
            cat_topic_t *ct = sl->val;
            if (ct->t.nwaiters || ct->pending) continue;
            if (ct->t.index > c->floor) c->floor = ct->t.index;
            hd_map_del(&c->topics, ct->key); /* the slot just returned: allowed */
            memo_free(ct);
            free(ct->key);
            free(ct);
        }
    }
}

/* The topics a service's change touches. */
static void mark_service(hd_catalog_t *c, const hd_service_t *s)
{
    const char *t = hd_tenant_name(s->tenant);
    mark(c, "n/%s/%s", t, s->name);
    mark(c, "t/%s/%s", t, s->node);
    mark(c, "s/%s%s", t, NULL);
    mark(c, "s*%s%s", NULL, NULL);
    mark(c, "c/%s%s", t, NULL); /* check views name their service */
    mark(c, "c*%s%s", NULL, NULL);
}

/* The names of tenant's (NULL: every tenant's) services on node: a node
 * check, or the node's record, is part of their health. */
static void mark_names_on(hd_catalog_t *c, const char *tenant, const char *node)
{
    if (c->loading) return;
    const cat_onnode_t *on = hd_map_get(&c->onnode, node);
    for (size_t i = 0; on && i < on->n; i++) {
        const hd_cat_service_t *cs = on->v[i];
        if (tenant && !hd_tenant_same(tenant, cs->s.tenant)) continue;
        mark(c, "n/%s/%s", hd_tenant_name(cs->s.tenant), cs->s.name);
    }
}

static void list_add(hd_map_t *m, const char *key, hd_cat_service_t *cs)
{
    cat_onnode_t *on = hd_map_get(m, key);
    if (!on) {
        on = hd_xcalloc(1, sizeof(*on));
        hd_map_put(m, key, on);
    }
    if (on->n == on->cap) {
        on->cap = on->cap ? 2 * on->cap : 4;
        on->v = hd_xrealloc(on->v, on->cap * sizeof(*on->v));
    }
    on->v[on->n++] = cs;
}

static void list_del(hd_map_t *m, const char *key, const hd_cat_service_t *cs)
{
    cat_onnode_t *on = hd_map_get(m, key);
    for (size_t i = 0; on && i < on->n; i++)
        if (on->v[i] == cs) {
            on->v[i] = on->v[--on->n];
            break;
        }
    if (on && !on->n) {
        hd_map_del(m, key);
        free(on->v);
        free(on);
    }
}

static void name_key(char *out, size_t len, const char *tenant, const char *name)
{
    snprintf(out, len, "%s/%s", hd_tenant_name(tenant), name);
}

/* A service joins (or leaves) the lists of its node and of its name. */
static void indexes_add(hd_catalog_t *c, hd_cat_service_t *cs)
{
    char k[HD_TENANT_MAX + HD_ID_MAX + 2];
    name_key(k, sizeof(k), cs->s.tenant, cs->s.name);
    list_add(&c->onnode, cs->s.node, cs);
    list_add(&c->byname, k, cs);
}

static void indexes_del(hd_catalog_t *c, const hd_cat_service_t *cs)
{
    char k[HD_TENANT_MAX + HD_ID_MAX + 2];
    name_key(k, sizeof(k), cs->s.tenant, cs->s.name);
    list_del(&c->onnode, cs->s.node, cs);
    list_del(&c->byname, k, cs);
}

static void mark_check(hd_catalog_t *c, const hd_cat_check_t *k)
{
    const char *t = hd_tenant_name(k->tenant);
    mark(c, "t/%s/%s", t, k->node);
    mark(c, "c/%s%s", t, NULL);
    mark(c, "c*%s%s", NULL, NULL);
    if (k->service_id) {
        char key[HD_STORE_KEY_MAX];
        snprintf(key, sizeof(key), "%s/%s/%s", t, k->node, k->service_id);
        hd_cat_service_t *cs = hd_map_get(&c->services, key);
        if (cs) mark(c, "n/%s/%s", t, cs->s.name);
    } else {
        mark_names_on(c, t, k->node);
    }
}

static void mark_node(hd_catalog_t *c, const char *node)
{
    mark(c, "N/%s%s", node, NULL);
    mark(c, "L%s%s", NULL, NULL);
    mark_names_on(c, NULL, node);
}

/* ---- checks ---------------------------------------------------------------- */

static void group_key(char *out, size_t len, const hd_cat_check_t *k)
{
    snprintf(out, len, "%s/%s/%s", hd_tenant_name(k->tenant), k->node,
             k->service_id ? k->service_id : "");
}

static void group_leave(hd_catalog_t *c, hd_cat_check_t *k)
{
    cat_group_t *g = k->group;
    if (!g) return;
    if (k->g_prev)
        k->g_prev->g_next = k->g_next;
    else
        g->head = k->g_next;
    if (k->g_next) k->g_next->g_prev = k->g_prev;
    k->g_prev = k->g_next = NULL;
    k->group = NULL;
    if (!g->head) {
        hd_map_del(&c->groups, g->key);
        free(g->key);
        free(g);
    }
}

static void group_join(hd_catalog_t *c, hd_cat_check_t *k)
{
    char key[HD_STORE_KEY_MAX];
    group_key(key, sizeof(key), k);
    cat_group_t *g = hd_map_get(&c->groups, key);
    if (!g) {
        g = hd_xcalloc(1, sizeof(*g));
        g->key = hd_xstrdup(key);
        hd_map_put(&c->groups, key, g);
    }
    k->g_next = g->head;
    if (g->head) g->head->g_prev = k;
    g->head = k;
    k->group = g;
}

static void headers_free(char **h)
{
    for (char **p = h; p && *p; p++)
        free(*p);
    free(h);
}

/* Empties the definition part of k. */
static void check_def_clear(hd_cat_check_t *k)
{
    free(k->name);
    free(k->notes);
    free(k->service_id);
    free(k->http);
    free(k->method);
    headers_free(k->headers);
    free(k->body);
    free(k->tcp);
    free(k->target);
    free(k->def_text);
    k->def_text = NULL;
    k->from_config = 0;
    k->name = k->notes = k->service_id = k->http = k->method = k->body = k->tcp = k->target = NULL;
    k->headers = NULL;
    k->type = "";
    k->interval_us = k->timeout_us = k->ttl_us = k->dereg_us = 0;
    k->tls_skip_verify = 0;
    k->has_def = 0;
}

static void check_free(hd_cat_check_t *k)
{
    check_def_clear(k);
    free(k->tenant);
    free(k->node);
    free(k->id);
    free(k->output);
    free(k);
}

/* Fills k's definition from d, as Consul's routes show it. */
static void check_def_set(hd_cat_check_t *k, const hd_check_def_t *d)
{
    check_def_clear(k);
    k->has_def = 1;
    k->name = hd_xstrdup(d->name ? d->name : d->id);
    k->notes = d->notes ? hd_xstrdup(d->notes) : NULL;
    k->service_id = d->service_id ? hd_xstrdup(d->service_id) : NULL;
    k->interval_us = d->interval_us;
    k->timeout_us = d->timeout_us;
    k->ttl_us = d->ttl ? d->ttl_us : 0;
    k->dereg_us = d->deregister_after_us;
    if (d->ttl) {
        k->type = "ttl";
        return;
    }
    const hd_target_t *t = &d->target;
    k->target = hd_xstrdup(t->display ? t->display : "");
    switch (t->kind) {
    case HD_KIND_HTTP:
        k->type = "http";
        k->http = hd_xstrdup(k->target);
        k->method = t->http.method ? hd_xstrdup(t->http.method) : NULL;
        k->body = t->http.body ? hd_xstrdup(t->http.body) : NULL;
        k->tls_skip_verify = t->http.insecure;
        if (t->http.headers) {
            size_t n = 0;
            while (t->http.headers[n])
                n++;
            k->headers = hd_xcalloc(n + 1, sizeof(*k->headers));
            for (size_t i = 0; i < n; i++)
                k->headers[i] = hd_header_display(t->http.headers[i]);
        }
        break;
    case HD_KIND_TCP: {
        char hp[512];
        snprintf(hp, sizeof(hp), strchr(t->host ? t->host : "", ':') ? "[%s]:%d" : "%s:%d",
                 t->host ? t->host : "", t->port);
        k->type = "tcp";
        k->tcp = hd_xstrdup(hp);
        break;
    }
    case HD_KIND_EXEC:
        k->type = "script";
        break;
    default:
        k->type = hd_kind_name(t->kind);
        break;
    }
}

/* "tenant/node/id" of a check; node is the local one for heed/checks/ and
 * heed/state/ keys. */
static hd_cat_check_t *check_get(hd_catalog_t *c, const char *tenant, size_t tlen, const char *node,
                                 const char *id, size_t idlen, int make)
{
    char key[HD_STORE_KEY_MAX + 2];
    snprintf(key, sizeof(key), "%.*s/%s/%.*s", (int)tlen, tenant, node, (int)idlen, id);
    hd_cat_check_t *k = hd_map_get(&c->checks, key);
    if (k || !make) return k;
    k = hd_xcalloc(1, sizeof(*k));
    k->tenant = hd_xstrndup(tenant, tlen);
    k->node = hd_xstrdup(node);
    k->id = hd_xstrndup(id, idlen);
    k->type = "";
    k->status = HD_CHECK_CRITICAL;
    hd_map_put(&c->checks, key, k);
    return k;
}

static void check_drop(hd_catalog_t *c, hd_cat_check_t *k)
{
    char key[HD_STORE_KEY_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s/%s", k->tenant, k->node, k->id);
    group_leave(c, k);
    hd_map_del(&c->checks, key);
    check_free(k);
}

/* A change of a local check's definition (def set) or state (else);
 * value NULL: deleted. */
static void apply_check(hd_catalog_t *c, const hd_store_kv_t *kv, size_t plen, int def,
                        const char *value)
{
    const char *name = kv->key + plen, *id;
    size_t tlen, idlen;
    if (hd_tenant_split(name, kv->key_len - plen, &tlen, &id, &idlen) < 0 ||
        !hd_tenant_valid(name, tlen) || idlen >= HD_ID_MAX)
        return; /* the layout before tenants: migrate.c's business */
    hd_cat_check_t *k = check_get(c, name, tlen, c->local, id, idlen, value != NULL);
    if (!k) return;
    int64_t rev = kv->mod_revision;
    if (def && rev <= k->def_rev) return; /* the load read it already */
    if (!def && rev <= k->state_rev) return;
    int was_visible = k->has_def;
    if (was_visible) mark_check(c, k); /* its old service's topics */
    if (def) {
        k->def_rev = rev;
        if (!value) {
            check_def_clear(k);
        } else {
            hd_check_def_t d;
            char err[512];
            /* A config file's check is stored with "source": "config"; the
             * rest is the config schema. */
            json_t *o = json_loads(value, 0, NULL);
            int cfg = json_is_string(json_object_get(o, "source")) &&
                      !strcmp(json_string_value(json_object_get(o, "source")), "config");
            json_object_del(o, "source");
            char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
            if (!text ||
                hd_config_parse_check(text, strlen(text), name, &d, err, sizeof(err)) < 0) {
                check_def_clear(k);
            } else {
                group_leave(c, k);
                check_def_set(k, &d);
                hd_check_def_free(&d);
                k->from_config = cfg;
                k->def_text = hd_xstrdup(value);
                if (!k->create_rev || !was_visible) k->create_rev = rev;
            }
            free(text);
        }
    } else {
        k->state_rev = rev;
        k->has_state = value != NULL;
        if (value) {
            json_t *o = json_loads(value, 0, NULL);
            hd_check_state_t st;
            memset(&st, 0, sizeof(st));
            if (o && hd_check_state_from_json(o, &st) == 0) {
                k->status = st.paused ? HD_CHECK_MAINTENANCE : st.status;
                free(k->output);
                k->output = st.output;
                st.output = NULL;
            }
            hd_state_free(&st); /* what else it read (the alert state) */
            json_decref(o);
        }
    }
    k->mod_rev = k->def_rev > k->state_rev ? k->def_rev : k->state_rev;
    if (!k->has_def && !k->has_state) {
        check_drop(c, k);
        return;
    }
    if (k->has_def) {
        if (!k->group) group_join(c, k);
        mark_check(c, k);
    } else {
        group_leave(c, k);
    }
}

/* ---- nodes and services ---------------------------------------------------- */

static void apply_node(hd_catalog_t *c, const hd_store_kv_t *kv, const char *value)
{
    const char *name = kv->key + strlen(HD_CAT_KEY_NODES);
    if (!hd_node_name_valid(name, strlen(name))) return;
    hd_cat_node_t *cn = hd_map_get(&c->nodes, name);
    if (cn && kv->mod_revision <= cn->mod_rev) return;
    if (!value) {
        if (!cn) return;
        hd_map_del(&c->nodes, name);
        hd_node_free(&cn->n);
        free(cn);
        mark_node(c, name);
        return;
    }
    json_t *o = json_loads(value, 0, NULL);
    hd_node_t n;
    char err[128];
    if (!o || hd_node_from_json(o, name, &n, err, sizeof(err)) < 0) {
        json_decref(o);
        return;
    }
    json_decref(o);
    if (!cn) {
        cn = hd_xcalloc(1, sizeof(*cn));
        hd_map_put(&c->nodes, name, cn);
    } else {
        hd_node_free(&cn->n);
    }
    cn->n = n;
    cn->create_rev = kv->create_revision;
    cn->mod_rev = kv->mod_revision;
    mark_node(c, name);
}

static void service_drop(hd_catalog_t *c, const char *key, hd_cat_service_t *cs)
{
    indexes_del(c, cs);
    hd_map_del(&c->services, key);
    hd_service_free(&cs->s);
    free(cs);
}

static void apply_service(hd_catalog_t *c, const hd_store_kv_t *kv, const char *value)
{
    /* heed/services/<tenant>/<node>/<id> */
    const char *rest = kv->key + strlen(HD_CAT_KEY_SERVICES);
    const char *s1 = strchr(rest, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || !s2[1] || !hd_tenant_valid(rest, (size_t)(s1 - rest)) ||
        !hd_node_name_valid(s1 + 1, (size_t)(s2 - s1 - 1)))
        return;
    hd_cat_service_t *cs = hd_map_get(&c->services, rest);
    if (cs && kv->mod_revision <= cs->mod_rev) return;
    if (cs) {
        mark_service(c, &cs->s);
        /* Its checks' view of it changes too. */
    }
    if (!value) {
        if (cs) service_drop(c, rest, cs);
        return;
    }
    char tenant[HD_TENANT_MAX + 1], node[HD_NODE_NAME_MAX + 1];
    snprintf(tenant, sizeof(tenant), "%.*s", (int)(s1 - rest), rest);
    snprintf(node, sizeof(node), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    json_t *o = json_loads(value, 0, NULL);
    hd_service_t s;
    char err[128];
    if (!o || hd_service_from_json(o, tenant, node, &s, err, sizeof(err)) < 0 ||
        strcmp(s.id, s2 + 1) != 0) {
        if (o && s.id) hd_service_free(&s);
        json_decref(o);
        if (cs) service_drop(c, rest, cs); /* unreadable: as if gone */
        return;
    }
    json_decref(o);
    if (!cs) {
        cs = hd_xcalloc(1, sizeof(*cs));
        hd_map_put(&c->services, rest, cs);
    } else {
        indexes_del(c, cs); /* its name may change */
        hd_service_free(&cs->s);
    }
    cs->s = s;
    indexes_add(c, cs);
    cs->create_rev = kv->create_revision;
    cs->mod_rev = kv->mod_revision;
    mark_service(c, &cs->s);
}

/* Another node's check (heed/extchecks/<tenant>/<node>/<id>): stored as
 * Consul shows it; nothing runs it. */
static void apply_ext(hd_catalog_t *c, const hd_store_kv_t *kv, const char *value)
{
    const char *rest = kv->key + strlen(HD_CAT_KEY_EXTCHECKS);
    const char *s1 = strchr(rest, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || !s2[1] || !hd_tenant_valid(rest, (size_t)(s1 - rest)) ||
        !hd_node_name_valid(s1 + 1, (size_t)(s2 - s1 - 1)) || strlen(s2 + 1) >= HD_ID_MAX)
        return;
    char node[HD_NODE_NAME_MAX + 1];
    snprintf(node, sizeof(node), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    hd_cat_check_t *k =
        check_get(c, rest, (size_t)(s1 - rest), node, s2 + 1, strlen(s2 + 1), value != NULL);
    if (!k || kv->mod_revision <= k->def_rev) return;
    if (k->has_def) mark_check(c, k);
    json_t *o = value ? json_loads(value, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        check_drop(c, k);
        return;
    }
    group_leave(c, k);
    check_def_clear(k);
    const char *name = json_string_value(json_object_get(o, "Name"));
    const char *notes = json_string_value(json_object_get(o, "Notes"));
    const char *out = json_string_value(json_object_get(o, "Output"));
    const char *sid = json_string_value(json_object_get(o, "ServiceID"));
    const char *st = json_string_value(json_object_get(o, "Status"));
    json_t *def = json_object_get(o, "Definition");
    const char *http = json_string_value(json_object_get(def, "HTTP"));
    const char *tcp = json_string_value(json_object_get(def, "TCP"));
    k->has_def = 1;
    k->external = 1;
    k->name = hd_xstrdup(name && *name ? name : k->id);
    k->notes = notes && *notes ? hd_xstrdup(notes) : NULL;
    k->service_id = sid && *sid ? hd_xstrdup(sid) : NULL;
    k->http = http && *http ? hd_xstrdup(http) : NULL;
    k->tcp = tcp && *tcp ? hd_xstrdup(tcp) : NULL;
    free(k->output);
    k->output = hd_xstrdup(out ? out : "");
    k->status = st && !strcmp(st, "passing")   ? HD_CHECK_PASSING
                : st && !strcmp(st, "warning") ? HD_CHECK_WARNING
                                               : HD_CHECK_CRITICAL;
    json_decref(o);
    k->def_rev = k->mod_rev = kv->mod_revision;
    k->create_rev = kv->create_revision;
    group_join(c, k);
    mark_check(c, k);
}

/* ---- feeding --------------------------------------------------------------- */

static void apply(hd_catalog_t *c, int which, const hd_store_kv_t *kv, int deleted)
{
    const char *value = deleted ? NULL : kv->value;
    switch (which) {
    case W_NODES:
        apply_node(c, kv, value);
        break;
    case W_SERVICES:
        apply_service(c, kv, value);
        break;
    case W_CHECKS:
        apply_check(c, kv, strlen(HD_CAT_KEY_CHECKS), 1, value);
        break;
    case W_STATE:
        apply_check(c, kv, strlen(HD_CAT_KEY_STATE), 0, value);
        break;
    default:
        apply_ext(c, kv, value);
        break;
    }
}

/* Which of the catalog's prefixes key is under, or -1. */
static int which_prefix(const char *key, size_t len)
{
    for (int i = 0; i < W__COUNT; i++) {
        size_t pl = strlen(prefixes[i]);
        if (len > pl && !memcmp(key, prefixes[i], pl)) return i;
    }
    return -1;
}

/* One watch of heed/ feeds every prefix, so that the keys a transaction
 * writes under several of them (a check's definition and state; a node,
 * a service and its checks) are applied together before anyone wakes. */
static void on_watch(int status, const hd_store_event_t *ev, size_t n, void *arg)
{
    hd_catalog_t *c = arg;
    if (status != 0) {
        fprintf(stderr, "heed agent: catalog: the store's watch ended: %s\n",
                hd_store_strerror(status));
        return;
    }
    int64_t rev = 0;
    for (size_t i = 0; i < n; i++) {
        int w = which_prefix(ev[i].kv.key, ev[i].kv.key_len);
        if (w < 0 || ev[i].kv.mod_revision <= c->watches[w].loaded_rev) continue;
        rev = c->cur_rev = ev[i].kv.mod_revision;
        apply(c, w, &ev[i].kv, ev[i].type == HD_STORE_EV_DELETE);
    }
    if (rev > c->rev) c->rev = rev;
    if (rev) bump_all(c);
}

static void on_range(int status, const hd_store_range_t *r, void *arg)
{
    watch_t *w = arg;
    hd_catalog_t *c = w->c;
    if (status != 0) {
        c->load_status = status;
        snprintf(c->load_err, sizeof(c->load_err), "reading %s: %s", prefixes[w->which],
                 hd_store_strerror(status));
    } else {
        for (size_t i = 0; i < r->n; i++) /* no topic marks while loading (mark) */
            apply(c, w->which, &r->kvs[i], 0);
        w->loaded_rev = r->revision;
        if (r->revision > c->rev) c->rev = r->revision;
    }
    if (--c->loading == 0) event_base_loopbreak(c->base);
}

int hd_catalog_open(hd_store_t *store, struct event_base *base, const char *local_node,
                    hd_catalog_t **out, char *err, size_t errlen)
{
    hd_catalog_t *c = hd_xcalloc(1, sizeof(*c));
    c->store = store;
    c->base = base;
    c->local = hd_xstrdup(local_node);
    c->tombstones_max = TOMBSTONES_MAX;
    hd_map_init(&c->nodes);
    hd_map_init(&c->services);
    hd_map_init(&c->checks);
    hd_map_init(&c->groups);
    hd_map_init(&c->onnode);
    hd_map_init(&c->byname);
    hd_map_init(&c->topics);
    for (int i = 0; i < W__COUNT; i++) {
        c->watches[i].c = c;
        c->watches[i].which = i;
        const char *p = prefixes[i];
        if (hd_store_range(store, p, strlen(p), 0, on_range, &c->watches[i]) < 0) {
            snprintf(err, errlen, "catalog: cannot read %s", p);
            c->load_status = HD_STORE_EIO;
            break;
        }
        c->loading++;
    }
    while (c->loading > 0)
        event_base_dispatch(base);
    if (c->load_status == 0) { /* from the oldest revision a range was read at */
        int64_t from = INT64_MAX;
        for (int i = 0; i < W__COUNT; i++)
            if (c->watches[i].loaded_rev < from) from = c->watches[i].loaded_rev;
        int rc = hd_store_watch(store, "heed/", 5, from + 1, on_watch, c, &c->watch);
        if (rc < 0) {
            c->load_status = rc;
            snprintf(c->load_err, sizeof(c->load_err), "watching heed/: %s", hd_store_strerror(rc));
        }
    }
    if (c->load_status != 0) {
        if (c->load_err[0]) snprintf(err, errlen, "catalog: %s", c->load_err);
        hd_catalog_free(c);
        return -1;
    }
    /* The topics made by the load are no news to anyone. */
    for (size_t i = 0; i < c->nbump; i++) {
        c->bump[i]->pending = 0;
        c->bump[i]->pend_rev = 0;
    }
    c->nbump = 0;
    if (c->rev < 1) c->rev = 1;
    c->load_rev = c->floor = c->rev;
    size_t pos = 0;
    hd_map_slot_t *sl;
    while ((sl = hd_map_next(&c->topics, &pos))) {
        cat_topic_t *ct = sl->val;
        ct->t.index = c->load_rev;
        ct->kept = 0; /* nothing deleted is remembered from before the load */
    }
    *out = c;
    return 0;
}

void hd_catalog_stop(hd_catalog_t *c)
{
    if (c->watch) hd_store_watch_cancel(c->watch);
    c->watch = NULL;
}

void hd_catalog_free(hd_catalog_t *c)
{
    if (!c) return;
    hd_catalog_stop(c);
    size_t pos = 0;
    hd_map_slot_t *sl;
    while ((sl = hd_map_next(&c->nodes, &pos))) {
        hd_cat_node_t *cn = sl->val;
        hd_node_free(&cn->n);
        free(cn);
    }
    pos = 0;
    while ((sl = hd_map_next(&c->services, &pos))) {
        hd_cat_service_t *cs = sl->val;
        hd_service_free(&cs->s);
        free(cs);
    }
    pos = 0;
    while ((sl = hd_map_next(&c->checks, &pos))) {
        hd_cat_check_t *k = sl->val;
        k->group = NULL;
        check_free(k);
    }
    pos = 0;
    while ((sl = hd_map_next(&c->groups, &pos))) {
        cat_group_t *g = sl->val;
        free(g->key);
        free(g);
    }
    hd_map_t *lists[2] = {&c->onnode, &c->byname};
    for (int i = 0; i < 2; i++) {
        pos = 0;
        while ((sl = hd_map_next(lists[i], &pos))) {
            cat_onnode_t *on = sl->val;
            free(on->v);
            free(on);
        }
        hd_map_free(lists[i]);
    }
    pos = 0;
    while ((sl = hd_map_next(&c->topics, &pos))) {
        cat_topic_t *ct = sl->val;
        hd_topic_close(&ct->t);
        memo_free(ct);
        free(ct->key);
        free(ct);
    }
    hd_map_free(&c->nodes);
    hd_map_free(&c->services);
    hd_map_free(&c->checks);
    hd_map_free(&c->groups);
    hd_map_free(&c->topics);
    free(c->bump);
    free(c->local);
    free(c);
}

int64_t hd_catalog_revision(const hd_catalog_t *c)
{
    return c->rev;
}

const char *hd_catalog_local_node(const hd_catalog_t *c)
{
    return c->local;
}

/* ---- reads ----------------------------------------------------------------- */

const hd_cat_node_t *hd_catalog_node(const hd_catalog_t *c, const char *name)
{
    return name ? hd_map_get(&c->nodes, name) : NULL;
}

static int node_cmp(const void *x, const void *y)
{
    const hd_cat_node_t *a = *(const hd_cat_node_t *const *)x,
                        *b = *(const hd_cat_node_t *const *)y;
    return strcmp(a->n.name, b->n.name);
}

size_t hd_catalog_nodes(const hd_catalog_t *c, const hd_cat_node_t ***out)
{
    const hd_cat_node_t **all = hd_xcalloc(c->nodes.n + 1, sizeof(*all));
    size_t n = 0, pos = 0;
    hd_map_slot_t *sl;
    while ((sl = hd_map_next(&c->nodes, &pos)))
        all[n++] = sl->val;
    if (n > 1) qsort(all, n, sizeof(*all), node_cmp);
    *out = all;
    return n;
}

const hd_cat_service_t *hd_catalog_service(const hd_catalog_t *c, const hd_scope_t *s,
                                           const char *tenant, const char *node, const char *id)
{
    if (!hd_scope_has(s, tenant) || !node || !id) return NULL;
    char key[HD_STORE_KEY_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s/%s", hd_tenant_name(tenant), node, id);
    return hd_map_get(&c->services, key);
}

static int svc_cmp(const void *x, const void *y)
{
    const hd_cat_service_t *a = *(const hd_cat_service_t *const *)x;
    const hd_cat_service_t *b = *(const hd_cat_service_t *const *)y;
    int d = strcmp(hd_tenant_name(a->s.tenant), hd_tenant_name(b->s.tenant));
    if (!d) d = strcmp(a->s.node, b->s.node);
    return d ? d : strcmp(a->s.id, b->s.id);
}

size_t hd_catalog_services(const hd_catalog_t *c, const hd_scope_t *s, const char *name,
                           const char *node, const hd_cat_service_t ***out)
{
    size_t n = 0, pos = 0;
    if (name && s->tenant) { /* one name of one tenant: its list */
        char k[HD_TENANT_MAX + HD_ID_MAX + 2];
        name_key(k, sizeof(k), s->tenant, name);
        const cat_onnode_t *on = hd_map_get(&c->byname, k);
        const hd_cat_service_t **all = hd_xcalloc((on ? on->n : 0) + 1, sizeof(*all));
        for (size_t i = 0; on && i < on->n; i++)
            if (!node || !strcmp(on->v[i]->s.node, node)) all[n++] = on->v[i];
        if (n > 1) qsort(all, n, sizeof(*all), svc_cmp);
        *out = all;
        return n;
    }
    const hd_cat_service_t **all = hd_xcalloc(c->services.n + 1, sizeof(*all));
    hd_map_slot_t *sl;
    while ((sl = hd_map_next(&c->services, &pos))) {
        const hd_cat_service_t *cs = sl->val;
        if (!hd_scope_has(s, cs->s.tenant)) continue;
        if (name && strcmp(cs->s.name, name) != 0) continue;
        if (node && strcmp(cs->s.node, node) != 0) continue;
        all[n++] = cs;
    }
    if (n > 1) qsort(all, n, sizeof(*all), svc_cmp);
    *out = all;
    return n;
}

const hd_cat_check_t *hd_catalog_check(const hd_catalog_t *c, const hd_scope_t *s,
                                       const char *tenant, const char *node, const char *id)
{
    if (!hd_scope_has(s, tenant) || !node || !id) return NULL;
    hd_cat_check_t *k = check_get((hd_catalog_t *)c, hd_tenant_name(tenant),
                                  strlen(hd_tenant_name(tenant)), node, id, strlen(id), 0);
    return k && k->has_def ? k : NULL;
}

/* ---- topics ---------------------------------------------------------------- */

static hd_topic_t *topic_fmt(hd_catalog_t *c, const char *fmt, const char *a, const char *b)
{
    char key[HD_STORE_KEY_MAX + 8];
    snprintf(key, sizeof(key), fmt, a ? a : "", b ? b : "");
    return &topic_get(c, key)->t;
}

/* The catalog's own record of a topic it handed out. */
static cat_topic_t *topic_of(hd_topic_t *t)
{
    return (cat_topic_t *)((char *)t - offsetof(cat_topic_t, t));
}

const char *hd_catalog_memo_get(hd_topic_t *t, int slot, size_t *len)
{
    cat_topic_t *ct = topic_of(t);
    if (!ct->memo[slot]) return NULL;
    *len = ct->memo_len[slot];
    return ct->memo[slot];
}

void hd_catalog_memo_set(hd_topic_t *t, int slot, char *text, size_t len)
{
    cat_topic_t *ct = topic_of(t);
    free(ct->memo[slot]);
    ct->memo[slot] = text;
    ct->memo_len[slot] = len;
}

hd_topic_t *hd_catalog_topic_name(hd_catalog_t *c, const char *tenant, const char *name)
{
    return topic_fmt(c, "n/%s/%s", hd_tenant_name(tenant), name);
}

hd_topic_t *hd_catalog_topic_node(hd_catalog_t *c, const char *node)
{
    return topic_fmt(c, "N/%s%s", node, NULL);
}

hd_topic_t *hd_catalog_topic_tenant_node(hd_catalog_t *c, const char *tenant, const char *node)
{
    return topic_fmt(c, "t/%s/%s", hd_tenant_name(tenant), node);
}

hd_topic_t *hd_catalog_topic_services(hd_catalog_t *c, const hd_scope_t *s)
{
    return s->tenant ? topic_fmt(c, "s/%s%s", s->tenant, NULL) : topic_fmt(c, "s*%s%s", NULL, NULL);
}

hd_topic_t *hd_catalog_topic_checks(hd_catalog_t *c, const hd_scope_t *s)
{
    return s->tenant ? topic_fmt(c, "c/%s%s", s->tenant, NULL) : topic_fmt(c, "c*%s%s", NULL, NULL);
}

hd_topic_t *hd_catalog_topic_nodes(hd_catalog_t *c)
{
    return topic_fmt(c, "L%s%s", NULL, NULL);
}

void hd_catalog_topic_done(hd_catalog_t *c, hd_topic_t *t)
{
    cat_topic_t *ct = (cat_topic_t *)t; /* t is its first member */
    (void)c;
    if (!t->nwaiters) topic_idle(t, ct);
}

size_t hd_catalog_topics(const hd_catalog_t *c)
{
    return c->topics.n;
}

uint64_t hd_catalog_bumps(const hd_catalog_t *c)
{
    return c->bumps;
}
