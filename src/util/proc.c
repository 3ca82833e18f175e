/* proc — one child process on the loop (see proc.h). */
#include "util/proc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const struct timeval poll_tv = {0, 10000}; /* without pidfd: poll every 10 ms */

void hd_proc_init(hd_proc_t *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->pidfd = pr->in_fd = pr->out_fd = -1;
}

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

static void close_in(hd_proc_t *pr)
{
    if (pr->in_ev) event_free(pr->in_ev);
    pr->in_ev = NULL;
    if (pr->in_fd >= 0) close(pr->in_fd);
    pr->in_fd = -1;
}

static void close_out(hd_proc_t *pr)
{
    if (pr->out_ev) event_free(pr->out_ev);
    pr->out_ev = NULL;
    if (pr->out_fd >= 0) close(pr->out_fd);
    pr->out_fd = -1;
}

/* Reads what the pipe holds now; at end of file (or an error) closes it. */
static void drain(hd_proc_t *pr)
{
    char tmp[4096];
    for (;;) {
        ssize_t n = read(pr->out_fd, tmp, sizeof(tmp));
        if (n > 0) {
            size_t room = pr->out_size - 1 - pr->out_len;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(pr->out + pr->out_len, tmp, take);
            pr->out_len += take;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        close_out(pr);
        return;
    }
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain(arg);
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_proc_t *pr = arg;
    while (pr->in_sent < pr->in_len) {
        ssize_t w = write(pr->in_fd, pr->in + pr->in_sent, pr->in_len - pr->in_sent);
        if (w > 0) {
            pr->in_sent += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return;
        break; /* EPIPE: the command does not read its input; its exit status decides */
    }
    close_in(pr);
}

static void on_child(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_proc_t *pr = arg;
    pid_t w = waitpid(pr->pid, &pr->status, WNOHANG);
    if (w == 0) {
        if (pr->pidfd < 0) evtimer_add(pr->child_ev, &poll_tv);
        return;
    }
    pr->pid = 0;
    if (pr->out_fd >= 0) drain(pr);
    pr->cb(pr, pr->arg);
}

int hd_proc_start(hd_proc_t *pr, struct event_base *base, const hd_proc_opts_t *o,
                  hd_proc_exit_cb cb, void *arg, char *err, size_t errlen)
{
    int in[2] = {-1, -1}, out[2];
    if (o->in && pipe2(in, O_CLOEXEC) < 0) {
        int e = errno;
        snprintf(err, errlen, "pipe: %s", strerror(e));
        return -e;
    }
    if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        if (in[0] >= 0) close(in[0]), close(in[1]);
        snprintf(err, errlen, "pipe: %s", strerror(e));
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    if (o->in) {
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    } else if (access("/dev/null", R_OK) == 0) {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    } else if (pipe2(in, O_CLOEXEC) == 0) {
        /* Where there is no /dev/null (a bare chroot, a scratch image
         * without /dev) standard input is an empty pipe instead, which
         * reads the same: end of file at once. Without it the spawn would
         * fail as if the command were missing. */
        close(in[1]);
        in[1] = -1;
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    }
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    /* Nothing of heed's but the three standard descriptors: no socket, no
     * database, even one opened without close-on-exec. */
    if (o->close_fds) posix_spawn_file_actions_addclosefrom_np(&fa, 3);
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
    int rc = posix_spawnp(&pid, o->argv[0], &fa, &at, o->argv, o->envp ? o->envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (in[0] >= 0) close(in[0]);
    close(out[1]);
    if (rc != 0) {
        if (in[1] >= 0) close(in[1]);
        close(out[0]);
        snprintf(err, errlen, "cannot run '%s': %s", o->argv[0], strerror(rc));
        return -rc;
    }
    hd_proc_init(pr);
    pr->pid = pid;
    pr->cb = cb;
    pr->arg = arg;
    pr->out = o->out;
    pr->out_size = o->out_size;
    if (o->in) {
        pr->in = o->in;
        pr->in_len = o->in_len;
        pr->in_fd = in[1];
        (void)fcntl(pr->in_fd, F_SETFL, fcntl(pr->in_fd, F_GETFL) | O_NONBLOCK);
        pr->in_ev = event_new(base, pr->in_fd, EV_WRITE | EV_PERSIST, on_in, pr);
        event_add(pr->in_ev, NULL);
    }
    pr->out_fd = out[0];
    pr->out_ev = event_new(base, pr->out_fd, EV_READ | EV_PERSIST, on_out, pr);
    event_add(pr->out_ev, NULL);
    pr->pidfd = open_pidfd(pid);
    if (pr->pidfd >= 0) {
        pr->child_ev = event_new(base, pr->pidfd, EV_READ, on_child, pr);
        event_add(pr->child_ev, NULL);
    } else {
        pr->child_ev = evtimer_new(base, on_child, pr);
        evtimer_add(pr->child_ev, &poll_tv);
    }
    return 0;
}

void hd_proc_kill(hd_proc_t *pr)
{
    if (pr->pid > 0) (void)kill(-pr->pid, SIGKILL); /* the group may be gone already */
}

pid_t hd_proc_release(hd_proc_t *pr, int *pidfd)
{
    close_in(pr);
    close_out(pr);
    if (pr->child_ev) event_free(pr->child_ev);
    pr->child_ev = NULL;
    pid_t pid = pr->pid;
    hd_proc_kill(pr);
    *pidfd = pid > 0 ? pr->pidfd : -1;
    if (pid <= 0 && pr->pidfd >= 0) close(pr->pidfd);
    hd_proc_init(pr);
    return pid > 0 ? pid : 0;
}

void hd_proc_stop(hd_proc_t *pr)
{
    int pidfd;
    pid_t pid = hd_proc_release(pr, &pidfd);
    if (pid > 0) {
        int st;
        (void)waitpid(pid, &st, 0);
    }
    if (pidfd >= 0) close(pidfd);
}
