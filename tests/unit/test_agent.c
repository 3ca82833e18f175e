/* test_agent — the agent through its interface (agent/agent.h) alone, with
 * no API server: what hd_agent_open loads, the checks a scope may see,
 * the hooks the command gives it (the API's check of a config at start-up,
 * a SIGHUP reload's API part, refused or taken) and --dev's sample check
 * following the port the API got. The agent knows nothing of HTTP, so it
 * runs here without one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/agent.h"

#include <dirent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64]; /* the test's temporary directory */

static void write_config(const char *secret)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/heed.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "node: unit-1\n"
            "bind: 127.0.0.1:0\n"
            "data_dir: %s/data\n"
            "tokens:\n"
            "  - secret: %s\n"
            "    role: management\n"
            "checks:\n"
            "  - name: beat\n"
            "    ttl: 1h\n",
            dir, secret);
    fclose(f);
}

static void remove_tree(const char *d)
{
    DIR *h = opendir(d);
    if (!h) return;
    struct dirent *e;
    while ((e = readdir(h))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
        if (e->d_type == DT_DIR)
            remove_tree(p);
        else
            (void)unlink(p); /* the test's own files */
    }
    closedir(h);
    (void)rmdir(d);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/heed-test-agent-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(dir);
    return 0;
}

/* ---- the hooks, recording what the agent asked ------------------------------ */

static int api_checks;        /* calls of check_api */
static char checked_bind[64]; /* the bind host it was asked about */

static int check_api(const hd_config_t *cfg, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    api_checks++;
    snprintf(checked_bind, sizeof(checked_bind), "%s", cfg->bind_host);
    return 0;
}

static int refuse_api(const hd_config_t *cfg, char *err, size_t errlen)
{
    (void)cfg;
    snprintf(err, errlen, "tokens: refused by the test");
    return -1;
}

typedef struct reloads_s {
    int calls;
    char secrets[2][64]; /* the first token's secret in each call's config */
} reloads_t;

/* Refuses the first reload, takes the second. */
static int on_reload(void *arg, const hd_config_t *next, char *err, size_t errlen)
{
    reloads_t *r = arg;
    if (r->calls < 2)
        snprintf(r->secrets[r->calls], sizeof(r->secrets[0]), "%s",
                 next->ntokens ? next->tokens[0].secret : "");
    if (r->calls++ == 0) {
        snprintf(err, errlen, "the test refuses this one");
        return -1;
    }
    return 0;
}

/* The loop's script: write the new file, SIGHUP (refused), SIGHUP
 * (taken), SIGTERM. */
static int step;

static void on_step(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct event *ev = arg;
    if (step == 0) write_config("second-secret");
    int sig = step < 2 ? SIGHUP : SIGTERM;
    step++;
    (void)raise(sig); /* the agent's own signal events take it */
    if (sig == SIGHUP) {
        struct timeval tv = {0, 50000};
        evtimer_add(ev, &tv);
    }
}

/* ---- tests ------------------------------------------------------------------ */

static void test_open_and_reload(void **state)
{
    (void)state;
    write_config("first-secret");
    char path[128];
    snprintf(path, sizeof(path), "%s/heed.yaml", dir);
    hd_agent_opts_t o;
    memset(&o, 0, sizeof(o));
    o.config_path = path;
    o.check_api = check_api;
    hd_agent_t *a = NULL;
    assert_int_equal(hd_agent_open(&o, &a), 0);
    assert_non_null(a);
    /* Start-up asked the API's judgement once, for the address it binds. */
    assert_int_equal(api_checks, 1);
    assert_string_equal(checked_bind, "127.0.0.1");

    /* Loaded: the config, the caches, the config file's check. */
    const hd_config_t *cfg = hd_agent_config(a);
    assert_string_equal(cfg->node, "unit-1");
    assert_int_equal(cfg->ntokens, 1);
    assert_non_null(hd_agent_base(a));
    assert_non_null(hd_agent_store(a));
    assert_non_null(hd_agent_catalog(a));
    assert_non_null(hd_agent_kv(a));
    assert_non_null(hd_agent_sessions(a));
    assert_int_equal(hd_agent_check_count(a), 1);

    /* The visibility rule: the default tenant sees it, another does not,
     * a walk over every tenant finds it once. */
    hd_scope_t def = {HD_TENANT_DEFAULT}, other = {"team-b"}, all = {NULL};
    hd_agent_check_t *c = hd_agent_check_find(a, &def, "beat");
    assert_non_null(c);
    assert_ptr_equal(hd_agent_check_get(a, NULL, "beat"), c);
    assert_null(hd_agent_check_find(a, &other, "beat"));
    assert_null(hd_agent_check_find(a, &def, "nothing"));
    size_t pos = 0, n = 0;
    while (hd_agent_check_next(a, &all, &pos))
        n++;
    assert_int_equal(n, 1);
    pos = 0;
    assert_null(hd_agent_check_next(a, &other, &pos));
    const hd_check_def_t *d = hd_agent_check_def(c);
    assert_string_equal(d->id, "beat");
    assert_int_equal(d->from_config, 1);
    assert_int_equal(hd_agent_check_removed(c), 0);
    assert_int_equal(hd_agent_check_runs(c), 0);

    /* Reloads ask the hook: a refusal keeps the running tokens, a yes
     * takes the new ones. */
    reloads_t r;
    memset(&r, 0, sizeof(r));
    hd_agent_on_reload(a, on_reload, &r);
    struct event *ev = evtimer_new(hd_agent_base(a), on_step, event_self_cbarg());
    struct timeval tv = {0, 50000};
    evtimer_add(ev, &tv);
    step = 0;
    assert_int_equal(hd_agent_run(a), 0); /* until the SIGTERM */
    event_free(ev);
    assert_int_equal(r.calls, 2);
    assert_string_equal(r.secrets[0], "second-secret");
    assert_string_equal(r.secrets[1], "second-secret");
    hd_agent_stats_t st;
    hd_agent_stats(a, &st);
    assert_int_equal(st.reload_errors_total, 1);
    assert_int_equal(st.reloads_total, 1);
    assert_true(st.started_wall > 0);
    assert_string_equal(hd_agent_config(a)->tokens[0].secret, "second-secret");
    hd_agent_close(a);
    hd_agent_free(a);
}

static void test_open_refused_by_api_check(void **state)
{
    (void)state;
    write_config("first-secret");
    char path[128];
    snprintf(path, sizeof(path), "%s/heed.yaml", dir);
    hd_agent_opts_t o;
    memset(&o, 0, sizeof(o));
    o.config_path = path;
    o.check_api = refuse_api;
    hd_agent_t *a = NULL;
    assert_int_equal(hd_agent_open(&o, &a), -1);
    assert_null(a);
    /* Nothing was made: preflight refuses before data_dir exists. */
    char data[128];
    snprintf(data, sizeof(data), "%s/data", dir);
    assert_int_equal(access(data, F_OK), -1);
}

static void test_dev_check_follows_api_port(void **state)
{
    (void)state;
    hd_agent_opts_t o;
    memset(&o, 0, sizeof(o));
    o.dev = 1;
    o.bind = "127.0.0.1:0";
    hd_agent_t *a = NULL;
    assert_int_equal(hd_agent_open(&o, &a), 0);
    hd_agent_check_t *c = hd_agent_check_get(a, NULL, "agent-api");
    assert_non_null(c);
    hd_agent_api_bound(a, 4242); /* the port the kernel gave the API */
    assert_string_equal(hd_agent_check_def(c)->target.url, "tcp://127.0.0.1:4242");
    hd_agent_close(a);
    hd_agent_free(a);

    /* A fixed port: the sample check already points at it. */
    o.bind = "127.0.0.1:18500";
    assert_int_equal(hd_agent_open(&o, &a), 0);
    c = hd_agent_check_get(a, NULL, "agent-api");
    assert_non_null(c);
    hd_agent_api_bound(a, 4242);
    assert_string_equal(hd_agent_check_def(c)->target.url, "tcp://127.0.0.1:18500");
    hd_agent_close(a);
    hd_agent_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refused_by_api_check, setup, teardown),
        cmocka_unit_test(test_dev_check_follows_api_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
