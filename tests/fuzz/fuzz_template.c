/* fuzz_template — the notifier's outside input. The first byte picks:
 *   even: the rest is a webhook template (hd_tmpl_parse). A refusal says
 *         what it refused; an accepted one renders twice to the same
 *         bytes, for an event whose strings hold quotes, backslashes,
 *         control bytes and non-ASCII text, and a template without "{{"
 *         renders to itself.
 *   odd:  the rest is a POST /v1/notifiers body (hd_notifier_def_from_json):
 *         an accepted definition validates, copies, and its JSON
 *         (hd_notifier_def_to_json) shows every header value as "***" and
 *         the URL as hd_target_redact does; an exec one is never accepted. */
#include "agent/notifier.h"
#include "agent/notifier_tmpl.h"
#include "probe/target.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_template(const char *s, size_t len)
{
    char err[512] = "";
    hd_tmpl_t *t = hd_tmpl_parse(s, len, err, sizeof(err));
    if (!t) {
        if (!err[0]) abort();
        return;
    }
    json_t *ev = hd_tmpl_sample_event();
    json_object_set_new(ev, "output", json_string("\"q\" \\ \x01\n\t\xc3\xa9 {{status}} }}"));
    json_object_set_new(ev, "service", json_null());
    hd_buf_t a = {0}, b = {0};
    hd_tmpl_render(t, ev, &a);
    hd_tmpl_render(t, ev, &b);
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) abort();
    int has_subst = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '{' && s[i + 1] == '{') has_subst = 1;
    if (!has_subst && (a.len != len || memcmp(a.data, s, len) != 0)) abort();
    hd_buf_free(&a);
    hd_buf_free(&b);
    json_decref(ev);
    hd_tmpl_free(t);
}

static void fuzz_def(const char *s, size_t len)
{
    json_t *body = json_loadb(s, len, 0, NULL);
    if (!body) return;
    hd_notifier_def_t d;
    char err[512] = "";
    if (hd_notifier_def_from_json(body, &d, err, sizeof(err)) < 0) {
        if (!err[0]) abort();
        json_decref(body);
        return;
    }
    if (d.kind == HD_NOTIFIER_EXEC || d.from_config) abort();
    if (hd_notifier_validate(&d, err, sizeof(err)) < 0) abort();
    hd_notifier_def_t c;
    hd_notifier_def_copy(&c, &d);
    json_t *shown = hd_notifier_def_to_json(&c);
    const json_t *spec = json_object_get(shown, hd_notifier_kind_str(c.kind));
    const char *k;
    const json_t *v;
    json_object_foreach(json_object_get(spec, "headers"), k, v)
    {
        if (!json_is_string(v) || strcmp(json_string_value(v), "***") != 0) abort();
    }
    if (c.url) { /* shown as hd_target_redact shows it: no password */
        char *masked = hd_target_redact(c.url);
        const char *u = json_string_value(json_object_get(spec, "url"));
        if (!u || strcmp(u, masked) != 0) abort();
        free(masked);
    }
    json_decref(shown);
    hd_notifier_def_free(&c);
    hd_notifier_def_free(&d);
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (data[0] & 1)
        fuzz_def((const char *)data + 1, size - 1);
    else
        fuzz_template((const char *)data + 1, size - 1);
    return 0;
}
