/* cidr — range parsing and the address cursor; see cidr.h for the rules
 * about network, broadcast and anycast addresses. Addresses are big-endian
 * byte arrays so one code path serves IPv4 and IPv6. */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_addr(const char *s, uint8_t out[16], int *family)
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 4;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        return 16;
    }
    return -1;
}

/* a += 1; returns 1 on wrap-around past the all-ones address. */
static int inc(uint8_t *a, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (++a[i] != 0) return 0;
    return 1;
}

static void dec(uint8_t *a, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (a[i]-- != 0) return;
}

static int cmp(const uint8_t *a, const uint8_t *b, int n)
{
    return memcmp(a, b, (size_t)n);
}

int hd_cidr_parse(const char *s, hd_cidr_t *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    const char *slash = strchr(s, '/');
    if (!slash) {
        snprintf(err, errlen, "'%s' is not ADDRESS/PREFIX", s);
        return -1;
    }
    char addr[64];
    size_t alen = (size_t)(slash - s);
    if (alen == 0 || alen >= sizeof(addr)) {
        snprintf(err, errlen, "'%s' has no valid address before '/'", s);
        return -1;
    }
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    int n = parse_addr(addr, r->cur, &r->family);
    if (n < 0) {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", addr);
        return -1;
    }
    r->alen = n;
    char *end;
    errno = 0;
    long plen = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || errno || plen < 0 || plen > n * 8) {
        snprintf(err, errlen, "'%s': prefix length must be 0 to %d", s, n * 8);
        return -1;
    }
    for (int bit = (int)plen; bit < n * 8; bit++)
        r->cur[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    memcpy(r->last, r->cur, (size_t)n);
    for (int bit = (int)plen; bit < n * 8; bit++)
        r->last[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    int hostbits = n * 8 - (int)plen;
    if (n == 4 && hostbits >= 2) {
        inc(r->cur, n);  /* network address */
        dec(r->last, n); /* broadcast address */
    } else if (n == 16 && hostbits >= 2) {
        inc(r->cur, n); /* subnet-router anycast */
    }
    return 0;
}

int hd_cidr_parse_range(const char *start, const char *end, hd_cidr_t *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    int f2;
    int n = parse_addr(start, r->cur, &r->family);
    if (n < 0) {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", start);
        return -1;
    }
    if (parse_addr(end, r->last, &f2) < 0) {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", end);
        return -1;
    }
    if (f2 != r->family) {
        snprintf(err, errlen, "'%s' and '%s' are not of the same address family", start, end);
        return -1;
    }
    r->alen = n;
    if (cmp(r->cur, r->last, n) > 0) {
        snprintf(err, errlen, "range start '%s' is after its end '%s'", start, end);
        return -1;
    }
    return 0;
}

int hd_cidr_next(hd_cidr_t *r, struct sockaddr_storage *out)
{
    if (r->done || !r->alen) return 0;
    memset(out, 0, sizeof(*out));
    if (r->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, r->cur, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, r->cur, 16);
    }
    if (cmp(r->cur, r->last, r->alen) >= 0 || inc(r->cur, r->alen)) r->done = 1;
    return 1;
}

uint64_t hd_cidr_remaining(const hd_cidr_t *r)
{
    if (r->done || !r->alen || cmp(r->cur, r->last, r->alen) > 0) return 0;
    /* last - cur + 1, in 64 bits when the difference fits */
    uint8_t d[16];
    int borrow = 0;
    for (int i = r->alen - 1; i >= 0; i--) {
        int v = (int)r->last[i] - (int)r->cur[i] - borrow;
        borrow = v < 0;
        d[i] = (uint8_t)(v + (borrow ? 256 : 0));
    }
    for (int i = 0; i < r->alen - 8; i++)
        if (d[i]) return UINT64_MAX;
    uint64_t v = 0;
    for (int i = r->alen > 8 ? r->alen - 8 : 0; i < r->alen; i++)
        v = (v << 8) | d[i];
    return v == UINT64_MAX ? v : v + 1;
}
