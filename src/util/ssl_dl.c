/* ssl_dl — load OpenSSL once (see ssl_dl.h).
 *
 * Process-wide on purpose, as util/curl_dl is: dlopen() handles and
 * OpenSSL's own state are per process. Written once, under pthread_once,
 * read-only after. The library is never dlclose()d: OpenSSL registers an
 * atexit handler, which would then run from unmapped memory. */
#include "util/ssl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct {
    pthread_once_t once;
    int ok;
    char err[200];
    hd_ssl_api_t api;
} loaded = {PTHREAD_ONCE_INIT, 0, "", {0}};

#ifdef HEED_STATIC
/* The static build (CMakeLists.txt, HEED_STATIC) links OpenSSL: there is no
 * dynamic loader to dlopen() with, so the table holds the linked functions
 * themselves. */
static void load(void)
{
#define TAKE(name) loaded.api.name = name;
    HD_SSL_API(TAKE)
#undef TAKE
    loaded.ok = 1;
}
#else
static void load(void)
{
    void *dl = dlopen(HD_SSL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(loaded.err, sizeof(loaded.err), "cannot load %s (install Debian's libssl3): %s",
                 HD_SSL_SONAME, dlerror());
        return;
    }
    /* dlsym on libssl's handle also finds libcrypto's symbols: a handle's
     * lookup scope holds its dependencies. */
#define LOOKUP(name)                                                                               \
    *(void **)&loaded.api.name = dlsym(dl, #name);                                                 \
    if (!loaded.api.name) {                                                                        \
        snprintf(loaded.err, sizeof(loaded.err), "%s lacks %s", HD_SSL_SONAME, #name);             \
        return;                                                                                    \
    }
    HD_SSL_API(LOOKUP)
#undef LOOKUP
    loaded.ok = 1;
}
#endif

const hd_ssl_api_t *hd_ssl_load(char *err, size_t errlen)
{
    pthread_once(&loaded.once, load);
    if (loaded.ok) return &loaded.api;
    snprintf(err, errlen, "%s", loaded.err);
    return NULL;
}

void hd_ssl_error(const hd_ssl_api_t *f, char *buf, size_t len, const char *fallback)
{
    unsigned long e = f->ERR_get_error();
    if (e)
        f->ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "%s", fallback);
    f->ERR_clear_error();
}
