/* agent — `heed agent`: runs the configured and API-created checks on one
 * loop, keeps their state and history in the store, and serves the HTTP
 * API. This header is what src/cmd/agent.c needs. */
#ifndef HD_AGENT_H
#define HD_AGENT_H

#include <stddef.h>

typedef struct hd_agent_opts_s {
    const char *config_path; /* NULL with dev */
    int dev;                 /* --dev: a temporary data dir, loopback, sample checks */
    const char *bind;        /* overrides the config's bind ("host:port"), or NULL */
    const char *data_dir;    /* overrides the config's data_dir, or NULL */
} hd_agent_opts_t;

struct hd_config_s;

/* Every start-up check of the API short of binding, for cfg as it will
 * run (bind overrides applied): beyond loopback it needs tokens, and TLS
 * unless allow_plaintext; the TLS certificate, key and CA must load.
 * Returns 0, or -1 with what to change in err. `heed agent --validate`
 * runs it too. */
int hd_agent_check_api(const struct hd_config_s *cfg, char *err, size_t errlen);

/* Runs the agent until SIGTERM or SIGINT. Returns the process exit status:
 * 0 after a clean stop, 1 when it could not start (the reason printed). */
int hd_agent_run(const hd_agent_opts_t *o);

#endif
