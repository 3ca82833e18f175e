/* fuzz_session_body — hd_session_parse (the body of Consul's
 * /v1/session/create) on any bytes that jansson reads as JSON (others
 * never reach it: the server refuses them first): it accepts, with a TTL
 * of 0 or within Consul's 10 s .. 24 h, a LockDelay >= 0, a Behavior and
 * at most 64 checks, or refuses with 400 ("Request decode failed: ...")
 * or 500 (what Consul's server refuses) and a message; nothing leaks. */
#include "agent/session.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body) return 0;
    hd_session_t s;
    char err[512] = "";
    int st = hd_session_parse(body, "node-1", &s, err, sizeof(err));
    json_decref(body);
    if (st != 0) {
        if (st != 400 && st != 500) abort();
        if (!err[0]) abort();
        if (st == 400 && strncmp(err, "Request decode failed: ", 23) != 0 &&
            strncmp(err, "Too many checks", 15) != 0)
            abort();
        return 0;
    }
    if (s.ttl_ns != 0 && (s.ttl_ns < HD_SESSION_TTL_MIN_NS || s.ttl_ns > HD_SESSION_TTL_MAX_NS))
        abort();
    if (s.lock_delay_ns < 0) abort();
    if (!s.name || !s.node || !s.ttl || !*s.node) abort();
    if (s.nnode + s.nservice > 2 * HD_SESSION_CHECKS_MAX) abort();
    for (size_t i = 0; i < s.nnode; i++)
        if (!s.node_checks[i]) abort();
    hd_session_clear(&s);
    return 0;
}
