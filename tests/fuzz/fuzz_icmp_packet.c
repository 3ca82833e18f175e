/* fuzz_icmp_packet — hd_icmp_parse and hd_icmp_parse_own_request on any
 * bytes, in every socket mode (raw IPv4 with its IP header, ping sockets,
 * ICMPv6): they must never read out of bounds, and what they accept must
 * hold together. The first input byte picks the mode. */
#include "probe/icmp_packet.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    /* an exact-size copy, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    int v6 = mode & 1, ip_header = !v6 && (mode & 2), check_id = (mode & 4) != 0;
    hd_icmp_msg_t m;
    hd_icmp_kind_t k = hd_icmp_parse(buf, size, v6, ip_header, check_id, 0x4242, &m);
    if (k != m.kind) abort();
    if (k == HD_ICMP_PKT_REPLY) {
        if (m.icmp_len < HD_ICMP_HDR + HD_ICMP_STAMP || m.icmp_len > size) abort();
        if (check_id && m.id != 0x4242) abort();
    }
    if (k == HD_ICMP_PKT_ERROR && m.orig_dst_len != (v6 ? 16 : 4)) abort();
    (void)hd_icmp_error_str(v6, m.type, m.code);
    hd_icmp_msg_t own;
    (void)hd_icmp_parse_own_request(buf, size, v6, &own);
    free(buf);
    return 0;
}
