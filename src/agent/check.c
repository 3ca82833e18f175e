/* check — check definitions and states (see check.h). */
#include "agent/check.h"

#include <stdlib.h>
#include <string.h>

void hd_check_def_free(hd_check_def_t *d)
{
    if (!d) return;
    free(d->id);
    free(d->name);
    free(d->service_id);
    free(d->tenant);
    hd_target_free(&d->target);
    if (d->tags)
        for (char **t = d->tags; *t; t++)
            free(*t);
    free(d->tags);
    free(d->dns_expect);
    free(d->notes);
    memset(d, 0, sizeof(*d));
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int tags_eq(char **a, char **b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    /* Equal when both lists end here; a NULL list and an empty one are equal. */
    return !(a && a[i]) && !(b && b[i]);
}

/* Everything else in a target (host, port, path, argv ...) is derived from
 * its URL, so the URL and the expectations added to it say it all. */
static int target_eq(const hd_target_t *a, const hd_target_t *b)
{
    const hd_http_expect_t *x = &a->http, *y = &b->http;
    if (!str_eq(a->url, b->url) || a->kind != b->kind) return 0;
    if (x->nstatus != y->nstatus || x->follow != y->follow || x->insecure != y->insecure) return 0;
    for (int i = 0; i < x->nstatus && i < HD_HTTP_STATUS_MAX; i++)
        if (x->status[i] != y->status[i]) return 0;
    if (!str_eq(x->method, y->method) || !str_eq(x->body, y->body)) return 0;
    if (!hd_tls_files_equal(&a->tls_files, &b->tls_files)) return 0;
    if (a->tls.refuse != b->tls.refuse) return 0;
    return str_eq(x->body_contains, y->body_contains) && tags_eq(x->headers, y->headers);
}

int hd_check_def_equal(const hd_check_def_t *a, const hd_check_def_t *b)
{
    return str_eq(a->id, b->id) && str_eq(a->name, b->name) &&
           str_eq(a->service_id, b->service_id) && str_eq(a->tenant, b->tenant) &&
           a->ttl == b->ttl && (a->ttl || target_eq(&a->target, &b->target)) &&
           a->interval_us == b->interval_us && a->timeout_us == b->timeout_us &&
           a->ttl_us == b->ttl_us && a->latency_warn_us == b->latency_warn_us &&
           a->success_before_passing == b->success_before_passing &&
           a->failures_before_warning == b->failures_before_warning &&
           a->failures_before_critical == b->failures_before_critical &&
           tags_eq(a->tags, b->tags) && a->from_config == b->from_config &&
           a->cert_days_left == b->cert_days_left && str_eq(a->dns_expect, b->dns_expect) &&
           str_eq(a->notes, b->notes) && a->deregister_after_us == b->deregister_after_us;
}

const char *hd_check_status_str(hd_check_status_t s)
{
    switch (s) {
    case HD_CHECK_PASSING:
        return "passing";
    case HD_CHECK_WARNING:
        return "warning";
    case HD_CHECK_CRITICAL:
        return "critical";
    case HD_CHECK_MAINTENANCE:
        return "maintenance";
    }
    return "critical";
}
