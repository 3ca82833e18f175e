/* omap — an ordered map as a skip list (see omap.h). A node is one
 * allocation: the node, its level pointers, then its key. */
#include "util/omap.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static int cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static hd_omap_node_t *node_new(int level, const char *key, size_t len)
{
    size_t ptrs = (size_t)level * sizeof(hd_omap_node_t *);
    hd_omap_node_t *n = hd_xcalloc(1, sizeof(*n) + ptrs + len + 1);
    n->level = level;
    n->key = (char *)n + sizeof(*n) + ptrs;
    if (len) memcpy(n->key, key, len);
    n->key[len] = '\0';
    n->len = len;
    return n;
}

/* A level from 1 to HD_OMAP_LEVELS, each next one half as likely
 * (xorshift64*: fast, and its bits are good enough for a coin). */
static int random_level(hd_omap_t *m)
{
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    uint64_t r = m->rng * 0x2545F4914F6CDD1DULL;
    int level = 1;
    while (level < HD_OMAP_LEVELS && (r & 1)) {
        level++;
        r >>= 1;
    }
    return level;
}

void hd_omap_init(hd_omap_t *m)
{
    m->head = node_new(HD_OMAP_LEVELS, "", 0);
    m->level = 1;
    m->n = 0;
    m->rng = 0x9E3779B97F4A7C15ULL;
}

void hd_omap_free(hd_omap_t *m)
{
    if (!m->head) return;
    hd_omap_node_t *n = m->head->next[0];
    while (n) {
        hd_omap_node_t *next = n->next[0];
        free(n);
        n = next;
    }
    free(m->head);
    m->head = NULL;
    m->n = 0;
}

/* Fills update[i] with the last node at level i whose key is < key;
 * returns the node after update[0] (the first >= key), or NULL. */
static hd_omap_node_t *descend(const hd_omap_t *m, const char *key, size_t len,
                               hd_omap_node_t **update)
{
    hd_omap_node_t *x = m->head;
    for (int i = m->level - 1; i >= 0; i--) {
        while (x->next[i] && cmp(x->next[i]->key, x->next[i]->len, key, len) < 0)
            x = x->next[i];
        if (update) update[i] = x;
    }
    return x->next[0];
}

hd_omap_node_t *hd_omap_seek(const hd_omap_t *m, const char *key, size_t len)
{
    return descend(m, key, len, NULL);
}

hd_omap_node_t *hd_omap_find(const hd_omap_t *m, const char *key, size_t len)
{
    hd_omap_node_t *n = descend(m, key, len, NULL);
    return n && n->len == len && memcmp(n->key, key, len) == 0 ? n : NULL;
}

hd_omap_node_t *hd_omap_first(const hd_omap_t *m)
{
    return m->head->next[0];
}

hd_omap_node_t *hd_omap_put(hd_omap_t *m, const char *key, size_t len, void *val, void **old)
{
    hd_omap_node_t *update[HD_OMAP_LEVELS];
    hd_omap_node_t *n = descend(m, key, len, update);
    if (n && n->len == len && memcmp(n->key, key, len) == 0) {
        if (old) *old = n->val;
        n->val = val;
        return n;
    }
    if (old) *old = NULL;
    int level = random_level(m);
    for (int i = m->level; i < level; i++)
        update[i] = m->head;
    if (level > m->level) m->level = level;
    n = node_new(level, key, len);
    n->val = val;
    for (int i = 0; i < level; i++) {
        n->next[i] = update[i]->next[i];
        update[i]->next[i] = n;
    }
    m->n++;
    return n;
}

void *hd_omap_del(hd_omap_t *m, const char *key, size_t len)
{
    hd_omap_node_t *update[HD_OMAP_LEVELS];
    hd_omap_node_t *n = descend(m, key, len, update);
    if (!n || n->len != len || memcmp(n->key, key, len) != 0) return NULL;
    for (int i = 0; i < n->level; i++)
        update[i]->next[i] = n->next[i];
    while (m->level > 1 && !m->head->next[m->level - 1])
        m->level--;
    void *val = n->val;
    free(n);
    m->n--;
    return val;
}

int hd_omap_has_prefix(const hd_omap_node_t *n, const char *prefix, size_t len)
{
    return n->len >= len && memcmp(n->key, prefix, len) == 0;
}
