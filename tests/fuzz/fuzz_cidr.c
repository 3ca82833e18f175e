/* fuzz_cidr — the `heed ping -g` range parsers on any text: "ADDR/LEN" and,
 * split at the first space, "START END". Accepted ranges must yield
 * addresses of their family, in order, and agree with their own count. */
#include "util/cidr.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void walk(hd_cidr_t *r)
{
    uint64_t left = hd_cidr_remaining(r), n = 0;
    struct sockaddr_storage ss;
    /* bounded: a /0 is 4 billion addresses */
    while (n < 4096 && hd_cidr_next(r, &ss)) {
        if (ss.ss_family != r->family) abort();
        n++;
    }
    if (left < 4096 && n != left) abort();
    if (left >= 4096 && n != 4096) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    hd_cidr_t r;
    char err[256];
    if (hd_cidr_parse(s, &r, err, sizeof(err)) == 0) walk(&r);
    char *sp = strchr(s, ' ');
    if (sp) {
        *sp = '\0';
        if (hd_cidr_parse_range(s, sp + 1, &r, err, sizeof(err)) == 0) walk(&r);
    }
    free(s);
    return 0;
}
