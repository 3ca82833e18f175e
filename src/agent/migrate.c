/* migrate — moves the agent's keys from the layout where check ids were
 * unique across tenants to the per-tenant one (agent/tenant.h):
 *
 *   before                                after
 *   heed/checks/<id>  {..., "tenant": T}  heed/checks/<T>/<id>  {...}
 *   heed/state/<id>                       heed/state/<T>/<id>
 *   the history of "<id>"                 the history of "<T>/<id>"
 *
 * T is the definition's "tenant", or "default" when it has none; the
 * states and histories of config-file checks (which have no definition in
 * the store) go to "default".
 *
 * Each check moves in one transaction (definition and state together),
 * asked for after its history's rename, so a crash at any point leaves
 * every check either in the old place or in the new one, and the next
 * start finishes the work. A write that fails stops the start-up with the
 * store's error, nothing lost. Once every check has moved, heed/layout
 * says "2", and later starts read only that key. A check found in both
 * layouts (only an older heed run on a migrated store makes one) keeps
 * the new keys; the old ones stay where they are, and stderr says so.
 *
 * This is the agent's data layout: the store knows nothing of it. */
#include "agent/migrate.h"
#include "agent/agent_impl.h"
#include "store/history.h"
#include "store/store.h"
#include "util/map.h"
#include "util/mem.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 256 /* states read at a time */

/* One check on its way. */
typedef struct move_s {
    char *id;
    char *tenant; /* NULL: "default" */
    char *def;    /* the definition to write ("tenant" dropped), NULL: none stored */
    size_t def_len;
    char *state; /* the stored state, NULL: none */
    size_t state_len;
} move_t;

typedef struct mig_s {
    hd_agent_t *a;
    move_t *moves;
    size_t n, cap;
    hd_map_t by_id; /* id -> index + 1 in moves */
    size_t waiting; /* writes asked for, not answered yet */
    size_t conflicts;
    int status; /* the first failure */
    char err[512];
} mig_t;

static void fail(mig_t *m, int status, const char *what)
{
    if (!m->status) {
        m->status = status ? status : HD_STORE_EIO;
        snprintf(m->err, sizeof(m->err), "%s: %s", what, hd_store_strerror(m->status));
    }
    event_base_loopbreak(m->a->base);
}

static move_t *move_of(mig_t *m, const char *id)
{
    uintptr_t at = (uintptr_t)hd_map_get(&m->by_id, id);
    if (at) return &m->moves[at - 1];
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->moves = hd_xrealloc(m->moves, m->cap * sizeof(*m->moves));
    }
    move_t *mv = &m->moves[m->n++];
    memset(mv, 0, sizeof(*mv));
    mv->id = hd_xstrdup(id);
    hd_map_put(&m->by_id, id, (void *)(uintptr_t)m->n);
    return mv;
}

static void on_marked(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    mig_t *m = arg;
    if (status != 0) fail(m, status, "writing heed/layout");
    event_base_loopbreak(m->a->base);
}

static void mark_done(mig_t *m)
{
    if (m->status) return;
    if (hd_store_put(m->a->store, HD_AGENT_KEY_LAYOUT, strlen(HD_AGENT_KEY_LAYOUT), HD_AGENT_LAYOUT,
                     strlen(HD_AGENT_LAYOUT), 0, on_marked, m) < 0)
        fail(m, HD_STORE_EIO, "writing heed/layout");
}

/* What a move's answer needs: the migration, and which check it was. */
typedef struct ask_s {
    mig_t *m;
    size_t i;
} ask_t;

static void on_answer(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    ask_t *k = arg;
    mig_t *m = k->m;
    if (status == HD_STORE_ECONFLICT) {
        const move_t *mv = &m->moves[k->i];
        fprintf(stderr,
                "heed agent: migrating the store: check '%s' of tenant %s is stored in both "
                "layouts; the new keys stay, the old ones (heed/checks/%s, heed/state/%s) are "
                "left as they are\n",
                mv->id, hd_tenant_name(mv->tenant), mv->id, mv->id);
        m->conflicts++;
    } else if (status != 0) {
        char what[300];
        snprintf(what, sizeof(what), "moving check '%s'", m->moves[k->i].id);
        fail(m, status, what);
    }
    free(k);
    if (--m->waiting == 0) mark_done(m);
}

static void on_renamed(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    mig_t *m = arg;
    if (status != 0) fail(m, status, "renaming a check's history");
    if (--m->waiting == 0) mark_done(m);
}

static int rename_history(mig_t *m, const char *tenant, const char *id)
{
    char to[HD_TENANT_KEY_MAX];
    if (hd_tenant_key(to, sizeof(to), tenant, id) < 0) return 0; /* cannot be one of heed's */
    m->waiting++;
    if (hd_store_history_rename(m->a->store, id, to, on_renamed, m) == 0) return 0;
    m->waiting--;
    return -1;
}

/* Asks for every move, then waits for the answers (on_answer). */
static void write_moves(mig_t *m)
{
    hd_agent_t *a = m->a;
    m->waiting = 1; /* held until every request is out */
    for (size_t i = 0; i < m->n && !m->status; i++) {
        move_t *mv = &m->moves[i];
        char name[HD_TENANT_KEY_MAX];
        if (hd_tenant_key(name, sizeof(name), mv->tenant, mv->id) < 0) continue;
        char okey[300], nkey[300 + HD_TENANT_KEY_MAX], oskey[300], nskey[300 + HD_TENANT_KEY_MAX];
        snprintf(okey, sizeof(okey), "%s%s", HD_AGENT_KEY_CHECKS, mv->id);
        snprintf(oskey, sizeof(oskey), "%s%s", HD_AGENT_KEY_STATE, mv->id);
        snprintf(nkey, sizeof(nkey), "%s%s", HD_AGENT_KEY_CHECKS, name);
        snprintf(nskey, sizeof(nskey), "%s%s", HD_AGENT_KEY_STATE, name);
        hd_store_cmp_t cmps[2];
        hd_store_op_t ops[4];
        size_t nc = 0, no = 0;
        if (mv->def) {
            cmps[nc++] = (hd_store_cmp_t){nkey, strlen(nkey), HD_STORE_CMP_ABSENT, 0};
            ops[no++] =
                (hd_store_op_t){HD_STORE_OP_PUT, nkey, strlen(nkey), mv->def, mv->def_len, 0};
            ops[no++] = (hd_store_op_t){HD_STORE_OP_DELETE, okey, strlen(okey), NULL, 0, 0};
        }
        if (mv->state) {
            cmps[nc++] = (hd_store_cmp_t){nskey, strlen(nskey), HD_STORE_CMP_ABSENT, 0};
            ops[no++] =
                (hd_store_op_t){HD_STORE_OP_PUT, nskey, strlen(nskey), mv->state, mv->state_len, 0};
            ops[no++] = (hd_store_op_t){HD_STORE_OP_DELETE, oskey, strlen(oskey), NULL, 0, 0};
        }
        /* The history first: a crash after it leaves the keys to move
         * again, and renaming a name that holds nothing is nothing. */
        if (rename_history(m, mv->tenant, mv->id) < 0) {
            fail(m, HD_STORE_EIO, "renaming a check's history");
            break;
        }
        ask_t *k = hd_xmalloc(sizeof(*k));
        *k = (ask_t){m, i};
        m->waiting++;
        if (hd_store_txn(a->store, cmps, nc, ops, no, on_answer, k) < 0) {
            m->waiting--;
            free(k);
            fail(m, HD_STORE_EIO, "moving a check");
        }
    }
    /* Config-file checks may have a history and no stored state (a status
     * that never changed): theirs is renamed by their ids. */
    for (size_t i = 0; i < a->cfg.nchecks && !m->status; i++)
        if (!hd_map_get(&m->by_id, a->cfg.checks[i].id) &&
            rename_history(m, NULL, a->cfg.checks[i].id) < 0)
            fail(m, HD_STORE_EIO, "renaming a check's history");
    if (--m->waiting == 0) mark_done(m);
}

static void on_states(int status, const hd_store_range_t *r, void *arg)
{
    mig_t *m = arg;
    if (status != 0) {
        fail(m, status, "reading heed/state/");
        return;
    }
    size_t plen = strlen(HD_AGENT_KEY_STATE);
    for (size_t i = 0; i < r->n; i++) {
        const hd_store_kv_t *kv = &r->kvs[i];
        const char *id = kv->key + plen;
        if (kv->key_len == plen || memchr(id, '/', kv->key_len - plen)) continue; /* new */
        if (strlen(id) != kv->key_len - plen) continue; /* a NUL inside: not heed's */
        move_t *mv = move_of(m, id);
        mv->state = hd_xmalloc(kv->value_len + 1);
        memcpy(mv->state, kv->value, kv->value_len + 1);
        mv->state_len = kv->value_len;
    }
    if (r->more && r->n) {
        const hd_store_kv_t *last = &r->kvs[r->n - 1];
        if (hd_store_range_after(m->a->store, HD_AGENT_KEY_STATE, plen, last->key, last->key_len,
                                 PAGE, on_states, m) < 0)
            fail(m, HD_STORE_EIO, "reading heed/state/");
        return;
    }
    write_moves(m);
}

static void on_defs(int status, const hd_store_range_t *r, void *arg)
{
    mig_t *m = arg;
    if (status != 0) {
        fail(m, status, "reading heed/checks/");
        return;
    }
    size_t plen = strlen(HD_AGENT_KEY_CHECKS);
    for (size_t i = 0; i < r->n; i++) {
        const hd_store_kv_t *kv = &r->kvs[i];
        const char *id = kv->key + plen;
        if (kv->key_len == plen || memchr(id, '/', kv->key_len - plen)) continue; /* new */
        if (strlen(id) != kv->key_len - plen) continue;
        json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
        json_t *t = json_object_get(o, "tenant");
        const char *tenant = json_is_string(t) ? json_string_value(t) : NULL;
        if (!o || (tenant && !hd_tenant_valid(tenant, strlen(tenant)))) {
            /* The old agent skipped it too ("unreadable"): it stays put. */
            fprintf(stderr,
                    "heed agent: migrating the store: heed/checks/%s is unreadable; left as it "
                    "is\n",
                    id);
            json_decref(o);
            continue;
        }
        move_t *mv = move_of(m, id);
        if (tenant && strcmp(tenant, HD_TENANT_DEFAULT) != 0) mv->tenant = hd_xstrdup(tenant);
        json_object_del(o, "tenant");
        mv->def = json_dumps(o, JSON_COMPACT);
        if (!mv->def) {
            fprintf(stderr, "heed agent: out of memory encoding JSON\n");
            abort();
        }
        mv->def_len = strlen(mv->def);
        json_decref(o);
    }
    if (hd_store_range(m->a->store, HD_AGENT_KEY_STATE, strlen(HD_AGENT_KEY_STATE), PAGE, on_states,
                       m) < 0)
        fail(m, HD_STORE_EIO, "reading heed/state/");
}

static void on_layout(int status, const hd_store_kv_t *kv, int64_t revision, void *arg)
{
    (void)revision;
    mig_t *m = arg;
    if (status == 0 && kv->value_len == strlen(HD_AGENT_LAYOUT) &&
        !memcmp(kv->value, HD_AGENT_LAYOUT, kv->value_len)) {
        event_base_loopbreak(m->a->base); /* migrated already */
        return;
    }
    if (status == 0) {
        /* Written by a newer heed: its layout is not this one's to read. */
        m->status = HD_STORE_ENEWER;
        snprintf(m->err, sizeof(m->err), "heed/layout is '%.*s', not %s: upgrade heed",
                 (int)(kv->value_len > 32 ? 32 : kv->value_len), kv->value, HD_AGENT_LAYOUT);
        event_base_loopbreak(m->a->base);
        return;
    }
    if (status != HD_STORE_ENOTFOUND) {
        fail(m, status, "reading heed/layout");
        return;
    }
    if (hd_store_range(m->a->store, HD_AGENT_KEY_CHECKS, strlen(HD_AGENT_KEY_CHECKS), 0, on_defs,
                       m) < 0)
        fail(m, HD_STORE_EIO, "reading heed/checks/");
}

int hd_agent_migrate(hd_agent_t *a, char *err, size_t errlen)
{
    mig_t m;
    memset(&m, 0, sizeof(m));
    m.a = a;
    hd_map_init(&m.by_id);
    if (hd_store_get(a->store, HD_AGENT_KEY_LAYOUT, strlen(HD_AGENT_KEY_LAYOUT), on_layout, &m) < 0)
        fail(&m, HD_STORE_EIO, "reading heed/layout");
    else
        event_base_dispatch(a->base);
    /* A failure breaks the loop at once; answers still due come now. */
    while (m.waiting && m.status)
        hd_store_flush(a->store);
    if (m.n && !m.status)
        fprintf(stderr, "heed agent: migrated the store to per-tenant check ids: %zu checks%s\n",
                m.n - m.conflicts, m.conflicts ? " (see above for those left)" : "");
    for (size_t i = 0; i < m.n; i++) {
        free(m.moves[i].id);
        free(m.moves[i].tenant);
        free(m.moves[i].def);
        free(m.moves[i].state);
    }
    free(m.moves);
    hd_map_free(&m.by_id);
    if (m.status) snprintf(err, errlen, "migrating the store: %s", m.err);
    return m.status ? -1 : 0;
}
