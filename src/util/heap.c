/* heap — array-backed binary min-heap; see heap.h. */
#include "util/heap.h"
#include "util/mem.h"

#include <stdlib.h>

static void place(hd_heap_t *h, size_t i, hd_heap_node_t *n)
{
    h->v[i] = n;
    n->idx = i + 1;
}

static void sift_up(hd_heap_t *h, size_t i)
{
    hd_heap_node_t *n = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->key <= n->key) break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(hd_heap_t *h, size_t i)
{
    hd_heap_node_t *n = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1]->key < h->v[c]->key) c++;
        if (n->key <= h->v[c]->key) break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, n);
}

void hd_heap_push(hd_heap_t *h, hd_heap_node_t *node, int64_t key)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = hd_xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    node->key = key;
    h->v[h->n] = node;
    sift_up(h, h->n++);
}

hd_heap_node_t *hd_heap_top(const hd_heap_t *h)
{
    return h->n ? h->v[0] : NULL;
}

void hd_heap_remove(hd_heap_t *h, hd_heap_node_t *node)
{
    if (!node->idx || node->idx > h->n || h->v[node->idx - 1] != node) return;
    size_t i = node->idx - 1;
    node->idx = 0;
    h->n--;
    if (i == h->n) return;
    hd_heap_node_t *last = h->v[h->n];
    place(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->key > last->key)
        sift_up(h, i);
    else
        sift_down(h, i);
}

hd_heap_node_t *hd_heap_pop(hd_heap_t *h)
{
    hd_heap_node_t *top = hd_heap_top(h);
    if (top) hd_heap_remove(h, top);
    return top;
}

void hd_heap_free(hd_heap_t *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
