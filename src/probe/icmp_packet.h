/* icmp_packet — building and parsing ICMP echo packets, IPv4 and IPv6, with
 * no sockets and no state: the part of the ICMP engine (icmp.c) that reads
 * outside input, kept apart so unit tests and fuzzers call it directly.
 *
 * An echo request heed sends carries, after the 8-byte ICMP header:
 *
 *   offset 8   8 bytes  nonce, big-endian: identifies the packet in flight
 *   offset 16  8 bytes  send time, microseconds on CLOCK_MONOTONIC, big-endian
 *   offset 24  ...      filler up to the requested data size
 *
 * The ICMP sequence field holds the nonce's low 16 bits and the id field the
 * engine's id, so tools that only look at id/seq still see sensible values.
 * Matching never relies on the 16-bit sequence: the 64-bit nonce is the key,
 * so no 65,536-slot table limits how many packets may be in flight. */
#ifndef HD_ICMP_PACKET_H
#define HD_ICMP_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define HD_ICMP_HDR       8  /* type, code, checksum, id, sequence */
#define HD_ICMP_STAMP     16 /* nonce + send time: the least data heed sends */
#define HD_ICMP_DATA_DEF  56 /* default data bytes, as ping and fping: 64-byte packets */
#define HD_ICMP_DATA_MAX  65000
#define HD_ICMP_FILL_BYTE 0x00 /* filler, like fping's default zero data */

typedef enum hd_icmp_kind_e {
    HD_ICMP_PKT_IGNORE = 0, /* not for us: our own request, another id, junk */
    HD_ICMP_PKT_REPLY,      /* an echo reply carrying one of our stamps */
    HD_ICMP_PKT_ERROR,      /* an error quoting one of our echo requests */
} hd_icmp_kind_t;

/* What a received packet says, when it concerns one of our requests. */
typedef struct hd_icmp_msg_s {
    hd_icmp_kind_t kind;
    uint8_t type, code;   /* of the received message (for errors: 3, 11, 1, ...) */
    uint16_t id;          /* echo id (of the reply, or of the quoted request) */
    uint64_t nonce;       /* from the payload */
    int64_t sent_us;      /* send time from the payload */
    size_t icmp_len;      /* bytes of the ICMP message (fping's "64 bytes") */
    uint8_t orig_dst[16]; /* errors: destination of the quoted request */
    int orig_dst_len;     /* 4 or 16 for errors; 0 otherwise */
} hd_icmp_msg_t;

/* Internet checksum (RFC 1071) of len bytes. */
uint16_t hd_icmp_checksum(const void *data, size_t len);

/* Writes an echo request of HD_ICMP_HDR + data_len bytes into buf (cap bytes)
 * for IPv4 (v6 = 0) or IPv6. data_len is raised to HD_ICMP_STAMP if smaller.
 * The IPv4 checksum is filled in; for IPv6 the kernel computes it. Returns the
 * packet length, or 0 when cap is too small. */
size_t hd_icmp_build_echo(uint8_t *buf, size_t cap, int v6, uint16_t id, uint64_t nonce,
                          int64_t sent_us, size_t data_len);

/* Parses one received packet. v6 selects ICMPv6; with ip_header the buffer
 * starts with an IPv4 header (raw IPv4 sockets), otherwise with the ICMP
 * header. check_id: when set, replies and quoted requests must carry id
 * (raw sockets see every process's traffic; ping sockets get theirs only and
 * the kernel rewrites the id). Fills *m and returns its kind; anything
 * malformed, truncated, or not ours is HD_ICMP_PKT_IGNORE. */
hd_icmp_kind_t hd_icmp_parse(const uint8_t *buf, size_t len, int v6, int ip_header, int check_id,
                             uint16_t id, hd_icmp_msg_t *m);

/* Parses the request quoted by a ping socket's error queue (IP_RECVERR): buf
 * is our own echo request as sent. Fills nonce, sent_us and id. Returns 0,
 * or -1 when it is not an echo request of ours. */
int hd_icmp_parse_own_request(const uint8_t *buf, size_t len, int v6, hd_icmp_msg_t *m);

/* The fixed text of an ICMP error as fping prints it ("ICMP Host
 * Unreachable"), for type/code of ICMPv4 or ICMPv6. */
const char *hd_icmp_error_str(int v6, int type, int code);

#endif
