/* service — one service instance of the catalog: what Consul calls a
 * service registration (ID, Service, Tags, Address, Port, Meta, ...), and
 * the form the store keeps it in under heed/services/<tenant>/<node>/<id>.
 *
 * The stored value is Consul's shape (the same field names), plus heed's
 * Source (where it came from) and Maintenance (the reason of a service in
 * maintenance, or absent). The tenant and the node are the key's, never
 * the value's. Pure: no I/O. */
#ifndef HD_SERVICE_H
#define HD_SERVICE_H

#include <jansson.h>
#include <stddef.h>

#define HD_SERVICE_TAGS_MAX 64 /* tags per service */
#define HD_SERVICE_META_MAX 64 /* meta pairs per service (Consul's limit) */

typedef enum hd_service_source_e {
    HD_SOURCE_API = 0, /* /v1/agent/service/register */
    HD_SOURCE_CONFIG,  /* the config file: changed there only */
    HD_SOURCE_CATALOG, /* /v1/catalog/register: another node's, nothing runs its checks */
} hd_service_source_t;

typedef struct hd_service_s {
    char *id;                 /* unique per tenant and node */
    char *name;               /* Consul's "Service" */
    char *tenant;             /* NULL: "default" */
    char *node;               /* the node it runs on */
    char *address;            /* NULL: the node's */
    int port;                 /* 0: none */
    char **tags;              /* NULL-terminated, may be NULL */
    json_t *meta;             /* object of strings, or NULL; owned */
    json_t *tagged_addresses; /* object of {"Address","Port"}, or NULL; owned */
    char *kind;               /* Consul's Kind; NULL: a typical service */
    int enable_tag_override;
    int weight_passing, weight_warning; /* Weights; 1 and 1 by default */
    hd_service_source_t source;
    int maint;          /* in maintenance */
    char *maint_reason; /* its reason, or NULL for Consul's default words */
} hd_service_t;

/* Frees what s holds and empties it. */
void hd_service_free(hd_service_t *s);
/* A deep copy of src into dst. */
void hd_service_copy(hd_service_t *dst, const hd_service_t *src);
/* 1 when a and b define the same service (maintenance included), else 0. */
int hd_service_equal(const hd_service_t *a, const hd_service_t *b);
/* The stored form: Consul's fields, Source, Maintenance. */
json_t *hd_service_to_json(const hd_service_t *s);
/* Reads a stored form (tenant and node from its key; NULL tenant:
 * "default"). Returns 0, or -1 with what is wrong in err and out empty. */
int hd_service_from_json(const json_t *o, const char *tenant, const char *node, hd_service_t *out,
                         char *err, size_t errlen);
/* "api", "config", "catalog". */
const char *hd_service_source_str(hd_service_source_t s);

#endif
