/* agent — `heed agent`: run the agent, or check a config file. */
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/preflight.h"
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

static int run_agent(int argc, char **argv)
{
    hd_agent_opts_t o;
    memset(&o, 0, sizeof(o));
    int validate = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        const char *eq = strchr(a, '=');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        if (!strcmp(name, "--dev")) {
            o.dev = 1;
        } else if (!strcmp(name, "--validate")) {
            validate = 1;
        } else if (!strcmp(name, "-c") || !strcmp(name, "--config")) {
            if (!(o.config_path = hd_cmd_flag_value("agent", argc, argv, &i, eq))) return 2;
        } else if (!strcmp(name, "--bind")) {
            if (!(o.bind = hd_cmd_flag_value("agent", argc, argv, &i, eq))) return 2;
        } else if (!strcmp(name, "--data-dir")) {
            if (!(o.data_dir = hd_cmd_flag_value("agent", argc, argv, &i, eq))) return 2;
        } else if (a[0] == '-') {
            return hd_cmd_usage_error("agent", "unknown flag '%s'", name);
        } else {
            return hd_cmd_usage_error("agent", "unexpected argument '%s'", a);
        }
    }
    if (o.dev && o.config_path)
        return hd_cmd_usage_error("agent", "--dev and --config exclude each other");
    if (!o.dev && !o.config_path)
        return hd_cmd_usage_error("agent", "give a config file (-c FILE) or --dev");
    if (validate) {
        if (o.dev) return hd_cmd_usage_error("agent", "--validate needs -c FILE");
        /* What start-up checks, with --bind and --data-dir, short of binding. */
        hd_config_t cfg;
        char err[8192];
        if (hd_agent_preflight(&o, NULL, &cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("%s: ok (%zu checks, %zu services, %zu tokens)\n", o.config_path, cfg.nchecks,
               cfg.nservices, cfg.ntokens);
        hd_config_free(&cfg);
        return 0;
    }
    return hd_agent_run(&o);
}

const hd_cmd_t hd_cmd_agent = {
    "agent",
    run_agent,
    "run checks on a schedule with state, history and an HTTP API",
    "usage: heed agent -c FILE | --dev [flags]\n"
    "\n"
    "Runs the checks of FILE (YAML, see docs/config.md) on one loop, keeps their\n"
    "state and history in data_dir, and serves the HTTP API (default\n"
    "127.0.0.1:8500). SIGHUP reloads FILE: unchanged checks keep their state; a\n"
    "bad file leaves the running config in place and says why. SIGTERM stops.\n"
    "\n"
    "Flags:\n"
    "  -c, --config FILE    the config file\n"
    "      --dev            a temporary data dir, loopback, a few sample checks\n"
    "      --validate       check FILE and exit: 0 valid, 1 not (errors name\n"
    "                       file:line:column and the key). Runs every check of\n"
    "                       a start (with --bind and --data-dir) but binding:\n"
    "                       tokens and tls beyond loopback, tls files, data_dir,\n"
    "                       the store; creates nothing\n"
    "      --bind HOST:PORT override the config's bind\n"
    "      --data-dir DIR   override the config's data_dir\n"
    "\n"
    "API: /v1/checks (GET, POST), /v1/checks/ID (GET, PUT, DELETE),\n"
    "/v1/checks/ID/pause|resume (PUT), /v1/checks/ID/history, /v1/status,\n"
    "/metrics; TTL checks: PUT /v1/agent/check/pass|warn|fail/ID.\n",
};
