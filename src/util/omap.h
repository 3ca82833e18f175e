/* omap — an ordered map of byte-string keys to pointers: a skip list, for
 * what must be read in key order from a point on (the KV cache answers
 * "every key under this prefix" with a seek and a walk). Keys are copied;
 * values stay the caller's. Expected O(log n) for get, put, delete and
 * seek; the walk from a node to the next is O(1).
 *
 * Keys compare as bytes (memcmp, then the shorter first), so a prefix's
 * keys are contiguous and start at the seek of the prefix itself. The
 * level of a new node comes from a generator seeded at init: the shape
 * depends on nothing outside the map, and nothing here is a secret. */
#ifndef HD_OMAP_H
#define HD_OMAP_H

#include <stddef.h>
#include <stdint.h>

#define HD_OMAP_LEVELS 24 /* enough for 2^24 keys at p = 1/2 with room */

typedef struct hd_omap_node_s {
    void *val;
    size_t len; /* key bytes */
    char *key;  /* NUL-terminated copy (the NUL not counted), after next[] */
    int level;
    struct hd_omap_node_s *next[]; /* level pointers */
} hd_omap_node_t;

typedef struct hd_omap_s {
    hd_omap_node_t *head; /* a sentinel with HD_OMAP_LEVELS pointers */
    int level;            /* levels in use */
    size_t n;
    uint64_t rng;
} hd_omap_t;

/* An empty map. */
void hd_omap_init(hd_omap_t *m);
/* Frees the nodes and keys (not the values). */
void hd_omap_free(hd_omap_t *m);
/* The node of key, or NULL. */
hd_omap_node_t *hd_omap_find(const hd_omap_t *m, const char *key, size_t len);
/* Sets key to val. Returns the node, new or existing; *old (if not NULL)
 * gets the previous value, NULL for a new key. */
hd_omap_node_t *hd_omap_put(hd_omap_t *m, const char *key, size_t len, void *val, void **old);
/* Removes key; returns its value, or NULL when it was absent. */
void *hd_omap_del(hd_omap_t *m, const char *key, size_t len);
/* The first node whose key is >= key (key order), or NULL. */
hd_omap_node_t *hd_omap_seek(const hd_omap_t *m, const char *key, size_t len);
/* The first node, or NULL for an empty map. */
hd_omap_node_t *hd_omap_first(const hd_omap_t *m);
/* The node after n in key order, or NULL. The map may change between
 * calls except by deleting n itself (take the next one first). */
static inline hd_omap_node_t *hd_omap_next(const hd_omap_node_t *n)
{
    return n->next[0];
}
/* 1 when the node's key starts with prefix[0..len). */
int hd_omap_has_prefix(const hd_omap_node_t *n, const char *prefix, size_t len);

#endif
