/* scope — the tenant a request works in (see scope.h). */
#include "api/scope.h"
#include "api/server.h"

#include <stdio.h>
#include <string.h>

int hd_scope_parse(const char *ns, int kind, const char *token_tenant, hd_scope_t *out, char *err,
                   size_t errlen)
{
    if (ns && !*ns) ns = NULL;
    if (!ns) {
        out->tenant = token_tenant ? token_tenant : HD_TENANT_DEFAULT;
        return 0;
    }
    if (!strcmp(ns, "*")) {
        if (kind != HD_SCOPE_LIST) {
            snprintf(err, errlen, "ns=* names every tenant: only lists take it; name one tenant");
            return 400;
        }
        out->tenant = token_tenant; /* a tenant's token reaches its own only, as Consul filters */
        return 0;
    }
    if (!hd_tenant_valid(ns, strlen(ns))) {
        snprintf(err, errlen,
                 "ns: expected a tenant name (1 to %d letters, digits and . _ - : @)%s, got '%.*s'",
                 HD_TENANT_MAX, kind == HD_SCOPE_LIST ? " or *" : "", 64, ns);
        return 400;
    }
    if (token_tenant && !hd_tenant_same(ns, token_tenant)) {
        snprintf(err, errlen, "this token works in tenant '%s' only", token_tenant);
        return 403;
    }
    out->tenant = ns;
    return 0;
}

int hd_api_scope(hd_api_req_t *r, int kind, hd_scope_t *out)
{
    const char *ns = hd_api_query(r, "ns");
    if (!ns || !*ns) ns = hd_api_header(r, "X-Consul-Namespace");
    char err[300];
    /* The server gives a tenant only to tokens limited to one (never to
     * management): that is what limits a request. */
    int status = hd_scope_parse(ns, kind, r->tenant, out, err, sizeof(err));
    if (status == 0) return 0;
    hd_api_error(r, status, status == 400 ? "bad_query" : "forbidden", "%s", err);
    return -1;
}
