/* curl_dl — load libcurl once (see curl_dl.h).
 *
 * The one piece of process-wide mutable state in heed's modules, on
 * purpose: dlopen() handles and curl_global_init() are per process, so a
 * per-context copy would only pretend otherwise. It is written once, under
 * pthread_once, and read-only after.
 *
 * The library is never dlclose()d and curl_global_cleanup() never runs:
 * libcurl's dependencies register atexit handlers (OpenSSL), which would
 * then run from unmapped memory at exit. */
#include "util/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct {
    pthread_once_t once;
    int ok;
    char err[200];
    hd_curl_api_t api;
} loaded = {PTHREAD_ONCE_INIT, 0, "", {0}};

#define SYM(field, name)                                                                           \
    do {                                                                                           \
        *(void **)&loaded.api.field = dlsym(dl, name);                                             \
        if (!loaded.api.field) {                                                                   \
            snprintf(loaded.err, sizeof(loaded.err), "%s lacks %s", HD_CURL_SONAME, name);         \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#ifdef HEED_STATIC
/* The static build has no dynamic loader and no libcurl (its static link
 * needs Kerberos archives Debian does not ship): say so at once. */
static void load(void)
{
    snprintf(loaded.err, sizeof(loaded.err), "%s", HD_CURL_NOT_IN_BUILD);
}
#else
static void load(void)
{
    void *dl = dlopen(HD_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(loaded.err, sizeof(loaded.err), "cannot load %s (install Debian's libcurl4): %s",
                 HD_CURL_SONAME, dlerror());
        return;
    }
    CURLcode (*global_init)(long);
    *(void **)&global_init = dlsym(dl, "curl_global_init");
    if (!global_init) {
        snprintf(loaded.err, sizeof(loaded.err), "%s lacks curl_global_init", HD_CURL_SONAME);
        return;
    }
    SYM(multi_init, "curl_multi_init");
    SYM(multi_setopt, "curl_multi_setopt");
    SYM(multi_add_handle, "curl_multi_add_handle");
    SYM(multi_remove_handle, "curl_multi_remove_handle");
    SYM(multi_socket_action, "curl_multi_socket_action");
    SYM(multi_assign, "curl_multi_assign");
    SYM(multi_info_read, "curl_multi_info_read");
    SYM(multi_cleanup, "curl_multi_cleanup");
    SYM(easy_init, "curl_easy_init");
    SYM(easy_setopt, "curl_easy_setopt");
    SYM(easy_perform, "curl_easy_perform");
    SYM(easy_getinfo, "curl_easy_getinfo");
    SYM(easy_cleanup, "curl_easy_cleanup");
    SYM(easy_strerror, "curl_easy_strerror");
    SYM(slist_append, "curl_slist_append");
    SYM(slist_free_all, "curl_slist_free_all");
    /* RTLD_NOLOAD: only the libssl that libcurl brought in, never another. */
    void *ssl = dlopen(HD_CURL_SSL_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (ssl) *(void **)&loaded.api.ssl_ctx_set_cert_cb = dlsym(ssl, "SSL_CTX_set_cert_cb");
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(loaded.err, sizeof(loaded.err), "curl_global_init failed");
        return;
    }
    loaded.ok = 1;
}
#endif

const hd_curl_api_t *hd_curl_load(char *err, size_t errlen)
{
    pthread_once(&loaded.once, load);
    if (loaded.ok) return &loaded.api;
    snprintf(err, errlen, "%s", loaded.err);
    return NULL;
}
