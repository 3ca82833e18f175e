/* consul — what the routes of Consul's HTTP API share (agent, health,
 * catalog, KV, sessions, txn): Consul's error replies (plain text), its
 * JSON decoding rule (field names match case-insensitively, unknown fields
 * are ignored), the headers of its reads (X-Consul-Index, -KnownLeader,
 * -LastContact) and ?dc=. heed's own routes (/v1/checks, /v1/status, ...)
 * keep their JSON errors and do not use this. */
#ifndef HD_API_CONSUL_H
#define HD_API_CONSUL_H

#include "api/server.h"

#include <jansson.h>
#include <stdint.h>

/* Replies status with the formatted message as a plain-text body, as
 * Consul's errors are. Finishes r. */
void hd_consul_error(hd_api_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The member of object obj named name in any case ("interval" finds
 * "Interval"), as Consul's decoder matches fields; the exact spelling
 * first. NULL when absent or obj is not an object. */
json_t *hd_consul_field(const json_t *obj, const char *name);
/* Sets the headers of a Consul read: X-Consul-Index (index, never 0: a
 * client that sends back 0 would not block), X-Consul-KnownLeader: true
 * and X-Consul-LastContact: 0 (one node is its own leader),
 * X-Consul-Effective-Consistency (what ?stale or ?consistent asked for,
 * "leader" without either: on one node all three read the same data) and
 * X-Consul-Default-ACL-Policy ("allow" on an agent without tokens, where
 * every request is management; "deny" with tokens). */
void hd_consul_read_headers(hd_api_req_t *r, uint64_t index);
/* 1 when ?dc= is absent or names dc; else replies 500 "No path to
 * datacenter", as Consul does for one it does not know, and returns 0.
 * ?stale with ?consistent is Consul's 400 too. */
int hd_consul_dc(hd_api_req_t *r, const char *dc);

#endif
