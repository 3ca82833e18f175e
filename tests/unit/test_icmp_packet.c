/* test_icmp_packet — the ICMP packet builder and parser: checksums, echo
 * requests, replies (raw IPv4 with its IP header, ping sockets without),
 * errors quoting our request, and everything the parser must turn away:
 * truncated, corrupted, forged and other processes' packets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "probe/icmp_packet.h"

#include <string.h>

#define ID    0x4242
#define NONCE 0x0123456789abcdefULL
#define SENT  987654321LL

/* Turns an echo request built by us into the reply a host would send. */
static size_t make_reply(uint8_t *buf, int v6, uint16_t id)
{
    size_t n = hd_icmp_build_echo(buf, 2048, v6, id, NONCE, SENT, HD_ICMP_DATA_DEF);
    buf[0] = v6 ? 129 : 0;
    buf[2] = buf[3] = 0;
    if (!v6) {
        uint16_t ck = hd_icmp_checksum(buf, n);
        buf[2] = (uint8_t)(ck >> 8);
        buf[3] = (uint8_t)ck;
    }
    return n;
}

/* Puts a 20-byte IPv4 header carrying proto in front of payload. */
static size_t with_ip4(uint8_t *out, const uint8_t *payload, size_t n, const uint8_t dst[4])
{
    memset(out, 0, 20);
    out[0] = 0x45;
    out[9] = 1;
    out[12] = 10, out[13] = 0, out[14] = 0, out[15] = 9;
    memcpy(out + 16, dst, 4);
    memcpy(out + 20, payload, n);
    return n + 20;
}

static void test_checksum(void **state)
{
    (void)state;
    /* RFC 1071's example: the one's-complement sum is ddf2, the checksum 220d */
    const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(hd_icmp_checksum(rfc, sizeof(rfc)), 0x220d);
    /* an odd length pads with a zero byte */
    const uint8_t odd[] = {0x01};
    assert_int_equal(hd_icmp_checksum(odd, 1), (uint16_t)~0x0100);
    /* a buffer with its checksum in place sums to zero */
    uint8_t buf[128];
    size_t n = hd_icmp_build_echo(buf, sizeof(buf), 0, ID, NONCE, SENT, 37);
    assert_int_equal(n, 8 + 37);
    assert_int_equal(hd_icmp_checksum(buf, n), 0);
}

static void test_build(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = hd_icmp_build_echo(buf, sizeof(buf), 0, ID, NONCE, SENT, HD_ICMP_DATA_DEF);
    assert_int_equal(n, 64);
    assert_int_equal(buf[0], 8);
    assert_int_equal(buf[1], 0);
    assert_int_equal((buf[4] << 8) | buf[5], ID);
    assert_int_equal((buf[6] << 8) | buf[7], NONCE & 0xffff);
    assert_int_equal(buf[8], 0x01);
    assert_int_equal(buf[15], 0xef);
    /* v6: type 128, checksum left to the kernel */
    n = hd_icmp_build_echo(buf, sizeof(buf), 1, ID, NONCE, SENT, 0);
    assert_int_equal(n, 8 + HD_ICMP_STAMP); /* raised to fit the stamp */
    assert_int_equal(buf[0], 128);
    assert_int_equal(buf[2] | buf[3], 0);
    /* too small a buffer */
    assert_int_equal(hd_icmp_build_echo(buf, 23, 0, ID, NONCE, SENT, 16), 0);
    /* our own request parses back */
    hd_icmp_msg_t m;
    n = hd_icmp_build_echo(buf, sizeof(buf), 0, ID, NONCE, SENT, 56);
    assert_int_equal(hd_icmp_parse_own_request(buf, n, 0, &m), 0);
    assert_true(m.nonce == NONCE);
    assert_true(m.sent_us == SENT);
    assert_int_equal(hd_icmp_parse_own_request(buf, 20, 0, &m), -1);
    for (size_t len = 0; len < 24; len++) { /* found by fuzz_icmp_packet: a 1-byte quote */
        unsigned char *c = exact_copy(buf, len);
        assert_int_equal(hd_icmp_parse_own_request(c, len, 0, &m), -1);
        free(c);
    }
    assert_int_equal(hd_icmp_parse_own_request(buf, n, 1, &m), -1); /* type 8 is not v6 */
}

static void test_reply_v4(void **state)
{
    (void)state;
    uint8_t icmp[2048], pkt[2048];
    size_t n = make_reply(icmp, 0, ID);
    const uint8_t dst[4] = {127, 0, 0, 1};
    hd_icmp_msg_t m;
    /* ping socket: no IP header, id not checked */
    assert_int_equal(hd_icmp_parse(icmp, n, 0, 0, 0, 0, &m), HD_ICMP_PKT_REPLY);
    assert_true(m.nonce == NONCE);
    assert_true(m.sent_us == SENT);
    assert_int_equal(m.icmp_len, 64);
    /* raw socket: behind an IP header, with our id */
    size_t pn = with_ip4(pkt, icmp, n, dst);
    assert_int_equal(hd_icmp_parse(pkt, pn, 0, 1, 1, ID, &m), HD_ICMP_PKT_REPLY);
    assert_int_equal(m.id, ID);
    /* another process's id: not ours */
    assert_int_equal(hd_icmp_parse(pkt, pn, 0, 1, 1, ID + 1, &m), HD_ICMP_PKT_IGNORE);
    /* a longer IP header (options) is skipped by its IHL */
    uint8_t opt[2048];
    memcpy(opt, pkt, 20);
    opt[0] = 0x46;
    memset(opt + 20, 1, 4);
    memcpy(opt + 24, icmp, n);
    assert_int_equal(hd_icmp_parse(opt, n + 24, 0, 1, 1, ID, &m), HD_ICMP_PKT_REPLY);
}

static void test_reply_rejects(void **state)
{
    (void)state;
    uint8_t icmp[2048], bad[2048];
    size_t n = make_reply(icmp, 0, ID);
    hd_icmp_msg_t m;
    /* every truncation before the end of the stamp is refused, and read
     * within bounds (ASan checks); cutting only zero filler leaves a valid,
     * shorter reply whose length is reported as received */
    for (size_t len = 0; len < HD_ICMP_HDR + HD_ICMP_STAMP; len++) {
        unsigned char *c = exact_copy(icmp, len);
        assert_int_equal(hd_icmp_parse(c, len, 0, 0, 0, 0, &m), HD_ICMP_PKT_IGNORE);
        free(c);
    }
    assert_int_equal(hd_icmp_parse(icmp, 40, 0, 0, 0, 0, &m), HD_ICMP_PKT_REPLY);
    assert_int_equal(m.icmp_len, 40);
    /* a flipped payload bit breaks the checksum */
    memcpy(bad, icmp, n);
    bad[30] ^= 0x10;
    assert_int_equal(hd_icmp_parse(bad, n, 0, 0, 0, 0, &m), HD_ICMP_PKT_IGNORE);
    /* forged: a valid checksum, but a sequence that does not match the nonce */
    memcpy(bad, icmp, n);
    bad[7] ^= 1;
    bad[2] = bad[3] = 0;
    uint16_t ck = hd_icmp_checksum(bad, n);
    bad[2] = (uint8_t)(ck >> 8), bad[3] = (uint8_t)ck;
    assert_int_equal(hd_icmp_parse(bad, n, 0, 0, 0, 0, &m), HD_ICMP_PKT_IGNORE);
    /* an echo request (our own, looped back) is not a reply */
    n = hd_icmp_build_echo(bad, sizeof(bad), 0, ID, NONCE, SENT, 56);
    assert_int_equal(hd_icmp_parse(bad, n, 0, 0, 1, ID, &m), HD_ICMP_PKT_IGNORE);
    /* a raw packet that is not ICMP, or not IPv4 */
    uint8_t pkt[2048];
    const uint8_t dst[4] = {127, 0, 0, 1};
    n = make_reply(icmp, 0, ID);
    size_t pn = with_ip4(pkt, icmp, n, dst);
    pkt[9] = 17;
    assert_int_equal(hd_icmp_parse(pkt, pn, 0, 1, 1, ID, &m), HD_ICMP_PKT_IGNORE);
    pkt[9] = 1;
    pkt[0] = 0x65;
    assert_int_equal(hd_icmp_parse(pkt, pn, 0, 1, 1, ID, &m), HD_ICMP_PKT_IGNORE);
    pkt[0] = 0x4f; /* IHL past the end of a short packet */
    assert_int_equal(hd_icmp_parse(pkt, 40, 0, 1, 1, ID, &m), HD_ICMP_PKT_IGNORE);
}

static void test_reply_v6(void **state)
{
    (void)state;
    uint8_t icmp[2048];
    size_t n = make_reply(icmp, 1, ID);
    hd_icmp_msg_t m;
    assert_int_equal(hd_icmp_parse(icmp, n, 1, 0, 1, ID, &m), HD_ICMP_PKT_REPLY);
    assert_true(m.nonce == NONCE);
    assert_int_equal(hd_icmp_parse(icmp, n, 1, 0, 1, 7, &m), HD_ICMP_PKT_IGNORE);
    /* an ICMPv4 reply type read as ICMPv6 is not a reply */
    icmp[0] = 0;
    assert_int_equal(hd_icmp_parse(icmp, n, 1, 0, 0, 0, &m), HD_ICMP_PKT_IGNORE);
}

/* Builds an ICMPv4 error (type, code) quoting our request to dst, trimmed to
 * quote_icmp bytes of the quoted ICMP message. */
static size_t make_err4(uint8_t *out, int type, int code, uint16_t id, size_t quote_icmp)
{
    uint8_t req[2048], quoted[2048];
    size_t rn = hd_icmp_build_echo(req, sizeof(req), 0, id, NONCE, SENT, 56);
    if (quote_icmp < rn) rn = quote_icmp;
    const uint8_t dst[4] = {10, 201, 0, 5};
    size_t qn = with_ip4(quoted, req, rn, dst);
    memset(out, 0, 8);
    out[0] = (uint8_t)type;
    out[1] = (uint8_t)code;
    memcpy(out + 8, quoted, qn);
    uint16_t ck = hd_icmp_checksum(out, qn + 8);
    out[2] = (uint8_t)(ck >> 8), out[3] = (uint8_t)ck;
    return qn + 8;
}

static void test_error_v4(void **state)
{
    (void)state;
    uint8_t e[2048];
    hd_icmp_msg_t m;
    size_t n = make_err4(e, 3, 1, ID, 64);
    assert_int_equal(hd_icmp_parse(e, n, 0, 0, 1, ID, &m), HD_ICMP_PKT_ERROR);
    assert_int_equal(m.type, 3);
    assert_int_equal(m.code, 1);
    assert_true(m.nonce == NONCE);
    assert_int_equal(m.orig_dst_len, 4);
    assert_int_equal(m.orig_dst[1], 201);
    assert_string_equal(hd_icmp_error_str(0, m.type, m.code), "ICMP Host Unreachable");
    /* time exceeded works the same way */
    n = make_err4(e, 11, 0, ID, 64);
    assert_int_equal(hd_icmp_parse(e, n, 0, 0, 1, ID, &m), HD_ICMP_PKT_ERROR);
    assert_string_equal(hd_icmp_error_str(0, 11, 0), "ICMP Time Exceeded");
    /* an error about another process's request */
    n = make_err4(e, 3, 1, ID + 1, 64);
    assert_int_equal(hd_icmp_parse(e, n, 0, 0, 1, ID, &m), HD_ICMP_PKT_IGNORE);
    /* RFC 792's minimum quote (8 bytes) does not reach the nonce: ignored */
    n = make_err4(e, 3, 1, ID, 8);
    assert_int_equal(hd_icmp_parse(e, n, 0, 0, 1, ID, &m), HD_ICMP_PKT_IGNORE);
    /* every truncation of a good error before the quoted stamp ends is
     * refused without reading past it */
    n = make_err4(e, 3, 3, ID, 64);
    for (size_t len = 0; len < 8 + 20 + HD_ICMP_HDR + HD_ICMP_STAMP; len++) {
        unsigned char *c = exact_copy(e, len);
        hd_icmp_kind_t k = hd_icmp_parse(c, len, 0, 0, 0, 0, &m);
        assert_int_equal(k, HD_ICMP_PKT_IGNORE);
        free(c);
    }
    /* a type that is neither a reply nor an error */
    n = make_err4(e, 13, 0, ID, 64);
    assert_int_equal(hd_icmp_parse(e, n, 0, 0, 1, ID, &m), HD_ICMP_PKT_IGNORE);
    assert_string_equal(hd_icmp_error_str(0, 3, 99), "ICMP Unreachable (Invalid Code)");
}

static void test_error_v6(void **state)
{
    (void)state;
    uint8_t req[2048], e[2048];
    size_t rn = hd_icmp_build_echo(req, sizeof(req), 1, ID, NONCE, SENT, 56);
    memset(e, 0, 8 + 40);
    e[0] = 1; /* destination unreachable */
    e[1] = 3; /* address unreachable */
    e[8] = 0x60;
    e[8 + 6] = 58;
    e[8 + 24] = 0xfd;
    e[8 + 39] = 7;
    memcpy(e + 48, req, rn);
    hd_icmp_msg_t m;
    assert_int_equal(hd_icmp_parse(e, 48 + rn, 1, 0, 1, ID, &m), HD_ICMP_PKT_ERROR);
    assert_int_equal(m.orig_dst_len, 16);
    assert_int_equal(m.orig_dst[0], 0xfd);
    assert_int_equal(m.orig_dst[15], 7);
    assert_string_equal(hd_icmp_error_str(1, 1, 3), "ICMP6 Address Unreachable");
    /* a quoted packet with an extension header is not one of ours */
    e[8 + 6] = 0;
    assert_int_equal(hd_icmp_parse(e, 48 + rn, 1, 0, 1, ID, &m), HD_ICMP_PKT_IGNORE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum), cmocka_unit_test(test_build),
        cmocka_unit_test(test_reply_v4), cmocka_unit_test(test_reply_rejects),
        cmocka_unit_test(test_reply_v6), cmocka_unit_test(test_error_v4),
        cmocka_unit_test(test_error_v6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
