/* ssl_dl — OpenSSL (libssl.so.3 and the libcrypto it needs), loaded with
 * dlopen() on first use instead of linked, as util/curl_dl loads libcurl.
 *
 * Linking libssl and libcrypto adds about 1.7 MB of resident memory to
 * every `heed wait`, against a 3 MB goal; only tls:// probes
 * (probe/tls.c) and an agent serving HTTPS (api/tls.c) need OpenSSL. Both
 * reach it through this one table. The binary carries OpenSSL's headers
 * only, so a field's type is the function's own and a mismatch does not
 * compile. OpenSSL's macros that wrap SSL_CTX_ctrl (SSL_CTX_set_mode,
 * SSL_CTX_set_min_proto_version, ...) are spelled out through ctrl. */
#ifndef HD_SSL_DL_H
#define HD_SSL_DL_H

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stddef.h>

#define HD_SSL_SONAME "libssl.so.3"

/* The part of OpenSSL's API heed calls, resolved by dlsym(). */
#define HD_SSL_API(X)                                                                              \
    X(TLS_client_method)                                                                           \
    X(TLS_server_method)                                                                           \
    X(SSL_CTX_new)                                                                                 \
    X(SSL_CTX_free)                                                                                \
    X(SSL_CTX_ctrl)                                                                                \
    X(SSL_CTX_set_options)                                                                         \
    X(SSL_CTX_set_default_verify_paths)                                                            \
    X(SSL_CTX_use_certificate_chain_file)                                                          \
    X(SSL_CTX_use_PrivateKey_file)                                                                 \
    X(SSL_CTX_check_private_key)                                                                   \
    X(SSL_CTX_load_verify_locations)                                                               \
    X(SSL_CTX_set_verify)                                                                          \
    X(SSL_CTX_set_security_level)                                                                  \
    X(SSL_CTX_set_cipher_list)                                                                     \
    X(SSL_CTX_set_session_id_context)                                                              \
    X(SSL_CTX_set_client_CA_list)                                                                  \
    X(SSL_load_client_CA_file)                                                                     \
    X(SSL_new)                                                                                     \
    X(SSL_free)                                                                                    \
    X(SSL_set_fd)                                                                                  \
    X(SSL_ctrl)                                                                                    \
    X(SSL_set_verify)                                                                              \
    X(SSL_set1_host)                                                                               \
    X(SSL_get0_param)                                                                              \
    X(X509_VERIFY_PARAM_set1_ip_asc)                                                               \
    X(SSL_connect)                                                                                 \
    X(SSL_accept)                                                                                  \
    X(SSL_read)                                                                                    \
    X(SSL_write)                                                                                   \
    X(SSL_pending)                                                                                 \
    X(SSL_shutdown)                                                                                \
    X(SSL_get_error)                                                                               \
    X(SSL_get_verify_result)                                                                       \
    X(X509_verify_cert_error_string)                                                               \
    X(SSL_get1_peer_certificate)                                                                   \
    X(X509_free)                                                                                   \
    X(X509_get0_notAfter)                                                                          \
    X(X509_get0_notBefore)                                                                         \
    X(ASN1_TIME_to_tm)                                                                             \
    X(X509_get_subject_name)                                                                       \
    X(X509_NAME_get_text_by_NID)                                                                   \
    X(ERR_get_error)                                                                               \
    X(ERR_peek_error)                                                                              \
    X(ERR_error_string_n)                                                                          \
    X(ERR_clear_error)

typedef struct hd_ssl_api_s {
#define HD_SSL_FIELD(name) __typeof__(name) *name;
    HD_SSL_API(HD_SSL_FIELD)
#undef HD_SSL_FIELD
} hd_ssl_api_t;

/* Loads OpenSSL once per process (its state is per process too).
 * Returns the table, or NULL with the reason in err, the same reason on
 * every later call. Thread-safe. */
const hd_ssl_api_t *hd_ssl_load(char *err, size_t errlen);

/* OpenSSL's first queued error as text (or fallback when none), and the
 * queue cleared. */
void hd_ssl_error(const hd_ssl_api_t *f, char *buf, size_t len, const char *fallback);

#endif
