/* curl_dl — libcurl, loaded with dlopen() on first use instead of linked.
 *
 * libcurl and what it pulls in (OpenSSL, nghttp2, GSSAPI, LDAP, ...) cost
 * about 6 MB of resident memory at start-up, which would triple the
 * footprint of a `heed wait` that only checks TCP or PostgreSQL. So the
 * binary carries only libcurl's headers, and the http probe (probe/http.c)
 * and the CLI's client (util/httpc.c) reach libcurl through this table. */
#ifndef HD_CURL_DL_H
#define HD_CURL_DL_H

#include <curl/curl.h>
#include <stddef.h>

#define HD_CURL_SONAME     "libcurl.so.4"
#define HD_CURL_SSL_SONAME "libssl.so.3" /* the TLS library of Debian's libcurl4 */
/* Why the static heed (make static) refuses what needs libcurl. */
#define HD_CURL_NOT_IN_BUILD                                                                       \
    "not in this build: the static heed has no libcurl (https, and the commands that talk to an "  \
    "agent, need the dynamically linked heed)"

/* The part of libcurl's API heed calls, resolved by dlsym(). */
typedef struct hd_curl_api_s {
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
    CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    /* OpenSSL's SSL_CTX_set_cert_cb from the libssl libcurl itself loaded
     * (found, not loaded: NULL when libcurl uses another TLS library). The
     * CLI learns from it that a server asked for a client certificate
     * (util/httpc.c). */
    void (*ssl_ctx_set_cert_cb)(void *ssl_ctx, int (*cb)(void *ssl, void *arg), void *arg);
} hd_curl_api_t;

/* Loads libcurl and runs curl_global_init, once per process (libcurl's
 * global state is per process too). Returns the table, or NULL with the
 * reason in err, the same reason on every later call. Thread-safe. */
const hd_curl_api_t *hd_curl_load(char *err, size_t errlen);

#endif
