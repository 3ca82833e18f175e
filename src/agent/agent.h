/* agent — `heed agent`: runs the configured and API-created checks on one
 * loop, keeps their state and history in the store, and serves the HTTP
 * API. This header is what src/cmd/agent.c needs. */
#ifndef HD_AGENT_H
#define HD_AGENT_H

typedef struct hd_agent_opts_s {
    const char *config_path; /* NULL with dev */
    int dev;                 /* --dev: a temporary data dir, loopback, sample checks */
    const char *bind;        /* overrides the config's bind ("host:port"), or NULL */
    const char *data_dir;    /* overrides the config's data_dir, or NULL */
} hd_agent_opts_t;

/* Runs the agent until SIGTERM or SIGINT. Returns the process exit status:
 * 0 after a clean stop, 1 when it could not start (the reason printed). */
int hd_agent_run(const hd_agent_opts_t *o);

#endif
