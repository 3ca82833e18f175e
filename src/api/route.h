/* route — the pure half of the API's request handling: splitting a
 * request-target into decoded path segments and query pairs, and matching
 * them against route patterns such as "/v1/checks/:id/history", or a
 * pattern whose last segment "*key" takes the rest of the path, '/'s
 * included (Consul's KV keys).
 *
 * It does no I/O and knows nothing of libevent, so unit tests and the fuzz
 * target call it directly; api/server.c owns the table of routes. */
#ifndef HD_API_ROUTE_H
#define HD_API_ROUTE_H

#include <stddef.h>

typedef struct hd_api_kv_s {
    char *key;   /* percent- and '+'-decoded */
    char *value; /* decoded; "" for a key without '=' (as in "?pretty") */
} hd_api_kv_t;

/* A parsed request-target. */
typedef struct hd_api_target_s {
    char *path;  /* raw path, without the query; starts with '/' */
    char **segs; /* decoded segments; a trailing '/' adds none */
    size_t nsegs;
    char *dpath;        /* the whole path decoded ("%2F" is '/' here), a trailing '/' kept */
    size_t *dstart;     /* nsegs + 1 offsets into dpath: where segment i starts; [nsegs]: what
                           follows the last segment's '/' (its end when there is none) */
    hd_api_kv_t *query; /* in request order; duplicates kept */
    size_t nquery;
} hd_api_target_t;

enum {
    HD_API_SEG_LITERAL = 0,
    HD_API_SEG_PARAM = 1, /* ":name": one whole segment, never empty */
    HD_API_SEG_REST = 2,  /* "*name", last only: the rest of the path, maybe empty */
};

/* A parsed route pattern: literal segments, ":name" and "*name" parameters. */
typedef struct hd_api_pattern_s {
    char *text;    /* the pattern as registered */
    char **segs;   /* literal text, or the parameter name after ':' or '*' */
    int *is_param; /* per segment: HD_API_SEG_* */
    size_t nsegs;
    size_t nparams;
} hd_api_pattern_t;

/* Parses an origin-form ("/a/b?x=1") or absolute-form
 * ("http://host/a/b?x=1") request-target. Segments and query pairs are
 * percent-decoded; in the query '+' is a space. Returns 0, or -1 with a
 * message in err for a target that is not a path or holds a bad escape or
 * an encoded NUL; t then holds nothing to free. */
int hd_api_target_parse(const char *uri, hd_api_target_t *t, char *err, size_t errlen);

/* Frees what a successful hd_api_target_parse allocated. */
void hd_api_target_free(hd_api_target_t *t);

/* The decoded value of the first query pair named key, or NULL. */
const char *hd_api_target_query(const hd_api_target_t *t, const char *key);

/* Parses a pattern: it starts with '/', segments are non-empty, ":name"
 * segments capture one whole segment, a last "*name" segment captures the
 * rest of the path, and names are unique. Returns 0, or -1 with a message
 * in err. */
int hd_api_pattern_parse(const char *pattern, hd_api_pattern_t *p, char *err, size_t errlen);

/* Frees a parsed pattern. */
void hd_api_pattern_free(hd_api_pattern_t *p);

/* 1 when t's path matches p; then values[i] (if values is not NULL) points
 * at the decoded value of the i-th parameter, inside t. A ":name" parameter
 * never matches an empty segment. A "*name" parameter matches what follows
 * the segments before it, decoded as one string: "/v1/kv/a/b/" gives
 * "a/b/", "/v1/kv/a%2Fb" "a/b", "/v1/kv/" and "/v1/kv" "" (the trailing
 * '/' the other patterns ignore is part of its value). */
int hd_api_pattern_match(const hd_api_pattern_t *p, const hd_api_target_t *t, const char **values);

#endif
