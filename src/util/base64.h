/* base64 — the standard alphabet with padding (RFC 4648 section 4), as
 * Consul's JSON carries KV values. Decoding is as strict as Go's
 * base64.StdEncoding, which Consul's JSON decoder uses: padding is
 * required, a byte outside the alphabet or after the padding is an
 * error; as Go's, the unused low bits of the last character are ignored
 * (StdEncoding is not Strict), and '\r' and '\n' are skipped. */
#ifndef HD_BASE64_H
#define HD_BASE64_H

#include "util/buf.h"

#include <stddef.h>

/* The encoded length of n bytes. */
static inline size_t hd_base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}
/* Appends the encoding of data[0..n) to out. */
void hd_base64_encode(hd_buf_t *out, const void *data, size_t n);
/* Decodes text[0..len) into out (appended: at most len * 3 / 4 bytes,
 * then a NUL not counted). Returns 0, or -1 with the position of the first bad byte in *bad_at
 * (may be NULL). */
int hd_base64_decode(const char *text, size_t len, hd_buf_t *out, size_t *bad_at);

#endif
