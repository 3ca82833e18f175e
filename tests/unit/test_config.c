/* test_config — the agent's YAML config: the issue's example read into the
 * right values, every default, tokens, services with their checks, limits,
 * and for each kind of mistake the exact message a user sees, with its
 * line, column and key path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "agent/check_json.h"
#include "agent/config.h"
#include "util/time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SEC HD_USEC_PER_SEC

static void load_ok(const char *yaml, hd_config_t *c)
{
    char err[4096] = "";
    if (hd_config_load_string(yaml, strlen(yaml), "heed.yaml", c, err, sizeof(err)) != 0)
        fail_msg("refused:\n%s\n---\n%s", yaml, err);
}

/* Expects yaml refused with want as the first line of the message; returns
 * the whole message (static) for more checks. */
static const char *load_bad(const char *yaml, const char *want)
{
    static char err[8192];
    hd_config_t c;
    memset(err, 0, sizeof(err));
    if (hd_config_load_string(yaml, strlen(yaml), "heed.yaml", &c, err, sizeof(err)) == 0) {
        hd_config_free(&c);
        fail_msg("accepted:\n%s\nexpected: %s", yaml, want);
    }
    /* A refused config leaves nothing to free. */
    assert_null(c.node);
    assert_null(c.checks);
    assert_int_equal(c.nchecks, 0);
    char *nl = strchr(err, '\n');
    size_t first = nl ? (size_t)(nl - err) : strlen(err);
    if (strlen(want) != first || strncmp(err, want, first) != 0)
        fail_msg("for:\n%s\ngot:      %s\nexpected: %s", yaml, err, want);
    return err;
}

static const char issue_example[] = "node: web-1                  # default: the host name\n"
                                    "bind: 127.0.0.1:8500         # API address\n"
                                    "data_dir: /var/lib/heed      # SQLite store\n"
                                    "tokens:\n"
                                    "  - secret: s3cr3t\n"
                                    "    role: management\n"
                                    "  - secret: w-team-a\n"
                                    "    role: write\n"
                                    "    tenant: team-a\n"
                                    "checks:\n"
                                    "  - name: homepage\n"
                                    "    target: https://127.0.0.1:8443/\n"
                                    "    interval: 10s\n"
                                    "    timeout: 2s\n"
                                    "    expect: { status: [200], body_contains: OK, "
                                    "latency_ms: 500 }\n"
                                    "    success_before_passing: 1\n"
                                    "    failures_before_warning: 1\n"
                                    "    failures_before_critical: 3\n"
                                    "    tags: [web]\n"
                                    "services:\n"
                                    "  - name: db\n"
                                    "    id: db-1\n"
                                    "    address: 127.0.0.1\n"
                                    "    port: 5432\n"
                                    "    tags: [primary]\n"
                                    "    meta: { version: \"15\" }\n"
                                    "    checks:\n"
                                    "      - target: postgres://127.0.0.1:5432/app\n"
                                    "        interval: 5s\n";

static void test_issue_example(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok(issue_example, &c);
    assert_string_equal(c.node, "web-1");
    assert_string_equal(c.bind_host, "127.0.0.1");
    assert_int_equal(c.bind_port, 8500);
    assert_string_equal(c.data_dir, "/var/lib/heed");

    assert_int_equal(c.ntokens, 2);
    assert_string_equal(c.tokens[0].secret, "s3cr3t");
    assert_int_equal(c.tokens[0].role, HD_CONFIG_ROLE_MANAGEMENT);
    assert_null(c.tokens[0].tenant);
    assert_string_equal(c.tokens[1].secret, "w-team-a");
    assert_int_equal(c.tokens[1].role, HD_CONFIG_ROLE_WRITE);
    assert_string_equal(c.tokens[1].tenant, "team-a");

    assert_int_equal(c.nchecks, 2);
    hd_check_def_t *d = &c.checks[0];
    assert_string_equal(d->id, "homepage");
    assert_string_equal(d->name, "homepage");
    assert_null(d->service_id);
    assert_null(d->tenant);
    assert_int_equal(d->ttl, 0);
    assert_int_equal(d->target.kind, HD_KIND_HTTP);
    assert_string_equal(d->target.url, "https://127.0.0.1:8443/");
    assert_int_equal(d->target.port, 8443);
    assert_int_equal(d->interval_us, 10 * SEC);
    assert_int_equal(d->timeout_us, 2 * SEC);
    assert_int_equal(d->target.http.nstatus, 1);
    assert_int_equal(d->target.http.status[0], 200);
    assert_string_equal(d->target.http.body_contains, "OK");
    assert_int_equal(d->target.http.follow, 0);
    assert_int_equal(d->target.http.insecure, 0);
    assert_int_equal(d->latency_warn_us, 500 * HD_USEC_PER_MSEC);
    assert_int_equal(d->success_before_passing, 1);
    assert_int_equal(d->failures_before_warning, 1);
    assert_int_equal(d->failures_before_critical, 3);
    assert_non_null(d->tags);
    assert_string_equal(d->tags[0], "web");
    assert_null(d->tags[1]);
    assert_int_equal(d->from_config, 1);

    d = &c.checks[1];
    assert_string_equal(d->id, "service:db-1");
    assert_string_equal(d->name, "service:db-1");
    assert_string_equal(d->service_id, "db-1");
    assert_int_equal(d->target.kind, HD_KIND_PG);
    assert_string_equal(d->target.database, "app");
    assert_int_equal(d->interval_us, 5 * SEC);
    assert_int_equal(d->timeout_us, 5 * SEC); /* min(interval, 5s) */
    assert_int_equal(d->from_config, 1);

    assert_int_equal(c.nservices, 1);
    hd_config_service_t *s = &c.services[0];
    assert_string_equal(s->name, "db");
    assert_string_equal(s->id, "db-1");
    assert_string_equal(s->address, "127.0.0.1");
    assert_int_equal(s->port, 5432);
    assert_string_equal(s->tags[0], "primary");
    assert_null(s->tags[1]);
    assert_int_equal(s->nmeta, 1);
    assert_string_equal(s->meta[0].key, "version");
    assert_string_equal(s->meta[0].value, "15");
    hd_config_free(&c);
    assert_null(c.checks);
    hd_config_free(&c); /* twice is harmless */
}

static void assert_defaults(const hd_config_t *c)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host)) != 0 || !host[0]) snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    assert_string_equal(c->node, host);
    assert_string_equal(c->bind_host, "127.0.0.1");
    assert_int_equal(c->bind_port, 8500);
    assert_string_equal(c->data_dir, "/var/lib/heed");
    assert_int_equal(c->ntokens, 0);
    assert_int_equal(c->nchecks, 0);
    assert_int_equal(c->nservices, 0);
    assert_int_equal(c->limits.max_body_bytes, 1024 * 1024);
    assert_int_equal(c->limits.max_header_bytes, 16 * 1024);
    assert_int_equal(c->limits.max_conns_per_client, 200);
    assert_int_equal(c->limits.output_max_bytes, 4096);
    assert_true(c->rate_limits.api.rate == 0);
    assert_true(c->rate_limits.ping.rate == 12.0 / 60.0);
    assert_int_equal(c->rate_limits.ping.burst, 12);
    assert_int_equal(c->enable_api_exec_checks, 0);
    assert_int_equal(c->history.raw_us, 48 * 3600 * SEC);
    assert_int_equal(c->history.minute_us, 30 * 86400 * SEC);
    assert_int_equal(c->history.hour_us, 365 * 86400 * SEC);
}

static void test_defaults(void **state)
{
    (void)state;
    static const char *const empties[] = {
        "", "# only a comment\n", "{}", "---\n", "checks:\nservices: []\ntokens: ~\nlimits:\n",
    };
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        hd_config_t c;
        load_ok(empties[i], &c);
        assert_defaults(&c);
        hd_config_free(&c);
    }
    hd_config_t c;
    hd_config_defaults(&c);
    assert_defaults(&c);
    hd_config_free(&c);
}

static void test_check_defaults(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("checks:\n"
            "  - name: a\n"
            "    target: tcp://127.0.0.1:1\n"
            "  - name: b\n"
            "    target: tcp://127.0.0.1:1\n"
            "    interval: 2s\n"
            "  - name: c\n"
            "    target: http://127.0.0.1/\n"
            "    interval: 1m\n"
            "    follow_redirects: true\n"
            "    expect: {status: 204}\n"
            "  - name: d\n"
            "    id: the-d\n"
            "    ttl: 30s\n"
            "    failures_before_warning: 2\n"
            "    failures_before_critical: 2\n",
            &c);
    assert_int_equal(c.nchecks, 4);
    hd_check_def_t *a = &c.checks[0], *b = &c.checks[1], *cc = &c.checks[2], *d = &c.checks[3];
    assert_int_equal(a->interval_us, 10 * SEC);
    assert_int_equal(a->timeout_us, 5 * SEC);
    assert_int_equal(a->success_before_passing, 1);
    assert_int_equal(a->failures_before_warning, 1);
    assert_int_equal(a->failures_before_critical, 3);
    assert_null(a->tags);
    assert_int_equal(a->latency_warn_us, 0);
    assert_int_equal(a->cert_days_left, 0);
    assert_null(a->dns_expect);
    assert_int_equal(b->interval_us, 2 * SEC);
    assert_int_equal(b->timeout_us, 2 * SEC);
    assert_int_equal(cc->interval_us, 60 * SEC);
    assert_int_equal(cc->timeout_us, 5 * SEC);
    assert_int_equal(cc->target.http.follow, 1);
    assert_int_equal(cc->target.http.nstatus, 1);
    assert_int_equal(cc->target.http.status[0], 204);
    assert_string_equal(d->id, "the-d");
    assert_string_equal(d->name, "d");
    assert_int_equal(d->ttl, 1);
    assert_int_equal(d->ttl_us, 30 * SEC);
    assert_int_equal(d->interval_us, 0);
    assert_null(d->target.url);
    assert_int_equal(d->failures_before_warning, 2);
    assert_int_equal(d->failures_before_critical, 2);
    hd_config_free(&c);

    /* exec: is allowed from the config file, and marked as coming from it. */
    load_bad("checks: [{name: x, target: 'exec:true', insecure: false}]",
             "heed.yaml:1:51: checks[0].insecure: only for https and tls targets (this one is "
             "exec)");
    load_ok("checks: [{name: x, target: 'exec:true'}]", &c);
    assert_int_equal(c.checks[0].target.kind, HD_KIND_EXEC);
    assert_string_equal(c.checks[0].target.argv[0], "true");
    assert_int_equal(c.checks[0].from_config, 1);
    hd_config_free(&c);
    load_ok("checks: [{name: x, target: 'https://h/', insecure: true, "
            "expect: {cert_days_left: 14}}]",
            &c);
    assert_int_equal(c.checks[0].target.http.insecure, 1);
    assert_int_equal(c.checks[0].cert_days_left, 14);
    hd_config_free(&c);
}

static void test_tokens(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("tokens:\n"
            "  - {secret: m, role: management}\n"
            "  - {secret: w, role: write, tenant: team-a}\n"
            "  - {secret: r, role: read}\n",
            &c);
    assert_int_equal(c.ntokens, 3);
    assert_int_equal(c.tokens[0].role, HD_CONFIG_ROLE_MANAGEMENT);
    assert_int_equal(c.tokens[1].role, HD_CONFIG_ROLE_WRITE);
    assert_string_equal(c.tokens[1].tenant, "team-a");
    assert_int_equal(c.tokens[2].role, HD_CONFIG_ROLE_READ);
    assert_null(c.tokens[2].tenant); /* not limited to one tenant */
    assert_string_equal(hd_config_role_str(c.tokens[2].role), "read");
    assert_string_equal(hd_config_role_str(HD_CONFIG_ROLE_MANAGEMENT), "management");
    hd_config_free(&c);

    load_bad("tokens:\n  - {secret: m, role: management, tenant: a}\n",
             "heed.yaml:2:43: tokens[0].tenant: a management token has no tenant: it sees every "
             "tenant");
    load_bad("tokens:\n  - {secret: m}\n", "heed.yaml:2:5: tokens[0]: missing key role "
                                           "(management, write or read)");
    load_bad("tokens:\n  - {role: read}\n", "heed.yaml:2:5: tokens[0]: missing key secret");
    load_bad("tokens:\n  - {secret: m, role: admin}\n",
             "heed.yaml:2:23: tokens[0].role: expected management, write or read, got \"admin\"");
    const char *e = load_bad("tokens:\n  - {secret: 'hunter 2', role: read}\n",
                             "heed.yaml:2:14: tokens[0].secret: expected printable ASCII without "
                             "spaces of 1 to 256 bytes (the value is not shown)");
    assert_null(strstr(e, "hunter"));
    e = load_bad("tokens:\n"
                 "  - {secret: same-1, role: read}\n"
                 "  - {secret: same-1, role: write, tenant: b}\n",
                 "heed.yaml:3:14: tokens[1].secret: the same secret as tokens[0]");
    assert_null(strstr(e, "same-1"));
    load_bad("tokens: {secret: x}\n",
             "heed.yaml:1:9: tokens: expected a list of tokens, got a mapping");
    load_bad("tokens:\n  - {secret: x, role: read, tenant: 'a/b'}\n",
             "heed.yaml:2:37: tokens[0].tenant: expected an id (letters, digits and . _ - : @) "
             "of 1 to 128 bytes, got \"a/b\"");
}

static void test_services(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("checks:\n"
            "  - {name: first, target: 'tcp://127.0.0.1:9'}\n"
            "services:\n"
            "  - name: web\n"
            "    meta: {a: '1', b-c_d: '', n: 2}\n"
            "    checks:\n"
            "      - target: http://127.0.0.1:8080/health\n"
            "      - name: Custom name\n"
            "        ttl: 1m\n"
            "      - id: mine\n"
            "        target: tcp://127.0.0.1:8080\n"
            "  - name: cache\n"
            "    tags: []\n",
            &c);
    assert_int_equal(c.nservices, 2);
    hd_config_service_t *s = &c.services[0];
    assert_string_equal(s->id, "web"); /* defaults to the name */
    assert_null(s->address);
    assert_int_equal(s->port, 0);
    assert_null(s->tags);
    assert_int_equal(s->nmeta, 3);
    assert_string_equal(s->meta[1].key, "b-c_d");
    assert_string_equal(s->meta[1].value, "");
    assert_string_equal(s->meta[2].value, "2");
    assert_string_equal(c.services[1].id, "cache");
    assert_null(c.services[1].tags);

    assert_int_equal(c.nchecks, 4); /* standalone first, then the services' */
    assert_string_equal(c.checks[0].id, "first");
    assert_null(c.checks[0].service_id);
    assert_string_equal(c.checks[1].id, "service:web:1");
    assert_string_equal(c.checks[1].service_id, "web");
    assert_string_equal(c.checks[2].id, "service:web:2");
    assert_string_equal(c.checks[2].name, "Custom name");
    assert_int_equal(c.checks[2].ttl, 1);
    assert_string_equal(c.checks[3].id, "mine");
    assert_string_equal(c.checks[3].name, "mine");
    for (size_t i = 0; i < c.nchecks; i++)
        assert_int_equal(c.checks[i].from_config, 1);
    hd_config_free(&c);

    load_bad("services:\n  - {id: x}\n", "heed.yaml:2:5: services[0]: missing key name");
    load_bad("services:\n  - {name: a}\n  - {name: b, id: a}\n",
             "heed.yaml:3:19: services[1].id: duplicate service id \"a\" (first: services[0].name, "
             "line 2)");
    load_bad("services:\n  - {name: a, port: 70000}\n",
             "heed.yaml:2:21: services[0].port: expected an integer from 1 to 65535, got "
             "\"70000\"");
    load_bad("services:\n  - {name: a, meta: {a.b: x}}\n",
             "heed.yaml:2:22: services[0].meta.a.b: a meta key is 1 to 128 letters, digits, _ and "
             "-");
    load_bad("services:\n  - {name: a, meta: {k: x, k: y}}\n",
             "heed.yaml:2:28: services[0].meta.k: duplicate key (first at line 2)");
    load_bad("services:\n  - {name: a, meta: {k: [x]}}\n",
             "heed.yaml:2:25: services[0].meta.k: expected a string, got a list");
    load_bad("services:\n  - name: a\n    checks:\n      - interval: 5s\n",
             "heed.yaml:4:9: services[0].checks[0]: missing key target (a URL like "
             "tcp://host:port) or ttl (a TTL check)");
    /* A service check's default id can collide with an explicit one. */
    load_bad("checks:\n"
             "  - {name: x, id: 'service:db', target: 'tcp://h:1'}\n"
             "services:\n"
             "  - name: db\n"
             "    checks: [{target: 'tcp://h:2'}]\n",
             "heed.yaml:5:14: services[0].checks[0]: duplicate check id \"service:db\" (first: "
             "checks[0].id, line 2)");
}

static void test_limits_rates_history(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("limits:\n"
            "  max_body_bytes: 2MiB\n"
            "  max_header_bytes: 8 KiB\n"
            "  max_conns_per_client: 10\n"
            "  output_max_bytes: 1000\n"
            "rate_limits:\n"
            "  api: {rate: 100, burst: 500}\n"
            "  ping: {rate: 30/m}\n"
            "enable_api_exec_checks: true\n"
            "history: {raw: 1h, minute: 7d, hour: 400.5d}\n",
            &c);
    assert_int_equal(c.limits.max_body_bytes, 2 * 1024 * 1024);
    assert_int_equal(c.limits.max_header_bytes, 8 * 1024);
    assert_int_equal(c.limits.max_conns_per_client, 10);
    assert_int_equal(c.limits.output_max_bytes, 1000);
    assert_true(c.rate_limits.api.rate == 100);
    assert_int_equal(c.rate_limits.api.burst, 500);
    assert_true(c.rate_limits.ping.rate == 0.5);
    assert_int_equal(c.rate_limits.ping.burst, 30); /* one unit's worth */
    assert_int_equal(c.enable_api_exec_checks, 1);
    assert_int_equal(c.history.raw_us, 3600 * SEC);
    assert_int_equal(c.history.minute_us, 7 * 86400 * SEC);
    assert_int_equal(c.history.hour_us, (400 * 24 + 12) * 3600 * SEC);
    hd_config_free(&c);

    load_ok("rate_limits: {api: {rate: 0.5/s}, ping: {rate: 0}}\n", &c);
    assert_true(c.rate_limits.api.rate == 0.5);
    assert_int_equal(c.rate_limits.api.burst, 1);
    assert_true(c.rate_limits.ping.rate == 0); /* unlimited */
    hd_config_free(&c);

    load_bad("limits: {max_body_bytes: 1MB}\n",
             "heed.yaml:1:26: limits.max_body_bytes: expected a size from 1 KiB to 1 GiB (bytes, "
             "or a number with KiB, MiB or GiB), got \"1MB\"");
    load_bad("limits: {max_conns_per_client: 0}\n",
             "heed.yaml:1:32: limits.max_conns_per_client: expected an integer from 1 to 100000, "
             "got \"0\"");
    load_bad("limits: {output_max_byte: 10}\n",
             "heed.yaml:1:10: limits.output_max_byte: unknown key (expected one of: "
             "max_body_bytes, max_header_bytes, max_conns_per_client, output_max_bytes, "
             "max_conns, header_timeout, body_timeout, idle_timeout, send_timeout, "
             "max_unsent_bytes, max_unsent_total)");
    load_bad("rate_limits: {ping: {rate: 12/min}}\n",
             "heed.yaml:1:28: rate_limits.ping.rate: expected a rate like 12/m or 100/s (at most "
             "1000000 per unit), got \"12/min\"");
    load_bad("history: {raw: 30d, minute: 2d}\n",
             "heed.yaml:1:29: history.minute: minute must not be shorter than raw (a coarser "
             "level keeps older data)");
    load_bad("history: {raw: 30s}\n",
             "heed.yaml:1:16: history.raw: expected a duration of at least 1m, got \"30s\"");
    load_bad("enable_api_exec_checks: yes\n",
             "heed.yaml:1:25: enable_api_exec_checks: expected true or false, got \"yes\"");
}

static void test_server_limits_tls(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("", &c);
    assert_int_equal(c.limits.max_conns, 0);
    assert_int_equal(c.limits.header_timeout_us, 10 * SEC);
    assert_int_equal(c.limits.body_timeout_us, 30 * SEC);
    assert_int_equal(c.limits.idle_timeout_us, 15 * SEC);
    assert_int_equal(c.limits.send_timeout_us, 30 * SEC);
    assert_int_equal(c.limits.max_unsent_bytes, 64 * 1024);
    assert_int_equal(c.limits.max_unsent_total, 32 * 1024 * 1024);
    assert_null(c.tls.cert_file);
    assert_int_equal(c.tls.min_version, 12);
    assert_int_equal(c.allow_plaintext, 0);
    hd_config_free(&c);

    load_ok("limits:\n"
            "  max_conns: 5000\n"
            "  header_timeout: 2s\n"
            "  body_timeout: 1m\n"
            "  idle_timeout: 500ms\n"
            "  send_timeout: 5s\n"
            "  max_unsent_bytes: 256KiB\n"
            "  max_unsent_total: 8MiB\n"
            "tls:\n"
            "  cert_file: /etc/heed/agent.pem\n"
            "  key_file: /etc/heed/agent.key\n"
            "  ca_file: /etc/heed/ca.pem\n"
            "  verify_incoming: true\n"
            "  min_version: TLSv1.3\n"
            "allow_plaintext: true\n",
            &c);
    assert_int_equal(c.limits.max_conns, 5000);
    assert_int_equal(c.limits.header_timeout_us, 2 * SEC);
    assert_int_equal(c.limits.body_timeout_us, 60 * SEC);
    assert_int_equal(c.limits.idle_timeout_us, 500000);
    assert_int_equal(c.limits.send_timeout_us, 5 * SEC);
    assert_int_equal(c.limits.max_unsent_bytes, 256 * 1024);
    assert_int_equal(c.limits.max_unsent_total, 8 * 1024 * 1024);
    assert_string_equal(c.tls.cert_file, "/etc/heed/agent.pem");
    assert_string_equal(c.tls.key_file, "/etc/heed/agent.key");
    assert_string_equal(c.tls.ca_file, "/etc/heed/ca.pem");
    assert_int_equal(c.tls.verify_incoming, 1);
    assert_int_equal(c.tls.min_version, 13);
    assert_int_equal(c.allow_plaintext, 1);
    hd_config_free(&c);

    load_bad("limits: {idle_timeout: 10ms}\n",
             "heed.yaml:1:24: limits.idle_timeout: expected a duration of at least 100ms, got "
             "\"10ms\"");
    load_bad("limits: {max_conns: 3}\n",
             "heed.yaml:1:21: limits.max_conns: expected an integer from 16 to 1000000, got "
             "\"3\"");
    load_bad("limits: {max_unsent_bytes: 128MiB}\n",
             "heed.yaml:1:28: limits.max_unsent_bytes: max_unsent_total must not be below "
             "max_unsent_bytes");
    load_bad("tls: {cert_file: /a.pem}\n",
             "heed.yaml:1:6: tls: cert_file and key_file go together (the API's certificate and "
             "its key)");
    load_bad("tls: {cert_file: /a.pem, key_file: /a.key, verify_incoming: true}\n",
             "heed.yaml:1:61: tls.verify_incoming: needs ca_file: the CAs that sign the clients' "
             "certificates");
    load_bad("tls: {ca_file: /ca.pem}\n",
             "heed.yaml:1:6: tls: ca_file and verify_incoming need cert_file and key_file");
    load_bad("tls: {cert_file: /a.pem, key_file: /a.key, min_version: TLSv1.1}\n",
             "heed.yaml:1:57: tls.min_version: expected TLSv1.2 or TLSv1.3, got \"TLSv1.1\"");
    load_bad("allow_plaintext: 1\n",
             "heed.yaml:1:18: allow_plaintext: expected true or false, got \"1\"");
}

static void test_bind(void **state)
{
    (void)state;
    static const struct {
        const char *bind, *host;
        int port;
    } ok[] = {
        {"0.0.0.0:9000", "0.0.0.0", 9000},
        {"'[::1]:8500'", "::1", 8500}, /* unquoted, YAML reads [ as a list */
        {"localhost:0", "localhost", 0},
        {"'[fe80::1]:1'", "fe80::1", 1},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char y[128];
        hd_config_t c;
        snprintf(y, sizeof(y), "bind: %s\n", ok[i].bind);
        load_ok(y, &c);
        assert_string_equal(c.bind_host, ok[i].host);
        assert_int_equal(c.bind_port, ok[i].port);
        hd_config_free(&c);
    }
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", ":8500", "host:65536",
                                      "[::1]8500", "[nothex]:1", "a b:1", "h:-1",
                                      "[::1]:",    "h:08x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char y[128], want[256];
        snprintf(y, sizeof(y), "bind: '%s'\n", bad[i]);
        snprintf(want, sizeof(want),
                 "heed.yaml:1:7: bind: expected host:port like 127.0.0.1:8500 or [::1]:8500, "
                 "got \"%s\"",
                 bad[i]);
        load_bad(y, want);
    }
    load_bad("bind: ::1:8500\n",
             "heed.yaml:1:7: bind: write an IPv6 address in brackets, like [::1]:8500");
}

/* One of each kind of mistake, with its exact position and key path. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        /* YAML syntax, with libfyaml's position */
        {"checks:\n  - name: a\n    target: [tcp://x:1\n",
         "heed.yaml:4:1: invalid YAML: flow sequence without a closing bracket"},
        {"a: b: c\n", "heed.yaml:1:5: invalid YAML: invalid nested block mapping on the same line"},
        {"node: a\n---\nnode: b\n",
         "heed.yaml:2:1: only one YAML document is allowed (found a second '---')"},
        {"defaults: &d {interval: 5s}\nchecks:\n  - *d\n",
         "heed.yaml:3:5: aliases (*name) are not supported: write the value out"},
        {"? [a]\n: b\n", "heed.yaml:1:3: a key must be a plain value, not a list"},
        /* the shape of the file */
        {"- node: a\n", "heed.yaml:1:1: expected a mapping of settings (node, bind, checks, ...), "
                        "got a list"},
        {"nodes: a\n", "heed.yaml:1:1: nodes: unknown key (expected one of: node, bind, "
                       "data_dir, tokens, checks, services, limits, rate_limits, "
                       "enable_api_exec_checks, history, enable_api_file_checks, "
                       "api_file_paths, tls, allow_plaintext, datacenter, node_meta, node_name, "
                       "alerts, maintenance, alerting, notify, status_page)"},
        {"node: a\nbind: 127.0.0.1:1\nnode: b\n",
         "heed.yaml:3:1: node: duplicate key (first at line 1)"},
        {"checks: {name: a}\n", "heed.yaml:1:9: checks: expected a list of checks, got a mapping"},
        {"checks:\n  - just-a-string\n",
         "heed.yaml:2:5: checks[0]: expected a mapping of keys, got \"just-a-string\""},
        {"data_dir: relative/dir\n",
         "heed.yaml:1:11: data_dir: expected an absolute path, got \"relative/dir\""},
        {"node:\n", "heed.yaml:1:1: node: expected an id (letters, digits and . _ - : @), got "
                    "nothing"},
        {"node: \"a\\0b\"\n", "heed.yaml:1:7: node: expected an id (letters, digits and . _ - : "
                              "@) of 1 to 128 bytes, got \"a\\x00b\""},
        /* checks */
        {"checks:\n  - name: a\n    target: tcp://127.0.0.1:1\n    intervall: 5s\n",
         "heed.yaml:4:5: checks[0].intervall: unknown key (expected one of: name, id, target, "
         "ttl, interval, timeout, expect, success_before_passing, failures_before_warning, "
         "failures_before_critical, tags, follow_redirects, insecure, service, notes, method, "
         "headers, body, deregister_critical_service_after, tls)"},
        {"checks:\n"
         "  - {name: a, target: 'tcp://h:1'}\n"
         "  - {name: b, target: 'tcp://h:1'}\n"
         "  - name: c\n"
         "    target: tcp://h:1\n"
         "    interval: ten\n",
         "heed.yaml:6:15: checks[2].interval: expected a duration like 10s, got \"ten\""},
        {"checks:\n  - {name: a, target: 'tcp://h:1', interval: 50ms}\n",
         "heed.yaml:2:46: checks[0].interval: expected a duration of at least 100ms, got "
         "\"50ms\""},
        {"checks:\n  - {name: a, target: 'tcp://h:1', timeout: 20s}\n",
         "heed.yaml:2:45: checks[0].timeout: 20s is longer than the interval (10s by default): a "
         "run must end before the next one starts"},
        {"checks:\n  - {name: a, target: 'tcp://h:1', interval: 1s, timeout: 2s}\n",
         "heed.yaml:2:59: checks[0].timeout: 2s is longer than the interval (1s): a run must "
         "end before the next one starts"},
        {"checks:\n  - {name: a, target: 'gopher://h:1'}\n",
         "heed.yaml:2:23: checks[0].target: unknown scheme 'gopher' (expected tcp, unix, http, "
         "https, postgres, mysql, redis, file, exec, icmp, dns or tls)"},
        {"checks:\n  - {name: a, target: 'tcp://h'}\n",
         "heed.yaml:2:23: checks[0].target: tcp URL needs a port (tcp://host:port)"},
        {"checks:\n  - {name: a}\n", "heed.yaml:2:5: checks[0]: missing key target (a URL like "
                                     "tcp://host:port) or ttl (a TTL check)"},
        {"checks:\n  - {target: 'tcp://h:1'}\n",
         "heed.yaml:2:5: checks[0]: missing key name (every check outside a service needs one)"},
        {"checks:\n  - {name: a, target: 'tcp://h:1', ttl: 10s}\n",
         "heed.yaml:2:41: checks[0].ttl: a check has a target or a ttl, not both"},
        {"checks:\n  - {name: a, ttl: 10s, timeout: 1s}\n",
         "heed.yaml:2:34: checks[0].timeout: not used by a ttl check (its service reports its "
         "status through the API)"},
        {"checks:\n  - {name: a, ttl: 10s}\n  - {name: a, ttl: 10s}\n",
         "heed.yaml:3:12: checks[1].name: duplicate check id \"a\" (first: checks[0].name, line "
         "2)"},
        {"checks:\n  - {name: a, ttl: 10s}\n  - {name: b, id: a, ttl: 10s}\n",
         "heed.yaml:3:19: checks[1].id: duplicate check id \"a\" (first: checks[0].name, line 2)"},
        {"checks:\n  - {name: My check, ttl: 10s}\n",
         "heed.yaml:2:12: checks[0].name: \"My check\" cannot serve as the check's id: add an id "
         "(letters, digits and . _ - : @)"},
        {"checks:\n  - {name: a, ttl: 10s, failures_before_warning: 4}\n",
         "heed.yaml:2:50: checks[0].failures_before_warning: failures_before_critical (3) must "
         "be at least failures_before_warning (4)"},
        {"checks:\n  - {name: a, ttl: 10s, failures_before_critical: 0}\n",
         "heed.yaml:2:51: checks[0].failures_before_critical: expected an integer from 1 to "
         "10000, got \"0\""},
        {"checks:\n  - {name: a, ttl: 10s, tags: web}\n",
         "heed.yaml:2:31: checks[0].tags: expected a list like [web, prod], got \"web\""},
        {"checks:\n  - {name: a, target: 'tcp://h:1', follow_redirects: yes}\n",
         "heed.yaml:2:54: checks[0].follow_redirects: only for http(s) targets (this one is "
         "tcp)"},
        {"checks:\n  - {name: a, target: 'http://h/', follow_redirects: 1}\n",
         "heed.yaml:2:54: checks[0].follow_redirects: expected true or false, got \"1\""},
        /* expect */
        {"checks:\n  - {name: a, target: 'tcp://h:1', expect: {status: [200]}}\n",
         "heed.yaml:2:53: checks[0].expect.status: only for http(s) targets (this one is tcp)"},
        {"checks:\n  - {name: a, target: 'http://h/', expect: {status: [200, 99]}}\n",
         "heed.yaml:2:59: checks[0].expect.status[1]: expected an integer from 100 to 599, got "
         "\"99\""},
        {"checks:\n  - {name: a, target: 'http://h/', expect: {status: []}}\n",
         "heed.yaml:2:53: checks[0].expect.status: expected 1 to 32 status codes, got 0"},
        {"checks:\n  - {name: a, target: 'http://h/', expect: {body: OK}}\n",
         "heed.yaml:2:45: checks[0].expect.body: unknown key (expected one of: status, "
         "body_contains, latency_ms, cert_days_left, dns, tls_refuses)"},
        {"checks:\n  - {name: a, target: 'http://h/', expect: {cert_days_left: 14}}\n",
         "heed.yaml:2:61: checks[0].expect.cert_days_left: only for https and tls targets (this "
         "one is http)"},
        {"checks:\n  - {name: a, target: 'http://h/', expect: {dns: 10.0.0.1}}\n",
         "heed.yaml:2:50: checks[0].expect.dns: only for dns targets (this one is http)"},
        {"checks:\n  - {name: a, target: 'http://h/', timeout: 1s, expect: {latency_ms: 1000}}\n",
         "heed.yaml:2:70: checks[0].expect.latency_ms: 1000 ms is not below the timeout (1s): the "
         "check would time out first"},
        {"checks:\n  - {name: a, target: 'http://h/', expect: [200]}\n",
         "heed.yaml:2:44: checks[0].expect: expected a mapping of keys, got a list"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        load_bad(cases[i].yaml, cases[i].want);
}

/* Several mistakes are all reported, in file order, whatever the order in
 * which the sections are checked. */
static void test_several_errors(void **state)
{
    (void)state;
    const char *e = load_bad("services:\n"
                             "  - {name: a, port: x}\n"
                             "checks:\n"
                             "  - {name: a, target: 'tcp://h:1', interval: ten}\n"
                             "node: 'a b'\n",
                             "heed.yaml:2:21: services[0].port: expected an integer from 1 to "
                             "65535, got \"x\"");
    assert_string_equal(e, "heed.yaml:2:21: services[0].port: expected an integer from 1 to "
                           "65535, got \"x\"\n"
                           "heed.yaml:4:46: checks[0].interval: expected a duration like 10s, "
                           "got \"ten\"\n"
                           "heed.yaml:5:7: node: expected an id (letters, digits and . _ - : @) "
                           "of 1 to 128 bytes, got \"a b\"");

    /* Past HD_CONFIG_MAX_ERRORS, the rest are counted. */
    char y[8192] = "checks:\n";
    for (int i = 0; i < 25; i++) {
        size_t l = strlen(y);
        snprintf(y + l, sizeof(y) - l, "  - {name: c%d, ttl: never}\n", i);
    }
    e = load_bad(y, "heed.yaml:2:21: checks[0].ttl: expected a duration like 10s, got \"never\"");
    assert_contains(e, "heed.yaml:21:22: checks[19].ttl: expected a duration like 10s, got "
                       "\"never\"\nheed.yaml: 5 more errors not shown");
    assert_null(strstr(e, "checks[20]"));

    /* A small buffer gets the start of the first error. */
    char small[24];
    hd_config_t c;
    assert_int_equal(
        hd_config_load_string("node: 'a b'", 11, "heed.yaml", &c, small, sizeof(small)), -1);
    assert_string_equal(small, "heed.yaml:1:7: node: ex");
}

static void test_long_values_quoted_short(void **state)
{
    (void)state;
    char y[512];
    snprintf(y, sizeof(y), "node: %s\n",
             "abcdefghij abcdefghij abcdefghij abcdefghij abcdefghij abcdefghij");
    load_bad(y, "heed.yaml:1:7: node: expected an id (letters, digits and . _ - : @) of 1 to 128 "
                "bytes, got \"abcdefghij abcdefghij abcdefghij abcdefghij abcd...\"");
    load_bad("checks:\n  - {name: \"a\\tb\", ttl: 1s}\n",
             "heed.yaml:2:12: checks[0].name: expected text without control characters of 1 to "
             "256 bytes, got \"a\\x09b\"");
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/heed-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char y[] = "node: from-file\nchecks:\n  - {name: a, target: 'tcp://h:1', interval: x}\n";
    assert_int_equal(write(fd, y, 10), 10); /* "node: from" */
    close(fd);

    hd_config_t c;
    char err[512];
    assert_int_equal(hd_config_load_file(path, &c, err, sizeof(err)), 0);
    assert_string_equal(c.node, "from");
    hd_config_free(&c);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(y, f);
    fclose(f);
    assert_int_equal(hd_config_load_file(path, &c, err, sizeof(err)), -1);
    char want[512];
    snprintf(want, sizeof(want),
             "%s:3:46: checks[0].interval: expected a duration like 10s, got \"x\"", path);
    assert_string_equal(err, want);
    assert_null(c.node);
    unlink(path);

    assert_int_equal(hd_config_load_file(path, &c, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(hd_config_load_file("/", &c, err, sizeof(err)), -1);
    assert_string_equal(err, "/: Is a directory");
}

/* The node as the catalog shows it: datacenter (dc1 by default) and
 * node_meta, with a service's meta rules. */
static void test_node_fields(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("node: n1\n", &c);
    assert_string_equal(c.datacenter, "dc1");
    assert_int_equal(c.nnode_meta, 0);
    hd_config_free(&c);
    load_ok("node: n1\ndatacenter: east-1\nnode_meta:\n  rack: r1\n  zone: \"\"\n", &c);
    assert_string_equal(c.datacenter, "east-1");
    assert_int_equal(c.nnode_meta, 2);
    assert_string_equal(c.node_meta[0].key, "rack");
    assert_string_equal(c.node_meta[0].value, "r1");
    assert_string_equal(c.node_meta[1].value, "");
    hd_config_free(&c);
    load_ok("node_name: n2\n", &c); /* Consul's spelling of node */
    assert_string_equal(c.node, "n2");
    hd_config_free(&c);
    load_bad("node: a\nnode_name: b\n",
             "heed.yaml:2:12: node_name: the same as node (Consul's spelling): give one of them");
    load_bad("node_meta: [a]\n",
             "heed.yaml:1:12: node_meta: expected a mapping of keys to strings, got a list");
    load_bad("datacenter: 'a b'\n", "heed.yaml:1:13: datacenter: expected an id (letters, digits "
                                    "and . _ - : @) of 1 to 64 bytes, got \"a b\"");
}

static void test_dev(void **state)
{
    (void)state;
    hd_config_t c;
    assert_int_equal(hd_config_dev(&c, "/tmp/heed-dev-x"), 0);
    assert_string_equal(c.data_dir, "/tmp/heed-dev-x");
    assert_string_equal(c.bind_host, "127.0.0.1");
    assert_int_equal(c.bind_port, 8500);
    assert_int_equal(c.ntokens, 0);
    assert_int_equal(c.nchecks, 3);
    assert_string_equal(c.checks[0].target.url, "tcp://127.0.0.1:8500");
    assert_int_equal(c.checks[1].target.kind, HD_KIND_FILE);
    assert_string_equal(c.checks[1].target.path, "/etc/hostname");
    assert_int_equal(c.checks[2].target.kind, HD_KIND_EXEC);
    for (size_t i = 0; i < c.nchecks; i++)
        assert_int_equal(c.checks[i].from_config, 1);
    hd_config_free(&c);
}

/* A reload keeps the state of a check whose definition compares equal. */
static void test_def_equal(void **state)
{
    (void)state;
    static const char base[] = "checks:\n"
                               "  - name: a\n"
                               "    target: http://127.0.0.1/\n"
                               "    tags: [x, y]\n"
                               "    expect: {status: [200, 204], body_contains: OK}\n"
                               "  - {name: t, ttl: 30s}\n";
    static const char *const changed[] = {
        "    tags: [y, x]\n",
        "    tags: [x]\n",
        "    interval: 11s\n",
        "    timeout: 4s\n",
        "    expect: {status: [200], body_contains: OK}\n",
        "    expect: {status: [200, 204], body_contains: Ok}\n",
        "    expect: {status: [200, 204], body_contains: OK, latency_ms: 100}\n",
        "    follow_redirects: true\n",
        "    target: http://127.0.0.1:80/\n",
        "    failures_before_critical: 4\n",
        "    success_before_passing: 2\n",
        "    failures_before_warning: 2\n",
        "    id: other\n",
    };
    hd_config_t a, b;
    load_ok(base, &a);
    load_ok(base, &b);
    assert_true(hd_check_def_equal(&a.checks[0], &b.checks[0]));
    assert_true(hd_check_def_equal(&a.checks[1], &b.checks[1]));
    assert_false(hd_check_def_equal(&a.checks[0], &b.checks[1]));
    hd_config_free(&b);
    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
        /* The changed line replaces its key's line, or is added. */
        char y[1024] = "checks:\n  - name: a\n";
        const char *keys[] = {"    target:", "    tags:", "    expect:"};
        int replaced[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++)
            replaced[k] = strncmp(changed[i], keys[k], strlen(keys[k])) == 0;
        size_t l = strlen(y);
        snprintf(y + l, sizeof(y) - l, "%s%s%s%s  - {name: t, ttl: 30s}\n",
                 replaced[0] ? changed[i] : "    target: http://127.0.0.1/\n",
                 replaced[1] ? changed[i] : "    tags: [x, y]\n",
                 replaced[2] ? changed[i] : "    expect: {status: [200, 204], body_contains: OK}\n",
                 replaced[0] || replaced[1] || replaced[2] ? "" : changed[i]);
        load_ok(y, &b);
        if (hd_check_def_equal(&a.checks[0], &b.checks[0]))
            fail_msg("equal despite the change: %s", changed[i]);
        assert_true(hd_check_def_equal(&a.checks[1], &b.checks[1]));
        hd_config_free(&b);
    }
    load_ok("checks:\n  - {name: t, ttl: 31s}\n", &b);
    assert_false(hd_check_def_equal(&a.checks[1], &b.checks[0]));
    hd_config_free(&b);
    hd_config_free(&a);

    /* No tags and an empty list are the same definition. */
    hd_check_def_t x, y;
    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    char *empty[] = {NULL};
    y.tags = empty;
    assert_true(hd_check_def_equal(&x, &y));
}

/* One check alone (an API body, a stored definition): same rules, JSON too. */
/* A check's tls: {ca_file, cert_file, key_file}: for https and tls
 * targets, a key with its certificate; the stored form reads back equal. */
static void test_check_tls_files(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("checks:\n"
            "  - name: api\n"
            "    target: https://127.0.0.1:8443/\n"
            "    tls: {ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/c.key}\n"
            "  - name: edge\n"
            "    target: tls://127.0.0.1:443\n"
            "    tls: {ca_file: /etc/ca.pem}\n",
            &c);
    assert_int_equal(c.nchecks, 2);
    const hd_tls_files_t *a = &c.checks[0].target.tls_files, *e = &c.checks[1].target.tls_files;
    assert_string_equal(a->ca_file, "/etc/ca.pem");
    assert_string_equal(a->cert_file, "/etc/c.pem");
    assert_string_equal(a->key_file, "/etc/c.key");
    assert_string_equal(e->ca_file, "/etc/ca.pem");
    assert_null(e->cert_file);
    hd_check_def_t back;
    char err[512];
    json_t *stored = hd_check_def_to_json(&c.checks[0]);
    char *text = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    assert_int_equal(hd_config_parse_check(text, strlen(text), "stored", &back, err, sizeof(err)),
                     0);
    back.from_config = 1;
    assert_true(hd_check_def_equal(&c.checks[0], &back));
    hd_check_def_free(&back);
    free(text);
    hd_config_free(&c);

    /* The protocol floor: tls targets only, known versions. */
    load_ok("checks:\n  - name: edge\n    target: tls://127.0.0.1:443\n"
            "    expect: {tls_refuses: [tls1.0, TLSv1.1]}\n",
            &c);
    assert_int_equal(c.checks[0].target.tls.refuse, 0x3);
    stored = hd_check_def_to_json(&c.checks[0]);
    text = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    assert_non_null(strstr(text, "\"tls_refuses\":[\"tls1.0\",\"tls1.1\"]"));
    assert_int_equal(hd_config_parse_check(text, strlen(text), "stored", &back, err, sizeof(err)),
                     0);
    back.from_config = 1;
    assert_true(hd_check_def_equal(&c.checks[0], &back));
    hd_check_def_free(&back);
    free(text);
    hd_config_free(&c);
    load_bad("checks:\n  - name: edge\n    target: tls://127.0.0.1:443\n"
             "    expect: {tls_refuses: [tls1.0, ssl3]}\n",
             "heed.yaml:4:36: checks[0].expect.tls_refuses[1]: unknown TLS version 'ssl3' "
             "(expected tls1.0, tls1.1, tls1.2 or tls1.3)");
    load_bad("checks:\n  - name: web\n    target: https://127.0.0.1/\n"
             "    expect: {tls_refuses: [tls1.0]}\n",
             "heed.yaml:4:27: checks[0].expect.tls_refuses: only for tls targets (this one is "
             "http)");

    load_bad("checks:\n  - name: db\n    target: tcp://127.0.0.1:5432\n"
             "    tls: {ca_file: /etc/ca.pem}\n",
             "heed.yaml:4:10: checks[0].tls: only for https and tls targets (this one is tcp)");
    load_bad("checks:\n  - name: api\n    target: https://127.0.0.1/\n"
             "    tls: {key_file: /etc/c.key}\n",
             "heed.yaml:4:21: checks[0].tls.key_file: needs cert_file: the client certificate");
    load_bad("checks:\n  - name: api\n    target: https://127.0.0.1/\n"
             "    tls: {ca: /etc/ca.pem}\n",
             "heed.yaml:4:11: checks[0].tls.ca: unknown key (expected one of: ca_file, cert_file, "
             "key_file)");
}

static void test_parse_check(void **state)
{
    (void)state;
    hd_check_def_t d;
    char err[512];
    static const char json[] = "{\"name\": \"web\", \"target\": \"http://127.0.0.1:8080/\", "
                               "\"interval\": \"1500ms\", \"expect\": {\"status\": [200, 301]}, "
                               "\"tags\": [\"a\"], \"follow_redirects\": true}";
    assert_int_equal(hd_config_parse_check(json, strlen(json), "body", &d, err, sizeof(err)), 0);
    assert_string_equal(d.id, "web");
    assert_int_equal(d.interval_us, 1500 * HD_USEC_PER_MSEC);
    assert_int_equal(d.timeout_us, 1500 * HD_USEC_PER_MSEC);
    assert_int_equal(d.target.http.nstatus, 2);
    assert_int_equal(d.target.http.status[1], 301);
    assert_int_equal(d.target.http.follow, 1);
    assert_int_equal(d.from_config, 0); /* the caller decides about exec: */
    hd_check_def_free(&d);

    static const char bad[] = "{\"name\": \"web\", \"target\": \"tcp://h:1\", \"interval\": 5}";
    assert_int_equal(hd_config_parse_check(bad, strlen(bad), "body", &d, err, sizeof(err)), 0);
    assert_int_equal(d.interval_us, 5 * SEC); /* a bare number is seconds */
    hd_check_def_free(&d);
    static const char worse[] = "{\"name\": \"web\", \"target\": \"tcp://h:1\", \"every\": 5}";
    assert_int_equal(hd_config_parse_check(worse, strlen(worse), "body", &d, err, sizeof(err)), -1);
    assert_string_equal(err,
                        "body:1:40: every: unknown key (expected one of: name, id, target, ttl, "
                        "interval, timeout, expect, success_before_passing, "
                        "failures_before_warning, failures_before_critical, tags, "
                        "follow_redirects, insecure, service, notes, method, headers, body, "
                        "deregister_critical_service_after, tls)");
    assert_null(d.id);
    assert_int_equal(hd_config_parse_check("[1]", 3, "body", &d, err, sizeof(err)), -1);
    assert_string_equal(err,
                        "body:1:1: expected a check: a mapping of name, target, interval, ..., "
                        "got a list");
    assert_int_equal(hd_config_parse_check("{", 1, "body", &d, err, sizeof(err)), -1);
    assert_contains(err, "body:");
    assert_contains(err, "invalid YAML");
}

static void test_parse_bind(void **state)
{
    (void)state;
    hd_config_t c;
    char err[256];
    hd_config_defaults(&c);
    assert_int_equal(hd_config_parse_bind("[::1]:9999", &c, err, sizeof(err)), 0);
    assert_string_equal(c.bind_host, "::1");
    assert_int_equal(c.bind_port, 9999);
    assert_int_equal(hd_config_parse_bind("::1:9999", &c, err, sizeof(err)), -1);
    assert_string_equal(err, "write an IPv6 address in brackets, like [::1]:8500");
    assert_int_equal(hd_config_parse_bind("nope", &c, err, sizeof(err)), -1);
    assert_string_equal(err, "expected host:port like 127.0.0.1:8500 or [::1]:8500");
    assert_string_equal(c.bind_host, "::1"); /* unchanged */
    hd_config_free(&c);
}

/* Input YAML must be UTF-8 text: a bad byte is named where it is. */
static void test_not_utf8(void **state)
{
    (void)state;
    load_bad("node: a\nbind: \xff\n", "heed.yaml:2:7: invalid UTF-8 (byte 0xff): the file must "
                                      "be UTF-8 text");
    load_bad("%\xf2", "heed.yaml:1:2: invalid UTF-8 (byte 0xf2): the file must be UTF-8 text");
    load_bad("node: \xc3\xa9\x01\n",
             "heed.yaml:1:8: control character 0x01 is not allowed in YAML");
    load_bad("node: \xed\xa0\x80\n", /* a UTF-16 surrogate */
             "heed.yaml:1:7: invalid UTF-8 (byte 0xed): the file must be UTF-8 text");
    hd_config_t c;
    load_ok("\xef\xbb\xbf"
            "checks: [{name: caf\xc3\xa9, id: cafe, ttl: 1s}]\n",
            &c); /* a BOM */
    assert_string_equal(c.checks[0].name, "caf\xc3\xa9");
    hd_config_free(&c);
}

/* enable_api_file_checks and api_file_paths: which file:// checks the API
 * may create (hd_config_api_file_allowed). */
static void test_api_file_checks(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("node: a\n", &c);
    assert_int_equal(c.enable_api_file_checks, 0);
    assert_null(c.api_file_paths);
    assert_false(hd_config_api_file_allowed(&c, "/etc/shadow"));
    hd_config_free(&c);

    load_ok("enable_api_file_checks: true\n", &c);
    assert_true(hd_config_api_file_allowed(&c, "/etc/shadow"));
    hd_config_free(&c);

    load_ok("api_file_paths: [/var/run/app, /srv/ready/]\n", &c);
    assert_string_equal(c.api_file_paths[0], "/var/run/app/");
    assert_string_equal(c.api_file_paths[1], "/srv/ready/");
    assert_null(c.api_file_paths[2]);
    static const char *const yes[] = {"/var/run/app/ready", "/var/run/app/a/b", "/var/run/app",
                                      "/var/run/app/",      "/srv/ready/x",     NULL};
    static const char *const no[] = {"/etc/shadow",
                                     "/var/run/apple",
                                     "/var/run/app/../x",
                                     "/var/run/app/./ready",
                                     "/var/run/app//ready",
                                     "/var/run/app/a/..",
                                     "/var/run",
                                     "var/run/app/x",
                                     "",
                                     "/srv/readyx",
                                     NULL};
    for (const char *const *p = yes; *p; p++)
        if (!hd_config_api_file_allowed(&c, *p)) fail_msg("%s refused", *p);
    for (const char *const *p = no; *p; p++)
        if (hd_config_api_file_allowed(&c, *p)) fail_msg("%s allowed", *p);
    assert_false(hd_config_api_file_allowed(&c, NULL));
    hd_config_free(&c);

    load_bad("enable_api_file_checks: 1\n",
             "heed.yaml:1:25: enable_api_file_checks: expected true or false, got \"1\"");
    load_bad("api_file_paths: /var/run/app\n",
             "heed.yaml:1:17: api_file_paths: expected a list like [web, prod], got "
             "\"/var/run/app\"");
    load_bad("api_file_paths: [var/run]\n",
             "heed.yaml:1:18: api_file_paths[0]: expected an absolute directory without . or .. "
             "parts, other than /, got \"var/run\"");
    load_bad("api_file_paths: [/a, /var/../etc]\n",
             "heed.yaml:1:22: api_file_paths[1]: expected an absolute directory without . or .. "
             "parts, other than /, got \"/var/../etc\"");
    load_bad("api_file_paths: [/]\n",
             "heed.yaml:1:18: api_file_paths[0]: expected an absolute directory without . or .. "
             "parts, other than /, got \"/\"");
}

/* What Consul's HTTP checks carry (method, headers, body), notes, a
 * standalone check's service, and deregister_critical_service_after. */
static void test_consul_keys(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("services:\n"
            "  - name: web\n"
            "    checks:\n"
            "      - target: http://127.0.0.1:8080/\n"
            "        method: POST\n"
            "        headers: {Authorization: Bearer x, Accept: [a, b]}\n"
            "        body: '{\"q\": 1}'\n"
            "        notes: pages on-call\n"
            "        deregister_critical_service_after: 90m\n"
            "checks:\n"
            "  - name: web-ttl\n"
            "    ttl: 30s\n"
            "    service: web\n",
            &c);
    assert_int_equal(c.nchecks, 2);
    const hd_check_def_t *t = &c.checks[0], *h = &c.checks[1];
    assert_string_equal(t->service_id, "web");
    assert_string_equal(h->service_id, "web");
    assert_string_equal(h->target.http.method, "POST");
    assert_string_equal(h->target.http.headers[0], "Authorization: Bearer x");
    assert_string_equal(h->target.http.headers[1], "Accept: a");
    assert_string_equal(h->target.http.headers[2], "Accept: b");
    assert_null(h->target.http.headers[3]);
    assert_string_equal(h->target.http.body, "{\"q\": 1}");
    assert_string_equal(h->notes, "pages on-call");
    assert_int_equal(h->deregister_after_us, 90LL * 60 * 1000000);
    hd_config_free(&c);

    load_bad("checks:\n  - name: a\n    ttl: 30s\n    service: nope\n",
             "heed.yaml:2:11: checks[0]: service: no service with id \"nope\" in this file (a "
             "check may belong to one of the file's services)");
    load_bad("checks:\n  - name: a\n    target: tcp://127.0.0.1:1\n    method: GET\n",
             "heed.yaml:4:13: checks[0].method: only for http(s) targets (this one is tcp)");
    load_bad("checks:\n  - name: a\n    target: http://127.0.0.1:1\n    method: \"GE T\"\n",
             "heed.yaml:4:13: checks[0].method: expected an HTTP method like GET, HEAD or POST, "
             "got \"GE T\"");
    load_bad("checks:\n  - name: a\n    target: http://127.0.0.1:1\n    headers: {\"A B\": x}\n",
             "heed.yaml:4:15: checks[0].headers.A B: a header name is 1 to 64 letters, digits "
             "and !#$%&'*+-.^_`|~");
    /* A credential's value is not quoted back, even when it is wrong. */
    const char *e = load_bad("checks:\n  - name: a\n    target: http://127.0.0.1:1\n"
                             "    headers: {X-Auth-Token: \"s3cr\\x01t\"}\n",
                             "heed.yaml:4:29: checks[0].headers.X-Auth-Token: expected text of "
                             "at most 4096 bytes without control characters (the value is not "
                             "shown)");
    assert_null(strstr(e, "s3cr"));
    load_bad("checks:\n  - name: a\n    ttl: 30s\n    deregister_critical_service_after: 5m\n",
             "heed.yaml:4:40: checks[0].deregister_critical_service_after: only for a service's "
             "check (it deregisters the service)");
    load_bad("services:\n  - name: web\n    checks:\n      - ttl: 30s\n"
             "        deregister_critical_service_after: 30s\n",
             "heed.yaml:5:44: services[0].checks[0].deregister_critical_service_after: expected "
             "a duration of at least 1m, got \"30s\"");
    load_bad("services:\n  - name: web\n    checks:\n      - ttl: 30s\n        service: web\n",
             "heed.yaml:5:18: services[0].checks[0].service: not in a service's check: it belongs "
             "to the service it is listed under");
    load_bad("checks:\n  - name: a\n    ttl: 30s\n    method: GET\n",
             "heed.yaml:4:13: checks[0].method: not used by a ttl check (its service reports its "
             "status through the API)");
}

/* status_page: the groups, their defaults, match, and each mistake at its key. */
static void test_status_page(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("", &c);
    assert_null(c.status_page.title);
    assert_int_equal(c.status_page.ngroups, 0);
    assert_true(c.rate_limits.status_page.rate == 10.0);
    assert_int_equal(c.rate_limits.status_page.burst, 30);
    hd_config_free(&c);

    load_ok("status_page:\n"
            "  title: \"Acme status\"\n"
            "  groups:\n"
            "    - name: web\n"
            "      title: Web\n"
            "      public: true\n"
            "      match: { tags: [web], services: [front], tenant: acme }\n"
            "      show_output: true\n"
            "    - name: internal_db-2\n"
            "rate_limits:\n"
            "  status_page: {rate: 2/s, burst: 5}\n",
            &c);
    const hd_config_status_page_t *sp = &c.status_page;
    assert_string_equal(sp->title, "Acme status");
    assert_int_equal(sp->ngroups, 2);
    assert_string_equal(sp->groups[0].name, "web");
    assert_string_equal(sp->groups[0].title, "Web");
    assert_int_equal(sp->groups[0].is_public, 1);
    assert_int_equal(sp->groups[0].show_output, 1);
    assert_int_equal(sp->groups[0].show_target, 0);
    assert_string_equal(sp->groups[0].match.tags[0], "web");
    assert_null(sp->groups[0].match.tags[1]);
    assert_string_equal(sp->groups[0].match.services[0], "front");
    assert_string_equal(sp->groups[0].match.tenant, "acme");
    assert_null(sp->groups[0].match.checks);
    /* Defaults: private, nothing shown, every check. */
    assert_string_equal(sp->groups[1].name, "internal_db-2");
    assert_null(sp->groups[1].title);
    assert_int_equal(sp->groups[1].is_public, 0);
    assert_int_equal(sp->groups[1].show_output, 0);
    assert_int_equal(sp->groups[1].show_target, 0);
    assert_true(hd_match_is_all(&sp->groups[1].match));
    assert_true(c.rate_limits.status_page.rate == 2.0);
    assert_int_equal(c.rate_limits.status_page.burst, 5);
    hd_config_free(&c);

    load_bad("status_page:\n  groups:\n    - name: Web\n",
             "heed.yaml:3:13: status_page.groups[0].name: expected a group name of 1 to 64 of "
             "a-z, 0-9, _ and -, got \"Web\"");
    load_bad("status_page:\n  groups:\n    - name: \"a/b\"\n",
             "heed.yaml:3:13: status_page.groups[0].name: expected a group name of 1 to 64 of "
             "a-z, 0-9, _ and -, got \"a/b\"");
    load_bad("status_page:\n  groups:\n    - public: true\n",
             "heed.yaml:3:7: status_page.groups[0]: missing key name (the group's URL segment, "
             "e.g. web)");
    load_bad("status_page:\n  groups:\n    - name: a\n      public: 1\n",
             "heed.yaml:4:15: status_page.groups[0].public: expected true or false, got \"1\"");
    load_bad("status_page:\n  groups:\n    - name: a\n    - name: a\n",
             "heed.yaml:4:7: status_page.groups[1].name: the same name as status_page.groups[0]");
    load_bad("status_page:\n  groups:\n    - name: a\n      match: [web]\n",
             "heed.yaml:4:14: status_page.groups[0].match: expected a mapping like {tags: [web]} "
             "(checks, services, tags, tenant), got a list");
    load_bad("status_page:\n  colour: red\n",
             "heed.yaml:2:3: status_page.colour: unknown key (expected one of: title, groups)");
    load_bad("status_page:\n  title: \"\"\n",
             "heed.yaml:2:10: status_page.title: expected text without control characters of 1 "
             "to 200 bytes, got \"\"");
}

static void test_alerts(void **state)
{
    (void)state;
    hd_config_t c;
    load_ok("notify:\n"
            "  - {name: ops-hook, webhook: {url: \"http://127.0.0.1:9/hook\"}}\n"
            "  - {name: am, alertmanager: {url: \"http://127.0.0.1:9\"}}\n"
            "  - {name: mail, exec: {command: [/bin/true]}}\n"
            "alerts:\n"
            "  - match: { tags: [web] }\n"
            "    notify: [ops-hook, am]\n"
            "    for: 30s\n"
            "    remind_every: 1h\n"
            "  - notify: [mail]\n"
            "    send_resolved: false\n"
            "maintenance:\n"
            "  - match: { services: [db] }\n"
            "    start: \"2026-12-01T02:00:00Z\"\n"
            "    duration: 1h\n"
            "    every: week\n"
            "alerting:\n"
            "  flapping: {changes: 4, window: 5m}\n"
            "  retry_max: 30s\n"
            "  outbox_max: 500\n"
            "  webhook_allow: [127.0.0.1/8]\n",
            &c);
    assert_int_equal(c.nalerts, 2);
    assert_string_equal(c.alerts[0].match.tags[0], "web");
    assert_string_equal(c.alerts[0].notify[1], "am");
    assert_int_equal(c.alerts[0].for_us, 30 * SEC);
    assert_int_equal(c.alerts[0].remind_every_us, 3600 * SEC);
    assert_int_equal(c.alerts[0].send_resolved, 1);
    assert_int_equal(c.alerts[1].send_resolved, 0);
    assert_true(hd_match_is_all(&c.alerts[1].match));
    assert_int_equal(c.nmaintenance, 1);
    assert_int_equal(c.maintenance[0].every, HD_WINDOW_WEEK);
    assert_int_equal(c.maintenance[0].duration_us, 3600 * SEC);
    assert_int_equal(c.maintenance[0].start_us, 1796090400LL * SEC);
    assert_int_equal(c.alerting.flapping.changes, 4);
    assert_int_equal(c.alerting.flapping.window_us, 300 * SEC);
    assert_int_equal(c.alerting.retry_min_us, SEC);
    assert_int_equal(c.alerting.retry_max_us, 30 * SEC);
    assert_int_equal(c.alerting.outbox_max, 500);
    assert_int_equal(c.alerting.keep_delivered, 10000);
    assert_string_equal(c.alerting.webhook_allow[0], "127.0.0.1/8");
    hd_config_free(&c);

    load_bad("alerts:\n  - match: {tags: [web]}\n", "heed.yaml:2:5: alerts[0]: notify is required: "
                                                    "the names of the notifiers to tell");
    load_bad("alerts:\n  - notify: [a]\n    for: soon\n",
             "heed.yaml:2:14: alerts[0].notify[0]: no notifier named \"a\" (notify: defines 0)");
    load_bad("notify: [{name: a, exec: {command: [/bin/true]}}]\n"
             "alerts:\n  - notify: [a]\n    for: soon\n",
             "heed.yaml:4:10: alerts[0].for: expected a duration like 10s, got \"soon\"");
    load_bad("maintenance:\n  - start: 2026-12-01\n    duration: 1h\n",
             "heed.yaml:2:12: maintenance[0].start: expected an RFC 3339 time like "
             "2026-12-01T02:00:00Z, got \"2026-12-01\"");
    load_bad("maintenance:\n  - start: 2026-12-01T00:00:00Z\n    duration: 8d\n    every: week\n",
             "heed.yaml:3:15: maintenance[0].duration: must be shorter than the recurrence (week)");
    load_bad("alerting:\n  retry_min: 10s\n  retry_max: 1s\n",
             "heed.yaml:3:14: alerting.retry_max: retry_max must not be below retry_min");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_check_defaults),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_limits_rates_history),
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_several_errors),
        cmocka_unit_test(test_long_values_quoted_short),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_dev),
        cmocka_unit_test(test_node_fields),
        cmocka_unit_test(test_def_equal),
        cmocka_unit_test(test_parse_check),
        cmocka_unit_test(test_check_tls_files),
        cmocka_unit_test(test_parse_bind),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_api_file_checks),
        cmocka_unit_test(test_server_limits_tls),
        cmocka_unit_test(test_consul_keys),
        cmocka_unit_test(test_status_page),
        cmocka_unit_test(test_alerts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
