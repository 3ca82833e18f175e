/* fuzz_config — hd_config_load_string, the agent's config reader, on any
 * bytes. It must never crash, leak or read out of bounds, and what it
 * accepts must hold together: every check has an id, ids are unique,
 * thresholds are in order, a probe's timeout fits in its interval; a
 * refused config leaves an error message and nothing to free. Loading the
 * same bytes twice gives equal definitions (reloads rely on that). */
#include "agent/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* libfyaml 0.7.12 (Debian's) leaks a 2 KiB scanner buffer on some valid
 * inputs, e.g. x: 'a''''''''b' (runs of escaped quotes); heed cannot fix
 * that, so leaks allocated inside libfyaml are not reported. Leaks in heed's
 * own code still are: their stacks do not pass through libfyaml. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfyaml.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *yaml = malloc(size ? size : 1); /* exactly sized: ASan sees overreads */
    if (!yaml) return 0;
    if (size) memcpy(yaml, data, size);

    hd_config_t a, b;
    char err[1024] = "";
    if (hd_config_load_string(yaml, size, "fuzz.yaml", &a, err, sizeof(err)) != 0) {
        if (strncmp(err, "fuzz.yaml:", 10) != 0) abort();
        if (a.node || a.checks || a.nchecks || a.services || a.tokens) abort();
        free(yaml);
        return 0;
    }
    if (!a.node || !a.bind_host || !a.data_dir || a.data_dir[0] != '/') abort();
    if (a.bind_port < 0 || a.bind_port > 65535) abort();
    for (size_t i = 0; i < a.nchecks; i++) {
        const hd_check_def_t *d = &a.checks[i];
        if (!d->id || !d->name || !d->from_config) abort();
        if (d->failures_before_warning < 1 ||
            d->failures_before_warning > d->failures_before_critical)
            abort();
        if (!d->ttl && (d->interval_us <= 0 || d->timeout_us <= 0 ||
                        d->timeout_us > d->interval_us || !d->target.url))
            abort();
        if (d->ttl && d->ttl_us <= 0) abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(a.checks[j].id, d->id) == 0) abort();
    }
    for (size_t i = 0; i < a.ntokens; i++)
        if (!a.tokens[i].secret ||
            (a.tokens[i].role == HD_CONFIG_ROLE_MANAGEMENT && a.tokens[i].tenant))
            abort();
    if (a.history.raw_us > a.history.minute_us || a.history.minute_us > a.history.hour_us) abort();

    if (hd_config_load_string(yaml, size, "fuzz.yaml", &b, err, sizeof(err)) != 0) abort();
    if (b.nchecks != a.nchecks) abort();
    for (size_t i = 0; i < a.nchecks; i++)
        if (!hd_check_def_equal(&a.checks[i], &b.checks[i])) abort();
    hd_config_free(&b);
    hd_config_free(&a);
    free(yaml);
    return 0;
}
