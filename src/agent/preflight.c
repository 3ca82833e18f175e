/* preflight — the agent's start-up checks (see preflight.h). */
#include "agent/preflight.h"
#include "agent/agent.h"
#include "store/store.h"
#include "util/mem.h"
#include "util/tlsfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A TLS file (key names it: "tls.cert_file") must be a file this process
 * can read (util/tlsfiles.h, the CLI's rule). Its contents are the API
 * server's, or the check's, to judge. */
static int check_readable(const char *key, const char *path, char *err, size_t errlen)
{
    char why[4400];
    if (!path || hd_tls_file_check(key, path, why, sizeof(why)) == 0) return 0;
    snprintf(err, errlen, "heed agent: %s", why);
    return -1;
}

/* The TLS files of the config's checks (tls: ca_file, cert_file, key_file),
 * named "checks.ID.tls.ca_file". */
static int check_check_files(const hd_config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nchecks; i++) {
        const hd_check_def_t *d = &cfg->checks[i];
        const hd_tls_files_t *tf = &d->target.tls_files;
        const char *paths[3] = {tf->ca_file, tf->cert_file, tf->key_file};
        static const char *const keys[3] = {"ca_file", "cert_file", "key_file"};
        for (int k = 0; k < 3; k++) {
            char key[256];
            snprintf(key, sizeof(key), "checks.%.160s.tls.%s", d->id ? d->id : "?", keys[k]);
            if (check_readable(key, paths[k], err, errlen) < 0) return -1;
        }
    }
    return 0;
}

/* data_dir: a directory this process may write, or a path whose nearest
 * existing ancestor is one (mkdir would succeed). Judged by the effective
 * ids, as the open and mkdir calls that follow will be. */
static int check_data_dir(const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "heed agent: data_dir %s is not a directory", dir);
            return -1;
        }
        if (eaccess(dir, W_OK | X_OK) != 0) {
            snprintf(err, errlen, "heed agent: data_dir %s is not writable: %s", dir,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    int e = errno;
    char up[4096];
    snprintf(up, sizeof(up), "%s", dir);
    while (e == ENOENT) {
        char *slash = strrchr(up, '/');
        if (!slash)
            snprintf(up, sizeof(up), ".");
        else if (slash == up)
            up[1] = '\0'; /* "/" */
        else
            *slash = '\0';
        if (stat(up, &sb) != 0) {
            e = errno;
            if (e == ENOENT && (!strcmp(up, "/") || !strcmp(up, "."))) break;
            continue;
        }
        if (!S_ISDIR(sb.st_mode))
            e = ENOTDIR;
        else if (eaccess(up, W_OK | X_OK) != 0)
            e = errno;
        else
            return 0; /* mkdir -p would make the rest */
        break;
    }
    snprintf(err, errlen, "heed agent: cannot create data_dir %s: %s", dir, strerror(e));
    return -1;
}

static int check(const hd_agent_opts_t *o, const hd_config_t *cfg, char *err, size_t errlen)
{
    /* Readable first, for a message that names the key; then the API
     * server's own judgement (o->check_api, the command's): tokens and TLS
     * beyond loopback, and the certificate, key and CA loaded as a start
     * loads them. */
    if (check_readable("tls.cert_file", cfg->tls.cert_file, err, errlen) < 0 ||
        check_readable("tls.key_file", cfg->tls.key_file, err, errlen) < 0 ||
        check_readable("tls.ca_file", cfg->tls.ca_file, err, errlen) < 0 ||
        check_check_files(cfg, err, errlen) < 0)
        return -1;
    char why[2048];
    if (o->check_api && o->check_api(cfg, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "heed agent: %s", why);
        return -1;
    }
    if (check_data_dir(cfg->data_dir, err, errlen) < 0) return -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/heed.db", cfg->data_dir);
    if (hd_store_check(path, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "heed agent: %s", why);
        return -1;
    }
    return 0;
}

int hd_agent_preflight(const hd_agent_opts_t *o, const char *dev_dir, hd_config_t *cfg, char *err,
                       size_t errlen)
{
    char why[1024];
    memset(cfg, 0, sizeof(*cfg));
    if (o->dev) {
        hd_config_dev(cfg, dev_dir);
    } else if (hd_config_load_file(o->config_path, cfg, err, errlen) < 0) {
        return -1;
    }
    if (o->data_dir) {
        /* A relative --data-dir is the shell's: relative to the directory
         * the agent starts in, made absolute now (a config file's data_dir
         * must be absolute, as it would depend on where the agent starts). */
        char cwd[4096];
        free(cfg->data_dir);
        if (o->data_dir[0] == '/' || !getcwd(cwd, sizeof(cwd))) {
            cfg->data_dir = hd_xstrdup(o->data_dir);
        } else {
            size_t n = strlen(cwd) + 1 + strlen(o->data_dir) + 1;
            cfg->data_dir = hd_xmalloc(n);
            snprintf(cfg->data_dir, n, "%s/%s", cwd, o->data_dir);
        }
    }
    if (o->bind && hd_config_parse_bind(o->bind, cfg, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "heed agent: --bind %s: %s", o->bind, why);
        goto bad;
    }
    if (check(o, cfg, err, errlen) < 0) goto bad;
    return 0;
bad:
    hd_config_free(cfg);
    return -1;
}
