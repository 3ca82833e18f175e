/* scope — which tenant a request works in: the one place where the API
 * turns a token and the namespace a request names into an hd_scope_t
 * (agent/tenant.h). Every route that reads or changes tenant objects
 * starts here; docs/tenancy.md is the user's view.
 *
 *   token                 no ns          ns=T               ns=*  (lists only)
 *   tenant token (of A)   A              A, or 403 if T!=A  A
 *   any other token, or   default        T                  every tenant
 *   no tokens configured
 *
 * The namespace comes from ?ns= (Consul's parameter), else from the
 * X-Consul-Namespace header (Consul's too); an empty value is none. A
 * name that is not a tenant name is 400 bad_query; ns=* on a route that
 * names one object is 400 too. Naming another tenant with a tenant's
 * token is 403 forbidden whatever that tenant holds, so the answer says
 * nothing about other tenants' objects. The role (read, write,
 * management) is the server's business, checked before the handler. */
#ifndef HD_API_SCOPE_H
#define HD_API_SCOPE_H

#include "agent/tenant.h"

#include <stddef.h>

struct hd_api_req_s;

enum {
    HD_SCOPE_ONE = 0,  /* a route about one object, or one that creates */
    HD_SCOPE_LIST = 1, /* a list: ns=* allowed */
};

/* The pure rule: the scope of a request whose token is limited to
 * token_tenant (NULL: not limited) and that names ns (NULL or "": none).
 * Returns 0 with *out set (out->tenant points into ns or token_tenant, or
 * is "default"), or the HTTP status to answer (400 or 403) with the
 * message in err. */
int hd_scope_parse(const char *ns, int kind, const char *token_tenant, hd_scope_t *out, char *err,
                   size_t errlen);

/* The scope of r (kind: HD_SCOPE_ONE or HD_SCOPE_LIST). Returns 0, or
 * replies 400 bad_query or 403 forbidden and returns -1. */
int hd_api_scope(struct hd_api_req_s *r, int kind, hd_scope_t *out);

#endif
