/* route — request-target parsing and pattern matching (see route.h).
 *
 * Decoding rules, chosen to be boring: the path is split on '/' before
 * decoding, so "%2F" inside an id stays part of that id; a single trailing
 * '/' is ignored ("/v1/checks/" is "/v1/checks"); any other empty segment
 * is kept and so matches no literal and no parameter. evhttp's own query
 * parser is not used: it rejects a key without '=' ("?pretty").
 *
 * The decoded path (dpath) is the segments joined again with '/', so that
 * a "*name" parameter is a pointer into it: no allocation per match. */
#include "api/route.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) into a new string; plus_is_space for query parts.
 * Returns NULL on a bad escape or an encoded NUL. */
static char *decode(const char *s, size_t len, int plus_is_space)
{
    char *out = hd_xmalloc(len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void hd_api_target_free(hd_api_target_t *t)
{
    free(t->path);
    free_strv(t->segs, t->nsegs);
    free(t->dpath);
    free(t->dstart);
    for (size_t i = 0; i < t->nquery; i++) {
        free(t->query[i].key);
        free(t->query[i].value);
    }
    free(t->query);
    memset(t, 0, sizeof(*t));
}

/* Splits path (starting with '/') into decoded segments, and joins them
 * again into dpath. */
static int split_path(hd_api_target_t *t, char *err, size_t errlen)
{
    const char *p = t->path + 1;
    size_t cap = 0, plen = strlen(t->path);
    char *d = hd_xmalloc(plen + 1); /* decoding never lengthens */
    size_t dlen = 0;
    d[dlen++] = '/';
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!end && len == 0) break; /* "" after a trailing '/', or the root */
        char *seg = decode(p, len, 0);
        if (!seg) {
            snprintf(err, errlen, "bad percent-escape in the path '%s'", t->path);
            free(d);
            return -1;
        }
        if (t->nsegs + 1 >= cap) {
            cap = cap ? cap * 2 : 8;
            t->segs = hd_xrealloc(t->segs, cap * sizeof(*t->segs));
            t->dstart = hd_xrealloc(t->dstart, cap * sizeof(*t->dstart));
        }
        t->dstart[t->nsegs] = dlen;
        size_t slen = strlen(seg);
        memcpy(d + dlen, seg, slen);
        dlen += slen;
        if (end) d[dlen++] = '/';
        t->segs[t->nsegs++] = seg;
        if (!end) break;
        p = end + 1;
    }
    if (!t->dstart) t->dstart = hd_xmalloc(sizeof(*t->dstart));
    t->dstart[t->nsegs] = dlen;
    d[dlen] = '\0';
    t->dpath = d;
    return 0;
}

/* Splits q (without '?') into decoded pairs; empty pieces are skipped. */
static int split_query(hd_api_target_t *t, const char *q, char *err, size_t errlen)
{
    size_t cap = 0;
    while (*q) {
        size_t len = strcspn(q, "&");
        if (len > 0) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            char *k = decode(q, klen, 1);
            char *v = eq ? decode(eq + 1, len - klen - 1, 1) : hd_xstrdup("");
            if (!k || !v) {
                free(k);
                free(v);
                snprintf(err, errlen, "bad percent-escape in the query string");
                return -1;
            }
            if (t->nquery == cap) {
                cap = cap ? cap * 2 : 4;
                t->query = hd_xrealloc(t->query, cap * sizeof(*t->query));
            }
            t->query[t->nquery].key = k;
            t->query[t->nquery].value = v;
            t->nquery++;
        }
        q += len;
        if (*q == '&') q++;
    }
    return 0;
}

int hd_api_target_parse(const char *uri, hd_api_target_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (!uri) uri = "";
    const char *p = uri;
    /* Absolute-form (RFC 9112 3.2.2): skip scheme and authority. */
    if (!strncasecmp(p, "http://", 7) || !strncasecmp(p, "https://", 8)) {
        p = strchr(p, ':') + 3;
        p += strcspn(p, "/?#");
        if (*p != '/') p = "/";
    }
    if (*p != '/') {
        snprintf(err, errlen, "the request target must be a path starting with '/'");
        return -1;
    }
    size_t plen = strcspn(p, "?#");
    t->path = hd_xstrndup(p, plen);
    const char *q = p[plen] == '?' ? p + plen + 1 : NULL;
    char *query = q ? hd_xstrndup(q, strcspn(q, "#")) : NULL;
    int rc = split_path(t, err, errlen);
    if (rc == 0 && query) rc = split_query(t, query, err, errlen);
    free(query);
    if (rc < 0) hd_api_target_free(t);
    return rc;
}

const char *hd_api_target_query(const hd_api_target_t *t, const char *key)
{
    for (size_t i = 0; i < t->nquery; i++)
        if (!strcmp(t->query[i].key, key)) return t->query[i].value;
    return NULL;
}

void hd_api_pattern_free(hd_api_pattern_t *p)
{
    free(p->text);
    free_strv(p->segs, p->nsegs);
    free(p->is_param);
    memset(p, 0, sizeof(*p));
}

int hd_api_pattern_parse(const char *pattern, hd_api_pattern_t *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (!pattern || pattern[0] != '/') {
        snprintf(err, errlen, "route pattern '%s' must start with '/'", pattern ? pattern : "");
        return -1;
    }
    p->text = hd_xstrdup(pattern);
    const char *s = pattern + 1;
    while (*s) {
        size_t len = strcspn(s, "/");
        int param = s[0] == ':' ? HD_API_SEG_PARAM : s[0] == '*' ? HD_API_SEG_REST : 0;
        if (len == 0 || (param && len == 1)) {
            snprintf(err, errlen, "route pattern '%s' has an empty segment", pattern);
            goto bad;
        }
        if (param == HD_API_SEG_REST && s[len] != '\0') {
            snprintf(err, errlen, "route pattern '%s': a '*' parameter must be the last segment",
                     pattern);
            goto bad;
        }
        char *seg = hd_xstrndup(s + !!param, len - !!param);
        for (size_t i = 0; param && i < p->nsegs; i++)
            if (p->is_param[i] && !strcmp(p->segs[i], seg)) {
                snprintf(err, errlen, "route pattern '%s' repeats parameter ':%s'", pattern, seg);
                free(seg);
                goto bad;
            }
        p->segs = hd_xrealloc(p->segs, (p->nsegs + 1) * sizeof(*p->segs));
        p->is_param = hd_xrealloc(p->is_param, (p->nsegs + 1) * sizeof(*p->is_param));
        p->segs[p->nsegs] = seg;
        p->is_param[p->nsegs] = param;
        p->nsegs++;
        p->nparams += (size_t)(param != 0);
        s += len;
        if (*s == '/') s++;
    }
    return 0;
bad:
    hd_api_pattern_free(p);
    return -1;
}

int hd_api_pattern_match(const hd_api_pattern_t *p, const hd_api_target_t *t, const char **values)
{
    int rest = p->nsegs > 0 && p->is_param[p->nsegs - 1] == HD_API_SEG_REST;
    size_t fixed = p->nsegs - (size_t)rest;
    if (rest ? t->nsegs < fixed : p->nsegs != t->nsegs) return 0;
    size_t k = 0;
    for (size_t i = 0; i < fixed; i++) {
        if (p->is_param[i]) {
            if (t->segs[i][0] == '\0') return 0;
            if (values) values[k] = t->segs[i];
            k++;
        } else if (strcmp(p->segs[i], t->segs[i]) != 0) {
            return 0;
        }
    }
    if (rest && values) values[k] = t->dpath + t->dstart[fixed];
    return 1;
}
