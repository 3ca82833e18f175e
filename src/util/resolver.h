/* resolver — asynchronous name resolution (c-ares) on the libevent loop.
 *
 * One resolver per process serves every probe. Results always arrive
 * through the loop, never from inside hd_resolve(), even for names found in
 * /etc/hosts. */
#ifndef HD_RESOLVER_H
#define HD_RESOLVER_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
typedef struct hd_resolver_s hd_resolver_t;
typedef struct hd_resolve_req_s hd_resolve_req_t;

#define HD_RESOLVE_MAX_ADDRS 16

enum {
    HD_RESOLVE_OK = 0,
    HD_RESOLVE_NOTFOUND = 1, /* the name does not exist (yet) */
    HD_RESOLVE_FAIL = 2,     /* the lookup itself failed: timeout, no server, ... */
};

/* Called once with HD_RESOLVE_* and, on success, 1..HD_RESOLVE_MAX_ADDRS
 * addresses with the port already set. msg describes a failure. */
typedef void (*hd_resolve_cb)(int status, const struct sockaddr_storage *addrs, int naddrs,
                              const char *msg, void *arg);

/* Called once with HD_RESOLVE_* and, on success, the DNS reply as received
 * (valid during the call only). msg describes a failure: "no such name",
 * "no record of this type", or why the lookup failed. */
typedef void (*hd_query_cb)(int status, const unsigned char *reply, size_t len, const char *msg,
                            void *arg);

/* Called once with HD_RESOLVE_* and, on success, the address's name (valid
 * during the call only). msg describes a failure. */
typedef void (*hd_name_cb)(int status, const char *name, const char *msg, void *arg);

/* Creates a resolver on base; NULL with a message in err on failure. */
hd_resolver_t *hd_resolver_new(struct event_base *base, char *err, size_t errlen);
/* Creates a resolver that asks only the servers in csv ("ADDR[:PORT],...",
 * IPv6 addresses in brackets) and searches no domains. */
hd_resolver_t *hd_resolver_new_servers(struct event_base *base, const char *csv, char *err,
                                       size_t errlen);
/* Frees the resolver. Outstanding requests are cancelled without callback. */
void hd_resolver_free(hd_resolver_t *r);
/* Resolves host (family AF_UNSPEC, AF_INET or AF_INET6) and calls cb from
 * the loop. The request is valid until cb runs or it is cancelled. */
hd_resolve_req_t *hd_resolve(hd_resolver_t *r, const char *host, int port, int family,
                             hd_resolve_cb cb, void *arg);
/* Asks for the records of type (an RR type code, class IN) of name, through
 * the search domains as the system's resolver would, and calls cb from the
 * loop. Only DNS servers answer: /etc/hosts is not read. The request is
 * valid until cb runs or it is cancelled with hd_resolve_cancel(). */
hd_resolve_req_t *hd_resolve_query(hd_resolver_t *r, const char *name, int type, hd_query_cb cb,
                                   void *arg);
/* Looks up the name of addr (AF_INET or AF_INET6; the port is ignored):
 * /etc/hosts first, then a PTR query, in the order the system's
 * configuration gives, and calls cb from the loop. The request is valid
 * until cb runs or it is cancelled with hd_resolve_cancel(). */
hd_resolve_req_t *hd_resolve_name(hd_resolver_t *r, const struct sockaddr_storage *addr,
                                  hd_name_cb cb, void *arg);
/* Cancels a pending request: its callback will not be called. */
void hd_resolve_cancel(hd_resolve_req_t *req);

#endif
