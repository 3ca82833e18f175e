/* exec — exec:CMD ARGS runs a command without a shell and judges its exit
 * status by the Nagios plugin contract: 0 passing, 1 warning, 2 critical,
 * anything else (3 = unknown) critical. Its standard output and error are
 * captured (first HD_PROBE_OUTPUT_MAX bytes). The child runs in its own
 * process group; at the deadline the whole group is killed and reaped from
 * the loop, never by a blocking wait, except when the loop itself ends
 * (hd_exec_reap_all). Spawning, the output pipe and the exit watch are
 * util/proc.c's; the verdict and the reapers are this file's. */
#include "probe/probe_impl.h"
#include "util/mem.h"
#include "util/proc.h"
#include "util/time.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct exec_s {
    hd_probe_t *p;
    hd_proc_t proc;
    char out[HD_PROBE_OUTPUT_MAX];
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

static void on_done(hd_proc_t *pr, void *arg)
{
    exec_t *x = arg;
    size_t len = pr->out_len;
    while (len && (x->out[len - 1] == '\n' || x->out[len - 1] == '\r' || x->out[len - 1] == ' '))
        len--;
    x->out[len] = '\0';
    const char *out = x->out;
    if (WIFSIGNALED(pr->status)) {
        hd_probe_done(x->p, HD_STATUS_CRITICAL, HD_R_EXEC_SIGNAL, "killed by signal %d%s%s",
                      WTERMSIG(pr->status), *out ? ": " : "", out);
        return;
    }
    int code = WEXITSTATUS(pr->status);
    if (code == 0) {
        hd_probe_done(x->p, HD_STATUS_PASSING, HD_R_OK, "%s", out);
        return;
    }
    hd_probe_done(x->p, code == 1 ? HD_STATUS_WARNING : HD_STATUS_CRITICAL, HD_R_EXEC_STATUS,
                  "exit status %d%s%s", code, *out ? ": " : "", out);
}

static void exec_stop(hd_probe_t *p)
{
    exec_t *x = p->impl;
    if (!x) return;
    int pidfd;
    pid_t pid = hd_proc_release(&x->proc, &pidfd); /* killed, if it still ran */
    if (pid > 0) {
        reaper_t *r = hd_xcalloc(1, sizeof(*r));
        r->env = p->env;
        r->next = p->env->reapers;
        if (r->next) r->next->prev = r;
        p->env->reapers = r;
        r->pid = pid;
        r->pidfd = pidfd;
        r->ev = r->pidfd >= 0 ? event_new(p->env->base, r->pidfd, EV_READ, on_reap, r)
                              : evtimer_new(p->env->base, on_reap, r);
        event_add(r->ev, r->pidfd >= 0 ? NULL : &poll_tv);
    }
    free(x);
    p->impl = NULL;
}

static int exec_start(hd_probe_t *p)
{
    exec_t *x = hd_xcalloc(1, sizeof(*x));
    x->p = p;
    hd_proc_init(&x->proc);
    p->impl = x;
    hd_proc_opts_t o = {.argv = p->t->argv, .out = x->out, .out_size = sizeof(x->out)};
    char err[HD_PROBE_OUTPUT_MAX];
    int rc = hd_proc_start(&x->proc, p->env->base, &o, on_done, x, err, sizeof(err));
    if (rc < 0) {
        /* No such command, or not one that can run: trying again will not
         * help (hd_reason_permanent). Anything else (EAGAIN, ENOMEM, no
         * pipe) may. */
        int missing = rc == -ENOENT || rc == -EACCES || rc == -ENOEXEC || rc == -ENOTDIR;
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, missing ? HD_R_EXEC_NOT_FOUND : HD_R_EXEC_SPAWN,
                           "%s", err);
    }
    return 0;
}

const hd_probe_kind_t hd_probe_exec = {exec_start, exec_stop};
