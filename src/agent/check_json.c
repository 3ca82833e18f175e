/* check_json — checks as JSON (see check_json.h). */
#include "agent/check_json.h"

#include "agent/alert.h"
#include "agent/tenant.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/utf8.h"

#include <stdio.h>
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

/* The header lines as Consul's Header: a name to its value, or to a list
 * of values when it has several, names in the order they first come.
 * masked: credential values as "***" (the API's view). */
static json_t *headers_json(char **lines, int masked)
{
    json_t *o = json_object();
    for (char **l = lines; l && *l; l++) {
        const char *colon = strchr(*l, ':');
        if (!colon) continue;
        char name[80];
        snprintf(name, sizeof(name), "%.*s", (int)(colon - *l), *l);
        const char *v = colon[1] == ' ' ? colon + 2 : colon + 1;
        if (masked && hd_header_secret(name, strlen(name))) v = "***";
        json_t *prev = json_object_get(o, name), *jv = json_string(v);
        if (!jv) jv = json_string("\xef\xbf\xbd"); /* not UTF-8: the config reader allows none */
        if (!prev) {
            json_object_set_new(o, name, jv);
        } else if (json_is_array(prev)) {
            json_array_append_new(prev, jv);
        } else {
            json_t *a = json_array();
            json_array_append(a, prev);
            json_array_append_new(a, jv);
            json_object_set_new(o, name, a);
        }
    }
    return o;
}

static int is_https(const hd_check_def_t *d)
{
    return d->target.kind == HD_KIND_HTTP && strncasecmp(d->target.url, "https:", 6) == 0;
}

/* expect.tls_refuses: the versions as names, weakest first. */
static json_t *refuses_json(const hd_check_def_t *d)
{
    static const char *const names[HD_TLS_VERSIONS] = {"tls1.0", "tls1.1", "tls1.2", "tls1.3"};
    json_t *a = json_array();
    for (int i = 0; i < HD_TLS_VERSIONS; i++)
        if (d->target.tls.refuse & (1u << i)) json_array_append_new(a, json_string(names[i]));
    return a;
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
        if (d->target.tls.refuse) json_object_set_new(x, "tls_refuses", refuses_json(d));
        if (json_object_size(x))
            json_object_set_new(o, "expect", x);
        else
            json_decref(x);
        if (h->follow) json_object_set_new(o, "follow_redirects", json_true());
        if (h->insecure && (d->target.kind == HD_KIND_TLS || is_https(d)))
            json_object_set_new(o, "insecure", json_true());
        const hd_tls_files_t *tf = &d->target.tls_files;
        if (hd_tls_files_any(tf)) {
            json_t *t = json_object();
            if (tf->ca_file) json_object_set_new(t, "ca_file", json_string(tf->ca_file));
            if (tf->cert_file) json_object_set_new(t, "cert_file", json_string(tf->cert_file));
            if (tf->key_file) json_object_set_new(t, "key_file", json_string(tf->key_file));
            json_object_set_new(o, "tls", t);
        }
        if (h->method) json_object_set_new(o, "method", json_string(h->method));
        if (h->headers) json_object_set_new(o, "headers", headers_json(h->headers, 0));
        if (h->body) json_object_set_new(o, "body", json_string(h->body));
    }
    json_object_set_new(o, "success_before_passing", json_integer(d->success_before_passing));
    json_object_set_new(o, "failures_before_warning", json_integer(d->failures_before_warning));
    json_object_set_new(o, "failures_before_critical", json_integer(d->failures_before_critical));
    json_object_set_new(o, "tags", tags(d->tags));
    if (d->notes) json_object_set_new(o, "notes", json_string(d->notes));
    if (d->deregister_after_us)
        json_object_set_new(o, "deregister_critical_service_after",
                            duration(d->deregister_after_us));
    if (d->service_id) json_object_set_new(o, "service", json_string(d->service_id));
    return o;
}

json_t *hd_check_to_json(const hd_check_def_t *d, const hd_check_state_t *st)
{
    json_t *o = hd_check_def_to_json(d);
    /* Shown with its password as "***": only the probe uses it; so are
     * the values of credential headers. The service is "service_id". */
    if (!d->ttl) json_object_set_new(o, "target", json_string(d->target.display));
    if (d->target.http.headers)
        json_object_set_new(o, "headers", headers_json(d->target.http.headers, 1));
    json_object_del(o, "service");
    if (!json_object_get(o, "expect")) json_object_set_new(o, "expect", json_object());
    json_object_set_new(o, "tenant", json_string(hd_tenant_name(d->tenant)));
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

/* ---- the direct writer: the same keys, in the same order, as above ---- */

static void w_duration(hd_jsonw_t *w, const char *key, int64_t us)
{
    char buf[32];
    hd_time_format_duration(us, buf, sizeof(buf));
    hd_jsonw_key(w, key);
    hd_jsonw_string(w, buf);
}

static void w_timestamp(hd_jsonw_t *w, const char *key, int64_t wall_us)
{
    hd_jsonw_key(w, key);
    if (!wall_us) {
        hd_jsonw_null(w);
        return;
    }
    char buf[40];
    hd_time_format_rfc3339(wall_us, buf, sizeof(buf));
    hd_jsonw_string(w, buf);
}

static void w_int(hd_jsonw_t *w, const char *key, int64_t v)
{
    hd_jsonw_key(w, key);
    hd_jsonw_int(w, v);
}

static void w_string(hd_jsonw_t *w, const char *key, const char *v)
{
    hd_jsonw_key(w, key);
    hd_jsonw_string(w, v);
}

/* headers_json(lines, 1), written: the same grouping, credentials as "***". */
static void w_headers(hd_jsonw_t *w, char **lines)
{
    json_t *o = headers_json(lines, 1);
    const char *k;
    json_t *v;
    hd_jsonw_key(w, "headers");
    hd_jsonw_object_begin(w);
    json_object_foreach(o, k, v)
    {
        hd_jsonw_key(w, k);
        if (json_is_string(v)) {
            hd_jsonw_string(w, json_string_value(v));
            continue;
        }
        size_t i;
        json_t *e;
        hd_jsonw_array_begin(w);
        json_array_foreach(v, i, e) hd_jsonw_string(w, json_string_value(e));
        hd_jsonw_array_end(w);
    }
    hd_jsonw_object_end(w);
    json_decref(o);
}

/* hd_check_def_to_json's "expect" holds something. */
static int has_expect(const hd_check_def_t *d)
{
    return d->target.http.nstatus || d->target.http.body_contains || d->latency_warn_us ||
           d->cert_days_left || d->dns_expect || d->target.tls.refuse;
}

static void w_expect(hd_jsonw_t *w, const hd_check_def_t *d)
{
    const hd_http_expect_t *h = &d->target.http;
    hd_jsonw_key(w, "expect");
    hd_jsonw_object_begin(w);
    if (h->nstatus) {
        hd_jsonw_key(w, "status");
        hd_jsonw_array_begin(w);
        for (int i = 0; i < h->nstatus; i++)
            hd_jsonw_int(w, h->status[i]);
        hd_jsonw_array_end(w);
    }
    if (h->body_contains) w_string(w, "body_contains", h->body_contains);
    if (d->latency_warn_us) w_int(w, "latency_ms", d->latency_warn_us / 1000);
    if (d->cert_days_left) w_int(w, "cert_days_left", d->cert_days_left);
    if (d->dns_expect) w_string(w, "dns", d->dns_expect);
    if (d->target.tls.refuse) {
        static const char *const names[HD_TLS_VERSIONS] = {"tls1.0", "tls1.1", "tls1.2", "tls1.3"};
        hd_jsonw_key(w, "tls_refuses");
        hd_jsonw_array_begin(w);
        for (int i = 0; i < HD_TLS_VERSIONS; i++)
            if (d->target.tls.refuse & (1u << i)) hd_jsonw_string(w, names[i]);
        hd_jsonw_array_end(w);
    }
    hd_jsonw_object_end(w);
}

void hd_check_write_json(hd_jsonw_t *w, const hd_check_def_t *d, const hd_check_state_t *st)
{
    /* hd_check_def_to_json's part: "expect" comes after "timeout" when the
     * definition has one, else (empty, from hd_check_to_json) after "tags". */
    int expect_done = 0;
    hd_jsonw_object_begin(w);
    w_string(w, "id", d->id);
    w_string(w, "name", d->name ? d->name : d->id);
    if (d->ttl) {
        w_duration(w, "ttl", d->ttl_us);
    } else {
        w_string(w, "target", d->target.display); /* any password as "***" */
        w_duration(w, "interval", d->interval_us);
        w_duration(w, "timeout", d->timeout_us);
        if (has_expect(d)) {
            w_expect(w, d);
            expect_done = 1;
        }
        if (d->target.http.follow) {
            hd_jsonw_key(w, "follow_redirects");
            hd_jsonw_bool(w, 1);
        }
        if (d->target.http.insecure && (d->target.kind == HD_KIND_TLS || is_https(d))) {
            hd_jsonw_key(w, "insecure");
            hd_jsonw_bool(w, 1);
        }
        const hd_tls_files_t *tf = &d->target.tls_files;
        if (hd_tls_files_any(tf)) {
            /* Paths, not contents: nothing secret is shown. */
            hd_jsonw_key(w, "tls");
            hd_jsonw_object_begin(w);
            if (tf->ca_file) w_string(w, "ca_file", tf->ca_file);
            if (tf->cert_file) w_string(w, "cert_file", tf->cert_file);
            if (tf->key_file) w_string(w, "key_file", tf->key_file);
            hd_jsonw_object_end(w);
        }
        if (d->target.http.method) w_string(w, "method", d->target.http.method);
        if (d->target.http.headers) w_headers(w, d->target.http.headers);
        if (d->target.http.body) w_string(w, "body", d->target.http.body);
    }
    w_int(w, "success_before_passing", d->success_before_passing);
    w_int(w, "failures_before_warning", d->failures_before_warning);
    w_int(w, "failures_before_critical", d->failures_before_critical);
    hd_jsonw_key(w, "tags");
    hd_jsonw_array_begin(w);
    for (char **t = d->tags; t && *t; t++)
        hd_jsonw_string(w, *t);
    hd_jsonw_array_end(w);
    if (d->notes) w_string(w, "notes", d->notes);
    if (d->deregister_after_us)
        w_duration(w, "deregister_critical_service_after", d->deregister_after_us);
    if (!expect_done) {
        hd_jsonw_key(w, "expect");
        hd_jsonw_object_begin(w);
        hd_jsonw_object_end(w);
    }
    /* hd_check_to_json's part. */
    w_string(w, "tenant", hd_tenant_name(d->tenant));
    w_string(w, "service_id", d->service_id);
    w_string(w, "source", d->from_config ? "config" : "api");
    if (st) {
        w_string(w, "status", hd_check_status_str(st->status));
        w_string(w, "output", st->output ? st->output : "");
        w_string(w, "reason", hd_reason_name(st->reason));
        hd_jsonw_key(w, "latency_ms");
        hd_jsonw_real(w, (double)st->latency_us / 1000.0);
        w_timestamp(w, "last_checked", st->last_checked);
        w_timestamp(w, "last_change", st->last_change);
        w_timestamp(w, "last_success", st->last_success);
        hd_jsonw_key(w, "paused");
        hd_jsonw_bool(w, st->paused);
    }
    hd_jsonw_object_end(w);
}

json_t *hd_check_state_to_json(const hd_check_state_t *st)
{
    /* json_pack refuses a string that is not UTF-8 and the agent could not
     * store the state at all: repair such output (an exec script's bytes,
     * a TTL note, a cut made inside a sequence). */
    const char *out = st->output ? st->output : "";
    char *fixed = hd_utf8_valid(out, strlen(out)) ? NULL : hd_utf8_repair(out, strlen(out), NULL);
    json_t *o = json_pack(
        "{s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:b}", "status", (int)st->status, "reason",
        (int)st->reason, "output", fixed ? fixed : out, "latency_us", (json_int_t)st->latency_us,
        "last_checked", (json_int_t)st->last_checked, "last_change", (json_int_t)st->last_change,
        "last_success", (json_int_t)st->last_success, "consecutive_ok", st->consecutive_ok,
        "consecutive_fail", st->consecutive_fail, "paused", st->paused);
    /* Only while paused: the status that resume gives back. */
    if (o && st->paused)
        json_object_set_new(o, "before_pause", json_integer((json_int_t)st->before_pause));
    free(fixed);
    if (o && st->alert && !hd_alert_state_empty(st->alert))
        json_object_set_new(o, "alert", hd_alert_state_to_json(st->alert));
    return o;
}

int hd_check_state_from_json(const json_t *o, hd_check_state_t *st)
{
    int status, reason, ok, fail, paused;
    int before = HD_CHECK_CRITICAL; /* states stored before it was kept */
    const char *output;
    json_int_t lat, checked, change, success;
    if (json_unpack((json_t *)o, "{s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:b, s?i}",
                    "status", &status, "reason", &reason, "output", &output, "latency_us", &lat,
                    "last_checked", &checked, "last_change", &change, "last_success", &success,
                    "consecutive_ok", &ok, "consecutive_fail", &fail, "paused", &paused,
                    "before_pause", &before) < 0)
        return -1;
    if (status < HD_CHECK_PASSING || status > HD_CHECK_MAINTENANCE || reason < 0 ||
        reason >= HD_R__COUNT || ok < 0 || fail < 0 || before < HD_CHECK_PASSING ||
        before > HD_CHECK_CRITICAL)
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
    const json_t *al = json_object_get(o, "alert");
    if (json_is_object(al)) {
        if (st->alert)
            hd_alert_state_free(st->alert);
        else
            st->alert = hd_xmalloc(sizeof(*st->alert));
        hd_alert_state_from_json(al, st->alert);
    }
    st->before_pause = (hd_check_status_t)before;
    return 0;
}
