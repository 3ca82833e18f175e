/* map — string-keyed open-addressing hash map (see map.h). */
#include "util/map.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tombstone;
#define TOMB (&tombstone)

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void hd_map_init(hd_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void hd_map_free(hd_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB) free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* The slot holding key, or NULL. */
static hd_map_slot_t *find(const hd_map_t *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask, k = 0; k < m->cap; i = (i + 1) & mask, k++) {
        hd_map_slot_t *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != TOMB && strcmp(s->key, key) == 0) return s;
    }
    return NULL;
}

static void grow(hd_map_t *m)
{
    size_t cap = m->cap ? m->cap : 16;
    while ((m->n + 1) * 4 >= cap * 3) /* keep the load under 3/4, tombstones dropped */
        cap *= 2;
    hd_map_slot_t *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = hd_xcalloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->used = m->n;
    for (size_t j = 0; j < oldcap; j++) {
        if (!old[j].key || old[j].key == TOMB) continue;
        size_t i = hash(old[j].key) & (cap - 1);
        while (m->slots[i].key)
            i = (i + 1) & (cap - 1);
        m->slots[i] = old[j];
    }
    free(old);
}

void *hd_map_get(const hd_map_t *m, const char *key)
{
    hd_map_slot_t *s = find(m, key);
    return s ? s->val : NULL;
}

void *hd_map_put(hd_map_t *m, const char *key, void *val)
{
    hd_map_slot_t *s = find(m, key);
    if (s) {
        void *prev = s->val;
        s->val = val;
        return prev;
    }
    if ((m->used + 1) * 4 >= m->cap * 3) grow(m);
    size_t mask = m->cap - 1, i = hash(key) & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i].key = hd_xstrdup(key);
    m->slots[i].val = val;
    m->n++;
    return NULL;
}

void *hd_map_del(hd_map_t *m, const char *key)
{
    hd_map_slot_t *s = find(m, key);
    if (!s) return NULL;
    void *val = s->val;
    free(s->key);
    s->key = TOMB;
    s->val = NULL;
    m->n--;
    return val;
}

hd_map_slot_t *hd_map_next(const hd_map_t *m, size_t *pos)
{
    for (; *pos < m->cap; (*pos)++) {
        hd_map_slot_t *s = &m->slots[*pos];
        if (s->key && s->key != TOMB) {
            (*pos)++;
            return s;
        }
    }
    return NULL;
}
