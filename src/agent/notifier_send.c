/* notifier_send — the notifier object, and the receivers reached through
 * libcurl: webhook (POST of the rendered template), Alertmanager (POST of
 * an alert list to /api/v2/alerts) and SMTP (one mail).
 *
 * libcurl's multi interface runs on the libevent loop with the
 * socket-action API, as probe/http.c does; libcurl is loaded with dlopen()
 * (util/curl_dl.h) when the first such notifier is made. Nothing blocks the
 * loop. Redirects are never followed (a 3xx is a failure). A receiver's
 * reply is kept up to HD_NOTIFIER_REPLY_MAX bytes, the rest read and
 * dropped. Every reason has the URL's password and the header values
 * replaced by "***". */
#include "agent/notifier_impl.h"

#include "probe/target.h"
#include "util/base64.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/url.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t hd_notifier_timeout_us(const hd_notifier_t *n)
{
    return n->def.timeout_us ? n->def.timeout_us : HD_NOTIFIER_TIMEOUT_US;
}

/* ---- deliveries ------------------------------------------------------------- */

/* Frees what one request of d holds (its libcurl handle or its child). */
static void request_stop(delivery_t *d)
{
    hd_notifier_t *n = d->n;
    if (d->easy) {
        n->c->multi_remove_handle(n->multi, d->easy);
        n->c->easy_cleanup(d->easy);
        d->easy = NULL;
    }
    if (d->headers) n->c->slist_free_all(d->headers);
    if (d->rcpt) n->c->slist_free_all(d->rcpt);
    d->headers = d->rcpt = NULL;
    hd_buf_free(&d->body);
    hd_buf_free(&d->reply);
    d->sent = 0;
    d->errbuf[0] = '\0';
    if (n->def.kind == HD_NOTIFIER_EXEC) hd_nexec_stop(d);
}

static void delivery_free(delivery_t *d)
{
    hd_notifier_t *n = d->n;
    request_stop(d);
    if (d->soon) event_free(d->soon);
    if (d->prev)
        d->prev->next = d->next;
    else
        n->live = d->next;
    if (d->next) d->next->prev = d->prev;
    for (size_t i = 0; i < d->count; i++)
        json_decref(d->events[i]);
    free(d->events);
    free(d);
}

static void really_free(hd_notifier_t *n)
{
    while (n->live)
        delivery_free(n->live);
    if (n->multi) n->c->multi_cleanup(n->multi);
    if (n->timer) event_free(n->timer);
    hd_tmpl_free(n->tmpl);
    hd_notifier_def_free(&n->def);
    free(n->url);
    if (n->password) {
        memset(n->password, 0, strlen(n->password));
        free(n->password);
    }
    free(n->basic);
    free(n);
}

void hd_notifier_free(hd_notifier_t *n)
{
    if (!n) return;
    if (n->busy) { /* inside a callback: cancel the rest now, free on the way out */
        while (n->live)
            delivery_free(n->live);
        n->doomed = 1;
        return;
    }
    really_free(n);
}

/* Replaces every occurrence of secret (at least 3 bytes) in s with "***". */
static void scrub(char *s, size_t cap, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    if (sl < 3) return;
    char *p;
    while ((p = strstr(s, secret))) {
        size_t tail = strlen(p + sl);
        if ((size_t)(p - s) + 3 + tail + 1 > cap) tail = cap - (size_t)(p - s) - 4;
        memmove(p + 3, p + sl, tail);
        p[3 + tail] = '\0';
        memcpy(p, "***", 3);
    }
}

static void scrub_all(const hd_notifier_t *n, char *s, size_t cap)
{
    scrub(s, cap, n->password);
    scrub(s, cap, n->basic);
    for (size_t i = 0; i < n->def.nheaders; i++)
        scrub(s, cap, n->def.headers[i].value);
}

static void start_request(delivery_t *d);

int hd_notifier_step(delivery_t *d, hd_notifier_result_t r, const char *reason)
{
    hd_notifier_t *n = d->n;
    request_stop(d);
    if (r == HD_NOTIFY_DELIVERED && d->idx + 1 < d->count) {
        d->idx++;
        start_request(d);
        return 0;
    }
    char why[400];
    if (d->count > 1 && r != HD_NOTIFY_DELIVERED)
        snprintf(why, sizeof(why), "event %zu of %zu: %s", d->idx + 1, d->count, reason);
    else
        snprintf(why, sizeof(why), "%s", reason);
    scrub_all(n, why, sizeof(why));
    hd_notifier_done_cb cb = d->cb;
    void *arg = d->arg;
    delivery_free(d);
    n->busy++;
    cb(r, why, arg);
    n->busy--;
    if (n->doomed && !n->busy) {
        really_free(n);
        return 1;
    }
    return 0;
}

static void on_soon(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    delivery_t *d = arg;
    char why[sizeof(d->soon_reason)];
    memcpy(why, d->soon_reason, sizeof(why));
    (void)hd_notifier_step(d, d->soon_result, why);
}

void hd_notifier_soon(delivery_t *d, hd_notifier_result_t r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->soon_reason, sizeof(d->soon_reason), fmt, ap);
    va_end(ap);
    d->soon_result = r;
    if (!d->soon) d->soon = evtimer_new(d->n->base, on_soon, d);
    struct timeval now = {0, 0};
    evtimer_add(d->soon, &now);
}

/* ---- libcurl on the loop ----------------------------------------------------- */

static void judge(delivery_t *d, CURLcode rc);

static void check_done(hd_notifier_t *n)
{
    CURLMsg *m;
    int left;
    while ((m = n->c->multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        delivery_t *d = NULL;
        n->c->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&d);
        CURLcode rc = m->data.result;
        n->busy++; /* d's callback may free n: keep it until this loop ends */
        judge(d, rc);
        n->busy--;
        if (n->doomed) {
            if (!n->busy) really_free(n);
            return;
        }
    }
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
    hd_notifier_t *n = arg;
    int running, flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                         ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    n->c->multi_socket_action(n->multi, fd, flags, &running);
    check_done(n);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_notifier_t *n = arg;
    int running;
    n->c->multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(n);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    hd_notifier_t *n = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev) event_free(ev);
        n->c->multi_assign(n->multi, s, NULL);
        return 0;
    }
    short flags = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                  ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev) event_free(ev);
    ev = event_new(n->base, s, flags, on_sock, n);
    event_add(ev, NULL);
    n->c->multi_assign(n->multi, s, ev);
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    hd_notifier_t *n = userp;
    if (timeout_ms < 0) {
        evtimer_del(n->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(n->timer, &tv);
    return 0;
}

static size_t on_reply(char *data, size_t size, size_t nmemb, void *arg)
{
    delivery_t *d = arg;
    size_t len = size * nmemb;
    if (d->reply.len < HD_NOTIFIER_REPLY_MAX) {
        size_t take = HD_NOTIFIER_REPLY_MAX - d->reply.len;
        hd_buf_append(&d->reply, data, len < take ? len : take);
    }
    return len; /* the rest is read and dropped */
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *arg)
{
    delivery_t *d = arg;
    size_t room = size * nmemb, left = d->body.len - d->sent;
    size_t take = left < room ? left : room;
    memcpy(buf, d->body.data + d->sent, take);
    d->sent += take;
    return take;
}

/* The start of a reply, printable, for a reason: "HTTP 400: bad field". */
static void excerpt(const hd_buf_t *b, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; b->data && i < b->len && o + 4 < outlen && i < 160; i++) {
        unsigned char c = (unsigned char)b->data[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static void judge(delivery_t *d, CURLcode rc)
{
    hd_notifier_t *n = d->n;
    const hd_curl_api_t *c = n->c;
    int smtp = n->def.kind == HD_NOTIFIER_SMTP;
    char why[300], ex[200], secs[32];
    long code = 0;
    c->easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK && !smtp) {
        excerpt(&d->reply, ex, sizeof(ex));
        hd_notifier_result_t r;
        if (code >= 200 && code < 300) {
            snprintf(why, sizeof(why), "HTTP %ld", code);
            r = HD_NOTIFY_DELIVERED;
        } else if (code >= 300 && code < 400) {
            snprintf(why, sizeof(why), "HTTP %ld: redirect not followed", code);
            r = HD_NOTIFY_FAILED;
        } else {
            snprintf(why, sizeof(why), "HTTP %ld%s%s", code, *ex ? ": " : "", ex);
            r = (code >= 500 || code == 408 || code == 429) ? HD_NOTIFY_RETRY : HD_NOTIFY_FAILED;
        }
        (void)hd_notifier_step(d, r, why);
        return;
    }
    if (rc == CURLE_OK) {
        snprintf(why, sizeof(why), "SMTP %ld", code ? code : 250);
        (void)hd_notifier_step(d, HD_NOTIFY_DELIVERED, why);
        return;
    }
    const char *msg = d->errbuf[0] ? d->errbuf : c->easy_strerror(rc);
    long oserr = 0;
    c->easy_getinfo(d->easy, CURLINFO_OS_ERRNO, &oserr);
    hd_notifier_result_t r = HD_NOTIFY_RETRY;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        hd_time_format_duration(hd_notifier_timeout_us(n), secs, sizeof(secs));
        snprintf(why, sizeof(why), "timed out after %s", secs);
        break;
    case CURLE_COULDNT_CONNECT:
        snprintf(why, sizeof(why), "%s", oserr == ECONNREFUSED ? "connection refused" : msg);
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        r = HD_NOTIFY_FAILED;
        snprintf(why, sizeof(why), "%s", msg);
        break;
    default:
        if (smtp && code >= 400) { /* the server said no: 4xx later, 5xx never */
            r = code >= 500 ? HD_NOTIFY_FAILED : HD_NOTIFY_RETRY;
            snprintf(why, sizeof(why), "SMTP %ld: %s", code, msg);
        } else {
            snprintf(why, sizeof(why), "%s", msg);
        }
        break;
    }
    (void)hd_notifier_step(d, r, why);
}

/* ---- requests ------------------------------------------------------------------ */

/* The alert Alertmanager gets for one event (docs/notifiers.md,
 * "Alertmanager"): labels identify it, so that a later event for the same
 * check and severity refreshes or ends the same alert. */
static json_t *am_alert(const hd_notifier_t *n, const json_t *ev, const char *severity, int ended)
{
    json_t *labels = json_object(), *ann = json_object();
    const json_t *check = json_object_get(ev, "check"), *svc = json_object_get(ev, "service");
    const char *name = json_string_value(json_object_get(check, "name"));
    const char *id = json_string_value(json_object_get(check, "id"));
#define LABEL(k, v)                                                                                \
    do {                                                                                           \
        const char *v_ = (v);                                                                      \
        if (v_ && *v_) json_object_set_new(labels, k, json_string(v_));                            \
    } while (0)
    LABEL("alertname", name && *name ? name : id);
    LABEL("check", id);
    LABEL("service", json_string_value(json_object_get(svc, "name")));
    LABEL("node", json_string_value(json_object_get(ev, "node")));
    LABEL("tenant", json_string_value(json_object_get(check, "tenant")));
    LABEL("severity", severity);
    hd_buf_t tags = {0};
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(check, "tags"), i, t) hd_buf_printf(
        &tags, "%s%s", i ? "," : "", json_string_value(t) ? json_string_value(t) : "");
    LABEL("tags", tags.data);
    hd_buf_free(&tags);
#undef LABEL
    hd_buf_t sum = {0};
    hd_tmpl_summary(ev, &sum);
    json_object_set_new(ann, "summary", json_string(sum.data ? sum.data : ""));
    hd_buf_free(&sum);
    const char *out = json_string_value(json_object_get(ev, "output"));
    if (out && *out) json_object_set_new(ann, "output", json_string(out));
    json_object_set(ann, "event_id", json_object_get(ev, "id"));
    json_t *a = json_object();
    json_object_set_new(a, "labels", labels);
    json_object_set_new(a, "annotations", ann);
    const char *since = json_string_value(json_object_get(ev, "since"));
    const char *at = json_string_value(json_object_get(ev, "time"));
    char ends[40], now[40];
    hd_time_format_rfc3339(hd_time_wall_us(), now, sizeof(now));
    if (!at) at = now;
    json_object_set_new(a, "startsAt", json_string(since ? since : at));
    if (ended) {
        json_object_set_new(a, "endsAt", json_string(at));
    } else {
        int64_t rt =
            n->def.resolve_timeout_us ? n->def.resolve_timeout_us : HD_NOTIFIER_RESOLVE_TIMEOUT_US;
        hd_time_format_rfc3339(hd_time_wall_us() + rt, ends, sizeof(ends));
        json_object_set_new(a, "endsAt", json_string(ends));
    }
    if (n->def.ui_url && id) {
        hd_buf_t u = {0};
        /* The dashboard's page of one check (ui/app.js): #/check/<id>,
         * and ?ns=<tenant> for a check of a tenant. */
        hd_buf_printf(&u, "%s#/check/", n->def.ui_url);
        hd_url_encode(&u, id);
        const char *tenant = json_string_value(json_object_get(check, "tenant"));
        if (tenant && *tenant) {
            hd_buf_puts(&u, "?ns=");
            hd_url_encode(&u, tenant);
        }
        json_object_set_new(a, "generatorURL", json_string(u.data));
        hd_buf_free(&u);
    }
    return a;
}

static int bad_status(const char *s)
{
    return !s || !strcmp(s, "passing") || !strcmp(s, "maintenance") || !*s;
}

/* The alerts of one event: firing at its status's severity, and the alert
 * of the status it left ended (warning to critical ends the warning one);
 * back to passing ends the alert of the status it left. */
static void am_alerts(const hd_notifier_t *n, const json_t *ev, json_t *list)
{
    const char *st = json_string_value(json_object_get(ev, "status"));
    const char *old = json_string_value(json_object_get(ev, "old_status"));
    if (!bad_status(st)) json_array_append_new(list, am_alert(n, ev, st, 0));
    if (!bad_status(old) && (!st || strcmp(old, st)))
        json_array_append_new(list, am_alert(n, ev, old, 1));
}

static void mail_header_text(hd_buf_t *b, const char *s)
{
    int ascii = 1;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p >= 0x80) ascii = 0;
    if (ascii) {
        for (; *s; s++)
            hd_buf_append(b, (*s == '\r' || *s == '\n') ? " " : s, 1);
        return;
    }
    /* RFC 2047: one encoded word per chunk of whole UTF-8 characters. */
    size_t len = strlen(s), i = 0;
    while (i < len) {
        size_t j = i + 45 < len ? i + 45 : len;
        while (j < len && ((unsigned char)s[j] & 0xc0) == 0x80)
            j--;
        if (j <= i) j = len;
        hd_buf_puts(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (size_t k = i; k < j; k += 3) {
            unsigned v = (unsigned char)s[k] << 16;
            if (k + 1 < j) v |= (unsigned char)s[k + 1] << 8;
            if (k + 2 < j) v |= (unsigned char)s[k + 2];
            char q[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                         k + 1 < j ? tbl[(v >> 6) & 63] : '=', k + 2 < j ? tbl[v & 63] : '='};
            hd_buf_append(b, q, 4);
        }
        hd_buf_puts(b, "?=");
        i = j;
    }
}

/* Appends text to the mail body: lines end in CRLF, and a line longer than
 * 900 bytes is cut (RFC 5322 allows 998). */
static void mail_body_text(hd_buf_t *b, const char *s)
{
    size_t col = 0;
    for (; *s; s++) {
        if (*s == '\r') continue;
        if (*s == '\n' || col == 900) {
            hd_buf_puts(b, "\r\n");
            col = 0;
            if (*s == '\n') continue;
        }
        hd_buf_append(b, s, 1);
        col++;
    }
    hd_buf_puts(b, "\r\n");
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The mail of one event (RFC 5322): plain text, the event id in its
 * Message-ID. */
static void mail_build(const hd_notifier_t *n, const json_t *ev, hd_buf_t *b)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    hd_buf_t sum = {0};
    hd_tmpl_summary(ev, &sum);
    hd_buf_printf(b, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, n->def.from);
    for (size_t i = 0; n->def.to[i]; i++)
        hd_buf_printf(b, "%s<%s>", i ? ", " : "", n->def.to[i]);
    hd_buf_puts(b, "\r\nSubject: [heed] ");
    mail_header_text(b, sum.data ? sum.data : "");
    hd_buf_puts(b, "\r\nMessage-ID: <");
    for (const char *p = jstr(ev, "id"); *p; p++) /* dot-atom-text */
        hd_buf_append(b, (isalnum((unsigned char)*p) || strchr("-._", *p)) ? p : "_", 1);
    hd_buf_puts(b, "@heed>\r\nX-Heed-Event-Id: ");
    mail_header_text(b, jstr(ev, "id"));
    hd_buf_puts(b, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n\r\n");
    const json_t *check = json_object_get(ev, "check"), *svc = json_object_get(ev, "service");
    hd_buf_t t = {0};
    hd_buf_printf(&t, "%s\n\nCheck:   %s (%s)\n", sum.data ? sum.data : "", jstr(check, "name"),
                  jstr(check, "id"));
    if (json_is_object(svc)) hd_buf_printf(&t, "Service: %s\n", jstr(svc, "name"));
    hd_buf_printf(&t,
                  "Node:    %s\nStatus:  %s (was %s)\nSince:   %s\nTime:    %s\nEvent:   %s (%s)\n",
                  jstr(ev, "node"), jstr(ev, "status"), jstr(ev, "old_status"), jstr(ev, "since"),
                  jstr(ev, "time"), jstr(ev, "id"), jstr(ev, "kind"));
    if (*jstr(check, "target")) hd_buf_printf(&t, "Target:  %s\n", jstr(check, "target"));
    hd_buf_printf(&t, "\nOutput:\n%s\n", jstr(ev, "output"));
    mail_body_text(b, t.data);
    hd_buf_free(&t);
    hd_buf_free(&sum);
}

static void start_request(delivery_t *d)
{
    hd_notifier_t *n = d->n;
    if (n->def.kind == HD_NOTIFIER_EXEC) {
        hd_nexec_start(d);
        return;
    }
    const hd_curl_api_t *c = n->c;
    const json_t *ev = d->events[d->idx];
    char err[400];
    switch (n->def.kind) {
    case HD_NOTIFIER_WEBHOOK:
        if (hd_notifier_render(&n->def, n->tmpl, ev, &d->body, err, sizeof(err)) < 0) {
            hd_notifier_soon(d, HD_NOTIFY_FAILED, "%s", err);
            return;
        }
        break;
    case HD_NOTIFIER_ALERTMANAGER: {
        json_t *list = json_array();
        for (size_t i = 0; i < d->count; i++)
            am_alerts(n, d->events[i], list);
        char *s = json_dumps(list, JSON_COMPACT);
        hd_buf_puts(&d->body, s ? s : "[]");
        free(s);
        json_decref(list);
        d->idx = d->count - 1; /* one request for all */
        break;
    }
    case HD_NOTIFIER_SMTP:
        mail_build(n, ev, &d->body);
        break;
    case HD_NOTIFIER_EXEC:
        break;
    }
    CURL *e = d->easy = c->easy_init();
    if (!e) {
        hd_notifier_soon(d, HD_NOTIFY_RETRY, "curl_easy_init failed");
        return;
    }
    long ms = (long)(hd_notifier_timeout_us(n) / 1000);
    c->easy_setopt(e, CURLOPT_URL, n->url);
    c->easy_setopt(e, CURLOPT_PRIVATE, d);
    c->easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    c->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c->easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    c->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
    c->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    if (n->def.ca_file) c->easy_setopt(e, CURLOPT_CAINFO, n->def.ca_file);
    c->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
    c->easy_setopt(e, CURLOPT_WRITEDATA, d);
    if (n->def.kind == HD_NOTIFIER_SMTP) {
        c->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        if (n->starttls) c->easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        char from[300];
        snprintf(from, sizeof(from), "<%s>", n->def.from);
        c->easy_setopt(e, CURLOPT_MAIL_FROM, from);
        for (size_t i = 0; n->def.to[i]; i++) {
            char to[300];
            snprintf(to, sizeof(to), "<%s>", n->def.to[i]);
            d->rcpt = c->slist_append(d->rcpt, to);
        }
        c->easy_setopt(e, CURLOPT_MAIL_RCPT, d->rcpt);
        c->easy_setopt(e, CURLOPT_UPLOAD, 1L);
        c->easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
        c->easy_setopt(e, CURLOPT_READDATA, d);
        c->easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)d->body.len);
    } else {
        c->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        c->easy_setopt(e, CURLOPT_USERAGENT, "heed/" HEED_VERSION);
        c->easy_setopt(e, CURLOPT_POST, 1L);
        c->easy_setopt(e, CURLOPT_POSTFIELDS, d->body.data ? d->body.data : "");
        c->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->body.len);
        int have_ct = 0;
        for (size_t i = 0; i < n->def.nheaders; i++)
            if (!strcasecmp(n->def.headers[i].name, "Content-Type")) have_ct = 1;
        if (!have_ct) d->headers = c->slist_append(d->headers, "Content-Type: application/json");
        d->headers = c->slist_append(d->headers, "Expect:");
        if (n->def.kind == HD_NOTIFIER_WEBHOOK) {
            hd_buf_t h = {0};
            hd_buf_printf(&h, "Idempotency-Key: %s", jstr(ev, "id"));
            d->headers = c->slist_append(d->headers, h.data);
            hd_buf_free(&h);
        }
        for (size_t i = 0; i < n->def.nheaders; i++) {
            hd_buf_t h = {0};
            /* "Name;" sends a header with an empty value ("Name:" would remove it). */
            if (*n->def.headers[i].value)
                hd_buf_printf(&h, "%s: %s", n->def.headers[i].name, n->def.headers[i].value);
            else
                hd_buf_printf(&h, "%s;", n->def.headers[i].name);
            d->headers = c->slist_append(d->headers, h.data);
            hd_buf_free(&h);
        }
        c->easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    }
    if (c->multi_add_handle(n->multi, e) != CURLM_OK) {
        c->easy_cleanup(e);
        d->easy = NULL;
        hd_notifier_soon(d, HD_NOTIFY_RETRY, "curl_multi_add_handle failed");
    }
}

/* ---- the notifier ------------------------------------------------------------ */

void hd_notifier_set_ui_url(hd_notifier_t *n, const char *ui_url)
{
    free(n->def.ui_url);
    n->def.ui_url = ui_url ? hd_xstrdup(ui_url) : NULL;
}

hd_notifier_t *hd_notifier_new(struct event_base *base, const hd_notifier_def_t *def, char *err,
                               size_t errlen)
{
    if (hd_notifier_validate(def, err, errlen) < 0) return NULL;
    hd_notifier_t *n = hd_xcalloc(1, sizeof(*n));
    n->base = base;
    hd_notifier_def_copy(&n->def, def);
    if (def->kind == HD_NOTIFIER_EXEC) return n;
    if (def->kind == HD_NOTIFIER_WEBHOOK && !(n->tmpl = hd_notifier_template(def, err, errlen)))
        goto bad;
    hd_url_t u;
    if (hd_url_parse(def->url, &u, err, errlen) < 0) goto bad; /* validated: never */
    if (u.password && *u.password) {
        n->password = hd_xstrdup(u.password);
        hd_buf_t cred = {0}, b64 = {0};
        hd_buf_printf(&cred, "%s:%s", u.user ? u.user : "", u.password);
        hd_base64_encode(&b64, cred.data, cred.len);
        n->basic = b64.data;
        memset(cred.data, 0, cred.len);
        hd_buf_free(&cred);
    }
    hd_url_free(&u);
    if (def->kind == HD_NOTIFIER_ALERTMANAGER) {
        size_t l = strlen(def->url);
        while (l && def->url[l - 1] == '/')
            l--;
        hd_buf_t b = {0};
        hd_buf_printf(&b, "%.*s/api/v2/alerts", (int)l, def->url);
        n->url = b.data;
    } else if (def->kind == HD_NOTIFIER_SMTP && !strncasecmp(def->url, "smtp+starttls:", 14)) {
        hd_buf_t b = {0};
        hd_buf_printf(&b, "smtp:%s", def->url + 14);
        n->url = b.data;
        n->starttls = 1;
    } else {
        n->url = hd_xstrdup(def->url);
    }
    char cerr[200];
    n->c = hd_curl_load(cerr, sizeof(cerr));
    if (!n->c) {
        snprintf(err, errlen, "%s notifiers need libcurl: %s", hd_notifier_kind_str(def->kind),
                 cerr);
        goto bad;
    }
    n->multi = n->c->multi_init();
    n->timer = evtimer_new(base, on_timer, n);
    n->c->multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    n->c->multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n);
    n->c->multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    n->c->multi_setopt(n->multi, CURLMOPT_TIMERDATA, n);
    return n;
bad:
    really_free(n);
    return NULL;
}

const hd_notifier_def_t *hd_notifier_def(const hd_notifier_t *n)
{
    return &n->def;
}

int hd_notifier_batches(const hd_notifier_t *n)
{
    return n->def.kind == HD_NOTIFIER_ALERTMANAGER;
}

int hd_notifier_send_batch(hd_notifier_t *n, const json_t *const *events, size_t count,
                           hd_notifier_done_cb cb, void *arg)
{
    if (!n || !cb || !events || count == 0) return -1;
    delivery_t *d = hd_xcalloc(1, sizeof(*d));
    d->n = n;
    d->cb = cb;
    d->arg = arg;
    hd_proc_init(&d->proc);
    d->events = hd_xcalloc(count, sizeof(*d->events));
    for (size_t i = 0; i < count; i++) {
        d->events[i] = json_deep_copy(events[i]);
        if (!d->events[i]) d->events[i] = json_object();
    }
    d->count = count;
    d->next = n->live;
    if (d->next) d->next->prev = d;
    n->live = d;
    start_request(d);
    return 0;
}

int hd_notifier_send(hd_notifier_t *n, const json_t *event, hd_notifier_done_cb cb, void *arg)
{
    return hd_notifier_send_batch(n, &event, 1, cb, arg);
}
