/* service — catalog service instances and their stored form (see
 * service.h). */
#include "agent/service.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources[] = {
    [HD_SOURCE_API] = "api", [HD_SOURCE_CONFIG] = "config", [HD_SOURCE_CATALOG] = "catalog"};

const char *hd_service_source_str(hd_service_source_t s)
{
    return (unsigned)s < sizeof(sources) / sizeof(sources[0]) ? sources[s] : "api";
}

static void list_free(char **l)
{
    for (char **p = l; p && *p; p++)
        free(*p);
    free(l);
}

void hd_service_free(hd_service_t *s)
{
    if (!s) return;
    free(s->id);
    free(s->name);
    free(s->tenant);
    free(s->node);
    free(s->address);
    list_free(s->tags);
    json_decref(s->meta);
    json_decref(s->tagged_addresses);
    free(s->kind);
    free(s->maint_reason);
    memset(s, 0, sizeof(*s));
}

static char *dup_or_null(const char *s)
{
    return s ? hd_xstrdup(s) : NULL;
}

void hd_service_copy(hd_service_t *dst, const hd_service_t *src)
{
    *dst = *src;
    dst->id = dup_or_null(src->id);
    dst->name = dup_or_null(src->name);
    dst->tenant = dup_or_null(src->tenant);
    dst->node = dup_or_null(src->node);
    dst->address = dup_or_null(src->address);
    dst->tags = NULL;
    if (src->tags) {
        size_t n = 0;
        while (src->tags[n])
            n++;
        dst->tags = hd_xcalloc(n + 1, sizeof(*dst->tags));
        for (size_t i = 0; i < n; i++)
            dst->tags[i] = hd_xstrdup(src->tags[i]);
    }
    dst->meta = src->meta ? json_deep_copy(src->meta) : NULL;
    dst->tagged_addresses = src->tagged_addresses ? json_deep_copy(src->tagged_addresses) : NULL;
    dst->kind = dup_or_null(src->kind);
    dst->maint_reason = dup_or_null(src->maint_reason);
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !*a) return !b || !*b;
    return b && strcmp(a, b) == 0;
}

static int obj_eq(const json_t *a, const json_t *b)
{
    if (!a || !json_object_size(a)) return !b || !json_object_size(b);
    return b && json_equal((json_t *)a, (json_t *)b);
}

static int tags_eq(char **a, char **b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    return !(a && a[i]) && !(b && b[i]);
}

int hd_service_equal(const hd_service_t *a, const hd_service_t *b)
{
    return str_eq(a->id, b->id) && str_eq(a->name, b->name) && str_eq(a->address, b->address) &&
           a->port == b->port && tags_eq(a->tags, b->tags) && obj_eq(a->meta, b->meta) &&
           obj_eq(a->tagged_addresses, b->tagged_addresses) && str_eq(a->kind, b->kind) &&
           a->enable_tag_override == b->enable_tag_override &&
           a->weight_passing == b->weight_passing && a->weight_warning == b->weight_warning &&
           a->source == b->source && a->maint == b->maint &&
           str_eq(a->maint_reason, b->maint_reason);
}

json_t *hd_service_to_json(const hd_service_t *s)
{
    json_t *o = json_object(), *tags = json_array();
    for (char **t = s->tags; t && *t; t++)
        json_array_append_new(tags, json_string(*t));
    json_object_set_new(o, "ID", json_string(s->id));
    json_object_set_new(o, "Service", json_string(s->name));
    json_object_set_new(o, "Tags", tags);
    json_object_set_new(o, "Address", json_string(s->address ? s->address : ""));
    json_object_set_new(o, "Port", json_integer(s->port));
    json_object_set_new(o, "Meta", s->meta ? json_deep_copy(s->meta) : json_object());
    json_object_set_new(o, "TaggedAddresses",
                        s->tagged_addresses ? json_deep_copy(s->tagged_addresses) : json_object());
    json_object_set_new(o, "Kind", json_string(s->kind ? s->kind : ""));
    json_object_set_new(o, "EnableTagOverride", json_boolean(s->enable_tag_override));
    json_object_set_new(
        o, "Weights",
        json_pack("{s:i, s:i}", "Passing", s->weight_passing, "Warning", s->weight_warning));
    json_object_set_new(o, "Source", json_string(hd_service_source_str(s->source)));
    if (s->maint)
        json_object_set_new(o, "Maintenance", json_string(s->maint_reason ? s->maint_reason : ""));
    return o;
}

int hd_service_from_json(const json_t *o, const char *tenant, const char *node, hd_service_t *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *id, *name, *addr = "", *kind = "", *source = "api";
    json_t *tags = NULL, *meta = NULL, *tagged = NULL, *maint = NULL;
    int port = 0, eto = 0, wp = 1, ww = 1;
    if (json_unpack(
            (json_t *)o, "{s:s, s:s, s?o, s?s, s?i, s?o, s?o, s?s, s?b, s?{s?i, s?i}, s?s, s?o}",
            "ID", &id, "Service", &name, "Tags", &tags, "Address", &addr, "Port", &port, "Meta",
            &meta, "TaggedAddresses", &tagged, "Kind", &kind, "EnableTagOverride", &eto, "Weights",
            "Passing", &wp, "Warning", &ww, "Source", &source, "Maintenance", &maint) < 0 ||
        (tags && !json_is_array(tags)) || (meta && !json_is_object(meta)) ||
        (tagged && !json_is_object(tagged)) || (maint && !json_is_string(maint))) {
        snprintf(err, errlen, "not a stored service");
        return -1;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (!json_is_string(t))
    {
        snprintf(err, errlen, "not a stored service: a tag is not a string");
        return -1;
    }
    out->id = hd_xstrdup(id);
    out->name = hd_xstrdup(name);
    out->tenant = tenant ? hd_xstrdup(tenant) : NULL;
    out->node = hd_xstrdup(node);
    out->address = *addr ? hd_xstrdup(addr) : NULL;
    out->port = port;
    if (json_array_size(tags)) {
        out->tags = hd_xcalloc(json_array_size(tags) + 1, sizeof(*out->tags));
        json_array_foreach(tags, i, t) out->tags[i] = hd_xstrdup(json_string_value(t));
    }
    out->meta = meta && json_object_size(meta) ? json_deep_copy(meta) : NULL;
    out->tagged_addresses = tagged && json_object_size(tagged) ? json_deep_copy(tagged) : NULL;
    out->kind = *kind ? hd_xstrdup(kind) : NULL;
    out->enable_tag_override = eto;
    out->weight_passing = wp;
    out->weight_warning = ww;
    out->source = !strcmp(source, "config")    ? HD_SOURCE_CONFIG
                  : !strcmp(source, "catalog") ? HD_SOURCE_CATALOG
                                               : HD_SOURCE_API;
    if (maint) {
        out->maint = 1;
        const char *r = json_string_value(maint);
        out->maint_reason = *r ? hd_xstrdup(r) : NULL;
    }
    return 0;
}
