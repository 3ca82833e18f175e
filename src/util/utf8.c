/* utf8 — strict UTF-8 checks and repair (see utf8.h). */
#include "util/utf8.h"
#include "util/buf.h"

#include <string.h>

size_t hd_utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len;
    unsigned cp, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1fu;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0fu;
        min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

int hd_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = hd_utf8_len(p + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

char *hd_utf8_repair(const char *s, size_t n, size_t *outlen)
{
    const unsigned char *p = (const unsigned char *)s;
    hd_buf_t b = {0};
    char *out = hd_buf_reserve(&b, 3 * n); /* the worst case: every byte replaced */
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        size_t k = hd_utf8_len(p + i, n - i);
        if (k) {
            memcpy(out + len, p + i, k);
            len += k;
            i += k;
        } else {
            memcpy(out + len, "\xEF\xBF\xBD", 3);
            len += 3;
            i++;
        }
    }
    hd_buf_commit(&b, len);
    if (outlen) *outlen = len;
    return b.data;
}
