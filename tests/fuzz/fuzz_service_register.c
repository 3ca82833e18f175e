/* fuzz_service_register — the body of PUT /v1/agent/service/register on
 * its way to a service and its checks: the server's body parser, then
 * hd_reg_service on any JSON object. What it accepts must survive the
 * store: the service written as its stored form reads back equal, each
 * check's definition likewise, and every check belongs to the service.
 * What it refuses is a 400 with a message. */
#include "agent/check_json.h"
#include "agent/config.h"
#include "api/register.h"
#include "api/server.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hd_config_t cfg;
    static int ready;
    if (!ready) {
        hd_config_defaults(&cfg);
        ready = 1;
    }
    char *text = malloc(size ? size : 1); /* exactly sized: ASan sees overreads */
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    json_t *body = NULL;
    char err[512];
    if (hd_api_parse_body(text, size, &body, err, sizeof(err)) != 0 || !body) {
        free(text);
        return 0;
    }
    /* The first byte picks the tenant: both forms of "default", or another. */
    const char *tenant = size && (data[0] & 1) ? "team-a" : NULL;
    hd_service_t s;
    hd_check_def_t *defs;
    size_t n;
    hd_reg_error_t e = {0, ""};
    if (hd_reg_service(&cfg, body, tenant, "node-1", HD_SOURCE_API, &s, &defs, &n, &e) != 0) {
        if (e.status != 400 || !e.msg[0]) abort();
        json_decref(body);
        free(text);
        return 0;
    }
    json_t *o = hd_service_to_json(&s);
    hd_service_t back;
    if (hd_service_from_json(o, tenant, "node-1", &back, err, sizeof(err)) != 0) abort();
    if (!hd_service_equal(&s, &back)) abort();
    json_decref(o);
    hd_service_free(&back);
    for (size_t i = 0; i < n; i++) {
        if (!defs[i].service_id || strcmp(defs[i].service_id, s.id) != 0) abort();
        json_t *d = hd_check_def_to_json(&defs[i]);
        char *stored = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        hd_check_def_t again;
        if (!stored ||
            hd_config_parse_check(stored, strlen(stored), "stored", &again, err, sizeof(err)) != 0)
            abort();                   /* what heed wrote, heed must read */
        again.tenant = defs[i].tenant; /* the key holds it, not the value */
        defs[i].initial_status = 0;    /* never stored */
        if (!hd_check_def_equal(&defs[i], &again)) abort();
        again.tenant = NULL;
        hd_check_def_free(&again);
        free(stored);
        hd_check_def_free(&defs[i]);
    }
    free(defs);
    hd_service_free(&s);
    json_decref(body);
    free(text);
    return 0;
}
