/* store_impl — what the store's own files share and nobody else uses:
 * input checks (store.c), and the history's SQL (history.c) that the SQLite
 * backend (sqlite.c) runs on its writer thread and its read connection. */
#ifndef HD_STORE_IMPL_H
#define HD_STORE_IMPL_H

#include "store/history.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* 0, or HD_STORE_EKEY for an empty or too long key. */
int hd_store__check_key(const char *key, size_t len);
/* 0, or the error of a transaction's compares and operations. */
int hd_store__check_txn(const hd_store_cmp_t *cmps, size_t ncmp, const hd_store_op_t *ops,
                        size_t nops);
/* Whether key starts with prefix. */
int hd_store__prefix_match(const char *key, size_t key_len, const char *prefix, size_t prefix_len);
/* The smallest key greater than every key with this prefix, into out (room
 * for len bytes); returns its length, 0 when there is none ("" or all 0xff). */
size_t hd_store__prefix_end(const char *prefix, size_t len, char *out);
/* SQLite result code to HD_STORE_E*. */
int hd_store__sqlite_err(int rc);

/* History retention and pacing, resolved from hd_store_config_t. */
typedef struct hd_hist_conf_s {
    int64_t raw_keep_ms, m1_keep_ms, h1_keep_ms;
} hd_hist_conf_t;

/* The writer thread's history state: prepared statements and the slice
 * cursor. Used by the writer thread only. */
typedef struct hd_hist_writer_s hd_hist_writer_t;

/* The schema of the history tables (part of migration to version 2). */
extern const char hd_hist__schema_v2[];

/* Prepares the writer's statements on db. */
int hd_hist__writer_open(sqlite3 *db, const hd_hist_conf_t *conf, hd_hist_writer_t **out);
void hd_hist__writer_close(hd_hist_writer_t *w);
/* Inside the writer's transaction: stores n results; stops at the first
 * error. */
int hd_hist__add(hd_hist_writer_t *w, const hd_hist_row_t *rows, size_t n);
/* Inside the writer's transaction: the history of check name from
 * becomes to's (merged into to's when both have rows). */
int hd_hist__rename(hd_hist_writer_t *w, const char *from, size_t from_len, const char *to,
                    size_t to_len);
/* Inside the writer's transaction: one rollup/prune slice as of now_us.
 * *more: the round over all checks is not finished; *behind: the slice hit
 * its row budget (there is a backlog). */
int hd_hist__maintain(hd_hist_writer_t *w, int64_t now_us, int *more, int *behind);

/* On the read connection (loop thread): the series of a query. *pts is
 * malloc'ed (free it). */
int hd_hist__query(sqlite3 *db, const hd_hist_conf_t *conf, const char *check_id, size_t id_len,
                   int64_t since_us, int64_t until_us, hd_hist_step_t step, int64_t now_us,
                   hd_hist_point_t **pts, size_t *n, hd_hist_step_t *used);

#endif
