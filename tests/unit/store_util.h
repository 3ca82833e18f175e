/* store_util — what the store's tests share: a temporary directory, a loop,
 * and synchronous wrappers that run the loop until a request is answered
 * (with a deadline, so a lost callback fails the test instead of hanging).
 *
 * Include after <cmocka.h>. Everything is static so a test file that uses
 * part of it still builds with -Werror. */
#ifndef HD_TEST_STORE_UTIL_H
#define HD_TEST_STORE_UTIL_H

#include "store/store.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct tstore_s {
    struct event_base *base;
    hd_store_t *s;
    char dir[64];
    char path[128];
    hd_store_config_t cfg;
} tstore_t;

/* The answer to one request, copied out of the callback. */
typedef struct answer_s {
    int done;
    int status;
    hd_store_write_result_t wr;
    hd_store_kv_t kv; /* get: key and value point into buf */
    char buf[4096];
    int64_t rev;        /* get/range: the revision read at */
    int64_t lease, ttl; /* lease callbacks */
    size_t n;           /* range: keys */
    int more;
    char keys[32][64];
} answer_t;

static inline int64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag is set; fails after timeout_ms. */
static inline void t_spin_until(tstore_t *t, const int *flag, int64_t timeout_ms)
{
    int64_t end = t_now_ms() + timeout_ms;
    struct timeval tick = {0, 5000};
    while (!*flag) {
        if (t_now_ms() > end) fail_msg("no answer within %lld ms", (long long)timeout_ms);
        /* A short timer keeps EVLOOP_ONCE from blocking forever. */
        event_base_loopexit(t->base, &tick);
        event_base_loop(t->base, EVLOOP_ONCE);
    }
}

static inline void t_spin(tstore_t *t, const int *flag)
{
    t_spin_until(t, flag, 5000);
}

static inline void t_open_cfg(tstore_t *t)
{
    char err[512] = "";
    int rc = hd_store_open(t->base, &t->cfg, &t->s, err, sizeof(err));
    if (rc) fail_msg("hd_store_open: %d %s", rc, err);
}

/* A fresh directory, loop and store; maintenance off unless set. */
static inline void t_setup(tstore_t *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/heed-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/heed.db", t->dir);
    t->base = event_base_new();
    assert_non_null(t->base);
    t->cfg.path = t->path;
    t->cfg.hist_maint_us = -1;
}

static inline void t_close(tstore_t *t)
{
    hd_store_close(t->s);
    t->s = NULL;
}

static inline void t_teardown(tstore_t *t)
{
    char p[256];
    if (t->s) t_close(t);
    event_base_free(t->base);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

/* cmocka fixtures: a fresh store in a temporary directory per test. */
static inline int t_fixture_setup(void **state)
{
    tstore_t *t = malloc(sizeof(*t));
    t_setup(t);
    t_open_cfg(t);
    *state = t;
    return 0;
}

static inline int t_fixture_teardown(void **state)
{
    tstore_t *t = *state;
    t_teardown(t);
    free(t);
    return 0;
}

static inline void t_write_cb(int status, const hd_store_write_result_t *r, void *arg)
{
    answer_t *a = arg;
    if (a->done) fail_msg("write callback called twice");
    a->status = status;
    a->wr = *r;
    a->done = 1;
}

static inline void t_get_cb(int status, const hd_store_kv_t *kv, int64_t revision, void *arg)
{
    answer_t *a = arg;
    a->status = status;
    a->rev = revision;
    if (kv) {
        assert_true(kv->key_len + kv->value_len + 2 <= sizeof(a->buf));
        a->kv = *kv;
        memcpy(a->buf, kv->key, kv->key_len + 1);
        memcpy(a->buf + kv->key_len + 1, kv->value, kv->value_len + 1);
        a->kv.key = a->buf;
        a->kv.value = a->buf + kv->key_len + 1;
    }
    a->done = 1;
}

static inline void t_range_cb(int status, const hd_store_range_t *r, void *arg)
{
    answer_t *a = arg;
    a->status = status;
    if (r) {
        a->rev = r->revision;
        a->n = r->n;
        a->more = r->more;
        for (size_t i = 0; i < r->n && i < 32; i++)
            snprintf(a->keys[i], sizeof(a->keys[i]), "%s=%s", r->kvs[i].key, r->kvs[i].value);
    }
    a->done = 1;
}

static inline void t_lease_cb(int status, int64_t lease, int64_t ttl_ms, void *arg)
{
    answer_t *a = arg;
    a->status = status;
    a->lease = lease;
    a->ttl = ttl_ms;
    a->done = 1;
}

/* Callbacks for requests that must have been refused. */
static inline void t_never_write(int status, const hd_store_write_result_t *r, void *arg)
{
    (void)status, (void)r, (void)arg;
    fail_msg("callback of a refused request was called");
}

static inline int t_put(tstore_t *t, const char *k, const char *v, int64_t lease,
                        hd_store_write_result_t *wr)
{
    answer_t a = {0};
    int rc = hd_store_put(t->s, k, strlen(k), v, strlen(v), lease, t_write_cb, &a);
    if (rc) return rc;
    t_spin(t, &a.done);
    if (wr) *wr = a.wr;
    return a.status;
}

static inline int t_del(tstore_t *t, const char *k, hd_store_write_result_t *wr)
{
    answer_t a = {0};
    int rc = hd_store_delete(t->s, k, strlen(k), t_write_cb, &a);
    if (rc) return rc;
    t_spin(t, &a.done);
    if (wr) *wr = a.wr;
    return a.status;
}

static inline int t_txn(tstore_t *t, const hd_store_cmp_t *c, size_t nc, const hd_store_op_t *o,
                        size_t no, hd_store_write_result_t *wr)
{
    answer_t a = {0};
    int rc = hd_store_txn(t->s, c, nc, o, no, t_write_cb, &a);
    if (rc) return rc;
    t_spin(t, &a.done);
    if (wr) *wr = a.wr;
    return a.status;
}

/* Gets k into *a; returns the status. */
static inline int t_get(tstore_t *t, const char *k, answer_t *a)
{
    memset(a, 0, sizeof(*a));
    int rc = hd_store_get(t->s, k, strlen(k), t_get_cb, a);
    if (rc) return rc;
    t_spin(t, &a->done);
    return a->status;
}

static inline int t_range(tstore_t *t, const char *prefix, size_t limit, answer_t *a)
{
    memset(a, 0, sizeof(*a));
    int rc = hd_store_range(t->s, prefix, strlen(prefix), limit, t_range_cb, a);
    if (rc) return rc;
    t_spin(t, &a->done);
    return a->status;
}

/* Fails unless k holds v. */
static inline void t_expect(tstore_t *t, const char *k, const char *v)
{
    answer_t a;
    int rc = t_get(t, k, &a);
    if (rc) fail_msg("get %s: %s", k, hd_store_strerror(rc));
    assert_string_equal(a.kv.value, v);
}

static inline void t_expect_absent(tstore_t *t, const char *k)
{
    answer_t a;
    assert_int_equal(t_get(t, k, &a), HD_STORE_ENOTFOUND);
}

#endif
