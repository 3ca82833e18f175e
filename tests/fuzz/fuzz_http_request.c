/* fuzz_http_request — the API server's HTTP/1.1 request layer as a
 * connection sees it (api/head.h, api/chunked.h): bytes arrive in pieces;
 * empty lines are skipped; a head is looked for, judged while partial,
 * parsed in place; its body is read by Content-Length or chunked; then the
 * next pipelined request, as api/conn.c does.
 *
 * Input: byte 0 sets the piece size (1-64), byte 1 the head limit
 * (64 bytes to 16 KiB) and the body limit (16 times that); the rest is
 * what the client sent. Checks the promises of head.h and chunked.h:
 * lengths within the input, statuses and codes from their sets,
 * NUL-terminated strings inside the parsed copy. */
#include "api/chunked.h"
#include "api/head.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_err(const hd_api_head_err_t *e)
{
    static const int ok[] = {400, 413, 414, 417, 431, 501, 505};
    int found = 0;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        found |= e->status == ok[i];
    if (!found || !e->code || !e->code[0] || !memchr(e->msg, '\0', sizeof(e->msg)) || !e->msg[0])
        abort();
}

/* Parses one whole head of len bytes (a copy of exactly that size, so that
 * ASan sees any read past it); 1 and the body framing, or 0. */
static int one_head(const uint8_t *p, size_t len, int *chunked, uint64_t *length)
{
    char *copy = malloc(len);
    if (!copy) return 0;
    memcpy(copy, p, len);
    size_t cap = hd_api_head_lines(copy, len);
    hd_api_field_t *fields = malloc((cap ? cap : 1) * sizeof(*fields));
    hd_api_head_t h;
    hd_api_head_err_t e;
    int ok = fields && hd_api_head_parse(copy, len, fields, cap, &h, &e) == 0;
    if (fields && !ok) check_err(&e);
    if (ok) {
        if (!h.method || !h.method[0] || !h.target || !h.target[0] || h.nfields > cap) abort();
        if (h.method < copy || h.method >= copy + len) abort();
        for (size_t i = 0; i < h.nfields; i++)
            if (!h.fields[i].name[0] || hd_api_head_field(&h, h.fields[i].name) == NULL) abort();
        if (h.chunked && h.has_length) abort();
        if (h.minor != 0 && h.minor != 1) abort();
        *chunked = h.chunked;
        *length = h.has_length ? h.length : 0;
    }
    free(fields);
    free(copy);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t piece = (size_t)(data[0] % 64) + 1;
    size_t max_head = ((size_t)data[1] + 1) * 64;
    uint64_t max_body = (uint64_t)max_head * 16;
    const uint8_t *in = data + 2;
    size_t len = size - 2, off = 0;
    for (int requests = 0; off < len && requests < 64; requests++) {
        off += hd_api_head_skip_empty((const char *)in + off, len - off);
        /* The head, as it arrives piece by piece. */
        size_t scanned = 0, hlen = 0, have = 0;
        hd_api_head_err_t e;
        while (!hlen && have < len - off) {
            have = have + piece < len - off ? have + piece : len - off;
            hlen = hd_api_head_end((const char *)in + off, have, &scanned);
            if (scanned > have || hlen > have) abort();
            if (!hlen && hd_api_head_partial((const char *)in + off, have, max_head, &e) < 0) {
                check_err(&e);
                return 0;
            }
        }
        if (!hlen || hlen > max_head) return 0;
        int chunked = 0;
        uint64_t length = 0;
        if (!one_head(in + off, hlen, &chunked, &length)) return 0;
        off += hlen;
        if (length > max_body) return 0; /* 413 */
        if (!chunked) {
            if (length > len - off) return 0;
            off += (size_t)length;
            continue;
        }
        hd_api_chunked_t c;
        hd_api_chunked_init(&c);
        hd_buf_t body = {0};
        int rc = 0;
        while (off < len && rc == 0) {
            size_t n = len - off < piece ? len - off : piece, used = 0;
            rc = hd_api_chunked_feed(&c, (const char *)in + off, n, &used, max_body, &body, &e);
            if (used > n || (rc == 0 && used != n)) abort();
            if (rc < 0) check_err(&e);
            off += used;
        }
        if (body.len > max_body || body.len != c.total) abort();
        hd_buf_free(&body);
        if (rc != 1) return 0;
    }
    return 0;
}
