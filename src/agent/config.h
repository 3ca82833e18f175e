/* config — the agent's YAML configuration file: read, checked against its
 * schema, turned into an hd_config_t with every default filled in.
 *
 * docs/config.md is the reference of the format. Every error names
 * `file:line:column: key.path: what was expected`, e.g.
 *   heed.yaml:12:14: checks[2].interval: expected a duration like 10s, got "ten"
 * Unknown keys, duplicate keys and duplicate ids are errors. Up to
 * HD_CONFIG_MAX_ERRORS errors are reported, one per line, in file order of
 * discovery.
 *
 * This module reads and validates; it does not run anything, open the data
 * directory or bind the address. */
#ifndef HD_CONFIG_H
#define HD_CONFIG_H

#include "agent/alert.h"
#include "agent/check.h"
#include "agent/notifier.h"
#include "agent/match.h"

#include <stddef.h>
#include <stdint.h>

#define HD_CONFIG_MAX_ERRORS   20
#define HD_CONFIG_MAX_FILE     (16 * 1024 * 1024) /* a larger file is refused */
#define HD_CONFIG_DEFAULT_BIND "127.0.0.1"
#define HD_CONFIG_DEFAULT_PORT 8500
#define HD_CONFIG_DEFAULT_DATA "/var/lib/heed"
#define HD_CONFIG_MAX_STATUS   HD_HTTP_STATUS_MAX
#define HD_CONFIG_MAX_META     64 /* meta pairs per service (Consul's limit) */

typedef enum hd_config_role_e {
    HD_CONFIG_ROLE_READ = 0,   /* GET only */
    HD_CONFIG_ROLE_WRITE,      /* GET and changes, within its tenant */
    HD_CONFIG_ROLE_MANAGEMENT, /* everything, every tenant */
} hd_config_role_t;

typedef struct hd_config_token_s {
    char *secret;          /* printable ASCII, no spaces; unique */
    hd_config_role_t role; /* required */
    char *tenant;          /* write/read: the one tenant it sees and changes; NULL: not
                            * limited to a tenant (as hd_api_token_t). Always NULL for
                            * management, which sees every tenant. */
} hd_config_token_t;

typedef struct hd_config_meta_s {
    char *key;
    char *value;
} hd_config_meta_t;

typedef struct hd_config_service_s {
    char *id;      /* unique; default: name */
    char *name;    /* required */
    char *address; /* NULL: the node's address */
    int port;      /* 0: none given */
    char **tags;   /* NULL-terminated, may be NULL */
    hd_config_meta_t *meta;
    size_t nmeta;
} hd_config_service_t;

/* A token bucket: rate tokens a second, at most burst saved up. */
typedef struct hd_config_rate_s {
    double rate; /* requests per second; 0: unlimited */
    int burst;
} hd_config_rate_t;

/* The API server's bounds (docs/config.md, "limits"). */
typedef struct hd_config_limits_s {
    size_t max_body_bytes;     /* request body; default 1 MiB */
    size_t max_header_bytes;   /* request line and headers; default 16 KiB */
    int max_conns;             /* open API connections in all; 0 (default): derived from
                                  the open-file limit at start */
    int max_conns_per_client;  /* open connections from one IPv4 address or IPv6 /64;
                                  default 200 */
    int64_t header_timeout_us; /* a request line and headers arrive within; default 10 s */
    int64_t body_timeout_us;   /* a request body arrives within; default 30 s */
    int64_t idle_timeout_us;   /* a keep-alive connection idles at most; default 15 s */
    int64_t send_timeout_us;   /* a reply makes progress to the client within; default 30 s */
    size_t max_unsent_bytes;   /* reply bytes held for one connection; default 1 MiB */
    size_t max_unsent_total;   /* reply bytes held for all connections; default 64 MiB */
    size_t output_max_bytes;   /* check output kept; default 4096 */
} hd_config_limits_t;

/* HTTPS for the API (docs/config.md, "tls"): all NULL/0 is plain HTTP. */
typedef struct hd_config_tls_s {
    char *cert_file;     /* PEM certificate (chain); with key_file, the API speaks HTTPS */
    char *key_file;      /* PEM private key */
    char *ca_file;       /* PEM CAs that sign client certificates (verify_incoming) */
    int verify_incoming; /* clients must present a certificate signed by ca_file */
    int min_version;     /* 12 (default) or 13: TLS 1.2 or 1.3 as the floor */
} hd_config_tls_t;

typedef struct hd_config_rate_limits_s {
    hd_config_rate_t api;         /* every request, per token; default unlimited */
    hd_config_rate_t ping;        /* GET /v1/ping, per token; default 12 a minute, burst 12 */
    hd_config_rate_t status_page; /* each /status route, per client address; default 10 a
                                     second, burst 30 */
} hd_config_rate_limits_t;

typedef struct hd_config_history_s {
    int64_t raw_us;    /* every result; default 48 h */
    int64_t minute_us; /* per-minute rollups; default 30 days */
    int64_t hour_us;   /* per-hour rollups; default 365 days */
} hd_config_history_t;

/* One group of the public status page (docs/status-page.md). */
typedef struct hd_config_status_group_s {
    char *name;       /* the URL segment /status/<name>: [a-z0-9_-], unique; required */
    char *title;      /* shown; default: name */
    int is_public;    /* default 0: shown nowhere, /status/<name> is 404 */
    hd_match_t match; /* which checks; absent: every check (of every tenant) */
    int show_output;  /* default 0: checks' output is not shown */
    int show_target;  /* default 0: checks' targets are not shown (passwords as ***) */
} hd_config_status_group_t;

/* The public status page and badges (`status_page:`). */
typedef struct hd_config_status_page_s {
    char *title; /* the page's heading; default "Status" */
    hd_config_status_group_t *groups;
    size_t ngroups;
} hd_config_status_page_t;

/* The alert engine's settings (docs/alerts.md, "alerting"). */
typedef struct hd_config_alerting_s {
    hd_alert_flap_t flapping; /* default: more than 6 changes in 10 min */
    int64_t retry_min_us;     /* first retry of a delivery; default 1 s, doubling... */
    int64_t retry_max_us;     /* ...up to this; default 5 min */
    size_t outbox_max;        /* undelivered events kept, at most; default 100,000 */
    size_t keep_delivered;    /* finished events kept for GET /v1/events; default 10,000 */
    char **webhook_allow;     /* URLs of API-made notifiers must point at one of these
                                 hosts or CIDRs (NULL-terminated); NULL: any */
} hd_config_alerting_t;

typedef struct hd_config_s {
    char *node;                  /* default: the host name */
    char *datacenter;            /* Consul's datacenter name; default dc1 */
    hd_config_meta_t *node_meta; /* the node's Meta (Consul's node_meta) */
    size_t nnode_meta;
    char *bind_host; /* without brackets for IPv6; default 127.0.0.1 */
    int bind_port;   /* default 8500; 0: any free port */
    char *data_dir;  /* absolute; default /var/lib/heed */
    hd_config_token_t *tokens;
    size_t ntokens;
    /* Every check: the standalone ones in file order, then each service's
     * in file order (service_id set). All have from_config = 1. */
    hd_check_def_t *checks;
    size_t nchecks;
    hd_config_service_t *services;
    size_t nservices;
    hd_config_limits_t limits;
    hd_config_rate_limits_t rate_limits;
    hd_config_tls_t tls;
    int allow_plaintext;        /* default 0: a non-loopback bind needs tls */
    int enable_api_exec_checks; /* default 0: exec: checks from the config file only */
    int enable_api_file_checks; /* default 0: file:// checks from the config file only... */
    char **api_file_paths;      /* ...or under these directories (NULL-terminated, each
                                   absolute and ending in '/'); NULL: none */
    hd_config_history_t history;
    hd_alert_rule_t *alerts; /* `alerts:` in file order */
    size_t nalerts;
    hd_alert_window_t *maintenance; /* `maintenance:` */
    size_t nmaintenance;
    hd_config_alerting_t alerting;
    hd_notifier_def_t *notifiers; /* notify: in file order, from_config = 1, validated */
    size_t nnotifiers;
    hd_config_status_page_t status_page;
} hd_config_t;

/* Fills out with the configuration of an empty file: every default, no
 * tokens, checks or services. */
void hd_config_defaults(hd_config_t *out);
/* Reads and validates the file at path. Returns 0, or -1 with the errors in
 * err (one per line, the first always complete when errlen allows) and out
 * left empty. */
int hd_config_load_file(const char *path, hd_config_t *out, char *err, size_t errlen);
/* As hd_config_load_file for len bytes of YAML; name (e.g. the file name)
 * starts each error message. */
int hd_config_load_string(const char *yaml, size_t len, const char *name, hd_config_t *out,
                          char *err, size_t errlen);
/* Reads one check definition, in the config file's form (YAML or JSON,
 * e.g. an API request body or a stored definition), with the config file's
 * rules and defaults; name starts each error message. from_config is 0:
 * whether an exec: target is allowed is the caller's decision. Returns 0,
 * or -1 with the errors in err and out empty. */
int hd_config_parse_check(const char *text, size_t len, const char *name, hd_check_def_t *out,
                          char *err, size_t errlen);
/* Reads one alert rule (an `alerts:` entry; YAML or JSON, e.g. a POST
 * /v1/alerts body without its id) with the config file's rules; the
 * notifier names are not checked here. Returns 0, or -1 with the errors in
 * err and out empty. */
int hd_config_parse_alert(const char *text, size_t len, const char *name, hd_alert_rule_t *out,
                          char *err, size_t errlen);
/* Sets cfg's bind_host and bind_port from "host:port" or "[v6]:port" (the
 * --bind flag). Returns 0, or -1 with a message in err and cfg unchanged. */
int hd_config_parse_bind(const char *bind, hd_config_t *cfg, char *err, size_t errlen);
/* The configuration of `heed agent --dev`: the defaults (loopback, port
 * 8500), data_dir, and sample checks that work on any machine: the agent's
 * own API port (tcp), /etc/hostname (file), `exec:true`. Returns 0. */
int hd_config_dev(hd_config_t *out, const char *data_dir);
/* Frees everything out holds and empties it. */
void hd_config_free(hd_config_t *c);
/* "read", "write", "management". */
const char *hd_config_role_str(hd_config_role_t r);
/* 1 when a file:// check of path may come through the API: with
 * enable_api_file_checks, or when path lies under one of api_file_paths
 * and has no "." or ".." part (compared as text: a symbolic link inside
 * is followed by the probe). Else 0. */
int hd_config_api_file_allowed(const hd_config_t *cfg, const char *path);

#endif
