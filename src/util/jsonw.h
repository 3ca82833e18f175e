/* jsonw — writes JSON text straight into an hd_buf_t, with no tree: the
 * API's hot replies (a check, the list of checks, errors) without jansson's
 * nodes, hash tables and second pass. The caller writes values in order;
 * commas between members and elements are automatic. It does not check
 * that the calls nest properly (an object's members need keys): callers
 * are code, not input.
 *
 * The text is what jansson's json_dumps(JSON_COMPACT) gives for the same
 * values, byte for byte (tests/unit/test_jsonw.c holds it to that):
 * strings escape '"', '\\', \b \f \n \r \t and other control characters as
 * \u00XX (upper-case hex), leave '/' and non-ASCII UTF-8 as they are; reals
 * are printed as jansson prints them. Two differences, where jansson would
 * give no text at all: a byte that is not part of valid UTF-8 becomes
 * U+FFFD (jansson refuses the whole string: json_string() returns NULL), so
 * probe output with arbitrary bytes still gives valid JSON; a real that is
 * NaN or infinite is written null. */
#ifndef HD_JSONW_H
#define HD_JSONW_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct hd_jsonw_s {
    hd_buf_t *b;   /* appended to */
    int precision; /* significant digits of reals, as JSON_REAL_PRECISION; 0: 17 */
    int comma;     /* a value was written at this level: the next needs a ',' */
} hd_jsonw_t;

/* Starts writing into b (appending to what it holds), reals with precision
 * significant digits (0: 17, jansson's default). */
void hd_jsonw_init(hd_jsonw_t *w, hd_buf_t *b, int precision);

void hd_jsonw_object_begin(hd_jsonw_t *w);
void hd_jsonw_object_end(hd_jsonw_t *w);
void hd_jsonw_array_begin(hd_jsonw_t *w);
void hd_jsonw_array_end(hd_jsonw_t *w);
/* A member's key of n bytes; its value is the next thing written. */
void hd_jsonw_keyn(hd_jsonw_t *w, const char *key, size_t n);
/* The same for a C string (inline: a literal's length is known at compile
 * time). */
static inline void hd_jsonw_key(hd_jsonw_t *w, const char *key)
{
    hd_jsonw_keyn(w, key, strlen(key));
}
/* A string from a C string; NULL writes null. */
void hd_jsonw_string(hd_jsonw_t *w, const char *s);
/* A string of n bytes (which may hold NUL: written \u0000). */
void hd_jsonw_stringn(hd_jsonw_t *w, const char *s, size_t n);
void hd_jsonw_int(hd_jsonw_t *w, int64_t v);
/* An unsigned integer up to 2^64-1 (Consul's KV Flags). */
void hd_jsonw_uint(hd_jsonw_t *w, uint64_t v);
/* A real as jansson prints one: "%.<precision>g", with ".0" added when
 * that looks like an integer and the exponent without '+' or leading
 * zeros ("1e+20" -> "1e20"). NaN and infinities: null. */
void hd_jsonw_real(hd_jsonw_t *w, double v);
void hd_jsonw_bool(hd_jsonw_t *w, int v);
void hd_jsonw_null(hd_jsonw_t *w);

#endif
