/* page — paging of the API's lists: ?limit=N&after=KEY.
 *
 * A list is in a stable order, by key (a check's "tenant/id": by id
 * within one tenant). limit=N answers the first N entries after KEY
 * (after= absent or empty: from the start); without limit the whole list
 * comes, as before paging existed. When entries remain, the reply has
 *   Link: </v1/checks?...&limit=N&after=LAST>; rel="next"
 * (RFC 8288), LAST being the key of the page's last entry, so a client
 * follows the Link, or sends after= with that key itself, until a reply
 * has no Link. A page is consistent in itself; between pages entries may
 * come and go, and none is given twice. */
#ifndef HD_API_PAGE_H
#define HD_API_PAGE_H

#include "util/buf.h"

#include <stddef.h>

#define HD_PAGE_LIMIT_MAX 100000 /* entries a page may ask for */
#define HD_PAGE_AFTER_MAX 1024   /* bytes of after= */

typedef struct hd_page_s {
    size_t limit;      /* 0: no limit, the whole list */
    const char *after; /* entries after this key, NULL: from the first */
} hd_page_t;

/* Reads the values of limit= and after= (NULL: absent) into out (after
 * points into the argument). Returns 0, or -1 with a message naming the
 * parameter in err. */
int hd_page_parse(const char *limit, const char *after, hd_page_t *out, char *err, size_t errlen);

/* Writes the Link header value of the next page into b: path, then the
 * query pairs of kv (key, value, ...; NULL ends them; a NULL value skips
 * its key) percent-encoded, then limit and after. */
void hd_page_link(hd_buf_t *b, const char *path, const char *const *kv, size_t limit,
                  const char *after);

#endif
