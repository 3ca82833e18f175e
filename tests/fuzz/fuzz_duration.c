/* fuzz_duration — hd_time_parse_duration on any NUL-terminated input: a
 * value it accepts is within 0 .. 9e15 us, and a refusal says what it
 * refused. And hd_time_parse_go_duration (Go's syntax, for Consul's API) on
 * the raw bytes: it reads exactly them, what it accepts has the shape of a
 * Go duration, its sign follows the text's, and a refusal leaves the
 * output alone and says what it refused. */
#include "util/time.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    int64_t us = -1;
    char err[128] = "";
    if (hd_time_parse_duration(s, &us, err, sizeof(err)) == 0) {
        if (us < 0 || us > 9000000000000000LL) abort();
        /* Only digits, one '.', and a unit get through. */
        size_t num = strspn(s, "0123456789.");
        if (num == 0 || strchr(s + num, '.')) abort();
        const char *unit = s + num;
        if (*unit && strcmp(unit, "us") != 0 && strcmp(unit, "ms") != 0 && strcmp(unit, "s") != 0 &&
            strcmp(unit, "m") != 0 && strcmp(unit, "h") != 0)
            abort();
    } else {
        if (strncmp(err, "invalid duration '", 18) != 0 || us != -1) abort();
    }

    int64_t ns = 42;
    char gerr[160] = "";
    if (hd_time_parse_go_duration((const char *)data, size, &ns, gerr, sizeof(gerr)) == 0) {
        if (size == 0) abort();
        int neg = data[0] == '-';
        if (neg && ns > 0) abort();
        if (!neg && ns < 0) abort();
        size_t sign = data[0] == '-' || data[0] == '+';
        if (size - sign != 1 || data[sign] != '0') { /* "0" alone (signed or not) has no unit */
            char last = (char)data[size - 1];
            if (last != 's' && last != 'm' && last != 'h') abort();
        }
    } else {
        if (ns != 42) abort();
        if (strncmp(gerr, "invalid duration \"", 18) != 0 && strncmp(gerr, "duration \"", 10) != 0)
            abort();
    }
    free(s);
    return 0;
}
