/* proto_check — helpers the protocol tests (test_pg, test_mysql,
 * test_redis) share: a growable reply builder and checks that run a parser
 * on exact-size copies of its input, so AddressSanitizer sees any read past
 * the end. Include after <cmocka.h> and "check.h". */
#ifndef HD_TEST_PROTO_CHECK_H
#define HD_TEST_PROTO_CHECK_H

#include "probe/proto.h"
#include "probe/target.h"
#include "util/buf.h"

#include <stdio.h>

/* A target parsed from url; the test fails if it is refused. */
static inline void target_of(const char *url, hd_target_t *t)
{
    char err[256] = "";
    if (hd_target_parse(url, t, err, sizeof(err)) != 0) fail_msg("'%s' refused: %s", url, err);
}

/* Runs p->parse on an exact-size copy of the n bytes at b. */
static inline int parse_exact(const hd_proto_t *p, const hd_target_t *t, const void *b, size_t n,
                              hd_verdict_t *v)
{
    unsigned char *c = exact_copy(b, n);
    int r = p->parse(t, c, n, v);
    free(c);
    return r;
}

/* Expects the complete reply to give exactly this verdict, and every
 * shorter prefix of it (including none) to ask for more. */
static inline void expect_verdict(const hd_proto_t *p, const hd_target_t *t, const void *b,
                                  size_t n, hd_status_t st, hd_reason_t r, const char *msg)
{
    hd_verdict_t v;
    for (size_t k = 0; k < n; k++) {
        memset(&v, 0, sizeof(v));
        if (parse_exact(p, t, b, k, &v) != HD_PARSE_MORE)
            fail_msg("prefix of %zu/%zu bytes judged early: %s, %s, '%s'", k, n,
                     hd_status_str(v.status), hd_reason_name(v.reason), v.msg);
    }
    memset(&v, 0, sizeof(v));
    if (parse_exact(p, t, b, n, &v) != HD_PARSE_DONE)
        fail_msg("complete reply of %zu bytes not judged (expected '%s')", n, msg);
    assert_string_equal(hd_reason_name(v.reason), hd_reason_name(r));
    assert_string_equal(hd_status_str(v.status), hd_status_str(st));
    assert_string_equal(v.msg, msg);
}

/* Expects the bytes to be judged at once: st and r, with msg_part in the
 * message. */
static inline void expect_now(const hd_proto_t *p, const hd_target_t *t, const void *b, size_t n,
                              hd_status_t st, hd_reason_t r, const char *msg_part)
{
    hd_verdict_t v;
    memset(&v, 0, sizeof(v));
    if (parse_exact(p, t, b, n, &v) != HD_PARSE_DONE)
        fail_msg("%zu bytes not judged (expected %s)", n, hd_reason_name(r));
    assert_string_equal(hd_reason_name(v.reason), hd_reason_name(r));
    assert_string_equal(hd_status_str(v.status), hd_status_str(st));
    assert_contains(v.msg, msg_part);
}

/* Expects the bytes to leave the parser waiting for more. */
static inline void expect_more(const hd_proto_t *p, const hd_target_t *t, const void *b, size_t n)
{
    hd_verdict_t v;
    memset(&v, 0, sizeof(v));
    if (parse_exact(p, t, b, n, &v) != HD_PARSE_MORE)
        fail_msg("%zu bytes judged, expected to wait: %s, '%s'", n, hd_reason_name(v.reason),
                 v.msg);
}

/* Feeds pseudo-random buffers (fixed seed) of up to max bytes, drawn from
 * the na bytes of alphabet or from all bytes when na is 0: the parser must
 * accept any bytes, and a verdict it gives must be printable text. */
static inline void random_bytes_survive(const hd_proto_t *p, const hd_target_t *t, int rounds,
                                        size_t max, const char *alphabet, size_t na)
{
    uint32_t x = 2463534242u;
    unsigned char *b = malloc(max);
    assert_non_null(b);
    for (int i = 0; i < rounds; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t n = x % (max + 1);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            b[k] = na ? (unsigned char)alphabet[x % na] : (unsigned char)x;
        }
        hd_verdict_t v;
        memset(&v, 0, sizeof(v));
        if (parse_exact(p, t, b, n, &v) == HD_PARSE_DONE) {
            for (const char *c = v.msg; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
                    fail_msg("control byte 0x%02x in message '%s'", (unsigned char)*c, v.msg);
        }
    }
    free(b);
}

#endif
