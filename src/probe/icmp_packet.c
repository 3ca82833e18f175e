/* icmp_packet — echo requests out, replies and errors in; pure functions
 * over byte buffers (see icmp_packet.h for the payload layout). Every read
 * is bounds-checked against the received length: these bytes come from the
 * network, and a raw socket hands us every ICMP packet on the host. */
#include "probe/icmp_packet.h"

#include <string.h>

/* ICMP types and codes, spelled out here rather than taken from
 * <netinet/ip_icmp.h> so that this file has no platform dependency. */
enum {
    V4_ECHO_REPLY = 0,
    V4_UNREACH = 3,
    V4_SOURCE_QUENCH = 4,
    V4_REDIRECT = 5,
    V4_ECHO = 8,
    V4_TIME_EXCEEDED = 11,
    V4_PARAM_PROB = 12,
    V6_UNREACH = 1,
    V6_PACKET_TOO_BIG = 2,
    V6_TIME_EXCEEDED = 3,
    V6_PARAM_PROB = 4,
    V6_ECHO = 128,
    V6_ECHO_REPLY = 129,
    V4_PROTO_ICMP = 1,
    V6_NEXT_ICMP = 58,
    V6_HDR = 40,
};

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint16_t hd_icmp_checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t sum = 0;
    while (len > 1) {
        sum += (uint32_t)((p[0] << 8) | p[1]);
        p += 2;
        len -= 2;
    }
    if (len) sum += (uint32_t)(p[0] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t hd_icmp_build_echo(uint8_t *buf, size_t cap, int v6, uint16_t id, uint64_t nonce,
                          int64_t sent_us, size_t data_len)
{
    if (data_len < HD_ICMP_STAMP) data_len = HD_ICMP_STAMP;
    size_t len = HD_ICMP_HDR + data_len;
    if (len > cap) return 0;
    buf[0] = v6 ? V6_ECHO : V4_ECHO;
    buf[1] = 0;
    buf[2] = buf[3] = 0;
    buf[4] = (uint8_t)(id >> 8);
    buf[5] = (uint8_t)id;
    buf[6] = (uint8_t)(nonce >> 8);
    buf[7] = (uint8_t)nonce;
    put_be64(buf + 8, nonce);
    put_be64(buf + 16, (uint64_t)sent_us);
    memset(buf + HD_ICMP_HDR + HD_ICMP_STAMP, HD_ICMP_FILL_BYTE, data_len - HD_ICMP_STAMP);
    if (!v6) {
        uint16_t ck = hd_icmp_checksum(buf, len);
        buf[2] = (uint8_t)(ck >> 8);
        buf[3] = (uint8_t)ck;
    }
    return len;
}

/* Reads the stamp of an echo request or reply starting at p (len bytes). */
static int read_stamp(const uint8_t *p, size_t len, hd_icmp_msg_t *m)
{
    if (len < HD_ICMP_HDR + HD_ICMP_STAMP) return -1;
    m->id = get_be16(p + 4);
    m->nonce = get_be64(p + 8);
    m->sent_us = (int64_t)get_be64(p + 16);
    /* The sequence field repeats the nonce's low bits: a cheap consistency
     * check that turns away packets merely shaped like ours. */
    if (get_be16(p + 6) != (uint16_t)m->nonce) return -1;
    return 0;
}

int hd_icmp_parse_own_request(const uint8_t *buf, size_t len, int v6, hd_icmp_msg_t *m)
{
    if (len < HD_ICMP_HDR + HD_ICMP_STAMP || buf[0] != (v6 ? V6_ECHO : V4_ECHO) || buf[1] != 0)
        return -1;
    return read_stamp(buf, len, m);
}

static int is_error_type(int v6, int type)
{
    if (v6)
        return type == V6_UNREACH || type == V6_PACKET_TOO_BIG || type == V6_TIME_EXCEEDED ||
               type == V6_PARAM_PROB;
    return type == V4_UNREACH || type == V4_SOURCE_QUENCH || type == V4_REDIRECT ||
           type == V4_TIME_EXCEEDED || type == V4_PARAM_PROB;
}

/* An ICMP error quotes the offending packet's IP header and at least its
 * first 8 bytes (RFC 792); Linux and most routers quote far more (RFC 1812:
 * as much as fits in 576 bytes), so the nonce is normally there. When the
 * quote stops before the nonce the error cannot be tied to one packet
 * reliably and is ignored: the attempt then ends by its timeout. */
static hd_icmp_kind_t parse_quote(const uint8_t *q, size_t qlen, int v6, int check_id, uint16_t id,
                                  hd_icmp_msg_t *m)
{
    const uint8_t *inner;
    size_t ilen;
    if (!v6) {
        if (qlen < 20 || (q[0] >> 4) != 4) return HD_ICMP_PKT_IGNORE;
        size_t ihl = (size_t)(q[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > qlen || q[9] != V4_PROTO_ICMP) return HD_ICMP_PKT_IGNORE;
        memcpy(m->orig_dst, q + 16, 4);
        m->orig_dst_len = 4;
        inner = q + ihl;
        ilen = qlen - ihl;
    } else {
        /* Extension headers are never on our own echo requests. */
        if (qlen < V6_HDR || (q[0] >> 4) != 6 || q[6] != V6_NEXT_ICMP) return HD_ICMP_PKT_IGNORE;
        memcpy(m->orig_dst, q + 24, 16);
        m->orig_dst_len = 16;
        inner = q + V6_HDR;
        ilen = qlen - V6_HDR;
    }
    hd_icmp_msg_t tmp = *m;
    if (ilen < 2 || inner[0] != (v6 ? V6_ECHO : V4_ECHO) || inner[1] != 0)
        return HD_ICMP_PKT_IGNORE;
    if (read_stamp(inner, ilen, &tmp) < 0) return HD_ICMP_PKT_IGNORE;
    if (check_id && tmp.id != id) return HD_ICMP_PKT_IGNORE;
    *m = tmp;
    m->kind = HD_ICMP_PKT_ERROR;
    return HD_ICMP_PKT_ERROR;
}

hd_icmp_kind_t hd_icmp_parse(const uint8_t *buf, size_t len, int v6, int ip_header, int check_id,
                             uint16_t id, hd_icmp_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    if (ip_header) {
        /* Raw IPv4 sockets deliver the IP header; skip it by its own length. */
        if (len < 20 || (buf[0] >> 4) != 4) return HD_ICMP_PKT_IGNORE;
        size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > len || buf[9] != V4_PROTO_ICMP) return HD_ICMP_PKT_IGNORE;
        buf += ihl;
        len -= ihl;
    }
    if (len < HD_ICMP_HDR) return HD_ICMP_PKT_IGNORE;
    /* IPv4 checksums are ours to verify: raw sockets see packets before the
     * kernel's ICMP layer checks them. ICMPv6 checksums cover a
     * pseudo-header of addresses we do not have here; the kernel verifies
     * them for ping sockets, and the nonce check below catches stray bytes. */
    if (!v6 && hd_icmp_checksum(buf, len) != 0) return HD_ICMP_PKT_IGNORE;
    m->type = buf[0];
    m->code = buf[1];
    m->icmp_len = len;
    if (m->type == (v6 ? V6_ECHO_REPLY : V4_ECHO_REPLY)) {
        if (m->code != 0 || read_stamp(buf, len, m) < 0) return HD_ICMP_PKT_IGNORE;
        if (check_id && m->id != id) return HD_ICMP_PKT_IGNORE;
        m->kind = HD_ICMP_PKT_REPLY;
        return HD_ICMP_PKT_REPLY;
    }
    if (is_error_type(v6, m->type))
        return parse_quote(buf + HD_ICMP_HDR, len - HD_ICMP_HDR, v6, check_id, id, m);
    return HD_ICMP_PKT_IGNORE;
}

static const char *const v4_unreach[16] = {
    "ICMP Network Unreachable",
    "ICMP Host Unreachable",
    "ICMP Protocol Unreachable",
    "ICMP Port Unreachable",
    "ICMP Unreachable (Fragmentation Needed)",
    "ICMP Unreachable (Source Route Failed)",
    "ICMP Unreachable (Destination Network Unknown)",
    "ICMP Unreachable (Destination Host Unknown)",
    "ICMP Unreachable (Source Host Isolated)",
    "ICMP Unreachable (Communication with Network Prohibited)",
    "ICMP Unreachable (Communication with Host Prohibited)",
    "ICMP Unreachable (Network Unreachable For Type Of Service)",
    "ICMP Unreachable (Host Unreachable For Type Of Service)",
    "ICMP Unreachable (Communication Administratively Prohibited)",
    "ICMP Unreachable (Host Precedence Violation)",
    "ICMP Unreachable (Precedence cutoff in effect)",
};

static const char *const v6_unreach[8] = {
    "ICMP6 No Route to Destination",
    "ICMP6 Administratively Prohibited",
    "ICMP6 Beyond Scope of Source Address",
    "ICMP6 Address Unreachable",
    "ICMP6 Port Unreachable",
    "ICMP6 Source Address Failed Ingress/Egress Policy",
    "ICMP6 Reject Route to Destination",
    "ICMP6 Error in Source Routing Header",
};

const char *hd_icmp_error_str(int v6, int type, int code)
{
    if (v6) {
        switch (type) {
        case V6_UNREACH:
            return code >= 0 && code < 8 ? v6_unreach[code] : "ICMP6 Unreachable (Invalid Code)";
        case V6_PACKET_TOO_BIG:
            return "ICMP6 Packet Too Big";
        case V6_TIME_EXCEEDED:
            return "ICMP6 Time Exceeded";
        case V6_PARAM_PROB:
            return "ICMP6 Parameter Problem";
        }
        return "ICMP6 Unknown Error";
    }
    switch (type) {
    case V4_UNREACH:
        return code >= 0 && code < 16 ? v4_unreach[code] : "ICMP Unreachable (Invalid Code)";
    case V4_SOURCE_QUENCH:
        return "ICMP Source Quench";
    case V4_REDIRECT:
        return "ICMP Redirect";
    case V4_TIME_EXCEEDED:
        return "ICMP Time Exceeded";
    case V4_PARAM_PROB:
        return "ICMP Parameter Problem";
    }
    return "ICMP Unknown Error";
}
