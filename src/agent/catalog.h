/* catalog — the in-memory catalog of nodes, services and checks, fed by the
 * store's watch (the informer pattern): what every Consul read of the API
 * answers from, never from the agent's own structures, so that the same
 * code serves a cluster whose store other agents write too.
 *
 * Keys it follows (values are JSON):
 *   heed/nodes/<node>                       a node (agent/node.h)
 *   heed/services/<tenant>/<node>/<id>      a service instance (agent/service.h)
 *   heed/checks/<tenant>/<id>               a check of this agent's node: its definition
 *                                           (the config file's and the API's)
 *   heed/state/<tenant>/<id>                that check's state (status, output)
 *   heed/extchecks/<tenant>/<node>/<id>     a check of another node, registered through
 *                                           /v1/catalog/register: nothing runs it
 * Service ids are unique per tenant and node, as Consul's are per node;
 * check ids per tenant and node.
 *
 * Revisions. Every object keeps the revision that created it and the one
 * that last changed it (Consul's CreateIndex and ModifyIndex). What a
 * reply reads is covered by topics (util/topic.h) whose index is the
 * highest revision that changed anything they cover, deletions included
 * (a topic outlives its last object as a tombstone), so a blocking query
 * on service A sleeps through any change to service B:
 *   a service name (per tenant)   its instances, their checks, the node checks
 *                                 (of that tenant) and records of their nodes
 *   a node                        its record
 *   a tenant on a node            that tenant's services and checks there
 *   a tenant's services / checks  every service / check of the tenant (a check
 *                                 view names its service: services bump both)
 *   every tenant's services / checks, and the node list
 * An index is never 0 and never goes back: topics made after start begin
 * at the revision the catalog was loaded at (deletions from before are not
 * remembered), raised when tombstones are dropped.
 *
 * Read-your-writes: the store feeds caught-up watches a revision's events
 * before it answers the writes of that revision (store.h), so a write the
 * API answered is in the catalog for the next read.
 *
 * Visibility: a request sees the services and checks of its scope
 * (hd_scope_has, agent/tenant.h, the one rule of reach) and every node;
 * nothing here tells of another tenant's objects, indexes included.
 *
 * Checks the catalog makes (Consul's): serfHealth on an agent's node
 * (passing: on one node the agent that answers is alive),
 * _node_maintenance on a node in maintenance, and
 * _service_maintenance:<id> on a service in maintenance, both critical.
 *
 * Loop thread only. Pointers it hands out are valid until the loop runs
 * the store's next watch callback (a handler answers before returning, or
 * copies what it keeps); topics stay valid while anyone waits on them. */
#ifndef HD_CATALOG_H
#define HD_CATALOG_H

#include "agent/check.h"
#include "agent/node.h"
#include "agent/service.h"
#include "agent/tenant.h"
#include "util/topic.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct hd_store_s;

#define HD_CAT_KEY_NODES     "heed/nodes/"
#define HD_CAT_KEY_SERVICES  "heed/services/"
#define HD_CAT_KEY_EXTCHECKS "heed/extchecks/"

typedef struct hd_catalog_s hd_catalog_t;

typedef struct hd_cat_node_s {
    hd_node_t n;
    int64_t create_rev, mod_rev;
} hd_cat_node_t;

typedef struct hd_cat_service_s {
    hd_service_t s;
    int64_t create_rev, mod_rev;
} hd_cat_service_t;

/* A stored check, as the Consul routes show it: Consul's fields and its
 * Definition, credentials masked. */
typedef struct hd_cat_check_s {
    char *tenant; /* NULL: "default" */
    char *node, *id;
    char *name, *notes, *service_id, *output;
    hd_check_status_t status; /* maintenance: paused in heed */
    const char *type;         /* Consul's Type: "http", "tcp", "ttl", "script", heed's kind for
                                 others ("postgres", ...), "" for another node's */
    int64_t interval_us, timeout_us, ttl_us, dereg_us;
    char *http;     /* http(s): the URL as shown (password "***") */
    char *method;   /* http(s), or NULL */
    char **headers; /* http(s): "Name: value" lines as shown (credentials "***"), or NULL */
    char *body;     /* http(s), or NULL */
    char *tcp;      /* tcp: "host:port" */
    char *target;   /* heed's target as shown (any kind), or NULL for TTL and another node's */
    int tls_skip_verify;
    int external;    /* another node's, from /v1/catalog/register */
    int from_config; /* the agent's config file's (stored with "source": "config") */
    char *def_text;  /* the stored definition as stored (to compare before a rewrite) */
    int64_t create_rev, mod_rev;
    /* catalog.c's */
    int has_def, has_state;
    int64_t def_rev, state_rev;
    struct hd_cat_check_s *g_prev, *g_next; /* in its group: its service's, or its node's */
    struct cat_group_s *group;
} hd_cat_check_t;

enum {
    HD_CAT_MADE_NONE = 0,
    HD_CAT_MADE_SERF,         /* serfHealth */
    HD_CAT_MADE_NODE_MAINT,   /* _node_maintenance */
    HD_CAT_MADE_SERVICE_MAINT /* _service_maintenance:<id> */
};

/* A check as a reply shows it: a stored one (check set) or one the catalog
 * makes (check NULL, made set). */
typedef struct hd_cat_view_s {
    const hd_cat_check_t *check;
    const hd_cat_service_t *service; /* the service it belongs to, or NULL */
    int made;
    const char *node;
    const char *tenant; /* its tenant's name ("default" for node checks the catalog makes) */
    const char *id, *name, *notes, *output;
    hd_check_status_t status;
    int64_t create_rev, mod_rev;
    char made_id[HD_ID_MAX + 32];
} hd_cat_view_t;

typedef struct hd_cat_views_s {
    hd_cat_view_t *v;
    size_t n, cap;
} hd_cat_views_t;

/* Loads the catalog from store and follows its watch from then on:
 * runs base's loop until loaded (start-up, before anything serves).
 * local_node: this agent's node, whose checks are the heed/checks/ keys.
 * Returns 0, or -1 with a message in err. */
int hd_catalog_open(struct hd_store_s *store, struct event_base *base, const char *local_node,
                    hd_catalog_t **out, char *err, size_t errlen);
/* Ends the watches: the catalog stays readable, frozen (before the store
 * closes). */
void hd_catalog_stop(hd_catalog_t *c);
/* Ends the watches and frees everything; waiters still on its topics are
 * unregistered without running. NULL: nothing. */
void hd_catalog_free(hd_catalog_t *c);
/* The highest store revision applied. */
int64_t hd_catalog_revision(const hd_catalog_t *c);
/* This agent's node name. */
const char *hd_catalog_local_node(const hd_catalog_t *c);

/* ---- reads ---- */

/* The node named name, or NULL. */
const hd_cat_node_t *hd_catalog_node(const hd_catalog_t *c, const char *name);
/* Every node, by name, into *out (malloc'd; free it). Returns the count. */
size_t hd_catalog_nodes(const hd_catalog_t *c, const hd_cat_node_t ***out);
/* The service id of tenant on node within scope s, or NULL (also when
 * tenant is outside s). tenant NULL: "default". */
const hd_cat_service_t *hd_catalog_service(const hd_catalog_t *c, const hd_scope_t *s,
                                           const char *tenant, const char *node, const char *id);
/* The services s sees, named name (NULL: any) on node (NULL: any), by
 * tenant, node and id, into *out (malloc'd; free it). Returns the count. */
size_t hd_catalog_services(const hd_catalog_t *c, const hd_scope_t *s, const char *name,
                           const char *node, const hd_cat_service_t ***out);
/* The stored check id of tenant on node within s, or NULL. */
const hd_cat_check_t *hd_catalog_check(const hd_catalog_t *c, const hd_scope_t *s,
                                       const char *tenant, const char *node, const char *id);

/* Appends the node-level checks of node that s sees: serfHealth (an
 * agent's node, when serf), _node_maintenance, then the node checks of the
 * tenants in s, by id. */
void hd_catalog_node_checks(const hd_catalog_t *c, const hd_scope_t *s, const char *node, int serf,
                            hd_cat_views_t *out);
/* Appends svc's checks: its maintenance, then its own, by id. */
void hd_catalog_service_checks(const hd_catalog_t *c, const hd_cat_service_t *svc,
                               hd_cat_views_t *out);
/* Appends every check s sees on node (NULL: every node), node checks and
 * services' (with serf: serfHealth too), by node and id. */
void hd_catalog_checks(const hd_catalog_t *c, const hd_scope_t *s, const char *node, int serf,
                       hd_cat_views_t *out);
/* The worst status of views: passing < warning < critical < maintenance
 * (a paused check); passing for none. */
hd_check_status_t hd_cat_views_worst(const hd_cat_views_t *v);
/* Sorts views by node, then id. (Copy views only with the views_* and
 * hd_catalog_* functions: a made view's id points into itself.) */
void hd_cat_views_sort(hd_cat_views_t *v);
void hd_cat_views_free(hd_cat_views_t *v);

/* ---- topics (see the top) ---- */

/* The topic of service name in tenant (NULL: "default"). */
hd_topic_t *hd_catalog_topic_name(hd_catalog_t *c, const char *tenant, const char *name);
/* The topic of node's record. */
hd_topic_t *hd_catalog_topic_node(hd_catalog_t *c, const char *node);
/* The topic of tenant's services and checks on node. */
hd_topic_t *hd_catalog_topic_tenant_node(hd_catalog_t *c, const char *tenant, const char *node);
/* The topic of the services, or the checks, of the tenant s names (every
 * tenant's for a scope of every tenant). */
hd_topic_t *hd_catalog_topic_services(hd_catalog_t *c, const hd_scope_t *s);
hd_topic_t *hd_catalog_topic_checks(hd_catalog_t *c, const hd_scope_t *s);
/* The topic of the node list and every node's record. */
hd_topic_t *hd_catalog_topic_nodes(hd_catalog_t *c);

/* ---- writes ---- */

/* A write's end: status 0 or an HD_STORE_E* code, and its revision. When
 * it runs with 0 the catalog has applied the write (read-your-writes). */
typedef void (*hd_catalog_done_cb)(int status, int64_t rev, void *arg);
/* Stores node n under heed/nodes/<name>. */
int hd_catalog_node_put(hd_catalog_t *c, const hd_node_t *n, hd_catalog_done_cb cb, void *arg);
/* Stores service s under heed/services/<tenant>/<node>/<id>. */
int hd_catalog_service_put(hd_catalog_t *c, const hd_service_t *s, hd_catalog_done_cb cb,
                           void *arg);
/* Deletes that service (nothing when it is missing: cb still runs). */
int hd_catalog_service_delete(hd_catalog_t *c, const char *tenant, const char *node, const char *id,
                              hd_catalog_done_cb cb, void *arg);

/* A reply rendered from exactly what topic t (one of the catalog's)
 * covers, kept with t until its next bump: a read that would render the
 * same again serves the text instead (health of a service: rendering
 * Consul's shapes costs ~10x serving them). slot: which reply (0 ..
 * HD_CAT_MEMO_SLOTS - 1, the caller's). get returns the text (len bytes)
 * or NULL when none is valid; set takes text (malloc'd). A topic with a
 * memo is kept until what it covers changes: keep memos for what exists
 * (a service with instances), never for any name a client may ask. */
#define HD_CAT_MEMO_SLOTS 2
const char *hd_catalog_memo_get(hd_topic_t *t, int slot, size_t *len);
void hd_catalog_memo_set(hd_topic_t *t, int slot, char *text, size_t len);
/* Another node's entries, as /v1/catalog/register makes them, in one
 * transaction: the node n (NULL: kept as it is; it must exist then), the
 * service s (NULL: none) and nchecks checks (stored forms: objects with
 * CheckID, Name, Status, Notes, Output, ServiceID, Definition) of tenant
 * on node. Nothing runs those checks. HD_STORE_ETOOMANY past
 * HD_CAT_REGISTER_CHECKS_MAX checks. */
#define HD_CAT_REGISTER_CHECKS_MAX 64
int hd_catalog_register(hd_catalog_t *c, const char *node, const hd_node_t *n, const char *tenant,
                        const hd_service_t *s, json_t *const *checks, size_t nchecks,
                        hd_catalog_done_cb cb, void *arg);
/* Removes, in one transaction, tenant's service_id on node (with its
 * checks), or its check check_id, or (both NULL) all of tenant's services
 * and checks on node, and the node itself when no other tenant has any
 * there. Nothing to remove is no error. */
int hd_catalog_deregister(hd_catalog_t *c, const char *node, const char *tenant,
                          const char *service_id, const char *check_id, hd_catalog_done_cb cb,
                          void *arg);

/* A reader is done with t without waiting on it: a topic made only for
 * it (nothing changed there since start) is freed. */
void hd_catalog_topic_done(hd_catalog_t *c, hd_topic_t *t);

/* Counters for tests and metrics: topics kept (tombstones included), and
 * bumps since start. */
size_t hd_catalog_topics(const hd_catalog_t *c);
uint64_t hd_catalog_bumps(const hd_catalog_t *c);

#endif
