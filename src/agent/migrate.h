/* migrate — brings a store written before tenants had their own ids to
 * the per-tenant layout, once, at start-up (see migrate.c). */
#ifndef HD_AGENT_MIGRATE_H
#define HD_AGENT_MIGRATE_H

#include <stddef.h>

struct hd_agent_s;

/* Runs the migration on the agent's open store and loop, before the
 * agent loads the store; a->cfg still holds the config file's checks.
 * Returns 0 (done, or nothing to do), or -1 with a message in err: the
 * agent must not start (nothing was lost; the next start tries again). */
int hd_agent_migrate(struct hd_agent_s *a, char *err, size_t errlen);

#endif
