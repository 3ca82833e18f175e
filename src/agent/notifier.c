/* notifier — notifier definitions: validation, copies, JSON in and out
 * (see notifier.h). Sending lives in notifier_send.c (webhook,
 * Alertmanager, SMTP through libcurl) and notifier_exec.c (commands). */
#include "agent/notifier.h"

#include "agent/notifier_impl.h"
#include "agent/notifier_tmpl.h"
#include "probe/target.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TIMEOUT_MAX_US (10LL * 60 * 1000000) /* one delivery: at most 10 min */

const char *hd_notifier_kind_str(hd_notifier_kind_t k)
{
    switch (k) {
    case HD_NOTIFIER_WEBHOOK:
        return "webhook";
    case HD_NOTIFIER_ALERTMANAGER:
        return "alertmanager";
    case HD_NOTIFIER_EXEC:
        return "exec";
    case HD_NOTIFIER_SMTP:
        return "smtp";
    }
    return "webhook";
}

int hd_notifier_kind_parse(const char *s, hd_notifier_kind_t *k)
{
    for (int i = HD_NOTIFIER_WEBHOOK; i <= HD_NOTIFIER_SMTP; i++)
        if (!strcmp(s, hd_notifier_kind_str((hd_notifier_kind_t)i))) {
            *k = (hd_notifier_kind_t)i;
            return 0;
        }
    return -1;
}

static char **list_copy(char **l)
{
    if (!l) return NULL;
    size_t n = 0;
    while (l[n])
        n++;
    char **c = hd_xcalloc(n + 1, sizeof(*c));
    for (size_t i = 0; i < n; i++)
        c[i] = hd_xstrdup(l[i]);
    return c;
}

static void list_free(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

static char *dup0(const char *s)
{
    return s ? hd_xstrdup(s) : NULL;
}

void hd_notifier_def_copy(hd_notifier_def_t *dst, const hd_notifier_def_t *src)
{
    *dst = *src;
    dst->name = dup0(src->name);
    dst->tenant = dup0(src->tenant);
    dst->url = dup0(src->url);
    dst->ca_file = dup0(src->ca_file);
    dst->headers = NULL;
    if (src->nheaders) {
        dst->headers = hd_xcalloc(src->nheaders, sizeof(*dst->headers));
        for (size_t i = 0; i < src->nheaders; i++) {
            dst->headers[i].name = hd_xstrdup(src->headers[i].name);
            dst->headers[i].value = hd_xstrdup(src->headers[i].value);
        }
    }
    dst->template_name = dup0(src->template_name);
    dst->template_text = dup0(src->template_text);
    dst->command = list_copy(src->command);
    dst->from = dup0(src->from);
    dst->to = list_copy(src->to);
    dst->ui_url = dup0(src->ui_url);
}

void hd_notifier_def_free(hd_notifier_def_t *def)
{
    if (!def) return;
    free(def->name);
    free(def->tenant);
    free(def->url);
    free(def->ca_file);
    for (size_t i = 0; i < def->nheaders; i++) {
        free(def->headers[i].name);
        free(def->headers[i].value);
    }
    free(def->headers);
    free(def->template_name);
    free(def->template_text);
    list_free(def->command);
    free(def->from);
    list_free(def->to);
    free(def->ui_url);
    memset(def, 0, sizeof(*def));
}

/* ---- validation ---------------------------------------------------------- */

static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > HD_NOTIFIER_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int hd_notifier_header_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

static int text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

/* A mail address as SMTP's MAIL FROM and RCPT TO take it: local@domain,
 * no spaces, angle brackets, quotes or control characters. */
int hd_notifier_mail_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    const char *at = s ? strrchr(s, '@') : NULL;
    if (n == 0 || n > 254 || !at || at == s || !at[1]) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>()\",;:\\[]", c)) return 0;
    }
    return 1;
}

/* The URL of an HTTP kind or of smtp, checked; the message quotes it with
 * its password masked. */
static int url_ok(const hd_notifier_def_t *d, char *err, size_t errlen)
{
    if (!d->url || !*d->url) {
        snprintf(err, errlen, "url: missing");
        return -1;
    }
    char *shown = hd_target_redact(d->url);
    hd_url_t u;
    char uerr[200];
    int rc = -1;
    if (!text_ok(d->url, HD_URL_MAX) || hd_url_parse(d->url, &u, uerr, sizeof(uerr)) < 0) {
        snprintf(err, errlen, "url: %s: not a URL", shown);
        free(shown);
        return -1;
    }
    int smtp = d->kind == HD_NOTIFIER_SMTP;
    int scheme_ok = smtp ? !strcmp(u.scheme, "smtp") || !strcmp(u.scheme, "smtps") ||
                               !strcmp(u.scheme, "smtp+starttls")
                         : !strcmp(u.scheme, "http") || !strcmp(u.scheme, "https");
    if (!scheme_ok)
        snprintf(err, errlen, "url: %s: expected %s", shown,
                 smtp ? "smtp://, smtps:// or smtp+starttls://" : "http:// or https://");
    else if (!u.has_authority || !u.host || !*u.host)
        snprintf(err, errlen, "url: %s: no host", shown);
    else if (u.fragment)
        snprintf(err, errlen, "url: %s: a fragment (#...) is never sent", shown);
    else if (smtp && u.query)
        snprintf(err, errlen, "url: %s: an smtp URL takes no query", shown);
    else
        rc = 0;
    hd_url_free(&u);
    free(shown);
    return rc;
}

int hd_notifier_render(const hd_notifier_def_t *d, const hd_tmpl_t *t, const json_t *event,
                       hd_buf_t *out, char *err, size_t errlen)
{
    hd_tmpl_render(t, event, out);
    json_error_t je;
    json_t *j = json_loadb(out->data ? out->data : "", out->len, 0, &je);
    if (!j) {
        snprintf(err, errlen, "template: the body is not valid JSON: line %d: %s", je.line,
                 je.text);
        return -1;
    }
    json_decref(j);
    (void)d;
    return 0;
}

hd_tmpl_t *hd_notifier_template(const hd_notifier_def_t *d, char *err, size_t errlen)
{
    const char *text = d->template_text;
    if (!text) {
        text = hd_tmpl_builtin(d->template_name ? d->template_name : "generic");
        if (!text) {
            snprintf(err, errlen,
                     "template: unknown template \"%.64s\" (generic, slack, or "
                     "template_text)",
                     d->template_name);
            return NULL;
        }
    }
    char terr[400];
    hd_tmpl_t *t = hd_tmpl_parse(text, strlen(text), terr, sizeof(terr));
    if (!t) snprintf(err, errlen, "template: %s", terr);
    return t;
}

int hd_notifier_validate(const hd_notifier_def_t *d, char *err, size_t errlen)
{
    if (!name_ok(d->name)) {
        snprintf(err, errlen, "name: expected 1 to %d letters, digits and _ . -",
                 HD_NOTIFIER_NAME_MAX);
        return -1;
    }
    if (d->timeout_us < 0 || d->timeout_us > TIMEOUT_MAX_US ||
        (d->timeout_us && d->timeout_us < 1000)) {
        snprintf(err, errlen, "timeout: expected 1ms to 10m");
        return -1;
    }
    if (d->ca_file) {
        if (d->kind == HD_NOTIFIER_EXEC) {
            snprintf(err, errlen, "ca_file: only for webhook, alertmanager and smtp");
            return -1;
        }
        if (!d->from_config) {
            snprintf(err, errlen, "ca_file: from the config file only, never from the API");
            return -1;
        }
        if (d->ca_file[0] != '/' || access(d->ca_file, R_OK) != 0) {
            snprintf(err, errlen, "ca_file: %.200s: %s", d->ca_file,
                     d->ca_file[0] != '/' ? "expected an absolute path" : strerror(errno));
            return -1;
        }
    }
    switch (d->kind) {
    case HD_NOTIFIER_WEBHOOK: {
        if (url_ok(d, err, errlen) < 0) return -1;
        for (size_t i = 0; i < d->nheaders; i++) {
            if (!hd_notifier_header_name_ok(d->headers[i].name)) {
                snprintf(err, errlen,
                         "headers: a header name is 1 to 64 letters, digits and "
                         "!#$%%&'*+-.^_`|~");
                return -1;
            }
            if (!d->headers[i].value || strlen(d->headers[i].value) > 4096 ||
                (*d->headers[i].value && !text_ok(d->headers[i].value, 4096))) {
                snprintf(err, errlen,
                         "headers.%s: expected text of at most 4096 bytes without control "
                         "characters (the value is not shown)",
                         d->headers[i].name);
                return -1;
            }
            if (!strcasecmp(d->headers[i].name, "Content-Length") ||
                !strcasecmp(d->headers[i].name, "Host") ||
                !strcasecmp(d->headers[i].name, "Transfer-Encoding")) {
                snprintf(err, errlen, "headers.%s: set by heed, not by the config",
                         d->headers[i].name);
                return -1;
            }
        }
        hd_tmpl_t *t = hd_notifier_template(d, err, errlen);
        if (!t) return -1;
        json_t *ev = hd_tmpl_sample_event();
        hd_buf_t b = {0};
        int rc = hd_notifier_render(d, t, ev, &b, err, errlen);
        hd_buf_free(&b);
        json_decref(ev);
        hd_tmpl_free(t);
        return rc;
    }
    case HD_NOTIFIER_ALERTMANAGER:
        if (url_ok(d, err, errlen) < 0) return -1;
        if (d->resolve_timeout_us < 0 ||
            (d->resolve_timeout_us && d->resolve_timeout_us < 60 * HD_USEC_PER_SEC)) {
            snprintf(err, errlen, "resolve_timeout: expected at least 1m");
            return -1;
        }
        return 0;
    case HD_NOTIFIER_SMTP:
        if (url_ok(d, err, errlen) < 0) return -1;
        if (!hd_notifier_mail_ok(d->from)) {
            snprintf(err, errlen, "from: expected a mail address like heed@example.com");
            return -1;
        }
        if (!d->to || !d->to[0]) {
            snprintf(err, errlen, "to: expected at least one mail address");
            return -1;
        }
        for (size_t i = 0; d->to[i]; i++)
            if (!hd_notifier_mail_ok(d->to[i])) {
                snprintf(err, errlen, "to[%zu]: expected a mail address like ops@example.com", i);
                return -1;
            }
        return 0;
    case HD_NOTIFIER_EXEC:
        if (!d->from_config) {
            snprintf(err, errlen,
                     "exec: notifiers that run a command come from the config file "
                     "only, never from the API");
            return -1;
        }
        if (!d->command || !d->command[0] || !*d->command[0]) {
            snprintf(err, errlen, "command: expected a list: the program and its arguments");
            return -1;
        }
        for (size_t i = 0; d->command[i]; i++)
            if (strlen(d->command[i]) > 4096) {
                snprintf(err, errlen, "command[%zu]: longer than 4096 bytes", i);
                return -1;
            }
        return 0;
    }
    snprintf(err, errlen, "kind: unknown");
    return -1;
}

/* ---- JSON ------------------------------------------------------------------- */

/* The URL as shown: the password of its user info as "***". */
static json_t *masked_url(const char *url)
{
    char *m = hd_target_redact(url);
    json_t *j = json_string(m);
    free(m);
    return j ? j : json_string("***");
}

static json_t *list_json(char **l)
{
    json_t *a = json_array();
    for (size_t i = 0; l && l[i]; i++)
        json_array_append_new(a, json_string(l[i]));
    return a;
}

json_t *hd_notifier_def_to_json(const hd_notifier_def_t *d)
{
    json_t *o = json_object(), *k = json_object();
    json_object_set_new(o, "name", json_string(d->name));
    json_object_set_new(o, "kind", json_string(hd_notifier_kind_str(d->kind)));
    json_object_set_new(o, "tenant", d->tenant ? json_string(d->tenant) : json_null());
    json_object_set_new(o, "source", json_string(d->from_config ? "config" : "api"));
    if (d->url) json_object_set_new(k, "url", masked_url(d->url));
    if (d->ca_file) json_object_set_new(k, "ca_file", json_string(d->ca_file));
    if (d->timeout_us) {
        char t[32];
        hd_time_format_duration(d->timeout_us, t, sizeof(t));
        json_object_set_new(k, "timeout", json_string(t));
    }
    switch (d->kind) {
    case HD_NOTIFIER_WEBHOOK: {
        json_t *h = json_object();
        for (size_t i = 0; i < d->nheaders; i++)
            json_object_set_new(h, d->headers[i].name, json_string("***"));
        json_object_set_new(k, "headers", h);
        if (d->template_text)
            json_object_set_new(k, "template_text", json_string(d->template_text));
        else
            json_object_set_new(k, "template",
                                json_string(d->template_name ? d->template_name : "generic"));
        break;
    }
    case HD_NOTIFIER_ALERTMANAGER: {
        char t[32];
        hd_time_format_duration(d->resolve_timeout_us ? d->resolve_timeout_us
                                                      : HD_NOTIFIER_RESOLVE_TIMEOUT_US,
                                t, sizeof(t));
        json_object_set_new(k, "resolve_timeout", json_string(t));
        break;
    }
    case HD_NOTIFIER_EXEC:
        json_object_set_new(k, "command", list_json(d->command));
        break;
    case HD_NOTIFIER_SMTP:
        json_object_set_new(k, "from", json_string(d->from));
        json_object_set_new(k, "to", list_json(d->to));
        break;
    }
    json_object_set_new(o, hd_notifier_kind_str(d->kind), k);
    return o;
}

static int jstr(const json_t *o, const char *key, const char *path, char **out, char *err,
                size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s.%s: expected a string", path, key);
        return -1;
    }
    *out = hd_xstrdup(json_string_value(v));
    return 0;
}

static int jlist(const json_t *o, const char *key, const char *path, char ***out, char *err,
                 size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (json_is_string(v)) { /* "to": "a@b" is taken as a list of one */
        *out = hd_xcalloc(2, sizeof(**out));
        (*out)[0] = hd_xstrdup(json_string_value(v));
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) > 64) {
        snprintf(err, errlen, "%s.%s: expected a list of at most 64 strings", path, key);
        return -1;
    }
    char **l = hd_xcalloc(json_array_size(v) + 1, sizeof(*l));
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_string(x)) {
            snprintf(err, errlen, "%s.%s[%zu]: expected a string", path, key, i);
            list_free(l);
            return -1;
        }
        l[i] = hd_xstrdup(json_string_value(x));
    }
    *out = l;
    return 0;
}

static int jdur(const json_t *o, const char *key, const char *path, int64_t *out, char *err,
                size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return 0;
    char derr[120];
    if (!json_is_string(v) ||
        hd_time_parse_duration(json_string_value(v), out, derr, sizeof(derr)) < 0) {
        snprintf(err, errlen, "%s.%s: expected a duration like 10s", path, key);
        return -1;
    }
    return 0;
}

/* Refuses keys of o not in keys (NULL-terminated). */
static int known(const json_t *o, const char *path, const char *const *keys, char *err,
                 size_t errlen)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k))
            i++;
        if (!keys[i]) {
            snprintf(err, errlen, "%s%s%.64s: unknown key", path, *path ? "." : "", k);
            return -1;
        }
    }
    return 0;
}

int hd_notifier_def_from_json(const json_t *body, hd_notifier_def_t *d, char *err, size_t errlen)
{
    static const char *const top[] = {"name", "webhook", "alertmanager", "exec", "smtp", NULL};
    static const char *const keys[][7] = {
        [HD_NOTIFIER_WEBHOOK] = {"url", "headers", "template", "template_text", "timeout",
                                 "ca_file", NULL},
        [HD_NOTIFIER_ALERTMANAGER] = {"url", "timeout", "resolve_timeout", "ca_file", NULL},
        [HD_NOTIFIER_EXEC] = {"command", "timeout", NULL},
        [HD_NOTIFIER_SMTP] = {"url", "from", "to", "timeout", "ca_file", NULL},
    };
    memset(d, 0, sizeof(*d));
    if (!json_is_object(body)) {
        snprintf(err, errlen, "expected a JSON object like {\"name\": ..., \"webhook\": {...}}");
        return -1;
    }
    if (known(body, "", top, err, errlen) < 0) goto bad;
    if (jstr(body, "name", "", &d->name, err, errlen) < 0) goto bad;
    if (!d->name) {
        snprintf(err, errlen, "name: missing");
        goto bad;
    }
    int nkinds = 0;
    const json_t *spec = NULL;
    for (int i = HD_NOTIFIER_WEBHOOK; i <= HD_NOTIFIER_SMTP; i++) {
        const json_t *v = json_object_get(body, hd_notifier_kind_str((hd_notifier_kind_t)i));
        if (!v) continue;
        nkinds++;
        d->kind = (hd_notifier_kind_t)i;
        spec = v;
    }
    if (nkinds != 1) {
        snprintf(err, errlen, "expected exactly one of webhook, alertmanager, exec, smtp");
        goto bad;
    }
    const char *kp = hd_notifier_kind_str(d->kind);
    if (!json_is_object(spec)) {
        snprintf(err, errlen, "%s: expected an object", kp);
        goto bad;
    }
    if (known(spec, kp, keys[d->kind], err, errlen) < 0) goto bad;
    if (jstr(spec, "url", kp, &d->url, err, errlen) < 0 ||
        jstr(spec, "ca_file", kp, &d->ca_file, err, errlen) < 0 ||
        jdur(spec, "timeout", kp, &d->timeout_us, err, errlen) < 0)
        goto bad;
    switch (d->kind) {
    case HD_NOTIFIER_WEBHOOK: {
        if (jstr(spec, "template", kp, &d->template_name, err, errlen) < 0 ||
            jstr(spec, "template_text", kp, &d->template_text, err, errlen) < 0)
            goto bad;
        if (d->template_name && d->template_text) {
            snprintf(err, errlen, "webhook: template or template_text, not both");
            goto bad;
        }
        const json_t *h = json_object_get(spec, "headers");
        if (h && !json_is_object(h)) {
            snprintf(err, errlen, "webhook.headers: expected an object of names to values");
            goto bad;
        }
        if (h && json_object_size(h) > 64) {
            snprintf(err, errlen, "webhook.headers: at most 64 headers");
            goto bad;
        }
        if (h && json_object_size(h)) {
            d->headers = hd_xcalloc(json_object_size(h), sizeof(*d->headers));
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)h, k, v)
            {
                if (!json_is_string(v)) {
                    snprintf(err, errlen, "webhook.headers.%.64s: expected a string", k);
                    goto bad;
                }
                d->headers[d->nheaders].name = hd_xstrdup(k);
                d->headers[d->nheaders++].value = hd_xstrdup(json_string_value(v));
            }
        }
        break;
    }
    case HD_NOTIFIER_ALERTMANAGER:
        if (jdur(spec, "resolve_timeout", kp, &d->resolve_timeout_us, err, errlen) < 0) goto bad;
        break;
    case HD_NOTIFIER_EXEC:
        if (jlist(spec, "command", kp, &d->command, err, errlen) < 0) goto bad;
        break;
    case HD_NOTIFIER_SMTP:
        if (jstr(spec, "from", kp, &d->from, err, errlen) < 0 ||
            jlist(spec, "to", kp, &d->to, err, errlen) < 0)
            goto bad;
        break;
    }
    d->from_config = 0;
    char verr[512];
    if (hd_notifier_validate(d, verr, sizeof(verr)) < 0) {
        snprintf(err, errlen, "%s.%s", kp, verr);
        if (!strncmp(verr, "name", 4) || !strncmp(verr, "exec:", 5) ||
            !strncmp(verr, "ca_file: from", 13))
            snprintf(err, errlen, "%s", verr);
        goto bad;
    }
    return 0;
bad:
    hd_notifier_def_free(d);
    return -1;
}
