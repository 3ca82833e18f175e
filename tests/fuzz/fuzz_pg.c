/* fuzz_pg — the postgres reply parser on any bytes, on a target built for
 * the protocol. Besides memory safety it checks that a verdict, once given,
 * stands: one more byte never changes it (so a reply cut short can only
 * ask for more, never be judged differently), and its text is printable. */
#include "proto_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hd_target_t t;
    static int ready;
    if (!ready) ready = fuzz_target_of("postgres://alice@db/app", &t);
    fuzz_check(&hd_proto_pg, &t, data, size);
    return 0;
}
