/* check_json — checks as JSON (see check_json.h). */
#include "agent/check_json.h"
#include "util/mem.h"
#include "util/time.h"

#include <stdlib.h>
#include <string.h>

static json_t *duration(int64_t us)
{
    char buf[32];
    hd_time_format_duration(us, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *timestamp(int64_t wall_us)
{
    if (!wall_us) return json_null();
    char buf[40];
    hd_time_format_rfc3339(wall_us, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *tags(char **t)
{
    json_t *a = json_array();
    for (; t && *t; t++)
        json_array_append_new(a, json_string(*t));
    return a;
}

static int is_https(const hd_check_def_t *d)
{
    return d->target.kind == HD_KIND_HTTP && strncasecmp(d->target.url, "https:", 6) == 0;
}

json_t *hd_check_def_to_json(const hd_check_def_t *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "name", json_string(d->name ? d->name : d->id));
    if (d->ttl) {
        json_object_set_new(o, "ttl", duration(d->ttl_us));
    } else {
        json_object_set_new(o, "target", json_string(d->target.url));
        json_object_set_new(o, "interval", duration(d->interval_us));
        json_object_set_new(o, "timeout", duration(d->timeout_us));
        json_t *x = json_object();
        const hd_http_expect_t *h = &d->target.http;
        if (h->nstatus) {
            json_t *a = json_array();
            for (int i = 0; i < h->nstatus; i++)
                json_array_append_new(a, json_integer(h->status[i]));
            json_object_set_new(x, "status", a);
        }
        if (h->body_contains)
            json_object_set_new(x, "body_contains", json_string(h->body_contains));
        if (d->latency_warn_us)
            json_object_set_new(x, "latency_ms", json_integer(d->latency_warn_us / 1000));
        if (d->cert_days_left)
            json_object_set_new(x, "cert_days_left", json_integer(d->cert_days_left));
        if (d->dns_expect) json_object_set_new(x, "dns", json_string(d->dns_expect));
        if (json_object_size(x))
            json_object_set_new(o, "expect", x);
        else
            json_decref(x);
        if (h->follow) json_object_set_new(o, "follow_redirects", json_true());
        if (h->insecure && (d->target.kind == HD_KIND_TLS || is_https(d)))
            json_object_set_new(o, "insecure", json_true());
    }
    json_object_set_new(o, "success_before_passing", json_integer(d->success_before_passing));
    json_object_set_new(o, "failures_before_warning", json_integer(d->failures_before_warning));
    json_object_set_new(o, "failures_before_critical", json_integer(d->failures_before_critical));
    json_object_set_new(o, "tags", tags(d->tags));
    return o;
}

json_t *hd_check_to_json(const hd_check_def_t *d, const hd_check_state_t *st)
{
    json_t *o = hd_check_def_to_json(d);
    if (!json_object_get(o, "expect")) json_object_set_new(o, "expect", json_object());
    json_object_set_new(o, "tenant", d->tenant ? json_string(d->tenant) : json_null());
    json_object_set_new(o, "service_id", d->service_id ? json_string(d->service_id) : json_null());
    json_object_set_new(o, "source", json_string(d->from_config ? "config" : "api"));
    if (st) {
        json_object_set_new(o, "status", json_string(hd_check_status_str(st->status)));
        json_object_set_new(o, "output", json_string(st->output ? st->output : ""));
        json_object_set_new(o, "reason", json_string(hd_reason_name(st->reason)));
        json_object_set_new(o, "latency_ms", json_real((double)st->latency_us / 1000.0));
        json_object_set_new(o, "last_checked", timestamp(st->last_checked));
        json_object_set_new(o, "last_change", timestamp(st->last_change));
        json_object_set_new(o, "last_success", timestamp(st->last_success));
        json_object_set_new(o, "paused", json_boolean(st->paused));
    }
    return o;
}

json_t *hd_check_state_to_json(const hd_check_state_t *st)
{
    return json_pack(
        "{s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:b}", "status", (int)st->status, "reason",
        (int)st->reason, "output", st->output ? st->output : "", "latency_us",
        (json_int_t)st->latency_us, "last_checked", (json_int_t)st->last_checked, "last_change",
        (json_int_t)st->last_change, "last_success", (json_int_t)st->last_success, "consecutive_ok",
        st->consecutive_ok, "consecutive_fail", st->consecutive_fail, "paused", st->paused);
}

int hd_check_state_from_json(const json_t *o, hd_check_state_t *st)
{
    int status, reason, ok, fail, paused;
    const char *output;
    json_int_t lat, checked, change, success;
    if (json_unpack((json_t *)o, "{s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:b}", "status",
                    &status, "reason", &reason, "output", &output, "latency_us", &lat,
                    "last_checked", &checked, "last_change", &change, "last_success", &success,
                    "consecutive_ok", &ok, "consecutive_fail", &fail, "paused", &paused) < 0)
        return -1;
    if (status < HD_CHECK_PASSING || status > HD_CHECK_MAINTENANCE || reason < 0 ||
        reason >= HD_R__COUNT || ok < 0 || fail < 0)
        return -1;
    free(st->output);
    st->status = (hd_check_status_t)status;
    st->reason = (hd_reason_t)reason;
    st->output = hd_xstrdup(output);
    st->latency_us = lat;
    st->last_checked = checked;
    st->last_change = change;
    st->last_success = success;
    st->consecutive_ok = ok;
    st->consecutive_fail = fail;
    st->paused = paused;
    return 0;
}
