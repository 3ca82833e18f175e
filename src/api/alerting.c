/* alerting — /v1/notifiers and /v1/alerts: list the notifiers and alert
 * rules the token's scope sees (the config file's and the API's), and make
 * or delete the API's (agent/alerting.c keeps them). Writing needs the
 * write role; a tenant token makes and sees only its tenant's. */
#include "agent/agent.h"
#include "agent/alert.h"
#include "agent/notifier.h"
#include "api/routes.h"
#include "api/scope.h"
#include "api/server.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tenant a made object belongs to: the scope's, NULL for "default". */
static int make_tenant(hd_api_req_t *r, const char **out)
{
    hd_scope_t s;
    if (hd_api_scope(r, HD_SCOPE_ONE, &s) < 0) return -1;
    *out = s.tenant && strcmp(s.tenant, HD_TENANT_DEFAULT) ? s.tenant : NULL;
    return 0;
}

static void on_done(int status, void *arg)
{
    hd_api_req_t *r = arg;
    if (status == HD_STORE_ECONFLICT)
        hd_api_error(r, 409, "conflict", "made meanwhile by another request");
    else if (status != 0)
        hd_api_error(r, 500, "store_error", "%s", hd_store_strerror(status));
    else
        hd_api_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void answer(hd_api_req_t *r, int status, const char *err)
{
    if (status == 0) return; /* on_done answers */
    const char *code = status == 403   ? "forbidden"
                       : status == 404 ? "not_found"
                       : status == 409 ? "conflict"
                       : status == 400 ? "bad_field"
                                       : "internal";
    hd_api_error(r, status, code, "%s", err);
}

static void list_notifiers(hd_api_req_t *r, void *arg)
{
    hd_scope_t s;
    if (hd_api_scope(r, HD_SCOPE_LIST, &s) < 0) return;
    hd_api_reply_json(r, 200, hd_agent_notifiers_json(arg, &s));
}

static void put_notifier(hd_api_req_t *r, void *arg, int replace)
{
    const char *tenant;
    char err[512];
    if (make_tenant(r, &tenant) < 0) return;
    if (!r->body) {
        hd_api_error(r, 400, "bad_request", "a notifier in the request body is required");
        return;
    }
    const char *name = replace ? hd_api_param(r, "name") : NULL;
    json_t *body = json_deep_copy(r->body);
    if (name && !json_object_get(body, "name"))
        json_object_set_new(body, "name", json_string(name));
    hd_notifier_def_t d;
    int rc = hd_notifier_def_from_json(body, &d, err, sizeof(err));
    json_decref(body);
    if (rc < 0) {
        hd_api_error(r, 400, "bad_field", "%s", err);
        return;
    }
    if (name && strcmp(d.name, name) != 0) {
        hd_api_error(r, 400, "bad_field", "name: the body says '%s' but the path says '%s'", d.name,
                     name);
        hd_notifier_def_free(&d);
        return;
    }
    answer(r, hd_agent_notifier_add(arg, &d, tenant, replace, on_done, r, err, sizeof(err)), err);
}

static void create_notifier(hd_api_req_t *r, void *arg)
{
    put_notifier(r, arg, 0);
}

static void replace_notifier(hd_api_req_t *r, void *arg)
{
    put_notifier(r, arg, 1);
}

static void delete_notifier(hd_api_req_t *r, void *arg)
{
    hd_scope_t s;
    char err[512];
    if (hd_api_scope(r, HD_SCOPE_ONE, &s) < 0) return;
    answer(r,
           hd_agent_notifier_delete(arg, &s, hd_api_param(r, "name"), on_done, r, err, sizeof(err)),
           err);
}

static void list_rules(hd_api_req_t *r, void *arg)
{
    hd_scope_t s;
    if (hd_api_scope(r, HD_SCOPE_LIST, &s) < 0) return;
    hd_api_reply_json(r, 200, hd_agent_rules_json(arg, &s));
}

static void put_rule(hd_api_req_t *r, void *arg, int replace)
{
    const char *tenant;
    char err[1024];
    if (make_tenant(r, &tenant) < 0) return;
    if (!r->body) {
        hd_api_error(r, 400, "bad_request", "an alert rule in the request body is required");
        return;
    }
    const char *id = json_string_value(json_object_get(r->body, "id"));
    if (replace) {
        const char *pid = hd_api_param(r, "id");
        if (id && strcmp(id, pid) != 0) {
            hd_api_error(r, 400, "bad_field", "id: the body says '%s' but the path says '%s'", id,
                         pid);
            return;
        }
        id = pid;
    }
    if (!id) {
        hd_api_error(r, 400, "bad_field", "id: missing (a name for the rule)");
        return;
    }
    /* The rest is an `alerts:` entry, read by the config file's parser. */
    json_t *body = json_deep_copy(r->body);
    json_object_del(body, "id");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    hd_alert_rule_t rule;
    int rc = text ? hd_config_parse_alert(text, strlen(text), "body", &rule, err, sizeof(err)) : -1;
    free(text);
    if (rc < 0) {
        hd_api_error(r, 400, "bad_field", "%s", err);
        return;
    }
    rule.id = hd_xstrdup(id);
    answer(r, hd_agent_rule_add(arg, &rule, tenant, replace, on_done, r, err, sizeof(err)), err);
}

static void create_rule(hd_api_req_t *r, void *arg)
{
    put_rule(r, arg, 0);
}

static void replace_rule(hd_api_req_t *r, void *arg)
{
    put_rule(r, arg, 1);
}

static void delete_rule(hd_api_req_t *r, void *arg)
{
    hd_scope_t s;
    char err[512];
    if (hd_api_scope(r, HD_SCOPE_ONE, &s) < 0) return;
    answer(r, hd_agent_rule_delete(arg, &s, hd_api_param(r, "id"), on_done, r, err, sizeof(err)),
           err);
}

int hd_api_alerting_routes(hd_api_t *api, hd_agent_t *a, char *err, size_t errlen)
{
    static const struct {
        const char *method, *pattern;
        hd_api_role_t role;
        hd_api_handler_fn fn;
    } routes[] = {
        {"GET", "/v1/notifiers", HD_ROLE_READ, list_notifiers},
        {"POST", "/v1/notifiers", HD_ROLE_WRITE, create_notifier},
        {"PUT", "/v1/notifiers/:name", HD_ROLE_WRITE, replace_notifier},
        {"DELETE", "/v1/notifiers/:name", HD_ROLE_WRITE, delete_notifier},
        {"GET", "/v1/alerts", HD_ROLE_READ, list_rules},
        {"POST", "/v1/alerts", HD_ROLE_WRITE, create_rule},
        {"PUT", "/v1/alerts/:id", HD_ROLE_WRITE, replace_rule},
        {"DELETE", "/v1/alerts/:id", HD_ROLE_WRITE, delete_rule},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (hd_api_route(api, routes[i].method, routes[i].pattern, routes[i].role, routes[i].fn, a,
                         err, errlen) < 0)
            return -1;
    return 0;
}
