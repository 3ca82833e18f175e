/* client — the agent client the CLI commands share (see client.h). */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "util/httpc.h"
#include "util/mem.h"
#include "util/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_BODY_SHOWN 200 /* bytes of a non-JSON error body printed */

int hd_client_init(hd_client_t *c, const char *cmd, const char *addr, const char *token,
                   const char *ns)
{
    memset(c, 0, sizeof(*c));
    c->cmd = cmd;
    char err[512];
    if (addr) {
        c->addr_from = "--addr";
        c->base = hd_httpc_addr_normalize(addr, err, sizeof(err));
    } else {
        const char *h = getenv("HEED_HTTP_ADDR"), *k = getenv("CONSUL_HTTP_ADDR");
        c->addr_from = h && *h ? "HEED_HTTP_ADDR" : k && *k ? "CONSUL_HTTP_ADDR" : "the default";
        c->base = hd_httpc_env_addr(err, sizeof(err));
    }
    if (!c->base) return hd_cmd_usage_error(cmd, "%s", err);
    c->token = token ? token : hd_httpc_env_token();
    if (c->token && !*c->token) c->token = NULL;
    c->ns = ns ? ns : getenv("HEED_NAMESPACE");
    if (!c->ns || !*c->ns) c->ns = getenv("CONSUL_NAMESPACE");
    if (c->ns && !*c->ns) c->ns = NULL;
    return 0;
}

void hd_client_free(hd_client_t *c)
{
    free(c->base);
    c->base = NULL;
}

int hd_client_call(hd_client_t *c, const char *method, const char *path, const char *body,
                   hd_client_reply_t *rep)
{
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
    req.method = method;
    req.url = url;
    req.token = c->token;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    hd_httpc_resp_t resp;
    char err[1024];
    if (hd_httpc_do(&req, &resp, err, sizeof(err)) < 0) {
        /* err starts with the URL; the address alone says it better */
        const char *why = err;
        size_t n = strlen(url);
        if (!strncmp(err, url, n) && !strncmp(err + n, ": ", 2)) why = err + n + 2;
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
