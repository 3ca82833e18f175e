/* tls — HTTPS for the API server, as Consul serves it: a certificate
 * chain and key, TLS 1.2 (or 1.3) as the floor, and with verify_incoming a
 * client certificate signed by ca_file, checked in the handshake: a client
 * without one is refused before any HTTP is read.
 *
 * OpenSSL comes through util/ssl_dl (loaded at run time, so `heed wait`
 * never maps it), not libevent's bufferevent_openssl: heed links libevent
 * statically, and libevent_openssl-2.1.so would bring a second, shared
 * libevent. The glue is small: api/conn.c drives SSL_accept, SSL_read and
 * SSL_write on the non-blocking socket from its own read and write events,
 * so handshakes never block the loop, and the connection's header
 * deadline bounds them. A context is reference-counted by OpenSSL: a
 * reload replaces it for new connections while open ones keep theirs. */
#include "api/server_impl.h"
#include "util/mem.h"
#include "util/ssl_dl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct hd_api_tls_s {
    const hd_ssl_api_t *f;
    SSL_CTX *ctx;
};

/* The process's table (hd_ssl_load answers the same every time). */
static const hd_ssl_api_t *ssl_api(void)
{
    char err[8];
    return hd_ssl_load(err, sizeof(err));
}

/* A file heed is about to hand OpenSSL: does it open? OpenSSL's own
 * message for a missing file is "system lib" at best. */
static int readable(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "tls.%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(fp);
    return 0;
}

struct hd_api_tls_s *hd_api_tls_new(const hd_api_tls_opts_t *o, char *err, size_t errlen)
{
    char why[256];
    if (!o->cert_file || !o->key_file) {
        snprintf(err, errlen, "tls: cert_file and key_file go together");
        return NULL;
    }
    if (o->verify_incoming && !o->ca_file) {
        snprintf(err, errlen, "tls: verify_incoming needs ca_file");
        return NULL;
    }
    if (readable("cert_file", o->cert_file, err, errlen) < 0 ||
        readable("key_file", o->key_file, err, errlen) < 0 ||
        (o->ca_file && readable("ca_file", o->ca_file, err, errlen) < 0))
        return NULL;
    const hd_ssl_api_t *f = hd_ssl_load(why, sizeof(why));
    if (!f) {
        snprintf(err, errlen, "tls: %s", why);
        return NULL;
    }
    SSL_CTX *ctx = f->SSL_CTX_new(f->TLS_server_method());
    if (!ctx) {
        hd_ssl_error(f, why, sizeof(why), "out of memory");
        snprintf(err, errlen, "tls: cannot create a TLS context: %s", why);
        return NULL;
    }
    const char *what = NULL, *path = NULL;
    f->ERR_clear_error();
    if (f->SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        what = "cert_file (a PEM certificate)";
        path = o->cert_file;
    } else if (f->SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
        what = ERR_GET_REASON(f->ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH
                   ? "key_file (it does not belong to cert_file's certificate)"
                   : "key_file (a PEM private key)";
        path = o->key_file;
    } else if (f->SSL_CTX_check_private_key(ctx) != 1) {
        what = "key_file (it does not belong to cert_file's certificate)";
        path = o->key_file;
    } else if (o->ca_file && f->SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
        what = "ca_file (PEM CA certificates)";
        path = o->ca_file;
    }
    if (what) {
        hd_ssl_error(f, why, sizeof(why), "unreadable");
        snprintf(err, errlen, "tls.%s %s: %s", what, path, why);
        f->SSL_CTX_free(ctx);
        return NULL;
    }
    if (o->ca_file) {
        /* The CAs named in the certificate request, so that clients pick a
         * certificate these sign. */
        STACK_OF(X509_NAME) *names = f->SSL_load_client_CA_file(o->ca_file);
        if (names) f->SSL_CTX_set_client_CA_list(ctx, names);
    }
    f->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
                    o->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION, NULL);
    f->SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                    SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Partial writes from a buffer that may move between retries (the
     * output evbuffer), and no idle read/write buffers per connection. */
    f->SSL_CTX_ctrl(ctx, SSL_CTRL_MODE,
                    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                        SSL_MODE_RELEASE_BUFFERS,
                    NULL);
    static const unsigned char sid[] = "heed-api";
    f->SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    if (o->verify_incoming)
        f->SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    f->ERR_clear_error();
    struct hd_api_tls_s *t = hd_xcalloc(1, sizeof(*t));
    t->f = f;
    t->ctx = ctx;
    return t;
}

void hd_api_tls_free(struct hd_api_tls_s *t)
{
    if (!t) return;
    t->f->SSL_CTX_free(t->ctx);
    free(t);
}

void *hd_api_tls_conn(struct hd_api_tls_s *t, int fd)
{
    SSL *ssl = t->f->SSL_new(t->ctx);
    if (!ssl) return NULL;
    if (t->f->SSL_set_fd(ssl, fd) != 1) {
        t->f->SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* What a failed call means: a WANT code, 0 for the end of the stream, or
 * -1. */
static int outcome(const hd_ssl_api_t *f, SSL *ssl, int rc)
{
    switch (f->SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return HD_API_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return HD_API_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        f->ERR_clear_error();
        return errno == 0 ? 0 : -1; /* 0: end of file without close_notify */
    default:
        f->ERR_clear_error();
        return -1;
    }
}

int hd_api_tls_handshake(void *p, char *err, size_t errlen)
{
    SSL *ssl = p;
    const hd_ssl_api_t *f = ssl_api();
    f->ERR_clear_error();
    errno = 0;
    int rc = f->SSL_accept(ssl);
    if (rc == 1) return 1;
    int e = f->SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return HD_API_TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE) return HD_API_TLS_WANT_WRITE;
    unsigned long code = f->ERR_peek_error();
    if (ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST) {
        f->ERR_clear_error();
        return HD_API_TLS_PLAIN_HTTP;
    }
    if (e == SSL_ERROR_SYSCALL && errno)
        snprintf(err, errlen, "%s", strerror(errno));
    else
        hd_ssl_error(f, err, errlen, "the client closed the connection");
    return -1;
}

int hd_api_tls_read(void *p, char *buf, size_t len)
{
    SSL *ssl = p;
    const hd_ssl_api_t *f = ssl_api();
    int n = len > INT32_MAX ? INT32_MAX : (int)len;
    errno = 0;
    int rc = f->SSL_read(ssl, buf, n);
    return rc > 0 ? rc : outcome(f, ssl, rc);
}

int hd_api_tls_write(void *p, const void *buf, size_t len)
{
    SSL *ssl = p;
    const hd_ssl_api_t *f = ssl_api();
    int n = len > INT32_MAX ? INT32_MAX : (int)len;
    errno = 0;
    int rc = f->SSL_write(ssl, buf, n);
    if (rc > 0) return rc;
    rc = outcome(f, ssl, rc);
    return rc == 0 ? -1 : rc; /* a write never meets the end of the stream */
}

int hd_api_tls_pending(void *p)
{
    return ssl_api()->SSL_pending(p);
}

void hd_api_tls_conn_free(void *p, int notify)
{
    SSL *ssl = p;
    const hd_ssl_api_t *f = ssl_api();
    if (notify) (void)f->SSL_shutdown(ssl); /* best effort: one non-blocking try */
    f->ERR_clear_error();
    f->SSL_free(ssl);
}
