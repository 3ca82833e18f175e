/* changelog — the agent's log line for a check's status change: when, which
 * check, the old and the new status, and the output that came with it.
 *
 * One line each, text for a person reading `make run` or the journal, or
 * one JSON object per line (`heed agent --log-format json`) for a log
 * shipper. Pure: the agent passes the clock and writes the line (to
 * stdout, flushed: a journal or a pipe sees it at once). */
#ifndef HD_CHANGELOG_H
#define HD_CHANGELOG_H

#include <stdint.h>

typedef enum hd_log_format_e {
    HD_LOG_TEXT = 0,
    HD_LOG_JSON,
} hd_log_format_t;

/* "text" or "json" into *out: 0, or -1 for anything else. */
int hd_log_format_parse(const char *s, hd_log_format_t *out);

/* The line, '\n'-terminated and malloc'd, for check id of tenant (NULL: the
 * default tenant) that went from old (NULL: its first result, "unchecked")
 * to new at wall_us with output (may be NULL). Text:
 *   2026-12-06T06:40:01.123Z check web: passing -> critical: connection refused
 * (a tenant other than the default shows as "acme/web"; control characters
 * of the output become spaces, so that a line stays one line). JSON:
 *   {"time":"...","check":"web","tenant":"default","old":"passing",
 *    "new":"critical","output":"connection refused"} (old null when first). */
char *hd_changelog_line(hd_log_format_t fmt, int64_t wall_us, const char *tenant, const char *id,
                        const char *old, const char *new_status, const char *output);

#endif
