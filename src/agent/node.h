/* node — one node of the catalog, as Consul shows it (Node, ID, Address,
 * Datacenter, TaggedAddresses, Meta), and the form the store keeps it in
 * under heed/nodes/<name>. An agent's own node is marked Agent: it has the
 * serfHealth check, which passes while its agent runs (always, on a single
 * node; cluster mode derives it from the agent's lease). A node registered
 * through /v1/catalog/register (a database that runs no agent) is not.
 * Maintenance holds the reason of a node in maintenance. Nodes belong to
 * no tenant: every tenant sees them, never another tenant's services or
 * checks on them. Pure: no I/O. */
#ifndef HD_NODE_H
#define HD_NODE_H

#include <jansson.h>
#include <stddef.h>

#define HD_NODE_NAME_MAX 128

typedef struct hd_node_s {
    char *name;
    char *id;                 /* a UUID, made once per node; "" for a node registered without one */
    char *address;            /* "" when none given */
    char *datacenter;         /* the datacenter it was registered in */
    json_t *meta;             /* object of strings, or NULL; owned */
    json_t *tagged_addresses; /* object of strings, or NULL; owned */
    int agent;                /* an agent's own node: it has serfHealth */
    int maint;                /* in maintenance (Consul's _node_maintenance check) */
    char *maint_reason;       /* its reason, or NULL for Consul's default words */
} hd_node_t;

void hd_node_free(hd_node_t *n);
void hd_node_copy(hd_node_t *dst, const hd_node_t *src);
int hd_node_equal(const hd_node_t *a, const hd_node_t *b);
/* The stored form: Consul's fields, Agent, Maintenance. */
json_t *hd_node_to_json(const hd_node_t *n);
/* Reads a stored form (the name from its key). Returns 0, or -1 with what
 * is wrong in err and out empty. */
int hd_node_from_json(const json_t *o, const char *name, hd_node_t *out, char *err, size_t errlen);
/* 1 when s (len bytes) is a node name: 1 to HD_NODE_NAME_MAX letters,
 * digits and . _ - : @ (as the config's node; no '/': it is part of
 * keys), else 0. */
int hd_node_name_valid(const char *s, size_t len);
/* Writes a random version 4 UUID ("8-4-4-4-12" hex) into out (37 bytes). */
void hd_node_uuid(char out[37]);

#endif
