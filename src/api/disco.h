/* disco — what the discovery routes of Consul's API share (api/agent.c,
 * api/health.c, api/catalog.c): a read answered from the catalog
 * (agent/catalog.h) with its X-Consul-Index, held as a blocking query on
 * the topics it read, and the JSON shapes Consul gives nodes, services and
 * checks.
 *
 * A read: the route calls hd_disco_read with an answer function. That
 * function builds the reply from the catalog (hd_disco_reply_json or
 * _text), names every topic it read (hd_disco_topic, which also raises
 * the reply's index to the topic's) and returns. When the request blocks
 * (?index=N and the index is not past N, or ?hash=H and the content hash
 * is H) the request is held on those topics and the answer function runs
 * again on a change or at the end of the wait. The answer function must
 * therefore read only the catalog and the request, and may run several
 * times.
 *
 * Filtering (Consul's ?filter=, util/filter.h): an answer that lists rows
 * first calls hd_disco_filter with what its rows are, which parses the
 * expression once per request against the selectors Consul's "Filtering"
 * table lists for such rows (so a selector Consul does not offer, or a
 * comparison its field cannot take, is a 400 in Consul's words), then
 * passes each row, as the JSON object a client sees, through
 * hd_disco_keep. */
#ifndef HD_API_DISCO_H
#define HD_API_DISCO_H

#include "agent/catalog.h"
#include "api/server.h"
#include "util/buf.h"

#include <jansson.h>
#include <stdint.h>

struct hd_agent_s;

#define HD_DISCO_TOPICS_MAX 8

typedef struct hd_disco_read_s hd_disco_read_t;
typedef void (*hd_disco_answer_fn)(hd_disco_read_t *q);
/* A row predicate (the ?filter= hook): 1 keeps row. */
typedef int (*hd_disco_pred_fn)(const json_t *row, void *arg);

struct hd_disco_read_s {
    hd_api_req_t *r;
    struct hd_agent_s *a;
    hd_catalog_t *c;
    hd_scope_t scope;
    hd_disco_answer_fn fn;
    void *arg; /* the route's */
    /* The answer, set by the answer function. */
    int status;
    json_t *body;    /* a JSON reply, or */
    char *text;      /* a plain-text one (malloc'd), or */
    char *json_text; /* JSON already rendered (malloc'd, json_len bytes) */
    size_t json_len;
    int64_t index;    /* the highest index of the topics read (at least 1) */
    int hashed;       /* set X-Consul-ContentHash (hash-based blocking) */
    char hash[17];    /* of the body, when hashed */
    int hash_in_body; /* ...and as the body's ContentHash */
    int no_index;     /* a route that sends no X-Consul-Index */
    hd_topic_t *topics[HD_DISCO_TOPICS_MAX];
    size_t ntopics;
    /* The request's blocking. */
    uint64_t want;
    int64_t wait_ms;
    const char *want_hash;
    hd_disco_pred_fn pred; /* NULL: every row */
    void *pred_arg;
    struct hd_filter_s *filter; /* ?filter=, parsed by hd_disco_filter; NULL: none */
    int filter_parsed;
    char filter_err[256]; /* a row the filter could not be evaluated on: answered 400 */
};

/* What the rows of a filtered list are (the selectors they offer). */
typedef enum hd_disco_rows_e {
    HD_DISCO_ROWS_NODE,            /* /v1/catalog/nodes */
    HD_DISCO_ROWS_AGENT_SERVICE,   /* /v1/agent/services */
    HD_DISCO_ROWS_CATALOG_SERVICE, /* /v1/catalog/service/:name */
    HD_DISCO_ROWS_HEALTH_SERVICE,  /* /v1/health/service/:name: Node, Service, Checks */
    HD_DISCO_ROWS_CHECK,           /* /v1/health/checks|state|node, /v1/agent/checks */
} hd_disco_rows_t;

/* Starts a read of r: the scope (kind: HD_SCOPE_ONE or HD_SCOPE_LIST),
 * ?dc=, ?index=, ?wait= and ?hash=, then fn, holding the request as the
 * top says. Errors are answered in Consul's words. */
void hd_disco_read(hd_api_req_t *r, struct hd_agent_s *a, int scope_kind, hd_disco_answer_fn fn,
                   void *arg);
/* Records that the answer read t: it is waited on, and raises the index. */
void hd_disco_topic(hd_disco_read_t *q, hd_topic_t *t);
/* The answer: status and body (taken). */
void hd_disco_reply_json(hd_disco_read_t *q, int status, json_t *body);
/* The answer: status and JSON already rendered, as hd_api_reply_json
 * would render it (compact, a newline at the end; copied). */
void hd_disco_reply_rendered(hd_disco_read_t *q, int status, const char *text, size_t len);
/* Appends body rendered as hd_api_reply_json renders it (for
 * hd_disco_reply_rendered). */
void hd_disco_render(const json_t *body, hd_buf_t *out);
/* The answer: status and a plain-text body (copied). */
void hd_disco_reply_text(hd_disco_read_t *q, int status, const char *text);
/* Parses the request's ?filter= (an empty one is none, as in Consul) for
 * rows of kind rows, once per request. Returns 0, or -1 after answering
 * 400 with the parser's message (Consul's "Failed to create boolean
 * expression evaluator: ..."): the answer function then returns. */
int hd_disco_filter(hd_disco_read_t *q, hd_disco_rows_t rows);
/* 1 when row passes the request's filter (every row without one). */
int hd_disco_keep(hd_disco_read_t *q, const json_t *row);

/* 1 when s has tag (?tag=). */
int hd_disco_has_tag(const hd_service_t *s, const char *tag);
/* 1 when want (?node-meta=key:value, NULL: none) holds for node n: its
 * Meta has key with that value (any value for "key" alone). */
int hd_disco_node_meta(const hd_cat_node_t *n, const char *want);

/* Consul's shapes. dc: the datacenter to show. */
json_t *hd_disco_node_json(const hd_cat_node_t *n);
/* A service as the agent's routes show it (no indexes, with Datacenter). */
json_t *hd_disco_agent_service_json(const hd_cat_service_t *s, const char *dc);
/* A service as health's routes show it (with CreateIndex, ModifyIndex). */
json_t *hd_disco_service_json(const hd_cat_service_t *s);
/* A check (Consul's HealthCheck). */
json_t *hd_disco_check_json(const hd_cat_view_t *v);
/* A catalog row: node fields and Service* fields in one object. */
json_t *hd_disco_catalog_row(const hd_cat_node_t *n, const hd_cat_service_t *s);
/* "passing", "warning", "critical", "maintenance". */
const char *hd_disco_status(hd_check_status_t s);
/* A duration as Go prints one ("10s", "1m30s", "0s"). */
void hd_disco_go_duration(int64_t us, char *out, size_t len);
/* The datacenter of the agent's node. */
const char *hd_disco_dc(const hd_catalog_t *c);

#endif
