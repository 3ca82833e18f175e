/* jsonw — a direct JSON writer (see jsonw.h). The formats follow jansson
 * 2.14's dump.c (dump_string) and strconv.c (jsonp_dtostr). */
#include "util/jsonw.h"
#include "util/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hd_jsonw_init(hd_jsonw_t *w, hd_buf_t *b, int precision)
{
    w->b = b;
    w->precision = precision > 0 && precision <= 31 ? precision : 17;
    w->comma = 0;
}

/* Writes raw text, after a ',' if a value came before at this level. */
static void put(hd_jsonw_t *w, const char *s, size_t n)
{
    char *o = hd_buf_reserve(w->b, n + 1);
    size_t k = 0;
    if (w->comma) o[k++] = ',';
    memcpy(o + k, s, n);
    hd_buf_commit(w->b, k + n);
}

void hd_jsonw_object_begin(hd_jsonw_t *w)
{
    put(w, "{", 1);
    w->comma = 0;
}

void hd_jsonw_object_end(hd_jsonw_t *w)
{
    hd_buf_append(w->b, "}", 1);
    w->comma = 1;
}

void hd_jsonw_array_begin(hd_jsonw_t *w)
{
    put(w, "[", 1);
    w->comma = 0;
}

void hd_jsonw_array_end(hd_jsonw_t *w)
{
    hd_buf_append(w->b, "]", 1);
    w->comma = 1;
}

/* Writes the quoted, escaped string at o (room for 6 * n + 2 bytes);
 * returns its length. */
static size_t quote(char *o, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    /* control characters with a one-letter escape; the others are \u00XX */
    static const char letter[0x20] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    size_t k = 0;
    o[k++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            o[k++] = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t len = hd_utf8_len(p + i, n - i);
            if (len) {
                memcpy(o + k, p + i, len);
                k += len;
                i += len;
            } else { /* not UTF-8: U+FFFD for this byte, then go on */
                memcpy(o + k, "\xEF\xBF\xBD", 3);
                k += 3;
                i++;
            }
            continue;
        }
        o[k++] = '\\';
        if (c == '"' || c == '\\') {
            o[k++] = (char)c;
        } else if (letter[c]) {
            o[k++] = letter[c];
        } else {
            memcpy(o + k, "u00", 3);
            o[k + 3] = hex[c >> 4];
            o[k + 4] = hex[c & 15];
            k += 5;
        }
        i++;
    }
    o[k++] = '"';
    return k;
}

static void string_at(hd_jsonw_t *w, const char *s, size_t n, int is_key)
{
    if (n > (SIZE_MAX - 16) / 6) abort(); /* cannot be: no buffer holds it */
    char *o = hd_buf_reserve(w->b, 6 * n + 4);
    size_t k = 0;
    if (w->comma) o[k++] = ',';
    k += quote(o + k, (const unsigned char *)s, n);
    if (is_key) o[k++] = ':';
    hd_buf_commit(w->b, k);
    w->comma = !is_key;
}

void hd_jsonw_keyn(hd_jsonw_t *w, const char *key, size_t n)
{
    string_at(w, key, n, 1);
}

void hd_jsonw_stringn(hd_jsonw_t *w, const char *s, size_t n)
{
    string_at(w, s, n, 0);
}

void hd_jsonw_string(hd_jsonw_t *w, const char *s)
{
    if (s)
        string_at(w, s, strlen(s), 0);
    else
        hd_jsonw_null(w);
}

void hd_jsonw_int(hd_jsonw_t *w, int64_t v)
{
    char tmp[24];
    size_t k = sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[--k] = '-';
    put(w, tmp + k, sizeof(tmp) - k);
    w->comma = 1;
}

void hd_jsonw_uint(hd_jsonw_t *w, uint64_t u)
{
    char tmp[24];
    size_t k = sizeof(tmp);
    do {
        tmp[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    put(w, tmp + k, sizeof(tmp) - k);
    w->comma = 1;
}

void hd_jsonw_real(hd_jsonw_t *w, double v)
{
    if (!isfinite(v)) {
        hd_jsonw_null(w);
        return;
    }
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.*g", w->precision, v);
    if (n < 0 || (size_t)n >= sizeof(buf) - 3) { /* cannot be: at most 31 digits */
        hd_jsonw_null(w);
        return;
    }
    size_t len = (size_t)n;
    /* heed never calls setlocale(), so the decimal point is '.'. */
    if (!strchr(buf, '.') && !strchr(buf, 'e')) { /* else it would read back as an integer */
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(buf, 'e');
    if (e) { /* "1e+05" -> "1e5", "1e-05" -> "1e-5" */
        char *start = e + 1, *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf) + 1);
            len -= (size_t)(end - start);
        }
    }
    put(w, buf, len);
    w->comma = 1;
}

void hd_jsonw_bool(hd_jsonw_t *w, int v)
{
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
    w->comma = 1;
}

void hd_jsonw_null(hd_jsonw_t *w)
{
    put(w, "null", 4);
    w->comma = 1;
}
