/* notifier_tmpl — the small template language of webhook bodies
 * (docs/notifiers.md, "Templates").
 *
 * A template is the text of a JSON document with {{field}} substitutions.
 * A field is one of a fixed list (hd_tmpl_fields: "check.name", "status",
 * "output", "summary", "event", ...), taken from the event JSON of
 * agent/notifier.h. Where a substitution stands decides how the value is
 * written:
 *   - inside a JSON string ("text": "{{check.name}} is {{status}}"): the
 *     value's text, escaped for a JSON string (a list joined with ", ", an
 *     absent value as nothing);
 *   - anywhere else ("event": {{event}}, "tags": {{check.tags}}): the value
 *     as JSON (an absent value as null).
 * There are no conditions and no loops. "{{" always starts a substitution.
 * The renderer never fails; whether the result is valid JSON is the
 * caller's check (hd_notifier_validate renders a sample event). This module
 * is pure: no I/O, no loop. */
#ifndef HD_NOTIFIER_TMPL_H
#define HD_NOTIFIER_TMPL_H

#include "util/buf.h"

#include <jansson.h>
#include <stddef.h>

#define HD_TMPL_MAX 65536 /* bytes of template text; longer is an error */

typedef struct hd_tmpl_s hd_tmpl_t;

/* Parses len bytes of template text. Returns the template, or NULL with a
 * message naming the line in err ("line 3: unknown field \"chek\" (fields:
 * ...)"). */
hd_tmpl_t *hd_tmpl_parse(const char *text, size_t len, char *err, size_t errlen);
/* Appends the template rendered for event (the event JSON) to out. */
void hd_tmpl_render(const hd_tmpl_t *t, const json_t *event, hd_buf_t *out);
void hd_tmpl_free(hd_tmpl_t *t);

/* The value of a field for event: a new reference, or NULL when the event
 * has none (e.g. service.name of a check without a service). Derived
 * fields ("summary", "color", "status_upper") are computed. */
json_t *hd_tmpl_value(const json_t *event, const char *field);
/* The one-line summary of an event: "web is CRITICAL (was passing)",
 * "web is PASSING again (was critical)", ... Appended to out. */
void hd_tmpl_summary(const json_t *event, hd_buf_t *out);
/* The field names, NULL-terminated. */
extern const char *const hd_tmpl_fields[];

/* The built-in templates' texts: "generic" (the event as is) and "slack"
 * (Slack's and Mattermost's incoming webhooks, Discord's /slack
 * endpoint). NULL for another name. */
const char *hd_tmpl_builtin(const char *name);
/* A sample event (triggered, critical, with a service) for validation. */
json_t *hd_tmpl_sample_event(void);

#endif
