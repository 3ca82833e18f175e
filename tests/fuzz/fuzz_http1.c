/* fuzz_http1 — the static build's HTTP/1.1 reply parser (probe/http1.c) on
 * any bytes, with the checks of proto_fuzz.h, and its judgement when the
 * server closes. The first byte picks the target: bit 0 a body_contains
 * text, bit 1 the HEAD method, bit 2 an expected status set; the rest is the
 * reply. */
#include "proto_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    hd_target_t t;
    memset(&t, 0, sizeof(t));
    t.kind = HD_KIND_HTTP;
    t.url = "http://web:8080/health?x=1";
    int codes[] = {200, 404};
    if (data[0] & 1) t.http.body_contains = "ok";
    if (data[0] & 2) t.http.method = "HEAD";
    if (data[0] & 4) {
        t.http.status = codes;
        t.http.nstatus = 2;
    }

    hd_buf_t out = {0};
    hd_proto_http1.hello(&t, &out);
    if (!out.data || out.len < 16 || memcmp(out.data + out.len - 4, "\r\n\r\n", 4) != 0) abort();
    hd_buf_free(&out);

    fuzz_check(&hd_proto_http1, &t, data + 1, size - 1);

    /* The close: a verdict, if any, obeys the same rules as parse's. */
    hd_verdict_t v;
    memset(&v, 0xa5, sizeof(v));
    int r = hd_proto_http1.eof(&t, data + 1, size - 1, &v);
    if (r != HD_PARSE_MORE && r != HD_PARSE_DONE) abort();
    if (r == HD_PARSE_DONE) {
        if ((unsigned)v.reason >= HD_R__COUNT) abort();
        if ((v.status == HD_STATUS_PASSING) != (v.reason == HD_R_OK)) abort();
        if (!memchr(v.msg, 0, sizeof(v.msg))) abort();
    }
    return 0;
}
