/* catalog_impl — the catalog's insides, shared by catalog.c (the cache:
 * loading, the watch, topics, reads), catalog_view.c (check views) and
 * catalog_write.c (the writes of its keys). Nothing else includes it. */
#ifndef HD_CATALOG_IMPL_H
#define HD_CATALOG_IMPL_H

#include "agent/catalog.h"
#include "store/store.h"
#include "util/map.h"

#include <stdint.h>

#define HD_CAT_KEY_CHECKS "heed/checks/" /* this agent's check definitions (agent_impl.h's) */
#define HD_CAT_KEY_STATE  "heed/state/"  /* and their states */

enum { W_NODES, W_SERVICES, W_CHECKS, W_STATE, W_EXT, W__COUNT };

typedef struct cat_topic_s {
    hd_topic_t t;
    hd_catalog_t *c;
    char *key;
    int kept;         /* bumped since start: a tombstone, never freed */
    int pending;      /* in the batch's bump list */
    int64_t pend_rev; /* ...at the highest revision of the batch that touched it */
    /* Replies rendered from what the topic covers (hd_catalog_memo_*),
     * dropped when it is marked. */
    char *memo[HD_CAT_MEMO_SLOTS];
    size_t memo_len[HD_CAT_MEMO_SLOTS];
} cat_topic_t;

/* The checks of one service ("tenant/node/service-id"), or the node checks
 * of one tenant on one node ("tenant/node/"). */
typedef struct cat_group_s {
    char *key;
    hd_cat_check_t *head;
} cat_group_t;

/* The services on one node (every tenant's): whose health a node check
 * or the node's record is part of. */
typedef struct cat_onnode_s {
    hd_cat_service_t **v;
    size_t n, cap;
} cat_onnode_t;

/* The load of one prefix. */
typedef struct watch_s {
    hd_catalog_t *c;
    int which;
    int64_t loaded_rev; /* the revision its range was read at: older events are in it */
} watch_t;

struct hd_catalog_s {
    hd_store_t *store;
    struct event_base *base;
    char *local;
    int64_t rev, load_rev;
    hd_map_t nodes;    /* name -> hd_cat_node_t */
    hd_map_t services; /* "tenant/node/id" -> hd_cat_service_t */
    hd_map_t checks;   /* "tenant/node/id" -> hd_cat_check_t */
    hd_map_t groups;   /* see cat_group_t */
    hd_map_t onnode;   /* node -> cat_onnode_t */
    hd_map_t byname;   /* "tenant/name" -> cat_onnode_t: a name's instances */
    hd_map_t topics;   /* see the top */
    watch_t watches[W__COUNT];
    hd_store_watch_t *watch; /* of heed/: every prefix's changes, a revision at a time */
    cat_topic_t **bump;      /* this batch's topics to bump */
    size_t nbump, capbump;   /* ... */
    uint64_t bumps;
    int64_t cur_rev;       /* the revision of the event being applied */
    int64_t floor;         /* a new topic's index: the load's revision, or a dropped tombstone's */
    size_t tombstones_max; /* topics kept before those nobody waits on are dropped (tests
                              lower it) */
    int loading, load_status;
    char load_err[256];
};

#endif
