/* map — a string-keyed hash map of pointers (open addressing, linear
 * probing, tombstones), for checks by id and similar small registries. The
 * map copies keys; values stay the caller's. */
#ifndef HD_MAP_H
#define HD_MAP_H

#include <stddef.h>

typedef struct hd_map_slot_s {
    char *key; /* NULL: empty; HD_MAP_TOMBSTONE: deleted */
    void *val;
} hd_map_slot_t;

typedef struct hd_map_s {
    hd_map_slot_t *slots;
    size_t cap;  /* a power of two, or 0 */
    size_t n;    /* live entries */
    size_t used; /* live entries plus tombstones */
} hd_map_t;

/* Initialises an empty map. */
void hd_map_init(hd_map_t *m);
/* Frees the map's memory (not the values). */
void hd_map_free(hd_map_t *m);
/* The value for key, or NULL. */
void *hd_map_get(const hd_map_t *m, const char *key);
/* Sets key to val (val must not be NULL); returns the previous value or NULL. */
void *hd_map_put(hd_map_t *m, const char *key, void *val);
/* Removes key; returns its value or NULL. */
void *hd_map_del(hd_map_t *m, const char *key);
/* Iterates: start with *pos = 0; returns the next live slot or NULL. The map
 * may not change during a walk, except by deleting the slot just returned. */
hd_map_slot_t *hd_map_next(const hd_map_t *m, size_t *pos);

#endif
