/* page — ?limit=&after= of the API's lists (see page.h). */
#include "api/page.h"
#include "util/url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hd_page_parse(const char *limit, const char *after, hd_page_t *out, char *err, size_t errlen)
{
    out->limit = 0;
    out->after = after && *after ? after : NULL;
    if (out->after && strlen(out->after) > HD_PAGE_AFTER_MAX) {
        snprintf(err, errlen, "after: longer than %d bytes; give the last key of a page",
                 HD_PAGE_AFTER_MAX);
        return -1;
    }
    if (!limit) return 0;
    char *end;
    errno = 0;
    long long n = limit[0] >= '0' && limit[0] <= '9' ? strtoll(limit, &end, 10) : -1;
    if (n < 1 || errno || *end || n > HD_PAGE_LIMIT_MAX) {
        snprintf(err, errlen, "limit: expected a whole number from 1 to %d, got '%.32s'",
                 HD_PAGE_LIMIT_MAX, limit);
        return -1;
    }
    out->limit = (size_t)n;
    return 0;
}

void hd_page_link(hd_buf_t *b, const char *path, const char *const *kv, size_t limit,
                  const char *after)
{
    hd_buf_printf(b, "<%s?", path);
    for (; kv && kv[0]; kv += 2) {
        if (!kv[1]) continue;
        hd_url_encode(b, kv[0]);
        hd_buf_puts(b, "=");
        hd_url_encode(b, kv[1]);
        hd_buf_puts(b, "&");
    }
    hd_buf_printf(b, "limit=%zu&after=", limit);
    hd_url_encode(b, after);
    hd_buf_puts(b, ">; rel=\"next\"");
}
