/* chunked — the decoder of request bodies sent with Transfer-Encoding:
 * chunked (RFC 9112 7.1): hex chunk sizes, chunk extensions (ignored),
 * chunk data, the last chunk and trailer fields (read and dropped).
 *
 * Pure and incremental: api/conn.c feeds it bytes as they arrive, in
 * pieces of any size. Strict where a lenient reader could disagree with a
 * proxy in front of it (request smuggling): every chunk line and the data
 * end in CRLF, a size is 1-16 hex digits, nothing but blanks and an
 * extension may follow it. The body's total is checked against a limit as
 * soon as a chunk size announces it, before its data is read. */
#ifndef HD_API_CHUNKED_H
#define HD_API_CHUNKED_H

#include "api/head.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

#define HD_API_CHUNKED_LINE_MAX    4096 /* a chunk-size line with its extensions */
#define HD_API_CHUNKED_TRAILER_MAX 8192 /* all trailer lines together */

typedef struct hd_api_chunked_s {
    int state;
    uint64_t left;  /* data bytes left in the current chunk */
    uint64_t total; /* data bytes so far */
    size_t line;    /* bytes of the current size line, or of the trailers */
    int digits;     /* hex digits of the current size */
} hd_api_chunked_t;

/* Starts decoding a new body. */
void hd_api_chunked_init(hd_api_chunked_t *c);

/* Decodes in[0..len), appending chunk data to out; *used gets the bytes
 * consumed. Returns 1 when the body ended (the bytes after it are not
 * consumed), 0 when it needs more (all consumed), or -1 with e: 400 for
 * malformed framing, 413 when the data would pass max bytes. */
int hd_api_chunked_feed(hd_api_chunked_t *c, const char *in, size_t len, size_t *used, uint64_t max,
                        hd_buf_t *out, hd_api_head_err_t *e);

#endif
