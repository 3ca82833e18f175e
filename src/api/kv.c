/* kv — Consul's /v1/kv routes on the KV cache (agent/kv.h): GET with
 * ?recurse, ?keys, ?separator, ?raw and blocking ?index=&wait=; PUT with
 * ?flags, ?cas, ?acquire, ?release; DELETE with ?recurse, ?cas. Replies,
 * status codes and error texts are Consul's (its kvs_endpoint); what heed
 * does differently is in docs/consul-kv.md. */
#include "agent/kv.h"
#include "api/consul.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef hd_api_consul_ctx_t kvapi_t;

/* One entry as Consul's DirEntry shows it. */
static void write_entry(hd_jsonw_t *w, hd_buf_t *b, const char *key, size_t key_len,
                        const hd_kv_entry_t *e)
{
    hd_jsonw_object_begin(w);
    hd_jsonw_key(w, "LockIndex");
    hd_jsonw_uint(w, e->lock_index);
    hd_jsonw_key(w, "Key");
    hd_jsonw_stringn(w, key, key_len);
    hd_jsonw_key(w, "Flags");
    hd_jsonw_uint(w, e->flags);
    hd_jsonw_key(w, "Value");
    if (e->value_len) {
        /* A base64 string needs no escaping: written straight in. */
        hd_jsonw_stringn(w, "", 0);
        b->len--; /* before the closing quote */
        hd_base64_encode(b, e->value, e->value_len);
        hd_buf_append(b, "\"", 1);
    } else {
        hd_jsonw_null(w);
    }
    if (e->session[0]) {
        hd_jsonw_key(w, "Session");
        hd_jsonw_string(w, e->session);
    }
    hd_jsonw_key(w, "CreateIndex");
    hd_jsonw_int(w, e->create_index);
    hd_jsonw_key(w, "ModifyIndex");
    hd_jsonw_int(w, e->modify_index);
    hd_jsonw_object_end(w);
}

/* Checks a key from the path: Consul takes any bytes; heed needs UTF-8
 * (keys are JSON strings in replies) and room in a store key. Replies 400
 * and returns -1 when it is not a key. */
static int key_ok(hd_api_req_t *r, const hd_scope_t *sc, const char *key, size_t len)
{
    size_t max = HD_KV_KEY_MAX(strlen(hd_tenant_name(sc->tenant)));
    if (len > max) {
        hd_consul_error(r, 400, "Invalid key: %zu bytes, at most %zu", len, max);
        return -1;
    }
    if (!hd_utf8_valid(key, len)) {
        hd_consul_error(r, 400, "Invalid key: not valid UTF-8");
        return -1;
    }
    return 0;
}

static void serve_get(hd_api_req_t *r, void *arg);

static void retry_get(hd_api_req_t *r, void *arg)
{
    serve_get(r, arg);
}

static void serve_get(hd_api_req_t *r, void *arg)
{
    kvapi_t *ka = arg;
    if (!hd_consul_dc(r, ka->dc)) return;
    hd_scope_t sc;
    if (hd_api_scope(r, HD_SCOPE_ONE, &sc) < 0) return;
    const char *key = hd_api_param(r, "key");
    size_t klen = key ? strlen(key) : 0;
    uint64_t want;
    int64_t wait_ms;
    char err[160];
    if (hd_api_block_params(r, &want, &wait_ms, err, sizeof(err)) < 0) {
        hd_consul_error(r, 400, "%s", err);
        return;
    }
    int keys = hd_api_query(r, "keys") != NULL;
    int recurse = keys || hd_api_query(r, "recurse") != NULL;
    const char *sep = keys ? hd_api_query(r, "separator") : NULL;
    size_t seplen = sep ? strlen(sep) : 0;
    if (!recurse && klen == 0) {
        hd_consul_error(r, 400, "Missing key name");
        return;
    }
    if (key_ok(r, &sc, key ? key : "", klen) < 0) return;

    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    int64_t index;
    size_t found = 0;
    const hd_kv_entry_t *one = NULL;
    if (!recurse) {
        one = hd_kv_get(ka->kv, sc.tenant, key, klen, &index);
        found = one != NULL;
    } else {
        hd_kv_iter_t it;
        hd_kv_iter_init(&it, ka->kv, sc.tenant, key ? key : "", klen);
        hd_jsonw_array_begin(&w);
        const hd_kv_entry_t *e;
        const char *k;
        size_t kl;
        while ((e = hd_kv_iter_next(&it, &k, &kl))) {
            found++;
            if (!keys) {
                write_entry(&w, &b, k, kl, e);
                continue;
            }
            /* ?separator: a key with the separator after the prefix stands
             * for its "folder", up to and with the separator, once. */
            const char *s = NULL;
            if (seplen && kl > klen) s = memmem(k + klen, kl - klen, sep, seplen);
            if (s) {
                size_t fl = (size_t)(s - k) + seplen;
                hd_jsonw_stringn(&w, k, fl);
                char folder[HD_STORE_KEY_MAX + 1];
                memcpy(folder, k, fl);
                hd_kv_iter_skip_past(&it, folder, fl);
            } else {
                hd_jsonw_stringn(&w, k, kl);
            }
        }
        hd_jsonw_array_end(&w);
        index = it.index;
    }
    if (want && (uint64_t)index <= want && !hd_api_cancelled(r)) {
        hd_topic_t *t = recurse ? hd_kv_prefix_topic(ka->kv, sc.tenant, key ? key : "", klen)
                                : hd_kv_key_topic(ka->kv, sc.tenant, key, klen);
        if (t && hd_api_hold(r, &t, 1, wait_ms, retry_get, ka) == 0) {
            hd_buf_free(&b);
            return;
        }
    }
    hd_consul_read_headers(r, (uint64_t)index);
    if (!found) {
        hd_buf_free(&b);
        hd_api_reply_text(r, 404, "text/plain; charset=utf-8", "", 0);
        return;
    }
    if (!recurse && hd_api_query(r, "raw")) {
        hd_buf_free(&b);
        /* Never sniffed as HTML (Consul's CVE-2020-25864). */
        hd_api_set_header(r, "X-Content-Type-Options", "nosniff");
        hd_api_reply_text(r, 200, "text/plain", one->value, one->value_len);
        return;
    }
    if (!recurse) {
        hd_jsonw_array_begin(&w);
        write_entry(&w, &b, key, klen, one);
        hd_jsonw_array_end(&w);
    }
    hd_api_reply_json_buf(r, 200, &b);
}

/* ---- writes ---------------------------------------------------------------- */

static void on_applied(int status, int ok, int64_t revision, void *arg)
{
    (void)revision;
    hd_api_req_t *r = arg;
    if (status == 0) {
        hd_api_reply_json(r, 200, ok ? json_true() : json_false());
        return;
    }
    if (status == HD_KV_ENOSESSION) {
        const char *s = hd_api_query(r, "acquire");
        hd_consul_error(r, 500, "invalid session \"%s\"", s ? s : "");
        return;
    }
    if (status == HD_KV_EBUSY) {
        hd_consul_error(r, 500, "too many concurrent writes to this key; try again");
        return;
    }
    hd_consul_error(r, 500, "%s", hd_store_strerror(status));
}

/* A query parameter as an unsigned 64-bit number, as Go's ParseUint(s,
 * 10, 64): digits only. Returns 0, or -1 after replying 400. */
static int query_u64(hd_api_req_t *r, const char *name, uint64_t *out)
{
    const char *s = hd_api_query(r, name);
    *out = 0;
    if (!s) return 0;
    uint64_t v = 0;
    int bad = !*s;
    for (const char *p = s; *p && !bad; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            bad = 1;
        else
            v = v * 10 + (uint64_t)(*p - '0');
    }
    if (bad) {
        hd_consul_error(r, 400, "Invalid %s: strconv.ParseUint: parsing \"%.64s\": invalid syntax",
                        name, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Consul's conflictingFlags: more than one of names given. Replies 400
 * and returns 1 then. */
static int conflicting(hd_api_req_t *r, const char *const *names, size_t n)
{
    size_t found = 0;
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        const char *v = hd_api_query(r, names[i]);
        if (!v) continue;
        found++;
        size_t l = strlen(list);
        snprintf(list + l, sizeof(list) - l, "%s%s=%.64s", l ? "&" : "", names[i], v);
    }
    if (found < 2) return 0;
    hd_consul_error(r, 400, "Conflicting flags: %s", list);
    return 1;
}

static void put_kv(hd_api_req_t *r, void *arg)
{
    kvapi_t *ka = arg;
    if (!hd_consul_dc(r, ka->dc)) return;
    hd_scope_t sc;
    if (hd_api_scope(r, HD_SCOPE_ONE, &sc) < 0) return;
    const char *key = hd_api_param(r, "key");
    size_t klen = key ? strlen(key) : 0;
    if (klen == 0) {
        hd_consul_error(r, 400, "Missing key name");
        return;
    }
    static const char *const flags[] = {"acquire", "cas", "release"};
    if (conflicting(r, flags, 3)) return;
    if (key_ok(r, &sc, key, klen) < 0) return;
    hd_kv_op_t op = {HD_KV_SET, sc.tenant, key, klen, r->data, r->data_len, 0, 0, NULL};
    if (query_u64(r, "flags", &op.flags) < 0) return;
    if (hd_api_query(r, "cas")) {
        if (query_u64(r, "cas", &op.cas) < 0) return;
        op.verb = HD_KV_CAS;
    }
    if ((op.session = hd_api_query(r, "acquire"))) op.verb = HD_KV_LOCK;
    if (!op.session && (op.session = hd_api_query(r, "release"))) op.verb = HD_KV_UNLOCK;
    if (op.session && (!*op.session || strlen(op.session) > HD_KV_SESSION_MAX)) {
        hd_consul_error(r, 500, *op.session ? "invalid session \"%s\"" : "missing session%s",
                        op.session);
        return;
    }
    if (r->data_len > HD_KV_VALUE_MAX) {
        hd_consul_error(r, 413,
                        "Request body(%zu bytes) too large, max size: %d bytes. See "
                        "https://developer.hashicorp.com/docs/agent/config/"
                        "config-files#kv_max_value_size.",
                        r->data_len, HD_KV_VALUE_MAX);
        return;
    }
    int rc = hd_kv_apply(ka->kv, &op, on_applied, r);
    if (rc < 0) hd_consul_error(r, 500, "%s", hd_store_strerror(rc));
}

static void delete_kv(hd_api_req_t *r, void *arg)
{
    kvapi_t *ka = arg;
    if (!hd_consul_dc(r, ka->dc)) return;
    hd_scope_t sc;
    if (hd_api_scope(r, HD_SCOPE_ONE, &sc) < 0) return;
    const char *key = hd_api_param(r, "key");
    size_t klen = key ? strlen(key) : 0;
    static const char *const flags[] = {"cas", "recurse"};
    if (conflicting(r, flags, 2)) return;
    hd_kv_op_t op = {HD_KV_DELETE, sc.tenant, key ? key : "", klen, NULL, 0, 0, 0, NULL};
    if (hd_api_query(r, "recurse")) {
        op.verb = HD_KV_DELETE_TREE;
    } else if (klen == 0) {
        hd_consul_error(r, 400, "Missing key name");
        return;
    }
    if (key_ok(r, &sc, op.key, klen) < 0) return;
    if (hd_api_query(r, "cas")) {
        if (query_u64(r, "cas", &op.cas) < 0) return;
        op.verb = HD_KV_DELETE_CAS;
    }
    int rc = hd_kv_apply(ka->kv, &op, on_applied, r);
    if (rc < 0) hd_consul_error(r, 500, "%s", hd_store_strerror(rc));
}

int hd_api_kv_routes(hd_api_t *api, hd_api_consul_ctx_t *ctx, char *err, size_t errlen)
{
    static const struct {
        const char *method;
        hd_api_role_t role;
        hd_api_handler_fn fn;
    } routes[] = {
        {"GET", HD_ROLE_READ, serve_get},
        {"PUT", HD_ROLE_WRITE, put_kv},
        {"DELETE", HD_ROLE_WRITE, delete_kv},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (hd_api_route(api, routes[i].method, "/v1/kv/*key", routes[i].role, routes[i].fn, ctx,
                         err, errlen) < 0 ||
            hd_api_route_consul(api, routes[i].method, "/v1/kv/*key") < 0)
            return -1;
    }
    return hd_api_route_raw(api, "PUT", "/v1/kv/*key");
}
