/* probe — the engine every kind plugs into: deadlines, exactly-once
 * delivery, and the table of reasons with their messages. */
#include "probe/icmp.h"
#include "probe/probe_impl.h"
#include "util/mem.h"
#include "util/resolver.h"
#include "util/time.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *msg;
} reasons[HD_R__COUNT] = {
    [HD_R_OK] = {"ok", "ok"},
    [HD_R_TIMEOUT] = {"timeout", "timed out"},
    [HD_R_DNS_NOT_FOUND] = {"dns_not_found", "name not found"},
    [HD_R_DNS_FAIL] = {"dns_fail", "name lookup failed"},
    [HD_R_DNS_MISMATCH] = {"dns_mismatch", "no answer equals the expected record"},
    [HD_R_CONNECT_REFUSED] = {"connect_refused", "connection refused"},
    [HD_R_CONNECT_FAIL] = {"connect_fail", "connect failed"},
    [HD_R_NO_SOCKET] = {"no_socket", "socket does not exist"},
    [HD_R_CLOSED] = {"closed", "connection closed before a complete reply"},
    [HD_R_IO_FAIL] = {"io_fail", "read or write failed"},
    [HD_R_BAD_REPLY] = {"bad_reply", "unexpected reply"},
    [HD_R_REPLY_TOO_LARGE] = {"reply_too_large", "reply too large"},
    [HD_R_HTTP_STATUS] = {"http_status", "unexpected HTTP status"},
    [HD_R_HTTP_BODY] = {"http_body", "body does not contain the expected text"},
    [HD_R_HTTP_FAIL] = {"http_fail", "HTTP request failed"},
    [HD_R_TLS_FAIL] = {"tls_fail", "TLS failed"},
    [HD_R_TLS_EXPIRING] = {"tls_expiring", "certificate expires soon"},
    [HD_R_TLS_EXPIRED] = {"tls_expired", "certificate expired"},
    [HD_R_PG_STARTING] = {"pg_starting", "the database system is not accepting connections yet"},
    [HD_R_PG_NO_DATABASE] = {"pg_no_database", "database does not exist"},
    [HD_R_PG_ERROR] = {"pg_error", "server error"},
    [HD_R_MYSQL_ERROR] = {"mysql_error", "server error"},
    [HD_R_REDIS_LOADING] = {"redis_loading", "server not ready"},
    [HD_R_REDIS_ERROR] = {"redis_error", "server error"},
    [HD_R_FILE_MISSING] = {"file_missing", "no such file"},
    [HD_R_FILE_FAIL] = {"file_fail", "cannot stat file"},
    [HD_R_EXEC_SPAWN] = {"exec_spawn", "cannot run command"},
    [HD_R_EXEC_STATUS] = {"exec_status", "command failed"},
    [HD_R_EXEC_SIGNAL] = {"exec_signal", "command killed by a signal"},
    [HD_R_UNSUPPORTED] = {"unsupported", "not supported by this build"},
    [HD_R_ICMP_ERROR] = {"icmp_error", "ICMP error"},
    [HD_R_ICMP_SOCKET] = {"icmp_socket", "cannot open an ICMP socket"},
    [HD_R_ICMP_SEND] = {"icmp_send", "cannot send the echo request"},
    [HD_R_NOT_ALLOWED] = {"not_allowed", "not allowed by the agent's config"},
    [HD_R_AUTH_FAILED] = {"auth_failed", "accepting connections (authentication failed)"},
    [HD_R_AUTH_REQUIRED] = {"auth_required", "accepting connections (authentication required)"},
    [HD_R_EXEC_NOT_FOUND] = {"exec_not_found", "no such command"},
    [HD_R_TLS_WEAK] = {"tls_weak_protocol", "the server accepts a protocol version it must refuse"},
};

const char *hd_reason_str(hd_reason_t r)
{
    return (unsigned)r < HD_R__COUNT && reasons[r].msg ? reasons[r].msg : "unknown reason";
}

int hd_reason_permanent(hd_reason_t r)
{
    return r == HD_R_UNSUPPORTED || r == HD_R_EXEC_NOT_FOUND;
}

const char *hd_reason_name(hd_reason_t r)
{
    return (unsigned)r < HD_R__COUNT && reasons[r].name ? reasons[r].name : "unknown";
}

const char *hd_status_str(hd_status_t s)
{
    switch (s) {
    case HD_STATUS_PASSING:
        return "passing";
    case HD_STATUS_WARNING:
        return "warning";
    case HD_STATUS_CRITICAL:
        return "critical";
    }
    return "critical";
}

void hd_probe_env_init(hd_probe_env_t *env, struct event_base *base)
{
    memset(env, 0, sizeof(*env));
    env->base = base;
}

void hd_probe_env_close(hd_probe_env_t *env)
{
    hd_exec_reap_all(env);
    hd_dns_servers_free(env);
    hd_resolver_free(env->resolver);
    hd_http_free(env->http);
    hd_tls_free(env->tls);
    hd_icmp_free(env->icmp);
    memset(env, 0, sizeof(*env));
}

static const hd_probe_kind_t *kind_of(const hd_target_t *t)
{
    switch (t->kind) {
    case HD_KIND_TCP:
    case HD_KIND_UNIX:
    case HD_KIND_PG:
    case HD_KIND_MYSQL:
    case HD_KIND_REDIS:
        return &hd_probe_conn;
    case HD_KIND_HTTP:
#ifdef HEED_STATIC
        return &hd_probe_conn; /* no libcurl: HTTP/1.1 of its own (http1.c), http only */
#else
        return &hd_probe_http;
#endif
    case HD_KIND_FILE:
        return &hd_probe_file;
    case HD_KIND_EXEC:
        return &hd_probe_exec;
    case HD_KIND_DNS:
        return &hd_probe_dns;
    case HD_KIND_TLS:
        return &hd_probe_tls;
    case HD_KIND_ICMP:
        return &hd_probe_icmp;
    }
    return NULL;
}

/* Delivers res (on the caller's stack, or p->ready) and frees p. */
static void finish(hd_probe_t *p, hd_result_t *res)
{
    p->kind->stop(p);
    event_free(p->timer);
    res->latency_us = hd_time_now_us() - p->start_us;
    res->cert_expiry = p->cert_expiry;
    /* Only the probe uses a password: if the server quoted it back (Redis
     * does, for a command it does not know), it goes no further. */
    hd_target_scrub(p->t, res->output, sizeof(res->output));
    p->cb(res, p->arg);
    free(p->ready);
    free(p);
}

static void set_result(hd_result_t *res, hd_status_t st, hd_reason_t r, const char *fmt, va_list ap)
{
    memset(res, 0, offsetof(hd_result_t, output)); /* not the 4 KiB of output */
    res->status = st;
    res->reason = r;
    res->output[0] = '\0';
    if (fmt) vsnprintf(res->output, sizeof(res->output), fmt, ap);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_probe_t *p = arg;
    if (p->ready) {
        finish(p, p->ready);
        return;
    }
    hd_result_t res;
    memset(&res, 0, offsetof(hd_result_t, output));
    res.status = HD_STATUS_CRITICAL;
    res.reason = HD_R_TIMEOUT;
    snprintf(res.output, sizeof(res.output), "timed out after %.0f ms",
             (double)(p->deadline_us - p->start_us) / 1000.0);
    finish(p, &res);
}

int hd_probe_start(hd_probe_env_t *env, const hd_target_t *t, int64_t timeout_us, hd_probe_cb cb,
                   void *arg, hd_probe_t **out)
{
    const hd_probe_kind_t *kind = kind_of(t);
    if (!kind) return -ENOTSUP;
    hd_probe_t *p = hd_xcalloc(1, sizeof(*p));
    p->env = env;
    p->t = t;
    p->kind = kind;
    p->cb = cb;
    p->arg = arg;
    p->start_us = hd_time_now_us();
    if (timeout_us < 1000) timeout_us = 1000;
    p->deadline_us = p->start_us + timeout_us;
    p->timer = evtimer_new(env->base, on_timer, p);
    struct timeval tv = {(time_t)(timeout_us / HD_USEC_PER_SEC),
                         (suseconds_t)(timeout_us % HD_USEC_PER_SEC)};
    evtimer_add(p->timer, &tv);
    int rc = kind->start(p);
    if (rc < 0) {
        event_free(p->timer);
        free(p);
        return rc;
    }
    if (out) *out = p;
    return 0;
}

void hd_probe_cancel(hd_probe_t *p)
{
    if (!p) return;
    p->kind->stop(p);
    event_free(p->timer);
    free(p->ready);
    free(p);
}

void hd_probe_done(hd_probe_t *p, hd_status_t st, hd_reason_t r, const char *fmt, ...)
{
    hd_result_t res;
    va_list ap;
    va_start(ap, fmt);
    set_result(&res, st, r, fmt, ap);
    va_end(ap);
    finish(p, &res);
}

void hd_probe_done_soon(hd_probe_t *p, hd_status_t st, hd_reason_t r, const char *fmt, ...)
{
    if (!p->ready) p->ready = hd_xmalloc(sizeof(*p->ready));
    va_list ap;
    va_start(ap, fmt);
    set_result(p->ready, st, r, fmt, ap);
    va_end(ap);
    struct timeval zero = {0, 0};
    evtimer_add(p->timer, &zero);
}

int64_t hd_probe_remaining_us(const hd_probe_t *p)
{
    int64_t left = p->deadline_us - hd_time_now_us();
    return left > 0 ? left : 1;
}
