/* proc — one child process on the loop: spawned without a shell in its own
 * process group, its standard input fed from a buffer (or at end of file),
 * its standard output and error drained into a capped buffer, its exit
 * watched through a pidfd (or, where the kernel has none, a 10 ms poll of
 * waitpid). Nothing here blocks but hd_proc_stop's reap of a killed child.
 *
 * It owns the plumbing only. What an exit status means, timeouts, and how
 * a child killed early is reaped belong to the caller: probe/exec.c (the
 * Nagios contract, reaping from the loop) and agent/notifier_exec.c
 * (delivered or retried, reaping at once). cmd/child.c runs a command in
 * the foreground, with no loop, and is apart from this.
 *
 * The process must ignore SIGPIPE (the agent and the probing commands do):
 * a child that exits without reading its input makes the write fail with
 * EPIPE. The child starts with SIGPIPE and SIGCHLD at their defaults and no
 * signal blocked. */
#ifndef HD_PROC_H
#define HD_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct event;
struct event_base;

typedef struct hd_proc_s hd_proc_t;

/* Called once, from the loop, when the child has exited and been reaped
 * (pr->pid is 0 then, pr->status its wait status) and what output was in
 * the pipe at that moment has been read: a grandchild that keeps the pipe
 * open does not hold the exit back. */
typedef void (*hd_proc_exit_cb)(hd_proc_t *pr, void *arg);

typedef struct hd_proc_opts_s {
    char *const *argv; /* argv[0] is looked up in PATH */
    char *const *envp; /* NULL: heed's own environment */
    const char *in;    /* written to standard input, borrowed until exit or stop; NULL: none */
    size_t in_len;
    int close_fds;   /* 1: the child keeps no descriptor above 2, close-on-exec or not */
    char *out;       /* keeps the first out_size - 1 bytes; the rest is read and dropped */
    size_t out_size; /* at least 1 */
} hd_proc_opts_t;

/* The caller owns the struct; the fields are for reading. */
struct hd_proc_s {
    pid_t pid;  /* 0: not started, or reaped */
    int status; /* wait status once reaped */
    int pidfd;  /* -1: none (a timer polls) */
    int in_fd;  /* write end of the child's stdin; -1 when all is written or it failed */
    int out_fd; /* read end of the child's stdout and stderr; -1 at end of file */
    struct event *child_ev, *in_ev, *out_ev;
    const char *in;
    size_t in_len, in_sent;
    char *out;
    size_t out_size, out_len; /* out_len bytes of out are the output so far, not NUL-terminated */
    hd_proc_exit_cb cb;
    void *arg;
};

/* Makes pr idle: no child, no descriptor, no event. */
void hd_proc_init(hd_proc_t *pr);

/* Spawns o->argv on base with pr idle. Standard input is o->in, or else
 * /dev/null (an empty pipe where there is no /dev/null); standard output
 * and error share one pipe. Returns 0, and cb will be called; or a
 * negative errno (a posix_spawn or pipe error) with err holding "pipe: ..."
 * or "cannot run 'argv0': ...", pr idle, and cb never called. */
int hd_proc_start(hd_proc_t *pr, struct event_base *base, const hd_proc_opts_t *o,
                  hd_proc_exit_cb cb, void *arg, char *err, size_t errlen);

/* Sends SIGKILL to the child's whole process group, if the child has not
 * been reaped; what it started dies with it. The exit callback follows. */
void hd_proc_kill(hd_proc_t *pr);

/* Ends the watch: kills a child not yet reaped (its group), frees the
 * events and closes the pipes; cb will not be called. Returns the pid of
 * that child, and moves its pidfd (or -1) to *pidfd, for the caller to
 * reap; returns 0 when there is none, with *pidfd -1. pr is idle after. */
pid_t hd_proc_release(hd_proc_t *pr, int *pidfd);

/* hd_proc_release, then a blocking reap of the killed child (SIGKILL takes
 * effect at once unless the child is stuck in the kernel). pr is idle after. */
void hd_proc_stop(hd_proc_t *pr);

#endif
