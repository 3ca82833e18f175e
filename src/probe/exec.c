/* exec — exec:CMD ARGS runs a command without a shell and judges its exit
 * status by the Nagios plugin contract: 0 passing, 1 warning, 2 critical,
 * anything else (3 = unknown) critical. Its standard output and error are
 * captured (first HD_PROBE_OUTPUT_MAX bytes). The child runs in its own
 * process group; at the deadline the whole group is killed and reaped from
 * the loop, never by a blocking wait, except when the loop itself ends
 * (hd_exec_reap_all). */
#include "probe/probe_impl.h"
#include "util/mem.h"
#include "util/time.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct exec_s {
    hd_probe_t *p;
    pid_t pid;  /* 0 once reaped */
    int status; /* wait status once reaped */
    int pidfd;  /* -1 when the kernel has no pidfd: then a timer polls */
    int out_fd; /* read end of the output pipe; -1 at EOF */
    struct event *child_ev;
    struct event *out_ev;
    char out[HD_PROBE_OUTPUT_MAX];
    size_t out_len;
} exec_t;

/* A reaper outlives its probe: it waits for a killed child and frees itself.
 * The env lists the live ones, for hd_exec_reap_all(). */
typedef struct hd_reaper_s {
    hd_probe_env_t *env;
    struct hd_reaper_s *prev, *next; /* env->reapers */
    pid_t pid;
    int pidfd;
    struct event *ev;
} reaper_t;

#define REAP_ALL_MAX_US (2 * HD_USEC_PER_SEC) /* hd_exec_reap_all's limit */

static const struct timeval poll_tv = {0, 10000}; /* without pidfd: poll every 10 ms */

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* pidfds are born close-on-exec; be sure */
        return fd;
    }
#else
    (void)pid;
#endif
    return -1;
}

static void reaper_free(reaper_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->env->reapers = r->next;
    if (r->next) r->next->prev = r->prev;
    event_free(r->ev);
    if (r->pidfd >= 0) close(r->pidfd);
    free(r);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reaper_t *r = arg;
    int st;
    pid_t w = waitpid(r->pid, &st, WNOHANG);
    if (w == 0) {
        if (r->pidfd < 0) evtimer_add(r->ev, &poll_tv);
        return;
    }
    reaper_free(r);
}

void hd_exec_reap_all(hd_probe_env_t *env)
{
    /* The children were sent SIGKILL: they die at once unless stuck in the
     * kernel. A bounded wait, so that heed neither hands zombies on to the
     * command it execs nor hangs on a child it cannot kill. */
    int64_t deadline = hd_time_now_us() + REAP_ALL_MAX_US;
    while (env->reapers) {
        reaper_t *r = env->reapers;
        int st;
        if (waitpid(r->pid, &st, WNOHANG) == 0 && hd_time_now_us() < deadline) {
            struct timespec ms = {0, 1000000};
            (void)nanosleep(&ms, NULL); /* an early wake-up only polls sooner */
            continue;
        }
        reaper_free(r);
    }
}

static void finish(exec_t *x)
{
    while (x->out_len && (x->out[x->out_len - 1] == '\n' || x->out[x->out_len - 1] == '\r' ||
                          x->out[x->out_len - 1] == ' '))
        x->out_len--;
    x->out[x->out_len] = '\0';
    const char *out = x->out;
    if (WIFSIGNALED(x->status)) {
        hd_probe_done(x->p, HD_STATUS_CRITICAL, HD_R_EXEC_SIGNAL, "killed by signal %d%s%s",
                      WTERMSIG(x->status), *out ? ": " : "", out);
        return;
    }
    int code = WEXITSTATUS(x->status);
    if (code == 0) {
        hd_probe_done(x->p, HD_STATUS_PASSING, HD_R_OK, "%s", out);
        return;
    }
    hd_probe_done(x->p, code == 1 ? HD_STATUS_WARNING : HD_STATUS_CRITICAL, HD_R_EXEC_STATUS,
                  "exit status %d%s%s", code, *out ? ": " : "", out);
}

static void drain(exec_t *x)
{
    char tmp[4096];
    for (;;) {
        ssize_t n = read(x->out_fd, tmp, sizeof(tmp));
        if (n > 0) {
            size_t room = sizeof(x->out) - 1 - x->out_len;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(x->out + x->out_len, tmp, take);
            x->out_len += take;
            continue;
        }
        if (n < 0 && (errno == EINTR)) continue;
        if (n < 0 && errno == EAGAIN) return;
        /* EOF or error: no more output */
        event_free(x->out_ev);
        x->out_ev = NULL;
        close(x->out_fd);
        x->out_fd = -1;
        return;
    }
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain(arg);
}

static void on_child(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    exec_t *x = arg;
    pid_t w = waitpid(x->pid, &x->status, WNOHANG);
    if (w == 0) {
        if (x->pidfd < 0) evtimer_add(x->child_ev, &poll_tv);
        return;
    }
    x->pid = 0;
    /* The child is gone; take what output is there now. A grandchild that
     * keeps the pipe open does not hold the result back. */
    if (x->out_fd >= 0) drain(x);
    finish(x);
}

static void exec_stop(hd_probe_t *p)
{
    exec_t *x = p->impl;
    if (!x) return;
    if (x->child_ev) event_free(x->child_ev);
    if (x->out_ev) event_free(x->out_ev);
    if (x->out_fd >= 0) close(x->out_fd);
    if (x->pid > 0) {
        (void)kill(-x->pid, SIGKILL); /* the group may be gone already */
        reaper_t *r = hd_xcalloc(1, sizeof(*r));
        r->env = p->env;
        r->next = p->env->reapers;
        if (r->next) r->next->prev = r;
        p->env->reapers = r;
        r->pid = x->pid;
        r->pidfd = x->pidfd;
        r->ev = r->pidfd >= 0 ? event_new(p->env->base, r->pidfd, EV_READ, on_reap, r)
                              : evtimer_new(p->env->base, on_reap, r);
        event_add(r->ev, r->pidfd >= 0 ? NULL : &poll_tv);
    } else if (x->pidfd >= 0) {
        close(x->pidfd);
    }
    free(x);
    p->impl = NULL;
}

static int exec_start(hd_probe_t *p)
{
    exec_t *x = hd_xcalloc(1, sizeof(*x));
    x->p = p;
    x->pidfd = -1;
    x->out_fd = -1;
    p->impl = x;

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_EXEC_SPAWN, "pipe: %s", strerror(errno));
        return 0;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    /* Where there is no /dev/null (a bare chroot, a scratch image without
     * /dev) standard input is an empty pipe instead, which reads the same:
     * end of file at once. Without it the spawn would fail as if the
     * command were missing. */
    int nullin[2] = {-1, -1};
    if (access("/dev/null", R_OK) == 0) {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    } else if (pipe2(nullin, O_CLOEXEC) == 0) {
        close(nullin[1]);
        posix_spawn_file_actions_adddup2(&fa, nullin[0], 0);
    }
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    char *const *argv = p->t->argv;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pipefd[1]);
    if (nullin[0] >= 0) close(nullin[0]);
    if (rc != 0) {
        close(pipefd[0]);
        /* No such command, or not one that can run: trying again will not
         * help (hd_reason_permanent). Anything else (EAGAIN, ENOMEM) may. */
        int missing = rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR;
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, missing ? HD_R_EXEC_NOT_FOUND : HD_R_EXEC_SPAWN,
                           "cannot run '%s': %s", argv[0], strerror(rc));
        return 0;
    }
    x->pid = pid;
    x->out_fd = pipefd[0];
    x->out_ev = event_new(p->env->base, x->out_fd, EV_READ | EV_PERSIST, on_out, x);
    event_add(x->out_ev, NULL);
    x->pidfd = open_pidfd(pid);
    if (x->pidfd >= 0) {
        x->child_ev = event_new(p->env->base, x->pidfd, EV_READ, on_child, x);
        event_add(x->child_ev, NULL);
    } else {
        x->child_ev = evtimer_new(p->env->base, on_child, x);
        evtimer_add(x->child_ev, &poll_tv);
    }
    return 0;
}

const hd_probe_kind_t hd_probe_exec = {exec_start, exec_stop};
