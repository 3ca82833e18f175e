/* heap — an intrusive binary min-heap of deadlines.
 *
 * Items embed an hd_heap_node_t and are ordered by its key (a monotonic
 * time in microseconds); each node remembers its slot, so an item can leave
 * the heap from anywhere in O(log n). The heap owns only its array of
 * pointers: memory grows with the items in it, never with anything else. */
#ifndef HD_HEAP_H
#define HD_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hd_heap_node_s {
    int64_t key;
    size_t idx; /* slot + 1 while in a heap; 0 when not */
} hd_heap_node_t;

typedef struct hd_heap_s {
    hd_heap_node_t **v;
    size_t n, cap;
} hd_heap_t;

/* Adds node with key; the node must not be in a heap already. */
void hd_heap_push(hd_heap_t *h, hd_heap_node_t *node, int64_t key);
/* The node with the smallest key, or NULL when the heap is empty. */
hd_heap_node_t *hd_heap_top(const hd_heap_t *h);
/* Removes and returns the smallest node, or NULL when empty. */
hd_heap_node_t *hd_heap_pop(hd_heap_t *h);
/* Removes node wherever it is; a node not in the heap is left alone. */
void hd_heap_remove(hd_heap_t *h, hd_heap_node_t *node);
/* Frees the array; the nodes belong to the caller. */
void hd_heap_free(hd_heap_t *h);

#endif
