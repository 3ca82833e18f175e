/* fuzz_redis — the redis reply parser on any bytes, with the checks of
 * proto_fuzz.h. The first byte picks the target, since the replies expected
 * depend on it: bit 0 a password, bit 1 a user (with the password), bit 2 a
 * SELECT of database (byte >> 3); the rest is the reply. */
#include "proto_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    hd_target_t t;
    memset(&t, 0, sizeof(t));
    t.kind = HD_KIND_REDIS;
    t.redis_db = -1;
    if (data[0] & 1) t.password = "secret";
    if ((data[0] & 3) == 3) t.user = "default";
    if (data[0] & 4) t.redis_db = data[0] >> 3;

    hd_buf_t out = {0};
    hd_proto_redis.hello(&t, &out); /* the commands whose replies follow */
    if (!out.data || out.len < 14) abort();
    hd_buf_free(&out);

    fuzz_check(&hd_proto_redis, &t, data + 1, size - 1);
    return 0;
}
