/* notifier — the receivers alerts go to: a webhook, a Prometheus
 * Alertmanager, a command, a mail server. One event in, one delivery out,
 * answered once on the loop: delivered, retry later, or never.
 *
 * The alert engine (agent/alert.c and the outbox, agent/outbox.c) decides
 * what is sent, when, and how often it is tried; a notifier only sends one
 * event once and says how it went. It keeps no queue and nothing on disk.
 *
 * The event is the outbox's JSON object (docs/notifiers.md, "The event"):
 *   {"id": "<node>-<seq>", "kind": "triggered"|"resolved"|"reminder"|
 *    "flapping"|"flapping_end", "time": RFC 3339 UTC, "time_unix_ms": int,
 *    "since": RFC 3339 (when the check left passing), "node": str,
 *    "check": {"id", "name", "tenant" (omitted: none), "target" (masked),
 *              "tags": [..], "notes"},
 *    "service": {"id", "name", "tags": [..]} or null,
 *    "old_status": str, "status": str ("passing", "warning", "critical",
 *    "maintenance"), "output": str, "reason": str, "flapping": bool}
 * Its "id" is the idempotency key every delivery carries (a header, a
 * field, a Message-ID, an environment variable).
 *
 * The process ignores SIGPIPE (the agent does): an exec notifier's command
 * that exits without reading its input makes the write of the event fail
 * with EPIPE, which is no reason to die.
 *
 * Secrets: a notifier's URL may hold a password (smtp://user:pw@host) and
 * its headers a token; hd_notifier_describe and every error message mask
 * them as `***` (hd_target_redact's rule). */
#ifndef HD_NOTIFIER_H
#define HD_NOTIFIER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define HD_NOTIFIER_NAME_MAX 64 /* bytes in a notifier's name: [A-Za-z0-9_.-] */
#define HD_NOTIFIER_REPLY_MAX                                                                      \
    65536                                 /* bytes of a receiver's reply kept; the rest is read    \
                                             and discarded (a 1 MB answer costs no memory) */
#define HD_NOTIFIER_TIMEOUT_US 10000000LL /* default per delivery */

typedef enum hd_notifier_kind_e {
    HD_NOTIFIER_WEBHOOK = 0,
    HD_NOTIFIER_ALERTMANAGER,
    HD_NOTIFIER_EXEC,
    HD_NOTIFIER_SMTP,
} hd_notifier_kind_t;

typedef struct hd_notifier_header_s {
    char *name;
    char *value;
} hd_notifier_header_t;

/* A notifier as configured (`notify:` in the YAML, or POST /v1/notifiers). */
typedef struct hd_notifier_def_s {
    char *name; /* unique among notifiers; required */
    hd_notifier_kind_t kind;
    char *tenant;       /* API-made: the tenant of the token that made it; NULL: none */
    int from_config;    /* 1: from the config file (exec is refused otherwise) */
    int64_t timeout_us; /* one delivery, whole; 0: HD_NOTIFIER_TIMEOUT_US */
    /* webhook, alertmanager (the base URL: /api/v2/alerts is added), smtp */
    char *url;
    char *ca_file; /* PEM CAs that sign the receiver's certificate; NULL: the system's
                      (from the config file only: the API refuses it) */
    /* webhook */
    hd_notifier_header_t *headers;
    size_t nheaders;
    char *template_name; /* "generic" (the default), "slack"; NULL when template_text */
    char *template_text; /* a user template (docs/notifiers.md, "Templates"); NULL: none */
    /* exec: argv, NULL-terminated; the event on stdin and in HEED_* variables */
    char **command;
    /* smtp: url smtp:// (plain), smtps:// (TLS from the start) or
     * smtp+starttls:// (STARTTLS, required) */
    char *from;
    char **to; /* NULL-terminated, at least one */
    /* alertmanager: a firing alert's endsAt is now + this (Alertmanager
     * resolves it then unless a reminder refreshes it); 0: 24 h */
    int64_t resolve_timeout_us;
    /* alertmanager: an alert's generatorURL base, the agent's dashboard
     * "http://127.0.0.1:8500/ui/" ("#/check/<id>" is added, and "?ns=" the
     * tenant); set by the engine when known, never from the config file;
     * NULL: none */
    char *ui_url;
} hd_notifier_def_t;

#define HD_NOTIFIER_RESOLVE_TIMEOUT_US (24LL * 3600 * 1000000) /* alertmanager default */

/* How a delivery went. */
typedef enum hd_notifier_result_e {
    HD_NOTIFY_DELIVERED = 0, /* acknowledged: 2xx, exit 0, the server took the mail */
    HD_NOTIFY_RETRY,         /* may work later: no connection, timeout, 5xx, 408, 429,
                                exit status non-zero, an SMTP 4xx */
    HD_NOTIFY_FAILED,        /* will not work as it is: another 4xx, a redirect (never
                                followed), a template that does not render, SMTP 5xx */
} hd_notifier_result_t;

typedef struct hd_notifier_s hd_notifier_t;

/* result, and a one-line reason for a log line and GET /v1/events ("HTTP 503",
 * "connection refused", "timed out after 10 s"), secrets masked; valid only
 * during the call. */
typedef void (*hd_notifier_done_cb)(hd_notifier_result_t result, const char *reason, void *arg);

/* Checks def without sending anything: the URL's scheme and form, the
 * headers, the command, the addresses, and that its template renders a
 * sample event into what its receiver takes (valid JSON for a webhook).
 * Returns 0, or -1 with a message naming the field in err ("template: line
 * 3: unknown field .chek"). Used by --validate, config load and the API. */
int hd_notifier_validate(const hd_notifier_def_t *def, char *err, size_t errlen);

/* A notifier for def (copied) on base. Returns NULL with a message in err
 * (what hd_notifier_validate says, or libcurl missing for an HTTP kind). */
hd_notifier_t *hd_notifier_new(struct event_base *base, const hd_notifier_def_t *def, char *err,
                               size_t errlen);
/* Sends one event (not kept: it is rendered during the call). cb is called
 * exactly once, later, on the loop, never from inside this call. Returns 0,
 * or -1 (out of memory; cb never called). */
int hd_notifier_send(hd_notifier_t *n, const json_t *event, hd_notifier_done_cb cb, void *arg);
/* Sends the events of a batch in one delivery where the receiver takes
 * batches (Alertmanager takes a list); otherwise as n deliveries in a row.
 * cb once for the whole batch. */
int hd_notifier_send_batch(hd_notifier_t *n, const json_t *const *events, size_t count,
                           hd_notifier_done_cb cb, void *arg);
/* 1 when the receiver takes batches (Alertmanager). */
int hd_notifier_batches(const hd_notifier_t *n);
/* Cancels what is in flight (their callbacks are not called) and frees n. */
void hd_notifier_free(hd_notifier_t *n);
const hd_notifier_def_t *hd_notifier_def(const hd_notifier_t *n);
/* Sets the dashboard's base URL that n's alerts link to (hd_notifier_def_t
 * ui_url; copied; NULL: none). The agent knows it only once its API
 * listens, after the notifiers are made. */
void hd_notifier_set_ui_url(hd_notifier_t *n, const char *ui_url);

/* def as JSON for GET /v1/notifiers: secrets masked (URL password, header
 * values shown as "***"). */
json_t *hd_notifier_def_to_json(const hd_notifier_def_t *def);
/* def from a POST /v1/notifiers body (the YAML entry's fields, in JSON).
 * Returns 0, or -1 with a message naming the field in err. */
int hd_notifier_def_from_json(const json_t *body, hd_notifier_def_t *def, char *err, size_t errlen);
void hd_notifier_def_copy(hd_notifier_def_t *dst, const hd_notifier_def_t *src);
void hd_notifier_def_free(hd_notifier_def_t *def);
const char *hd_notifier_kind_str(hd_notifier_kind_t k);

#endif
