/* proto — the small protocol exchanges of stream probes (postgres, mysql,
 * redis). Each protocol is pure: it builds the bytes to send and judges the
 * bytes received, with no sockets, so unit tests and fuzzers drive it
 * directly. conn.c moves the bytes. */
#ifndef HD_PROTO_H
#define HD_PROTO_H

#include "probe/probe.h"
#include "probe/target.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

#define HD_PROTO_READ_MAX 65536 /* a reply still unfinished at this size is refused */

typedef struct hd_verdict_s {
    hd_status_t status;
    hd_reason_t reason;
    char msg[256]; /* what the server said, or what was wrong with it */
} hd_verdict_t;

enum { HD_PARSE_MORE = 0, HD_PARSE_DONE = 1 };

typedef struct hd_proto_s {
    /* Appends the bytes to send once connected (may append nothing). */
    void (*hello)(const hd_target_t *t, hd_buf_t *out);
    /* Judges everything received so far: HD_PARSE_MORE to read on, or
     * HD_PARSE_DONE with v filled. Must accept any bytes. */
    int (*parse)(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v);
    /* Appends polite goodbye bytes sent after a verdict, or NULL. */
    void (*bye)(const hd_target_t *t, hd_buf_t *out);
    /* Judges what was received when the server closed the connection:
     * HD_PARSE_DONE with v filled, or HD_PARSE_MORE to report the close
     * as a failure. NULL: a close before a verdict is always a failure. */
    int (*eof)(const hd_target_t *t, const uint8_t *buf, size_t len, hd_verdict_t *v);
    /* Appends the bytes to send in answer to everything received so far,
     * after parse said HD_PARSE_MORE; appends nothing while it needs more.
     * Called until it first appends bytes, never again after. NULL when the
     * protocol only answers with its hello. Must accept any bytes. */
    void (*answer)(const hd_target_t *t, const uint8_t *buf, size_t len, hd_buf_t *out);
} hd_proto_t;

extern const hd_proto_t hd_proto_pg;
extern const hd_proto_t hd_proto_mysql;
extern const hd_proto_t hd_proto_redis;
/* HTTP/1.1 for http:// targets where there is no libcurl (the static
 * build): conn.c carries it there; see http1.c. */
extern const hd_proto_t hd_proto_http1;

#endif
