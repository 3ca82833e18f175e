/* preflight — everything `heed agent` checks before it starts, short of
 * binding its address. Start-up and `heed agent --validate` run this one
 * function, so a file that --validate accepts does not stop the agent at
 * start, and when a file is refused both say the same words.
 *
 * It reads and checks; it creates nothing (not even data_dir, which
 * start-up then makes), takes no lock, and leaves no file behind, so it can
 * check the config of an agent that is running. */
#ifndef HD_PREFLIGHT_H
#define HD_PREFLIGHT_H

#include "agent/agent.h"
#include "agent/config.h"

#include <stddef.h>

/* Loads the configuration the agent would run with (the file
 * o->config_path; with o->dev, --dev's sample config over dev_dir), applies
 * o->bind and o->data_dir, and checks, in this order:
 *   - the tls files can be read;
 *   - o->check_api, the API's judgement: beyond loopback at least one
 *     token, and tls or allow_plaintext: true; the tls files load;
 *   - data_dir is a directory this process can write, or can be created;
 *   - the store in data_dir, when there is one, can be opened
 *     (hd_store_check: a heed store of a known schema, readable, writable).
 * Returns 0 with the configuration in *cfg (the caller frees it with
 * hd_config_free), or -1 with the message to print in err (whole lines,
 * no final newline) and *cfg empty. */
int hd_agent_preflight(const hd_agent_opts_t *o, const char *dev_dir, hd_config_t *cfg, char *err,
                       size_t errlen);

#endif
