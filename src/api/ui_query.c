/* ui_query — see ui_query.h. */
#include "api/ui_query.h"
#include "agent/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hd_ui_status_rank(int status)
{
    switch (status) {
    case HD_CHECK_CRITICAL:
        return 0;
    case HD_CHECK_WARNING:
        return 1;
    case HD_CHECK_MAINTENANCE:
        return 2;
    default:
        return 3;
    }
}

int hd_ui_query_parse(const char *q, const char *tag, const char *status, const char *limit,
                      const char *after, const char *history, const char *sort, size_t def_limit,
                      hd_ui_query_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->q = q && *q ? q : NULL;
    out->tag = tag && *tag ? tag : NULL;
    out->after = after && *after ? after : NULL;
    out->status = HD_UI_STATUS_ANY;
    out->limit = def_limit;
    out->history = history && strcmp(history, "0") != 0 && strcmp(history, "false") != 0;
    if (status && *status) {
        int i;
        for (i = HD_CHECK_PASSING; i <= HD_CHECK_MAINTENANCE; i++)
            if (!strcmp(status, hd_check_status_str((hd_check_status_t)i))) break;
        if (i > HD_CHECK_MAINTENANCE) {
            snprintf(err, errlen,
                     "status: expected passing, warning, critical or maintenance, got '%.64s'",
                     status);
            return -1;
        }
        out->status = i;
    }
    if (limit && *limit) {
        char *end;
        errno = 0;
        long v = strtol(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || errno || *end || v < 1 || v > HD_UI_LIMIT_MAX) {
            snprintf(err, errlen, "limit: expected a number from 1 to %d, got '%.64s'",
                     HD_UI_LIMIT_MAX, limit);
            return -1;
        }
        out->limit = (size_t)v;
    }
    if (out->after && strlen(out->after) > HD_UI_AFTER_MAX) {
        snprintf(err, errlen, "after: longer than %d bytes", HD_UI_AFTER_MAX);
        return -1;
    }
    if (sort && *sort && strcmp(sort, "name") != 0) {
        if (strcmp(sort, "status") != 0) {
            snprintf(err, errlen, "sort: expected name or status, got '%.64s'", sort);
            return -1;
        }
        out->by_status = 1;
        if (out->after) {
            const char *a = out->after;
            if (a[0] < '0' || a[0] > '3' || a[1] != ':' || !a[2]) {
                snprintf(err, errlen,
                         "after: with sort=status, expected RANK:KEY (the \"next\" of the page "
                         "before), got '%.64s'",
                         a);
                return -1;
            }
            out->after_rank = a[0] - '0';
            out->after = a + 2;
        }
    }
    return 0;
}

int hd_ui_etag_match(const char *inm, const char *etag)
{
    if (!inm || !etag) return 0;
    size_t n = strlen(etag);
    const char *p = inm;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p) return 0;
        if (*p == '*') return 1;
        if (p[0] == 'W' && p[1] == '/') p += 2;
        const char *end = p;
        if (*end == '"') { /* a quoted tag: up to its closing quote */
            end = strchr(end + 1, '"');
            end = end ? end + 1 : p + strlen(p);
        } else {
            while (*end && *end != ',')
                end++;
        }
        if ((size_t)(end - p) == n && !memcmp(p, etag, n)) return 1;
        p = end;
    }
}
