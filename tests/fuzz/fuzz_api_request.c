/* fuzz_api_request — the API's parsing of what a request carries (the HTTP
 * framing is fuzz_http_request's): the request-target (path segments,
 * percent-decoding, query pairs) and route matching, and the JSON body
 * check.
 *
 * Input: the request-target, a newline, then the bytes of a JSON body. */
#include "api/route.h"
#include "api/server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const PATTERNS[] = {
    "/v1/checks", "/v1/checks/:id", "/v1/checks/:id/history", "/v1/checks/:id/:action",
    "/",          "/v1/kv/*key",    "/v1/:a/*rest",
};

static void target(const char *uri)
{
    hd_api_target_t t;
    char err[256] = "";
    if (hd_api_target_parse(uri, &t, err, sizeof(err)) < 0) {
        if (!err[0] || t.path || t.segs || t.query) abort();
        return;
    }
    if (!t.path || t.path[0] != '/') abort();
    for (size_t i = 0; i < t.nquery; i++)
        if (!t.query[i].key || !t.query[i].value || hd_api_target_query(&t, t.query[i].key) == NULL)
            abort();
    for (size_t i = 0; i < sizeof(PATTERNS) / sizeof(PATTERNS[0]); i++) {
        hd_api_pattern_t p;
        if (hd_api_pattern_parse(PATTERNS[i], &p, err, sizeof(err)) < 0) abort();
        const char *v[4] = {NULL, NULL, NULL, NULL};
        if (hd_api_pattern_match(&p, &t, v)) {
            int rest = p.nsegs > 0 && p.is_param[p.nsegs - 1] == HD_API_SEG_REST;
            if (rest ? t.nsegs + 1 < p.nsegs : p.nsegs != t.nsegs) abort();
            for (size_t k = 0; k < p.nparams; k++)
                if (!v[k] || (!v[k][0] && !(rest && k == p.nparams - 1))) abort();
            /* The rest is the decoded path's tail: its length is bounded by
             * the raw path's, and it ends the decoded path. */
            if (rest) {
                const char *r = v[p.nparams - 1];
                if (strlen(r) > strlen(t.path) || r < t.dpath ||
                    r + strlen(r) != t.dpath + strlen(t.dpath))
                    abort();
            }
        }
        hd_api_pattern_free(&p);
    }
    hd_api_target_free(&t);
    /* The target as a pattern: must not crash either way. */
    hd_api_pattern_t p;
    if (hd_api_pattern_parse(uri, &p, err, sizeof(err)) == 0) hd_api_pattern_free(&p);
}

static void body(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    char err[300] = "";
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees reads past the end */
    if (!copy) return;
    if (size) memcpy(copy, data, size);
    if (hd_api_parse_body(copy, size, &j, err, sizeof(err)) == 0) {
        if (size > 0 && !json_is_object(j)) abort();
        json_decref(j);
    } else if (j || !err[0]) {
        abort();
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ulen = nl ? (size_t)(nl - data) : size;
    char *uri = malloc(ulen + 1);
    if (!uri) return 0;
    memcpy(uri, data, ulen);
    uri[ulen] = '\0';
    target(uri);
    free(uri);
    const uint8_t *rest = nl ? nl + 1 : data + size;
    size_t rlen = (size_t)(data + size - rest);
    body(rest, rlen);
    return 0;
}
