/* disco — reads of the catalog as blocking queries, and Consul's JSON
 * shapes of nodes, services and checks (see disco.h). */
#include "api/disco.h"
#include "agent/agent.h"
#include "api/consul.h"
#include "api/scope.h"
#include "util/filter.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void answer(hd_disco_read_t *q);

static void on_retry(hd_api_req_t *r, void *arg)
{
    (void)r;
    answer(arg);
}

/* FNV-1a, 64 bits, of the body's compact text: Consul's ContentHash is an
 * opaque 16-hex-digit string too. */
static void body_hash(const json_t *body, char out[17])
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = 14695981039346656037ULL;
    for (const char *p = text; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    free(text);
    snprintf(out, 17, "%016" PRIx64, h);
}

static void answer(hd_disco_read_t *q)
{
    hd_api_req_t *r = q->r;
    json_decref(q->body);
    free(q->text);
    free(q->json_text);
    q->body = NULL;
    q->text = NULL;
    q->json_text = NULL;
    q->ntopics = 0;
    q->index = 1;
    q->status = 200;
    q->hashed = 0;
    q->hash_in_body = 0;
    q->filter_err[0] = '\0';
    q->fn(q);
    if (q->filter_err[0]) { /* a row the filter could not be evaluated on */
        json_decref(q->body);
        q->body = NULL;
        hd_disco_reply_text(q, 400, q->filter_err);
    }
    if (q->hashed && q->body) body_hash(q->body, q->hash);
    if (q->hashed && q->hash_in_body && json_is_object(q->body))
        json_object_set_new(q->body, "ContentHash", json_string(q->hash));
    int block = q->want_hash ? q->hashed && !strcmp(q->want_hash, q->hash)
                             : q->want && (uint64_t)q->index <= q->want;
    if (q->status == 400) block = 0; /* a refusal (a bad ?filter=) is answered at once */
    if (block && q->ntopics &&
        hd_api_hold(r, q->topics, q->ntopics, q->wait_ms, on_retry, q) == 0) {
        /* Held: the answer is made again when it ends, so the one made now
         * goes (a body of jansson objects is ~10 KB, a held request must
         * cost a few). */
        json_decref(q->body);
        free(q->text);
        free(q->json_text);
        q->body = NULL;
        q->text = NULL;
        q->json_text = NULL;
        return;
    }
    for (size_t i = 0; i < q->ntopics; i++) /* those made for this reply alone go */
        hd_catalog_topic_done(q->c, q->topics[i]);
    if (!q->no_index) hd_consul_read_headers(r, (uint64_t)q->index);
    if (q->hashed) hd_api_set_header(r, "X-Consul-ContentHash", q->hash);
    if (q->text) {
        hd_api_reply_text(r, q->status, "text/plain; charset=utf-8", q->text, strlen(q->text));
    } else if (q->json_text) {
        hd_api_reply_text_take(r, q->status, "application/json", q->json_text, q->json_len);
        q->json_text = NULL;
    } else if (q->body) {
        hd_api_reply_json(r, q->status, q->body);
        q->body = NULL;
    } else {
        hd_api_reply_text(r, q->status, "text/plain; charset=utf-8", "", 0);
    }
    free(q->text);
    free(q->json_text);
    hd_filter_free(q->filter);
    free(q);
}

void hd_disco_read(hd_api_req_t *r, struct hd_agent_s *a, int scope_kind, hd_disco_answer_fn fn,
                   void *arg)
{
    hd_disco_read_t *q = hd_xcalloc(1, sizeof(*q));
    q->r = r;
    q->a = a;
    q->c = hd_agent_catalog(a);
    q->fn = fn;
    q->arg = arg;
    if (hd_api_scope(r, scope_kind, &q->scope) < 0) {
        free(q);
        return;
    }
    if (!hd_consul_dc(r, hd_disco_dc(q->c))) {
        free(q);
        return;
    }
    char err[128];
    if (hd_api_block_params(r, &q->want, &q->wait_ms, err, sizeof(err)) < 0) {
        free(q);
        hd_consul_error(r, 400, "%s", err);
        return;
    }
    const char *h = hd_api_query(r, "hash");
    q->want_hash = h && *h ? h : NULL;
    answer(q);
}

void hd_disco_topic(hd_disco_read_t *q, hd_topic_t *t)
{
    if (t->index > q->index) q->index = t->index;
    for (size_t i = 0; i < q->ntopics; i++)
        if (q->topics[i] == t) return;
    if (q->ntopics < HD_DISCO_TOPICS_MAX) q->topics[q->ntopics++] = t;
}

void hd_disco_reply_json(hd_disco_read_t *q, int status, json_t *body)
{
    json_decref(q->body);
    q->status = status;
    q->body = body;
}

void hd_disco_render(const json_t *body, hd_buf_t *out)
{
    /* hd_api_reply_json's form: compact, 10 significant digits, a newline */
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    if (text) hd_buf_puts(out, text);
    hd_buf_puts(out, "\n");
    free(text);
}

void hd_disco_reply_rendered(hd_disco_read_t *q, int status, const char *text, size_t len)
{
    json_decref(q->body);
    q->body = NULL;
    free(q->json_text);
    q->status = status;
    q->json_text = hd_xmalloc(len + 1);
    memcpy(q->json_text, text, len);
    q->json_text[len] = '\0';
    q->json_len = len;
}

void hd_disco_reply_text(hd_disco_read_t *q, int status, const char *text)
{
    free(q->text);
    q->status = status;
    q->text = hd_xstrdup(text);
}

/* ---- ?tag=, ?node-meta= ------------------------------------------------------- */

int hd_disco_has_tag(const hd_service_t *s, const char *tag)
{
    for (char **t = s->tags; t && *t; t++)
        if (!strcmp(*t, tag)) return 1;
    return 0;
}

int hd_disco_node_meta(const hd_cat_node_t *n, const char *want)
{
    if (!want) return 1;
    const char *colon = strchr(want, ':');
    size_t klen = colon ? (size_t)(colon - want) : strlen(want);
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)klen, want);
    const char *v = json_string_value(json_object_get(n ? n->n.meta : NULL, key));
    return v && (!colon || !strcmp(v, colon + 1));
}

/* ---- ?filter= ---------------------------------------------------------------- */

/* The selectors of each kind of row, as Consul's API pages list them in
 * their "Filtering" tables; a map's keys are "X.*". A selector through a
 * list of checks ("Checks.Status") names the checks' members. */
/* clang-format off */
#define NODE_FIELDS(P)                                                                             \
    {P "ID", HD_FILTER_STRING}, {P "Node", HD_FILTER_STRING}, {P "Address", HD_FILTER_STRING},     \
    {P "Datacenter", HD_FILTER_STRING}, {P "TaggedAddresses", HD_FILTER_MAP},                      \
    {P "TaggedAddresses.*", HD_FILTER_STRING}, {P "Meta", HD_FILTER_MAP},                          \
    {P "Meta.*", HD_FILTER_STRING}
#define SERVICE_FIELDS(P)                                                                          \
    {P "Kind", HD_FILTER_STRING}, {P "ID", HD_FILTER_STRING}, {P "Service", HD_FILTER_STRING},     \
    {P "Tags", HD_FILTER_LIST}, {P "Address", HD_FILTER_STRING},                                   \
    {P "TaggedAddresses", HD_FILTER_MAP}, {P "TaggedAddresses.*.Address", HD_FILTER_STRING},       \
    {P "TaggedAddresses.*.Port", HD_FILTER_NUMBER}, {P "Meta", HD_FILTER_MAP},                     \
    {P "Meta.*", HD_FILTER_STRING}, {P "Port", HD_FILTER_NUMBER},                                  \
    {P "Weights.Passing", HD_FILTER_NUMBER}, {P "Weights.Warning", HD_FILTER_NUMBER},              \
    {P "EnableTagOverride", HD_FILTER_BOOL}, {P "Namespace", HD_FILTER_STRING}
#define CHECK_FIELDS(P)                                                                            \
    {P "Node", HD_FILTER_STRING}, {P "CheckID", HD_FILTER_STRING}, {P "Name", HD_FILTER_STRING},   \
    {P "Status", HD_FILTER_STRING}, {P "Notes", HD_FILTER_STRING},                                 \
    {P "Output", HD_FILTER_STRING}, {P "ServiceID", HD_FILTER_STRING},                             \
    {P "ServiceName", HD_FILTER_STRING}, {P "ServiceTags", HD_FILTER_LIST},                        \
    {P "Type", HD_FILTER_STRING}, {P "Namespace", HD_FILTER_STRING}
/* clang-format on */

static const hd_filter_field_t NODE_ROWS[] = {NODE_FIELDS("")};
static const hd_filter_field_t AGENT_SERVICE_ROWS[] = {SERVICE_FIELDS(""),
                                                       {"Datacenter", HD_FILTER_STRING}};
static const hd_filter_field_t CATALOG_SERVICE_ROWS[] = {
    {"ID", HD_FILTER_STRING},
    {"Node", HD_FILTER_STRING},
    {"Address", HD_FILTER_STRING},
    {"Datacenter", HD_FILTER_STRING},
    {"TaggedAddresses", HD_FILTER_MAP},
    {"TaggedAddresses.*", HD_FILTER_STRING},
    {"NodeMeta", HD_FILTER_MAP},
    {"NodeMeta.*", HD_FILTER_STRING},
    {"ServiceKind", HD_FILTER_STRING},
    {"ServiceID", HD_FILTER_STRING},
    {"ServiceName", HD_FILTER_STRING},
    {"ServiceTags", HD_FILTER_LIST},
    {"ServiceAddress", HD_FILTER_STRING},
    {"ServiceTaggedAddresses", HD_FILTER_MAP},
    {"ServiceTaggedAddresses.*.Address", HD_FILTER_STRING},
    {"ServiceTaggedAddresses.*.Port", HD_FILTER_NUMBER},
    {"ServiceWeights.Passing", HD_FILTER_NUMBER},
    {"ServiceWeights.Warning", HD_FILTER_NUMBER},
    {"ServiceMeta", HD_FILTER_MAP},
    {"ServiceMeta.*", HD_FILTER_STRING},
    {"ServicePort", HD_FILTER_NUMBER},
    {"ServiceEnableTagOverride", HD_FILTER_BOOL},
    {"Namespace", HD_FILTER_STRING},
};
static const hd_filter_field_t HEALTH_SERVICE_ROWS[] = {NODE_FIELDS("Node."),
                                                        SERVICE_FIELDS("Service."),
                                                        {"Checks", HD_FILTER_LIST},
                                                        CHECK_FIELDS("Checks.")};
static const hd_filter_field_t CHECK_ROWS[] = {CHECK_FIELDS("")};

#define ROWS(t)                                                                                    \
    {                                                                                              \
        t, sizeof(t) / sizeof(t[0])                                                                \
    }
static const struct {
    const hd_filter_field_t *f;
    size_t n;
} row_fields[] = {
    [HD_DISCO_ROWS_NODE] = ROWS(NODE_ROWS),
    [HD_DISCO_ROWS_AGENT_SERVICE] = ROWS(AGENT_SERVICE_ROWS),
    [HD_DISCO_ROWS_CATALOG_SERVICE] = ROWS(CATALOG_SERVICE_ROWS),
    [HD_DISCO_ROWS_HEALTH_SERVICE] = ROWS(HEALTH_SERVICE_ROWS),
    [HD_DISCO_ROWS_CHECK] = ROWS(CHECK_ROWS),
};

int hd_disco_filter(hd_disco_read_t *q, hd_disco_rows_t rows)
{
    if (q->filter_parsed) return 0; /* an answer run again for a held request */
    const char *expr = hd_api_query(q->r, "filter");
    char err[512];
    if (expr && *expr &&
        hd_filter_parse(expr, strlen(expr), row_fields[rows].f, row_fields[rows].n, &q->filter, err,
                        sizeof(err)) < 0) {
        hd_disco_reply_text(q, 400, err);
        return -1;
    }
    q->filter_parsed = 1;
    return 0;
}

int hd_disco_keep(hd_disco_read_t *q, const json_t *row)
{
    if (q->pred && !q->pred(row, q->pred_arg)) return 0;
    if (!q->filter) return 1;
    char err[256];
    int m = hd_filter_eval_json(q->filter, row, err, sizeof(err));
    if (m < 0 && !q->filter_err[0]) snprintf(q->filter_err, sizeof(q->filter_err), "%s", err);
    return m == 1;
}

void hd_disco_add(hd_disco_read_t *q, json_t *out, const char *key, json_t *row)
{
    if (!hd_disco_keep(q, row))
        json_decref(row);
    else if (key)
        json_object_set_new(out, key, row);
    else
        json_array_append_new(out, row);
}

/* ---- shapes ---------------------------------------------------------------- */

const char *hd_disco_dc(const hd_catalog_t *c)
{
    const hd_cat_node_t *n = hd_catalog_node(c, hd_catalog_local_node(c));
    return n && n->n.datacenter && *n->n.datacenter ? n->n.datacenter : "dc1";
}

const char *hd_disco_status(hd_check_status_t s)
{
    return hd_check_status_str(s);
}

void hd_disco_go_duration(int64_t us, char *out, size_t len)
{
    if (us <= 0) {
        snprintf(out, len, "0s");
        return;
    }
    if (us < 1000000) {
        if (us % 1000 == 0)
            snprintf(out, len, "%" PRId64 "ms", us / 1000);
        else
            snprintf(out, len, "%" PRId64 "µs", us);
        return;
    }
    int64_t h = us / 3600000000LL, m = us / 60000000LL % 60, s = us / 1000000 % 60,
            frac = us % 1000000;
    char secs[32];
    if (frac) {
        snprintf(secs, sizeof(secs), "%" PRId64 ".%06" PRId64, s, frac);
        char *e = secs + strlen(secs) - 1;
        while (*e == '0')
            *e-- = '\0';
    } else {
        snprintf(secs, sizeof(secs), "%" PRId64, s);
    }
    if (h)
        snprintf(out, len, "%" PRId64 "h%" PRId64 "m%ss", h, m, secs);
    else if (m)
        snprintf(out, len, "%" PRId64 "m%ss", m, secs);
    else
        snprintf(out, len, "%ss", secs);
}

static json_t *obj_or_empty(const json_t *o)
{
    return o ? json_deep_copy(o) : json_object();
}

json_t *hd_disco_node_json(const hd_cat_node_t *n)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I}", "ID", n->n.id ? n->n.id : "",
                     "Node", n->n.name, "Address", n->n.address ? n->n.address : "", "Datacenter",
                     n->n.datacenter ? n->n.datacenter : "", "TaggedAddresses",
                     obj_or_empty(n->n.tagged_addresses), "Meta", obj_or_empty(n->n.meta),
                     "CreateIndex", (json_int_t)n->create_rev, "ModifyIndex",
                     (json_int_t)n->mod_rev);
}

static json_t *tags_json(char **tags)
{
    json_t *a = json_array();
    for (char **t = tags; t && *t; t++)
        json_array_append_new(a, json_string(*t));
    return a;
}

static void service_fields(json_t *o, const hd_service_t *s)
{
    json_object_set_new(o, "ID", json_string(s->id));
    json_object_set_new(o, "Service", json_string(s->name));
    json_object_set_new(o, "Tags", tags_json(s->tags));
    json_object_set_new(o, "Meta", obj_or_empty(s->meta));
    json_object_set_new(o, "Port", json_integer(s->port));
    json_object_set_new(o, "Address", json_string(s->address ? s->address : ""));
    json_object_set_new(o, "TaggedAddresses", obj_or_empty(s->tagged_addresses));
    json_object_set_new(
        o, "Weights",
        json_pack("{s:i, s:i}", "Passing", s->weight_passing, "Warning", s->weight_warning));
    json_object_set_new(o, "EnableTagOverride", json_boolean(s->enable_tag_override));
    if (s->kind) json_object_set_new(o, "Kind", json_string(s->kind));
    json_object_set_new(o, "Namespace", json_string(hd_tenant_name(s->tenant)));
}

json_t *hd_disco_agent_service_json(const hd_cat_service_t *s, const char *dc)
{
    json_t *o = json_object();
    service_fields(o, &s->s);
    json_object_set_new(o, "Datacenter", json_string(dc));
    return o;
}

json_t *hd_disco_service_json(const hd_cat_service_t *s)
{
    json_t *o = json_object();
    service_fields(o, &s->s);
    json_object_set_new(o, "CreateIndex", json_integer(s->create_rev));
    json_object_set_new(o, "ModifyIndex", json_integer(s->mod_rev));
    return o;
}

json_t *hd_disco_check_json(const hd_cat_view_t *v)
{
    const hd_cat_check_t *k = v->check;
    char iv[48] = "0s", to[48] = "0s", dr[48] = "0s", ttl[48] = "0s";
    json_t *def = json_object(), *hdr = json_null();
    if (k) {
        hd_disco_go_duration(k->ttl_us ? 0 : k->interval_us, iv, sizeof(iv));
        hd_disco_go_duration(k->ttl_us ? 0 : k->timeout_us, to, sizeof(to));
        hd_disco_go_duration(k->dereg_us, dr, sizeof(dr));
        hd_disco_go_duration(k->ttl_us, ttl, sizeof(ttl));
        if (k->headers) {
            /* Consul's Header: a name to its values. */
            hdr = json_object();
            for (char **h = k->headers; *h; h++) {
                const char *colon = strchr(*h, ':');
                if (!colon) continue;
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)(colon - *h), *h);
                const char *val = colon + 1;
                while (*val == ' ')
                    val++;
                json_t *l = json_object_get(hdr, name);
                if (!l) json_object_set_new(hdr, name, l = json_array());
                json_array_append_new(l, json_string(val));
            }
        }
    }
    json_object_set_new(def, "Interval", json_string(iv));
    json_object_set_new(def, "Timeout", json_string(to));
    json_object_set_new(def, "DeregisterCriticalServiceAfter", json_string(dr));
    json_object_set_new(def, "TTL", json_string(ttl));
    json_object_set_new(def, "HTTP", json_string(k && k->http ? k->http : ""));
    json_object_set_new(def, "Header", hdr);
    json_object_set_new(def, "Method", json_string(k && k->method ? k->method : ""));
    json_object_set_new(def, "Body", json_string(k && k->body ? k->body : ""));
    json_object_set_new(def, "TLSServerName", json_string(""));
    json_object_set_new(def, "TLSSkipVerify", json_boolean(k && k->tls_skip_verify));
    json_object_set_new(def, "TCP", json_string(k && k->tcp ? k->tcp : ""));
    if (k && k->target) json_object_set_new(def, "Target", json_string(k->target));
    const hd_service_t *s = v->service ? &v->service->s : NULL;
    const char *sid = s ? s->id : k && k->service_id ? k->service_id : "";
    json_t *o = json_object();
    json_object_set_new(o, "Node", json_string(v->node));
    json_object_set_new(o, "CheckID", json_string(v->id));
    json_object_set_new(o, "Name", json_string(v->name ? v->name : v->id));
    json_object_set_new(o, "Status", json_string(hd_disco_status(v->status)));
    json_object_set_new(o, "Notes", json_string(v->notes ? v->notes : ""));
    json_t *out = json_string(v->output ? v->output : "");
    json_object_set_new(o, "Output", out ? out : json_string(""));
    json_object_set_new(o, "ServiceID", json_string(sid));
    json_object_set_new(o, "ServiceName", json_string(s ? s->name : ""));
    json_object_set_new(o, "ServiceTags", tags_json(s ? s->tags : NULL));
    json_object_set_new(o, "Type", json_string(k ? k->type : ""));
    json_object_set_new(o, "Namespace", json_string(v->tenant ? v->tenant : HD_TENANT_DEFAULT));
    json_object_set_new(o, "Definition", def);
    json_object_set_new(o, "CreateIndex", json_integer(v->create_rev));
    json_object_set_new(o, "ModifyIndex", json_integer(v->mod_rev));
    return o;
}

json_t *hd_disco_catalog_row(const hd_cat_node_t *n, const hd_cat_service_t *cs)
{
    const hd_service_t *s = &cs->s;
    json_t *o = json_object();
    json_object_set_new(o, "ID", json_string(n && n->n.id ? n->n.id : ""));
    json_object_set_new(o, "Node", json_string(s->node));
    json_object_set_new(o, "Address", json_string(n && n->n.address ? n->n.address : ""));
    json_object_set_new(o, "Datacenter", json_string(n && n->n.datacenter ? n->n.datacenter : ""));
    json_object_set_new(o, "TaggedAddresses", obj_or_empty(n ? n->n.tagged_addresses : NULL));
    json_object_set_new(o, "NodeMeta", obj_or_empty(n ? n->n.meta : NULL));
    json_object_set_new(o, "ServiceKind", json_string(s->kind ? s->kind : ""));
    json_object_set_new(o, "ServiceID", json_string(s->id));
    json_object_set_new(o, "ServiceName", json_string(s->name));
    json_object_set_new(o, "ServiceTags", tags_json(s->tags));
    json_object_set_new(o, "ServiceAddress", json_string(s->address ? s->address : ""));
    json_object_set_new(o, "ServiceTaggedAddresses", obj_or_empty(s->tagged_addresses));
    json_object_set_new(
        o, "ServiceWeights",
        json_pack("{s:i, s:i}", "Passing", s->weight_passing, "Warning", s->weight_warning));
    json_object_set_new(o, "ServiceMeta", obj_or_empty(s->meta));
    json_object_set_new(o, "ServicePort", json_integer(s->port));
    json_object_set_new(o, "ServiceEnableTagOverride", json_boolean(s->enable_tag_override));
    json_object_set_new(o, "Namespace", json_string(hd_tenant_name(s->tenant)));
    json_object_set_new(o, "CreateIndex", json_integer(cs->create_rev));
    json_object_set_new(o, "ModifyIndex", json_integer(cs->mod_rev));
    return o;
}
