/* http — http:// and https:// probes through libcurl's multi interface,
 * driven by the libevent loop (socket and timer callbacks).
 *
 * libcurl is loaded with dlopen() when the first http(s) probe starts, not
 * linked, through util/curl_dl.h (which says why: start-up memory).
 *
 * Passing: a status in the expected set (any 2xx by default), and the body
 * contains the expected text if one is set (searched in the first
 * HTTP_BODY_MAX bytes). Redirects are followed only when asked
 * (CVE-2022-29153). TLS is verified unless insecure. */
#include "probe/probe_impl.h"
#include "util/curl_dl.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hd_http_s hd_http_t;

#define HTTP_BODY_MAX (1 << 20) /* bytes of body kept for body_contains */
struct hd_http_s {
    const hd_curl_api_t *c; /* NULL when libcurl could not be loaded */
    CURLM *multi;
    struct event_base *base;
    struct event *timer;
    char err[160]; /* why libcurl could not be loaded, if it could not */
};

typedef struct req_s {
    hd_probe_t *p;
    CURL *easy;
    struct curl_slist *headers; /* the target's header lines, as libcurl takes them */
    char *body;
    size_t body_len;
    char errbuf[CURL_ERROR_SIZE];
} req_t;

static void check_done(hd_http_t *h);

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
    hd_http_t *h = arg;
    int running, flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                         ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    h->c->multi_socket_action(h->multi, fd, flags, &running);
    check_done(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hd_http_t *h = arg;
    int running;
    h->c->multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    hd_http_t *h = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev) event_free(ev);
        h->c->multi_assign(h->multi, s, NULL);
        return 0;
    }
    short flags = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                  ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev) event_free(ev);
    ev = event_new(h->base, s, flags, on_sock, h);
    event_add(ev, NULL);
    h->c->multi_assign(h->multi, s, ev);
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    hd_http_t *h = userp;
    if (timeout_ms < 0) {
        evtimer_del(h->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(h->timer, &tv);
    return 0;
}

static hd_http_t *http_get(hd_probe_env_t *env, char *err, size_t errlen)
{
    if (env->http) {
        if (env->http->multi) return env->http;
        snprintf(err, errlen, "%s", env->http->err);
        return NULL;
    }
    hd_http_t *h = hd_xcalloc(1, sizeof(*h));
    env->http = h;
    h->base = env->base;
    h->c = hd_curl_load(h->err, sizeof(h->err));
    if (!h->c) {
        snprintf(err, errlen, "%s", h->err);
        return NULL;
    }
    h->multi = h->c->multi_init();
    h->timer = evtimer_new(env->base, on_timer, h);
    h->c->multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    h->c->multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    h->c->multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    h->c->multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

void hd_http_free(hd_http_t *h)
{
    if (!h) return;
    if (h->multi) h->c->multi_cleanup(h->multi);
    if (h->timer) event_free(h->timer);
    free(h);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    req_t *r = arg;
    size_t len = size * n;
    if (r->p->t->http.body_contains && r->body_len < HTTP_BODY_MAX) {
        size_t take = len < HTTP_BODY_MAX - r->body_len ? len : HTTP_BODY_MAX - r->body_len;
        r->body = hd_xrealloc(r->body, r->body_len + take + 1);
        memcpy(r->body + r->body_len, data, take);
        r->body_len += take;
        r->body[r->body_len] = '\0';
    }
    return len;
}

static int status_ok(const hd_http_expect_t *x, long code)
{
    if (x->nstatus == 0) return code >= 200 && code < 300;
    for (int i = 0; i < x->nstatus; i++)
        if (x->status[i] == code) return 1;
    return 0;
}

static void judge(hd_http_t *h, req_t *r, CURLcode rc)
{
    hd_probe_t *p = r->p;
    const hd_http_expect_t *x = &p->t->http;
    if (rc != CURLE_OK) {
        const char *msg = r->errbuf[0] ? r->errbuf : h->c->easy_strerror(rc);
        long oserr = 0;
        h->c->easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
        hd_reason_t reason = HD_R_HTTP_FAIL;
        switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
            reason = HD_R_DNS_NOT_FOUND;
            break;
        case CURLE_COULDNT_CONNECT:
            reason = oserr == ECONNREFUSED ? HD_R_CONNECT_REFUSED : HD_R_CONNECT_FAIL;
            if (oserr == ECONNREFUSED) msg = "connection refused";
            break;
        case CURLE_OPERATION_TIMEDOUT:
            reason = HD_R_TIMEOUT;
            break;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
            reason = HD_R_CLOSED;
            break;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
            reason = HD_R_TLS_FAIL;
            break;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL:
            reason = HD_R_BAD_REPLY;
            break;
        default:
            break;
        }
        hd_probe_done(p, HD_STATUS_CRITICAL, reason, "%s", msg);
        return;
    }
    long code = 0;
    h->c->easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (!status_ok(x, code)) {
        int redirect = code >= 300 && code < 400 && !x->follow;
        hd_probe_done(p, HD_STATUS_CRITICAL, HD_R_HTTP_STATUS, "HTTP %ld%s", code,
                      redirect ? " (redirects are not followed unless asked)" : "");
        return;
    }
    if (x->body_contains && (!r->body || !strstr(r->body, x->body_contains))) {
        hd_probe_done(p, HD_STATUS_CRITICAL, HD_R_HTTP_BODY, "HTTP %ld, body lacks '%s'", code,
                      x->body_contains);
        return;
    }
    hd_probe_done(p, HD_STATUS_PASSING, HD_R_OK, "HTTP %ld", code);
}

static void check_done(hd_http_t *h)
{
    CURLMsg *m;
    int left;
    while ((m = h->c->multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        req_t *r = NULL;
        h->c->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        judge(h, r, m->data.result);
    }
}

static void http_stop(hd_probe_t *p)
{
    req_t *r = p->impl;
    if (!r) return;
    if (r->easy) {
        p->env->http->c->multi_remove_handle(p->env->http->multi, r->easy);
        p->env->http->c->easy_cleanup(r->easy);
    }
    if (r->headers) p->env->http->c->slist_free_all(r->headers);
    free(r->body);
    free(r);
    p->impl = NULL;
}

static int http_start(hd_probe_t *p)
{
    char err[200];
    hd_http_t *h = http_get(p->env, err, sizeof(err));
    req_t *r = hd_xcalloc(1, sizeof(*r));
    r->p = p;
    p->impl = r;
    if (!h) {
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_UNSUPPORTED, "%s", err);
        return 0;
    }
    const hd_http_expect_t *x = &p->t->http;
    long ms = (long)(hd_probe_remaining_us(p) / 1000);
    if (ms < 1) ms = 1;
    CURL *e = r->easy = h->c->easy_init();
    h->c->easy_setopt(e, CURLOPT_URL, p->t->url);
    h->c->easy_setopt(e, CURLOPT_PRIVATE, r);
    h->c->easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    h->c->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    h->c->easy_setopt(e, CURLOPT_WRITEDATA, r);
    h->c->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    h->c->easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    h->c->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
    h->c->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    h->c->easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    h->c->easy_setopt(e, CURLOPT_FOLLOWLOCATION, x->follow ? 1L : 0L);
    h->c->easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    h->c->easy_setopt(e, CURLOPT_SSL_VERIFYPEER, x->insecure ? 0L : 1L);
    h->c->easy_setopt(e, CURLOPT_SSL_VERIFYHOST, x->insecure ? 0L : 2L);
    /* A private CA and a client certificate (util/tlsfiles.h), checked
     * when the target was set up. */
    const hd_tls_files_t *tf = &p->t->tls_files;
    if (tf->ca_file) h->c->easy_setopt(e, CURLOPT_CAINFO, tf->ca_file);
    if (tf->cert_file) h->c->easy_setopt(e, CURLOPT_SSLCERT, tf->cert_file);
    if (tf->key_file) h->c->easy_setopt(e, CURLOPT_SSLKEY, tf->key_file);
    h->c->easy_setopt(e, CURLOPT_USERAGENT, "heed/" HEED_VERSION);
    /* Each attempt is a new connection: a reused one would hide a restart. */
    h->c->easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    h->c->easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    /* What the check sends: Consul's Method, Header and Body. A HEAD has no
     * body to wait for; a body goes with any method. */
    if (x->method && !strcmp(x->method, "HEAD"))
        h->c->easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (x->method && strcmp(x->method, "GET") != 0)
        h->c->easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    if (x->body) {
        h->c->easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        h->c->easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
        if (!x->method) h->c->easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");
    }
    for (char **l = x->headers; l && *l; l++)
        r->headers = h->c->slist_append(r->headers, *l);
    if (r->headers) h->c->easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (h->c->multi_add_handle(h->multi, e) != CURLM_OK) {
        h->c->easy_cleanup(e);
        r->easy = NULL;
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_HTTP_FAIL, "curl_multi_add_handle failed");
    }
    return 0;
}

const hd_probe_kind_t hd_probe_http = {http_start, http_stop};
