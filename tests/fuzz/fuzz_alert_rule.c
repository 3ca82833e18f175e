/* fuzz_alert_rule — a POST /v1/alerts body or a stored rule on its way to
 * an alert rule: hd_config_parse_alert on any bytes, then, for what it
 * accepts, the round trip a restart relies on: the rule written back as
 * JSON (hd_alert_rule_to_json, what the store keeps, less the keys the API
 * adds) must parse again to the same rule. The input is also read as a
 * maintenance window's start (hd_alert_parse_time), which must give a time
 * that formats back to a valid RFC 3339 text. */
#include "agent/alert.h"
#include "agent/config.h"
#include "util/time.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* See fuzz_config.c: Debian's libfyaml leaks inside itself on some input. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfyaml.so\n";
}

static int same_list(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    return (!a || !a[i]) && (!b || !b[i]);
}

static void check_time(const uint8_t *data, size_t size)
{
    char s[64];
    if (size >= sizeof(s)) return;
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t us, again;
    if (hd_alert_parse_time(s, &us) != 0) return;
    if (us < 0) abort(); /* 1970 at the earliest */
    char t[64];
    hd_time_format_rfc3339(us, t, sizeof(t));
    if (hd_alert_parse_time(t, &again) != 0) abort(); /* what heed writes, heed reads */
    if (again / 1000 != us / 1000) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_time(data, size);
    char *text = malloc(size ? size : 1); /* exactly sized: ASan sees overreads */
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    hd_alert_rule_t r, again;
    char err[1024] = "";
    if (hd_config_parse_alert(text, size, "body", &r, err, sizeof(err)) != 0) {
        if (strncmp(err, "body", 4) != 0) abort(); /* every error names where */
        free(text);
        return 0;
    }
    if (!r.notify || !r.notify[0]) abort();
    json_t *o = hd_alert_rule_to_json(&r);
    json_object_del(o, "source");
    json_object_del(o, "tenant");
    char *stored = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!stored) abort();
    if (hd_config_parse_alert(stored, strlen(stored), "stored", &again, err, sizeof(err)) != 0)
        abort();
    if (again.for_us != r.for_us || again.remind_every_us != r.remind_every_us ||
        again.send_resolved != r.send_resolved || !same_list(again.notify, r.notify) ||
        !same_list(again.match.checks, r.match.checks) ||
        !same_list(again.match.services, r.match.services) ||
        !same_list(again.match.tags, r.match.tags) ||
        !!again.match.tenant != !!r.match.tenant ||
        (r.match.tenant && strcmp(again.match.tenant, r.match.tenant) != 0))
        abort();
    hd_alert_rule_free(&again);
    hd_alert_rule_free(&r);
    free(stored);
    free(text);
    return 0;
}
