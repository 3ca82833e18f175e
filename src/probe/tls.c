/* tls — tls://host:port probes: connect (dial.h), a nonblocking TLS
 * handshake with OpenSSL driven by the loop, then the leaf certificate.
 *
 * Verdicts, as Nagios check_http -C: critical when the handshake fails,
 * the certificate has expired or is not valid yet, or (unless insecure) the
 * chain or the host name do not verify; warning when fewer than
 * cert_days_left whole days are left; passing otherwise. The SNI name is the
 * host unless it is an address; an address is checked against the
 * certificate's IP entries. The leaf's notAfter goes to res.cert_expiry
 * whenever a certificate was seen.
 *
 * The handshake runs with SSL_VERIFY_NONE and the verification result is
 * read afterwards: the probe then still sees the certificate of a server it
 * does not trust and can say both what is wrong and when it expires.
 *
 * OpenSSL is loaded with dlopen() on the first tls:// probe (util/ssl_dl.h
 * says why). The SSL_CTX (with the system's trust store, or SSL_CERT_FILE
 * / SSL_CERT_DIR) is made once per process and shared. */
#include "probe/dial.h"
#include "probe/probe_impl.h"
#include "util/mem.h"
#include "util/ssl_dl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECS_PER_DAY 86400

typedef struct hd_tls_s hd_tls_t;

struct hd_tls_s {
    const hd_ssl_api_t *f; /* NULL when OpenSSL could not be loaded */
    SSL_CTX *ctx;
    char err[200]; /* why OpenSSL could not be set up, if it could not */
};

typedef struct tlsp_s {
    hd_probe_t *p;
    hd_tls_t *tls;
    SSL_CTX *own; /* the target's own context, with its TLS files; NULL: tls->ctx */
    /* The protocol floor (hd_tls_expect_t.refuse): after the certificate's
     * handshake, one handshake per version with only that version offered,
     * at OpenSSL's security level 0 (Debian's default level refuses TLS
     * 1.0 and 1.1 before a byte is sent). */
    int floor;         /* the version being tried (0: TLS 1.0), -1: the first handshake */
    unsigned accepted; /* versions that completed a handshake */
    SSL_CTX *floor_ctx;
    hd_status_t st; /* the certificate's verdict, kept while the floor runs */
    hd_reason_t reason;
    char msg[400];
    hd_dial_t dial; /* idle once it has handed over fd */
    int fd;
    SSL *ssl;
    struct event *ev;
} tlsp_t;

/* Loads OpenSSL and makes the shared context; 0, or -1 with tls->err. */
static int load(hd_tls_t *tls)
{
    tls->f = hd_ssl_load(tls->err, sizeof(tls->err));
    if (!tls->f) return -1;
    tls->ctx = tls->f->SSL_CTX_new(tls->f->TLS_client_method());
    if (!tls->ctx) {
        snprintf(tls->err, sizeof(tls->err), "cannot create a TLS context");
        return -1;
    }
    /* Without a trust store every chain fails, which the probe reports;
     * insecure probes still work. */
    (void)tls->f->SSL_CTX_set_default_verify_paths(tls->ctx);
    return 0;
}

void hd_tls_free(hd_tls_t *tls)
{
    if (!tls) return;
    if (tls->ctx) tls->f->SSL_CTX_free(tls->ctx);
    free(tls); /* OpenSSL stays loaded (util/ssl_dl.h) */
}

static hd_tls_t *tls_of(hd_probe_env_t *env)
{
    if (!env->tls) {
        env->tls = hd_xcalloc(1, sizeof(*env->tls));
        (void)load(env->tls); /* on failure ctx stays NULL and err says why */
    }
    return env->tls;
}

static void tls_stop(hd_probe_t *p)
{
    tlsp_t *c = p->impl;
    if (!c) return;
    hd_dial_cancel(&c->dial);
    if (c->ev) event_free(c->ev);
    if (c->ssl) c->tls->f->SSL_free(c->ssl);
    if (c->own) c->tls->f->SSL_CTX_free(c->own);
    if (c->floor_ctx) c->tls->f->SSL_CTX_free(c->floor_ctx);
    if (c->fd >= 0) close(c->fd);
    free(c);
    p->impl = NULL;
}

static void ssl_error(hd_tls_t *tls, char *buf, size_t len, const char *fallback)
{
    hd_ssl_error(tls->f, buf, len, fallback);
}

/* Epoch seconds of an ASN1 time; 0 when unreadable. */
static int64_t epoch_of(hd_tls_t *tls, const ASN1_TIME *at)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!at || tls->f->ASN1_TIME_to_tm(at, &tm) != 1) return 0;
    return (int64_t)timegm(&tm);
}

static void ymd(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

static void next_floor(tlsp_t *c);

/* Keeps the certificate's verdict (the probe ends with it, or with the
 * floor's after it). */
static void verdict(tlsp_t *c, hd_status_t st, hd_reason_t r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void verdict(tlsp_t *c, hd_status_t st, hd_reason_t r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    c->st = st;
    c->reason = r;
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
}

/* The handshake is complete: judge the certificate. */
static void judge(tlsp_t *c)
{
    hd_probe_t *p = c->p;
    hd_tls_t *tls = c->tls;
    const hd_target_t *t = p->t;
    X509 *cert = tls->f->SSL_get1_peer_certificate(c->ssl);
    if (!cert) {
        hd_probe_done(p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL, "the server sent no certificate");
        return;
    }
    char cn[256] = "";
    X509_NAME *subj = tls->f->X509_get_subject_name(cert);
    if (!subj || tls->f->X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)) < 0)
        snprintf(cn, sizeof(cn), "(no CN)");
    int64_t not_after = epoch_of(tls, tls->f->X509_get0_notAfter(cert));
    int64_t not_before = epoch_of(tls, tls->f->X509_get0_notBefore(cert));
    long verify = tls->f->SSL_get_verify_result(c->ssl);
    tls->f->X509_free(cert);
    tls->f->SSL_shutdown(c->ssl); /* best effort close_notify; the verdict does not depend on it */
    tls->f->ERR_clear_error();

    int64_t now = (int64_t)time(NULL);
    char date[32];
    ymd(not_after, date, sizeof(date));
    p->cert_expiry = not_after;
    if (!not_after) {
        verdict(c, HD_STATUS_CRITICAL, HD_R_TLS_FAIL,
                "certificate for CN=%s has an unreadable expiry date", cn);
    } else if (not_after <= now) {
        int64_t days = (now - not_after) / SECS_PER_DAY;
        verdict(c, HD_STATUS_CRITICAL, HD_R_TLS_EXPIRED,
                "certificate for CN=%s expired %lld day%s ago (%s)", cn, (long long)days,
                days == 1 ? "" : "s", date);
    } else if (not_before > now) {
        char from[32];
        ymd(not_before, from, sizeof(from));
        verdict(c, HD_STATUS_CRITICAL, HD_R_TLS_FAIL,
                "certificate for CN=%s is not valid before %s", cn, from);
    } else if (!t->tls.insecure && verify != X509_V_OK) {
        verdict(c, HD_STATUS_CRITICAL, HD_R_TLS_FAIL,
                "certificate for CN=%s does not verify: %s (use --insecure to skip)", cn,
                tls->f->X509_verify_cert_error_string(verify));
    } else {
        int64_t days = (not_after - now) / SECS_PER_DAY;
        if (days < t->tls.cert_days_left)
            verdict(c, HD_STATUS_WARNING, HD_R_TLS_EXPIRING,
                    "certificate for CN=%s expires in %lld day%s (%s), fewer than %d", cn,
                    (long long)days, days == 1 ? "" : "s", date, t->tls.cert_days_left);
        else
            verdict(c, HD_STATUS_PASSING, HD_R_OK,
                    "certificate for CN=%s expires in %lld day%s (%s)", cn, (long long)days,
                    days == 1 ? "" : "s", date);
    }
    if (p->t->tls.refuse && c->st != HD_STATUS_CRITICAL)
        next_floor(c);
    else
        hd_probe_done(p, c->st, c->reason, "%s", c->msg);
}

static void on_io(evutil_socket_t fd, short what, void *arg);

/* Drives the handshake one step: done, or waiting for the socket. */
static void step(tlsp_t *c)
{
    hd_tls_t *tls = c->tls;
    tls->f->ERR_clear_error();
    errno = 0;
    int rc = tls->f->SSL_connect(c->ssl);
    if (rc == 1) {
        if (c->floor >= 0) {
            c->accepted |= 1u << c->floor;
            next_floor(c);
        } else {
            judge(c);
        }
        return;
    }
    int e = tls->f->SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (c->ev) event_free(c->ev);
        c->ev = event_new(c->p->env->base, c->fd, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE,
                          on_io, c);
        event_add(c->ev, NULL);
        return;
    }
    if (c->floor >= 0) {
        /* The server refused the version (an alert, or it hung up). */
        next_floor(c);
        return;
    }
    char msg[256];
    if (e == SSL_ERROR_SYSCALL && errno)
        snprintf(msg, sizeof(msg), "%s", strerror(errno));
    else
        ssl_error(tls, msg, sizeof(msg), "the server closed the connection");
    hd_probe_done(c->p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL, "TLS handshake failed: %s", msg);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

static int is_address(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void on_dialed(int fd, hd_reason_t reason, const char *msg, void *arg)
{
    tlsp_t *c = arg;
    hd_tls_t *tls = c->tls;
    const hd_target_t *t = c->p->t;
    if (fd < 0) {
        hd_probe_done(c->p, HD_STATUS_CRITICAL, reason, "%s", msg);
        return;
    }
    c->fd = fd;
    c->ssl = tls->f->SSL_new(c->floor >= 0 ? c->floor_ctx : c->own ? c->own : tls->ctx);
    if (!c->ssl || tls->f->SSL_set_fd(c->ssl, fd) != 1) {
        char err[200];
        ssl_error(tls, err, sizeof(err), "out of memory");
        hd_probe_done(c->p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL, "TLS setup: %s", err);
        return;
    }
    tls->f->SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    int ok;
    if (is_address(t->host)) {
        ok = tls->f->X509_VERIFY_PARAM_set1_ip_asc(tls->f->SSL_get0_param(c->ssl), t->host);
    } else {
        ok = tls->f->SSL_ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                              (void *)t->host) == 1 &&
             tls->f->SSL_set1_host(c->ssl, t->host) == 1;
    }
    if (ok != 1) {
        char err[200];
        ssl_error(tls, err, sizeof(err), "cannot set the host name");
        hd_probe_done(c->p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL, "TLS setup for %s: %s", t->host,
                      err);
        return;
    }
    step(c);
}

/* The versions of mask as "TLS 1.0, TLS 1.1" into buf. */
static void versions(unsigned mask, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < HD_TLS_VERSIONS; i++) {
        if (!(mask & (1u << i))) continue;
        int w = snprintf(buf + off, len - off, "%sTLS 1.%d", off ? ", " : "", i);
        if (w < 0 || (size_t)w >= len - off) return;
        off += (size_t)w;
    }
}

/* The floor is known: every version was tried. */
static void floor_done(tlsp_t *c)
{
    const hd_target_t *t = c->p->t;
    char bad[64], want[64], weakest[16] = "none";
    for (int i = 0; i < HD_TLS_VERSIONS; i++)
        if (c->accepted & (1u << i)) {
            snprintf(weakest, sizeof(weakest), "TLS 1.%d", i);
            break;
        }
    versions(c->accepted & t->tls.refuse, bad, sizeof(bad));
    versions(t->tls.refuse, want, sizeof(want));
    if (bad[0])
        hd_probe_done(c->p, HD_STATUS_CRITICAL, HD_R_TLS_WEAK,
                      "accepts %s, which it must refuse; weakest accepted: %s", bad, weakest);
    else
        hd_probe_done(c->p, c->st, c->reason, "%s; refuses %s; weakest accepted: %s", c->msg, want,
                      weakest);
}

/* Closes the handshake that ended and starts the next version's, or ends
 * the probe when every version has been tried. */
static void next_floor(tlsp_t *c)
{
    hd_tls_t *tls = c->tls;
    if (c->ev) event_free(c->ev);
    c->ev = NULL;
    if (c->ssl) tls->f->SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (c->floor_ctx) tls->f->SSL_CTX_free(c->floor_ctx);
    c->floor_ctx = NULL;
    tls->f->ERR_clear_error();
    if (++c->floor == HD_TLS_VERSIONS) {
        floor_done(c);
        return;
    }
    long v = TLS1_VERSION + c->floor; /* 0x0301 + i: TLS 1.i */
    SSL_CTX *x = c->floor_ctx = tls->f->SSL_CTX_new(tls->f->TLS_client_method());
    if (!x || tls->f->SSL_CTX_ctrl(x, SSL_CTRL_SET_MIN_PROTO_VERSION, v, NULL) != 1 ||
        tls->f->SSL_CTX_ctrl(x, SSL_CTRL_SET_MAX_PROTO_VERSION, v, NULL) != 1) {
        hd_probe_done(c->p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL,
                      "this OpenSSL cannot offer TLS 1.%d alone", c->floor);
        return;
    }
    /* Level 0: TLS 1.0 and 1.1, SHA-1 signatures and the old ciphers may
     * be offered, to see whether the server takes them. Nothing is sent
     * over these connections but the handshake. */
    tls->f->SSL_CTX_set_security_level(x, 0);
    (void)tls->f->SSL_CTX_set_cipher_list(x, "ALL:@SECLEVEL=0");
    /* A server that wants a client certificate gets it here too: refusing
     * a version must not be confused with refusing a client without one. */
    char err[600];
    if (hd_tls_files_any(&c->p->t->tls_files) &&
        hd_tls_files_load(tls->f, x, &c->p->t->tls_files, err, sizeof(err)) < 0) {
        hd_probe_done(c->p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL, "%s", err);
        return;
    }
    hd_dial_start(&c->dial, c->p->env, c->p->t->host, c->p->t->port, on_dialed, c);
}

static int tls_start(hd_probe_t *p)
{
    hd_tls_t *tls = tls_of(p->env);
    if (!tls->ctx) {
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_UNSUPPORTED, "%s", tls->err);
        return 0;
    }
    tlsp_t *c = hd_xcalloc(1, sizeof(*c));
    c->p = p;
    c->tls = tls;
    c->fd = -1;
    c->floor = -1;
    p->impl = c;
    const hd_tls_files_t *tf = &p->t->tls_files;
    if (hd_tls_files_any(tf)) {
        /* A private CA or a client certificate: a context of its own for
         * this attempt, the system's trust store only without a CA file. */
        char err[600];
        c->own = tls->f->SSL_CTX_new(tls->f->TLS_client_method());
        if (!c->own) {
            hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL, "cannot create a TLS context");
            return 0;
        }
        if (!tf->ca_file) (void)tls->f->SSL_CTX_set_default_verify_paths(c->own);
        if (hd_tls_files_load(tls->f, c->own, tf, err, sizeof(err)) < 0) {
            hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_TLS_FAIL, "%s", err);
            return 0;
        }
    }
    hd_dial_start(&c->dial, p->env, p->t->host, p->t->port, on_dialed, c);
    return 0;
}

const hd_probe_kind_t hd_probe_tls = {tls_start, tls_stop};
