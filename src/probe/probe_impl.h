/* probe_impl — what a probe kind implements and the helpers it may call.
 * Only files in src/probe include this. */
#ifndef HD_PROBE_IMPL_H
#define HD_PROBE_IMPL_H

#include "probe/probe.h"
#include "probe/target.h"

struct event;

struct hd_probe_s {
    hd_probe_env_t *env;
    const hd_target_t *t;
    const struct hd_probe_kind_s *kind;
    hd_probe_cb cb;
    void *arg;
    int64_t start_us;
    int64_t deadline_us; /* monotonic */
    struct event *timer; /* the deadline, or a zero delay for hd_probe_done_soon() */
    void *impl;          /* the kind's own state */
    int64_t cert_expiry; /* tls: the leaf's notAfter, copied into the result */
    /* hd_probe_done_soon()'s result, which the timer delivers; else NULL. A
     * result (with its 4 KiB of output) exists only from the verdict to its
     * delivery, so that a probe in flight holds ~100 bytes: with 10,000
     * checks, thousands may be in flight at once. */
    hd_result_t *ready;
};

typedef struct hd_probe_kind_s {
    /* Begins the attempt. Returns 0 or a negative errno; on error the kind
     * has released what it took. */
    int (*start)(hd_probe_t *p);
    /* Releases p->impl and everything the attempt holds. Called exactly once
     * after a successful start: on finish, timeout or cancel. */
    void (*stop)(hd_probe_t *p);
} hd_probe_kind_t;

/* Finishes the probe now: stops the kind, runs the callback, frees p. The
 * kind must not touch p afterwards. */
void hd_probe_done(hd_probe_t *p, hd_status_t st, hd_reason_t r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records the result and delivers it from the loop on its next turn: for
 * kinds that know their answer inside start(). */
void hd_probe_done_soon(hd_probe_t *p, hd_status_t st, hd_reason_t r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Microseconds left before the deadline (at least 1). */
int64_t hd_probe_remaining_us(const hd_probe_t *p);

extern const hd_probe_kind_t hd_probe_conn; /* tcp, unix, postgres, mysql, redis */
extern const hd_probe_kind_t hd_probe_http;
extern const hd_probe_kind_t hd_probe_file;
extern const hd_probe_kind_t hd_probe_exec;
extern const hd_probe_kind_t hd_probe_icmp; /* icmp.c */
extern const hd_probe_kind_t hd_probe_dns;
extern const hd_probe_kind_t hd_probe_tls;

/* The HTTP client's teardown, called by hd_probe_env_close(). */
void hd_http_free(struct hd_http_s *h);
/* The TLS context's teardown, called by hd_probe_env_close(). */
void hd_tls_free(struct hd_tls_s *tls);
/* Reaps the exec children still being waited for (a bounded wait) and frees
 * their watchers; called by hd_probe_env_close(). */
void hd_exec_reap_all(hd_probe_env_t *env);
/* Frees the dns ?server= resolvers; called by hd_probe_env_close(). */
void hd_dns_servers_free(hd_probe_env_t *env);

#endif
