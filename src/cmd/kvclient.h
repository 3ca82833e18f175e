/* kvclient — the calls to Consul's KV and session API that `heed kv`,
 * `heed lock` and `heed watch` share: keys in paths, Consul's plain-text
 * errors, sessions (create, renew, destroy) and blocking queries
 * (?index=&wait=, the reply's X-Consul-Index). One request each, through
 * cmd/client.h; the commands decide what a failure means. */
#ifndef HD_CMD_KVCLIENT_H
#define HD_CMD_KVCLIENT_H

#include "cmd/client.h"
#include "util/buf.h"

#include <signal.h>

/* Appends a KV key to a path: each '/'-separated part escaped, the '/'s
 * kept (Consul's keys are paths), "." and ".." parts escaped too so that
 * no one on the way takes them for dot-segments. */
void hd_kvclient_append_key(hd_buf_t *path, const char *key);

/* Prints an error reply of a Consul route: "heed CMD: <its plain text>
 * (HTTP 403)"; heed's JSON errors as hd_client_print_error does. */
void hd_kvclient_print_error(const hd_client_t *c, const hd_client_reply_t *rep);

/* Creates a session (PUT /v1/session/create) named name with a TTL of
 * ttl_s seconds, Behavior "release" and LockDelay lock_delay (Go's
 * duration text; NULL: the agent's default, 15 s). Returns 0 with its ID
 * in *id (free it), HD_EXIT_CANCELLED, or an exit status after printing
 * why. */
int hd_kvclient_session_create(hd_client_t *c, const char *name, int ttl_s, const char *lock_delay,
                               const volatile sig_atomic_t *cancel, char **id);

/* Renews a session. Returns 0, 1 when the agent no longer has it (404:
 * it expired or was destroyed), HD_EXIT_CANCELLED, or another exit status
 * after printing why. */
int hd_kvclient_session_renew(hd_client_t *c, const char *id, const volatile sig_atomic_t *cancel);

/* Destroys a session (its locks are released). Returns 0 or an exit
 * status after printing why. */
int hd_kvclient_session_destroy(hd_client_t *c, const char *id);

/* GET path (its query may follow) as a blocking query: answered when what
 * it reads changes past index, or after wait_s seconds (index 0: at
 * once). The reply's index is in rep->index. Returns 0 with any HTTP
 * status, HD_EXIT_CANCELLED, or an exit status after printing why. */
int hd_kvclient_block(hd_client_t *c, const char *path, unsigned long long index, int wait_s,
                      const volatile sig_atomic_t *cancel, hd_client_reply_t *rep);

#endif
