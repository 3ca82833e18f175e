/* client — what the commands that talk to a running agent (`heed checks`,
 * `heed status`) share: the agent's address and token from --addr and
 * --token, else the environment as util/httpc.h reads it (HEED_HTTP_ADDR,
 * CONSUL_HTTP_ADDR; HEED_TOKEN, CONSUL_HTTP_TOKEN); the tenant to work in
 * from --ns, else HEED_NAMESPACE, else CONSUL_NAMESPACE (Consul's CLI's),
 * sent as ?ns= with every request; one request; the
 * agent's error replies and an unreachable agent reported the same way.
 * Exit codes are each command's decision, not this file's. */
#ifndef HD_CMD_CLIENT_H
#define HD_CMD_CLIENT_H

#include "util/buf.h"

#include <jansson.h>

#define HD_EXIT_UNREACHABLE 3 /* no HTTP reply from the agent at all */

typedef struct hd_client_s {
    const char *cmd;       /* the command's name, first in every message */
    char *base;            /* the agent's URL, normalized ("http://127.0.0.1:8500") */
    const char *addr_from; /* where base came from: "--addr", "HEED_HTTP_ADDR", ... */
    const char *token;     /* NULL: none */
    const char *ns;        /* the tenant (Consul's namespace) to work in, NULL: the token's */
} hd_client_t;

/* A reply from the agent. */
typedef struct hd_client_reply_s {
    long status;  /* HTTP status */
    json_t *json; /* the body as JSON, NULL when empty or not JSON */
    char *body;   /* the body as received, NUL-terminated */
} hd_client_reply_t;

/* Sets c up for command cmd from the flags' values (NULL when not given)
 * and the environment. Returns 0, or prints a usage error and returns
 * HD_EXIT_USAGE (a bad address). */
int hd_client_init(hd_client_t *c, const char *cmd, const char *addr, const char *token,
                   const char *ns);
/* Frees what c holds. */
void hd_client_free(hd_client_t *c);

/* Sends method path (query included, already escaped; c's ns is added)
 * with an optional JSON body. Returns 0 with the reply in *rep (any HTTP status), or prints
 * "heed CMD: cannot reach the agent at ADDR (from ...): why" and returns
 * HD_EXIT_UNREACHABLE. */
int hd_client_call(hd_client_t *c, const char *method, const char *path, const char *body,
                   hd_client_reply_t *rep);
/* Frees a reply. */
void hd_client_reply_free(hd_client_reply_t *rep);

/* Prints an error reply: "heed CMD: <error> (HTTP 409 conflict)" for the
 * agent's {"error", "code"}, else the status and the start of the body. */
void hd_client_print_error(const hd_client_t *c, const hd_client_reply_t *rep);

/* Prints the reply's body as it came, ending with a newline. */
void hd_client_print_body(const hd_client_reply_t *rep);

#endif
