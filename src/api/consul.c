/* consul — the shapes Consul's routes share (see consul.h). */
#include "api/consul.h"
#include "util/jsonget.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hd_consul_error(hd_api_req_t *r, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(msg)) n = (int)sizeof(msg) - 1;
    hd_api_reply_text(r, status, "text/plain; charset=utf-8", msg, (size_t)n);
}

json_t *hd_consul_field(const json_t *obj, const char *name)
{
    return hd_json_get_ci(obj, name);
}

void hd_consul_read_headers(hd_api_req_t *r, uint64_t index)
{
    char v[24];
    snprintf(v, sizeof(v), "%" PRIu64, index ? index : 1);
    hd_api_set_header(r, "X-Consul-Index", v);
    hd_api_set_header(r, "X-Consul-KnownLeader", "true");
    hd_api_set_header(r, "X-Consul-LastContact", "0");
    hd_api_set_header(r, "X-Consul-Effective-Consistency",
                      hd_api_query(r, "stale")        ? "stale"
                      : hd_api_query(r, "consistent") ? "consistent"
                                                      : "leader");
    hd_api_set_header(r, "X-Consul-Default-ACL-Policy", hd_api_has_tokens(r) ? "deny" : "allow");
}

int hd_consul_dc(hd_api_req_t *r, const char *dc)
{
    if (hd_api_query(r, "stale") && hd_api_query(r, "consistent")) {
        hd_consul_error(r, 400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
        return 0;
    }
    const char *q = hd_api_query(r, "dc");
    if (!q || !*q || !strcmp(q, dc)) return 1;
    hd_consul_error(r, 500, "No path to datacenter");
    return 0;
}
