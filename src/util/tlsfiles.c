/* tlsfiles — the TLS files of a client (see tlsfiles.h). */
#include "util/tlsfiles.h"
#include "util/mem.h"
#include "util/ssl_dl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hd_tls_file_check(const char *name, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: cannot read: %s", name, path, strerror(errno));
        return -1;
    }
    struct stat sb;
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "%s %s: not a regular file", name, path);
        return -1;
    }
    return 0;
}

int hd_tls_files_check(const hd_tls_files_t *f, const char *const names[3], char *err,
                       size_t errlen)
{
    const char *paths[3] = {f->ca_file, f->cert_file, f->key_file};
    for (int i = 0; i < 3; i++)
        if (paths[i] && hd_tls_file_check(names[i], paths[i], err, errlen) < 0) return -1;
    if (f->key_file && !f->cert_file) {
        snprintf(err, errlen, "%s without a client certificate: give %s too", names[2], names[1]);
        return -1;
    }
    return 0;
}

int hd_tls_files_any(const hd_tls_files_t *f)
{
    return f->ca_file || f->cert_file || f->key_file;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int hd_tls_files_equal(const hd_tls_files_t *a, const hd_tls_files_t *b)
{
    return same(a->ca_file, b->ca_file) && same(a->cert_file, b->cert_file) &&
           same(a->key_file, b->key_file);
}

void hd_tls_files_copy(hd_tls_files_t *dst, const hd_tls_files_t *src)
{
    dst->ca_file = src->ca_file ? hd_xstrdup(src->ca_file) : NULL;
    dst->cert_file = src->cert_file ? hd_xstrdup(src->cert_file) : NULL;
    dst->key_file = src->key_file ? hd_xstrdup(src->key_file) : NULL;
}

void hd_tls_files_free(hd_tls_files_t *f)
{
    free(f->ca_file);
    free(f->cert_file);
    free(f->key_file);
    f->ca_file = f->cert_file = f->key_file = NULL;
}

int hd_tls_files_load(const hd_ssl_api_t *api, SSL_CTX *ctx, const hd_tls_files_t *f, char *err,
                      size_t errlen)
{
    char why[200];
    api->ERR_clear_error();
    if (f->ca_file && api->SSL_CTX_load_verify_locations(ctx, f->ca_file, NULL) != 1) {
        hd_ssl_error(api, why, sizeof(why), "no certificate in it");
        snprintf(err, errlen, "CA file %s: %s", f->ca_file, why);
        return -1;
    }
    if (f->cert_file) {
        const char *key = f->key_file ? f->key_file : f->cert_file;
        if (api->SSL_CTX_use_certificate_chain_file(ctx, f->cert_file) != 1) {
            hd_ssl_error(api, why, sizeof(why), "no certificate in it");
            snprintf(err, errlen, "certificate %s: %s", f->cert_file, why);
            return -1;
        }
        if (api->SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            hd_ssl_error(api, why, sizeof(why), "no private key in it");
            snprintf(err, errlen, "key %s: %s", key, why);
            return -1;
        }
        if (api->SSL_CTX_check_private_key(ctx) != 1) {
            snprintf(err, errlen, "key %s does not match the certificate %s", key, f->cert_file);
            return -1;
        }
    }
    return 0;
}
