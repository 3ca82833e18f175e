/* check_json — checks as JSON: the API's view of a check (definition and
 * state together), the definition as the store keeps it (the same keys a
 * config file or a POST uses, so one parser reads all three), and the
 * state as the store keeps it. Reading definitions is config.c's job
 * (hd_config_parse_check); this file only writes them. */
#ifndef HD_CHECK_JSON_H
#define HD_CHECK_JSON_H

#include "agent/check.h"
#include "util/jsonw.h"

#include <jansson.h>

/* The definition in input form: name, id, target or ttl, interval, timeout,
 * expect, thresholds, tags, follow_redirects, insecure. Feeding it back to
 * hd_config_parse_check gives an equal definition. The target is whole,
 * password included: this is what the store keeps, never what the API
 * shows. */
json_t *hd_check_def_to_json(const hd_check_def_t *d);
/* The API's view: the definition, with the target's password as "***"
 * (hd_target_redact), plus tenant ("default" for none), service_id, source
 * and the
 * state (status, output, latency_ms, last_checked, last_change,
 * last_success, paused). st may be NULL. The API writes it with
 * hd_check_write_json; this tree is the reference that one is tested
 * against (tests/unit/test_check_json.c). */
json_t *hd_check_to_json(const hd_check_def_t *d, const hd_check_state_t *st);
/* Writes the API's view straight into w: the same text json_dumps gives
 * for hd_check_to_json(d, st) with JSON_COMPACT and w's real precision,
 * without building the tree (a GET's hot path). Strings that are not
 * UTF-8 are repaired as jsonw.h says, where jansson would drop the key. */
void hd_check_write_json(hd_jsonw_t *w, const hd_check_def_t *d, const hd_check_state_t *st);
/* The state as stored; an output that is not valid UTF-8 is stored with
 * U+FFFD for each bad byte (jansson cannot hold it as it is). */
json_t *hd_check_state_to_json(const hd_check_state_t *st);
/* Reads a stored state; 0, or -1 when o is not one (st then unchanged). */
int hd_check_state_from_json(const json_t *o, hd_check_state_t *st);

#endif
