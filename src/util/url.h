/* url — a strict parser for the URLs heed takes as targets.
 *
 * It splits RFC 3986 URLs (scheme://user:pass@host:port/path?query#frag and
 * opaque ones such as exec:cmd) and validates each part. It knows nothing of
 * what a scheme means: probe/target.c turns a parsed URL into a target. */
#ifndef HD_URL_H
#define HD_URL_H

#include "util/buf.h"

#include <stddef.h>

#define HD_URL_MAX 8192 /* longer input is rejected */

typedef struct hd_url_s {
    char *scheme;      /* lower-cased, never NULL after a successful parse */
    int has_authority; /* "//" followed the scheme */
    char *user;        /* percent-decoded, NULL when absent */
    char *password;    /* percent-decoded, NULL when absent */
    char *host;        /* lower-cased; IPv6 without brackets; "" when empty */
    int host_is_ipv6;  /* host was a bracketed literal */
    int port;          /* -1 when absent */
    char *path;        /* raw (not decoded); "" when empty; the opaque part of exec:... */
    char *query;       /* raw, without '?', NULL when absent */
    char *fragment;    /* raw, without '#', NULL when absent */
} hd_url_t;

/* Parses s into u. Returns 0, or -1 with a message naming the problem in
 * err; u holds nothing to free after a failure. */
int hd_url_parse(const char *s, hd_url_t *u, char *err, size_t errlen);

/* Frees what a successful parse allocated. */
void hd_url_free(hd_url_t *u);

/* Percent-decodes s into a new string. Returns NULL if s holds a bad
 * escape or an encoded NUL. */
char *hd_url_decode(const char *s, size_t len);

/* Appends s percent-encoded for a path segment or a query value: every
 * byte but RFC 3986's unreserved characters (letters, digits, - . _ ~) is
 * escaped. */
void hd_url_encode(hd_buf_t *b, const char *s);

#endif
