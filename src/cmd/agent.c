/* agent — `heed agent`: run the agent, or check a config file.
 *
 * This file wires the agent (agent/agent.h), which knows nothing of HTTP,
 * to the API server (api/server.h) and the routes (api/routes.h): it makes
 * the server with options from the config, registers every route, listens
 * once the agent has loaded, and gives the agent its hooks into the API (the
 * API's judgement of a config, and what a SIGHUP reload means for it).
 *
 * Under systemd (Type=notify) it tells the service manager READY=1 once the
 * API listens (the store's state is loaded before: hd_agent_open),
 * STOPPING=1 when a signal stops the loop, and WATCHDOG=1 from a timer on
 * the loop itself when WatchdogSec= is set, so that a stuck loop stops the
 * pings and systemd restarts the agent (util/sdnotify.h). */
#include "agent/agent.h"
#include "agent/changelog.h"
#include "agent/config.h"
#include "agent/preflight.h"
#include "api/routes.h"
#include "api/server.h"
#include "cmd/cmd.h"
#include "util/fdlimit.h"
#include "util/mem.h"
#include "util/sdnotify.h"

#include <event2/event.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the API server's options ----------------------------------------------- */

static int ms_of(int64_t us)
{
    int64_t ms = us / 1000;
    return ms > INT_MAX ? INT_MAX : ms < 1 ? 1 : (int)ms;
}

/* The API server's options for cfg; toks has room for cfg->ntokens and
 * holds pointers into cfg. nofile: the open-file limit, from which the
 * connection cap comes unless limits.max_conns sets it. */
static void api_opts(const hd_config_t *cfg, long nofile, hd_api_token_t *toks, hd_api_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < cfg->ntokens; i++) {
        toks[i].secret = cfg->tokens[i].secret;
        toks[i].role = cfg->tokens[i].role == HD_CONFIG_ROLE_MANAGEMENT ? HD_ROLE_MANAGEMENT
                       : cfg->tokens[i].role == HD_CONFIG_ROLE_WRITE    ? HD_ROLE_WRITE
                                                                        : HD_ROLE_READ;
        toks[i].tenant = cfg->tokens[i].tenant;
    }
    const hd_config_limits_t *l = &cfg->limits;
    o->tokens = toks;
    o->ntokens = cfg->ntokens;
    o->max_body_bytes = l->max_body_bytes;
    o->max_header_bytes = l->max_header_bytes;
    o->max_conns = l->max_conns ? l->max_conns : hd_fdlimit_conns(nofile);
    o->max_conns_per_client = l->max_conns_per_client;
    o->header_timeout_ms = ms_of(l->header_timeout_us);
    o->body_timeout_ms = ms_of(l->body_timeout_us);
    o->idle_timeout_ms = ms_of(l->idle_timeout_us);
    o->send_timeout_ms = ms_of(l->send_timeout_us);
    o->max_unsent_bytes = l->max_unsent_bytes;
    o->max_unsent_total = l->max_unsent_total;
    o->rate = cfg->rate_limits.api.rate > 0 ? cfg->rate_limits.api.rate : -1;
    o->burst = cfg->rate_limits.api.burst;
    o->tls.cert_file = cfg->tls.cert_file;
    o->tls.key_file = cfg->tls.key_file;
    o->tls.ca_file = cfg->tls.ca_file;
    o->tls.verify_incoming = cfg->tls.verify_incoming;
    o->tls.min_version = cfg->tls.min_version;
    o->allow_plaintext = cfg->allow_plaintext;
}

/* Every start-up check of the API short of binding, for cfg as it will
 * run (bind overrides applied): beyond loopback it needs tokens, and TLS
 * unless allow_plaintext; the TLS certificate, key and CA must load. The
 * agent's hd_agent_api_check_fn: start-up and --validate run it. */
static int check_api(const hd_config_t *cfg, char *err, size_t errlen)
{
    hd_api_token_t *toks = hd_xcalloc(cfg->ntokens + 1, sizeof(*toks));
    hd_api_opts_t o;
    api_opts(cfg, 1024, toks, &o);
    int rc = hd_api_check(&o, cfg->bind_host, err, errlen);
    free(toks);
    return rc;
}

/* ---- the agent and its API, wired ------------------------------------------- */

typedef struct wiring_s {
    hd_agent_t *agent;
    hd_api_t *api;
    long nofile;                /* the open-file limit after raising it */
    hd_api_consul_ctx_t consul; /* what the KV, session and txn routes serve from */
    hd_status_page_t *status;   /* the public status page's cache */
    hd_sdnotify_t notify;       /* systemd's $NOTIFY_SOCKET, if any */
    struct event *watchdog;     /* WATCHDOG=1 every half WatchdogSec, or NULL */
} wiring_t;

/* GET /v1/ping's own rate limit (rate_limits.ping); 0 lifts it. */
static void ping_limit(hd_api_t *api, const hd_config_t *cfg)
{
    const hd_config_rate_t *lim = &cfg->rate_limits.ping;
    double burst = lim->burst > 0 ? lim->burst : lim->rate < 1 ? 1 : lim->rate;
    (void)hd_api_route_limit(api, "GET", "/v1/ping", lim->rate > 0 ? lim->rate : 0,
                             burst); /* the route exists: hd_api_ping_routes made it */
}

/* The agent's reload hook (hd_agent_reload_fn): the server takes next's
 * tokens, limits, rate limits and TLS files, or nothing changes. */
static int on_reload(void *arg, const hd_config_t *next, char *err, size_t errlen)
{
    wiring_t *w = arg;
    if (check_api(next, err, errlen) < 0) return -1;
    hd_api_token_t *toks = hd_xcalloc(next->ntokens + 1, sizeof(*toks));
    hd_api_opts_t o;
    api_opts(next, w->nofile, toks, &o);
    int rc = hd_api_reconfigure(w->api, &o, err, errlen);
    free(toks);
    if (rc < 0) return -1;
    ping_limit(w->api, next);
    (void)hd_api_status_page_limit(w->api, next); /* the routes exist: start_api made them */
    return 0;
}

/* Makes the API server, registers every route and listens. */
static int start_api(wiring_t *w, char *err, size_t errlen)
{
    hd_agent_t *a = w->agent;
    const hd_config_t *cfg = hd_agent_config(a);
    hd_api_token_t *toks = hd_xcalloc(cfg->ntokens + 1, sizeof(*toks));
    hd_api_opts_t o;
    api_opts(cfg, w->nofile, toks, &o);
    w->api = hd_api_new(hd_agent_base(a), &o);
    free(toks);
    hd_api_t *api = w->api;
    w->consul.kv = hd_agent_kv(a);
    w->consul.sessions = hd_agent_sessions(a);
    /* Copies: a reload frees the config's strings. */
    snprintf(w->consul.dc, sizeof(w->consul.dc), "%s", cfg->datacenter ? cfg->datacenter : "dc1");
    snprintf(w->consul.node, sizeof(w->consul.node), "%s", cfg->node);
    if (hd_api_checks_routes(api, a, err, errlen) < 0 ||
        hd_api_events_routes(api, a, err, errlen) < 0 ||
        hd_api_alerting_routes(api, a, err, errlen) < 0 ||
        hd_api_ping_routes(api, a, err, errlen) < 0 ||
        hd_api_agent_routes(api, a, err, errlen) < 0 ||
        hd_api_agent_check_routes(api, a, err, errlen) < 0 ||
        hd_api_health_routes(api, a, err, errlen) < 0 ||
        hd_api_catalog_routes(api, a, err, errlen) < 0 ||
        hd_api_status_routes(api, a, err, errlen) < 0 ||
        hd_api_ui_routes(api, a, err, errlen) < 0 ||
        hd_api_kv_routes(api, &w->consul, err, errlen) < 0 ||
        hd_api_session_routes(api, &w->consul, err, errlen) < 0 ||
        hd_api_txn_routes(api, &w->consul, err, errlen) < 0)
        return -1;
    w->status = hd_api_status_page_new(a);
    if (hd_api_status_page_routes(api, w->status, err, errlen) < 0) return -1;
    if (hd_api_listen(api, cfg->bind_host, cfg->bind_port, err, errlen) < 0) return -1;
    hd_agent_on_reload(a, on_reload, w);
    return 0;
}

/* Tells systemd the loop still turns (a timer of the loop: a stuck loop
 * sends nothing, and systemd restarts the agent). */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wiring_t *w = arg;
    (void)hd_sdnotify_send(&w->notify, "WATCHDOG=1"); /* systemd gone: nothing to do */
}

/* The agent loaded and the API listening: READY=1, and the watchdog's
 * timer when systemd asks for one. */
static void notify_ready(wiring_t *w)
{
    char msg[64];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%zu checks", hd_agent_check_count(w->agent));
    int rc = hd_sdnotify_send(&w->notify, msg);
    if (rc < 0) fprintf(stderr, "heed agent: cannot notify systemd: %s\n", strerror(-rc));
    if (w->notify.watchdog_us > 0) {
        int64_t half = w->notify.watchdog_us / 2;
        struct timeval tv = {(time_t)(half / 1000000), (suseconds_t)(half % 1000000)};
        w->watchdog = event_new(hd_agent_base(w->agent), -1, EV_PERSIST, on_watchdog, w);
        event_add(w->watchdog, &tv);
        on_watchdog(-1, 0, w);
    }
}

/* --dev (`make run`): what to try next and how to stop, with this
 * binary's path as it was started and the address when it is not the
 * clients' default. */
static void dev_hint(const hd_config_t *cfg, const char *host, int port)
{
    char addr[340] = "";
    if (strcmp(cfg->bind_host, HD_CONFIG_DEFAULT_BIND) || port != HD_CONFIG_DEFAULT_PORT)
        snprintf(addr, sizeof(addr), " --addr http://%s:%d", host, port);
    const char *me = program_invocation_name;
    printf("Try:  %s checks list%s   (or: status, checks history agent-api)\n"
           "Stop: Ctrl-C (the temporary data dir goes with it)\n",
           me, addr);
}

/* Runs the agent and its API until SIGTERM or SIGINT: 0 after a clean
 * stop, 1 when it could not start (the reason printed). */
static int run(hd_agent_opts_t *o)
{
    wiring_t w;
    memset(&w, 0, sizeof(w));
    /* Connections, probes and the store all need descriptors; the cap on
     * connections comes from this limit (fdlimit.h). */
    w.nofile = hd_fdlimit_raise();
    o->check_api = check_api;
    /* Taken out of the environment before any exec check can inherit it. */
    int nrc = hd_sdnotify_init(&w.notify);
    if (nrc < 0)
        fprintf(stderr, "heed agent: NOTIFY_SOCKET ignored: %s\n",
                nrc == -EAFNOSUPPORT ? "neither an absolute path nor @abstract" : strerror(-nrc));
    /* The store, the caches and the config's services are loaded when it
     * returns: only then does the API listen. */
    if (hd_agent_open(o, &w.agent) < 0) return 1;
    char err[8192];
    int rc = 1;
    if (start_api(&w, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed agent: %s\n", err);
        goto out;
    }
    hd_agent_api_bound(w.agent, hd_api_port(w.api));
    const hd_config_t *cfg = hd_agent_config(w.agent);
    char host[300];
    snprintf(host, sizeof(host), strchr(cfg->bind_host, ':') ? "[%s]" : "%s", cfg->bind_host);
    printf("heed agent %s: node %s, %zu checks, data in %s\n"
           "API: %s://%s:%d/v1/checks  (status: /v1/status, metrics: /metrics)\n",
           HEED_VERSION, cfg->node, hd_agent_check_count(w.agent), cfg->data_dir,
           cfg->tls.cert_file ? "https" : "http", host, hd_api_port(w.api));
    if (o->dev) dev_hint(cfg, host, hd_api_port(w.api));
    fflush(stdout);
    notify_ready(&w);
    rc = hd_agent_run(w.agent);
    (void)hd_sdnotify_send(&w.notify, "STOPPING=1"); /* systemd gone: nothing to do */
    if (w.watchdog) event_free(w.watchdog);
out:
    /* The store closes first (answering the writes in flight), then the
     * server (its held requests wait on the caches' topics), then the
     * caches. */
    hd_agent_close(w.agent);
    if (w.api) hd_api_free(w.api);
    hd_api_status_page_free(w.status);
    hd_agent_free(w.agent);
    hd_sdnotify_close(&w.notify);
    return rc;
}

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
        } else if (!strcmp(name, "--log-format")) {
            const char *v = hd_cmd_flag_value("agent", argc, argv, &i, eq);
            hd_log_format_t f;
            if (!v) return 2;
            if (hd_log_format_parse(v, &f) < 0)
                return hd_cmd_usage_error("agent", "--log-format: '%s' is neither text nor json",
                                          v);
            o.log_json = f == HD_LOG_JSON;
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
        o.check_api = check_api;
        if (hd_agent_preflight(&o, NULL, &cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("%s: ok (%zu checks, %zu services, %zu tokens)\n", o.config_path, cfg.nchecks,
               cfg.nservices, cfg.ntokens);
        hd_config_free(&cfg);
        return 0;
    }
    return run(&o);
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
    "Each status change is logged on stdout, one line: time, check, old -> new\n"
    "status, output. Under systemd (Type=notify) it says READY=1 once the API\n"
    "listens, WATCHDOG=1 when WatchdogSec= is set, STOPPING=1 on SIGTERM.\n"
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
    "      --log-format F   text (default) or json: the status-change lines\n"
    "      --data-dir DIR   override the config's data_dir\n"
    "\n"
    "API: /v1/checks (GET, POST), /v1/checks/ID (GET, PUT, DELETE),\n"
    "/v1/checks/ID/pause|resume (PUT), /v1/checks/ID/history, /v1/status,\n"
    "/metrics; TTL checks: PUT /v1/agent/check/pass|warn|fail/ID. Public, no\n"
    "token: /status, /status/GROUP and its badge.svg, uptime.svg (status_page:).\n",
};
