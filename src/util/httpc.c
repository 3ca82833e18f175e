/* httpc — synchronous HTTP client for the CLI (see httpc.h). */
#include "util/httpc.h"
#include "util/buf.h"
#include "util/curl_dl.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTPC_BODY_MAX (64u << 20)

typedef struct sink_s {
    hd_buf_t buf;
    int too_big;
} sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    sink_t *s = arg;
    size_t len = size * n;
    if (s->buf.len + len > HTTPC_BODY_MAX) {
        s->too_big = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    hd_buf_append(&s->buf, data, len);
    return len;
}

int hd_httpc_do(const hd_httpc_req_t *req, hd_httpc_resp_t *resp, char *err, size_t errlen)
{
    memset(resp, 0, sizeof(*resp));
    char why[200];
    const hd_curl_api_t *c = hd_curl_load(why, sizeof(why));
    if (!c) {
        snprintf(err, errlen, "%s: %s", req->url, why);
        return -1;
    }
    CURL *e = c->easy_init();
    if (!e) {
        snprintf(err, errlen, "%s: curl_easy_init failed", req->url);
        return -1;
    }
    sink_t sink = {{0}, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    char *auth = NULL, *ctype = NULL;
    const char *method = req->method ? req->method : "GET";
    long ms = req->timeout_ms > 0 ? req->timeout_ms : 10000;

    c->easy_setopt(e, CURLOPT_URL, req->url);
    c->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    c->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    c->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c->easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    c->easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    c->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    c->easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    c->easy_setopt(e, CURLOPT_USERAGENT, "heed/" HEED_VERSION);
    c->easy_setopt(e, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    c->easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    if (!strcmp(method, "HEAD"))
        c->easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        c->easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (req->body) {
        c->easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
        c->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        size_t n = strlen(req->content_type ? req->content_type : "application/json") + 16;
        ctype = hd_xmalloc(n);
        snprintf(ctype, n, "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        hdrs = c->slist_append(hdrs, ctype);
        /* No "Expect: 100-continue" round trip for large bodies. */
        hdrs = c->slist_append(hdrs, "Expect:");
    }
    if (req->token && *req->token) {
        size_t n = strlen(req->token) + 32;
        auth = hd_xmalloc(n);
        snprintf(auth, n, "Authorization: Bearer %s", req->token);
        hdrs = c->slist_append(hdrs, auth);
    }
    if (hdrs) c->easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = c->easy_perform(e);
    int ret = 0;
    if (rc != CURLE_OK) {
        if (sink.too_big)
            snprintf(err, errlen, "%s: reply body larger than %u MiB", req->url,
                     HTTPC_BODY_MAX >> 20);
        else
            snprintf(err, errlen, "%s: %s", req->url, errbuf[0] ? errbuf : c->easy_strerror(rc));
        hd_buf_free(&sink.buf);
        ret = -1;
    } else {
        c->easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
        if (!sink.buf.data) hd_buf_puts(&sink.buf, ""); /* allocates: body is never NULL */
        resp->body = sink.buf.data;
        resp->len = sink.buf.len;
    }
    c->easy_cleanup(e);
    if (hdrs) c->slist_free_all(hdrs);
    free(auth);
    free(ctype);
    return ret;
}

void hd_httpc_resp_free(hd_httpc_resp_t *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

char *hd_httpc_addr_normalize(const char *addr, char *err, size_t errlen)
{
    if (!addr || !*addr) {
        snprintf(err, errlen, "empty agent address");
        return NULL;
    }
    hd_buf_t b = {0};
    if (strstr(addr, "://")) {
        if (strncasecmp(addr, "http://", 7) != 0 && strncasecmp(addr, "https://", 8) != 0) {
            snprintf(err, errlen,
                     "agent address '%s' is not http:// or https:// (e.g. 127.0.0.1:8500)", addr);
            return NULL;
        }
    } else {
        hd_buf_puts(&b, "http://");
    }
    hd_buf_puts(&b, addr);
    size_t keep = (size_t)(strstr(b.data, "://") - b.data) + 3; /* "scheme://" */
    while (b.len > keep && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    return b.data;
}

static const char *env_first(const char *a, const char *b, const char **which)
{
    const char *v = getenv(a);
    *which = a;
    if (v && *v) return v;
    *which = b;
    v = getenv(b);
    return v && *v ? v : NULL;
}

char *hd_httpc_env_addr(char *err, size_t errlen)
{
    const char *which;
    const char *v = env_first("HEED_HTTP_ADDR", "CONSUL_HTTP_ADDR", &which);
    if (!v) return hd_xstrdup(HD_HTTPC_DEFAULT_ADDR);
    char why[300];
    char *out = hd_httpc_addr_normalize(v, why, sizeof(why));
    if (!out) snprintf(err, errlen, "%s: %s", which, why);
    return out;
}

const char *hd_httpc_env_token(void)
{
    const char *which;
    return env_first("HEED_TOKEN", "CONSUL_HTTP_TOKEN", &which);
}

char *hd_httpc_url(const char *base, const char *path)
{
    hd_buf_t b = {0};
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    hd_buf_append(&b, base, n);
    while (*path == '/')
        path++;
    hd_buf_puts(&b, "/");
    hd_buf_puts(&b, path);
    return b.data;
}
