/* httpc — a small synchronous HTTP client for the CLI commands that talk
 * to a running agent (`heed checks ...`, `heed status`), on libcurl's easy
 * interface (loaded at run time, see util/curl_dl.h).
 *
 * Also the agent address and token from the environment, as Consul's CLI
 * reads them: HEED_HTTP_ADDR, else CONSUL_HTTP_ADDR, else
 * http://127.0.0.1:8500; HEED_TOKEN, else CONSUL_HTTP_TOKEN. */
#ifndef HD_HTTPC_H
#define HD_HTTPC_H

#include <stddef.h>

#define HD_HTTPC_DEFAULT_ADDR "http://127.0.0.1:8500"

typedef struct hd_httpc_req_s {
    const char *method; /* "GET" when NULL */
    const char *url;    /* absolute http(s) URL */
    const char *token;  /* sent as "Authorization: Bearer ..." unless NULL or "" */
    const char *body;   /* sent when not NULL */
    size_t body_len;
    const char *content_type; /* of body; "application/json" when NULL */
    long timeout_ms;          /* whole request; 10 s when 0 */
    int insecure;             /* do not verify TLS certificates */
} hd_httpc_req_t;

typedef struct hd_httpc_resp_s {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated (the length is len); never NULL after success */
    size_t len;
} hd_httpc_resp_t;

/* Performs the request; a reply with any HTTP status is a success. Returns
 * 0, or -1 with a message naming the URL and the failure in err (and resp
 * holding nothing to free). Bodies beyond 64 MiB are refused. */
int hd_httpc_do(const hd_httpc_req_t *req, hd_httpc_resp_t *resp, char *err, size_t errlen);

/* Frees a response's body. */
void hd_httpc_resp_free(hd_httpc_resp_t *resp);

/* Normalizes an agent address: "host:port" gets "http://", a trailing '/'
 * goes. Returns a new string, or NULL with a message in err for an address
 * that is not http(s). */
char *hd_httpc_addr_normalize(const char *addr, char *err, size_t errlen);

/* The agent's base URL from the environment (see above), normalized; a new
 * string, or NULL with a message in err naming the variable. */
char *hd_httpc_env_addr(char *err, size_t errlen);

/* The token from the environment, or NULL when none is set. */
const char *hd_httpc_env_token(void);

/* base + path, with exactly one '/' between them; a new string. */
char *hd_httpc_url(const char *base, const char *path);

#endif
