/* time — monotonic clock and duration parsing. */
#include "util/time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t hd_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * HD_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static const struct {
    const char *name;
    double us;
} units[] = {
    {"us", 1.0}, {"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6},
};

int hd_time_parse_duration(const char *s, int64_t *out_us, char *err, size_t errlen)
{
    if (!s) goto bad;
    /* The number is digits with at most one '.': checked here because
     * strtod alone also reads "0x10" as 16 and "1e3" as 1000. */
    size_t num = 0, digits = 0, dots = 0;
    for (; (s[num] >= '0' && s[num] <= '9') || s[num] == '.'; num++) {
        if (s[num] == '.')
            dots++;
        else
            digits++;
    }
    if (digits == 0 || dots > 1) goto bad;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end != s + num || !isfinite(v)) goto bad;
    double mult = 1e6; /* a bare number is seconds */
    if (*end) {
        size_t i;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strcmp(end, units[i].name) == 0) break;
        if (i == sizeof(units) / sizeof(units[0])) goto bad;
        mult = units[i].us;
    }
    double us = v * mult;
    if (us > 9.0e15) goto bad; /* ~285 years: anything larger is a typo */
    *out_us = (int64_t)llround(us);
    return 0;
bad:
    snprintf(err, errlen, "invalid duration '%s' (expected e.g. 500ms, 2s, 1.5m, 1h)", s ? s : "");
    return -1;
}

void hd_time_format_secs(int64_t us, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.1f s", (double)us / 1e6);
}

int64_t hd_time_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * HD_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* Writes the decimal digits of v (>= 0) ending just before end; returns
 * where they start. */
static char *put_digits(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* Copies n bytes of s to out as snprintf would: cut to fit, NUL-ended. */
static void copy_out(char *out, size_t outlen, const char *s, size_t n)
{
    if (!outlen) return;
    if (n >= outlen) n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Both formats below are on every API reply of a check: written by hand,
 * not with snprintf and strftime, which cost more than the rest of the
 * check's JSON. */

void hd_time_format_duration(int64_t us, char *out, size_t outlen)
{
    static const struct {
        int64_t us;
        const char *unit;
    } steps[] = {{3600 * HD_USEC_PER_SEC, "h"},
                 {60 * HD_USEC_PER_SEC, "m"},
                 {HD_USEC_PER_SEC, "s"},
                 {HD_USEC_PER_MSEC, "ms"},
                 {1, "us"}};
    if (us == 0) {
        copy_out(out, outlen, "0s", 2);
        return;
    }
    size_t i = 0;
    while (us % steps[i].us != 0)
        i++;
    int64_t v = us / steps[i].us;
    char buf[32];
    char *end = buf + sizeof(buf) - 3, *p = put_digits(end, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0) *--p = '-';
    size_t ulen = strlen(steps[i].unit);
    memcpy(end, steps[i].unit, ulen);
    copy_out(out, outlen, p, (size_t)(end - p) + ulen);
}

/* Year, month (1-12) and day (1-31) of a day count since 1970-01-01
 * (days >= 0): Howard Hinnant's civil_from_days. */
static void civil(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Writes v as n digits, zero-padded, at p. */
static void padded(char *p, int64_t v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

void hd_time_format_rfc3339(int64_t wall_us, char *out, size_t outlen)
{
    if (wall_us >= 0 && wall_us < 253402300800LL * HD_USEC_PER_SEC) { /* 1970 .. 9999 */
        int64_t secs = wall_us / HD_USEC_PER_SEC, sod = secs % 86400, y;
        int m, d;
        civil(secs / 86400, &y, &m, &d);
        char b[25] = "0000-00-00T00:00:00.000Z";
        padded(b, y, 4);
        padded(b + 5, m, 2);
        padded(b + 8, d, 2);
        padded(b + 11, sod / 3600, 2);
        padded(b + 14, sod / 60 % 60, 2);
        padded(b + 17, sod % 60, 2);
        padded(b + 20, wall_us % HD_USEC_PER_SEC / 1000, 3);
        copy_out(out, outlen, b, sizeof(b) - 1);
        return;
    }
    time_t secs = (time_t)(wall_us / HD_USEC_PER_SEC);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", date, (int)((wall_us % HD_USEC_PER_SEC) / 1000));
}

/* Go's units, longest spelling first where one is a prefix of another. */
static const struct {
    const char *name;
    int64_t ns;
} go_units[] = {
    {"ns", 1LL},           {"us", 1000LL},      {"\xc2\xb5s", 1000LL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000LL},                                             /* U+03BC mu */
    {"ms", 1000000LL},     {"s", 1000000000LL}, {"m", 60000000000LL},  {"h", 3600000000000LL},
};

int hd_time_parse_go_duration(const char *s, size_t len, int64_t *out_ns, char *err, size_t errlen)
{
    size_t i = 0;
    int neg = 0;
    uint64_t total = 0; /* nanoseconds, at most INT64_MAX (+1 when negative) */
    const uint64_t max = (uint64_t)INT64_MAX + 1;
    if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == len) goto bad;
    if (len - i == 1 && s[i] == '0') {
        *out_ns = 0;
        return 0;
    }
    while (i < len) {
        /* A number: digits, and optionally '.' and more digits (not both empty). */
        uint64_t whole = 0;
        int whole_digits = 0, frac_digits = 0, overflow = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (whole > (UINT64_MAX - 9) / 10) overflow = 1;
            whole = whole * 10 + (uint64_t)(s[i++] - '0');
            whole_digits++;
        }
        uint64_t frac = 0, scale = 1;
        if (i < len && s[i] == '.') {
            i++;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (scale <= UINT64_MAX / 100) { /* digits past 18 cannot matter */
                    frac = frac * 10 + (uint64_t)(s[i] - '0');
                    scale *= 10;
                }
                i++;
                frac_digits++;
            }
        }
        if (!whole_digits && !frac_digits) goto bad;
        size_t u = 0;
        int64_t unit = 0;
        for (size_t k = 0; k < sizeof(go_units) / sizeof(go_units[0]) && !unit; k++) {
            size_t n = strlen(go_units[k].name);
            /* In table order, "ms" is tried before "m". */
            if (n <= len - i && !memcmp(s + i, go_units[k].name, n)) {
                unit = go_units[k].ns;
                u = n;
            }
        }
        if (!unit) goto bad;
        i += u;
        if (overflow || whole > max / (uint64_t)unit) goto big;
        uint64_t v = whole * (uint64_t)unit;
        /* The fraction, rounded down as Go does: frac/scale of a unit. */
        v += (uint64_t)((long double)frac * (long double)unit / (long double)scale);
        if (v > max || total > max - v) goto big;
        total += v;
    }
    if (!neg && total > (uint64_t)INT64_MAX) goto big;
    *out_ns = neg ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
big:
    snprintf(err, errlen, "duration \"%.*s\" is out of range", (int)(len > 64 ? 64 : len), s);
    return -1;
bad:
    snprintf(err, errlen, "invalid duration \"%.*s\" (expected Go's syntax, like 10s or 1m30s)",
             (int)(len > 64 ? 64 : len), s);
    return -1;
}
