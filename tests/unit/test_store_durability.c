/* test_store_durability — an acknowledged write survives kill -9.
 *
 * A child process keeps 64 puts in flight against the store and, from each
 * write's callback, prints "index revision" to a pipe: that line is the
 * acknowledgement. The parent reads the lines, kills the child with SIGKILL
 * in the middle of the burst, reopens the store and checks that every
 * acknowledged write is there with its value and that the store's revision
 * is at least the highest acknowledged one. Three rounds on the same file,
 * killed after different numbers of acknowledgements.
 *
 * And a disk that fills up mid-commit (RLIMIT_FSIZE in a child): the write
 * fails with an error, changes nothing, and the store goes on; a history
 * batch that fails takes its whole group commit with it, leaves no row
 * behind, is counted, and the writes after it (once there is room again)
 * commit; SQLite's integrity check passes afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "store/history.h"
#include "store_util.h"

#include <sqlite3.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define IN_FLIGHT 64
#define MAX_INDEX (1 << 20)

typedef struct child_s {
    hd_store_t *s;
    int fd;
    int round;
    int next;
} child_t;

typedef struct put_s {
    child_t *c;
    int i;
} put_t;

static void child_put(child_t *c);

static void child_ack(int status, const hd_store_write_result_t *r, void *arg)
{
    put_t *p = arg;
    char line[64];
    if (status) _exit(3);
    int n = snprintf(line, sizeof(line), "%d %lld\n", p->i, (long long)r->revision);
    /* One short write per line: atomic on a pipe. */
    if (write(p->c->fd, line, (size_t)n) != n) _exit(4);
    child_put(p->c);
    free(p);
}

static void child_put(child_t *c)
{
    char key[64], val[64];
    put_t *p = malloc(sizeof(*p));
    if (!p || c->next >= MAX_INDEX) _exit(5);
    *p = (put_t){c, c->next++};
    snprintf(key, sizeof(key), "heed/kv/d%d/%06d", c->round, p->i);
    snprintf(val, sizeof(val), "v%d-%06d", c->round, p->i);
    if (hd_store_put(c->s, key, strlen(key), val, strlen(val), 0, child_ack, p) != 0) _exit(5);
}

/* The child: writes until killed. Never returns. */
static void child_main(const char *path, int fd, int round)
{
    struct event_base *base = event_base_new();
    hd_store_config_t cfg = {.path = path, .hist_maint_us = -1};
    child_t c = {NULL, fd, round, 0};
    char err[256];
    if (!base || hd_store_open(base, &cfg, &c.s, err, sizeof(err)) != 0) _exit(2);
    for (int i = 0; i < IN_FLIGHT; i++)
        child_put(&c);
    event_base_dispatch(base);
    _exit(6);
}

/* What the parent heard acknowledged in one round. */
typedef struct acks_s {
    int64_t n;
    int64_t max_rev;
    unsigned char *acked; /* [MAX_INDEX]: 1 when index i was acknowledged */
} acks_t;

/* Reads acknowledgements until kill_after of them, then SIGKILLs the
 * child, and reads what was already in the pipe. */
static void run_round(const char *path, int round, int kill_after, acks_t *acks)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_main(path, p[1], round);
    }
    close(p[1]);
    char buf[8192];
    size_t have = 0;
    int killed = 0;
    int64_t deadline = t_now_ms() + 10000;
    acks->n = acks->max_rev = 0;
    memset(acks->acked, 0, MAX_INDEX);
    for (;;) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        if (!killed && acks->n >= kill_after) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        if (t_now_ms() > deadline) {
            kill(pid, SIGKILL);
            fail_msg("round %d: only %lld acknowledgements in 10 s", round, (long long)acks->n);
        }
        if (poll(&pfd, 1, 100) <= 0) continue;
        ssize_t r = read(p[0], buf + have, sizeof(buf) - have - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* the child is gone and the pipe drained */
        have += (size_t)r;
        buf[have] = '\0';
        char *line = buf, *nl, *end;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            long i = strtol(line, &end, 10);
            int64_t rev = strtoll(end, NULL, 10);
            assert_true(i >= 0 && i < MAX_INDEX);
            acks->acked[i] = 1;
            acks->n++;
            if (rev > acks->max_rev) acks->max_rev = rev;
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
    close(p[0]);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    if (!killed || !WIFSIGNALED(wst))
        fail_msg("round %d: the child ended by itself (status %d)", round, wst);
}

typedef struct found_s {
    int done, status, round;
    int64_t keys, bad;
    unsigned char *found; /* [MAX_INDEX] */
} found_t;

static void found_cb(int status, const hd_store_range_t *r, void *arg)
{
    found_t *f = arg;
    f->status = status;
    for (size_t i = 0; r && i < r->n; i++) {
        /* heed/kv/d<round>/<index> must hold v<round>-<index>. */
        const char *slash = strrchr(r->kvs[i].key, '/');
        long idx = strtol(slash + 1, NULL, 10);
        char want[64];
        snprintf(want, sizeof(want), "v%d-%06ld", f->round, idx);
        if (idx < 0 || idx >= MAX_INDEX || strcmp(r->kvs[i].value, want) != 0) {
            f->bad++;
            continue;
        }
        f->found[idx] = 1;
        f->keys++;
    }
    f->done = 1;
}

static void test_acknowledged_writes_survive_kill(void **state)
{
    tstore_t t;
    const int kill_after[] = {50, 700, 3000};
    acks_t acks = {0, 0, calloc(1, MAX_INDEX)};
    found_t f = {0};
    f.found = calloc(1, MAX_INDEX);
    (void)state;
    t_setup(&t);
    for (int round = 0; round < 3; round++) {
        run_round(t.path, round, kill_after[round], &acks);
        assert_true(acks.n >= kill_after[round]);

        t_open_cfg(&t);
        assert_true(hd_store_revision(t.s) >= acks.max_rev);
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "heed/kv/d%d/", round);
        f.done = f.status = 0;
        f.keys = f.bad = 0;
        f.round = round;
        memset(f.found, 0, MAX_INDEX);
        assert_int_equal(hd_store_range(t.s, prefix, strlen(prefix), 0, found_cb, &f), 0);
        t_spin(&t, &f.done);
        assert_int_equal(f.status, 0);
        assert_int_equal(f.bad, 0);
        for (int i = 0; i < MAX_INDEX; i++)
            if (acks.acked[i] && !f.found[i])
                fail_msg("round %d: write %d was acknowledged and is lost", round, i);
        /* Committed but not yet acknowledged writes may be there too. */
        assert_true(f.keys >= acks.n);
        t_close(&t);
    }
    t_teardown(&t);
    free(acks.acked);
    free(f.found);
}

/* The child of the disk-full test: exit code 0 when everything went as
 * expected, else the step that did not. */
static void full_child(const char *path)
{
    struct event_base *base = event_base_new();
    hd_store_config_t cfg = {.path = path, .hist_maint_us = -1};
    tstore_t t = {.base = base};
    char err[256];
    static char big[HD_STORE_VALUE_MAX];
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
    if (hd_store_open(base, &cfg, &t.s, err, sizeof(err)) != 0) _exit(20);
    if (t_put(&t, "heed/kv/ok", "1", 0, NULL) != 0) _exit(21);
    /* From here no file may grow past 256 KiB: the disk is "full". */
    struct rlimit rl = {256 * 1024, 256 * 1024};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(22);
    memset(big, 'b', sizeof(big));
    answer_t a = {0};
    if (hd_store_put(t.s, "heed/kv/big", 11, big, sizeof(big), 0, t_write_cb, &a) != 0) _exit(23);
    t_spin(&t, &a.done);
    if (a.status != HD_STORE_EFULL && a.status != HD_STORE_EIO) _exit(24);
    if (a.wr.revision != 1) _exit(25);
    if (hd_store_revision(t.s) != 1) _exit(26);
    /* The store goes on: a small write fits. */
    hd_store_write_result_t wr;
    if (t_put(&t, "heed/kv/after", "2", 0, &wr) != 0 || wr.revision != 2) _exit(27);
    hd_store_close(t.s);
    event_base_free(base);
    _exit(0);
}

static void test_disk_full_fails_cleanly(void **state)
{
    tstore_t t;
    answer_t a;
    (void)state;
    t_setup(&t);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) full_child(t.path);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
        fail_msg("disk-full child failed at step %d", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    t_open_cfg(&t);
    assert_int_equal(hd_store_revision(t.s), 2);
    t_expect(&t, "heed/kv/ok", "1");
    t_expect(&t, "heed/kv/after", "2");
    assert_int_equal(t_get(&t, "heed/kv/big", &a), HD_STORE_ENOTFOUND);
    t_teardown(&t);
}

/* History queries of check "h" in the child (which exits on an error). */
typedef struct hcount_s {
    int done;
    int status;
    size_t n;
} hcount_t;

static void hcount_cb(int status, const hd_hist_series_t *series, void *arg)
{
    hcount_t *h = arg;
    h->status = status;
    h->n = series ? series->n : 0;
    h->done = 1;
}

static size_t history_rows(tstore_t *t, int64_t now_us)
{
    hcount_t h = {0};
    int64_t since = now_us - 3600LL * 1000000; /* within the raw table's 48 h */
    if (hd_store_history_query(t->s, "h", since, now_us + 1, HD_HIST_RAW, now_us, hcount_cb, &h))
        _exit(40);
    t_spin(t, &h.done);
    if (h.status) _exit(41);
    return h.n;
}

#define FULL_ROWS 20000 /* ~0.5 MB of history: past the 256 KiB the child may write */

/* The child of the history test: exit code 0 when everything went as
 * expected, else the step that did not. */
static void history_full_child(const char *path)
{
    struct event_base *base = event_base_new();
    hd_store_config_t cfg = {.path = path, .hist_maint_us = -1};
    tstore_t t = {.base = base};
    char err[256];
    signal(SIGXFSZ, SIG_IGN);
    if (hd_store_open(base, &cfg, &t.s, err, sizeof(err)) != 0) _exit(20);
    int64_t now = 1700000000LL * 1000000;
    static hd_hist_row_t rows[FULL_ROWS];
    for (int i = 0; i < FULL_ROWS; i++)
        rows[i] = (hd_hist_row_t){"h", now - (FULL_ROWS - i) * 1000LL, HD_CHECK_PASSING, 0, 1000};
    if (hd_store_history_add_batch(t.s, rows, 1, NULL, NULL) != 0) _exit(21);
    if (t_put(&t, "heed/kv/ok", "1", 0, NULL) != 0) _exit(22);
    if (history_rows(&t, now) != 1) _exit(23);

    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(24);
    rlim_t hard = rl.rlim_max;
    rl.rlim_cur = 256 * 1024; /* the disk is "full" from here */
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(25);
    /* One group commit: the big history batch, and a state write after it. */
    answer_t h = {0}, a = {0};
    if (hd_store_history_add_batch(t.s, rows, FULL_ROWS, t_write_cb, &h) != 0) _exit(26);
    if (hd_store_put(t.s, "heed/state/x", 12, "s", 1, 0, t_write_cb, &a) != 0) _exit(27);
    t_spin(&t, &a.done);
    if (!h.done) _exit(28);
    if (h.status != HD_STORE_EFULL && h.status != HD_STORE_EIO) _exit(29);
    if (a.status != h.status) _exit(30); /* the state write failed with its batch */
    if (hd_store_history_failed(t.s) != FULL_ROWS) _exit(31);
    if (history_rows(&t, now) != 1) _exit(32); /* no row of the failed batch */
    if (t_get(&t, "heed/state/x", &a) != HD_STORE_ENOTFOUND) _exit(33);

    rl.rlim_cur = hard; /* room again */
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(34);
    if (t_put(&t, "heed/state/x", "s", 0, NULL) != 0) _exit(35);
    answer_t h2 = {0};
    if (hd_store_history_add_batch(t.s, rows + 1, 2, t_write_cb, &h2) != 0) _exit(36);
    t_spin(&t, &h2.done);
    if (h2.status != 0) _exit(37);
    if (history_rows(&t, now) != 3) _exit(38);
    hd_store_close(t.s);
    event_base_free(base);
    _exit(0);
}

static void test_history_batch_fails_whole_and_store_recovers(void **state)
{
    tstore_t t;
    (void)state;
    t_setup(&t);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) history_full_child(t.path);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
        fail_msg("history disk-full child failed at step %d",
                 WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(t.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    t_open_cfg(&t);
    t_expect(&t, "heed/kv/ok", "1");
    t_expect(&t, "heed/state/x", "s");
    t_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acknowledged_writes_survive_kill),
        cmocka_unit_test(test_disk_full_fails_cleanly),
        cmocka_unit_test(test_history_batch_fails_whole_and_store_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
