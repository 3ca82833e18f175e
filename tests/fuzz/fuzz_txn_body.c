/* fuzz_txn_body — hd_api_txn_parse (the body of Consul's /v1/txn) on any
 * bytes: it accepts or refuses with 400 or 413 and a message that says
 * so; what it accepts has at most 64 operations, each with a key no
 * longer than the bound, valid UTF-8, a value within 512 KiB, a session
 * where a lock needs one; and freeing it leaks nothing (ASan). */
#include "api/txn.h"
#include "util/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hd_api_txn_t t;
    char err[700] = "";
    size_t key_max = 100;
    int st = hd_api_txn_parse((const char *)data, size, key_max, &t, err, sizeof(err));
    if (st != 0) {
        if (st != 400 && st != 413) abort();
        if (strncmp(err, "Failed to parse body: ", 22) != 0 &&
            strncmp(err, "Transaction contains too many operations", 40) != 0 &&
            strncmp(err, "Value for key", 13) != 0)
            abort();
        return 0;
    }
    if (t.n > HD_KV_TXN_OPS_MAX) abort();
    size_t unknown = 0;
    for (size_t i = 0; i < t.n; i++) {
        const hd_kv_op_t *op = &t.ops[i];
        if (!op->key || strlen(op->key) != op->key_len || op->key_len > key_max) abort();
        if (!hd_utf8_valid(op->key, op->key_len)) abort();
        if (op->value_len > HD_KV_VALUE_MAX || (op->value_len && !op->value)) abort();
        int needs =
            op->verb == HD_KV_LOCK || op->verb == HD_KV_UNLOCK || op->verb == HD_KV_CHECK_SESSION;
        if (t.unknown[i]) unknown++;
        if (needs && !t.unknown[i] && (!op->session || !*op->session)) abort();
        if (!op->key_len && !t.unknown[i] && op->verb != HD_KV_GET_TREE &&
            op->verb != HD_KV_DELETE_TREE)
            abort();
    }
    if (unknown != t.nunknown) abort();
    hd_api_txn_free(&t);
    return 0;
}
