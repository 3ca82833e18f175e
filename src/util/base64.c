/* base64 — RFC 4648's standard alphabet with padding, strict as Go's
 * base64.StdEncoding (see base64.h). */
#include "util/base64.h"

#include <stdint.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void hd_base64_encode(hd_buf_t *out, const void *data, size_t n)
{
    const unsigned char *p = data;
    char *o = hd_buf_reserve(out, hd_base64_len(n) + 1);
    size_t j = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[j++] = ALPHABET[v >> 18];
        o[j++] = ALPHABET[(v >> 12) & 63];
        o[j++] = ALPHABET[(v >> 6) & 63];
        o[j++] = ALPHABET[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[j++] = ALPHABET[v >> 18];
        o[j++] = ALPHABET[(v >> 12) & 63];
        o[j++] = '=';
        o[j++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[j++] = ALPHABET[v >> 18];
        o[j++] = ALPHABET[(v >> 12) & 63];
        o[j++] = ALPHABET[(v >> 6) & 63];
        o[j++] = '=';
    }
    o[j] = '\0';
    hd_buf_commit(out, j);
}

/* The value of an alphabet character, or -1. */
static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int hd_base64_decode(const char *text, size_t len, hd_buf_t *out, size_t *bad_at)
{
    char *o = hd_buf_reserve(out, len / 4 * 3 + 4);
    size_t j = 0, i = 0;
    int v[4], q = 0, done = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\r' || c == '\n') continue;
        if (done) goto bad; /* nothing but line breaks after the padding */
        if (c == '=') {
            /* Padding stands for the third and fourth characters, or the
             * fourth alone; a '=' in third place needs another. */
            if (q < 2) goto bad;
            v[q++] = -1;
            if (q < 4) continue;
            goto quantum;
        }
        int x = value_of(c);
        if (x < 0 || (q == 3 && v[2] < 0)) goto bad;
        v[q++] = x;
        if (q < 4) continue;
    quantum:
        o[j++] = (char)(v[0] << 2 | v[1] >> 4);
        if (v[2] >= 0) o[j++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (v[3] >= 0) o[j++] = (char)((v[2] & 3) << 6 | v[3]);
        done = v[3] < 0;
        q = 0;
    }
    if (q != 0) goto bad; /* the input ends inside a quantum */
    o[j] = '\0';
    hd_buf_commit(out, j);
    return 0;
bad:
    if (bad_at) *bad_at = i;
    return -1;
}
