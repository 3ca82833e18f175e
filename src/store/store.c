/* store — what every backend shares: the error table and the checks of a
 * request's input, done once before any backend sees it. The backends
 * themselves live in sqlite.c (and later etcd.c). */
#include "store/store.h"
#include "store/store_impl.h"

#include <string.h>

static const char *const messages[HD_STORE_E__COUNT] = {
    [0] = "ok",
    [-HD_STORE_EINVAL] = "invalid argument",
    [-HD_STORE_EKEY] = "key is empty or longer than 1024 bytes",
    [-HD_STORE_ETOOBIG] = "value is larger than 513 KiB",
    [-HD_STORE_ETOOMANY] = "more than 128 compares or operations in one transaction",
    [-HD_STORE_EDUPKEY] = "a transaction writes the same key twice",
    [-HD_STORE_ENOTFOUND] = "key not found",
    [-HD_STORE_ECONFLICT] = "compare failed: nothing was written",
    [-HD_STORE_ENOLEASE] = "lease not found (never granted, revoked or expired)",
    [-HD_STORE_ECOMPACTED] = "revision compacted: the events asked for are no longer kept",
    [-HD_STORE_EFUTURE] = "revision not committed yet",
    [-HD_STORE_EIO] = "disk I/O error: the write did not happen",
    [-HD_STORE_EFULL] = "disk full: the write did not happen",
    [-HD_STORE_ECORRUPT] = "not a heed store, or damaged",
    [-HD_STORE_ENEWER] = "written by a newer heed (unknown schema version)",
    [-HD_STORE_EOPEN] = "cannot open or create the store file",
    [-HD_STORE_EBUSY] = "store locked by another process",
    [-HD_STORE_ECLOSED] = "store is closing",
};

const char *hd_store_strerror(int err)
{
    if (err > 0 || err <= -HD_STORE_E__COUNT) return "unknown store error";
    return messages[-err];
}

int hd_store__check_key(const char *key, size_t len)
{
    if (!key || len == 0 || len > HD_STORE_KEY_MAX) return HD_STORE_EKEY;
    return 0;
}

/* Whether a [0..alen) starts with prefix p[0..plen). */
static int has_prefix(const char *a, size_t alen, const char *p, size_t plen)
{
    return alen >= plen && (plen == 0 || memcmp(a, p, plen) == 0);
}

int hd_store__prefix_match(const char *key, size_t key_len, const char *prefix, size_t prefix_len)
{
    return has_prefix(key, key_len, prefix, prefix_len);
}

size_t hd_store__prefix_end(const char *prefix, size_t len, char *out)
{
    while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
        len--;
    if (len == 0) return 0;
    memcpy(out, prefix, len);
    out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
    return len;
}

int hd_store__check_txn(const hd_store_cmp_t *cmps, size_t ncmp, const hd_store_op_t *ops,
                        size_t nops)
{
    if ((ncmp && !cmps) || (nops && !ops)) return HD_STORE_EINVAL;
    if (ncmp > HD_STORE_TXN_OPS_MAX || nops > HD_STORE_TXN_OPS_MAX) return HD_STORE_ETOOMANY;
    for (size_t i = 0; i < ncmp; i++) {
        int rc = hd_store__check_key(cmps[i].key, cmps[i].key_len);
        if (rc) return rc;
        if (cmps[i].target > HD_STORE_CMP_ABSENT) return HD_STORE_EINVAL;
    }
    for (size_t i = 0; i < nops; i++) {
        const hd_store_op_t *o = &ops[i];
        switch (o->kind) {
        case HD_STORE_OP_PUT:
            if (o->value_len > HD_STORE_VALUE_MAX) return HD_STORE_ETOOBIG;
            if (o->value_len && !o->value) return HD_STORE_EINVAL;
            if (o->lease < 0) return HD_STORE_EINVAL;
            /* fall through */
        case HD_STORE_OP_DELETE: {
            int rc = hd_store__check_key(o->key, o->key_len);
            if (rc) return rc;
            break;
        }
        case HD_STORE_OP_DELETE_PREFIX:
            if (o->key_len > HD_STORE_KEY_MAX || (o->key_len && !o->key)) return HD_STORE_EKEY;
            break;
        default:
            return HD_STORE_EINVAL;
        }
    }
    /* One write per key (etcd's rule): a second put of a key, or a put under
     * a prefix the same transaction deletes, has no single meaning. */
    for (size_t i = 0; i < nops; i++)
        for (size_t j = 0; j < i; j++) {
            const hd_store_op_t *a = &ops[i], *b = &ops[j];
            int dup;
            if (a->kind == HD_STORE_OP_DELETE_PREFIX && b->kind == HD_STORE_OP_DELETE_PREFIX)
                continue; /* overlapping range deletes are harmless */
            if (a->kind == HD_STORE_OP_DELETE_PREFIX)
                dup = has_prefix(b->key, b->key_len, a->key, a->key_len);
            else if (b->kind == HD_STORE_OP_DELETE_PREFIX)
                dup = has_prefix(a->key, a->key_len, b->key, b->key_len);
            else
                dup = a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
            if (dup) return HD_STORE_EDUPKEY;
        }
    return 0;
}
