/* client — the agent client the CLI commands share (see client.h). */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "util/httpc.h"
#include "util/mem.h"
#include "util/tlsfiles.h"
#include "util/url.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERROR_BODY_SHOWN 200 /* bytes of a non-JSON error body printed */

/* A TLS file from its flag, else the two variables; NULL when none. */
static void file_from(hd_client_file_t *f, const char *flag, const char *flag_name,
                      const char *heed_var, const char *consul_var)
{
    f->from = flag_name;
    f->path = flag ? flag : hd_httpc_env(heed_var, consul_var, &f->from);
    if (f->path && !*f->path) f->path = NULL;
}

/* 0 when the file can be read, else a usage error naming it (the check
 * that `heed wait` and the agent's checks make of their TLS files too). */
static int readable(const char *cmd, const hd_client_file_t *f)
{
    char err[PATH_MAX + 128];
    if (!f->path || hd_tls_file_check(f->from, f->path, err, sizeof(err)) == 0) return 0;
    return hd_cmd_usage_error(cmd, "%s", err);
}

static int init_tls(hd_client_t *c, const hd_client_flags_t *f)
{
    /* Flags for TLS with a plain address: surely a mistake. Variables may
     * be set for other agents: they count only for https://. */
    if (strncasecmp(c->base, "https://", 8) != 0) {
        const char *flag = f->cacert ? "--cacert" : f->cert ? "--cert" : f->key ? "--key" : NULL;
        if (!flag) return 0;
        return hd_cmd_usage_error(c->cmd,
                                  "%s: the agent address %s is not https:// (give https://, or "
                                  "set HEED_HTTP_SSL=true)",
                                  flag, c->base);
    }
    file_from(&c->cacert, f->cacert, "--cacert", "HEED_CACERT", "CONSUL_CACERT");
    file_from(&c->cert, f->cert, "--cert", "HEED_CLIENT_CERT", "CONSUL_CLIENT_CERT");
    file_from(&c->key, f->key, "--key", "HEED_CLIENT_KEY", "CONSUL_CLIENT_KEY");
    int rc;
    if ((rc = readable(c->cmd, &c->cacert)) || (rc = readable(c->cmd, &c->cert)) ||
        (rc = readable(c->cmd, &c->key)))
        return rc;
    if (c->key.path && !c->cert.path)
        return hd_cmd_usage_error(c->cmd,
                                  "%s without a client certificate: give --cert (or "
                                  "HEED_CLIENT_CERT) too",
                                  c->key.from);
    return 0;
}

int hd_client_init(hd_client_t *c, const char *cmd, const hd_client_flags_t *f)
{
    memset(c, 0, sizeof(*c));
    c->cmd = cmd;
    char err[512];
    const char *addr = f->addr, *token = f->token;
    if (addr) {
        c->addr_from = "--addr";
        c->base = hd_httpc_addr_normalize(addr, err, sizeof(err));
    } else {
        const char *h = getenv("HEED_HTTP_ADDR"), *k = getenv("CONSUL_HTTP_ADDR");
        c->addr_from = h && *h ? "HEED_HTTP_ADDR" : k && *k ? "CONSUL_HTTP_ADDR" : "the default";
        c->base = hd_httpc_env_addr(err, sizeof(err));
    }
    if (!c->base) return hd_cmd_usage_error(cmd, "%s", err);
    int ssl;
    if (hd_httpc_env_ssl(&ssl, err, sizeof(err)) < 0) {
        hd_client_free(c);
        return hd_cmd_usage_error(cmd, "%s", err);
    }
    if (ssl) { /* as Consul's CLI: https, whatever the address said */
        char *https = hd_httpc_to_https(c->base);
        free(c->base);
        c->base = https;
    }
    c->token = token ? token : hd_httpc_env_token();
    if (c->token && !*c->token) c->token = NULL;
    c->ns = f->ns ? f->ns : getenv("HEED_NAMESPACE");
    if (!c->ns || !*c->ns) c->ns = getenv("CONSUL_NAMESPACE");
    if (c->ns && !*c->ns) c->ns = NULL;
    int rc = init_tls(c, f);
    if (rc) hd_client_free(c);
    return rc;
}

/* Prints what failed in TLS, with the file concerned. */
static void print_tls_failure(const hd_client_t *c, int kind, const char *why)
{
    const char *cmd = c->cmd, *base = c->base;
    switch (kind) {
    case HD_HTTPC_EVERIFY:
        if (c->cacert.path)
            fprintf(stderr,
                    "heed %s: the agent's certificate at %s does not verify against %s (from "
                    "%s): %s\n",
                    cmd, base, c->cacert.path, c->cacert.from, why);
        else
            fprintf(stderr,
                    "heed %s: the agent's certificate at %s does not verify against the system's "
                    "CA certificates: %s; give the agent's CA with --cacert (or HEED_CACERT)\n",
                    cmd, base, why);
        break;
    case HD_HTTPC_ECLIENTCERT:
        fprintf(stderr,
                "heed %s: the agent at %s requires a client certificate (%s): give --cert and "
                "--key (or HEED_CLIENT_CERT and HEED_CLIENT_KEY)\n",
                cmd, base, why);
        break;
    case HD_HTTPC_EREFUSED:
        fprintf(stderr,
                "heed %s: the agent at %s refused the client certificate %s (from %s): %s\n", cmd,
                base, c->cert.path, c->cert.from, why);
        break;
    case HD_HTTPC_ELOCAL: {
        /* libcurl's message names the file; the list says where each came from */
        const hd_client_file_t *fs[] = {&c->cacert, &c->cert, &c->key};
        int listed = 0;
        fprintf(stderr, "heed %s: cannot use the TLS files", cmd);
        for (size_t i = 0; i < 3; i++)
            if (fs[i]->path)
                fprintf(stderr, "%s%s %s", listed++ ? ", " : " (", fs[i]->from, fs[i]->path);
        fprintf(stderr, "%s: %s\n", listed ? ")" : "", why);
        break;
    }
    case HD_HTTPC_ENOTTLS:
        fprintf(stderr, "heed %s: the agent at %s does not answer TLS (%s): is it http://?\n", cmd,
                base, why);
        break;
    default:
        fprintf(stderr, "heed %s: TLS with the agent at %s failed: %s\n", cmd, base, why);
        break;
    }
}

void hd_client_free(hd_client_t *c)
{
    free(c->base);
    c->base = NULL;
}

int hd_client_call(hd_client_t *c, const char *method, const char *path, const char *body,
                   hd_client_reply_t *rep)
{
    hd_client_req_t r = {
        .method = method, .path = path, .body = body, .body_len = body ? strlen(body) : 0};
    return hd_client_send(c, &r, rep);
}

int hd_client_send(hd_client_t *c, const hd_client_req_t *r, hd_client_reply_t *rep)
{
    const char *path = r->path;
    memset(rep, 0, sizeof(*rep));
    hd_buf_t full = {0};
    hd_buf_puts(&full, path);
    if (c->ns) {
        hd_buf_puts(&full, strchr(path, '?') ? "&ns=" : "?ns=");
        hd_url_encode(&full, c->ns);
    }
    char *url = hd_httpc_url(c->base, full.data);
    hd_buf_free(&full);
    hd_httpc_req_t req;
    memset(&req, 0, sizeof(req));
    req.method = r->method;
    req.url = url;
    req.token = c->token;
    req.body = r->body;
    req.body_len = r->body_len;
    req.content_type = r->content_type;
    req.timeout_ms = r->timeout_ms;
    req.cancel = r->cancel;
    req.cacert = c->cacert.path;
    req.cert = c->cert.path;
    req.key = c->key.path;
    hd_httpc_resp_t resp;
    char err[1024];
    int rc = hd_httpc_do(&req, &resp, err, sizeof(err));
    if (rc == -HD_HTTPC_ECANCELLED) {
        free(url);
        return HD_EXIT_CANCELLED;
    }
    if (rc < 0) {
        /* err starts with the URL; the address alone says it better */
        const char *why = err;
        size_t n = strlen(url);
        if (!strncmp(err, url, n) && !strncmp(err + n, ": ", 2)) why = err + n + 2;
        if (rc != -HD_HTTPC_ECONNECT) {
            print_tls_failure(c, -rc, why);
            free(url);
            return HD_EXIT_UNREACHABLE;
        }
        int dflt = !strcmp(c->addr_from, "the default");
        fprintf(stderr,
                "heed %s: cannot reach the agent at %s (%s%s): %s; is `heed agent` running "
                "there?\n",
                c->cmd, c->base,
                dflt ? "the default address; set --addr or HEED_HTTP_ADDR" : "from ",
                dflt ? "" : c->addr_from, why);
        free(url);
        return HD_EXIT_UNREACHABLE;
    }
    free(url);
    rep->status = resp.status;
    rep->body = resp.body;
    rep->len = resp.len;
    rep->index = resp.index;
    if (resp.len) rep->json = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, NULL);
    return 0;
}

void hd_client_reply_free(hd_client_reply_t *rep)
{
    json_decref(rep->json);
    free(rep->body);
    memset(rep, 0, sizeof(*rep));
}

void hd_client_print_error(const hd_client_t *c, const hd_client_reply_t *rep)
{
    const char *error = NULL, *code = NULL;
    if (rep->json && json_unpack(rep->json, "{s:s, s:s}", "error", &error, "code", &code) == 0) {
        fprintf(stderr, "heed %s: %s (HTTP %ld %s)\n", c->cmd, error, rep->status, code);
        return;
    }
    /* not heed's error body: evhttp's own HTML, or not a heed agent */
    char shown[ERROR_BODY_SHOWN + 1];
    size_t n = 0;
    for (const char *p = rep->body ? rep->body : ""; *p && n < ERROR_BODY_SHOWN; p++)
        shown[n++] = isprint((unsigned char)*p) ? *p : ' ';
    shown[n] = '\0';
    fprintf(stderr, "heed %s: HTTP %ld from %s%s%s\n", c->cmd, rep->status, c->base, n ? ": " : "",
            shown);
}

void hd_client_print_body(const hd_client_reply_t *rep)
{
    const char *b = rep->body ? rep->body : "";
    size_t n = strlen(b);
    fputs(b, stdout);
    if (!n || b[n - 1] != '\n') putchar('\n');
}
