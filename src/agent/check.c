/* check — check definitions and states (see check.h). */
#include "agent/check.h"

#include <stdlib.h>
#include <string.h>

void hd_check_def_free(hd_check_def_t *d)
{
    if (!d) return;
    free(d->id);
    free(d->name);
    free(d->service_id);
    free(d->tenant);
    hd_target_free(&d->target);
    if (d->tags)
        for (char **t = d->tags; *t; t++)
            free(*t);
    free(d->tags);
    memset(d, 0, sizeof(*d));
}

const char *hd_check_status_str(hd_check_status_t s)
{
    switch (s) {
    case HD_CHECK_PASSING: return "passing";
    case HD_CHECK_WARNING: return "warning";
    case HD_CHECK_CRITICAL: return "critical";
    case HD_CHECK_MAINTENANCE: return "maintenance";
    }
    return "critical";
}
