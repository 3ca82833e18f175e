/* head — the API server's reader of HTTP/1.1 request heads (RFC 9112):
 * where a head ends, whether a head still arriving can become a request,
 * and the request line and header fields of a whole head.
 *
 * Pure: no I/O, no allocation. api/conn.c feeds it the bytes a connection
 * has read; tests and the fuzz target call it directly. The rules, chosen
 * to be strict where leniency lets two parsers disagree (request
 * smuggling) and lenient where RFC 9112 allows it:
 *
 *   - lines end in CRLF or a bare LF; empty lines before the request line
 *     are the caller's to skip (hd_api_head_skip_empty);
 *   - request line: METHOD SP TARGET SP HTTP/1.x, single spaces; a target
 *     with a control byte (NUL included) is 400; "HTTP/0.9" (no version),
 *     HTTP/2.0 and other majors are 505; HTTP/1.2+ is read as HTTP/1.1;
 *   - a field name is a token followed at once by ':' (space before the
 *     colon is 400, as is obsolete line folding); values are trimmed of
 *     spaces and tabs and may not hold control bytes other than tab;
 *   - Content-Length is decimal digits only; several must agree; with
 *     Transfer-Encoding it is 400; Transfer-Encoding is only "chunked"
 *     (anything else 501) and not in HTTP/1.0 (400);
 *   - HTTP/1.1 needs exactly one Host (400 otherwise);
 *   - Expect: 100-continue is noted, any other expectation is 417;
 *   - Connection: close ends the connection after the reply; HTTP/1.0
 *     keeps it only with Connection: keep-alive.
 *
 * Sizes (the head limit, 414 for a long request line, 431 for long
 * fields) are checked by hd_api_head_partial while a head arrives; the
 * body limit is the caller's (api/conn.c answers 413). */
#ifndef HD_API_HEAD_H
#define HD_API_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define HD_API_METHOD_MAX 32 /* longer method names are 501 */

/* One header field; both strings point into the parsed buffer. */
typedef struct hd_api_field_s {
    const char *name;  /* as sent; compare case-insensitively */
    const char *value; /* trimmed */
} hd_api_field_t;

/* A parsed request head. Strings point into the buffer given to
 * hd_api_head_parse, NUL-terminated there. */
typedef struct hd_api_head_s {
    const char *method;
    const char *target; /* the request-target as sent */
    int minor;          /* 0: HTTP/1.0; 1: HTTP/1.1 (or a later 1.x) */
    hd_api_field_t *fields;
    size_t nfields;
    const char *host;    /* the Host field, or NULL */
    int keep_alive;      /* the connection may carry another request */
    int chunked;         /* Transfer-Encoding: chunked */
    int has_length;      /* a Content-Length was given */
    uint64_t length;     /* its value; saturates at UINT64_MAX */
    int expect_continue; /* Expect: 100-continue */
} hd_api_head_t;

/* Why a request is refused: the status, heed's error code and a message
 * naming what is wrong. */
typedef struct hd_api_head_err_s {
    int status;       /* 400, 413, 414, 417, 431, 501, 505 */
    const char *code; /* "bad_request", "uri_too_long", ... */
    char msg[200];
} hd_api_head_err_t;

/* The number of CR and LF bytes at the start of buf[0..len): empty lines
 * before a request line, which a server ignores (RFC 9112 2.2). */
size_t hd_api_head_skip_empty(const char *buf, size_t len);

/* Looks for the empty line that ends a head starting at buf[0] (a request
 * line, not an empty line). *scanned is where the search resumes: 0 for a
 * new head, then whatever the last call left there. Returns the head's
 * length through that empty line, or 0 when it has not arrived yet. */
size_t hd_api_head_end(const char *buf, size_t len, size_t *scanned);

/* Judges the first len bytes of a head whose end has not arrived: 0 when
 * they may still become a request of at most max bytes, else -1 with e:
 * 400 when the first bytes cannot start a request line (a TLS handshake
 * sent to a plain port, say), 414 when the request line alone is over
 * max, 431 when the fields are. */
int hd_api_head_partial(const char *buf, size_t len, size_t max, hd_api_head_err_t *e);

/* An upper bound on the header fields of a whole head of len bytes: the
 * size for hd_api_head_parse's fields array. */
size_t hd_api_head_lines(const char *buf, size_t len);

/* Parses a whole head buf[0..len) (len as hd_api_head_end returned) in
 * place, putting NULs into buf. fields has room for cap entries (see
 * hd_api_head_lines). Returns 0 with h filled, or -1 with e. */
int hd_api_head_parse(char *buf, size_t len, hd_api_field_t *fields, size_t cap, hd_api_head_t *h,
                      hd_api_head_err_t *e);

/* The value of the first field called name (case-insensitive), or NULL. */
const char *hd_api_head_field(const hd_api_head_t *h, const char *name);

/* 1 for the bytes of an HTTP token (method and field names, RFC 9110). */
int hd_api_head_tchar(unsigned char c);

#endif
