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

/* Reads X-Consul-Index from the reply's header lines (the last one wins:
 * a 100 Continue's headers come first). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    unsigned long long *index = arg;
    size_t len = size * n;
    static const char name[] = "X-Consul-Index:";
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        unsigned long long v = 0;
        size_t i = sizeof(name) - 1;
        while (i < len && (data[i] == ' ' || data[i] == '\t'))
            i++;
        for (; i < len && data[i] >= '0' && data[i] <= '9' && v < 1000000000000000000ULL; i++)
            v = v * 10 + (unsigned long long)(data[i] - '0');
        *index = v;
    }
    return len;
}

/* libcurl's progress callback: non-zero gives the transfer up. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return *(const volatile sig_atomic_t *)arg != 0;
}

/* OpenSSL's words in libcurl's message, without the codes around them:
 * "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A00045C:SSL routines::tlsv13
 * alert certificate required, errno 0" -> "tlsv13 alert certificate
 * required". Messages without "::" are kept whole. */
static void tls_words(const char *msg, char *out, size_t outlen)
{
    const char *p = strstr(msg, "::");
    p = p ? p + 2 : msg;
    size_t n = strcspn(p, ",");
    if (!strstr(msg, "::")) n = strlen(p);
    snprintf(out, outlen, "%.*s", (int)n, p);
}

/* Whether the server asked for a client certificate during the handshake.
 * With TLS 1.3 the client's part of the handshake is over before the
 * server judges its certificate; a server that refuses it sends an alert
 * and closes, and whether libcurl reads that alert, or first meets the
 * closed connection (a reset, "getpeername() failed"), is a race. Knowing
 * that the server asked makes the message right either way. */
typedef struct tls_seen_s {
    const hd_curl_api_t *c;
    int asked;   /* the server sent a CertificateRequest */
    int replied; /* an HTTP status line came back */
} tls_seen_t;

static int on_cert_request(void *ssl, void *arg)
{
    (void)ssl;
    ((tls_seen_t *)arg)->asked = 1;
    return 1; /* go on: OpenSSL sends the certificate given, if any */
}

static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *arg)
{
    (void)e;
    tls_seen_t *seen = arg;
    seen->c->ssl_ctx_set_cert_cb(ssl_ctx, on_cert_request, seen);
    return CURLE_OK;
}

/* Sorts a failed transfer: a TLS failure by what the user must change. */
static int classify(CURLcode rc, const char *msg, const hd_httpc_req_t *req, const tls_seen_t *seen)
{
    int https = strncasecmp(req->url, "https://", 8) == 0;
    if (rc == CURLE_PEER_FAILED_VERIFICATION) return HD_HTTPC_EVERIFY;
    if (rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE) return HD_HTTPC_ELOCAL;
    /* Asked for a certificate, then the connection failed before any
     * reply: this is the server's verdict on it, whatever form it reached
     * us in. */
    if (https && seen->asked && !seen->replied && rc != CURLE_OPERATION_TIMEDOUT)
        return req->cert ? HD_HTTPC_EREFUSED : HD_HTTPC_ECLIENTCERT;
    switch (rc) {
    case CURLE_SSL_CLIENTCERT:
        return req->cert ? HD_HTTPC_EREFUSED : HD_HTTPC_ECLIENTCERT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        if (!https) return HD_HTTPC_ECONNECT;
        if (strstr(msg, "wrong version number") || strstr(msg, "packet length too long"))
            return HD_HTTPC_ENOTTLS;
        /* The server's alert: which one tells whether it wanted a
         * certificate or did not like the one it got. */
        if (strstr(msg, "alert certificate required") ||
            (!req->cert && strstr(msg, "alert handshake failure")))
            return req->cert ? HD_HTTPC_EREFUSED : HD_HTTPC_ECLIENTCERT;
        if (strstr(msg, "alert unknown ca") || strstr(msg, "alert bad certificate") ||
            strstr(msg, "alert certificate unknown") || strstr(msg, "alert decrypt error") ||
            strstr(msg, "alert certificate expired") ||
            strstr(msg, "alert unsupported certificate") ||
            strstr(msg, "alert handshake failure") || strstr(msg, "alert access denied"))
            return req->cert ? HD_HTTPC_EREFUSED : HD_HTTPC_ETLS;
        if (rc == CURLE_SSL_CONNECT_ERROR || strstr(msg, "SSL")) return HD_HTTPC_ETLS;
        return HD_HTTPC_ECONNECT;
    default:
        return HD_HTTPC_ECONNECT;
    }
}

int hd_httpc_do(const hd_httpc_req_t *req, hd_httpc_resp_t *resp, char *err, size_t errlen)
{
    memset(resp, 0, sizeof(*resp));
    char why[200];
    const hd_curl_api_t *c = hd_curl_load(why, sizeof(why));
    if (!c) {
        snprintf(err, errlen, "%s: %s", req->url, why);
        return -HD_HTTPC_ECONNECT;
    }
    CURL *e = c->easy_init();
    if (!e) {
        snprintf(err, errlen, "%s: curl_easy_init failed", req->url);
        return -HD_HTTPC_ECONNECT;
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
    c->easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    c->easy_setopt(e, CURLOPT_HEADERDATA, &resp->index);
    if (req->cancel) {
        c->easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        c->easy_setopt(e, CURLOPT_XFERINFODATA, (void *)req->cancel);
        c->easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    }
    c->easy_setopt(e, CURLOPT_USERAGENT, "heed/" HEED_VERSION);
    c->easy_setopt(e, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    c->easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    c->easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2); /* the agent's floor */
    tls_seen_t seen = {c, 0, 0};
    if (c->ssl_ctx_set_cert_cb) {
        c->easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        c->easy_setopt(e, CURLOPT_SSL_CTX_DATA, &seen);
    }
    if (req->cacert) c->easy_setopt(e, CURLOPT_CAINFO, req->cacert);
    if (req->cert) c->easy_setopt(e, CURLOPT_SSLCERT, req->cert);
    if (req->key) c->easy_setopt(e, CURLOPT_SSLKEY, req->key);
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
        const char *msg = errbuf[0] ? errbuf : c->easy_strerror(rc);
        long code = 0;
        c->easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        seen.replied = code != 0;
        ret = sink.too_big ? -HD_HTTPC_ECONNECT : -classify(rc, msg, req, &seen);
        if (rc == CURLE_ABORTED_BY_CALLBACK && req->cancel && *req->cancel)
            ret = -HD_HTTPC_ECANCELLED;
        char words[CURL_ERROR_SIZE];
        tls_words(msg, words, sizeof(words));
        if ((ret == -HD_HTTPC_ECLIENTCERT || ret == -HD_HTTPC_EREFUSED) && !strstr(msg, "alert"))
            snprintf(words, sizeof(words),
                     "it asked for a certificate, then closed the connection");
        if (sink.too_big)
            snprintf(err, errlen, "%s: reply body larger than %u MiB", req->url,
                     HTTPC_BODY_MAX >> 20);
        else
            snprintf(err, errlen, "%s: %s", req->url,
                     ret == -HD_HTTPC_ECONNECT || ret == -HD_HTTPC_ELOCAL ? msg : words);
        hd_buf_free(&sink.buf);
        resp->index = 0;
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

const char *hd_httpc_env(const char *first, const char *second, const char **which)
{
    const char *v = getenv(first);
    *which = first;
    if (v && *v) return v;
    *which = second;
    v = getenv(second);
    return v && *v ? v : NULL;
}

int hd_httpc_env_ssl(int *on, char *err, size_t errlen)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    const char *which;
    const char *v = hd_httpc_env("HEED_HTTP_SSL", "CONSUL_HTTP_SSL", &which);
    *on = 0;
    if (!v) return 0;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcmp(v, yes[i])) return *on = 1, 0;
        if (!strcmp(v, no[i])) return 0;
    }
    snprintf(err, errlen, "%s: expected true or false, got '%s'", which, v);
    return -1;
}

char *hd_httpc_to_https(const char *addr)
{
    hd_buf_t b = {0};
    const char *rest = strstr(addr, "://");
    hd_buf_puts(&b, "https://");
    hd_buf_puts(&b, rest ? rest + 3 : addr);
    return b.data;
}

char *hd_httpc_env_addr(char *err, size_t errlen)
{
    const char *which;
    const char *v = hd_httpc_env("HEED_HTTP_ADDR", "CONSUL_HTTP_ADDR", &which);
    if (!v) return hd_xstrdup(HD_HTTPC_DEFAULT_ADDR);
    char why[300];
    char *out = hd_httpc_addr_normalize(v, why, sizeof(why));
    if (!out) snprintf(err, errlen, "%s: %s", which, why);
    return out;
}

const char *hd_httpc_env_token(void)
{
    const char *which;
    return hd_httpc_env("HEED_TOKEN", "CONSUL_HTTP_TOKEN", &which);
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
