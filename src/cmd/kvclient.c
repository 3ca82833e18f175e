/* kvclient — Consul's KV and session calls for the CLI (see kvclient.h). */
#include "cmd/kvclient.h"
#include "util/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_SHOWN 300 /* bytes of a plain-text error printed */

void hd_kvclient_append_key(hd_buf_t *path, const char *key)
{
    for (const char *p = key;;) {
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            for (size_t i = 0; i < n; i++)
                hd_buf_puts(path, "%2E");
        } else {
            char *seg = strndup(p, n);
            hd_url_encode(path, seg);
            free(seg);
        }
        if (!p[n]) break;
        hd_buf_puts(path, "/");
        p += n + 1;
    }
}

void hd_kvclient_print_error(const hd_client_t *c, const hd_client_reply_t *rep)
{
    if (rep->json && json_is_object(rep->json) && json_object_get(rep->json, "error")) {
        hd_client_print_error(c, rep);
        return;
    }
    char shown[ERROR_SHOWN + 1];
    size_t n = 0;
    for (size_t i = 0; i < rep->len && n < ERROR_SHOWN; i++)
        shown[n++] = isprint((unsigned char)rep->body[i]) ? rep->body[i] : ' ';
    while (n && shown[n - 1] == ' ')
        n--;
    shown[n] = '\0';
    fprintf(stderr, "heed %s: %s%sHTTP %ld from %s%s\n", c->cmd, shown, n ? " (" : "", rep->status,
            c->base, n ? ")" : "");
}

int hd_kvclient_session_create(hd_client_t *c, const char *name, int ttl_s, const char *lock_delay,
                               const volatile sig_atomic_t *cancel, char **id)
{
    *id = NULL;
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%ds", ttl_s);
    json_t *body = json_pack("{s:s, s:s, s:s}", "Name", name, "Behavior", "release", "TTL", ttl);
    if (lock_delay) json_object_set_new(body, "LockDelay", json_string(lock_delay));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    hd_client_req_t req = {.method = "PUT",
                           .path = "/v1/session/create",
                           .body = text,
                           .body_len = strlen(text),
                           .cancel = cancel};
    hd_client_reply_t rep;
    int rc = hd_client_send(c, &req, &rep);
    free(text);
    if (rc) return rc;
    const char *s = json_string_value(json_object_get(rep.json, "ID"));
    if (rep.status != 200 || !s || !*s) {
        if (rep.status == 200)
            fprintf(stderr, "heed %s: unexpected reply to a session create from %s: no ID\n",
                    c->cmd, c->base);
        else
            hd_kvclient_print_error(c, &rep);
        rc = 1;
    } else {
        *id = strdup(s);
    }
    hd_client_reply_free(&rep);
    return rc;
}

/* PUT /v1/session/VERB/ID. */
static int session_put(hd_client_t *c, const char *verb, const char *id,
                       const volatile sig_atomic_t *cancel, hd_client_reply_t *rep)
{
    hd_buf_t path = {0};
    hd_buf_printf(&path, "/v1/session/%s/", verb);
    hd_url_encode(&path, id);
    hd_client_req_t req = {.method = "PUT", .path = path.data, .cancel = cancel};
    int rc = hd_client_send(c, &req, rep);
    hd_buf_free(&path);
    return rc;
}

int hd_kvclient_session_renew(hd_client_t *c, const char *id, const volatile sig_atomic_t *cancel)
{
    hd_client_reply_t rep;
    int rc = session_put(c, "renew", id, cancel, &rep);
    if (rc) return rc;
    if (rep.status == 404) {
        rc = 1;
    } else if (rep.status != 200) {
        hd_kvclient_print_error(c, &rep);
        rc = 2;
    }
    hd_client_reply_free(&rep);
    return rc;
}

int hd_kvclient_session_destroy(hd_client_t *c, const char *id)
{
    hd_client_reply_t rep;
    int rc = session_put(c, "destroy", id, NULL, &rep);
    if (rc) return rc;
    if (rep.status != 200) {
        hd_kvclient_print_error(c, &rep);
        rc = 1;
    }
    hd_client_reply_free(&rep);
    return rc;
}

int hd_kvclient_block(hd_client_t *c, const char *path, unsigned long long index, int wait_s,
                      const volatile sig_atomic_t *cancel, hd_client_reply_t *rep)
{
    hd_buf_t p = {0};
    hd_buf_puts(&p, path);
    if (index)
        hd_buf_printf(&p, "%sindex=%llu&wait=%ds", strchr(path, '?') ? "&" : "?", index, wait_s);
    /* The agent answers by wait + wait/16 (Consul's jitter): give it that
     * and some. */
    hd_client_req_t req = {.method = "GET",
                           .path = p.data,
                           .cancel = cancel,
                           .timeout_ms = index ? (long)wait_s * 1000 * 17 / 16 + 10000 : 0};
    int rc = hd_client_send(c, &req, rep);
    hd_buf_free(&p);
    return rc;
}
