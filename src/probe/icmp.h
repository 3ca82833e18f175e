/* icmp — the ICMP echo engine: one socket per address family for every
 * echo request a process sends, on the libevent loop. `heed ping` drives it
 * directly for sweeps; the `icmp://` probe kind (for `heed wait` and the
 * agent) uses the one shared engine hanging off hd_probe_env_t.
 *
 * Sockets: a raw ICMP socket when privileged (root or CAP_NET_RAW), else
 * the unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP) that Linux allows
 * to groups in net.ipv4.ping_group_range. HEED_ICMP_SOCKET=raw or =dgram in
 * the environment forces one (tests use it to exercise both).
 *
 * Every request in flight is one small record in a hash table keyed by the
 * 64-bit nonce in its payload, and in a deadline heap: memory follows the
 * packets in flight, nothing else. A reply is accepted only from the
 * address the request went to, with our id (raw sockets) and a nonce in
 * flight; anything else is counted and dropped. */
#ifndef HD_ICMP_H
#define HD_ICMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
typedef struct hd_icmp_s hd_icmp_t;
typedef struct hd_icmp_req_s hd_icmp_req_t;

typedef enum hd_icmp_event_e {
    HD_ICMP_REPLY,   /* final: an echo reply came back */
    HD_ICMP_TIMEOUT, /* final: the deadline passed without a reply */
    HD_ICMP_ERROR,   /* a notice: an ICMP error quoting the request; the request stays
                        in flight until a reply or its deadline, as fping waits */
} hd_icmp_event_t;

typedef struct hd_icmp_result_s {
    hd_icmp_event_t event;
    uint32_t tag;                 /* the caller's tag from hd_icmp_send() */
    int64_t rtt_us;               /* REPLY: receive time minus the payload's send time */
    size_t bytes;                 /* REPLY: ICMP bytes received (fping's "64 bytes") */
    int v6;                       /* the request's family is IPv6 */
    int type, code;               /* ERROR: the ICMP type and code */
    struct sockaddr_storage from; /* REPLY, ERROR: the sender (for errors, the router) */
} hd_icmp_result_t;

/* Called from the loop: any number of ERROR notices, then exactly one REPLY
 * or TIMEOUT, after which the request is gone. Inside the callback the
 * caller may send, and may cancel this request during an ERROR notice. */
typedef void (*hd_icmp_cb)(const hd_icmp_result_t *r, void *arg);

typedef struct hd_icmp_stats_s {
    uint64_t sent;         /* echo requests handed to the kernel */
    uint64_t replies;      /* replies matched to a request in flight */
    uint64_t errors;       /* ICMP errors matched to a request in flight */
    uint64_t timeouts;     /* requests that reached their deadline */
    uint64_t late_or_dup;  /* replies carrying our nonce but no longer in flight */
    uint64_t ignored;      /* packets that were not ours, malformed or forged */
    uint64_t in_flight;    /* now */
    uint64_t in_flight_hi; /* the most at any time */
} hd_icmp_stats_t;

/* Creates an engine on base; sockets open on first use or hd_icmp_open(). */
hd_icmp_t *hd_icmp_new(struct event_base *base);
/* Frees the engine; requests in flight are dropped without callback. */
void hd_icmp_free(hd_icmp_t *e);
/* Opens the socket for family (AF_INET or AF_INET6) if not yet open.
 * Returns 0, or -1 with a message naming both socket kinds tried. */
int hd_icmp_open(hd_icmp_t *e, int family, char *err, size_t errlen);
/* Sends one echo request of data_len data bytes to dst, ending after
 * timeout_us. Returns 0 with the request in *out (may be NULL): *send_err is
 * 0, or the errno of a failed sendto, in which case the request simply times
 * out. Returns -EAGAIN when the socket buffer is full (nothing in flight: try
 * later), or another negative errno with a message in err when the socket
 * cannot be opened. The callback never runs on a failed call. */
int hd_icmp_send(hd_icmp_t *e, const struct sockaddr *dst, size_t data_len, int64_t timeout_us,
                 hd_icmp_cb cb, void *arg, uint32_t tag, hd_icmp_req_t **out, int *send_err,
                 char *err, size_t errlen);
/* Drops a request in flight; its callback will not run again. */
void hd_icmp_cancel(hd_icmp_t *e, hd_icmp_req_t *req);
/* Counters since the engine was made. */
const hd_icmp_stats_t *hd_icmp_stats(const hd_icmp_t *e);
/* The socket kind open for family: "raw", "dgram" or NULL. */
const char *hd_icmp_socket_kind(const hd_icmp_t *e, int family);

#endif
