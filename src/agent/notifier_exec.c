/* notifier_exec — the exec notifier: a command run without a shell, the
 * event JSON on its standard input and in HEED_* environment variables.
 * Exit status 0 is delivered; any other status, a signal, or the timeout is
 * a retry. The child runs in its own process group and inherits none of
 * heed's descriptors but the three standard ones; at the timeout the group
 * is killed (by the child's pid) and reaped from the loop.
 *
 * Like probe/exec.c, and apart from it: a probe judges by the Nagios
 * contract and keeps its output; a notifier only needs exit 0 and the
 * first bytes of output for the reason. */
#include "agent/notifier_impl.h"

#include "util/mem.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const struct timeval poll_tv = {0, 10000}; /* without pidfd: poll every 10 ms */

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
#else
    (void)pid;
#endif
    return -1;
}

static void close_in(delivery_t *d)
{
    if (d->in_ev) event_free(d->in_ev);
    d->in_ev = NULL;
    if (d->in_fd >= 0) close(d->in_fd);
    d->in_fd = -1;
}

static void close_out(delivery_t *d)
{
    if (d->out_ev) event_free(d->out_ev);
    d->out_ev = NULL;
    if (d->out_fd >= 0) close(d->out_fd);
    d->out_fd = -1;
}

void hd_nexec_stop(delivery_t *d)
{
    close_in(d);
    close_out(d);
    if (d->deadline_ev) event_free(d->deadline_ev);
    if (d->child_ev) event_free(d->child_ev);
    d->deadline_ev = d->child_ev = NULL;
    if (d->pid > 0) {
        /* Cancelled while it runs: killed, and reaped now (SIGKILL takes
         * effect at once unless the child is stuck in the kernel). */
        (void)kill(-d->pid, SIGKILL);
        int st;
        (void)waitpid(d->pid, &st, 0);
        d->pid = 0;
    }
    if (d->pidfd >= 0) close(d->pidfd);
    d->pidfd = -1;
    d->out_len = 0;
    d->timed_out = 0;
}

static void drain(delivery_t *d)
{
    char tmp[4096];
    for (;;) {
        ssize_t r = read(d->out_fd, tmp, sizeof(tmp));
        if (r > 0) {
            size_t room = sizeof(d->out) - 1 - d->out_len;
            size_t take = (size_t)r < room ? (size_t)r : room;
            memcpy(d->out + d->out_len, tmp, take);
            d->out_len += take;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        close_out(d);
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
    delivery_t *d = arg;
    while (d->sent < d->body.len) {
        ssize_t w = write(d->in_fd, d->body.data + d->sent, d->body.len - d->sent);
        if (w > 0) {
            d->sent += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return;
        break; /* EPIPE: the command does not read its input; its exit status decides */
    }
    close_in(d);
}

static void on_child(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    delivery_t *d = arg;
    pid_t w = waitpid(d->pid, &d->status, WNOHANG);
    if (w == 0) {
        if (d->pidfd < 0) evtimer_add(d->child_ev, &poll_tv);
        return;
    }
    d->pid = 0;
    if (d->out_fd >= 0) drain(d);
    while (d->out_len && strchr("\r\n ", d->out[d->out_len - 1]))
        d->out_len--;
    d->out[d->out_len] = '\0';
    for (size_t i = 0; i < d->out_len; i++)
        if ((unsigned char)d->out[i] < 0x20) d->out[i] = ' ';
    char why[700], secs[32];
    const char *sep = d->out_len ? ": " : "";
    hd_notifier_result_t r = HD_NOTIFY_RETRY;
    if (d->timed_out) {
        hd_time_format_duration(hd_notifier_timeout_us(d->n), secs, sizeof(secs));
        snprintf(why, sizeof(why), "timed out after %s (killed)%s%.200s", secs, sep, d->out);
    } else if (WIFSIGNALED(d->status)) {
        snprintf(why, sizeof(why), "killed by signal %d%s%.200s", WTERMSIG(d->status), sep, d->out);
    } else if (WEXITSTATUS(d->status) == 0) {
        snprintf(why, sizeof(why), "exit status 0");
        r = HD_NOTIFY_DELIVERED;
    } else {
        snprintf(why, sizeof(why), "exit status %d%s%.200s", WEXITSTATUS(d->status), sep, d->out);
    }
    (void)hd_notifier_step(d, r, why);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    delivery_t *d = arg;
    if (d->pid <= 0) return;
    d->timed_out = 1;
    (void)kill(-d->pid, SIGKILL); /* its group: what it started dies with it */
}

static void env_add(char ***env, size_t *n, const char *name, const char *value)
{
    hd_buf_t b = {0};
    hd_buf_printf(&b, "%s=%s", name, value ? value : "");
    *env = hd_xrealloc(*env, (*n + 2) * sizeof(**env));
    (*env)[(*n)++] = b.data;
    (*env)[*n] = NULL;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* heed's environment without any HEED_ variable, then the event's. */
static char **build_env(const json_t *ev)
{
    char **env = NULL;
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "HEED_", 5) != 0) {
            env = hd_xrealloc(env, (n + 2) * sizeof(*env));
            env[n++] = hd_xstrdup(*e);
            env[n] = NULL;
        }
    const json_t *check = json_object_get(ev, "check"), *svc = json_object_get(ev, "service");
    hd_buf_t sum = {0}, tags = {0};
    hd_tmpl_summary(ev, &sum);
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(check, "tags"), i, t) hd_buf_printf(
        &tags, "%s%s", i ? "," : "", json_string_value(t) ? json_string_value(t) : "");
    env_add(&env, &n, "HEED_EVENT_ID", jstr(ev, "id"));
    env_add(&env, &n, "HEED_EVENT_KIND", jstr(ev, "kind"));
    env_add(&env, &n, "HEED_EVENT_TIME", jstr(ev, "time"));
    env_add(&env, &n, "HEED_SINCE", jstr(ev, "since"));
    env_add(&env, &n, "HEED_NODE", jstr(ev, "node"));
    env_add(&env, &n, "HEED_CHECK_ID", jstr(check, "id"));
    env_add(&env, &n, "HEED_CHECK_NAME", jstr(check, "name"));
    env_add(&env, &n, "HEED_CHECK_TAGS", tags.data);
    env_add(&env, &n, "HEED_TENANT", jstr(check, "tenant"));
    env_add(&env, &n, "HEED_SERVICE", jstr(svc, "name"));
    env_add(&env, &n, "HEED_SERVICE_ID", jstr(svc, "id"));
    env_add(&env, &n, "HEED_STATUS", jstr(ev, "status"));
    env_add(&env, &n, "HEED_OLD_STATUS", jstr(ev, "old_status"));
    env_add(&env, &n, "HEED_OUTPUT", jstr(ev, "output"));
    env_add(&env, &n, "HEED_SUMMARY", sum.data);
    env_add(&env, &n, "HEED_FLAPPING", json_is_true(json_object_get(ev, "flapping")) ? "1" : "0");
    hd_buf_free(&sum);
    hd_buf_free(&tags);
    return env;
}

void hd_nexec_start(delivery_t *d)
{
    hd_notifier_t *n = d->n;
    const json_t *ev = d->events[d->idx];
    char *s = json_dumps(ev, JSON_COMPACT);
    hd_buf_puts(&d->body, s ? s : "{}");
    hd_buf_puts(&d->body, "\n");
    free(s);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0) {
        hd_notifier_soon(d, HD_NOTIFY_RETRY, "pipe: %s", strerror(errno));
        return;
    }
    if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0) {
        close(in[0]);
        close(in[1]);
        hd_notifier_soon(d, HD_NOTIFY_RETRY, "pipe: %s", strerror(errno));
        return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    /* Nothing of heed's but the three standard descriptors: no socket, no
     * database, even one opened without close-on-exec. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
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
    char **env = build_env(ev);
    pid_t pid;
    char *const *argv = n->def.command;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, env);
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        hd_notifier_soon(d, HD_NOTIFY_RETRY, "cannot run '%s': %s", argv[0], strerror(rc));
        return;
    }
    d->pid = pid;
    d->in_fd = in[1];
    (void)fcntl(d->in_fd, F_SETFL, fcntl(d->in_fd, F_GETFL) | O_NONBLOCK);
    d->in_ev = event_new(n->base, d->in_fd, EV_WRITE | EV_PERSIST, on_in, d);
    event_add(d->in_ev, NULL);
    d->out_fd = out[0];
    d->out_ev = event_new(n->base, d->out_fd, EV_READ | EV_PERSIST, on_out, d);
    event_add(d->out_ev, NULL);
    d->pidfd = open_pidfd(pid);
    if (d->pidfd >= 0) {
        d->child_ev = event_new(n->base, d->pidfd, EV_READ, on_child, d);
        event_add(d->child_ev, NULL);
    } else {
        d->child_ev = evtimer_new(n->base, on_child, d);
        evtimer_add(d->child_ev, &poll_tv);
    }
    int64_t us = hd_notifier_timeout_us(n);
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    d->deadline_ev = evtimer_new(n->base, on_deadline, d);
    evtimer_add(d->deadline_ev, &tv);
}
