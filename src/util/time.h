/* time — the monotonic clock and human durations ("10ms", "1.5s", "2m"). */
#ifndef HD_TIME_H
#define HD_TIME_H

#include <stdint.h>
#include <stddef.h>

#define HD_USEC_PER_MSEC 1000LL
#define HD_USEC_PER_SEC  1000000LL

/* Microseconds on CLOCK_MONOTONIC. */
int64_t hd_time_now_us(void);

/* Parses a duration into microseconds: a decimal number with an optional
 * unit us, ms, s, m or h; a bare number means seconds (as timeout(1) and
 * wait-for-it). Returns 0, or -1 with a message in err. */
int hd_time_parse_duration(const char *s, int64_t *out_us, char *err, size_t errlen);

/* Formats microseconds as seconds with one decimal ("2.1 s") into out. */
void hd_time_format_secs(int64_t us, char *out, size_t outlen);

#endif
