/* register — Consul's service and check definitions into heed's (see
 * register.h). */
#include "api/register.h"
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/node.h"
#include "agent/tenant.h"
#include "api/consul.h"
#include "api/scope.h"
#include "util/mem.h"
#include "util/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(hd_reg_error_t *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(hd_reg_error_t *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->status = status;
    return -1;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "null";
    }
}

/* Consul's words for a field of the wrong type. */
static int wrong(hd_reg_error_t *e, const char *strct, const char *field, const json_t *v,
                 const char *go_type)
{
    return fail(e, 400,
                "Request decode failed: json: cannot unmarshal %s into Go struct field %s.%s of "
                "type %s",
                json_kind(v), strct, field, go_type);
}

/* The member name (any case) or snake (snake_case), NULL when absent or
 * null. */
static json_t *fld(const json_t *o, const char *name, const char *snake)
{
    json_t *v = hd_consul_field(o, name);
    if (!v && snake) v = hd_consul_field(o, snake);
    return json_is_null(v) ? NULL : v;
}

static int get_str(const json_t *o, const char *strct, const char *name, const char *snake,
                   const char **out, hd_reg_error_t *e)
{
    json_t *v = fld(o, name, snake);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) return wrong(e, strct, name, v, "string");
    *out = json_string_value(v);
    return 0;
}

static int get_int(const json_t *o, const char *strct, const char *name, const char *snake,
                   long long lo, long long hi, long long *out, hd_reg_error_t *e)
{
    json_t *v = fld(o, name, snake);
    if (!v) return 0;
    if (!json_is_integer(v)) return wrong(e, strct, name, v, "int");
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return fail(e, 400, "Invalid %s: %lld is out of range (%lld to %lld)", name, x, lo, hi);
    *out = x;
    return 0;
}

static int get_bool(const json_t *o, const char *strct, const char *name, const char *snake,
                    int *out, hd_reg_error_t *e)
{
    json_t *v = fld(o, name, snake);
    if (!v) return 0;
    if (!json_is_boolean(v)) return wrong(e, strct, name, v, "bool");
    *out = json_is_true(v);
    return 0;
}

/* A Go duration field into microseconds (0 when absent). */
static int get_dur(const json_t *o, const char *strct, const char *name, const char *snake,
                   int64_t *us, hd_reg_error_t *e)
{
    const char *s;
    *us = 0;
    if (get_str(o, strct, name, snake, &s, e) < 0) return -1;
    if (!s || !*s) return 0;
    int64_t ns;
    char err[160];
    if (hd_time_parse_go_duration(s, strlen(s), &ns, err, sizeof(err)) < 0)
        return fail(e, 400, "Request decode failed: %s: %s", name, err);
    if (ns < 0) return fail(e, 400, "Invalid %s: a duration may not be negative", name);
    *us = ns / 1000;
    return 0;
}

static void set_dur(json_t *o, const char *key, int64_t us)
{
    char b[48];
    hd_time_format_duration(us, b, sizeof(b));
    json_object_set_new(o, key, json_string(b));
}

/* Args as heed's exec: target: each argument single-quoted. */
static char *exec_target(const json_t *args, hd_reg_error_t *e, int *bad)
{
    size_t n = json_array_size(args), len = 6;
    *bad = 0;
    if (!n) {
        *bad = fail(e, 400, "Invalid check: Args must name a command");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(args, i);
        if (!json_is_string(x)) {
            *bad = wrong(e, "CheckType", "Args", x, "string");
            return NULL;
        }
        len += 4 * strlen(json_string_value(x)) + 3;
    }
    char *t = hd_xmalloc(len), *p = t;
    memcpy(p, "exec:", 5);
    p += 5;
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_array_get(args, i));
        if (i) *p++ = ' ';
        *p++ = '\'';
        for (; *a; a++) {
            if (*a == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *a;
            }
        }
        *p++ = '\'';
    }
    *p = '\0';
    return t;
}

int hd_reg_check(const hd_config_t *cfg, const json_t *ck, const char *tenant, const char *svc_id,
                 const char *svc_name, const char *default_id, hd_check_def_t *out,
                 hd_reg_error_t *e)
{
    static const char *const unsupported[] = {
        "GRPC",      "DockerContainerID", "H2PING",       "UDP",
        "OSService", "AliasNode",         "AliasService", NULL};
    const char *S = "CheckType";
    memset(out, 0, sizeof(*out));
    if (!json_is_object(ck))
        return fail(e, 400, "Request decode failed: a check must be an object");
    for (size_t i = 0; unsupported[i]; i++)
        if (fld(ck, unsupported[i], NULL))
            return fail(e, 400, "Invalid check: %s checks are not supported by heed",
                        unsupported[i]);
    const char *id, *id2, *name, *http, *tcp, *target, *notes, *status, *method, *body, *sid;
    int64_t interval, timeout, ttl, dereg;
    int skip = 0;
    long long sbp = 0, fbw = 0, fbc = 0;
    if (get_str(ck, S, "CheckID", "check_id", &id, e) < 0 ||
        get_str(ck, S, "ID", NULL, &id2, e) < 0 || get_str(ck, S, "Name", NULL, &name, e) < 0 ||
        get_str(ck, S, "HTTP", NULL, &http, e) < 0 || get_str(ck, S, "TCP", NULL, &tcp, e) < 0 ||
        get_str(ck, S, "Target", NULL, &target, e) < 0 ||
        get_str(ck, S, "Notes", NULL, &notes, e) < 0 ||
        get_str(ck, S, "Status", NULL, &status, e) < 0 ||
        get_str(ck, S, "Method", NULL, &method, e) < 0 ||
        get_str(ck, S, "Body", NULL, &body, e) < 0 ||
        get_str(ck, S, "ServiceID", "service_id", &sid, e) < 0 ||
        get_dur(ck, S, "Interval", NULL, &interval, e) < 0 ||
        get_dur(ck, S, "Timeout", NULL, &timeout, e) < 0 ||
        get_dur(ck, S, "TTL", NULL, &ttl, e) < 0 ||
        get_dur(ck, S, "DeregisterCriticalServiceAfter", "deregister_critical_service_after",
                &dereg, e) < 0 ||
        get_bool(ck, S, "TLSSkipVerify", "tls_skip_verify", &skip, e) < 0 ||
        get_int(ck, S, "SuccessBeforePassing", "success_before_passing", 0, 1000, &sbp, e) < 0 ||
        get_int(ck, S, "FailuresBeforeWarning", "failures_before_warning", 0, 1000, &fbw, e) < 0 ||
        get_int(ck, S, "FailuresBeforeCritical", "failures_before_critical", 0, 1000, &fbc, e) < 0)
        return -1;
    json_t *args = fld(ck, "Args", NULL), *header = fld(ck, "Header", NULL);
    if (!args) args = fld(ck, "ScriptArgs", "script_args");
    if (args && !json_is_array(args)) return wrong(e, S, "Args", args, "[]string");
    if (header && !json_is_object(header))
        return wrong(e, S, "Header", header, "map[string][]string");
    if (!id) id = id2;
    if (!svc_id) svc_id = sid;
    char idbuf[HD_ID_MAX + 16], namebuf[HD_ID_MAX + 32];
    if (!id || !*id) {
        if (default_id)
            id = default_id;
        else if (name && *name)
            id = name;
        else
            return fail(e, 400, "Missing check name");
    }
    if (strlen(id) >= HD_ID_MAX) return fail(e, 400, "Invalid check: CheckID is too long");
    snprintf(idbuf, sizeof(idbuf), "%s", id);
    if (!name || !*name) {
        if (svc_name)
            snprintf(namebuf, sizeof(namebuf), "Service '%s' check", svc_name);
        else
            snprintf(namebuf, sizeof(namebuf), "%s", idbuf);
        name = namebuf;
    }
    int kinds = !!http + !!tcp + !!target + !!args + (ttl > 0);
    if (kinds == 0)
        return fail(e, 400,
                    "Invalid check: one of HTTP, TCP, TTL, Args or heed's Target is required");
    if (kinds > 1)
        return fail(e, 400, "Invalid check: give one of HTTP, TCP, TTL, Args or Target, not more");

    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(idbuf));
    json_object_set_new(o, "name", json_string(name));
    if (svc_id) json_object_set_new(o, "service", json_string(svc_id));
    if (notes && *notes) json_object_set_new(o, "notes", json_string(notes));
    char *exec = NULL;
    if (ttl > 0) {
        set_dur(o, "ttl", ttl);
    } else {
        if (http) {
            json_object_set_new(o, "target", json_string(http));
            if (method && *method) json_object_set_new(o, "method", json_string(method));
            if (body && *body) json_object_set_new(o, "body", json_string(body));
            if (header && json_object_size(header))
                json_object_set_new(o, "headers", json_deep_copy(header));
            if (skip) json_object_set_new(o, "insecure", json_true());
        } else if (tcp) {
            size_t tl = strlen(tcp) + 8;
            char *t = hd_xmalloc(tl);
            snprintf(t, tl, "tcp://%s", tcp);
            json_object_set_new(o, "target", json_string(t));
            free(t);
        } else if (target) {
            json_object_set_new(o, "target", json_string(target));
        } else {
            int bad;
            exec = exec_target(args, e, &bad);
            if (!exec) {
                json_decref(o);
                return -1;
            }
            json_object_set_new(o, "target", json_string(exec));
        }
        if (interval > 0) set_dur(o, "interval", interval);
        if (timeout > 0) set_dur(o, "timeout", timeout);
    }
    if (dereg > 0) set_dur(o, "deregister_critical_service_after", dereg);
    /* Consul's defaults: critical at the first failure, a warning first
     * only when FailuresBeforeWarning says so (it defaults to
     * FailuresBeforeCritical). */
    if (fbc <= 0) fbc = 1;
    if (fbw <= 0 || fbw > fbc) fbw = fbc;
    if (sbp > 0) json_object_set_new(o, "success_before_passing", json_integer(sbp));
    if (fbw > 0) json_object_set_new(o, "failures_before_warning", json_integer(fbw));
    if (fbc > 0) json_object_set_new(o, "failures_before_critical", json_integer(fbc));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(exec);
    char err[1024] = "a string is not UTF-8";
    /* The parser's messages quote no password (target.h). */
    int rc = text ? hd_config_parse_check(text, strlen(text), "check", out, err, sizeof(err)) : -1;
    free(text);
    if (rc < 0) return fail(e, 400, "Invalid check: %s", err);
    out->from_config = 0;
    out->tenant = tenant && strcmp(tenant, HD_TENANT_DEFAULT) ? hd_xstrdup(tenant) : NULL;
    if (!out->ttl && hd_target_masked(&out->target)) {
        hd_check_def_free(out);
        return fail(e, 400,
                    "Invalid check: \"***\" is how heed shows a password, not one: give the "
                    "password");
    }
    if (status && *status) {
        if (!strcmp(status, "passing"))
            out->initial_status = 1 + HD_CHECK_PASSING;
        else if (!strcmp(status, "warning"))
            out->initial_status = 1 + HD_CHECK_WARNING;
        else if (!strcmp(status, "critical"))
            out->initial_status = 1 + HD_CHECK_CRITICAL;
        else {
            hd_check_def_free(out);
            return fail(e, 400, "Invalid check status: \"%s\"", status);
        }
    }
    const char *code;
    char why[1200];
    if (cfg && !hd_agent_api_target_allowed(cfg, out, &code, why, sizeof(why))) {
        int is_exec = out->target.kind == HD_KIND_EXEC;
        hd_check_def_free(out);
        if (is_exec)
            return fail(e, 400,
                        "Scripts are disabled on this agent; to enable, configure "
                        "'enable_script_checks' or 'enable_local_script_checks' to true (heed: "
                        "enable_api_exec_checks)");
        return fail(e, 400, "Invalid check: %s", why);
    }
    return 0;
}

/* Meta: an object of strings, at most HD_SERVICE_META_MAX. */
static int get_meta(const json_t *o, const char *strct, json_t **out, hd_reg_error_t *e)
{
    json_t *m = fld(o, "Meta", NULL);
    *out = NULL;
    if (!m) return 0;
    if (!json_is_object(m)) return wrong(e, strct, "Meta", m, "map[string]string");
    if (json_object_size(m) > HD_SERVICE_META_MAX)
        return fail(e, 400, "Invalid service: Meta has more than %d keys", HD_SERVICE_META_MAX);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!json_is_string(v)) return wrong(e, strct, "Meta", v, "string");
        if (!*k || strlen(k) > 128)
            return fail(e, 400, "Invalid service: a Meta key is 1 to 128 bytes");
    }
    *out = json_object_size(m) ? json_deep_copy(m) : NULL;
    return 0;
}

int hd_reg_service(const hd_config_t *cfg, const json_t *body, const char *tenant, const char *node,
                   hd_service_source_t source, hd_service_t *out, hd_check_def_t **defs,
                   size_t *ndefs, hd_reg_error_t *e)
{
    const char *S = "ServiceDefinition";
    memset(out, 0, sizeof(*out));
    *defs = NULL;
    *ndefs = 0;
    if (!json_is_object(body))
        return fail(e, 400, "Request decode failed: the body must be a JSON object");
    const char *name, *id, *addr, *kind;
    long long port = 0, wp = 1, ww = 1;
    int eto = 0;
    if (get_str(body, S, "Name", NULL, &name, e) < 0 || get_str(body, S, "ID", NULL, &id, e) < 0 ||
        get_str(body, S, "Address", NULL, &addr, e) < 0 ||
        get_str(body, S, "Kind", NULL, &kind, e) < 0 ||
        get_int(body, S, "Port", NULL, 0, 65535, &port, e) < 0 ||
        get_bool(body, S, "EnableTagOverride", "enable_tag_override", &eto, e) < 0)
        return -1;
    json_t *w = fld(body, "Weights", NULL);
    if (w && !json_is_object(w)) return wrong(e, S, "Weights", w, "Weights");
    if (w && (get_int(w, "Weights", "Passing", NULL, 1, 1000000, &wp, e) < 0 ||
              get_int(w, "Weights", "Warning", NULL, 0, 1000000, &ww, e) < 0))
        return -1;
    if (!name || !*name) return fail(e, 400, "Missing service name");
    if (!id || !*id) id = name;
    if (strlen(name) >= HD_ID_MAX || strlen(id) >= HD_ID_MAX)
        return fail(e, 400, "Invalid service: Name and ID are at most %d bytes", HD_ID_MAX - 1);
    json_t *tags = fld(body, "Tags", NULL),
           *tagged = fld(body, "TaggedAddresses", "tagged_addresses");
    if (tags && !json_is_array(tags)) return wrong(e, S, "Tags", tags, "[]string");
    if (json_array_size(tags) > HD_SERVICE_TAGS_MAX)
        return fail(e, 400, "Invalid service: more than %d Tags", HD_SERVICE_TAGS_MAX);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (!json_is_string(t)) return wrong(e, S, "Tags", t, "string");
    if (tagged && !json_is_object(tagged))
        return wrong(e, S, "TaggedAddresses", tagged, "map[string]ServiceAddress");
    json_t *meta;
    if (get_meta(body, S, &meta, e) < 0) return -1;

    json_t *check = fld(body, "Check", NULL), *checks = fld(body, "Checks", NULL);
    if (checks && !json_is_array(checks)) {
        json_decref(meta);
        return wrong(e, S, "Checks", checks, "CheckTypes");
    }
    size_t n = (check ? 1 : 0) + json_array_size(checks);
    hd_check_def_t *d = n ? hd_xcalloc(n, sizeof(*d)) : NULL;
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        const json_t *ck = check && j == 0 ? check : json_array_get(checks, j - (check ? 1 : 0));
        char defid[HD_ID_MAX + 32];
        /* Consul's generated ids: service:<id>, or service:<id>:<n> for more than one. */
        if (n > 1)
            snprintf(defid, sizeof(defid), "service:%s:%zu", id, j + 1);
        else
            snprintf(defid, sizeof(defid), "service:%s", id);
        if (hd_reg_check(cfg, ck, tenant, id, name, defid, &d[k], e) < 0) goto bad;
        for (size_t x = 0; x < k; x++)
            if (!strcmp(d[x].id, d[k].id)) {
                fail(e, 400, "Invalid check: CheckID %s is given twice", d[k].id);
                hd_check_def_free(&d[k]);
                goto bad;
            }
        k++;
    }
    out->id = hd_xstrdup(id);
    out->name = hd_xstrdup(name);
    out->tenant = tenant && strcmp(tenant, HD_TENANT_DEFAULT) ? hd_xstrdup(tenant) : NULL;
    out->node = hd_xstrdup(node);
    out->address = addr && *addr ? hd_xstrdup(addr) : NULL;
    out->port = (int)port;
    if (json_array_size(tags)) {
        out->tags = hd_xcalloc(json_array_size(tags) + 1, sizeof(*out->tags));
        json_array_foreach(tags, i, t) out->tags[i] = hd_xstrdup(json_string_value(t));
    }
    out->meta = meta;
    out->tagged_addresses = tagged && json_object_size(tagged) ? json_deep_copy(tagged) : NULL;
    out->kind = kind && *kind ? hd_xstrdup(kind) : NULL;
    out->enable_tag_override = eto;
    out->weight_passing = (int)wp;
    out->weight_warning = (int)ww;
    out->source = source;
    *defs = d;
    *ndefs = k;
    return 0;
bad:
    for (size_t x = 0; x < k; x++)
        hd_check_def_free(&d[x]);
    free(d);
    json_decref(meta);
    return -1;
}

/* ---- /v1/catalog/register: another node, and checks nothing runs ---------- */

/* 1 when v is an object of strings (NodeMeta, a node's TaggedAddresses). */
static int strings_object(const json_t *v)
{
    const char *k;
    json_t *x;
    if (!json_is_object(v)) return 0;
    json_object_foreach((json_t *)v, k, x) if (!json_is_string(x)) return 0;
    return 1;
}

int hd_reg_catalog_node(const json_t *b, const char *local, const char *dc, const char **node,
                        hd_node_t *n, hd_reg_error_t *e)
{
    json_t *jn = hd_consul_field(b, "Node"), *addr = hd_consul_field(b, "Address");
    json_t *id = hd_consul_field(b, "ID"), *jdc = hd_consul_field(b, "Datacenter");
    json_t *tagged = hd_consul_field(b, "TaggedAddresses"), *meta = hd_consul_field(b, "NodeMeta");
    if (!json_is_string(jn) || !*json_string_value(jn)) {
        return fail(e, 400, "Must provide node");
    }
    *node = json_string_value(jn);
    if (!hd_node_name_valid(*node, strlen(*node))) {
        return fail(e, 400, "Invalid node name \"%s\": 1 to %d letters, digits and . _ - : @",
                    *node, HD_NODE_NAME_MAX);
    }
    if (!strcmp(*node, local))
        return fail(e, 400,
                    "Node %s is this agent's own: register its services and checks through "
                    "/v1/agent/service/register and /v1/agent/check/register",
                    *node);
    if (jdc && json_is_string(jdc) && *json_string_value(jdc) &&
        strcmp(json_string_value(jdc), dc) != 0)
        return fail(e, 500, "No path to datacenter");
    if (!n) return 0;
    if ((addr && !json_is_string(addr)) || (id && !json_is_null(id) && !json_is_string(id)) ||
        (tagged && !json_is_null(tagged) && !strings_object(tagged)) ||
        (meta && !json_is_null(meta) && !strings_object(meta))) {
        return fail(e, 400,
                    "Request decode failed: Address and ID are strings, TaggedAddresses and "
                    "NodeMeta objects of strings");
    }
    if (!addr || !*json_string_value(addr)) return fail(e, 400, "Must provide address");
    memset(n, 0, sizeof(*n));
    n->name = hd_xstrdup(*node);
    n->address = hd_xstrdup(json_string_value(addr));
    n->id = hd_xstrdup(json_is_string(id) ? json_string_value(id) : "");
    n->datacenter = hd_xstrdup(dc);
    n->meta = json_is_object(meta) && json_object_size(meta) ? json_deep_copy(meta) : NULL;
    n->tagged_addresses =
        json_is_object(tagged) && json_object_size(tagged) ? json_deep_copy(tagged) : NULL;
    return 0;
}

json_t *hd_reg_ext_check(const json_t *ck, const char *node, const hd_service_t *svc,
                         int (*service_exists)(void *arg, const char *node, const char *id),
                         void *arg, hd_reg_error_t *e)
{
    static const char *const strs[] = {"CheckID", "Name",      "Notes", "Status",
                                       "Output",  "ServiceID", "Node",  NULL};
    const char *v[7] = {0};
    if (!json_is_object(ck)) {
        snprintf(e->msg, sizeof(e->msg), "Request decode failed: a check must be an object");
        return NULL;
    }
    for (int i = 0; strs[i]; i++) {
        json_t *x = hd_consul_field(ck, strs[i]);
        if (x && !json_is_null(x) && !json_is_string(x)) {
            snprintf(e->msg, sizeof(e->msg),
                     "Request decode failed: json: cannot unmarshal %s into Go struct field "
                     "HealthCheck.%s of type string",
                     json_is_number(x)    ? "number"
                     : json_is_boolean(x) ? "bool"
                                          : "object",
                     strs[i]);
            return NULL;
        }
        v[i] = json_is_string(x) ? json_string_value(x) : NULL;
    }
    const char *id = v[0] && *v[0] ? v[0] : v[1];
    if (!id || !*id) {
        snprintf(e->msg, sizeof(e->msg), "Missing check name");
        return NULL;
    }
    if (strlen(id) >= HD_ID_MAX) {
        snprintf(e->msg, sizeof(e->msg), "Invalid check: CheckID is too long");
        return NULL;
    }
    if (v[6] && *v[6] && strcmp(v[6], node) != 0) {
        snprintf(e->msg, sizeof(e->msg), "Invalid check: Node \"%s\" differs from the request's",
                 v[6]);
        return NULL;
    }
    const char *st = v[3] && *v[3] ? v[3] : "critical";
    if (strcmp(st, "passing") && strcmp(st, "warning") && strcmp(st, "critical")) {
        snprintf(e->msg, sizeof(e->msg), "Invalid check status: \"%s\"", st);
        return NULL;
    }
    const char *sid = v[5] && *v[5] ? v[5] : NULL;
    if (sid && !(svc && !strcmp(svc->id, sid)) && !service_exists(arg, node, sid)) {
        snprintf(e->msg, sizeof(e->msg), "Unknown service ID \"%s\" for check \"%s\"", sid, id);
        return NULL;
    }
    json_t *def = hd_consul_field(ck, "Definition");
    if (def && !json_is_null(def) && !json_is_object(def)) {
        snprintf(e->msg, sizeof(e->msg),
                 "Request decode failed: json: cannot unmarshal into Go struct field "
                 "HealthCheck.Definition");
        return NULL;
    }
    json_t *d = json_object();
    if (json_is_object(def)) { /* what a reader shows: HTTP and TCP */
        const char *keys[] = {"HTTP", "TCP", "Interval", "Timeout"};
        for (size_t i = 0; i < 4; i++) {
            json_t *x = hd_consul_field(def, keys[i]);
            if (json_is_string(x))
                json_object_set_new(d, keys[i], json_string(json_string_value(x)));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "CheckID", id, "Name",
                     v[1] && *v[1] ? v[1] : id, "Status", st, "Notes", v[2] ? v[2] : "", "Output",
                     v[4] ? v[4] : "", "ServiceID", sid ? sid : "", "Definition", d);
}

int hd_reg_scope(hd_api_req_t *r, hd_scope_t *out)
{
    json_t *ns = r->body ? hd_consul_field(r->body, "Namespace") : NULL;
    if (!json_is_string(ns) || !*json_string_value(ns)) return hd_api_scope(r, HD_SCOPE_ONE, out);
    char err[300];
    int status =
        hd_scope_parse(json_string_value(ns), HD_SCOPE_ONE, r->tenant, out, err, sizeof(err));
    if (status == 0) return 0;
    hd_consul_error(r, status, "%s", status == 403 ? "Permission denied" : err);
    return -1;
}
