/* proto_fuzz — what the protocol fuzz targets (fuzz_pg, fuzz_mysql,
 * fuzz_redis) check on every input. */
#ifndef HD_PROTO_FUZZ_H
#define HD_PROTO_FUZZ_H

#include "probe/proto.h"
#include "probe/target.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parses url into t, aborting if it is refused; returns 1. */
static inline int fuzz_target_of(const char *url, hd_target_t *t)
{
    char err[256];
    if (hd_target_parse(url, t, err, sizeof(err)) != 0) abort();
    return 1;
}

/* Judges n bytes; aborts on a broken promise of proto.h. */
static inline int fuzz_judge(const hd_proto_t *p, const hd_target_t *t, const uint8_t *b, size_t n,
                             hd_verdict_t *v)
{
    memset(v, 0xa5, sizeof(*v));
    int r = p->parse(t, b, n, v);
    if (r == HD_PARSE_MORE) return r;
    if (r != HD_PARSE_DONE) abort();
    if (v->status != HD_STATUS_PASSING && v->status != HD_STATUS_WARNING &&
        v->status != HD_STATUS_CRITICAL)
        abort();
    if ((unsigned)v->reason >= HD_R__COUNT) abort();
    if ((v->status == HD_STATUS_PASSING) !=
        (v->reason == HD_R_OK || v->reason == HD_R_AUTH_FAILED || v->reason == HD_R_AUTH_REQUIRED))
        abort();
    const char *nul = memchr(v->msg, 0, sizeof(v->msg));
    if (!nul) abort();
    for (const char *c = v->msg; c < nul; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) abort();
    return r;
}

/* Judges the input and the input less its last byte: a verdict on the
 * shorter must be the verdict on the longer. */
static inline void fuzz_check(const hd_proto_t *p, const hd_target_t *t, const uint8_t *b, size_t n)
{
    hd_verdict_t full, cut;
    int rf = fuzz_judge(p, t, b, n, &full);
    if (rf == HD_PARSE_MORE && p->answer) {
        /* The answer to what came so far: built from any bytes safely. */
        hd_buf_t out = {0};
        p->answer(t, b, n, &out);
        hd_buf_free(&out);
    }
    if (n == 0) {
        if (rf != HD_PARSE_MORE) abort(); /* nothing received: nothing to judge */
        return;
    }
    /* An exact-size copy, so that reading b[n-1] counts as out of bounds. */
    uint8_t *c = malloc(n - 1 ? n - 1 : 1);
    if (!c) abort();
    memcpy(c, b, n - 1);
    int rc = fuzz_judge(p, t, c, n - 1, &cut);
    free(c);
    if (rc == HD_PARSE_DONE && (rf != HD_PARSE_DONE || full.status != cut.status ||
                                full.reason != cut.reason || strcmp(full.msg, cut.msg) != 0))
        abort();
}

#endif
