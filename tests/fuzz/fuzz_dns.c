/* fuzz_dns — hd_dns_parse_answers, the dns probe's reader of DNS replies,
 * on any bytes: the first byte picks the record type asked for, the rest is
 * the reply. It must never crash, leak or read out of bounds; what it reads
 * must hold together, and every answer must match itself as an expected
 * value. */
#include "probe/dns.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const int types[] = {1, 28, 5, 15, 2, 16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int qtype = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    size_t len = size - 1;
    unsigned char *reply = malloc(len ? len : 1); /* exactly sized: ASan sees overreads */
    if (!reply) return 0;
    if (len) memcpy(reply, data + 1, len);

    hd_dns_answers_t a;
    if (hd_dns_parse_answers(reply, len, qtype, &a) == 0) {
        if (a.n < 0 || a.n > HD_DNS_ANSWERS_MAX) abort();
        for (int i = 0; i < a.n; i++) {
            if (!a.v[i]) abort();
            hd_dns_answers_t one = {.n = 1, .v = {a.v[i]}};
            if (!hd_dns_match(qtype, &one, a.v[i])) abort();
        }
        (void)hd_dns_match(qtype, &a, "127.0.0.1");
        (void)hd_dns_match(qtype, &a, "10 mail.example.test.");
        hd_dns_answers_free(&a);
    } else if (a.n != 0) {
        abort();
    }
    free(reply);
    return 0;
}
