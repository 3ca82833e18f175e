/* dial — a nonblocking TCP connection to host:port for a probe: literal
 * addresses directly, names through the environment's resolver, then each
 * address in turn until one accepts, as conn.c does for tcp:// (conn.c keeps
 * its own loop, which also serves unix sockets and protocol hellos).
 *
 * The contract is the probes' own: the callback runs exactly once, from the
 * loop, never from inside hd_dial_start(), unless the dial is cancelled
 * first. After the callback the dial is gone. */
#ifndef HD_DIAL_H
#define HD_DIAL_H

#include "probe/probe.h"

typedef struct hd_dial_s hd_dial_t;

/* Called once: fd >= 0 is the connected socket (nonblocking, close-on-exec,
 * now owned by the callee), or fd is -1 with the last attempt's reason
 * (HD_R_DNS_*, HD_R_CONNECT_*) and a message. */
typedef void (*hd_dial_cb)(int fd, hd_reason_t reason, const char *msg, void *arg);

/* Starts connecting to host:port on env's loop. */
hd_dial_t *hd_dial_start(hd_probe_env_t *env, const char *host, int port, hd_dial_cb cb, void *arg);
/* Stops a dial whose callback has not run; the callback will not run. */
void hd_dial_cancel(hd_dial_t *d);

#endif
