/* head — request-head watcher for oversized bodies (see head.h). */
#include "api/head.h"

#include <string.h>
#include <strings.h>

enum { HEAD_FIRSTLINE, HEAD_FIELDS, HEAD_DONE };

static const char CL[] = "content-length:";

void hd_api_head_reset(hd_api_head_t *h)
{
    h->state = HEAD_FIRSTLINE;
    h->linelen = 0;
}

int hd_api_head_done(const hd_api_head_t *h)
{
    return h->state == HEAD_DONE;
}

/* The value of a Content-Length line as evhttp would read it: optional
 * blanks, decimal digits, optional blanks and '\r'. Returns 0, or -1 if the
 * line is not one (evhttp then rejects or ignores it on its own). Values past
 * UINT64_MAX saturate. */
static int parse_cl(const char *s, size_t len, uint64_t *out)
{
    size_t n = sizeof(CL) - 1;
    if (len < n || strncasecmp(s, CL, n) != 0) return -1;
    size_t i = n;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t digits = i;
    uint64_t v = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    if (i == digits) return -1;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i != len) return -1;
    *out = v;
    return 0;
}

int hd_api_head_feed(hd_api_head_t *h, const char *p, size_t n, uint64_t limit, size_t *used,
                     size_t *linelen)
{
    for (size_t i = 0; i < n; i++) {
        if (h->state == HEAD_DONE) break;
        char c = p[i];
        if (c != '\n') {
            if (h->linelen < sizeof(h->line)) h->line[h->linelen] = c;
            h->linelen++;
            continue;
        }
        size_t len = h->linelen;
        h->linelen = 0;
        if (h->state == HEAD_FIRSTLINE) {
            h->state = HEAD_FIELDS;
            continue;
        }
        if (len == 0 || (len == 1 && h->line[0] == '\r')) {
            h->state = HEAD_DONE;
            continue;
        }
        uint64_t v;
        if (len <= sizeof(h->line) && parse_cl(h->line, len, &v) == 0 && v > limit) {
            *used = i + 1;
            *linelen = len + 1;
            return 1;
        }
    }
    *used = n;
    return 0;
}

int hd_api_head_zero_length(char *line, size_t len)
{
    uint64_t v;
    size_t body = len;
    if (body > 0 && line[body - 1] == '\n') body--;
    if (parse_cl(line, body, &v) < 0) return -1;
    size_t i = sizeof(CL) - 1;
    while (line[i] == ' ' || line[i] == '\t')
        i++;
    line[i++] = '0';
    for (; i < body && line[i] >= '0' && line[i] <= '9'; i++)
        line[i] = ' ';
    return 0;
}
