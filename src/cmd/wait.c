/* wait — `heed wait TARGET... [-- COMMAND ARGS...]`, the readiness gate.
 *
 * Every target is probed in parallel on one loop, retried on the schedule
 * of util/backoff.h until it is ready (or, with --any, until one is), then
 * heed exits 0 or execs COMMAND in its own place. Exit 124 on timeout, as
 * timeout(1) and wait-for-it; 2 on usage errors, and at once when a target
 * fails for a reason that no retry can cure (hd_reason_permanent: no such
 * command, a kind this build cannot probe). */
#include "cmd/cmd.h"
#include "probe/probe.h"
#include "probe/target.h"
#include "util/backoff.h"
#include "util/mem.h"
#include "util/tlsfiles.h"
#include "util/time.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <unistd.h>

#define EXIT_TIMEOUT 124
#define EXIT_FAILED  2   /* a target failed for good */
#define LAST_MAX     256 /* bytes of the last error kept per target */

typedef struct wait_s wait_t;

typedef struct wtarget_s {
    hd_target_t t;
    wait_t *w;
    hd_probe_t *probe;   /* the attempt in flight, or NULL */
    struct event *retry; /* the next attempt */
    int ready;
    int failed; /* failed for a permanent reason: not retried */
    int attempts;
    int64_t attempt_start_us;
    int cut_short;    /* the wait's deadline shortened the attempt in flight */
    int64_t ready_us; /* when it became ready, from the wait's start */
    hd_reason_t last_reason; /* of the last attempt, ready or not */
    char last[LAST_MAX];     /* first line of the last attempt's output */
} wtarget_t;

struct wait_s {
    struct event_base *base;
    hd_probe_env_t env;
    wtarget_t *targets;
    int n;
    int nready, nfailed;
    int any, quiet, json, tty;
    int64_t timeout_us, interval_us, max_interval_us, attempt_timeout_us;
    int64_t start_us;
    struct event *deadline;
    struct event *progress;
    int done; /* 1 ready, -1 timed out, -2 a target failed for good */
};

static void attempt(wtarget_t *wt);

static void finish(wait_t *w, int how)
{
    if (w->done) return;
    w->done = how;
    event_base_loopbreak(w->base);
}

static void first_line(char *dst, size_t dstlen, const char *src)
{
    size_t n = strcspn(src, "\r\n");
    if (n >= dstlen) n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void on_result(const hd_result_t *res, void *arg)
{
    wtarget_t *wt = arg;
    wait_t *w = wt->w;
    wt->probe = NULL;
    wt->attempts++;
    int64_t now = hd_time_now_us();
    if (res->status == HD_STATUS_PASSING) {
        wt->ready = 1;
        wt->ready_us = now - w->start_us;
        wt->last_reason = res->reason;
        first_line(wt->last, sizeof(wt->last), res->output);
        w->nready++;
        if (!w->quiet && !w->json) {
            if (w->tty) fputs("\r\033[K", stderr);
            char secs[32];
            hd_time_format_secs(wt->ready_us, secs, sizeof(secs));
            /* Ready, but the login was refused or not tried: say so, as
             * the agent does (README: authentication failures); with
             * --tls-refuses, the weakest version the server accepts. */
            int auth = res->reason == HD_R_AUTH_FAILED || res->reason == HD_R_AUTH_REQUIRED ||
                       (wt->t.kind == HD_KIND_TLS && wt->t.tls.refuse); /* and the floor */
            fprintf(stderr, "heed: %s ready (%d attempt%s, %s)%s%s\n", wt->t.display, wt->attempts,
                    wt->attempts == 1 ? "" : "s", secs, auth ? ": " : "", auth ? wt->last : "");
        }
        if (w->any || w->nready == w->n) finish(w, 1);
        return;
    }
    /* An attempt that the wait's own deadline cut short only says "timed
     * out"; the answer before it tells why the target is not ready. */
    if (!(wt->cut_short && res->reason == HD_R_TIMEOUT && wt->last[0])) {
        wt->last_reason = res->reason;
        first_line(wt->last, sizeof(wt->last),
                   res->output[0] ? res->output : hd_reason_str(res->reason));
    }
    if (hd_reason_permanent(res->reason)) {
        /* No retry can cure it: give up on this target now, and on the
         * wait when no ready target can still be enough. */
        wt->failed = 1;
        w->nfailed++;
        if (!w->any || w->nfailed == w->n) finish(w, -2);
        return;
    }
    int64_t gap = hd_backoff_interval(now - w->start_us, w->interval_us, w->max_interval_us);
    int64_t delay = wt->attempt_start_us + gap - now;
    if (delay < 0) delay = 0;
    struct timeval tv = {(time_t)(delay / HD_USEC_PER_SEC), (suseconds_t)(delay % HD_USEC_PER_SEC)};
    evtimer_add(wt->retry, &tv);
}

static void attempt(wtarget_t *wt)
{
    wait_t *w = wt->w;
    int64_t now = hd_time_now_us();
    int64_t budget = w->attempt_timeout_us;
    if (w->timeout_us > 0) {
        int64_t left = w->start_us + w->timeout_us - now;
        if (left < budget) budget = left;
    }
    wt->attempt_start_us = now;
    wt->cut_short = budget < w->attempt_timeout_us;
    int rc = hd_probe_start(&w->env, &wt->t, budget, on_result, wt, &wt->probe);
    if (rc < 0) {
        /* Cannot even start (out of descriptors, say): count it and retry. */
        hd_result_t res = {.status = HD_STATUS_CRITICAL, .reason = HD_R_CONNECT_FAIL};
        snprintf(res.output, sizeof(res.output), "cannot start probe: %s", strerror(-rc));
        on_result(&res, wt);
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    attempt(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg, -1);
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wait_t *w = arg;
    char secs[32];
    hd_time_format_secs(hd_time_now_us() - w->start_us, secs, sizeof(secs));
    const wtarget_t *pending = NULL;
    for (int i = 0; i < w->n && !pending; i++)
        if (!w->targets[i].ready && !w->targets[i].failed) pending = &w->targets[i];
    fprintf(stderr, "\r\033[Kheed: waiting %s, %d/%d ready", secs, w->nready, w->n);
    if (pending)
        fprintf(stderr, "; %s: %s", pending->t.display,
                pending->attempts ? pending->last : "connecting");
    fflush(stderr);
}

static void report_json(const wait_t *w)
{
    int64_t now = hd_time_now_us();
    for (int i = 0; i < w->n; i++) {
        const wtarget_t *wt = &w->targets[i];
        json_t *o = json_object();
        json_object_set_new(o, "target", json_string(wt->t.display));
        json_object_set_new(o, "ready", json_boolean(wt->ready));
        json_object_set_new(o, "attempts", json_integer(wt->attempts));
        json_object_set_new(o, "elapsed_ms",
                            json_integer((wt->ready ? wt->ready_us : now - w->start_us) / 1000));
        if (wt->ready) {
            /* "ok", or "auth_failed"/"auth_required" with the output
             * saying what the server answered. */
            json_object_set_new(o, "last_error", json_null());
            json_object_set_new(o, "reason", json_string(hd_reason_name(wt->last_reason)));
            json_object_set_new(o, "output", json_string(wt->last));
        } else if (!wt->attempts) {
            json_object_set_new(o, "last_error", json_string("no attempt finished"));
            json_object_set_new(o, "reason", json_null());
            json_object_set_new(o, "output", json_null());
        } else {
            json_object_set_new(o, "last_error", json_string(wt->last));
            json_object_set_new(o, "reason", json_string(hd_reason_name(wt->last_reason)));
            json_object_set_new(o, "output", json_null());
        }
        json_object_set_new(o, "permanent", json_boolean(wt->failed));
        char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s) puts(s);
        free(s);
        json_decref(o);
    }
    fflush(stdout);
}

static void report_timeout(const wait_t *w)
{
    char secs[32];
    hd_time_format_secs(hd_time_now_us() - w->start_us, secs, sizeof(secs));
    for (int i = 0; i < w->n; i++) {
        const wtarget_t *wt = &w->targets[i];
        if (wt->ready) continue;
        fprintf(stderr, "heed: %s: %s (%d attempt%s, %s%s)\n", wt->t.display,
                wt->attempts ? wt->last : "no attempt finished", wt->attempts,
                wt->attempts == 1 ? "" : "s", secs, wt->failed ? "; not retried" : "");
    }
}

static int parse_status(const char *s, hd_http_expect_t *x)
{
    x->nstatus = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 100 || v > 599 || (*end && *end != ',')) return -1;
        if (x->nstatus == HD_HTTP_STATUS_MAX) return -1;
        if (!x->status) x->status = hd_xcalloc(HD_HTTP_STATUS_MAX, sizeof(*x->status));
        x->status[x->nstatus++] = (int)v;
        p = *end ? end + 1 : end;
        if (*end && !*p) return -1; /* trailing comma */
    }
    return x->nstatus ? 0 : -1;
}

static int run_wait(int argc, char **argv)
{
    wait_t w;
    memset(&w, 0, sizeof(w));
    w.timeout_us = 60 * HD_USEC_PER_SEC;
    w.interval_us = 10 * HD_USEC_PER_MSEC;
    w.max_interval_us = 500 * HD_USEC_PER_MSEC;
    w.attempt_timeout_us = 5 * HD_USEC_PER_SEC;
    hd_http_expect_t http = {0};
    char **cmd = NULL;
    const char **urls = hd_xcalloc((size_t)argc, sizeof(char *));
    int nurls = 0, rc = HD_EXIT_USAGE;
    /* tls: a readiness gate wants a valid certificate; a short-lived one
     * (step-ca issues 24-hour certificates) is ready unless asked. */
    int cert_days = 0;
    hd_tls_files_t files = {0}; /* https, tls: --cacert, --cert, --key */
    unsigned refuse = 0;        /* tls: --tls-refuses */

    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (i + 1 >= argc) {
                hd_cmd_usage_error("wait", "'--' must be followed by a command");
                goto out;
            }
            cmd = argv + i + 1;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            urls[nurls++] = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        /* -t2s, as getopt reads a short flag's value attached to it. */
        char *attached = NULL;
        if (a[1] == 't' && a[2] && a[2] != '=') {
            attached = a + 2;
            nl = 2;
        }
        snprintf(name, sizeof(name), "%.*s", (int)nl, a);
        const char *val;
        int64_t *dur = NULL;
        if (!strcmp(name, "--any"))
            w.any = 1;
        else if (!strcmp(name, "-q") || !strcmp(name, "--quiet"))
            w.quiet = 1;
        else if (!strcmp(name, "--json"))
            w.json = 1;
        else if (!strcmp(name, "--follow"))
            http.follow = 1;
        else if (!strcmp(name, "--insecure") || !strcmp(name, "-k"))
            http.insecure = 1;
        else if (!strcmp(name, "-t") || !strcmp(name, "--timeout"))
            dur = &w.timeout_us;
        else if (!strcmp(name, "--interval"))
            dur = &w.interval_us;
        else if (!strcmp(name, "--max-interval"))
            dur = &w.max_interval_us;
        else if (!strcmp(name, "--attempt-timeout"))
            dur = &w.attempt_timeout_us;
        else if (!strcmp(name, "--status")) {
            if (!(val = hd_cmd_flag_value("wait", argc, argv, &i, eq))) goto out;
            if (parse_status(val, &http) < 0) {
                hd_cmd_usage_error("wait", "invalid --status '%s' (expected codes like 200,204)",
                                   val);
                goto out;
            }
            continue;
        } else if (!strcmp(name, "--body-contains")) {
            if (!(val = hd_cmd_flag_value("wait", argc, argv, &i, eq))) goto out;
            if (!*val) {
                hd_cmd_usage_error("wait", "--body-contains needs a non-empty text");
                goto out;
            }
            free(http.body_contains);
            http.body_contains = hd_xstrdup(val);
            continue;
        } else if (!strcmp(name, "--cacert") || !strcmp(name, "--cert") || !strcmp(name, "--key")) {
            if (!(val = hd_cmd_flag_value("wait", argc, argv, &i, eq))) goto out;
            char **slot = !strcmp(name, "--cacert") ? &files.ca_file
                          : !strcmp(name, "--cert") ? &files.cert_file
                                                    : &files.key_file;
            free(*slot);
            *slot = hd_xstrdup(val);
            continue;
        } else if (!strcmp(name, "--tls-refuses")) {
            if (!(val = hd_cmd_flag_value("wait", argc, argv, &i, eq))) goto out;
            char err[128];
            if (hd_tls_versions_parse(val, &refuse, err, sizeof(err)) < 0) {
                hd_cmd_usage_error("wait", "--tls-refuses: %s", err);
                goto out;
            }
            continue;
        } else if (!strcmp(name, "--cert-days-left")) {
            if (!(val = hd_cmd_flag_value("wait", argc, argv, &i, eq))) goto out;
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (end == val || *end || errno || v < 0 || v > 36500) {
                hd_cmd_usage_error("wait", "invalid --cert-days-left '%s' (expected 0-36500 days)",
                                   val);
                goto out;
            }
            cert_days = (int)v;
            continue;
        } else {
            hd_cmd_usage_error("wait", "unknown flag '%s'", name);
            goto out;
        }
        if (dur) {
            char err[128];
            if (attached)
                val = attached;
            else if (!(val = hd_cmd_flag_value("wait", argc, argv, &i, eq)))
                goto out;
            if (hd_time_parse_duration(val, dur, err, sizeof(err)) < 0) {
                hd_cmd_usage_error("wait", "%s: %s", name, err);
                goto out;
            }
            if (dur != &w.timeout_us && *dur == 0) {
                hd_cmd_usage_error("wait", "%s must be greater than 0", name);
                goto out;
            }
        } else if (eq) {
            hd_cmd_usage_error("wait", "flag '%s' takes no value", name);
            goto out;
        }
    }
    if (nurls == 0) {
        hd_cmd_usage_error("wait", "no target given");
        goto out;
    }
    if (hd_tls_files_any(&files)) {
        /* The CLI's rules and messages for its own TLS files. */
        static const char *const names[3] = {"--cacert", "--cert", "--key"};
        char err[PATH_MAX + 128];
        if (hd_tls_files_check(&files, names, err, sizeof(err)) < 0) {
            hd_cmd_usage_error("wait", "%s", err);
            goto out;
        }
    }

    w.n = nurls;
    int tls_targets = 0;
    w.targets = hd_xcalloc((size_t)nurls, sizeof(wtarget_t));
    for (int i = 0; i < nurls; i++) {
        char err[256];
        hd_target_t *t = &w.targets[i].t;
        if (hd_target_parse(urls[i], t, err, sizeof(err)) < 0) {
            char *shown = hd_target_redact(urls[i]); /* the password, if any, as "***" */
            hd_cmd_usage_error("wait", "%s: %s", shown, err);
            free(shown);
            w.n = i;
            goto out;
        }
        if (t->kind == HD_KIND_HTTP) {
            t->http = http; /* each target owns copies of the lists */
            t->http.status = NULL;
            if (http.nstatus) {
                t->http.status = hd_xcalloc((size_t)http.nstatus, sizeof(*t->http.status));
                memcpy(t->http.status, http.status, (size_t)http.nstatus * sizeof(*t->http.status));
            }
            t->http.body_contains = http.body_contains ? hd_xstrdup(http.body_contains) : NULL;
        }
        if (t->kind == HD_KIND_TLS)
            t->tls = (hd_tls_expect_t){
                .cert_days_left = cert_days, .insecure = http.insecure, .refuse = refuse};
        if (t->kind == HD_KIND_TLS ||
            (t->kind == HD_KIND_HTTP && !strncasecmp(t->url, "https:", 6))) {
            hd_tls_files_copy(&t->tls_files, &files);
            tls_targets++;
        }
        w.targets[i].w = &w;
    }
    if (hd_tls_files_any(&files) && !tls_targets) {
        hd_cmd_usage_error("wait", "--cacert, --cert and --key are for https:// and tls:// "
                                   "targets, and none is given");
        goto out;
    }

    /* Precise timers (timerfd): epoll's millisecond timeouts round every
     * 10 ms retry up to 11-12 ms, which shows in the readiness lag. */
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    w.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!w.base) {
        fprintf(stderr, "heed wait: cannot create the event loop\n");
        rc = 1;
        goto out;
    }
    hd_probe_env_init(&w.env, w.base);
    w.tty = !w.quiet && !w.json && isatty(2);
    w.start_us = hd_time_now_us();
    if (w.timeout_us > 0) {
        w.deadline = evtimer_new(w.base, on_deadline, &w);
        struct timeval tv = {(time_t)(w.timeout_us / HD_USEC_PER_SEC),
                             (suseconds_t)(w.timeout_us % HD_USEC_PER_SEC)};
        evtimer_add(w.deadline, &tv);
    }
    if (w.tty) {
        w.progress = event_new(w.base, -1, EV_PERSIST, on_progress, &w);
        struct timeval tv = {0, 200000};
        evtimer_add(w.progress, &tv);
    }
    for (int i = 0; i < w.n; i++) {
        w.targets[i].retry = evtimer_new(w.base, on_retry, &w.targets[i]);
        attempt(&w.targets[i]);
    }
    event_base_dispatch(w.base);
    if (w.tty) fputs("\r\033[K", stderr);

    if (w.json) report_json(&w);
    if (w.done == 1) {
        rc = 0;
    } else if (w.done == -2) {
        if (!w.quiet && !w.json) report_timeout(&w);
        rc = EXIT_FAILED;
    } else {
        if (!w.quiet && !w.json) report_timeout(&w);
        rc = EXIT_TIMEOUT;
    }

out:
    for (int i = 0; i < w.n; i++) {
        if (w.targets[i].probe) hd_probe_cancel(w.targets[i].probe);
        if (w.targets[i].retry) event_free(w.targets[i].retry);
        hd_target_free(&w.targets[i].t);
    }
    free(w.targets);
    if (w.deadline) event_free(w.deadline);
    if (w.progress) event_free(w.progress);
    if (w.base) {
        hd_probe_env_close(&w.env);
        event_base_free(w.base);
    }
    free(http.status);
    free(http.body_contains);
    hd_tls_files_free(&files);
    free(urls);
    if (rc == 0 && cmd) {
        fflush(stdout);
        fflush(stderr);
        execvp(cmd[0], cmd);
        int err = errno;
        fprintf(stderr, "heed wait: cannot run '%s': %s\n", cmd[0], strerror(err));
        return err == ENOENT ? 127 : 126;
    }
    return rc;
}

const hd_cmd_t hd_cmd_wait = {
    "wait",
    run_wait,
    "wait until services are ready, then run a command",
    "usage: heed wait [flags] TARGET... [-- COMMAND ARGS...]\n"
    "\n"
    "Waits until every TARGET is ready (with --any, one), then exits 0 or runs\n"
    "COMMAND in heed's place (same pid; its exit status is the result). On\n"
    "timeout, prints why each target is not ready and exits 124 without running\n"
    "COMMAND. A failure that no retry can cure (no such command, a kind this\n"
    "build cannot probe) ends the wait at once with exit 2, as usage errors do;\n"
    "a refused connection is retried.\n"
    "\n"
    "Targets:\n"
    "  tcp://HOST:PORT                  a connection is accepted\n"
    "  unix:///PATH                     a connection to the socket is accepted\n"
    "  http://... https://...           a 2xx answer (see --status, --body-contains)\n"
    "  postgres://[USER@]HOST[:PORT][/DB]\n"
    "                                   the server completes a startup exchange (not\n"
    "                                   while it is starting up or in recovery); an\n"
    "                                   authentication failure counts as ready: the\n"
    "                                   server is up and checking logins (heed says so)\n"
    "  mysql://[USER@]HOST[:PORT]       the server sends its greeting, not an error;\n"
    "                                   with USER, heed also tries to log in without\n"
    "                                   a password and says how the server answered\n"
    "  redis://[:PASSWORD@]HOST[:PORT][/DB]\n"
    "                                   PING answers PONG (not LOADING)\n"
    "  file:///PATH                     the path exists\n"
    "  'exec:COMMAND ARGS'              the command exits 0 (no shell; quotes work)\n"
    "  icmp://HOST                      the host answers an ICMP echo request\n"
    "  tls://HOST[:PORT]                a TLS handshake with a certificate that verifies\n"
    "                                   for HOST and has not expired (port 443)\n"
    "  'dns://NAME[?type=T&server=ADDR[:PORT]&expect=VALUE]'\n"
    "                                   NAME has records of type T (A, AAAA, CNAME, MX,\n"
    "                                   NS, TXT; default A), one equal to VALUE if given\n"
    "\n"
    "Flags:\n"
    "  -t, --timeout DUR        give up after DUR (default 60s; 0 = never; -t2s too)\n"
    "      --any                one ready target is enough\n"
    "      --interval DUR       time between attempts at first (default 10ms)\n"
    "      --max-interval DUR   the interval grows to at most this (default 500ms)\n"
    "      --attempt-timeout DUR  limit for one attempt (default 5s)\n"
    "      --status LIST        http: accepted status codes, e.g. 200,204\n"
    "      --body-contains TEXT http: the body must contain TEXT\n"
    "      --follow             http: follow redirects\n"
    "  -k, --insecure           https, tls: do not verify the certificate\n"
    "      --cacert FILE        https, tls: PEM CA certificates the server's certificate\n"
    "                           must chain to (instead of the system's)\n"
    "      --cert FILE          https, tls: PEM client certificate to present\n"
    "      --key FILE           its PEM private key, unless it is in the --cert file\n"
    "      --cert-days-left N   tls: the certificate must have N days left (default 0)\n"
    "      --tls-refuses LIST   tls: the server must refuse these protocol versions, e.g.\n"
    "                           tls1.0,tls1.1 (each is offered alone); says the weakest\n"
    "                           version it accepts\n"
    "  -q, --quiet              print nothing\n"
    "      --json               print one JSON object per target on stdout:\n"
    "                           target, ready, attempts, elapsed_ms, last_error,\n"
    "                           reason (auth_failed when ready but the login was\n"
    "                           refused), output (of the ready attempt, else null),\n"
    "                           permanent (failed for good, not retried)\n"
    "\n"
    "Durations: 250ms, 2s, 1.5m, 1h; a bare number is seconds.\n"
    "\n"
    "Examples:\n"
    "  heed wait postgres://127.0.0.1:5432/app redis://127.0.0.1:6379 -- ./run-tests\n"
    "  heed wait -t 30s --status 200 --body-contains ok http://127.0.0.1:8080/health\n",
};
