/* child — running the command of a lock or a watch (see child.h). */
#include "cmd/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t hd_child_stop;
/* The signals received and not yet passed on (SIGINT, SIGTERM, SIGHUP). */
static const int passed_on[] = {SIGINT, SIGTERM, SIGHUP};
#define NPASSED (sizeof(passed_on) / sizeof(*passed_on))
static volatile sig_atomic_t pending[NPASSED];

static void on_signal(int sig)
{
    for (size_t i = 0; i < NPASSED; i++)
        if (sig == passed_on[i]) {
            hd_child_stop = sig;
            pending[i] = 1;
        }
    /* SIGCHLD: only to cut ppoll short */
}

void hd_child_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
        sigaction(sigs[i], &sa, NULL);
    /* A command that stops reading its stdin must not kill heed. */
    signal(SIGPIPE, SIG_IGN);
}

pid_t hd_child_start(const char *cmd, char *const argv[], const char *const *env, const char *data,
                     size_t len)
{
    int fds[2] = {-1, -1};
    if (data && pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "heed %s: cannot run '%s': pipe: %s\n", cmd, argv[0], strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "heed %s: cannot run '%s': fork: %s\n", cmd, argv[0], strerror(errno));
        if (data) close(fds[0]), close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* The command starts with the signals as heed found them. */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
            sigaction(sigs[i], &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (data && dup2(fds[0], STDIN_FILENO) < 0) _exit(126);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]); /* the child's own copy of the environment */
        execvp(argv[0], argv);
        int err = errno;
        fprintf(stderr, "heed %s: cannot run '%s': %s\n", cmd, argv[0], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    if (data) {
        close(fds[0]);
        /* A command that exits without reading: EPIPE, and SIGPIPE is
         * ignored. A large value and a command that neither reads nor
         * exits would block here, as a shell's pipe would. */
        for (size_t off = 0; off < len;) {
            ssize_t n = write(fds[1], data + off, len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += (size_t)n;
        }
        close(fds[1]);
    }
    return pid;
}

static int shell_code(int status)
{
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hd_child_wait(pid_t pid, long timeout_ms, int *code)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGCHLD);
    long long end = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        /* Signals blocked from the checks to ppoll, which unblocks them:
         * one that arrives in between cuts ppoll short. */
        sigprocmask(SIG_BLOCK, &block, &old);
        for (size_t i = 0; i < NPASSED; i++)
            if (pending[i]) {
                pending[i] = 0;
                kill(pid, passed_on[i]);
            }
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD)) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            *code = w == pid ? shell_code(status) : 1;
            return 1;
        }
        long long left = end < 0 ? 1000 : end - now_ms();
        if (left <= 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            return 0;
        }
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
        (void)ppoll(NULL, 0, &ts, &old); /* EINTR is the point */
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
}

void hd_child_end(pid_t pid, long grace_ms, int *code)
{
    kill(pid, SIGTERM);
    if (hd_child_wait(pid, grace_ms, code)) return;
    kill(pid, SIGKILL);
    hd_child_wait(pid, -1, code);
}

void hd_child_sleep(long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    (void)nanosleep(&ts, NULL); /* a signal cuts it short: the caller looks at hd_child_stop */
}
