/* ui_query — the pure half of the dashboard's routes (api/ui.c): reading
 * the query of GET /v1/ui/checks and /v1/ui/services, and an
 * If-None-Match header against a file's ETag. Apart from the server so
 * that it is fuzzed (tests/fuzz/fuzz_ui_query.c) and unit-tested. */
#ifndef HD_API_UI_QUERY_H
#define HD_API_UI_QUERY_H

#include <stddef.h>

#define HD_UI_LIMIT_MAX  1000 /* a page's rows (history=1: two history reads each) */
#define HD_UI_AFTER_MAX  1023 /* bytes of after= */
#define HD_UI_STATUS_ANY (-1)

typedef struct hd_ui_query_s {
    const char *q;     /* text to find, NULL: none (an empty value is none) */
    const char *tag;   /* a tag the row has, NULL: none */
    int status;        /* an hd_check_status_t, or HD_UI_STATUS_ANY */
    size_t limit;      /* rows in the page: 1 .. HD_UI_LIMIT_MAX */
    const char *after; /* the key after which the page starts, NULL: from the first */
    int history;       /* history=1 (or any value but "0" and "false"): uptime and sparklines */
    int by_status;     /* sort=status: the worst first (critical, warning, maintenance,
                          passing), then by key; after= is then "R:KEY", R the rank 0..3 */
    int after_rank;    /* by_status: R of after= (after points past "R:") */
} hd_ui_query_t;

/* The rank of a status in sort=status: critical 0, warning 1, maintenance
 * 2, passing 3. */
int hd_ui_status_rank(int status);

/* Reads the values of q=, tag=, status=, limit=, after=, history= and
 * sort= ("name", the default, or "status") (each NULL when absent; the
 * strings are kept by pointer in out) with def_limit as the page's size
 * when limit= is absent or empty. Returns 0, or -1 with a message naming
 * the parameter in err ("status: expected passing, warning, critical or
 * maintenance, got 'x'"). */
int hd_ui_query_parse(const char *q, const char *tag, const char *status, const char *limit,
                      const char *after, const char *history, const char *sort, size_t def_limit,
                      hd_ui_query_t *out, char *err, size_t errlen);

/* 1 when an If-None-Match value (NULL: absent) names etag (a quoted strong
 * ETag), or is "*"; weak forms (W/"...") match by their value, as RFC 9110
 * says If-None-Match compares. Else 0. */
int hd_ui_etag_match(const char *if_none_match, const char *etag);

#endif
