/* chunked — chunked request bodies (see chunked.h). */
#include "api/chunked.h"

#include <stdio.h>
#include <string.h>

enum {
    S_SIZE,       /* hex digits of a chunk size */
    S_SIZE_BLANK, /* blanks after the digits */
    S_EXT,        /* a chunk extension, up to CR */
    S_SIZE_LF,    /* the LF of the size line */
    S_DATA,       /* chunk data */
    S_DATA_CR,    /* the CRLF after the data */
    S_DATA_LF,
    S_TRAILER, /* the start of a trailer line, or the final empty line */
    S_TRAILER_LINE,
    S_TRAILER_LF,
    S_END_LF, /* the LF of the final empty line */
    S_DONE,
};

static int bad(hd_api_head_err_t *e, int status, const char *code, const char *msg)
{
    e->status = status;
    e->code = code;
    snprintf(e->msg, sizeof(e->msg), "%s", msg);
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void hd_api_chunked_init(hd_api_chunked_t *c)
{
    memset(c, 0, sizeof(*c));
    c->state = S_SIZE;
}

int hd_api_chunked_feed(hd_api_chunked_t *c, const char *in, size_t len, size_t *used, uint64_t max,
                        hd_buf_t *out, hd_api_head_err_t *e)
{
    size_t i = 0;
    *used = 0;
    while (i < len) {
        char ch = in[i];
        switch (c->state) {
        case S_SIZE: {
            int d = hexval(ch);
            if (d >= 0) {
                if (++c->digits > 16)
                    return bad(e, 400, "bad_request", "a chunk size has more than 16 hex digits");
                c->left = c->left * 16 + (uint64_t)d;
            } else if (c->digits == 0) {
                return bad(e, 400, "bad_request", "a chunk must start with its size in hex");
            } else if (ch == ' ' || ch == '\t') {
                c->state = S_SIZE_BLANK;
            } else if (ch == ';') {
                c->state = S_EXT;
            } else if (ch == '\r') {
                c->state = S_SIZE_LF;
            } else {
                return bad(e, 400, "bad_request", "a chunk size line holds a stray character");
            }
            break;
        }
        case S_SIZE_BLANK:
            if (ch == ';')
                c->state = S_EXT;
            else if (ch == '\r')
                c->state = S_SIZE_LF;
            else if (ch != ' ' && ch != '\t')
                return bad(e, 400, "bad_request", "a chunk size line holds a stray character");
            break;
        case S_EXT:
            if (ch == '\r')
                c->state = S_SIZE_LF;
            else if (ch == '\n')
                return bad(e, 400, "bad_request", "a chunk size line must end in CRLF");
            break;
        case S_SIZE_LF:
            if (ch != '\n') return bad(e, 400, "bad_request", "a chunk size line must end in CRLF");
            if (c->left == 0) {
                c->state = S_TRAILER;
                c->line = 0;
                break;
            }
            if (c->left > max || c->total > max - c->left) {
                e->status = 413;
                e->code = "too_large";
                snprintf(e->msg, sizeof(e->msg),
                         "the request body is larger than the limit of %llu bytes",
                         (unsigned long long)max);
                return -1;
            }
            c->state = S_DATA;
            break;
        case S_DATA: {
            size_t n = len - i;
            if ((uint64_t)n > c->left) n = (size_t)c->left;
            hd_buf_append(out, in + i, n);
            c->left -= n;
            c->total += n;
            i += n;
            if (c->left == 0) c->state = S_DATA_CR;
            continue;
        }
        case S_DATA_CR:
            if (ch != '\r') return bad(e, 400, "bad_request", "chunk data must end in CRLF");
            c->state = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (ch != '\n') return bad(e, 400, "bad_request", "chunk data must end in CRLF");
            c->state = S_SIZE;
            c->digits = 0;
            c->line = 0;
            break;
        case S_TRAILER:
            c->state = ch == '\r' ? S_END_LF : S_TRAILER_LINE;
            if (ch == '\n') return bad(e, 400, "bad_request", "a trailer line must end in CRLF");
            break;
        case S_TRAILER_LINE:
            if (ch == '\r')
                c->state = S_TRAILER_LF;
            else if (ch == '\n')
                return bad(e, 400, "bad_request", "a trailer line must end in CRLF");
            break;
        case S_TRAILER_LF:
            if (ch != '\n') return bad(e, 400, "bad_request", "a trailer line must end in CRLF");
            c->state = S_TRAILER;
            break;
        case S_END_LF:
            if (ch != '\n')
                return bad(e, 400, "bad_request", "a chunked body must end in an empty line");
            c->state = S_DONE;
            *used = i + 1;
            return 1;
        default:
            *used = i;
            return 1;
        }
        i++;
        if (c->state == S_SIZE || c->state == S_SIZE_BLANK || c->state == S_EXT ||
            c->state == S_SIZE_LF) {
            if (++c->line > HD_API_CHUNKED_LINE_MAX)
                return bad(e, 400, "bad_request", "a chunk size line is too long");
        } else if (c->state >= S_TRAILER && c->state <= S_END_LF) {
            if (++c->line > HD_API_CHUNKED_TRAILER_MAX)
                return bad(e, 400, "bad_request", "the chunked trailer section is too long");
        }
    }
    *used = i;
    return c->state == S_DONE;
}
