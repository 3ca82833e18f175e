/* notifier_exec — the exec notifier: a command run without a shell, the
 * event JSON on its standard input and in HEED_* environment variables.
 * Exit status 0 is delivered; any other status, a signal, or the timeout is
 * a retry. The child runs in its own process group and inherits none of
 * heed's descriptors but the three standard ones; at the timeout the group
 * is killed (by the child's pid) and reaped from the loop.
 *
 * The child's plumbing (spawn, stdin, capped output, exit watch, the kill
 * of its group) is util/proc.c's, shared with probe/exec.c. What differs is
 * kept here: a probe judges by the Nagios contract and keeps its output; a
 * notifier only needs exit 0 and the first bytes of output for the reason. */
#include "agent/notifier_impl.h"

#include "util/mem.h"
#include "util/time.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

#define ENV_OUTPUT_MAX 65536 /* bytes of output in HEED_OUTPUT */

void hd_nexec_stop(delivery_t *d)
{
    if (d->deadline_ev) event_free(d->deadline_ev);
    d->deadline_ev = NULL;
    /* Cancelled while it runs: killed, and reaped now. */
    hd_proc_stop(&d->proc);
    d->timed_out = 0;
}

static void on_exit_status(hd_proc_t *pr, void *arg)
{
    delivery_t *d = arg;
    size_t len = pr->out_len;
    while (len && strchr("\r\n ", d->out[len - 1]))
        len--;
    d->out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)d->out[i] < 0x20) d->out[i] = ' ';
    char why[700], secs[32];
    const char *sep = len ? ": " : "";
    hd_notifier_result_t r = HD_NOTIFY_RETRY;
    if (d->timed_out) {
        hd_time_format_duration(hd_notifier_timeout_us(d->n), secs, sizeof(secs));
        snprintf(why, sizeof(why), "timed out after %s (killed)%s%.200s", secs, sep, d->out);
    } else if (WIFSIGNALED(pr->status)) {
        snprintf(why, sizeof(why), "killed by signal %d%s%.200s", WTERMSIG(pr->status), sep,
                 d->out);
    } else if (WEXITSTATUS(pr->status) == 0) {
        snprintf(why, sizeof(why), "exit status 0");
        r = HD_NOTIFY_DELIVERED;
    } else {
        snprintf(why, sizeof(why), "exit status %d%s%.200s", WEXITSTATUS(pr->status), sep, d->out);
    }
    (void)hd_notifier_step(d, r, why);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    delivery_t *d = arg;
    if (d->proc.pid <= 0) return;
    d->timed_out = 1;
    hd_proc_kill(&d->proc); /* its group: what it started dies with it */
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
    /* Linux refuses an environment string over 128 KiB (MAX_ARG_STRLEN):
     * the output is cut to ENV_OUTPUT_MAX bytes, whole UTF-8 characters;
     * the whole of it is in the JSON on standard input. */
    const char *out = jstr(ev, "output");
    size_t olen = strlen(out);
    if (olen > ENV_OUTPUT_MAX) {
        olen = ENV_OUTPUT_MAX;
        while (olen && ((unsigned char)out[olen] & 0xc0) == 0x80)
            olen--;
    }
    char *cut = hd_xstrndup(out, olen);
    env_add(&env, &n, "HEED_OUTPUT", cut);
    free(cut);
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
    char **env = build_env(ev);
    hd_proc_opts_t o = {.argv = n->def.command,
                        .envp = env,
                        .in = d->body.data,
                        .in_len = d->body.len,
                        .close_fds = 1,
                        .out = d->out,
                        .out_size = sizeof(d->out)};
    char err[512];
    int rc = hd_proc_start(&d->proc, n->base, &o, on_exit_status, d, err, sizeof(err));
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
    if (rc < 0) {
        hd_notifier_soon(d, HD_NOTIFY_RETRY, "%s", err);
        return;
    }
    int64_t us = hd_notifier_timeout_us(n);
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    d->deadline_ev = evtimer_new(n->base, on_deadline, d);
    evtimer_add(d->deadline_ev, &tv);
}
