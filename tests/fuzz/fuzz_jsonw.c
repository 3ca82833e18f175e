/* fuzz_jsonw — any bytes as a string through the direct JSON writer
 * (util/jsonw.h), as probe output reaches the API: the text must parse;
 * for valid UTF-8 it must decode to the input and be byte for byte what
 * jansson's json_dumps writes; otherwise it must decode to the input with
 * each bad byte as U+FFFD (hd_utf8_repair). The first input byte, taken
 * off, also picks a real to write next to the string, checked the same. */
#include "util/jsonw.h"
#include "util/utf8.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1); /* exactly sized: ASan sees overreads */
    if (!s) return 0;
    if (size) memcpy(s, data, size);

    hd_buf_t b = {0};
    hd_jsonw_t w;
    hd_jsonw_init(&w, &b, 0);
    hd_jsonw_stringn(&w, s, size);

    json_error_t je;
    json_t *back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!back || !json_is_string(back)) abort();
    const char *got = json_string_value(back);
    size_t gotlen = json_string_length(back);
    if (hd_utf8_valid(s, size)) {
        if (gotlen != size || memcmp(got, s, size) != 0) abort();
        json_t *j = json_stringn(s, size);
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(j);
        if (!want || strlen(want) != b.len || memcmp(want, b.data, b.len) != 0) abort();
        free(want);
    } else {
        size_t flen = 0;
        char *fixed = hd_utf8_repair(s, size, &flen);
        if (!hd_utf8_valid(fixed, flen) || flen <= size) abort();
        if (gotlen != flen || memcmp(got, fixed, flen) != 0) abort();
        free(fixed);
    }
    json_decref(back);

    /* The first 8 bytes as a double, written with the first byte's
     * precision, as jansson would (or null when it is not finite). */
    if (size >= 8) {
        double v;
        memcpy(&v, data, sizeof(v));
        int precision = data[0] % 32;
        hd_buf_reset(&b);
        hd_jsonw_init(&w, &b, precision);
        hd_jsonw_real(&w, v);
        if (!isfinite(v)) {
            if (strcmp(b.data, "null") != 0) abort();
        } else {
            json_t *j = json_real(v);
            char *want =
                json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision));
            json_decref(j);
            if (!want || strcmp(want, b.data) != 0) abort();
            free(want);
        }
    }
    hd_buf_free(&b);
    free(s);
    return 0;
}
