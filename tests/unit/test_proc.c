/* test_proc — util/proc on a real loop with real children (/bin/sh, cat):
 * the exit status and the signal, standard input fed or at end of file,
 * output kept up to the cap, a kill that reaches the whole process group,
 * descriptors closed or inherited as asked, a command that cannot run, and
 * a release that hands the killed child to the caller. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/proc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct run_s {
    struct event_base *base;
    hd_proc_t proc;
    char out[64];
    int exits; /* calls of the exit callback */
} run_t;

static void on_exit_cb(hd_proc_t *pr, void *arg)
{
    run_t *r = arg;
    assert_ptr_equal(pr, &r->proc);
    assert_int_equal(pr->pid, 0);
    r->exits++;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop until *flag is set, at most limit_ms; returns the flag. */
static int loop_until(struct event_base *base, const int *flag, int64_t limit_ms)
{
    int64_t end = now_ms() + limit_ms;
    struct timeval tick = {0, 20000};
    struct event *t = evtimer_new(base, on_tick, NULL); /* wakes the loop to look at the clock */
    while (!*flag && now_ms() < end) {
        evtimer_add(t, &tick);
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(t);
    return *flag;
}

/* Runs the loop for one turn of at most 20 ms. */
static void turn(struct event_base *base)
{
    int never = 0;
    (void)loop_until(base, &never, 20);
}

/* The group of a test whose command leaves a `sleep 30` behind, killed
 * when the test ends, whether it passed or not. */
static pid_t sleeper;

static int kill_sleeper(void **state)
{
    (void)state;
    if (sleeper > 0) (void)kill(-sleeper, SIGKILL); /* ESRCH: the group is gone already */
    sleeper = 0;
    return 0;
}

static void start(run_t *r, char *const *argv, const char *in, int close_fds)
{
    memset(r, 0, sizeof(*r));
    r->base = event_base_new();
    assert_non_null(r->base);
    hd_proc_init(&r->proc);
    hd_proc_opts_t o = {.argv = argv,
                        .in = in,
                        .in_len = in ? strlen(in) : 0,
                        .close_fds = close_fds,
                        .out = r->out,
                        .out_size = sizeof(r->out)};
    char err[256] = "";
    int rc = hd_proc_start(&r->proc, r->base, &o, on_exit_cb, r, err, sizeof(err));
    if (rc != 0) fail_msg("'%s' did not start: %s", argv[0], err);
    assert_true(r->proc.pid > 0);
}

/* Waits for the exit (at most 10 s) and returns the output as a string. */
static const char *finish(run_t *r)
{
    assert_true(loop_until(r->base, &r->exits, 10000));
    assert_int_equal(r->exits, 1);
    r->out[r->proc.out_len] = '\0';
    return r->out;
}

static void done(run_t *r)
{
    hd_proc_stop(&r->proc);
    assert_int_equal(r->proc.pid, 0);
    assert_int_equal(r->proc.pidfd, -1);
    event_base_free(r->base);
}

static void test_exit_status_and_output(void **state)
{
    (void)state;
    run_t r;
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    start(&r, argv, NULL, 1);
    assert_string_equal(finish(&r), "out\nerr\n");
    assert_true(WIFEXITED(r.proc.status));
    assert_int_equal(WEXITSTATUS(r.proc.status), 3);
    done(&r);
}

static void test_signal(void **state)
{
    (void)state;
    run_t r;
    char *argv[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    start(&r, argv, NULL, 1);
    finish(&r);
    assert_true(WIFSIGNALED(r.proc.status));
    assert_int_equal(WTERMSIG(r.proc.status), SIGTERM);
    done(&r);
}

static void test_stdin_fed(void **state)
{
    (void)state;
    run_t r;
    char *argv[] = {"cat", NULL};
    start(&r, argv, "{\"id\": 1}\n", 1);
    assert_string_equal(finish(&r), "{\"id\": 1}\n");
    assert_int_equal(r.proc.in_sent, strlen("{\"id\": 1}\n"));
    assert_int_equal(WEXITSTATUS(r.proc.status), 0);
    done(&r);
}

static void test_stdin_empty(void **state)
{
    (void)state;
    run_t r;
    char *argv[] = {"cat", NULL};
    start(&r, argv, NULL, 1); /* cat would wait forever on an open terminal */
    assert_string_equal(finish(&r), "");
    assert_int_equal(WEXITSTATUS(r.proc.status), 0);
    done(&r);
}

static void test_stdin_not_read(void **state)
{
    (void)state;
    /* The command exits without reading a large input: EPIPE, not a crash
     * (the test, like the agent, ignores SIGPIPE), and its status decides. */
    static char big[1 << 20];
    memset(big, 'x', sizeof(big) - 1);
    run_t r;
    char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    start(&r, argv, big, 1);
    finish(&r);
    assert_int_equal(WEXITSTATUS(r.proc.status), 0);
    assert_true(r.proc.in_sent < sizeof(big) - 1);
    done(&r);
}

static void test_output_capped(void **state)
{
    (void)state;
    run_t r;
    char *argv[] = {"/bin/sh", "-c",
                    "i=0; while [ $i -lt 100 ]; do echo 0123456789; i=$((i+1)); done", NULL};
    start(&r, argv, NULL, 1);
    const char *out = finish(&r);
    assert_int_equal(r.proc.out_len, sizeof(r.out) - 1);
    assert_memory_equal(out, "0123456789\n0123456789\n", 22);
    assert_int_equal(WEXITSTATUS(r.proc.status), 0); /* the rest was read, so no SIGPIPE */
    done(&r);
}

static void test_kill_reaches_group(void **state)
{
    (void)state;
    /* A grandchild holds the output pipe: only when the whole group is
     * killed does the pipe reach end of file. */
    run_t r;
    char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo started; wait", NULL};
    start(&r, argv, NULL, 1);
    sleeper = r.proc.pid;
    int64_t end = now_ms() + 10000;
    while (r.proc.out_len < 8 && now_ms() < end)
        turn(r.base);
    assert_int_equal(r.proc.out_len, 8);
    hd_proc_kill(&r.proc);
    finish(&r);
    assert_true(WIFSIGNALED(r.proc.status));
    assert_int_equal(WTERMSIG(r.proc.status), SIGKILL);
    end = now_ms() + 10000;
    while (r.proc.out_fd >= 0 && now_ms() < end)
        turn(r.base);
    assert_int_equal(r.proc.out_fd, -1); /* the sleep is dead too */
    done(&r);
}

static void test_exit_not_held_by_grandchild(void **state)
{
    (void)state;
    run_t r;
    char *argv[] = {"/bin/sh", "-c", "echo hi; sleep 30 &", NULL};
    start(&r, argv, NULL, 1);
    sleeper = r.proc.pid;
    int64_t t0 = now_ms();
    assert_string_equal(finish(&r), "hi\n");
    assert_true(now_ms() - t0 < 10000);
    assert_int_equal(WEXITSTATUS(r.proc.status), 0);
    done(&r);
}

static const char *fd_seen(int close_fds)
{
    /* Descriptor 50, opened without close-on-exec: inherited unless
     * close_fds asks otherwise. */
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 50), 50);
    close(fd);
    static run_t r;
    char *argv[] = {"/bin/sh", "-c",
                    "if [ -e /proc/self/fd/50 ]; then echo open; else echo closed; fi", NULL};
    start(&r, argv, NULL, close_fds);
    close(50);
    const char *out = finish(&r);
    done(&r);
    return out;
}

static void test_close_fds(void **state)
{
    (void)state;
    assert_string_equal(fd_seen(1), "closed\n");
    assert_string_equal(fd_seen(0), "open\n");
}

static void test_cannot_run(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    hd_proc_t pr;
    hd_proc_init(&pr);
    char out[16];
    char *argv[] = {"heed-test-no-such-command", NULL};
    hd_proc_opts_t o = {.argv = argv, .out = out, .out_size = sizeof(out)};
    char err[256] = "";
    int rc = hd_proc_start(&pr, base, &o, on_exit_cb, NULL, err, sizeof(err));
    assert_int_equal(rc, -ENOENT);
    assert_string_equal(err, "cannot run 'heed-test-no-such-command': No such file or directory");
    assert_int_equal(pr.pid, 0);
    assert_int_equal(pr.out_fd, -1);
    assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1); /* nothing left on the loop */
    event_base_free(base);
}

static void test_release_hands_over(void **state)
{
    (void)state;
    run_t r;
    char *argv[] = {"sleep", "30", NULL};
    start(&r, argv, NULL, 1);
    pid_t want = r.proc.pid;
    int pidfd;
    pid_t pid = hd_proc_release(&r.proc, &pidfd);
    assert_int_equal(pid, want);
    assert_int_equal(r.proc.pid, 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid); /* killed at release */
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    if (pidfd >= 0) close(pidfd);
    assert_int_equal(event_base_loop(r.base, EVLOOP_NONBLOCK), 1);
    assert_int_equal(r.exits, 0);
    event_base_free(r.base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the agent and heed's commands do */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status_and_output),
        cmocka_unit_test(test_signal),
        cmocka_unit_test(test_stdin_fed),
        cmocka_unit_test(test_stdin_empty),
        cmocka_unit_test(test_stdin_not_read),
        cmocka_unit_test(test_output_capped),
        cmocka_unit_test_teardown(test_kill_reaches_group, kill_sleeper),
        cmocka_unit_test_teardown(test_exit_not_held_by_grandchild, kill_sleeper),
        cmocka_unit_test(test_close_fds),
        cmocka_unit_test(test_cannot_run),
        cmocka_unit_test(test_release_hands_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
