/* fuzz_mysql — the mysql greeting parser on any bytes, with the checks of
 * proto_fuzz.h: memory safety, verdicts that stand, printable text. */
#include "proto_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hd_target_t t;
    static int ready;
    if (!ready) ready = fuzz_target_of("mysql://app@db/shop", &t);
    fuzz_check(&hd_proto_mysql, &t, data, size);
    return 0;
}
