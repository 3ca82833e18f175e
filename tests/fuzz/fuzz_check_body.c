/* fuzz_check_body — a POST/PUT body or a stored definition on its way to a
 * check: hd_config_parse_check on any bytes, then, for what it accepts,
 * the round trip the agent relies on: the definition written back as JSON
 * (hd_check_def_to_json, what the store keeps) must parse again to an
 * equal definition, or a restart would change checks. */
#include "agent/check_json.h"
#include "agent/config.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exactly sized: ASan sees overreads */
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    hd_check_def_t d, again;
    char err[1024] = "";
    if (hd_config_parse_check(text, size, "body", &d, err, sizeof(err)) != 0) {
        if (strncmp(err, "body", 4) != 0) abort(); /* every error names where */
        free(text);
        return 0;
    }
    if (!d.id || !d.id[0] || d.from_config) abort();
    json_t *o = hd_check_def_to_json(&d);
    char *stored = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!stored) abort();
    if (hd_config_parse_check(stored, strlen(stored), "stored", &again, err, sizeof(err)) != 0)
        abort(); /* what heed wrote, heed must read */
    if (!hd_check_def_equal(&d, &again)) abort();
    hd_check_def_free(&again);
    hd_check_def_free(&d);
    free(stored);
    free(text);
    return 0;
}
