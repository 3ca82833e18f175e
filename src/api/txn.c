/* txn — Consul's /v1/txn for KV operations: a JSON array of at most 64
 * {"KV": {...}} operations applied all or nothing (agent/kv.h's
 * hd_kv_txn). 200 with Results when applied, 409 with Errors when rolled
 * back, 400 for a body that does not parse (naming what is wrong), 413
 * for too many operations or a value over 512 KiB: Consul's status codes
 * and texts (its txn_endpoint). Node, Service and Check operations are
 * not taken (docs/consul-kv.md). The body parser (hd_api_txn_parse) is
 * pure, for tests and the fuzz target. */
#include "api/txn.h"
#include "api/consul.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    hd_kv_verb_t verb;
} VERBS[] = {
    {"set", HD_KV_SET},
    {"cas", HD_KV_CAS},
    {"lock", HD_KV_LOCK},
    {"unlock", HD_KV_UNLOCK},
    {"get", HD_KV_GET},
    {"get-or-empty", HD_KV_GET_OR_EMPTY},
    {"get-tree", HD_KV_GET_TREE},
    {"check-index", HD_KV_CHECK_INDEX},
    {"check-session", HD_KV_CHECK_SESSION},
    {"check-not-exists", HD_KV_CHECK_NOT_EXISTS},
    {"delete", HD_KV_DELETE},
    {"delete-tree", HD_KV_DELETE_TREE},
    {"delete-cas", HD_KV_DELETE_CAS},
};

/* The member of obj named name in any case, as Consul's decoder. */
static json_t *member(const json_t *obj, const char *name)
{
    return hd_consul_field(obj, name);
}

void hd_api_txn_free(hd_api_txn_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free((char *)t->ops[i].key);
        free((char *)t->ops[i].value);
        free((char *)t->ops[i].session);
    }
    for (size_t i = 0; t->unknown && i < t->n; i++)
        free(t->unknown[i]);
    free(t->ops);
    free(t->unknown);
    memset(t, 0, sizeof(*t));
}

static int fail(int status, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int status, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* A string member of kv (NULL when absent or null); -1 for another type. */
static int str_member(const json_t *kv, const char *name, const char **out)
{
    json_t *v = member(kv, name);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    *out = json_string_value(v);
    return 0;
}

static int uint_member(const json_t *kv, const char *name, uint64_t *out)
{
    json_t *v = member(kv, name);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* One {"KV": {...}} operation into op. */
static int parse_op(const json_t *item, size_t i, hd_api_txn_t *t, size_t key_max, char *err,
                    size_t errlen)
{
    hd_kv_op_t *op = &t->ops[i];
    if (!json_is_object(item))
        return fail(400, err, errlen, "Failed to parse body: operation %zu: expected an object", i);
    json_t *kv = member(item, "KV");
    if (!kv || json_is_null(kv)) {
        const char *what = member(item, "Node")      ? "Node"
                           : member(item, "Service") ? "Service"
                           : member(item, "Check")   ? "Check"
                                                     : NULL;
        if (what)
            return fail(400, err, errlen,
                        "Failed to parse body: operation %zu: %s operations are not supported by "
                        "heed (KV only)",
                        i, what);
        return fail(400, err, errlen, "Failed to parse body: operation %zu: no KV operation", i);
    }
    if (!json_is_object(kv))
        return fail(400, err, errlen, "Failed to parse body: operation %zu: KV: expected an object",
                    i);
    const char *verb, *key, *value, *session;
    static const char *const strs[] = {"Verb", "Key", "Value", "Session"};
    const char **outs[] = {&verb, &key, &value, &session};
    for (size_t k = 0; k < 4; k++)
        if (str_member(kv, strs[k], outs[k]) < 0)
            return fail(400, err, errlen,
                        "Failed to parse body: operation %zu: KV.%s: expected a string", i,
                        strs[k]);
    if (uint_member(kv, "Flags", &op->flags) < 0)
        return fail(400, err, errlen,
                    "Failed to parse body: operation %zu: KV.Flags: expected an unsigned integer",
                    i);
    if (uint_member(kv, "Index", &op->cas) < 0)
        return fail(400, err, errlen,
                    "Failed to parse body: operation %zu: KV.Index: expected an unsigned integer",
                    i);
    if (!verb || !*verb)
        return fail(400, err, errlen, "Failed to parse body: operation %zu: KV.Verb: missing", i);
    size_t v;
    for (v = 0; v < sizeof(VERBS) / sizeof(VERBS[0]); v++)
        if (!strcmp(verb, VERBS[v].name)) break;
    if (v == sizeof(VERBS) / sizeof(VERBS[0])) {
        /* Consul's state store refuses it as a failed operation (409). */
        t->unknown[i] = hd_xstrdup(verb);
        t->nunknown++;
        op->verb = HD_KV_GET_OR_EMPTY;
    } else {
        op->verb = VERBS[v].verb;
    }
    key = key ? key : "";
    size_t klen = strlen(key);
    if (!*key && op->verb != HD_KV_GET_TREE && op->verb != HD_KV_DELETE_TREE && !t->unknown[i])
        return fail(400, err, errlen, "Failed to parse body: operation %zu: KV.Key: missing", i);
    if (klen > key_max)
        return fail(400, err, errlen,
                    "Failed to parse body: operation %zu: KV.Key: %zu bytes, at most %zu", i, klen,
                    key_max);
    if (!hd_utf8_valid(key, klen))
        return fail(400, err, errlen, "Failed to parse body: operation %zu: KV.Key: not UTF-8", i);
    op->key = hd_xstrdup(key);
    op->key_len = klen;
    if (value && *value) {
        hd_buf_t b = {0};
        size_t at = 0;
        if (hd_base64_decode(value, strlen(value), &b, &at) < 0) {
            hd_buf_free(&b);
            return fail(400, err, errlen,
                        "Failed to parse body: operation %zu: KV.Value: illegal base64 data at "
                        "input byte %zu",
                        i, at);
        }
        if (b.len > HD_KV_VALUE_MAX) {
            size_t n = b.len;
            hd_buf_free(&b);
            return fail(413, err, errlen, "Value for key \"%s\" is too large (%zu > %d bytes)", key,
                        n, HD_KV_VALUE_MAX);
        }
        op->value = b.data;
        op->value_len = b.len;
    }
    int needs =
        op->verb == HD_KV_LOCK || op->verb == HD_KV_UNLOCK || op->verb == HD_KV_CHECK_SESSION;
    if (needs && (!session || !*session))
        return fail(400, err, errlen, "Failed to parse body: operation %zu: KV.Session: missing",
                    i);
    if (session && strlen(session) > HD_KV_SESSION_MAX) {
        /* Not a session id: no session has it, as Consul finds. */
        session = "(invalid)";
    }
    op->session = session && *session ? hd_xstrdup(session) : NULL;
    return 0;
}

int hd_api_txn_parse(const char *data, size_t len, size_t key_max, hd_api_txn_t *t, char *err,
                     size_t errlen)
{
    memset(t, 0, sizeof(*t));
    json_error_t je;
    json_t *root = json_loadb(data ? data : "", len, 0, &je);
    if (!root)
        return fail(400, err, errlen, "Failed to parse body: %s at line %d column %d", je.text,
                    je.line, je.column);
    int rc = 0;
    if (!json_is_array(root)) {
        rc = fail(400, err, errlen, "Failed to parse body: expected a JSON array of operations");
        goto out;
    }
    size_t n = json_array_size(root);
    if (n > HD_KV_TXN_OPS_MAX) {
        rc = fail(413, err, errlen, "Transaction contains too many operations (%zu > %d)", n,
                  HD_KV_TXN_OPS_MAX);
        goto out;
    }
    t->ops = hd_xcalloc(n ? n : 1, sizeof(*t->ops));
    t->unknown = hd_xcalloc(n ? n : 1, sizeof(*t->unknown));
    t->n = n;
    for (size_t i = 0; i < n && !rc; i++)
        rc = parse_op(json_array_get(root, i), i, t, key_max, err, errlen);
    if (rc) hd_api_txn_free(t);
out:
    json_decref(root);
    return rc;
}

/* ---- the route -------------------------------------------------------------- */

typedef struct txn_req_s {
    hd_api_req_t *r;
    hd_api_consul_ctx_t *ctx;
    hd_api_txn_t t;
    hd_scope_t scope;
    char tenant[HD_TENANT_MAX + 1];
} txn_req_t;

static void write_entry(hd_jsonw_t *w, hd_buf_t *b, const char *key, size_t key_len,
                        const hd_kv_entry_t *e, int with_value)
{
    hd_jsonw_object_begin(w);
    hd_jsonw_key(w, "KV");
    hd_jsonw_object_begin(w);
    hd_jsonw_key(w, "LockIndex");
    hd_jsonw_uint(w, e ? e->lock_index : 0);
    hd_jsonw_key(w, "Key");
    hd_jsonw_stringn(w, key, key_len);
    hd_jsonw_key(w, "Flags");
    hd_jsonw_uint(w, e ? e->flags : 0);
    hd_jsonw_key(w, "Value");
    if (with_value && e && e->value_len) {
        hd_jsonw_stringn(w, "", 0);
        b->len--; /* before the closing quote: base64 needs no escaping */
        hd_base64_encode(b, e->value, e->value_len);
        hd_buf_append(b, "\"", 1);
    } else {
        hd_jsonw_null(w);
    }
    if (e && e->session[0]) {
        hd_jsonw_key(w, "Session");
        hd_jsonw_string(w, e->session);
    }
    hd_jsonw_key(w, "CreateIndex");
    hd_jsonw_int(w, e ? e->create_index : 0);
    hd_jsonw_key(w, "ModifyIndex");
    hd_jsonw_int(w, e ? e->modify_index : 0);
    hd_jsonw_object_end(w);
    hd_jsonw_object_end(w);
}

/* The Results of an applied transaction, read from the cache. Returns
 * the highest ModifyIndex among them (for a read-only answer's index). */
static int64_t write_results(hd_jsonw_t *w, hd_buf_t *b, txn_req_t *q)
{
    hd_kv_t *kv = q->ctx->kv;
    int64_t top = 0;
    hd_jsonw_array_begin(w);
    for (size_t i = 0; i < q->t.n; i++) {
        const hd_kv_op_t *op = &q->t.ops[i];
        int64_t idx;
        const hd_kv_entry_t *e = NULL;
        switch (op->verb) {
        case HD_KV_DELETE:
        case HD_KV_DELETE_CAS:
        case HD_KV_DELETE_TREE:
        case HD_KV_CHECK_NOT_EXISTS:
            break;
        case HD_KV_GET_TREE: {
            hd_kv_iter_t it;
            const char *k;
            size_t kl;
            hd_kv_iter_init(&it, kv, q->tenant, op->key, op->key_len);
            while ((e = hd_kv_iter_next(&it, &k, &kl)))
                write_entry(w, b, k, kl, e, 1);
            if (it.index > top) top = it.index;
            break;
        }
        default:
            e = hd_kv_get(kv, q->tenant, op->key, op->key_len, &idx);
            if (idx > top) top = idx;
            if (e || op->verb == HD_KV_GET_OR_EMPTY)
                write_entry(w, b, op->key, op->key_len, e,
                            op->verb == HD_KV_GET || op->verb == HD_KV_GET_OR_EMPTY);
        }
    }
    hd_jsonw_array_end(w);
    return top;
}

static int read_only(const hd_api_txn_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ops[i].verb <= HD_KV_DELETE_TREE) return 0;
    return 1;
}

static void on_txn(int status, const hd_kv_txn_err_t *errs, size_t nerr, int64_t revision,
                   void *arg)
{
    (void)revision;
    txn_req_t *q = arg;
    hd_api_req_t *r = q->r;
    if (status) {
        hd_consul_error(r, 500, "%s",
                        status == HD_KV_EBUSY ? "too many concurrent writes; try again"
                                              : hd_store_strerror(status));
        goto out;
    }
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_object_begin(&w);
    if (nerr || q->t.nunknown) {
        hd_jsonw_key(&w, "Results");
        hd_jsonw_null(&w);
        hd_jsonw_key(&w, "Errors");
        hd_jsonw_array_begin(&w);
        /* Every failed operation, in order: unknown verbs and failed ones. */
        size_t k = 0;
        for (size_t i = 0; i < q->t.n; i++) {
            const char *what = NULL;
            if (q->t.unknown[i]) {
                what = NULL;
            } else if (k < nerr && errs[k].op == i) {
                what = errs[k++].what;
            } else {
                continue;
            }
            hd_jsonw_object_begin(&w);
            hd_jsonw_key(&w, "OpIndex");
            hd_jsonw_int(&w, (int64_t)i);
            hd_jsonw_key(&w, "What");
            if (what) {
                hd_jsonw_string(&w, what);
            } else {
                hd_buf_t m = {0};
                hd_buf_printf(&m, "unknown KV verb \"%.64s\"", q->t.unknown[i]);
                hd_jsonw_string(&w, m.data);
                hd_buf_free(&m);
            }
            hd_jsonw_object_end(&w);
        }
        hd_jsonw_array_end(&w);
        hd_jsonw_object_end(&w);
        hd_api_reply_json_buf(r, 409, &b);
        goto out;
    }
    hd_jsonw_key(&w, "Results");
    int64_t top = write_results(&w, &b, q);
    hd_jsonw_key(&w, "Errors");
    hd_jsonw_null(&w);
    hd_jsonw_object_end(&w);
    if (read_only(&q->t)) {
        int64_t idx = hd_kv_revision(q->ctx->kv);
        hd_consul_read_headers(r, (uint64_t)(top ? top : idx));
    }
    hd_api_reply_json_buf(r, 200, &b);
out:
    hd_api_txn_free(&q->t);
    free(q);
}

static void put_txn(hd_api_req_t *r, void *arg)
{
    hd_api_consul_ctx_t *c = arg;
    if (!hd_consul_dc(r, c->dc)) return;
    txn_req_t *q = hd_xcalloc(1, sizeof(*q));
    q->r = r;
    q->ctx = c;
    if (hd_api_scope(r, HD_SCOPE_ONE, &q->scope) < 0) {
        free(q);
        return;
    }
    snprintf(q->tenant, sizeof(q->tenant), "%s", hd_tenant_name(q->scope.tenant));
    char err[700];
    int st = hd_api_txn_parse(r->data, r->data_len, HD_KV_KEY_MAX(strlen(q->tenant)), &q->t, err,
                              sizeof(err));
    if (st) {
        free(q);
        hd_consul_error(r, st, "%s", err);
        return;
    }
    if (!read_only(&q->t) && r->role < HD_ROLE_WRITE) {
        hd_api_txn_free(&q->t);
        free(q);
        hd_consul_error(r, 403, "Permission denied");
        return;
    }
    if (q->t.nunknown) {
        /* Rolled back without a look at the store: an unknown verb. */
        on_txn(0, NULL, 0, 0, q);
        return;
    }
    int rc = hd_kv_txn(c->kv, q->tenant, q->t.ops, q->t.n, on_txn, q);
    if (rc < 0) {
        hd_api_txn_free(&q->t);
        free(q);
        hd_consul_error(r, 500, "%s", hd_store_strerror(rc));
    }
}

int hd_api_txn_routes(hd_api_t *api, hd_api_consul_ctx_t *ctx, char *err, size_t errlen)
{
    if (hd_api_route(api, "PUT", "/v1/txn", HD_ROLE_READ, put_txn, ctx, err, errlen) < 0 ||
        hd_api_route_consul(api, "PUT", "/v1/txn") < 0 ||
        hd_api_route_raw(api, "PUT", "/v1/txn") < 0)
        return -1;
    return 0;
}
