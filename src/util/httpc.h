/* httpc — a small synchronous HTTP client for the CLI commands that talk
 * to a running agent (`heed checks ...`, `heed status`), on libcurl's easy
 * interface (loaded at run time, see util/curl_dl.h), over https:// with a
 * CA file and a client certificate when asked.
 *
 * Also the agent address, token and TLS files from the environment, as
 * Consul's CLI reads them: HEED_HTTP_ADDR, else CONSUL_HTTP_ADDR, else
 * http://127.0.0.1:8500; HEED_HTTP_SSL, else CONSUL_HTTP_SSL (true: https);
 * HEED_TOKEN, else CONSUL_HTTP_TOKEN; HEED_CACERT, HEED_CLIENT_CERT and
 * HEED_CLIENT_KEY, else CONSUL_CACERT, CONSUL_CLIENT_CERT and
 * CONSUL_CLIENT_KEY. */
#ifndef HD_HTTPC_H
#define HD_HTTPC_H

#include <signal.h>
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
    const char *cacert;       /* PEM CAs the server's certificate must chain to; NULL: the
                                 system's */
    const char *cert;         /* PEM client certificate (chain), or NULL */
    const char *key;          /* its PEM private key; NULL: in the cert file */
    /* When not NULL: the request is given up (HD_HTTPC_ECANCELLED) soon
     * after *cancel becomes non-zero, e.g. from a signal handler while a
     * blocking query is held; libcurl looks at it about once a second,
     * and at once while data flows. */
    const volatile sig_atomic_t *cancel;
} hd_httpc_req_t;

/* Why hd_httpc_do failed (it returns the negative value). */
typedef enum hd_httpc_fail_e {
    HD_HTTPC_ECONNECT = 1, /* no connection, a timeout, no whole reply, too big a body */
    HD_HTTPC_EVERIFY,      /* the server's certificate did not verify (CA, name, dates) */
    HD_HTTPC_ECLIENTCERT,  /* the server wanted a client certificate: none was given */
    HD_HTTPC_EREFUSED,     /* the server refused the client certificate given */
    HD_HTTPC_ELOCAL,       /* the CA file, client certificate or key could not be used */
    HD_HTTPC_ENOTTLS,      /* https://, and the server did not answer TLS */
    HD_HTTPC_ETLS,         /* another TLS failure */
    HD_HTTPC_ECANCELLED,   /* *req->cancel became non-zero */
} hd_httpc_fail_t;

typedef struct hd_httpc_resp_s {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated (the length is len); never NULL after success */
    size_t len;
    unsigned long long index; /* X-Consul-Index of the reply (blocking queries); 0: none */
} hd_httpc_resp_t;

/* Performs the request; a reply with any HTTP status is a success. Returns
 * 0, or -HD_HTTPC_E* with a message naming the URL and the failure in err
 * ("URL: what failed"; TLS failures as OpenSSL reports them, e.g.
 * "certificate has expired", "tlsv1 alert unknown ca"), resp holding
 * nothing to free. Bodies beyond 64 MiB are refused. */
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

/* The first of two variables that is set and not empty: its value, with
 * its name in *which; NULL (and *which the second name) when neither is. */
const char *hd_httpc_env(const char *first, const char *second, const char **which);

/* HEED_HTTP_SSL, else CONSUL_HTTP_SSL, read as Go's strconv.ParseBool
 * (1 t T TRUE true True, 0 f F FALSE false False): 1 or 0 in *on (0 when
 * neither is set). Returns 0, or -1 with a message naming the variable. */
int hd_httpc_env_ssl(int *on, char *err, size_t errlen);

/* addr with its scheme made https:// (an http:// or scheme-less address,
 * as Consul's CLI does under CONSUL_HTTP_SSL=true); a new string. */
char *hd_httpc_to_https(const char *addr);

/* base + path, with exactly one '/' between them; a new string. */
char *hd_httpc_url(const char *base, const char *path);

#endif
