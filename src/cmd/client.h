/* client — what the commands that talk to a running agent (`heed checks`,
 * `heed status`) share: the agent's address, token and TLS files from
 * --addr, --token, --cacert, --cert and --key, else the environment as
 * util/httpc.h reads it (HEED_HTTP_ADDR, CONSUL_HTTP_ADDR; HEED_HTTP_SSL,
 * CONSUL_HTTP_SSL; HEED_TOKEN, CONSUL_HTTP_TOKEN; HEED_CACERT,
 * CONSUL_CACERT; HEED_CLIENT_CERT, CONSUL_CLIENT_CERT; HEED_CLIENT_KEY,
 * CONSUL_CLIENT_KEY); the tenant to work in from --ns, else
 * HEED_NAMESPACE, else CONSUL_NAMESPACE (Consul's CLI's), sent as ?ns=
 * with every request; one request; the agent's error replies, an
 * unreachable agent and a TLS failure (naming the file and what failed)
 * reported the same way. Exit codes are each command's decision, not this
 * file's. */
#ifndef HD_CMD_CLIENT_H
#define HD_CMD_CLIENT_H

#include "util/buf.h"

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#define HD_EXIT_UNREACHABLE 3    /* no HTTP reply from the agent at all */
#define HD_EXIT_CANCELLED   (-1) /* hd_client_send: *cancel was set; never an exit status */

/* The help lines of the flags every client command takes. */
#define HD_CLIENT_ADDR_HELP                                                                        \
    "      --addr URL     the agent [env HEED_HTTP_ADDR, else CONSUL_HTTP_ADDR, else\n"            \
    "                     http://127.0.0.1:8500]; host:port is taken as http://, or\n"             \
    "                     https:// with HEED_HTTP_SSL=true (else CONSUL_HTTP_SSL)\n"               \
    "      --token T      the API token [env HEED_TOKEN, else CONSUL_HTTP_TOKEN]\n"

#define HD_CLIENT_TLS_HELP                                                                         \
    "      --cacert FILE  PEM CA certificates the agent's certificate must chain to,\n"            \
    "                     for https:// [env HEED_CACERT, else CONSUL_CACERT; default:\n"           \
    "                     the system's]\n"                                                         \
    "      --cert FILE    PEM client certificate, for an agent with verify_incoming\n"             \
    "                     [env HEED_CLIENT_CERT, else CONSUL_CLIENT_CERT]\n"                       \
    "      --key FILE     its PEM private key, unless it is in the --cert file [env\n"             \
    "                     HEED_CLIENT_KEY, else CONSUL_CLIENT_KEY]\n"

/* The flags of a command, each NULL when not given. */
typedef struct hd_client_flags_s {
    const char *addr, *token;
    const char *cacert, *cert, *key; /* TLS: CA file, client certificate, its key */
    const char *ns;                  /* the tenant (Consul's namespace) to work in */
} hd_client_flags_t;

/* A TLS file and where it was named. */
typedef struct hd_client_file_s {
    const char *path; /* NULL: none */
    const char *from; /* "--cacert", "HEED_CACERT", "CONSUL_CACERT", ... */
} hd_client_file_t;

typedef struct hd_client_s {
    const char *cmd;       /* the command's name, first in every message */
    char *base;            /* the agent's URL, normalized ("http://127.0.0.1:8500") */
    const char *addr_from; /* where base came from: "--addr", "HEED_HTTP_ADDR", ... */
    const char *token;     /* NULL: none */
    hd_client_file_t cacert, cert, key;
    const char *ns; /* the tenant (Consul's namespace) to work in, NULL: the token's */
} hd_client_t;

/* A reply from the agent. */
typedef struct hd_client_reply_s {
    long status;              /* HTTP status */
    json_t *json;             /* the body as JSON, NULL when empty or not JSON */
    char *body;               /* the body as received, NUL-terminated */
    size_t len;               /* its bytes (a KV value may hold NULs) */
    unsigned long long index; /* X-Consul-Index, 0 when absent */
} hd_client_reply_t;

/* A request beyond hd_client_call's: a body of any bytes, a longer
 * timeout for a blocking query, a flag that gives it up. */
typedef struct hd_client_req_s {
    const char *method, *path; /* as hd_client_call's */
    const char *body;          /* NULL: none */
    size_t body_len;
    const char *content_type;            /* of body; NULL: application/json */
    long timeout_ms;                     /* 0: 10 s */
    const volatile sig_atomic_t *cancel; /* see hd_httpc_req_t */
} hd_client_req_t;

/* Sets c up for command cmd from the flags' values and the environment.
 * Returns 0, or prints a usage error and returns HD_EXIT_USAGE: a bad
 * address or HEED_HTTP_SSL, a TLS file that cannot be read, a key without
 * a certificate, TLS flags for an http:// address. */
int hd_client_init(hd_client_t *c, const char *cmd, const hd_client_flags_t *f);
/* Frees what c holds. */
void hd_client_free(hd_client_t *c);

/* Sends method path (query included, already escaped; c's ns is added)
 * with an optional JSON body. Returns 0 with the reply in *rep (any HTTP status), or prints
 * "heed CMD: cannot reach the agent at ADDR (from ...): why", or what
 * failed in TLS and with which file ("... refused the client certificate
 * FILE (from --cert): tlsv1 alert unknown ca"), and returns
 * HD_EXIT_UNREACHABLE. */
int hd_client_call(hd_client_t *c, const char *method, const char *path, const char *body,
                   hd_client_reply_t *rep);
/* hd_client_call with the options of req. A cancelled request returns
 * HD_EXIT_CANCELLED without printing anything. */
int hd_client_send(hd_client_t *c, const hd_client_req_t *req, hd_client_reply_t *rep);

/* Frees a reply. */
void hd_client_reply_free(hd_client_reply_t *rep);

/* Prints an error reply: "heed CMD: <error> (HTTP 409 conflict)" for the
 * agent's {"error", "code"}, else the status and the start of the body. */
void hd_client_print_error(const hd_client_t *c, const hd_client_reply_t *rep);

/* Prints the reply's body as it came, ending with a newline. */
void hd_client_print_body(const hd_client_reply_t *rep);

#endif
