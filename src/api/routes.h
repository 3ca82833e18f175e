/* routes — the resources on the API server, one registration function per
 * file: heed's own (checks, ping, metrics and status) and Consul's (agent,
 * health, catalog, KV, txn, session). The handlers reach the agent through
 * agent/agent.h and the caches' headers only; the command that starts the
 * agent (src/cmd/agent.c) registers them all. */
#ifndef HD_API_ROUTES_H
#define HD_API_ROUTES_H

#include <stddef.h>

struct hd_agent_s;
struct hd_config_s;
struct hd_api_s;
struct hd_kv_s;
struct hd_session_reg_s;

/* The status page's state (api/status_page.c): its cached snapshot and
 * the requests waiting for one. */
typedef struct hd_status_page_s hd_status_page_t;

/* What the Consul KV, session and txn routes serve from; the caller owns
 * it, and it must outlive the server. */
typedef struct hd_api_consul_ctx_s {
    struct hd_kv_s *kv;
    struct hd_session_reg_s *sessions; /* NULL: no session routes */
    char dc[72];                       /* the datacenter ?dc= may name */
    char node[264];                    /* the local node's name */
} hd_api_consul_ctx_t;

/* Each registers its routes on api, serving from a (or ctx). Returns 0,
 * or -1 with a message. */

/* GET /metrics and GET /v1/status (api/status.c). */
int hd_api_status_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* The check routes (api/checks.c). */
int hd_api_checks_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* GET /v1/events: alert events and their deliveries (api/events.c). */
int hd_api_events_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* /v1/notifiers and /v1/alerts: list, create, delete (api/alerting.c). */
int hd_api_alerting_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* GET /v1/ping with its rate limit (api/ping.c). */
int hd_api_ping_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);

/* The public status page: GET /status, /status/:group, and the group's
 * badge.svg and uptime.svg, serving from sp (api/status_page.c). */
int hd_api_status_page_routes(struct hd_api_s *api, hd_status_page_t *sp, char *err, size_t errlen);
/* The status page's state for agent a; free it after the store has closed
 * (its reads answered) and the server is gone. */
hd_status_page_t *hd_api_status_page_new(struct hd_agent_s *a);
/* Sets the status routes' rate limit per client address from
 * cfg->rate_limits.status_page (at start and at a reload); rate 0 lifts
 * it. Returns 0, or -1 when the routes are not registered. */
int hd_api_status_page_limit(struct hd_api_s *api, const struct hd_config_s *cfg);
void hd_api_status_page_free(hd_status_page_t *sp);

/* The dashboard: /ui and its files (public), /v1/ui/checks and
 * /v1/ui/services (api/ui.c). */
int hd_api_ui_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);

/* Consul's /v1/kv routes (api/kv.c). */
int hd_api_kv_routes(struct hd_api_s *api, hd_api_consul_ctx_t *ctx, char *err, size_t errlen);
/* Consul's /v1/agent routes (api/agent.c). */
int hd_api_agent_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* Consul's /v1/agent check, maintenance, health and self routes (api/agent_check.c). */
int hd_api_agent_check_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* Consul's /v1/health routes (api/health.c). */
int hd_api_health_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* Consul's /v1/catalog and /v1/status/leader, /peers routes (api/catalog.c). */
int hd_api_catalog_routes(struct hd_api_s *api, struct hd_agent_s *a, char *err, size_t errlen);
/* Consul's /v1/txn, KV operations (api/txn.c). */
int hd_api_txn_routes(struct hd_api_s *api, hd_api_consul_ctx_t *ctx, char *err, size_t errlen);
/* Consul's /v1/session routes (api/session.c). */
int hd_api_session_routes(struct hd_api_s *api, hd_api_consul_ctx_t *ctx, char *err, size_t errlen);

#endif
