/* tlsfiles — the one loader of the TLS files heed uses as a client: a CA
 * file that the server's certificate must chain to (instead of the
 * system's trust store), a client certificate (PEM, the chain) and its
 * private key (PEM; in the certificate file when no key file is given).
 *
 * The CLI's files for reaching the agent (cmd/client.c: --cacert, --cert,
 * --key) and a probe's files for its https:// and tls:// targets (`heed
 * wait --cacert/--cert/--key`, a check's tls: {ca_file, cert_file,
 * key_file}) are checked here with the same rules and messages, and the
 * tls:// probe's OpenSSL context loads them here. */
#ifndef HD_TLSFILES_H
#define HD_TLSFILES_H

#include <stddef.h>

struct hd_ssl_api_s; /* util/ssl_dl.h */
struct ssl_ctx_st;   /* OpenSSL's SSL_CTX */

typedef struct hd_tls_files_s {
    char *ca_file;   /* NULL: the system's trust store */
    char *cert_file; /* NULL: no client certificate */
    char *key_file;  /* NULL: the key is in cert_file */
} hd_tls_files_t;

/* 0 when path names a regular file this process can read; else -1 with
 * "NAME PATH: cannot read: why" or "NAME PATH: not a regular file" in err.
 * name says where the path came from ("--cacert", "tls.ca_file", ...). */
int hd_tls_file_check(const char *name, const char *path, char *err, size_t errlen);
/* Checks each file of f that is set (names[0..2] name the CA file, the
 * certificate and the key in messages), and that a key comes with a
 * certificate. 0, or -1 with the first problem in err. */
int hd_tls_files_check(const hd_tls_files_t *f, const char *const names[3], char *err,
                       size_t errlen);
/* 1 when f names any file, else 0. */
int hd_tls_files_any(const hd_tls_files_t *f);
/* 1 when a and b name the same files, else 0. */
int hd_tls_files_equal(const hd_tls_files_t *a, const hd_tls_files_t *b);
/* Sets dst to copies of src's paths. */
void hd_tls_files_copy(hd_tls_files_t *dst, const hd_tls_files_t *src);
/* Frees f's paths and sets them to NULL. */
void hd_tls_files_free(hd_tls_files_t *f);
/* Loads f into ctx with OpenSSL's api: the CA file as the trust anchors
 * (ctx must not have the system's loaded when ca_file is set), the
 * certificate chain and its key, which must match. 0, or -1 with the file
 * and OpenSSL's reason in err. */
int hd_tls_files_load(const struct hd_ssl_api_s *api, struct ssl_ctx_st *ctx,
                      const hd_tls_files_t *f, char *err, size_t errlen);

#endif
