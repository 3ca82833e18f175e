/* cidr — address ranges for `heed ping -g`, generated one address at a
 * time: "ADDR/LEN" or a START END pair, IPv4 or IPv6.
 *
 * A range is two addresses and a cursor, whatever its size: a /8 or an
 * IPv6 /64 costs the same 40 bytes as a /30. Following fping, an IPv4
 * prefix shorter than /31 leaves out its network and broadcast addresses
 * (a /24 yields .1 to .254); /31 and /32 yield every address (RFC 3021).
 * IPv6 has no broadcast; a prefix shorter than /127 leaves out only the
 * all-zeros subnet-router anycast address (RFC 4291). */
#ifndef HD_CIDR_H
#define HD_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct hd_cidr_s {
    int family;      /* AF_INET or AF_INET6 */
    int alen;        /* 4 or 16 bytes */
    uint8_t cur[16]; /* the next address to yield (network byte order) */
    uint8_t last[16];
    int done;
} hd_cidr_t;

/* Parses "ADDR/LEN" into r, ready to yield its first address. Host bits in
 * ADDR are ignored (127.0.0.5/30 is 127.0.0.4/30). Returns 0, or -1 with a
 * message naming what is wrong. */
int hd_cidr_parse(const char *s, hd_cidr_t *r, char *err, size_t errlen);
/* Sets r to the addresses from start to end inclusive (same family,
 * start <= end). Returns 0, or -1 with a message. */
int hd_cidr_parse_range(const char *start, const char *end, hd_cidr_t *r, char *err, size_t errlen);
/* Writes the next address into *out (port 0). Returns 1, or 0 once the
 * range is exhausted. */
int hd_cidr_next(hd_cidr_t *r, struct sockaddr_storage *out);
/* How many addresses are left, saturating at UINT64_MAX. */
uint64_t hd_cidr_remaining(const hd_cidr_t *r);

#endif
