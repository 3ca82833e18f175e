/* session — Consul's /v1/session routes on the session registry
 * (agent/session.h): create, destroy, renew, info, node and list, with
 * blocking ?index=&wait= on the reads. Replies and error texts are
 * Consul's (its session_endpoint); docs/consul-kv.md says what differs. */
#include "agent/session.h"
#include "api/consul.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "util/buf.h"
#include "util/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_session(hd_jsonw_t *w, const hd_session_t *s)
{
    hd_jsonw_object_begin(w);
    hd_jsonw_key(w, "ID");
    hd_jsonw_string(w, s->id);
    hd_jsonw_key(w, "Name");
    hd_jsonw_string(w, s->name);
    hd_jsonw_key(w, "Node");
    hd_jsonw_string(w, s->node);
    hd_jsonw_key(w, "LockDelay");
    hd_jsonw_int(w, s->lock_delay_ns);
    hd_jsonw_key(w, "Behavior");
    hd_jsonw_string(w, s->delete_keys ? "delete" : "release");
    hd_jsonw_key(w, "TTL");
    hd_jsonw_string(w, s->ttl);
    hd_jsonw_key(w, "Namespace");
    hd_jsonw_string(w, hd_tenant_name(s->tenant));
    /* Checks: the deprecated list of every check, as Consul still shows. */
    hd_jsonw_key(w, "Checks");
    hd_jsonw_array_begin(w);
    for (size_t i = 0; i < s->nnode; i++)
        hd_jsonw_string(w, s->node_checks[i]);
    for (size_t i = 0; i < s->nservice; i++)
        hd_jsonw_string(w, s->service_checks[i]);
    hd_jsonw_array_end(w);
    hd_jsonw_key(w, "NodeChecks");
    hd_jsonw_array_begin(w);
    for (size_t i = 0; i < s->nnode; i++)
        hd_jsonw_string(w, s->node_checks[i]);
    hd_jsonw_array_end(w);
    hd_jsonw_key(w, "ServiceChecks");
    if (!s->nservice) {
        hd_jsonw_null(w);
    } else {
        hd_jsonw_array_begin(w);
        for (size_t i = 0; i < s->nservice; i++) {
            hd_jsonw_object_begin(w);
            hd_jsonw_key(w, "ID");
            hd_jsonw_string(w, s->service_checks[i]);
            hd_jsonw_key(w, "Namespace");
            hd_jsonw_string(w, hd_tenant_name(s->tenant));
            hd_jsonw_object_end(w);
        }
        hd_jsonw_array_end(w);
    }
    hd_jsonw_key(w, "CreateIndex");
    hd_jsonw_int(w, s->create_index);
    hd_jsonw_key(w, "ModifyIndex");
    hd_jsonw_int(w, s->modify_index);
    hd_jsonw_object_end(w);
}

/* The scope and ?dc= of a session route; -1 after replying. */
static int begin(hd_api_req_t *r, hd_api_consul_ctx_t *c, hd_scope_t *sc)
{
    if (!hd_consul_dc(r, c->dc)) return -1;
    return hd_api_scope(r, HD_SCOPE_ONE, sc);
}

/* ---- reads (info, node, list), blocking --------------------------------------- */

enum { READ_INFO, READ_NODE, READ_LIST };

static void serve_read(hd_api_req_t *r, hd_api_consul_ctx_t *c, int what);

static void retry_info(hd_api_req_t *r, void *arg)
{
    serve_read(r, arg, READ_INFO);
}

static void retry_node(hd_api_req_t *r, void *arg)
{
    serve_read(r, arg, READ_NODE);
}

static void retry_list(hd_api_req_t *r, void *arg)
{
    serve_read(r, arg, READ_LIST);
}

static void serve_read(hd_api_req_t *r, hd_api_consul_ctx_t *c, int what)
{
    hd_scope_t sc;
    if (begin(r, c, &sc) < 0) return;
    uint64_t want;
    int64_t wait_ms;
    char err[160];
    if (hd_api_block_params(r, &want, &wait_ms, err, sizeof(err)) < 0) {
        hd_consul_error(r, 400, "%s", err);
        return;
    }
    int64_t index = hd_session_index(c->sessions);
    if (want && (uint64_t)index <= want && !hd_api_cancelled(r)) {
        hd_topic_t *t = hd_session_topic(c->sessions);
        hd_api_retry_fn fn = what == READ_INFO   ? retry_info
                             : what == READ_NODE ? retry_node
                                                 : retry_list;
        if (hd_api_hold(r, &t, 1, wait_ms, fn, c) == 0) return;
    }
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_array_begin(&w);
    if (what == READ_INFO) {
        const hd_session_t *s = hd_session_get(c->sessions, sc.tenant, hd_api_param(r, "id"));
        if (s) write_session(&w, s);
    } else {
        const char *node = what == READ_NODE ? hd_api_param(r, "node") : NULL;
        size_t pos = 0;
        const hd_session_t *s;
        while ((s = hd_session_next(c->sessions, sc.tenant, &pos)))
            if (!node || !strcmp(node, s->node)) write_session(&w, s);
    }
    hd_jsonw_array_end(&w);
    hd_consul_read_headers(r, (uint64_t)index);
    hd_api_reply_json_buf(r, 200, &b);
}

static void get_info(hd_api_req_t *r, void *arg)
{
    serve_read(r, arg, READ_INFO);
}

static void get_node(hd_api_req_t *r, void *arg)
{
    serve_read(r, arg, READ_NODE);
}

static void get_list(hd_api_req_t *r, void *arg)
{
    serve_read(r, arg, READ_LIST);
}

/* ---- writes ------------------------------------------------------------------ */

static void on_created(int status, const char *msg, const char *id, void *arg)
{
    hd_api_req_t *r = arg;
    if (status) {
        hd_consul_error(r, status, "%s", msg ? msg : "failed");
        return;
    }
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_object_begin(&w);
    hd_jsonw_key(&w, "ID");
    hd_jsonw_string(&w, id);
    hd_jsonw_object_end(&w);
    hd_api_reply_json_buf(r, 200, &b);
}

static void put_create(hd_api_req_t *r, void *arg)
{
    hd_api_consul_ctx_t *c = arg;
    hd_scope_t sc;
    if (begin(r, c, &sc) < 0) return;
    hd_session_t s;
    char err[512];
    int st = hd_session_parse(r->body, c->node, &s, err, sizeof(err));
    if (st) {
        hd_consul_error(r, st, "%s", err);
        return;
    }
    st = hd_session_create(c->sessions, sc.tenant, &s, on_created, r, err, sizeof(err));
    if (st) hd_consul_error(r, st, "%s", err);
}

static void on_destroyed(int status, const char *msg, const char *id, void *arg)
{
    (void)id;
    hd_api_req_t *r = arg;
    if (status) {
        hd_consul_error(r, status, "%s", msg ? msg : "failed");
        return;
    }
    hd_api_reply_json(r, 200, json_true());
}

static void put_destroy(hd_api_req_t *r, void *arg)
{
    hd_api_consul_ctx_t *c = arg;
    hd_scope_t sc;
    if (begin(r, c, &sc) < 0) return;
    if (hd_session_destroy(c->sessions, sc.tenant, hd_api_param(r, "id"), on_destroyed, r) < 0)
        hd_consul_error(r, 500, "out of memory");
}

static void put_renew(hd_api_req_t *r, void *arg)
{
    hd_api_consul_ctx_t *c = arg;
    hd_scope_t sc;
    if (begin(r, c, &sc) < 0) return;
    const char *id = hd_api_param(r, "id");
    const hd_session_t *s = hd_session_renew(c->sessions, sc.tenant, id);
    if (!s) {
        hd_consul_error(r, 404, "Session id '%.64s' not found", id);
        return;
    }
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_array_begin(&w);
    write_session(&w, s);
    hd_jsonw_array_end(&w);
    hd_api_reply_json_buf(r, 200, &b);
}

int hd_api_session_routes(hd_api_t *api, hd_api_consul_ctx_t *ctx, char *err, size_t errlen)
{
    static const struct {
        const char *method, *pattern;
        hd_api_role_t role;
        hd_api_handler_fn fn;
    } routes[] = {
        {"PUT", "/v1/session/create", HD_ROLE_WRITE, put_create},
        {"PUT", "/v1/session/destroy/:id", HD_ROLE_WRITE, put_destroy},
        {"PUT", "/v1/session/renew/:id", HD_ROLE_WRITE, put_renew},
        {"GET", "/v1/session/info/:id", HD_ROLE_READ, get_info},
        {"GET", "/v1/session/node/:node", HD_ROLE_READ, get_node},
        {"GET", "/v1/session/list", HD_ROLE_READ, get_list},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (hd_api_route(api, routes[i].method, routes[i].pattern, routes[i].role, routes[i].fn,
                         ctx, err, errlen) < 0 ||
            hd_api_route_consul(api, routes[i].method, routes[i].pattern) < 0)
            return -1;
    return 0;
}
