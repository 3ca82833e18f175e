/* node — catalog nodes and their stored form (see node.h). */
#include "agent/node.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void hd_node_free(hd_node_t *n)
{
    if (!n) return;
    free(n->name);
    free(n->id);
    free(n->address);
    free(n->datacenter);
    json_decref(n->meta);
    json_decref(n->tagged_addresses);
    free(n->maint_reason);
    memset(n, 0, sizeof(*n));
}

static char *dup_or_null(const char *s)
{
    return s ? hd_xstrdup(s) : NULL;
}

void hd_node_copy(hd_node_t *dst, const hd_node_t *src)
{
    *dst = *src;
    dst->name = dup_or_null(src->name);
    dst->id = dup_or_null(src->id);
    dst->address = dup_or_null(src->address);
    dst->datacenter = dup_or_null(src->datacenter);
    dst->meta = src->meta ? json_deep_copy(src->meta) : NULL;
    dst->tagged_addresses = src->tagged_addresses ? json_deep_copy(src->tagged_addresses) : NULL;
    dst->maint_reason = dup_or_null(src->maint_reason);
}

static int str_eq(const char *a, const char *b)
{
    return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

/* NULL and an empty object are the same. */
static int obj_eq(const json_t *a, const json_t *b)
{
    if (!a || !json_object_size(a)) return !b || !json_object_size(b);
    return b && json_equal((json_t *)a, (json_t *)b);
}

int hd_node_equal(const hd_node_t *a, const hd_node_t *b)
{
    return str_eq(a->name, b->name) && str_eq(a->id, b->id) && str_eq(a->address, b->address) &&
           str_eq(a->datacenter, b->datacenter) && obj_eq(a->meta, b->meta) &&
           obj_eq(a->tagged_addresses, b->tagged_addresses) && a->agent == b->agent &&
           a->maint == b->maint && str_eq(a->maint_reason, b->maint_reason);
}

json_t *hd_node_to_json(const hd_node_t *n)
{
    json_t *o = json_object();
    json_object_set_new(o, "Node", json_string(n->name));
    json_object_set_new(o, "ID", json_string(n->id ? n->id : ""));
    json_object_set_new(o, "Address", json_string(n->address ? n->address : ""));
    json_object_set_new(o, "Datacenter", json_string(n->datacenter ? n->datacenter : ""));
    json_object_set_new(o, "TaggedAddresses",
                        n->tagged_addresses ? json_deep_copy(n->tagged_addresses) : json_object());
    json_object_set_new(o, "Meta", n->meta ? json_deep_copy(n->meta) : json_object());
    json_object_set_new(o, "Agent", json_boolean(n->agent));
    if (n->maint)
        json_object_set_new(o, "Maintenance",
                            n->maint_reason ? json_string(n->maint_reason) : json_string(""));
    return o;
}

/* An object whose values are all strings (Meta, a node's TaggedAddresses). */
static int strings_object(const json_t *v)
{
    const char *k;
    json_t *x;
    if (!json_is_object(v)) return 0;
    json_object_foreach((json_t *)v, k, x) if (!json_is_string(x)) return 0;
    return 1;
}

int hd_node_from_json(const json_t *o, const char *name, hd_node_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *id = "", *addr = "", *dc = "";
    json_t *meta = NULL, *tagged = NULL, *maint = NULL;
    int agent = 0;
    if (json_unpack((json_t *)o, "{s?s, s?s, s?s, s?o, s?o, s?b, s?o}", "ID", &id, "Address", &addr,
                    "Datacenter", &dc, "Meta", &meta, "TaggedAddresses", &tagged, "Agent", &agent,
                    "Maintenance", &maint) < 0 ||
        (meta && !strings_object(meta)) || (tagged && !strings_object(tagged)) ||
        (maint && !json_is_string(maint))) {
        snprintf(err, errlen, "not a stored node");
        return -1;
    }
    out->name = hd_xstrdup(name);
    out->id = hd_xstrdup(id);
    out->address = hd_xstrdup(addr);
    out->datacenter = hd_xstrdup(dc);
    out->meta = meta && json_object_size(meta) ? json_deep_copy(meta) : NULL;
    out->tagged_addresses = tagged && json_object_size(tagged) ? json_deep_copy(tagged) : NULL;
    out->agent = agent;
    if (maint) {
        out->maint = 1;
        const char *r = json_string_value(maint);
        out->maint_reason = *r ? hd_xstrdup(r) : NULL;
    }
    return 0;
}

int hd_node_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > HD_NODE_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':' || c == '@'))
            return 0;
    }
    return 1;
}

void hd_node_uuid(char out[37])
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof(b)) { /* no /dev/urandom: unique enough for a node id */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^
                               ((unsigned long long)ts.tv_sec << 20) ^
                               (unsigned long long)getpid() << 40;
        for (size_t i = 0; i < sizeof(b);
             i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
            b[i] = (unsigned char)(x >> 56);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}
