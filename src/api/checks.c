/* checks — the check resources of the agent's API:
 *
 *   GET    /v1/checks                 the checks the caller may see, by id
 *          [?status=&tag=&ns=&limit=N&after=ID]   (paged: api/page.h)
 *   POST   /v1/checks                 create (201, Location), durable first
 *   GET    /v1/checks/:id             one check
 *   PUT    /v1/checks/:id             replace an API-created check
 *   DELETE /v1/checks/:id             delete an API-created check
 *   PUT    /v1/checks/:id/pause       maintenance until resumed
 *   PUT    /v1/checks/:id/resume
 *   GET    /v1/checks/:id/history?since=&until=&step=raw|1m|1h
 *   PUT    /v1/agent/check/pass|warn|fail/:id?note=   Consul's TTL updates
 *   PUT    /v1/agent/check/update/:id {"Status","Output"}
 *
 * A check's body takes the keys of a check in the config file (docs/
 * config.md); the read-only keys of a GET (status, output, ...) are ignored
 * so that a GET can be edited and PUT back. Checks from the config file
 * can be paused but not changed or deleted here: the file is their truth.
 * exec: checks are refused unless enable_api_exec_checks is set, file://
 * checks unless enable_api_file_checks is, or api_file_paths holds their
 * directory (hd_agent_api_target_allowed).
 *
 * Tenants (docs/tenancy.md): every route works in the request's scope
 * (api/scope.h: the token's tenant, or ?ns=), and finds checks through
 * the agent's one visibility rule (hd_agent_check_find/_next): a check of
 * another tenant is answered exactly as a check that does not exist. A
 * body's "tenant" names the tenant a check is created in (within the
 * token's reach); a replace keeps the check's tenant unless a management
 * token names another, which moves the check there. */
#include "agent/agent.h"
#include "agent/check_json.h"
#include "agent/config.h"
#include "api/page.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "store/history.h"
#include "store/store.h"
#include "util/jsonw.h"
#include "util/mem.h"
#include "util/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const read_only[] = {"status",       "output",      "reason",       "latency_ms",
                                        "last_checked", "last_change", "last_success", "paused",
                                        "source",       "service_id",  "tenant",       NULL};

/* Reals in replies: 10 significant digits, as hd_api_reply_json's. */
#define REAL_DIGITS 10

/* Replies with the API's view of c, written straight to text. */
static void reply_view(hd_api_req_t *r, int status, const hd_agent_check_t *c)
{
    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, REAL_DIGITS);
    hd_check_write_json(&w, hd_agent_check_def(c), hd_agent_check_state(c));
    hd_api_reply_json_buf(r, status, &b);
}

/* The check named by :id that the caller may see, or NULL after replying
 * (404 when there is none in the request's tenant, whatever other tenants
 * hold; or the scope's 400 or 403). */
static hd_agent_check_t *find(hd_api_req_t *r, hd_agent_t *a)
{
    hd_scope_t s;
    if (hd_api_scope(r, HD_SCOPE_ONE, &s) < 0) return NULL;
    const char *id = hd_api_param(r, "id");
    hd_agent_check_t *c = hd_agent_check_find(a, &s, id);
    if (!c) hd_api_error(r, 404, "not_found", "no check '%s' in tenant '%s'", id, s.tenant);
    return c;
}

/* The tenant a body names: 0 with *out (NULL when it names none: absent
 * or null), or -1 after replying 400. */
static int body_tenant(hd_api_req_t *r, const char **out)
{
    json_t *jt = json_object_get(r->body, "tenant");
    *out = NULL;
    if (!jt || json_is_null(jt)) return 0;
    const char *t = json_string_value(jt);
    if (!t || !hd_tenant_valid(t, strlen(t))) {
        hd_api_error(r, 400, "bad_field",
                     "tenant: expected a tenant name (1 to %d letters, digits and . _ - : @) or "
                     "null",
                     HD_TENANT_MAX);
        return -1;
    }
    *out = t;
    return 0;
}

/* The tenant a new check goes to: the body's "tenant" if it names one,
 * else the scope's. 0 with *out, or -1 after replying. */
static int create_tenant(hd_api_req_t *r, const char **out)
{
    hd_scope_t s;
    const char *bt;
    if (hd_api_scope(r, HD_SCOPE_ONE, &s) < 0 || body_tenant(r, &bt) < 0) return -1;
    *out = s.tenant;
    if (!bt || hd_tenant_same(bt, s.tenant)) return 0;
    if (r->tenant) {
        hd_api_error(r, 403, "forbidden", "this token works in tenant '%s' only", r->tenant);
        return -1;
    }
    const char *ns = hd_api_query(r, "ns");
    if (!ns || !*ns) ns = hd_api_header(r, "X-Consul-Namespace");
    if (ns && *ns) {
        hd_api_error(r, 400, "bad_field", "tenant: the body says '%s' but ns says '%s'", bt, ns);
        return -1;
    }
    *out = bt;
    return 0;
}

/* The tenant a replaced check goes to: its own unless the body names
 * another, which only a management token may (a move). 0 with *out, or -1
 * after replying. */
static int replace_tenant(hd_api_req_t *r, const hd_agent_check_t *c, const char **out)
{
    const char *bt;
    if (body_tenant(r, &bt) < 0) return -1;
    *out = hd_tenant_name(hd_agent_check_def(c)->tenant);
    if (!bt || hd_tenant_same(bt, hd_agent_check_def(c)->tenant)) return 0;
    if (r->tenant) {
        hd_api_error(r, 403, "forbidden", "this token works in tenant '%s' only", r->tenant);
        return -1;
    }
    if (r->role != HD_ROLE_MANAGEMENT) {
        hd_api_error(r, 403, "forbidden",
                     "only a management token moves a check to another tenant; this token has %s",
                     hd_api_role_name(r->role));
        return -1;
    }
    *out = bt;
    return 0;
}

static void reply_store_error(hd_api_req_t *r, int status, const char *what)
{
    if (status == HD_STORE_ECONFLICT)
        hd_api_error(r, 409, "conflict", "%s: %s", what, hd_store_strerror(status));
    else
        hd_api_error(r, 500, "store", "%s: %s", what, hd_store_strerror(status));
}

/* The value of the n-th (0-based) line of header name in lines, or NULL. */
static const char *header_value(char **lines, const char *name, size_t n)
{
    size_t len = strlen(name);
    for (char **l = lines; l && *l; l++)
        if (!strncmp(*l, name, len) && (*l)[len] == ':' && n-- == 0)
            return (*l)[len + 1] == ' ' ? *l + len + 2 : *l + len + 1;
    return NULL;
}

/* Credential headers as heed shows them ("***") in a body: given back
 * under the same name (and position among its values) as the stored
 * check's, they keep the stored value, so that a GET can be edited and
 * PUT back; anywhere else "***" is refused (400), as a target's masked
 * password is. Returns 0, or -1 after replying. */
static int keep_headers(hd_api_req_t *r, json_t *o, const hd_agent_check_t *old)
{
    json_t *h = json_object_get(o, "headers");
    const char *name;
    json_t *v;
    if (!json_is_object(h)) return 0;
    char **lines = old ? hd_agent_check_def(old)->target.http.headers : NULL;
    json_object_foreach(h, name, v)
    {
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
            if (!json_is_string(e) || strcmp(json_string_value(e), "***") != 0 ||
                !hd_header_secret(name, strlen(name)))
                continue;
            const char *kept = header_value(lines, name, i);
            if (!kept) {
                hd_api_error(r, 400, "bad_field",
                             "headers.%s: \"***\" is how heed shows a credential, not one: give "
                             "the value (the stored one is kept only when given back as shown)",
                             name);
                return -1;
            }
            if (json_is_array(v))
                json_array_set_new(v, i, json_string(kept));
            else
                json_object_set_new(h, name, json_string(kept));
        }
    }
    return 0;
}

/* Reads a check definition of tenant from the request body; old: the
 * check a replace replaces, else NULL. Returns 0, or replies 400 or 403
 * and returns -1.
 *
 * Passwords: a target is shown with its password as "***". A replace
 * whose target is exactly the one shown keeps the stored target, password
 * and all, so that a client may GET a check, change another field and PUT
 * it back. Anywhere else "***" as a password is refused: the password it
 * stands for is not sent to a target it was not given for. */
static int body_def(hd_api_req_t *r, hd_agent_t *a, const char *tenant, const hd_agent_check_t *old,
                    hd_check_def_t *d)
{
    const char *id = old ? hd_agent_check_def(old)->id : NULL;
    json_t *o = json_deep_copy(r->body);
    char *tenant_copy = hd_tenant_same(tenant, NULL) ? NULL : hd_xstrdup(tenant);
    for (const char *const *k = read_only; *k; k++)
        json_object_del(o, *k);
    json_t *jt = json_object_get(o, "target");
    if (old && !hd_agent_check_def(old)->ttl && json_is_string(jt) &&
        !strcmp(json_string_value(jt), hd_agent_check_def(old)->target.display))
        json_object_set_new(o, "target",
                            json_string(hd_agent_check_def(old)->target.url)); /* kept */
    if (id) {
        json_t *bid = json_object_get(o, "id");
        if (bid && (!json_is_string(bid) || strcmp(json_string_value(bid), id) != 0)) {
            json_decref(o);
            free(tenant_copy);
            hd_api_error(r, 400, "bad_field", "id: the body's id differs from the path's '%s'", id);
            return -1;
        }
        json_object_set_new(o, "id", json_string(id));
        if (!json_object_get(o, "name")) json_object_set_new(o, "name", json_string(id));
    }
    if (keep_headers(r, o, old) < 0) {
        json_decref(o);
        free(tenant_copy);
        return -1;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char err[2048];
    int rc = hd_config_parse_check(text, strlen(text), "body", d, err, sizeof(err));
    free(text);
    if (rc < 0) {
        free(tenant_copy);
        hd_api_error(r, 400, "bad_field", "%s", err);
        return -1;
    }
    d->from_config = 0;
    d->tenant = tenant_copy;
    if (!d->ttl && hd_target_masked(&d->target)) {
        hd_check_def_free(d);
        hd_api_error(r, 400, "bad_field",
                     "target: \"***\" is how heed shows a password, not one: give the password "
                     "(the stored one is kept only when the whole target is given back as "
                     "shown)");
        return -1;
    }
    const char *code;
    char why[1200];
    if (!hd_agent_api_target_allowed(hd_agent_config(a), d, &code, why, sizeof(why))) {
        hd_check_def_free(d);
        hd_api_error(r, 403, code, "%s", why);
        return -1;
    }
    return 0;
}

/* A list of checks going out (hd_api_reply_stream): the matching checks,
 * held until written; one removed meanwhile is left out. */
typedef struct list_s {
    hd_agent_check_t **all;
    size_t n, i;
    int started;
    hd_jsonw_t w; /* its comma state carries over from part to part */
} list_t;

static int list_part(hd_api_req_t *r, hd_buf_t *out, void *arg)
{
    (void)r;
    list_t *l = arg;
    if (out) {
        size_t start = out->len;
        l->w.b = out;
        if (!l->started) hd_jsonw_array_begin(&l->w);
        l->started = 1;
        for (; l->i < l->n && out->len - start < HD_API_STREAM_CHUNK; l->i++)
            if (!hd_agent_check_removed(l->all[l->i]))
                hd_check_write_json(&l->w, hd_agent_check_def(l->all[l->i]),
                                    hd_agent_check_state(l->all[l->i]));
        if (l->i < l->n) return 1;
        hd_jsonw_array_end(&l->w);
    }
    for (size_t i = 0; i < l->n; i++)
        hd_agent_check_release(l->all[i]);
    free(l->all);
    free(l);
    return 0;
}

/* Compares two qualified names given in parts (each "tenant", "/", "id",
 * or a whole key and two empty parts) as the bytes of their joined text,
 * without joining them. Lists are in this order: by id within a tenant. */
static int qcmp(const char *const x[3], const char *const y[3])
{
    int i = 0, j = 0;
    const char *a = x[0], *b = y[0];
    for (;; a++, b++) {
        while (!*a && i < 2)
            a = x[++i];
        while (!*b && j < 2)
            b = y[++j];
        if (!*a || !*b || *a != *b) return (unsigned char)*a - (unsigned char)*b;
    }
}

static int by_name(const void *p, const void *q)
{
    const hd_agent_check_t *c = *(hd_agent_check_t *const *)p, *d = *(hd_agent_check_t *const *)q;
    const char *x[3] = {hd_tenant_name(hd_agent_check_def(c)->tenant), "/",
                        hd_agent_check_def(c)->id};
    const char *y[3] = {hd_tenant_name(hd_agent_check_def(d)->tenant), "/",
                        hd_agent_check_def(d)->id};
    return qcmp(x, y);
}

static void list_checks(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_scope_t scope;
    hd_page_t page;
    char err[300];
    if (hd_api_scope(r, HD_SCOPE_LIST, &scope) < 0) return;
    if (hd_page_parse(hd_api_query(r, "limit"), hd_api_query(r, "after"), &page, err, sizeof(err)) <
        0) {
        hd_api_error(r, 400, "bad_query", "%s", err);
        return;
    }
    /* after= is an id of the scope's tenant, or a whole "tenant/id" (what
     * an ns=* list's Link gives). */
    const char *after[3] = {page.after, "", ""};
    if (page.after && scope.tenant && !strchr(page.after, '/')) {
        after[0] = scope.tenant;
        after[1] = "/";
        after[2] = page.after;
    }
    const char *status = hd_api_query(r, "status"), *tag = hd_api_query(r, "tag");
    hd_agent_check_t **all = hd_xcalloc(hd_agent_check_count(a) + 1, sizeof(*all));
    size_t n = 0, pos = 0;
    hd_agent_check_t *c;
    while ((c = hd_agent_check_next(a, &scope, &pos))) {
        const hd_check_def_t *cd = hd_agent_check_def(c);
        if (status && strcmp(hd_check_status_str(hd_agent_check_state(c)->status), status) != 0)
            continue;
        if (tag) {
            int has = 0;
            for (char **t = cd->tags; t && *t && !has; t++)
                has = strcmp(*t, tag) == 0;
            if (!has) continue;
        }
        if (page.after) {
            const char *name[3] = {hd_tenant_name(cd->tenant), "/", cd->id};
            if (qcmp(name, after) <= 0) continue;
        }
        all[n++] = c;
    }
    /* qsort: an insertion sort of 1,000 checks took 91 % of the agent's
     * CPU under 1,000 list requests */
    qsort(all, n, sizeof(*all), by_name);
    if (page.limit && n > page.limit) {
        /* More remain: the Link to the page after this one's last. */
        const hd_check_def_t *last = hd_agent_check_def(all[page.limit - 1]);
        char key[HD_TENANT_KEY_MAX];
        if (scope.tenant)
            snprintf(key, sizeof(key), "%s", last->id);
        else
            (void)hd_tenant_key(key, sizeof(key), last->tenant, last->id); /* fits: it exists */
        const char *kv[] = {"ns", hd_api_query(r, "ns"), "status", status, "tag", tag, NULL};
        hd_buf_t link = {0};
        hd_page_link(&link, "/v1/checks", kv, page.limit, key);
        hd_api_set_header(r, "Link", link.data);
        hd_buf_free(&link);
        n = page.limit;
    }
    /* Written as the client takes it: 1,000 checks are ~570 KB of JSON,
     * which a client that does not read would otherwise pin. */
    list_t *l = hd_xcalloc(1, sizeof(*l));
    l->all = all;
    l->n = n;
    for (size_t i = 0; i < n; i++)
        hd_agent_check_hold(all[i]);
    hd_jsonw_init(&l->w, NULL, REAL_DIGITS);
    hd_api_reply_stream(r, 200, "application/json", list_part, l);
}

static void get_check(hd_api_req_t *r, void *arg)
{
    hd_agent_check_t *c = find(r, arg);
    if (c) reply_view(r, 200, c);
}

static void on_created(int status, hd_agent_check_t *c, void *arg)
{
    hd_api_req_t *r = arg;
    if (status != 0) {
        reply_store_error(r, status, "cannot create the check");
        return;
    }
    char loc[512];
    snprintf(loc, sizeof(loc), "/v1/checks/%s", hd_agent_check_def(c)->id);
    hd_api_set_header(r, "Location", loc);
    reply_view(r, 201, c);
}

/* A request without a body, or -1 after replying 400. */
static int need_body(hd_api_req_t *r)
{
    if (r->body) return 0;
    hd_api_error(r, 400, "bad_request", "a check in the request body is required");
    return -1;
}

static void create_check(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_check_def_t d;
    const char *tenant;
    if (need_body(r) < 0 || create_tenant(r, &tenant) < 0 || body_def(r, a, tenant, NULL, &d) < 0)
        return;
    if (hd_agent_check_get(a, d.tenant, d.id)) { /* a tenant the caller reaches */
        hd_api_error(r, 409, "conflict", "a check with id '%s' exists in tenant '%s'", d.id,
                     hd_tenant_name(d.tenant));
        hd_check_def_free(&d);
        return;
    }
    int rc = hd_agent_check_create(a, &d, on_created, r);
    if (rc < 0) {
        hd_check_def_free(&d);
        reply_store_error(r, rc, "cannot create the check");
    }
}

static void on_changed(int status, hd_agent_check_t *c, void *arg)
{
    hd_api_req_t *r = arg;
    if (status != 0)
        reply_store_error(r, status, "cannot write the check");
    else if (!c)
        hd_api_error(r, 404, "not_found", "the check was deleted meanwhile");
    else
        reply_view(r, 200, c);
}

static int from_config(hd_api_req_t *r, const hd_agent_check_t *c)
{
    if (!hd_agent_check_def(c)->from_config) return 0;
    hd_api_error(r, 409, "from_config",
                 "check '%s' is defined in the config file: change it there (SIGHUP reloads)",
                 hd_agent_check_def(c)->id);
    return 1;
}

static void replace_check(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_agent_check_t *c = find(r, a);
    if (!c || from_config(r, c)) return;
    hd_check_def_t d;
    const char *tenant;
    if (need_body(r) < 0 || replace_tenant(r, c, &tenant) < 0 || body_def(r, a, tenant, c, &d) < 0)
        return;
    if (!hd_tenant_same(d.tenant, hd_agent_check_def(c)->tenant) &&
        hd_agent_check_get(a, d.tenant, d.id)) {
        hd_api_error(r, 409, "conflict", "a check with id '%s' exists in tenant '%s'", d.id,
                     hd_tenant_name(d.tenant));
        hd_check_def_free(&d);
        return;
    }
    int rc = hd_agent_check_replace(a, c, &d, on_changed, r);
    if (rc < 0) {
        hd_check_def_free(&d);
        reply_store_error(r, rc, "cannot replace the check");
    }
}

static void on_deleted(int status, hd_agent_check_t *c, void *arg)
{
    (void)c;
    hd_api_req_t *r = arg;
    if (status != 0) {
        reply_store_error(r, status, "cannot delete the check");
        return;
    }
    hd_api_reply_json(r, 200, json_pack("{s:s, s:b}", "id", hd_api_param(r, "id"), "deleted", 1));
}

static void delete_check(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_agent_check_t *c = find(r, a);
    if (!c || from_config(r, c)) return;
    int rc = hd_agent_check_delete(a, c, on_deleted, r);
    if (rc < 0) reply_store_error(r, rc, "cannot delete the check");
}

static void pause_or_resume(hd_api_req_t *r, hd_agent_t *a, int paused)
{
    hd_agent_check_t *c = find(r, a);
    if (!c) return;
    int rc = hd_agent_check_pause(a, c, paused, on_changed, r);
    if (rc < 0) reply_store_error(r, rc, "cannot write the check");
}

static void pause_check(hd_api_req_t *r, void *arg)
{
    pause_or_resume(r, arg, 1);
}

static void resume_check(hd_api_req_t *r, void *arg)
{
    pause_or_resume(r, arg, 0);
}

/* ---- TTL updates (Consul's agent API) ------------------------------------- */

static void on_ttl(int status, hd_agent_check_t *c, void *arg)
{
    (void)c;
    hd_api_req_t *r = arg;
    if (status != 0)
        reply_store_error(r, status, "cannot write the check");
    else
        hd_api_reply_json(r, 200, NULL); /* as Consul: no body, no Content-Type */
}

static void ttl_update(hd_api_req_t *r, hd_agent_t *a, hd_status_t st, const char *output)
{
    hd_agent_check_t *c = find(r, a);
    if (!c) return;
    const hd_check_def_t *cd = hd_agent_check_def(c);
    if (!cd->ttl) {
        hd_api_error(r, 400, "not_ttl", "check '%s' is not a TTL check", cd->id);
        return;
    }
    int rc = hd_agent_check_ttl_update(a, c, st, output ? output : "", on_ttl, r);
    if (rc < 0)
        reply_store_error(r, rc, "cannot write the check");
    else if (rc == 1)
        hd_api_reply_json(r, 200, NULL);
}

static void ttl_pass(hd_api_req_t *r, void *arg)
{
    ttl_update(r, arg, HD_STATUS_PASSING, hd_api_query(r, "note"));
}

static void ttl_warn(hd_api_req_t *r, void *arg)
{
    ttl_update(r, arg, HD_STATUS_WARNING, hd_api_query(r, "note"));
}

static void ttl_fail(hd_api_req_t *r, void *arg)
{
    ttl_update(r, arg, HD_STATUS_CRITICAL, hd_api_query(r, "note"));
}

static void ttl_put(hd_api_req_t *r, void *arg)
{
    const char *status = NULL, *output = "";
    if (!r->body || json_unpack(r->body, "{s:s, s?s}", "Status", &status, "Output", &output) < 0) {
        hd_api_error(r, 400, "bad_field",
                     "expected {\"Status\": \"passing|warning|critical\", \"Output\": \"...\"}");
        return;
    }
    hd_status_t st;
    if (!strcmp(status, "passing"))
        st = HD_STATUS_PASSING;
    else if (!strcmp(status, "warning"))
        st = HD_STATUS_WARNING;
    else if (!strcmp(status, "critical"))
        st = HD_STATUS_CRITICAL;
    else {
        hd_api_error(r, 400, "bad_field", "Status: expected passing, warning or critical, got '%s'",
                     status);
        return;
    }
    ttl_update(r, arg, st, output);
}

/* ---- history ---------------------------------------------------------------- */

/* A time: RFC 3339 ("2026-11-22T10:00:00Z"), Unix seconds, or a duration
 * meaning that long before now ("1h"). */
static int parse_when(const char *s, int64_t now_wall, int64_t *out)
{
    char err[128];
    int64_t d;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end) {
        if (*end == '.')
            for (end++; *end >= '0' && *end <= '9'; end++)
                ;
        if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0) return -1;
        *out = (int64_t)timegm(&tm) * 1000000;
        return 0;
    }
    char *e;
    errno = 0;
    long long secs = strtoll(s, &e, 10);
    if (!errno && e != s && !*e && secs > 100000000) {
        *out = (int64_t)secs * 1000000;
        return 0;
    }
    if (hd_time_parse_duration(s, &d, err, sizeof(err)) == 0) {
        *out = now_wall - d;
        return 0;
    }
    return -1;
}

static void on_history(int status, const hd_hist_series_t *sr, void *arg)
{
    hd_api_req_t *r = arg;
    if (status != 0) {
        reply_store_error(r, status, "cannot read the history");
        return;
    }
    json_t *pts = json_array();
    for (size_t i = 0; i < sr->n; i++) {
        const hd_hist_point_t *p = &sr->pts[i];
        char ts[40];
        hd_time_format_rfc3339(p->ts_us, ts, sizeof(ts));
        json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:{s:f, s:f, s:f}}", "ts", ts, "count",
                              (json_int_t)p->count, "ok", (json_int_t)p->ok, "status",
                              hd_check_status_str(p->worst), "latency_ms", "min",
                              (double)p->lat_min_us / 1e3, "avg", (double)p->lat_avg_us / 1e3,
                              "max", (double)p->lat_max_us / 1e3);
        if (sr->step == HD_HIST_RAW)
            json_object_set_new(o, "reason", json_string(hd_reason_name((hd_reason_t)p->reason)));
        json_array_append_new(pts, o);
    }
    hd_api_reply_json(r, 200,
                      json_pack("{s:s, s:s, s:o}", "id", hd_api_param(r, "id"), "step",
                                hd_hist_step_str(sr->step), "points", pts));
}

static void get_history(hd_api_req_t *r, void *arg)
{
    hd_agent_t *a = arg;
    hd_agent_check_t *c = find(r, a);
    if (!c) return;
    int64_t now = hd_time_wall_us(), since = now - 3600LL * 1000000, until = now;
    const char *qs = hd_api_query(r, "since"), *qu = hd_api_query(r, "until"),
               *qstep = hd_api_query(r, "step");
    if (qs && parse_when(qs, now, &since) < 0) {
        hd_api_error(r, 400, "bad_query",
                     "since: expected RFC 3339 time, Unix seconds or a duration ago, got '%s'", qs);
        return;
    }
    if (qu && parse_when(qu, now, &until) < 0) {
        hd_api_error(r, 400, "bad_query",
                     "until: expected RFC 3339 time, Unix seconds or a duration ago, got '%s'", qu);
        return;
    }
    if (until <= since) {
        hd_api_error(r, 400, "bad_query", "until must be after since");
        return;
    }
    hd_hist_step_t step;
    if (!qstep) /* the finest step that gives at most a few thousand points */
        step = until - since <= 6 * 3600LL * 1000000    ? HD_HIST_RAW
               : until - since <= 7 * 86400LL * 1000000 ? HD_HIST_1M
                                                        : HD_HIST_1H;
    else if (!strcmp(qstep, "raw"))
        step = HD_HIST_RAW;
    else if (!strcmp(qstep, "1m"))
        step = HD_HIST_1M;
    else if (!strcmp(qstep, "1h"))
        step = HD_HIST_1H;
    else {
        hd_api_error(r, 400, "bad_query", "step: expected raw, 1m or 1h, got '%s'", qstep);
        return;
    }
    char name[HD_TENANT_KEY_MAX]; /* its history's name: "tenant/id" */
    const hd_check_def_t *cd = hd_agent_check_def(c);
    (void)hd_tenant_key(name, sizeof(name), cd->tenant, cd->id); /* fits: the check exists */
    int rc = hd_store_history_query(hd_agent_store(a), name, since, until, step, 0, on_history, r);
    if (rc < 0) reply_store_error(r, rc, "cannot read the history");
}

/* ---- registration ----------------------------------------------------------- */

int hd_api_checks_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    static const struct {
        const char *method, *pattern;
        hd_api_role_t role;
        hd_api_handler_fn fn;
    } routes[] = {
        {"GET", "/v1/checks", HD_ROLE_READ, list_checks},
        {"POST", "/v1/checks", HD_ROLE_WRITE, create_check},
        {"GET", "/v1/checks/:id", HD_ROLE_READ, get_check},
        {"PUT", "/v1/checks/:id", HD_ROLE_WRITE, replace_check},
        {"DELETE", "/v1/checks/:id", HD_ROLE_WRITE, delete_check},
        {"PUT", "/v1/checks/:id/pause", HD_ROLE_WRITE, pause_check},
        {"PUT", "/v1/checks/:id/resume", HD_ROLE_WRITE, resume_check},
        {"GET", "/v1/checks/:id/history", HD_ROLE_READ, get_history},
        {"PUT", "/v1/agent/check/pass/:id", HD_ROLE_WRITE, ttl_pass},
        {"PUT", "/v1/agent/check/warn/:id", HD_ROLE_WRITE, ttl_warn},
        {"PUT", "/v1/agent/check/fail/:id", HD_ROLE_WRITE, ttl_fail},
        {"PUT", "/v1/agent/check/update/:id", HD_ROLE_WRITE, ttl_put},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (hd_api_route(api, routes[i].method, routes[i].pattern, routes[i].role, routes[i].fn, a,
                         err, errlen) < 0)
            return -1;
    return 0;
}
