/* probe — one attempt at one target, the engine shared by `heed wait`, `heed
 * ping` and the agent.
 *
 * A probe starts with a target and a timeout and finishes exactly once, from
 * the event loop, with a result: a status, a reason code from hd_reason_t
 * (each with a fixed message, like relayd's HCE_* codes), the latency and a
 * short output. The contract follows libuv's: when hd_probe_start() fails
 * the callback is never called; after a successful start the callback runs
 * once, later, unless hd_probe_cancel() came first. The probe's memory
 * belongs to the engine and is gone after the callback returns.
 *
 * Each kind of probe lives in its own file (tcp.c, http.c, pg.c, ...) behind
 * the hd_probe_kind_t table in probe_impl.h. */
#ifndef HD_PROBE_H
#define HD_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct hd_target_s hd_target_t;

typedef enum hd_status_e {
    HD_STATUS_PASSING = 0,
    HD_STATUS_WARNING = 1,
    HD_STATUS_CRITICAL = 2,
} hd_status_t;

/* Why a probe ended as it did. Keep in step with the table in probe.c. */
typedef enum hd_reason_e {
    HD_R_OK = 0,
    HD_R_TIMEOUT,         /* the attempt's deadline passed */
    HD_R_DNS_NOT_FOUND,   /* the name does not resolve (yet) */
    HD_R_DNS_FAIL,        /* the lookup failed */
    HD_R_DNS_MISMATCH,    /* dns: no answer equals the expected record */
    HD_R_CONNECT_REFUSED, /* ECONNREFUSED, or no listener on a unix socket */
    HD_R_CONNECT_FAIL,    /* any other connect error */
    HD_R_NO_SOCKET,       /* a unix socket path that does not exist */
    HD_R_CLOSED,          /* the server closed before a complete reply */
    HD_R_IO_FAIL,         /* read or write error */
    HD_R_BAD_REPLY,       /* the reply is not the protocol's */
    HD_R_REPLY_TOO_LARGE, /* the reply passed the read limit unfinished */
    HD_R_HTTP_STATUS,     /* an HTTP status not in the expected set */
    HD_R_HTTP_BODY,       /* the body lacks the expected text */
    HD_R_HTTP_FAIL,       /* transfer error (libcurl) */
    HD_R_TLS_FAIL,        /* TLS handshake or certificate verification */
    HD_R_TLS_EXPIRING,    /* tls: the certificate expires within the warning threshold */
    HD_R_TLS_EXPIRED,     /* tls: the certificate has expired */
    HD_R_PG_STARTING,     /* SQLSTATE 57P03: starting up, shutting down, recovery */
    HD_R_PG_NO_DATABASE,  /* SQLSTATE 3D000: the database does not exist (yet) */
    HD_R_PG_ERROR,        /* another error before the startup exchange completed */
    HD_R_MYSQL_ERROR,     /* an error packet instead of the greeting */
    HD_R_REDIS_LOADING,   /* -LOADING / -BUSY / -MASTERDOWN: not ready yet */
    HD_R_REDIS_ERROR,     /* another error reply */
    HD_R_FILE_MISSING,    /* the path does not exist */
    HD_R_FILE_FAIL,       /* stat failed otherwise */
    HD_R_EXEC_SPAWN,      /* the command could not be started */
    HD_R_EXEC_STATUS,     /* the command exited non-zero */
    HD_R_EXEC_SIGNAL,     /* the command was killed by a signal */
    HD_R_UNSUPPORTED,     /* this build cannot probe that kind (e.g. no libcurl) */
    HD_R_ICMP_ERROR,      /* icmp: an ICMP error (unreachable, time exceeded) came back */
    HD_R_ICMP_SOCKET,     /* icmp: neither a raw nor a ping socket could be opened */
    HD_R_ICMP_SEND,       /* icmp: the echo request could not be sent */
    HD_R_NOT_ALLOWED,     /* the agent's config does not let this check run (not a probe's) */
    HD_R_AUTH_FAILED,     /* passing: the server is up and rejected the login */
    HD_R_AUTH_REQUIRED,   /* passing: the server is up and asks for credentials heed has not sent */
    HD_R_EXEC_NOT_FOUND,  /* exec: no such command, or not executable (permanent) */
    HD_R_TLS_WEAK,        /* tls: the server accepts a protocol version it must refuse */
    HD_R__COUNT
} hd_reason_t;

#define HD_PROBE_OUTPUT_MAX 4096 /* bytes of output kept, NUL included */

typedef struct hd_result_s {
    hd_status_t status;
    hd_reason_t reason;
    int64_t latency_us;               /* start to finish of this attempt */
    int64_t cert_expiry;              /* tls: the leaf's notAfter, epoch seconds; 0 otherwise */
    char output[HD_PROBE_OUTPUT_MAX]; /* short human text; "" when none */
} hd_result_t;

/* Everything probes share within one process: the loop, the resolver, the
 * HTTP client and the TLS context, the latter three made on first use. */
typedef struct hd_probe_env_s {
    struct event_base *base;
    struct hd_resolver_s *resolver;
    struct hd_http_s *http;
    struct hd_tls_s *tls;
    struct hd_icmp_s *icmp;              /* the ICMP engine (probe/icmp.h), made on first use */
    struct hd_reaper_s *reapers;         /* exec children killed at a deadline, not yet reaped */
    struct hd_dns_server_s *dns_servers; /* dns ?server= resolvers, kept for reuse (dns.c) */
} hd_probe_env_t;

typedef struct hd_probe_s hd_probe_t;
typedef void (*hd_probe_cb)(const hd_result_t *res, void *arg);

/* Sets up env on base. */
void hd_probe_env_init(hd_probe_env_t *env, struct event_base *base);
/* Frees what env made. No probe may be running. */
void hd_probe_env_close(hd_probe_env_t *env);

/* Starts one attempt at t that ends within timeout_us. t must outlive the
 * probe. Returns 0 and the probe in *out, or a negative errno (the callback
 * will then never be called). */
int hd_probe_start(hd_probe_env_t *env, const hd_target_t *t, int64_t timeout_us, hd_probe_cb cb,
                   void *arg, hd_probe_t **out);
/* Stops a running probe; its callback will not be called. */
void hd_probe_cancel(hd_probe_t *p);

/* The fixed message of a reason ("connection refused"). */
const char *hd_reason_str(hd_reason_t r);
/* The reason's stable machine name ("connect_refused"), for JSON. */
const char *hd_reason_name(hd_reason_t r);
/* 1 when a probe that failed for reason r cannot succeed on another try in
 * this process (this build cannot probe the kind, the command does not
 * exist), so that `heed wait` gives up at once; 0 for every reason that
 * time may cure, a refused connection first of all. */
int hd_reason_permanent(hd_reason_t r);
/* "passing", "warning" or "critical". */
const char *hd_status_str(hd_status_t s);

#endif
