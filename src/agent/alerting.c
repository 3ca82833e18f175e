/* alerting — the notifiers and alert rules made through the API
 * (/v1/notifiers, /v1/alerts), beside the config file's read-only ones.
 *
 * Stored under heed/alerting/notifiers/<name> and
 * heed/alerting/rules/<tenant>/<id>, each the API's JSON with "tenant";
 * read back at start. A notifier name is unique across tenants (rules name
 * notifiers), a rule id within its tenant. Notifiers from the API are a
 * request-forgery and code-execution risk: exec is refused (as exec:
 * checks are), and a webhook's or Alertmanager's URL must point at a host
 * of alerting.webhook_allow when that list is configured. */
#include "agent/agent_impl.h"
#include "agent/notifier.h"
#include "agent/outbox.h"
#include "store/store.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_NOTIFIERS "heed/alerting/notifiers/"
#define KEY_RULES     "heed/alerting/rules/"

/* ---- the allow-list -------------------------------------------------------- */

/* The host of an http(s) URL into host (brackets of IPv6 removed). */
static int url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url ? url : "", "://");
    if (!p) return -1;
    p += 3;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    while (at) { /* the last '@' before the path ends the userinfo */
        p = at + 1;
        at = memchr(p, '@', (size_t)(end - p));
    }
    const char *h = p, *he;
    if (*h == '[') {
        h++;
        he = memchr(h, ']', (size_t)(end - h));
        if (!he) return -1;
    } else {
        he = memchr(h, ':', (size_t)(end - h));
        if (!he) he = end;
    }
    size_t n = (size_t)(he - h);
    if (n == 0 || n >= len) return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

/* 1 when the address text host lies in cidr ("ADDR/LEN"). */
static int in_cidr(const char *host, const char *cidr)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    size_t n = (size_t)(slash - cidr);
    if (!slash || n >= sizeof(net)) return 0;
    memcpy(net, cidr, n);
    net[n] = '\0';
    unsigned char a[16], b[16];
    int fam = strchr(net, ':') ? AF_INET6 : AF_INET, alen = fam == AF_INET6 ? 16 : 4;
    if (inet_pton(fam, net, b) != 1 || inet_pton(fam, host, a) != 1) return 0;
    char *e;
    long bits = strtol(slash + 1, &e, 10);
    if (*e || bits < 0 || bits > alen * 8) return 0;
    for (int i = 0; i < alen && bits > 0; i++, bits -= 8) {
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((a[i] & mask) != (b[i] & mask)) return 0;
    }
    return 1;
}

/* 1 when url's host is allowed: the list is empty, or names the host
 * (compared as text: a name is never resolved here), or holds a CIDR the
 * address literal falls in. */
static int allowed(char *const *allow, const char *url)
{
    if (!allow) return 1;
    char host[256];
    if (url_host(url, host, sizeof(host)) < 0) return 0;
    for (size_t i = 0; allow[i]; i++)
        if (strchr(allow[i], '/') ? in_cidr(host, allow[i]) : !strcasecmp(allow[i], host)) return 1;
    return 0;
}

/* ---- lookups ----------------------------------------------------------------- */

static hd_notifier_t *find_notifier(hd_agent_t *a, const char *name, size_t *at)
{
    for (size_t i = 0; i < a->nnotifiers; i++)
        if (a->notifiers[i] && !strcmp(hd_notifier_def(a->notifiers[i])->name, name)) {
            if (at) *at = i;
            return a->notifiers[i];
        }
    return NULL;
}

static int config_notifier(const hd_agent_t *a, const char *name)
{
    for (size_t i = 0; i < a->cfg.nnotifiers; i++)
        if (!strcmp(a->cfg.notifiers[i].name, name)) return 1;
    return 0;
}

static hd_alert_rule_t *find_rule(hd_agent_t *a, const char *tenant, const char *id, size_t *at)
{
    for (size_t i = 0; i < a->nrules; i++)
        if (a->rules[i].id && !strcmp(a->rules[i].id, id) &&
            hd_tenant_same(a->rules[i].tenant, tenant)) {
            if (at) *at = i;
            return &a->rules[i];
        }
    return NULL;
}

/* ---- lists ---------------------------------------------------------------- */

json_t *hd_agent_notifiers_json(hd_agent_t *a, const hd_scope_t *s)
{
    json_t *out = json_array();
    for (size_t i = 0; i < a->cfg.nnotifiers; i++) {
        if (!hd_scope_has(s, NULL)) break;
        json_t *o = hd_notifier_def_to_json(&a->cfg.notifiers[i]);
        json_object_set_new(o, "source", json_string("config"));
        json_object_set_new(o, "tenant", json_null());
        json_array_append_new(out, o);
    }
    for (size_t i = a->cfg.nnotifiers; i < a->nnotifiers; i++) {
        if (!a->notifiers[i]) continue;
        const hd_notifier_def_t *d = hd_notifier_def(a->notifiers[i]);
        if (!hd_scope_has(s, d->tenant)) continue;
        json_t *o = hd_notifier_def_to_json(d);
        json_object_set_new(o, "source", json_string("api"));
        json_object_set_new(o, "tenant", d->tenant ? json_string(d->tenant) : json_null());
        json_array_append_new(out, o);
    }
    return out;
}

json_t *hd_agent_rules_json(hd_agent_t *a, const hd_scope_t *s)
{
    json_t *out = json_array();
    for (size_t i = 0; i < a->nrules; i++)
        if (hd_scope_has(s, a->rules[i].tenant))
            json_array_append_new(out, hd_alert_rule_to_json(&a->rules[i]));
    return out;
}

/* ---- changes ------------------------------------------------------------------ */

typedef struct change_s {
    hd_agent_t *a;
    hd_agent_alerting_cb cb;
    void *arg;
    hd_notifier_def_t *def; /* a notifier to add */
    hd_alert_rule_t *rule;  /* a rule to add */
    char *name;             /* a notifier to delete */
    char *tenant, *id;      /* a rule to delete */
    int replace;            /* def or rule replaces the one of its name */
} change_t;

static void change_free(change_t *ch)
{
    if (ch->def) {
        hd_notifier_def_free(ch->def);
        free(ch->def);
    }
    if (ch->rule) {
        hd_alert_rule_free(ch->rule);
        free(ch->rule);
    }
    free(ch->name);
    free(ch->tenant);
    free(ch->id);
    free(ch);
}

/* Frees notifiers[at] and takes it out (its sends in flight are tried
 * again, through whatever then has its name). */
static void drop_notifier(hd_agent_t *a, size_t at)
{
    if (a->outbox) hd_outbox_forget(a->outbox, hd_notifier_def(a->notifiers[at])->name);
    hd_notifier_free(a->notifiers[at]);
    memmove(&a->notifiers[at], &a->notifiers[at + 1],
            (a->nnotifiers - at - 1) * sizeof(*a->notifiers));
    a->nnotifiers--;
}

static void add_notifier(hd_agent_t *a, const hd_notifier_def_t *def)
{
    char why[512];
    size_t at;
    if (find_notifier(a, def->name, &at)) drop_notifier(a, at); /* a replace */
    hd_notifier_t *n = hd_notifier_new(a->base, def, why, sizeof(why));
    if (!n) {
        fprintf(stderr, "heed agent: notifier %s: %s\n", def->name, why);
        return;
    }
    if (a->ui_url) hd_notifier_set_ui_url(n, a->ui_url);
    a->notifiers = hd_xrealloc(a->notifiers, (a->nnotifiers + 1) * sizeof(*a->notifiers));
    a->notifiers[a->nnotifiers++] = n;
}

static void add_rule(hd_agent_t *a, hd_alert_rule_t *r)
{
    size_t at;
    if (find_rule(a, r->tenant, r->id, &at)) { /* a replace, in place */
        hd_alert_rule_free(&a->rules[at]);
        a->rules[at] = *r;
        memset(r, 0, sizeof(*r));
        return;
    }
    a->rules = hd_xrealloc(a->rules, (a->nrules + 1) * sizeof(*a->rules));
    a->rules[a->nrules++] = *r;
    memset(r, 0, sizeof(*r));
}

static void on_changed(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)r;
    change_t *ch = arg;
    hd_agent_t *a = ch->a;
    if (status == 0 && !a->closing) {
        size_t at;
        if (ch->def) add_notifier(a, ch->def);
        if (ch->rule) add_rule(a, ch->rule);
        if (ch->name && find_notifier(a, ch->name, &at)) drop_notifier(a, at);
        if (ch->id && find_rule(a, ch->tenant, ch->id, &at)) {
            hd_alert_rule_free(&a->rules[at]);
            memmove(&a->rules[at], &a->rules[at + 1], (a->nrules - at - 1) * sizeof(*a->rules));
            a->nrules--;
        }
    }
    if (ch->cb) ch->cb(status, ch->arg);
    change_free(ch);
}

static char *dump_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) {
        fprintf(stderr, "heed agent: out of memory encoding JSON\n");
        abort();
    }
    return s;
}

/* The stored form of a notifier: the API's body with its tenant; secrets
 * whole (the store is the agent's, as for check targets). */
static json_t *notifier_stored(const hd_notifier_def_t *d)
{
    json_t *o = json_object(), *k = json_object();
    json_object_set_new(o, "name", json_string(d->name));
    if (d->tenant) json_object_set_new(o, "tenant", json_string(d->tenant));
    if (d->url) json_object_set_new(k, "url", json_string(d->url));
    if (d->timeout_us) {
        char t[32];
        snprintf(t, sizeof(t), "%lldms", (long long)(d->timeout_us / 1000));
        json_object_set_new(k, "timeout", json_string(t));
    }
    if (d->kind == HD_NOTIFIER_WEBHOOK) {
        if (d->nheaders) {
            json_t *h = json_object();
            for (size_t i = 0; i < d->nheaders; i++)
                json_object_set_new(h, d->headers[i].name, json_string(d->headers[i].value));
            json_object_set_new(k, "headers", h);
        }
        if (d->template_name) json_object_set_new(k, "template", json_string(d->template_name));
        if (d->template_text)
            json_object_set_new(k, "template_text", json_string(d->template_text));
    }
    if (d->kind == HD_NOTIFIER_SMTP) {
        if (d->from) json_object_set_new(k, "from", json_string(d->from));
        json_t *to = json_array();
        for (size_t i = 0; d->to && d->to[i]; i++)
            json_array_append_new(to, json_string(d->to[i]));
        json_object_set_new(k, "to", to);
    }
    json_object_set_new(o, hd_notifier_kind_str(d->kind), k);
    return o;
}

/* Stores val (owned, freed here) at key: created when !replace (a key
 * there already fails the compare), else overwritten; ch answers once the
 * write is durable. Returns 0, or 500 with the store's error in err (ch
 * freed). Shared by notifiers and rules made through the API. */
static int put_stored(hd_agent_t *a, const char *key, size_t klen, char *val, int replace,
                      change_t *ch, char *err, size_t errlen)
{
    hd_store_cmp_t cmp = {key, klen, HD_STORE_CMP_ABSENT, 0};
    hd_store_op_t op = {HD_STORE_OP_PUT, key, klen, val, strlen(val), 0};
    int rc = hd_store_txn(a->store, &cmp, replace ? 0 : 1, &op, 1, on_changed, ch);
    free(val);
    if (rc < 0) {
        snprintf(err, errlen, "%s", hd_store_strerror(rc));
        change_free(ch);
        return 500;
    }
    return 0;
}

int hd_agent_notifier_add(hd_agent_t *a, hd_notifier_def_t *def, const char *tenant, int replace,
                          hd_agent_alerting_cb cb, void *arg, char *err, size_t errlen)
{
    change_t *ch = hd_xcalloc(1, sizeof(*ch));
    ch->a = a;
    ch->cb = cb;
    ch->arg = arg;
    ch->def = hd_xmalloc(sizeof(*ch->def));
    *ch->def = *def;
    memset(def, 0, sizeof(*def));
    def = ch->def;
    def->from_config = 0;
    free(def->tenant);
    def->tenant = tenant ? hd_xstrdup(tenant) : NULL;
    int status = 0;
    if (def->kind == HD_NOTIFIER_EXEC) {
        snprintf(err, errlen,
                 "exec notifiers come from the config file only (notify: in heed.yaml), as "
                 "exec: checks do: a command from the API would run on this machine");
        status = 403;
    } else if ((def->kind == HD_NOTIFIER_WEBHOOK || def->kind == HD_NOTIFIER_ALERTMANAGER ||
                def->kind == HD_NOTIFIER_SMTP) &&
               !allowed(a->cfg.alerting.webhook_allow, def->url)) {
        char host[256];
        if (url_host(def->url, host, sizeof(host)) < 0) snprintf(host, sizeof(host), "?");
        snprintf(err, errlen,
                 "url: host %s is not in alerting.webhook_allow: a notifier from the API may only "
                 "send to the hosts the config file allows",
                 host);
        status = 403;
    } else if (hd_notifier_validate(def, err, errlen) < 0) {
        status = 400;
    } else if (config_notifier(a, def->name)) {
        snprintf(err, errlen, "notifier \"%s\" is from the config file: change it there",
                 def->name);
        status = replace ? 403 : 409;
    } else if (!replace && find_notifier(a, def->name, NULL)) {
        snprintf(err, errlen, "a notifier named \"%s\" exists already", def->name);
        status = 409;
    } else if (replace) {
        hd_notifier_t *old = find_notifier(a, def->name, NULL);
        hd_scope_t s = {tenant ? tenant : HD_TENANT_DEFAULT};
        if (!old || !hd_scope_has(&s, hd_notifier_def(old)->tenant)) {
            snprintf(err, errlen, "no notifier \"%s\"", def->name);
            status = 404;
        }
    }
    if (status) {
        change_free(ch);
        return status;
    }
    char key[HD_STORE_KEY_MAX];
    size_t klen = (size_t)snprintf(key, sizeof(key), "%s%s", KEY_NOTIFIERS, def->name);
    return put_stored(a, key, klen, dump_json(notifier_stored(def)), replace, ch, err, errlen);
}

int hd_agent_notifier_delete(hd_agent_t *a, const hd_scope_t *s, const char *name,
                             hd_agent_alerting_cb cb, void *arg, char *err, size_t errlen)
{
    size_t at;
    hd_notifier_t *n = find_notifier(a, name, &at);
    if (config_notifier(a, name) && hd_scope_has(s, NULL)) {
        snprintf(err, errlen, "notifier \"%s\" is from the config file: change it there", name);
        return 403;
    }
    if (!n || at < a->cfg.nnotifiers || !hd_scope_has(s, hd_notifier_def(n)->tenant)) {
        snprintf(err, errlen, "no notifier \"%s\"", name);
        return 404;
    }
    for (size_t i = 0; i < a->nrules; i++)
        for (size_t k = 0; a->rules[i].notify && a->rules[i].notify[k]; k++)
            if (!strcmp(a->rules[i].notify[k], name)) {
                snprintf(err, errlen, "notifier \"%s\" is used by alert rule %s: delete it first",
                         name, a->rules[i].id ? a->rules[i].id : "(config)");
                return 409;
            }
    change_t *ch = hd_xcalloc(1, sizeof(*ch));
    ch->a = a;
    ch->cb = cb;
    ch->arg = arg;
    ch->name = hd_xstrdup(name);
    char key[HD_STORE_KEY_MAX];
    size_t klen = (size_t)snprintf(key, sizeof(key), "%s%s", KEY_NOTIFIERS, name);
    int rc = hd_store_delete(a->store, key, klen, on_changed, ch);
    if (rc < 0) {
        snprintf(err, errlen, "%s", hd_store_strerror(rc));
        change_free(ch);
        return 500;
    }
    return 0;
}

static size_t rule_key(char *key, const char *tenant, const char *id)
{
    return (size_t)snprintf(key, HD_STORE_KEY_MAX, "%s%s/%s", KEY_RULES, hd_tenant_name(tenant),
                            id);
}

int hd_agent_rule_add(hd_agent_t *a, hd_alert_rule_t *r, const char *tenant, int replace,
                      hd_agent_alerting_cb cb, void *arg, char *err, size_t errlen)
{
    change_t *ch = hd_xcalloc(1, sizeof(*ch));
    ch->a = a;
    ch->cb = cb;
    ch->arg = arg;
    ch->rule = hd_xmalloc(sizeof(*ch->rule));
    *ch->rule = *r;
    memset(r, 0, sizeof(*r));
    r = ch->rule;
    free(r->tenant);
    r->tenant = tenant ? hd_xstrdup(tenant) : NULL;
    if (tenant) { /* a tenant's rule covers its own checks only */
        free(r->match.tenant);
        r->match.tenant = hd_xstrdup(tenant);
    }
    hd_scope_t s = {tenant};
    int status = 0;
    if (!r->id || !hd_tenant_valid(r->id, strlen(r->id))) {
        snprintf(err, errlen, "id: expected 1 to %d letters, digits and . _ - : @", HD_TENANT_MAX);
        status = 400;
    } else if (!replace && find_rule(a, tenant, r->id, NULL)) {
        snprintf(err, errlen, "an alert rule \"%s\" exists already", r->id);
        status = 409;
    } else if (replace && !find_rule(a, tenant, r->id, NULL)) {
        snprintf(err, errlen, "no alert rule \"%s\" made through the API", r->id);
        status = 404;
    }
    for (size_t k = 0; !status && r->notify && r->notify[k]; k++) {
        hd_notifier_t *n = find_notifier(a, r->notify[k], NULL);
        int config = config_notifier(a, r->notify[k]);
        if ((!n && !config) || !hd_scope_has(&s, config ? NULL : hd_notifier_def(n)->tenant)) {
            snprintf(err, errlen, "notify[%zu]: no notifier named \"%s\"", k, r->notify[k]);
            status = 400;
        }
    }
    if (status) {
        change_free(ch);
        return status;
    }
    char key[HD_STORE_KEY_MAX];
    size_t klen = rule_key(key, tenant, r->id);
    return put_stored(a, key, klen, dump_json(hd_alert_rule_to_json(r)), replace, ch, err, errlen);
}

int hd_agent_rule_delete(hd_agent_t *a, const hd_scope_t *s, const char *id,
                         hd_agent_alerting_cb cb, void *arg, char *err, size_t errlen)
{
    const char *tenant = s->tenant && strcmp(s->tenant, HD_TENANT_DEFAULT) ? s->tenant : NULL;
    if (!find_rule(a, tenant, id, NULL)) {
        snprintf(err, errlen, "no alert rule \"%s\" made through the API", id);
        return 404;
    }
    change_t *ch = hd_xcalloc(1, sizeof(*ch));
    ch->a = a;
    ch->cb = cb;
    ch->arg = arg;
    ch->id = hd_xstrdup(id);
    ch->tenant = tenant ? hd_xstrdup(tenant) : NULL;
    char key[HD_STORE_KEY_MAX];
    size_t klen = rule_key(key, tenant, id);
    int rc = hd_store_delete(a->store, key, klen, on_changed, ch);
    if (rc < 0) {
        snprintf(err, errlen, "%s", hd_store_strerror(rc));
        change_free(ch);
        return 500;
    }
    return 0;
}

/* ---- start ------------------------------------------------------------------ */

typedef struct load_s {
    hd_agent_t *a;
    int status, done;
} load_t;

static void load_one(hd_agent_t *a, const hd_store_kv_t *kv)
{
    json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
    char err[512];
    if (!o) return;
    const char *tenant = json_string_value(json_object_get(o, "tenant"));
    if (!strncmp(kv->key, KEY_NOTIFIERS, strlen(KEY_NOTIFIERS))) {
        json_t *body = json_deep_copy(o);
        json_object_del(body, "tenant");
        json_object_del(body, "source");
        hd_notifier_def_t d;
        if (hd_notifier_def_from_json(body, &d, err, sizeof(err)) == 0) {
            free(d.tenant);
            d.tenant = tenant ? hd_xstrdup(tenant) : NULL;
            d.from_config = 0;
            if (!config_notifier(a, d.name) && !find_notifier(a, d.name, NULL)) add_notifier(a, &d);
            hd_notifier_def_free(&d);
        } else {
            fprintf(stderr, "heed agent: %.*s: stored notifier unreadable: %s\n", (int)kv->key_len,
                    kv->key, err);
        }
        json_decref(body);
    } else {
        const char *id = json_string_value(json_object_get(o, "id"));
        json_t *body = json_deep_copy(o);
        json_object_del(body, "id");
        json_object_del(body, "tenant");
        json_object_del(body, "source");
        char *text = dump_json(body);
        hd_alert_rule_t r;
        if (id &&
            hd_config_parse_alert(text, strlen(text), "stored rule", &r, err, sizeof(err)) == 0) {
            r.id = hd_xstrdup(id);
            r.tenant = tenant ? hd_xstrdup(tenant) : NULL;
            add_rule(a, &r);
        } else {
            fprintf(stderr, "heed agent: %.*s: stored alert rule unreadable\n", (int)kv->key_len,
                    kv->key);
        }
        free(text);
    }
    json_decref(o);
}

static void on_range(int status, const hd_store_range_t *r, void *arg)
{
    load_t *l = arg;
    l->status = status;
    l->done = 1;
    for (size_t i = 0; status == 0 && i < r->n; i++)
        load_one(l->a, &r->kvs[i]);
}

int hd_agent_alerting_load(hd_agent_t *a, char *err, size_t errlen)
{
    /* Notifiers first ("heed/alerting/n..." sorts before ".../r..."): the
     * rules name them. A few hundred at most: one read. */
    load_t l = {a, 0, 0};
    int rc = hd_store_range(a->store, "heed/alerting/", strlen("heed/alerting/"), 0, on_range, &l);
    while (rc == 0 && !l.done)
        event_base_loop(a->base, EVLOOP_ONCE);
    if (rc < 0 || l.status != 0) {
        snprintf(err, errlen, "reading alerting: %s", hd_store_strerror(rc < 0 ? rc : l.status));
        return -1;
    }
    return 0;
}
