/* txn — the body of Consul's /v1/txn as heed reads it (api/txn.c): the
 * parser is pure and exposed for tests and the fuzz target. */
#ifndef HD_API_TXN_H
#define HD_API_TXN_H

#include "agent/kv.h"

#include <stddef.h>

/* A parsed transaction: its KV operations (keys, values and sessions
 * owned), and for each the verb Consul would not know, or NULL. */
typedef struct hd_api_txn_s {
    hd_kv_op_t *ops;
    size_t n;
    char **unknown; /* [n]: an unknown verb, as given */
    size_t nunknown;
} hd_api_txn_t;

/* Parses a /v1/txn body: a JSON array of at most HD_KV_TXN_OPS_MAX
 * {"KV": {"Verb", "Key", "Value" (base64), "Flags", "Index", "Session"}}
 * objects, fields in any case, unknown fields ignored, keys of at most
 * key_max bytes. Returns 0 with t filled (free it with hd_api_txn_free),
 * or the HTTP status (400, 413) with Consul's message in err, naming the
 * operation and field. */
int hd_api_txn_parse(const char *data, size_t len, size_t key_max, hd_api_txn_t *t, char *err,
                     size_t errlen);
/* Frees what t holds. */
void hd_api_txn_free(hd_api_txn_t *t);

#endif
