/* dial — a nonblocking stream connection for a probe: to host:port (literal
 * addresses directly, names through the environment's resolver, then each
 * address in turn until one accepts) or to a unix socket path. conn.c
 * (tcp://, unix://, the protocol probes) and tls.c connect through it.
 *
 * The caller owns the hd_dial_t, usually inside its own state, so that a
 * dial costs no allocation of its own. The contract is the probes' own: the
 * callback runs exactly once, from the loop, never from inside a start
 * function, unless the dial is cancelled first. After the callback the dial
 * is idle: it holds nothing, and hd_dial_cancel() on it does nothing. */
#ifndef HD_DIAL_H
#define HD_DIAL_H

#include "probe/probe.h"

#include <sys/socket.h>

struct event;
struct hd_resolve_req_s;

typedef struct hd_dial_s hd_dial_t;

/* Called once: fd >= 0 is the connected socket (nonblocking, close-on-exec,
 * now owned by the callee), or fd is -1 with the last attempt's reason
 * (HD_R_DNS_*, HD_R_CONNECT_*, HD_R_NO_SOCKET) and a message. */
typedef void (*hd_dial_cb)(int fd, hd_reason_t reason, const char *msg, void *arg);

/* Private; in the header only so that callers can embed it. */
struct hd_dial_s {
    hd_probe_env_t *env;
    hd_dial_cb cb; /* NULL: idle (never started, finished or cancelled) */
    void *arg;
    const char *host; /* named in lookup failures; NULL for a unix socket */
    struct hd_resolve_req_s *rq;
    /* &addr1, or the resolver's answers (allocated): a literal address or a
     * socket path, the common case, needs no room for more. */
    struct sockaddr_storage *addrs;
    struct sockaddr_storage addr1;
    int naddrs;
    int ai;       /* the address being tried */
    int fd;       /* -1 when none */
    int starting; /* inside a start function: results must wait for the loop */
    /* The connect in progress, or the delivery of a result known inside a
     * start function. */
    struct event *ev;
    hd_reason_t reason; /* of the last failure */
    char msg[128];
};

/* Starts connecting to host:port on env's loop. host must outlive the dial. */
void hd_dial_start(hd_dial_t *d, hd_probe_env_t *env, const char *host, int port, hd_dial_cb cb,
                   void *arg);
/* Starts connecting to the unix socket at path (cut to sun_path's size). */
void hd_dial_start_unix(hd_dial_t *d, hd_probe_env_t *env, const char *path, hd_dial_cb cb,
                        void *arg);
/* Stops a dial whose callback has not run; the callback will not run. Does
 * nothing on an idle dial, including a zeroed one. */
void hd_dial_cancel(hd_dial_t *d);

#endif
