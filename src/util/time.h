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

/* Parses a duration in Go's syntax (time.ParseDuration, what Consul's API
 * takes): an optional sign, then one or more decimal numbers each with a
 * unit ns, us (or µs, μs), ms, s, m or h ("10s", "1m30s", "1.5h", "-2ms");
 * "0" alone is zero. len bytes of s (no NUL needed). Returns 0 with
 * nanoseconds in *out_ns, or -1 with a message quoting s in err (also for
 * an overflow of int64 nanoseconds, about 292 years). */
int hd_time_parse_go_duration(const char *s, size_t len, int64_t *out_ns, char *err, size_t errlen);

/* Formats microseconds as seconds with one decimal ("2.1 s") into out. */
void hd_time_format_secs(int64_t us, char *out, size_t outlen);

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t hd_time_wall_us(void);

/* Formats a duration in the largest unit that holds it exactly ("10s",
 * "1500ms", "2m", "1h", "250us"), so that it parses back to the same value. */
void hd_time_format_duration(int64_t us, char *out, size_t outlen);

/* Formats wall-clock microseconds as RFC 3339 UTC with milliseconds
 * ("2026-11-22T00:10:00.123Z"). */
void hd_time_format_rfc3339(int64_t wall_us, char *out, size_t outlen);

#endif
