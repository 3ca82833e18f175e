/* fuzz_ui_query — what the dashboard's routes read from outside: the
 * query of /v1/ui/checks and /v1/ui/services (hd_ui_query_parse) and an
 * If-None-Match header (hd_ui_etag_match). Input: q, tag, status, limit,
 * after, history, If-None-Match and sort, separated by newlines; a missing field
 * is absent. What is accepted must be within bounds: a known status, a
 * limit of 1 to 1000, an after= of at most 1,023 bytes; an error names a
 * parameter; and an If-None-Match equal to the ETag matches it. */
#include "agent/check.h"
#include "api/ui_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *field(char **p)
{
    if (!*p) return NULL;
    char *f = *p, *nl = strchr(f, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *p = s;
    const char *q = field(&p), *tag = field(&p), *status = field(&p), *limit = field(&p),
               *after = field(&p), *history = field(&p), *inm = field(&p), *sort = field(&p);

    hd_ui_query_t u;
    char err[200] = "";
    if (hd_ui_query_parse(q, tag, status, limit, after, history, sort, 50, &u, err, sizeof(err)) ==
        0) {
        if (u.limit < 1 || u.limit > HD_UI_LIMIT_MAX) abort();
        if (u.status != HD_UI_STATUS_ANY &&
            (u.status < 0 || u.status > HD_CHECK_MAINTENANCE ||
             strcmp(hd_check_status_str((hd_check_status_t)u.status), status) != 0))
            abort();
        if (u.after && (strlen(u.after) > HD_UI_AFTER_MAX || !*u.after)) abort();
        if ((u.q && u.q != q) || (u.tag && u.tag != tag)) abort();
        if (u.history != 0 && u.history != 1) abort();
        if (u.by_status && (u.after_rank < 0 || u.after_rank > 3 || (u.after && !*u.after)))
            abort();
        if (!u.by_status && sort && *sort && strcmp(sort, "name") != 0) abort();
    } else if (strncmp(err, "status: ", 8) != 0 && strncmp(err, "limit: ", 7) != 0 &&
               strncmp(err, "after: ", 7) != 0 && strncmp(err, "sort: ", 6) != 0) {
        abort();
    }
    (void)hd_ui_etag_match(inm, "\"0123456789abcdef\"");
    if (inm && *inm && !strchr(inm, ',') && !hd_ui_etag_match(inm, inm)) {
        /* A tag that is one token (no quote inside but its ends) matches itself. */
        size_t n = strlen(inm);
        if (n >= 2 && inm[0] == '"' && inm[n - 1] == '"' && !memchr(inm + 1, '"', n - 2) &&
            !strpbrk(inm, " \t"))
            abort();
    }
    free(s);
    return 0;
}
