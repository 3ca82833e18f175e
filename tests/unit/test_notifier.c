/* test_notifier — the template language (parse errors, escaping inside and
 * outside JSON strings, absent values, the built-ins), notifier
 * definitions (JSON in and out with secrets masked, validation, exec
 * refused from the API), `notify:` in the config file, and the callback
 * contract on a real loop (never inside the call, cancelled by free, free
 * from inside the callback). Receivers themselves: the integration tests
 * (tests/integration/test_notifiers.py). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/config.h"
#include "agent/notifier.h"
#include "agent/notifier_tmpl.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Renders text for the sample event; fails the test if it does not parse. */
static char *render(const char *text, const json_t *ev)
{
    char err[400] = "";
    hd_tmpl_t *t = hd_tmpl_parse(text, strlen(text), err, sizeof(err));
    if (!t) fail_msg("'%s' refused: %s", text, err);
    hd_buf_t b = {0};
    hd_tmpl_render(t, ev, &b);
    hd_tmpl_free(t);
    return b.data ? b.data : strdup("");
}

static void parse_bad(const char *text, const char *want)
{
    char err[400] = "";
    hd_tmpl_t *t = hd_tmpl_parse(text, strlen(text), err, sizeof(err));
    if (t) {
        hd_tmpl_free(t);
        fail_msg("'%s' accepted, expected '%s'", text, want);
    }
    if (!strstr(err, want)) fail_msg("'%s': got '%s', expected '%s'", text, err, want);
}

static void test_template_errors(void **state)
{
    (void)state;
    parse_bad("{\"a\": \"{{chek.name}}\"}", "line 1: unknown field \"chek.name\"");
    parse_bad("{\n\n\"a\": \"{{ nope }}\"}", "line 3: unknown field \"nope\"");
    parse_bad("{\"a\": \"{{status\"}", "line 1: \"{{\" without \"}}\" on the same line");
    parse_bad("{\"a\": \"{{sta\ntus}}\"}", "line 1: \"{{\" without \"}}\"");
    parse_bad("{\"a\": \"{{}}\"}", "unknown field \"\"");
    parse_bad("", "empty");
    char big[HD_TMPL_MAX + 2];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    parse_bad(big, "longer than 65536 bytes");
    char nul[] = "ab\0cd";
    char err[100];
    assert_null(hd_tmpl_parse(nul, 5, err, sizeof(err)));
    assert_string_equal(err, "holds a NUL byte");
}

static void test_template_escaping(void **state)
{
    (void)state;
    json_t *ev = hd_tmpl_sample_event();
    json_object_set_new(ev, "output", json_string("a \"q\" \\ b\nc\td \xc3\xa9 \x01"));
    char *s = render("{\"t\": \"[{{output}}]\", \"o\": {{output}}}", ev);
    assert_string_equal(s, "{\"t\": \"[a \\\"q\\\" \\\\ b\\nc\\td \xc3\xa9 \\u0001]\", "
                           "\"o\": \"a \\\"q\\\" \\\\ b\\nc\\td \xc3\xa9 \\u0001\"}");
    json_t *back = json_loads(s, 0, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "o")),
                        "a \"q\" \\ b\nc\td \xc3\xa9 \x01");
    json_decref(back);
    free(s);
    /* A "{{" after an escaped quote is still inside the string. */
    s = render("{\"t\": \"\\\"{{status}}\\\"\", \"n\": {{time_unix_ms}}, \"f\": {{flapping}}}", ev);
    assert_string_equal(s, "{\"t\": \"\\\"critical\\\"\", \"n\": 1796090430000, \"f\": false}");
    free(s);
    json_decref(ev);
}

static void test_template_values(void **state)
{
    (void)state;
    json_t *ev = hd_tmpl_sample_event();
    char *s = render("{{check.tags}} \"{{check.tags}}\" {{check.tenant}} \"{{check.tenant}}\"", ev);
    assert_string_equal(s, "[\"web\"] \"web\" null \"\"");
    free(s);
    json_object_set_new(ev, "service", json_null());
    s = render("\"{{service.name}}\" {{service.name}} {{service}}", ev);
    assert_string_equal(s, "\"\" null null");
    free(s);
    s = render("{{color}} {{status_upper}} \"{{summary}}\"", ev);
    assert_string_equal(s, "\"#e01e5a\" \"CRITICAL\" \"web is CRITICAL (was passing)\"");
    free(s);
    /* Text outside JSON strings and substitutions is kept byte for byte. */
    s = render("  {  \"k\" :\t{{ id }} }\n", ev);
    assert_string_equal(s, "  {  \"k\" :\t\"node1-1\" }\n");
    free(s);
    json_decref(ev);
}

static void test_summary(void **state)
{
    (void)state;
    static const struct {
        const char *kind, *status, *old, *want;
    } cases[] = {
        {"triggered", "warning", "passing", "web is WARNING (was passing)"},
        {"resolved", "passing", "critical", "web is PASSING again (was critical)"},
        {"reminder", "critical", "critical", "web is still CRITICAL"},
        {"flapping", "warning", "critical", "web is flapping (now warning)"},
        {"flapping_end", "passing", "warning", "web stopped flapping (now passing)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ev = hd_tmpl_sample_event();
        json_object_set_new(ev, "kind", json_string(cases[i].kind));
        json_object_set_new(ev, "status", json_string(cases[i].status));
        json_object_set_new(ev, "old_status", json_string(cases[i].old));
        hd_buf_t b = {0};
        hd_tmpl_summary(ev, &b);
        assert_string_equal(b.data, cases[i].want);
        hd_buf_free(&b);
        json_decref(ev);
    }
}

static void test_builtins(void **state)
{
    (void)state;
    json_t *ev = hd_tmpl_sample_event();
    char *s = render(hd_tmpl_builtin("generic"), ev);
    json_t *back = json_loads(s, 0, NULL);
    assert_true(json_equal(back, ev));
    json_decref(back);
    free(s);
    s = render(hd_tmpl_builtin("slack"), ev);
    back = json_loads(s, 0, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "text")),
                        "web is CRITICAL (was passing)");
    json_t *att = json_array_get(json_object_get(back, "attachments"), 0);
    assert_string_equal(json_string_value(json_object_get(att, "text")),
                        "HTTP 503\nline two \"quoted\"");
    json_decref(back);
    free(s);
    assert_null(hd_tmpl_builtin("teams"));
    json_decref(ev);
}

static int from_json_ok(const char *text, hd_notifier_def_t *d)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    char err[512] = "";
    int rc = hd_notifier_def_from_json(j, d, err, sizeof(err));
    json_decref(j);
    if (rc < 0) fail_msg("'%s' refused: %s", text, err);
    return rc;
}

static void from_json_bad(const char *text, const char *want)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    hd_notifier_def_t d;
    char err[512] = "";
    int rc = hd_notifier_def_from_json(j, &d, err, sizeof(err));
    json_decref(j);
    if (rc == 0) {
        hd_notifier_def_free(&d);
        fail_msg("'%s' accepted, expected '%s'", text, want);
    }
    if (!strstr(err, want)) fail_msg("'%s': got '%s', expected '%s'", text, err, want);
}

static void test_def_json(void **state)
{
    (void)state;
    hd_notifier_def_t d;
    from_json_ok(
        "{\"name\": \"ops\", \"webhook\": {\"url\": \"https://u:Pw-secret1@127.0.0.1:9/h\","
        " \"headers\": {\"X-Key\": \"Hdr-secret2\"}, \"template\": \"slack\","
        " \"timeout\": \"5s\"}}",
        &d);
    assert_int_equal(d.kind, HD_NOTIFIER_WEBHOOK);
    assert_int_equal(d.from_config, 0);
    assert_int_equal(d.timeout_us, 5000000);
    assert_string_equal(d.headers[0].value, "Hdr-secret2");
    hd_notifier_def_t c;
    hd_notifier_def_copy(&c, &d);
    hd_notifier_def_free(&d);
    json_t *j = hd_notifier_def_to_json(&c);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s,
                        "{\"kind\":\"webhook\",\"name\":\"ops\",\"source\":\"api\",\"tenant\":"
                        "null,\"webhook\":{\"headers\":{\"X-Key\":\"***\"},\"template\":"
                        "\"slack\",\"timeout\":\"5s\",\"url\":\"https://u:***@127.0.0.1:9/h\"}}");
    free(s);
    json_decref(j);
    hd_notifier_def_free(&c);

    from_json_ok("{\"name\": \"m\", \"smtp\": {\"url\": \"smtps://127.0.0.1:465\", \"from\": "
                 "\"heed@example.test\", \"to\": \"ops@example.test\"}}",
                 &d);
    assert_string_equal(d.to[0], "ops@example.test");
    assert_null(d.to[1]);
    hd_notifier_def_free(&d);
    from_json_ok("{\"name\": \"am\", \"alertmanager\": {\"url\": \"http://127.0.0.1:9093\", "
                 "\"resolve_timeout\": \"2h\"}}",
                 &d);
    assert_int_equal(d.resolve_timeout_us, 7200LL * 1000000);
    hd_notifier_def_free(&d);

    from_json_bad("{\"name\": \"x\", \"exec\": {\"command\": [\"/bin/true\"]}}",
                  "come from the config file only");
    from_json_bad("{\"name\": \"x\"}", "expected exactly one of webhook");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"http://127.0.0.1/\"}, "
                  "\"smtp\": {}}",
                  "expected exactly one of webhook");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"http://127.0.0.1/\", \"bogus\": 1}}",
                  "webhook.bogus: unknown key");
    from_json_bad("{\"name\": \"a b\", \"webhook\": {\"url\": \"http://127.0.0.1/\"}}",
                  "name: expected 1 to 64 letters");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"file:///etc/passwd\"}}",
                  "webhook.url: file:///etc/passwd: expected http:// or https://");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"http://u:Pw-3@127.0.0.1/\", "
                  "\"template_text\": \"{{nope}}\"}}",
                  "webhook.template: line 1: unknown field \"nope\"");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"http://127.0.0.1/\", "
                  "\"template_text\": \"not json {{status}}\"}}",
                  "webhook.template: the body is not valid JSON");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"http://127.0.0.1/\", "
                  "\"headers\": {\"X-A\": \"a\\r\\nInjected: 1\"}}}",
                  "webhook.headers.X-A: expected text of at most 4096 bytes");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"http://127.0.0.1/\", "
                  "\"timeout\": \"1h\"}}",
                  "timeout: expected 1ms to 10m");
    from_json_bad("{\"name\": \"x\", \"smtp\": {\"url\": \"smtp://127.0.0.1\", "
                  "\"from\": \"a@b\", \"to\": [\"x@y\\r\\nRCPT TO:<z@w>\"]}}",
                  "smtp.to[0]: expected a mail address");
    from_json_bad("{\"name\": \"x\", \"smtp\": {\"url\": \"smtp://127.0.0.1\", \"from\": \"a@b\"}}",
                  "smtp.to: expected at least one mail address");
    from_json_bad("[1]", "expected a JSON object");
    from_json_bad("{\"name\": \"x\", \"webhook\": {\"url\": \"https://127.0.0.1/\", "
                  "\"ca_file\": \"/etc/passwd\"}}",
                  "ca_file: from the config file only, never from the API");
}

static void test_config_notify(void **state)
{
    (void)state;
    const char *yaml = "notify:\n"
                       "  - name: ops-hook\n"
                       "    webhook: { url: \"http://127.0.0.1:9000/hook\", headers: {X-Key: abc},"
                       " template: slack }\n"
                       "  - name: am\n"
                       "    alertmanager: { url: \"http://127.0.0.1:9093\" }\n"
                       "  - name: pager\n"
                       "    exec: { command: [/usr/local/bin/page-me, --now], timeout: 3s }\n"
                       "  - name: mail\n"
                       "    smtp: { url: \"smtp://127.0.0.1:2525\", from: heed@example.test,"
                       " to: [ops@example.test] }\n";
    hd_config_t cfg;
    char err[2048] = "";
    if (hd_config_load_string(yaml, strlen(yaml), "heed.yaml", &cfg, err, sizeof(err)) < 0)
        fail_msg("refused: %s", err);
    assert_int_equal(cfg.nnotifiers, 4);
    assert_int_equal(cfg.notifiers[0].kind, HD_NOTIFIER_WEBHOOK);
    assert_string_equal(cfg.notifiers[0].headers[0].name, "X-Key");
    assert_string_equal(cfg.notifiers[0].template_name, "slack");
    assert_int_equal(cfg.notifiers[1].kind, HD_NOTIFIER_ALERTMANAGER);
    assert_int_equal(cfg.notifiers[2].kind, HD_NOTIFIER_EXEC);
    assert_int_equal(cfg.notifiers[2].from_config, 1);
    assert_string_equal(cfg.notifiers[2].command[1], "--now");
    assert_int_equal(cfg.notifiers[2].timeout_us, 3000000);
    assert_string_equal(cfg.notifiers[3].to[0], "ops@example.test");
    hd_config_free(&cfg);

    const char *bad = "notify:\n"
                      "  - name: h\n"
                      "    webhook:\n"
                      "      url: \"http://127.0.0.1/\"\n"
                      "      template_text: '{\"a\": {{statu}}}'\n";
    assert_int_equal(hd_config_load_string(bad, strlen(bad), "heed.yaml", &cfg, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "heed.yaml:5:22: notify[0].webhook.template_text: line 1: unknown "
                             "field \"statu\" (fields: id, kind, time, since, node, check.id, "
                             "check.name, check.tags, service.name, old_status, status, output, "
                             "reason, summary, color, event, ...; docs/notifiers.md)");
    const char *missing = "notify:\n  - name: h\n    smtp: {url: \"smtp://127.0.0.1\"}\n";
    assert_int_equal(
        hd_config_load_string(missing, strlen(missing), "heed.yaml", &cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "heed.yaml:3:11: notify[0].smtp.from: expected a mail address like "
                             "heed@example.com");
}

/* ---- the callback contract, on a real loop ---------------------------------- */

typedef struct run_s {
    int calls;
    hd_notifier_result_t result;
    char reason[200];
    hd_notifier_t *free_me; /* freed from inside the callback */
    struct event_base *base;
} run_t;

static void on_done(hd_notifier_result_t r, const char *reason, void *arg)
{
    run_t *run = arg;
    run->calls++;
    run->result = r;
    snprintf(run->reason, sizeof(run->reason), "%s", reason);
    if (run->free_me) hd_notifier_free(run->free_me);
    run->free_me = NULL;
    event_base_loopbreak(run->base);
}

/* A loopback port that takes connections into its backlog and never
 * answers (fd returned, port in *port). */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static hd_notifier_t *webhook(struct event_base *base, int port, const char *timeout)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
    hd_notifier_def_t d = {.name = "h", .kind = HD_NOTIFIER_WEBHOOK, .url = url};
    if (timeout) d.timeout_us = 300000;
    char err[300];
    hd_notifier_t *n = hd_notifier_new(base, &d, err, sizeof(err));
    if (!n) fail_msg("%s", err);
    return n;
}

static void test_contract(void **state)
{
    (void)state;
    int port, lfd = silent_listener(&port);
    struct event_base *base = event_base_new();
    json_t *ev = hd_tmpl_sample_event();
    run_t run = {.base = base};

    /* Freed while in flight: the callback is never called. */
    hd_notifier_t *n = webhook(base, port, NULL);
    assert_int_equal(hd_notifier_send(n, ev, on_done, &run), 0);
    assert_int_equal(hd_notifier_send(n, ev, on_done, &run), 0);
    struct timeval tv = {0, 100000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    hd_notifier_free(n);
    tv.tv_usec = 50000;
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_int_equal(run.calls, 0);

    /* A timeout, reported once, later, on the loop; free from inside the
     * callback while another delivery is still in flight. */
    n = webhook(base, port, "300ms");
    assert_int_equal(hd_notifier_send(n, ev, on_done, &run), 0);
    assert_int_equal(hd_notifier_send(n, ev, on_done, &run), 0);
    assert_int_equal(run.calls, 0);
    run.free_me = n;
    tv = (struct timeval){10, 0};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_int_equal(run.calls, 1);
    assert_int_equal(run.result, HD_NOTIFY_RETRY);
    assert_string_equal(run.reason, "timed out after 300ms");
    tv = (struct timeval){0, 400000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_int_equal(run.calls, 1); /* the second was cancelled with n */

    close(lfd);
    json_decref(ev);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_errors), cmocka_unit_test(test_template_escaping),
        cmocka_unit_test(test_template_values), cmocka_unit_test(test_summary),
        cmocka_unit_test(test_builtins),        cmocka_unit_test(test_def_json),
        cmocka_unit_test(test_config_notify),   cmocka_unit_test(test_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
