/* head — watches the bytes of an HTTP request head as they arrive, for the
 * one check libevent 2.1's evhttp gives no hook for: a Content-Length over
 * the body limit.
 *
 * evhttp itself refuses such a body without reading it, but answers with
 * its own HTML page; heed's API answers every error in JSON. So api/server.c
 * feeds each new input byte here before evhttp parses it, and when a
 * Content-Length line declares too much it rewrites that line's value to 0
 * in evhttp's input buffer (the line is still there: evhttp consumes only
 * complete lines) and answers 413 `too_large` itself. evhttp's own limit
 * stays set as the backstop for anything this misses (folded headers,
 * chunked bodies). Pure: no I/O. */
#ifndef HD_API_HEAD_H
#define HD_API_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define HD_API_HEAD_LINE 80 /* bytes of a line kept: "Content-Length: " and 20 digits fit */

typedef struct hd_api_head_s {
    int state;      /* reading the request line, the fields, or done */
    size_t linelen; /* bytes of the current line so far, without its '\n' */
    char line[HD_API_HEAD_LINE];
} hd_api_head_t;

/* Starts watching a new request head. */
void hd_api_head_reset(hd_api_head_t *h);

/* 1 once the blank line that ends the head has been seen. */
int hd_api_head_done(const hd_api_head_t *h);

/* Feeds n new bytes. Stops after the first Content-Length line whose value
 * exceeds limit and returns 1, with *used the bytes of p consumed (through
 * that line's '\n') and *linelen the length of the whole line including
 * its line end, which may have begun in earlier bytes. Returns 0 with
 * *used = n otherwise. */
int hd_api_head_feed(hd_api_head_t *h, const char *p, size_t n, uint64_t limit, size_t *used,
                     size_t *linelen);

/* Rewrites a complete "Content-Length: N" line (as reported by
 * hd_api_head_feed) in place so that it declares 0, keeping its length.
 * Returns 0, or -1 (and changes nothing) if line is not such a line. */
int hd_api_head_zero_length(char *line, size_t len);

#endif
