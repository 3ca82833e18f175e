/* fuzz_catalog_register — the body of PUT /v1/catalog/register on its way
 * to another node and its checks: the server's body parser, then
 * hd_reg_catalog_node and hd_reg_ext_check on any JSON object. A node it
 * accepts reads back equal from its stored form; a check it accepts has
 * a CheckID and one of Consul's statuses, and names no service the
 * registration does not know. What it refuses is a 400 or 500 with a
 * message. (The Service part is hd_reg_service: fuzz_service_register.) */
#include "agent/node.h"
#include "api/consul.h"
#include "api/register.h"
#include "api/server.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The catalog knows one service of the node: "known". */
static int service_exists(void *arg, const char *node, const char *id)
{
    (void)arg;
    (void)node;
    return !strcmp(id, "known");
}

static void refused(const hd_reg_error_t *e)
{
    if ((e->status != 400 && e->status != 500) || !e->msg[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exactly sized: ASan sees overreads */
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    json_t *body = NULL;
    char err[512];
    if (hd_api_parse_body(text, size, &body, err, sizeof(err)) != 0 || !body) {
        free(text);
        return 0;
    }
    const char *node;
    hd_node_t n;
    hd_reg_error_t e = {400, ""};
    if (hd_reg_catalog_node(body, "local", "dc1", &node, &n, &e) != 0) {
        refused(&e);
        goto out;
    }
    if (!strcmp(node, "local")) abort(); /* the agent's own node registers elsewhere */
    json_t *o = hd_node_to_json(&n);
    hd_node_t back;
    if (hd_node_from_json(o, node, &back, err, sizeof(err)) != 0) abort();
    if (!hd_node_equal(&n, &back)) abort();
    json_decref(o);
    hd_node_free(&back);
    hd_node_free(&n);
    json_t *one = hd_consul_field(body, "Check"), *many = hd_consul_field(body, "Checks");
    size_t total = (one && !json_is_null(one) ? 1 : 0) + json_array_size(many);
    for (size_t i = 0; i < total && i < 64; i++) {
        const json_t *ck = one && !json_is_null(one) ? (i == 0 ? one : json_array_get(many, i - 1))
                                                     : json_array_get(many, i);
        hd_reg_error_t ce = {400, ""};
        json_t *st = hd_reg_ext_check(ck, node, NULL, service_exists, NULL, &ce);
        if (!st) {
            refused(&ce);
            continue;
        }
        const char *id = json_string_value(json_object_get(st, "CheckID"));
        const char *status = json_string_value(json_object_get(st, "Status"));
        const char *sid = json_string_value(json_object_get(st, "ServiceID"));
        if (!id || !*id || !status || !sid) abort();
        if (strcmp(status, "passing") && strcmp(status, "warning") && strcmp(status, "critical"))
            abort();
        if (*sid && strcmp(sid, "known") != 0) abort();
        json_decref(st);
    }
out:
    json_decref(body);
    free(text);
    return 0;
}
