/* test_cidr — the `-g` range generator: CIDR and START END forms, IPv4 and
 * IPv6, fping's network/broadcast rule, counts, and bad input named in the
 * error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "util/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Collects up to max addresses of r as text, separated by spaces. */
static int collect(hd_cidr_t *r, char *out, size_t outlen, int max)
{
    struct sockaddr_storage ss;
    int n = 0;
    out[0] = '\0';
    while (n < max && hd_cidr_next(r, &ss)) {
        char a[INET6_ADDRSTRLEN];
        const void *p = ss.ss_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        inet_ntop(ss.ss_family, p, a, sizeof(a));
        size_t l = strlen(out);
        snprintf(out + l, outlen - l, "%s%s", n ? " " : "", a);
        n++;
    }
    return n;
}

static void yields(const char *spec, const char *want)
{
    hd_cidr_t r;
    char err[128], got[1024];
    assert_int_equal(hd_cidr_parse(spec, &r, err, sizeof(err)), 0);
    collect(&r, got, sizeof(got), 100);
    assert_string_equal(got, want);
    assert_int_equal(hd_cidr_remaining(&r), 0);
}

static void test_v4_cidr(void **state)
{
    (void)state;
    yields("127.0.0.0/30", "127.0.0.1 127.0.0.2");
    yields("127.0.0.5/30", "127.0.0.5 127.0.0.6"); /* host bits ignored */
    yields("127.0.0.0/31", "127.0.0.0 127.0.0.1");
    yields("127.0.0.9/32", "127.0.0.9");
    yields("10.0.0.252/29", "10.0.0.249 10.0.0.250 10.0.0.251 10.0.0.252 10.0.0.253 10.0.0.254");
    hd_cidr_t r;
    char err[128];
    assert_int_equal(hd_cidr_parse("127.0.0.0/16", &r, err, sizeof(err)), 0);
    assert_int_equal(hd_cidr_remaining(&r), 65534);
    assert_int_equal(hd_cidr_parse("10.0.0.0/8", &r, err, sizeof(err)), 0);
    assert_int_equal(hd_cidr_remaining(&r), (1 << 24) - 2);
    assert_int_equal(hd_cidr_parse("0.0.0.0/0", &r, err, sizeof(err)), 0);
    assert_true(hd_cidr_remaining(&r) == 4294967294ULL);
    /* a whole /16 streams in order and ends exactly */
    assert_int_equal(hd_cidr_parse("127.1.0.0/16", &r, err, sizeof(err)), 0);
    struct sockaddr_storage ss;
    uint32_t prev = 0, n = 0;
    while (hd_cidr_next(&r, &ss)) {
        uint32_t a = ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr);
        if (n) assert_int_equal(a, prev + 1);
        prev = a;
        n++;
    }
    assert_int_equal(n, 65534);
    assert_int_equal(prev, 0x7f01fffe);
    assert_int_equal(hd_cidr_next(&r, &ss), 0);
}

static void test_v6_cidr(void **state)
{
    (void)state;
    yields("::1/128", "::1");
    yields("fd00::/127", "fd00:: fd00::1");
    yields("fd00::/126", "fd00::1 fd00::2 fd00::3");
    hd_cidr_t r;
    char err[128];
    assert_int_equal(hd_cidr_parse("fd00::/64", &r, err, sizeof(err)), 0);
    assert_true(hd_cidr_remaining(&r) == UINT64_MAX); /* 2^64 less the anycast address */
    assert_int_equal(hd_cidr_parse("fd00::/32", &r, err, sizeof(err)), 0);
    assert_true(hd_cidr_remaining(&r) == UINT64_MAX); /* saturates */
    assert_int_equal(hd_cidr_parse("fd00::/65", &r, err, sizeof(err)), 0);
    assert_true(hd_cidr_remaining(&r) == (1ULL << 63) - 1);
    /* the top of the address space ends without wrapping */
    assert_int_equal(hd_cidr_parse_range("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                                         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &r, err,
                                         sizeof(err)),
                     0);
    char got[256];
    assert_int_equal(collect(&r, got, sizeof(got), 10), 2);
}

static void test_range(void **state)
{
    (void)state;
    hd_cidr_t r;
    char err[128], got[512];
    assert_int_equal(hd_cidr_parse_range("127.0.0.254", "127.0.1.1", &r, err, sizeof(err)), 0);
    assert_int_equal(hd_cidr_remaining(&r), 4);
    collect(&r, got, sizeof(got), 10);
    assert_string_equal(got, "127.0.0.254 127.0.0.255 127.0.1.0 127.0.1.1");
    assert_int_equal(hd_cidr_parse_range("127.0.0.1", "127.0.0.1", &r, err, sizeof(err)), 0);
    assert_int_equal(collect(&r, got, sizeof(got), 10), 1);
    assert_int_equal(
        hd_cidr_parse_range("255.255.255.254", "255.255.255.255", &r, err, sizeof(err)), 0);
    assert_int_equal(collect(&r, got, sizeof(got), 10), 2);
}

static void bad(int range, const char *a, const char *b, const char *want)
{
    hd_cidr_t r;
    char err[160] = "";
    int rc = range ? hd_cidr_parse_range(a, b, &r, err, sizeof(err))
                   : hd_cidr_parse(a, &r, err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_string_equal(err, want);
}

static void test_errors(void **state)
{
    (void)state;
    bad(0, "127.0.0.1", NULL, "'127.0.0.1' is not ADDRESS/PREFIX");
    bad(0, "127.0.0.300/24", NULL, "'127.0.0.300' is not an IPv4 or IPv6 address");
    bad(0, "127.0.0.0/33", NULL, "'127.0.0.0/33': prefix length must be 0 to 32");
    bad(0, "::/129", NULL, "'::/129': prefix length must be 0 to 128");
    bad(0, "127.0.0.0/", NULL, "'127.0.0.0/': prefix length must be 0 to 32");
    bad(0, "127.0.0.0/2x", NULL, "'127.0.0.0/2x': prefix length must be 0 to 32");
    bad(0, "/24", NULL, "'/24' has no valid address before '/'");
    bad(0, "host.example/24", NULL, "'host.example' is not an IPv4 or IPv6 address");
    bad(1, "127.0.0.5", "127.0.0.1", "range start '127.0.0.5' is after its end '127.0.0.1'");
    bad(1, "127.0.0.1", "::1", "'127.0.0.1' and '::1' are not of the same address family");
    bad(1, "localhost", "127.0.0.1", "'localhost' is not an IPv4 or IPv6 address");
    bad(1, "127.0.0.1", "x", "'x' is not an IPv4 or IPv6 address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_cidr),
        cmocka_unit_test(test_v6_cidr),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
