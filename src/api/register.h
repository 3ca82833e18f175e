/* register — Consul's service and check definitions (the bodies of
 * /v1/agent/service/register and /v1/agent/check/register) read into
 * heed's service (agent/service.h) and check definitions (agent/check.h):
 * Consul's field names in any case or in snake_case, unknown fields
 * ignored, a wrong type named by its field. A Consul check becomes a heed
 * check: HTTP (with Method, Header, Body, TLSSkipVerify) an http(s)
 * target, TCP a tcp:// one, Args an exec: one (only with
 * enable_api_exec_checks), TTL a TTL check, and heed's own Target any heed
 * target (postgres://, redis://, ...). Pure but for the config it reads. */
#ifndef HD_API_REGISTER_H
#define HD_API_REGISTER_H

#include "agent/check.h"
#include "agent/node.h"
#include "agent/service.h"
#include "agent/tenant.h"
#include "api/server.h"

#include <jansson.h>
#include <stddef.h>

struct hd_config_s;

typedef struct hd_reg_error_s {
    int status;    /* the HTTP status to answer */
    char msg[640]; /* the plain-text body, Consul's words where it has them */
} hd_reg_error_t;

/* Reads a service definition (body) of tenant (NULL: default) on node,
 * with its Check and Checks, into out and *defs (*ndefs of them, malloc'd;
 * each with service_id and tenant set). Returns 0, or -1 with e set and
 * nothing to free. */
int hd_reg_service(const struct hd_config_s *cfg, const json_t *body, const char *tenant,
                   const char *node, hd_service_source_t source, hd_service_t *out,
                   hd_check_def_t **defs, size_t *ndefs, hd_reg_error_t *e);
/* Reads one check definition ck (Consul's CheckType, or a check register
 * body). svc_id, svc_name: the service it belongs to (NULL: the body's
 * ServiceID, or none); default_id: the id when the body names none (NULL:
 * its Name). Returns 0, or -1 with e set. */
int hd_reg_check(const struct hd_config_s *cfg, const json_t *ck, const char *tenant,
                 const char *svc_id, const char *svc_name, const char *default_id,
                 hd_check_def_t *out, hd_reg_error_t *e);
/* The node part of a /v1/catalog/register or /deregister body b: its Node
 * (not local, this agent's own, which registers through the agent's
 * routes), and with n set its Address, ID, TaggedAddresses and NodeMeta,
 * read into *n in datacenter dc (a body naming another answers Consul's
 * 500). Returns 0 with *node pointing into b (and *n to free), or -1
 * with e set. */
int hd_reg_catalog_node(const json_t *b, const char *local, const char *dc, const char **node,
                        hd_node_t *n, hd_reg_error_t *e);
/* One check of another node (a catalog registration's Check or Checks
 * item) into its stored form (CheckID, Name, Status, Notes, Output,
 * ServiceID, Definition): nothing runs it. A ServiceID must be svc's (the
 * same registration's) or one service_exists(arg, node, id) knows.
 * Returns a new object, or NULL with e set. */
json_t *hd_reg_ext_check(const json_t *ck, const char *node, const hd_service_t *svc,
                         int (*service_exists)(void *arg, const char *node, const char *id),
                         void *arg, hd_reg_error_t *e);
/* The scope of a registration r: its body's Namespace when it names one
 * (Consul's: it takes precedence over ?ns= and X-Consul-Namespace), else
 * hd_api_scope's. Returns 0, or -1 having answered (400, 403). */
int hd_reg_scope(hd_api_req_t *r, hd_scope_t *out);
/* hd_api_route, then hd_api_route_consul. */
int hd_consul_route(hd_api_t *api, const char *method, const char *pattern, hd_api_role_t role,
                    hd_api_handler_fn fn, void *arg, char *err, size_t errlen);

#endif
