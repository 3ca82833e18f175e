/* status_page — the pure half of the public status page and its badges
 * (api/status_page.c serves them; docs/status-page.md tells users): the
 * day and window tallies of uptime, the figures and colours shown, the
 * shields-style SVG badges and the HTML page, from a model that the caller
 * has already reduced to what may be shown. No I/O, no clock: the caller
 * passes "now", so unit tests drive every piece directly.
 *
 * Uptime is results passing over results run (the history's ok / count),
 * summed over a group's checks: a day with 1,440 results of which 1,438
 * passed is 99.86%. A day or window without results has no figure ("no
 * data", grey), never 100%. Figures are cut, not rounded, to two decimals,
 * so 99.999% shows as 99.99% and only a perfect record shows 100%. */
#ifndef HD_API_STATUS_PAGE_H
#define HD_API_STATUS_PAGE_H

#include "agent/check.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

#define HD_STATUS_PAGE_DAYS 90 /* bars on the page: one per UTC day, today last */

/* The windows a badge may show (?window=). */
typedef enum hd_status_page_window_e {
    HD_STATUS_PAGE_24H = 0,
    HD_STATUS_PAGE_7D,
    HD_STATUS_PAGE_30D,
    HD_STATUS_PAGE_90D,
    HD_STATUS_PAGE_NWINDOWS
} hd_status_page_window_t;

typedef struct hd_status_page_tally_s {
    int64_t count; /* results */
    int64_t ok;    /* of which passing */
} hd_status_page_tally_t;

/* Uptime by UTC day (the last HD_STATUS_PAGE_DAYS, today included) and
 * by window (the last 24 h, 7, 30 and 90 days, counted by the hour
 * buckets that start inside them). */
typedef struct hd_status_page_uptime_s {
    int64_t now_us;    /* wall clock, as given to _init */
    int64_t first_day; /* days since the epoch of days[0] */
    hd_status_page_tally_t days[HD_STATUS_PAGE_DAYS];
    hd_status_page_tally_t win[HD_STATUS_PAGE_NWINDOWS];
} hd_status_page_uptime_t;

/* Empties u for a page as of now_us (wall clock, µs since the epoch). */
void hd_status_page_uptime_init(hd_status_page_uptime_t *u, int64_t now_us);
/* Adds a history bucket that starts at ts_us with count results, ok of
 * them passing, to its day and windows. A bucket before the first day or
 * after now is left out. */
void hd_status_page_uptime_add(hd_status_page_uptime_t *u, int64_t ts_us, int64_t count,
                               int64_t ok);
/* Adds src's tallies to dst's (the same now_us: a group's checks). */
void hd_status_page_uptime_merge(hd_status_page_uptime_t *dst, const hd_status_page_uptime_t *src);

/* Parses ?window= strictly: "24h", "7d", "30d" or "90d". Returns the
 * window, or -1. */
int hd_status_page_window_parse(const char *s);
/* "24h", "7d", "30d", "90d". */
const char *hd_status_page_window_str(hd_status_page_window_t w);

/* Writes the figure of t into out (outlen bytes): "100%", "99.95%",
 * "87.5%", or "no data" when t has no result. */
void hd_status_page_pct(const hd_status_page_tally_t *t, char *out, size_t outlen);
/* The colour of t's figure, as "#rrggbb": green from 99.5% (a perfect
 * record too), light green from 99%, yellow from 97%, orange from 95%,
 * red below, grey without data. */
const char *hd_status_page_pct_color(const hd_status_page_tally_t *t);

/* The words and colour of a status (from hd_status_page_group_status) on the page and badges:
 * "up" green, "degraded" yellow, "down" red, "maintenance" blue, and for
 * -1 "no checks" grey. */
const char *hd_status_page_status_word(int status);
const char *hd_status_page_status_color(int status);

/* Appends s to out with HTML's and XML's special characters as entities
 * (& < > " ') and control characters other than tab and newline as '?'. */
void hd_status_page_escape(hd_buf_t *out, const char *s);

/* Appends a shields-style flat badge (an SVG document): label on grey,
 * message on color ("#rrggbb"), widths from the text's length, and a
 * <title> "label: message" for screen readers. */
void hd_status_page_badge_svg(hd_buf_t *out, const char *label, const char *message,
                              const char *color);

/* ---- the page ---------------------------------------------------------- */

/* A check as the page shows it: only what its group lets be seen. */
typedef struct hd_status_page_check_s {
    const char *name;             /* its name (or id) */
    hd_check_status_t status;     /* now */
    const char *output;           /* NULL: not shown (show_output off) */
    const char *target;           /* NULL: not shown; else the redacted display form */
    hd_status_page_tally_t total; /* its results over the 90 days */
} hd_status_page_check_t;

/* A group: its checks and their summed uptime. */
typedef struct hd_status_page_group_s {
    const char *name;  /* the URL segment */
    const char *title; /* shown */
    const hd_status_page_check_t *checks;
    size_t nchecks;
    hd_status_page_uptime_t up;
} hd_status_page_group_t;

/* Appends the whole HTML document: heading title, then each of the n
 * groups with its status, 90 bars (each with a title telling the day and
 * its figure), and its checks with status and 90-day uptime (and output
 * and target when given). link: group titles link to /status/<name> (the
 * index page). Everything printed is escaped; no script, no external
 * resource: inline CSS only. */
void hd_status_page_html(hd_buf_t *out, const char *title, const hd_status_page_group_t *groups,
                         size_t n, int link);

/* The status group g shows for its checks: critical when any is critical,
 * else warning when any is, else passing when any is, else maintenance
 * (all are); -1 for a group without checks. */
int hd_status_page_group_status(const hd_status_page_group_t *g);

/* The page shown for an unknown or non-public group (404): the same
 * bytes for both. */
void hd_status_page_html_404(hd_buf_t *out);

#endif
