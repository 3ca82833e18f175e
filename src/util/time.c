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

void hd_time_format_duration(int64_t us, char *out, size_t outlen)
{
    static const struct {
        int64_t us;
        const char *unit;
    } steps[] = {{3600 * HD_USEC_PER_SEC, "h"},
                 {60 * HD_USEC_PER_SEC, "m"},
                 {HD_USEC_PER_SEC, "s"},
                 {HD_USEC_PER_MSEC, "ms"}};
    if (us == 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (us % steps[i].us == 0) {
            snprintf(out, outlen, "%lld%s", (long long)(us / steps[i].us), steps[i].unit);
            return;
        }
    }
    snprintf(out, outlen, "%lldus", (long long)us);
}

void hd_time_format_rfc3339(int64_t wall_us, char *out, size_t outlen)
{
    time_t secs = (time_t)(wall_us / HD_USEC_PER_SEC);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", date, (int)((wall_us % HD_USEC_PER_SEC) / 1000));
}
