/* test_target_dns_tls — the dns:// and tls:// target grammar (target.c),
 * and the dns probe's reading of replies and matching of answers (dns.h),
 * on replies built here byte by byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "target_check.h"
#include "probe/dns.h"
#include "probe/target.h"

#include <stdio.h>

static void test_dns_grammar(void **state)
{
    (void)state;
    hd_target_t t;
    parse_ok("dns://Example.Test", &t);
    assert_int_equal(t.kind, HD_KIND_DNS);
    assert_string_equal(t.host, "example.test");
    assert_null(t.dns_type); /* the probe picks A, or AAAA for an IPv6 expect */
    assert_null(t.dns_server);
    assert_null(t.dns_expect);
    assert_string_equal(hd_kind_name(t.kind), "dns");
    hd_target_free(&t);

    parse_ok("dns://_dmarc.example.test/?type=txt&server=127.0.0.1:5353&expect=v%3DDMARC1%3B%20p"
             "%3Dnone",
             &t);
    assert_string_equal(t.host, "_dmarc.example.test");
    assert_string_equal(t.dns_type, "TXT"); /* normalised */
    assert_string_equal(t.dns_server, "127.0.0.1:5353");
    assert_string_equal(t.dns_expect, "v=DMARC1; p=none");
    hd_target_free(&t);

    parse_ok("dns://example.test?expect=a=b&server=[::1]&type=MX", &t);
    assert_string_equal(t.dns_expect, "a=b"); /* only the first '=' separates */
    assert_string_equal(t.dns_server, "[::1]");
    assert_string_equal(t.dns_type, "MX");
    hd_target_free(&t);

    parse_ok("dns://example.test?server=[::1]:53&type=AAAA", &t);
    assert_string_equal(t.dns_server, "[::1]:53");
    hd_target_free(&t);

    parse_bad("dns://example.test:53", "dns URLs take no port");
    parse_bad("dns://example.test/x", "dns URLs are dns://name[?type=T&server=ADDR&expect=VALUE]");
    parse_bad("dns://u@example.test", "dns URLs are dns://name[?type=T&server=ADDR&expect=VALUE]");
    parse_bad("dns://[::1]", "dns URLs name a DNS name, not an IPv6 address");
    parse_bad("dns://", "missing host in dns URL");
    parse_bad("dns://example.test?type=SRV",
              "unknown dns type 'SRV' (expected A, AAAA, CNAME, MX, NS or TXT)");
    parse_bad("dns://example.test?type=A&type=MX", "dns query key 'type' given twice");
    parse_bad("dns://example.test?port=53",
              "unknown dns query key 'port' (expected type, server or expect)");
    parse_bad("dns://example.test?expect", "dns query item 'expect' is not KEY=VALUE");
    parse_bad("dns://example.test?expect=", "empty dns expect");
    parse_bad("dns://example.test?expect=%zz", "bad percent-escape in dns expect");
    parse_bad("dns://example.test?server=ns1.example.test",
              "dns server 'ns1.example.test' is not ADDR[:PORT] (an IPv4 address or [IPv6], "
              "port 1-65535)");
    parse_bad("dns://example.test?server=127.0.0.1:0",
              "dns server '127.0.0.1:0' is not ADDR[:PORT] (an IPv4 address or [IPv6], port "
              "1-65535)");
    parse_bad("dns://example.test?server=::1",
              "dns server '::1' is not ADDR[:PORT] (an IPv4 address or [IPv6], port 1-65535)");
    parse_bad("dns://example.test#x", "unexpected fragment ('#...') in dns URL: it takes none");
}

static void test_dns_server_valid(void **state)
{
    (void)state;
    assert_true(hd_dns_server_valid("127.0.0.1"));
    assert_true(hd_dns_server_valid("127.0.0.1:65535"));
    assert_true(hd_dns_server_valid("[::1]"));
    assert_true(hd_dns_server_valid("[fe80::1]:5353"));
    assert_false(hd_dns_server_valid(""));
    assert_false(hd_dns_server_valid("127.0.0.1:"));
    assert_false(hd_dns_server_valid("127.0.0.1:65536"));
    assert_false(hd_dns_server_valid("127.0.0.1:+53"));
    assert_false(hd_dns_server_valid("[::1"));
    assert_false(hd_dns_server_valid("[::1]x"));
    assert_false(hd_dns_server_valid("[127.0.0.1]"));
    assert_false(hd_dns_server_valid("localhost"));
}

static void test_tls_grammar(void **state)
{
    (void)state;
    hd_target_t t;
    parse_ok("tls://example.test", &t);
    assert_int_equal(t.kind, HD_KIND_TLS);
    assert_string_equal(t.host, "example.test");
    assert_int_equal(t.port, 443);
    assert_int_equal(t.tls.cert_days_left, HD_TLS_DAYS_DEFAULT);
    assert_int_equal(t.tls.insecure, 0);
    assert_string_equal(hd_kind_name(t.kind), "tls");
    hd_target_free(&t);

    parse_ok("tls://[::1]:8443/", &t);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 8443);
    hd_target_free(&t);

    parse_bad("tls://example.test/path", "tls URLs are tls://host[:port] only");
    parse_bad("tls://example.test?x=1", "tls URLs are tls://host[:port] only");
    parse_bad("tls://u@example.test", "tls URLs are tls://host[:port] only");
    parse_bad("tls://:443", "missing host in tls URL");
    parse_bad("tls://example.test:0", "port 0 is not a port you can connect to");
}

static void test_type_names(void **state)
{
    (void)state;
    assert_int_equal(hd_dns_type_code("a"), 1);
    assert_int_equal(hd_dns_type_code("Aaaa"), 28);
    assert_int_equal(hd_dns_type_code("cname"), 5);
    assert_int_equal(hd_dns_type_code("MX"), 15);
    assert_int_equal(hd_dns_type_code("NS"), 2);
    assert_int_equal(hd_dns_type_code("TXT"), 16);
    assert_int_equal(hd_dns_type_code("SRV"), 0);
    assert_int_equal(hd_dns_type_code(""), 0);
    assert_string_equal(hd_dns_type_name(15), "MX");
    assert_null(hd_dns_type_name(33));
}

/* ---- DNS replies, built by hand ---- */

typedef struct pkt_s {
    unsigned char b[4096];
    size_t n;
    size_t ancount_at;
} pkt_t;

static void put(pkt_t *p, const void *d, size_t n)
{
    assert_true(p->n + n <= sizeof(p->b));
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void put16(pkt_t *p, unsigned v)
{
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(p, x, 2);
}

/* "a.b" as labels, ending with the root. */
static void put_name(pkt_t *p, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        unsigned char l = (unsigned char)len;
        put(p, &l, 1);
        put(p, name, len);
        name += len + (dot ? 1 : 0);
    }
    put(p, "", 1);
}

/* A reply header and the question (name, type), at offset 12. */
static void start(pkt_t *p, const char *name, unsigned type)
{
    memset(p, 0, sizeof(*p));
    put16(p, 0x1234);
    put16(p, 0x8180); /* response, RD, RA, NOERROR */
    put16(p, 1);      /* QDCOUNT */
    put16(p, 0);      /* ANCOUNT, counted by rr() */
    put16(p, 0);
    put16(p, 0);
    put_name(p, name);
    put16(p, type);
    put16(p, 1);
}

/* One answer for the question's name (a compression pointer to offset
 * 12), with rdata as given. */
static void rr(pkt_t *p, unsigned type, unsigned cls, const void *rd, size_t rdlen)
{
    put16(p, 0xc00c);
    put16(p, type);
    put16(p, cls);
    put16(p, 0);
    put16(p, 300); /* TTL */
    put16(p, (unsigned)rdlen);
    put(p, rd, rdlen);
    unsigned an = (unsigned)(p->b[6] << 8 | p->b[7]) + 1;
    p->b[6] = (unsigned char)(an >> 8);
    p->b[7] = (unsigned char)an;
}

/* rdata holding a name, uncompressed. */
static size_t name_rd(unsigned char *out, const char *name)
{
    pkt_t tmp = {0};
    put_name(&tmp, name);
    memcpy(out, tmp.b, tmp.n);
    return tmp.n;
}

/* Parses p (from an exactly sized copy) for qtype; expects rc. */
static void parse(const pkt_t *p, int qtype, hd_dns_answers_t *a, int rc)
{
    unsigned char *copy = exact_copy(p->b, p->n);
    assert_int_equal(hd_dns_parse_answers(copy, p->n, qtype, a), rc);
    free(copy);
}

static void test_parse_a_aaaa(void **state)
{
    (void)state;
    pkt_t p;
    hd_dns_answers_t a;
    start(&p, "www.example.test", 1);
    unsigned char cname[64];
    rr(&p, 5, 1, cname, name_rd(cname, "example.test")); /* a CNAME first: skipped */
    rr(&p, 1, 1, "\x7f\x00\x00\x07", 4);
    rr(&p, 1, 3, "\x0a\x00\x00\x01", 4); /* class CH: skipped */
    rr(&p, 1, 1, "\x0a\x00\x00\x02", 4);
    parse(&p, 1, &a, 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.v[0], "127.0.0.7");
    assert_string_equal(a.v[1], "10.0.0.2");
    assert_true(hd_dns_match(1, &a, "10.0.0.2"));
    assert_true(hd_dns_match(1, &a, "127.0.0.7"));
    assert_false(hd_dns_match(1, &a, "127.0.0.8"));
    assert_false(hd_dns_match(1, &a, "127.0.0.07x"));
    assert_false(hd_dns_match(1, &a, "example.test"));
    hd_dns_answers_free(&a);

    /* The same reply holds no AAAA answer. */
    parse(&p, 28, &a, 0);
    assert_int_equal(a.n, 0);

    start(&p, "example.test", 28);
    rr(&p, 28, 1, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
    parse(&p, 28, &a, 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.v[0], "::1");
    assert_true(hd_dns_match(28, &a, "0:0:0:0:0:0:0:1")); /* compared as addresses */
    assert_false(hd_dns_match(28, &a, "::2"));
    hd_dns_answers_free(&a);

    /* An A record of the wrong size is a malformed reply. */
    start(&p, "example.test", 1);
    rr(&p, 1, 1, "\x7f\x00\x00", 3);
    parse(&p, 1, &a, -1);
    assert_int_equal(a.n, 0);
}

static void test_parse_names(void **state)
{
    (void)state;
    pkt_t p;
    hd_dns_answers_t a;
    unsigned char rd[128];

    start(&p, "www.example.test", 5);
    rr(&p, 5, 1, rd, name_rd(rd, "Target.Example.Test"));
    parse(&p, 5, &a, 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.v[0], "Target.Example.Test");
    assert_true(hd_dns_match(5, &a, "target.example.test"));
    assert_true(hd_dns_match(5, &a, "target.example.test."));
    assert_false(hd_dns_match(5, &a, "target.example"));
    hd_dns_answers_free(&a);

    /* NS answers pointing into the question by compression. */
    start(&p, "example.test", 2);
    unsigned char ns[] = {3, 'n', 's', '1', 0xc0, 12};
    rr(&p, 2, 1, ns, sizeof(ns));
    parse(&p, 2, &a, 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.v[0], "ns1.example.test");
    hd_dns_answers_free(&a);

    /* MX: "PREF HOST"; expect either the host or both. */
    start(&p, "example.test", 15);
    rd[0] = 0;
    rd[1] = 10;
    rr(&p, 15, 1, rd, 2 + name_rd(rd + 2, "mail.example.test"));
    rd[1] = 20;
    rr(&p, 15, 1, rd, 2 + name_rd(rd + 2, "backup.example.test"));
    parse(&p, 15, &a, 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.v[0], "10 mail.example.test");
    assert_string_equal(a.v[1], "20 backup.example.test");
    assert_true(hd_dns_match(15, &a, "mail.example.test"));
    assert_true(hd_dns_match(15, &a, "MAIL.example.test."));
    assert_true(hd_dns_match(15, &a, "20 backup.example.test"));
    assert_false(hd_dns_match(15, &a, "10 backup.example.test"));
    assert_false(hd_dns_match(15, &a, "1 mail.example.test"));
    assert_false(hd_dns_match(15, &a, "example.test"));
    hd_dns_answers_free(&a);

    /* A name running past its record (RDLENGTH 3 for a 5-byte name). */
    start(&p, "example.test", 5);
    unsigned char longname[] = {3, 'a', 'b', 'c', 0};
    rr(&p, 5, 1, longname, sizeof(longname));
    p.b[p.n - sizeof(longname) - 1] = 3;
    parse(&p, 5, &a, -1);

    /* MX too short for a preference and a name. */
    start(&p, "example.test", 15);
    rr(&p, 15, 1, "\0\1", 2);
    parse(&p, 15, &a, -1);
}

static void test_parse_txt(void **state)
{
    (void)state;
    pkt_t p;
    hd_dns_answers_t a;
    start(&p, "example.test", 16);
    const unsigned char one[] = "\x0bv=spf1 -all";
    rr(&p, 16, 1, one, sizeof(one) - 1);
    const unsigned char two[] = "\x03"
                                "abc"
                                "\x02"
                                "de"
                                "\x00"
                                "\x02"
                                "\x01\x7f";
    rr(&p, 16, 1, two, sizeof(two) - 1);
    parse(&p, 16, &a, 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.v[0], "v=spf1 -all");
    assert_string_equal(a.v[1], "abcde\\001\\127"); /* strings joined, unprintables escaped */
    assert_true(hd_dns_match(16, &a, "v=spf1 -all"));
    assert_false(hd_dns_match(16, &a, "V=SPF1 -ALL")); /* TXT is exact */
    assert_false(hd_dns_match(16, &a, "v=spf1"));
    assert_true(hd_dns_match(16, &a, "abcde\\001\\127"));
    hd_dns_answers_free(&a);

    /* A string longer than its record. */
    start(&p, "example.test", 16);
    rr(&p, 16, 1,
       "\x05"
       "abc",
       4);
    parse(&p, 16, &a, -1);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    pkt_t p;
    hd_dns_answers_t a;
    start(&p, "example.test", 1);
    rr(&p, 1, 1, "\x7f\x00\x00\x01", 4);
    size_t full = p.n;
    /* Every truncation of a good reply is refused, never read past. */
    for (size_t n = 0; n < full; n++) {
        p.n = n;
        parse(&p, 1, &a, -1);
    }
    p.n = full;
    parse(&p, 1, &a, 0);
    hd_dns_answers_free(&a);

    /* A compression loop in the question. */
    pkt_t q = {0};
    put16(&q, 1);
    put16(&q, 0x8180);
    put16(&q, 1);
    put16(&q, 0);
    put16(&q, 0);
    put16(&q, 0);
    put16(&q, 0xc00c); /* points at itself */
    put16(&q, 1);
    put16(&q, 1);
    parse(&q, 1, &a, -1);

    /* More answers announced than present. */
    start(&p, "example.test", 1);
    rr(&p, 1, 1, "\x7f\x00\x00\x01", 4);
    p.b[7] = 2;
    parse(&p, 1, &a, -1);

    /* More answers than kept: the first HD_DNS_ANSWERS_MAX stay. */
    start(&p, "example.test", 1);
    for (int i = 0; i < HD_DNS_ANSWERS_MAX + 3; i++) {
        unsigned char ip[4] = {10, 0, 0, (unsigned char)i};
        rr(&p, 1, 1, ip, 4);
    }
    parse(&p, 1, &a, 0);
    assert_int_equal(a.n, HD_DNS_ANSWERS_MAX);
    assert_string_equal(a.v[HD_DNS_ANSWERS_MAX - 1], "10.0.0.63");
    hd_dns_answers_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_grammar),  cmocka_unit_test(test_dns_server_valid),
        cmocka_unit_test(test_tls_grammar),  cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_parse_a_aaaa), cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_parse_txt),    cmocka_unit_test(test_parse_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
