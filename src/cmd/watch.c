/* watch — `heed watch key K|keyprefix P|service NAME [-- COMMAND]`: a loop
 * of blocking queries that runs COMMAND each time the answer's index
 * changes, with the answer's JSON on its stdin and CONSUL_INDEX in its
 * environment, as `consul watch` does:
 *
 *   key        GET /v1/kv/K              one KV entry (an object), or null
 *   keyprefix  GET /v1/kv/P?recurse      the entries under P (an array), or null
 *   service    GET /v1/health/service/NAME[?passing][&tag=T...]   an array
 *
 * The first answer runs COMMAND too. Without COMMAND, the first answer is
 * printed and heed exits, as `consul watch` without a handler. COMMAND runs
 * without a shell, one at a time: a change while it runs is seen by the
 * next query. An agent that cannot be reached is tried again (1 s, then up
 * to 30 s apart), saying so on stderr; one that refuses (403, 400) ends the
 * watch. SIGINT, SIGTERM and SIGHUP end it too, after the running COMMAND
 * (which gets them as well) has ended.
 *
 * --json (without COMMAND) streams instead: each answer whose index changed,
 * the first included, as one line {"Index": N, "Data": ...} on stdout,
 * until a signal ends the watch (an unreachable agent is retried then, as
 * with COMMAND).
 *
 * Exit status: 0 stopped by a signal, or printed the answer; 1 the agent
 * refused; 2 usage; 3 (without COMMAND or --json) the agent could not be
 * reached; 126/127 COMMAND could not be run. */
#include "cmd/child.h"
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/kvclient.h"
#include "util/buf.h"
#include "util/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_REFUSED 1
#define WAIT_S       300  /* each query's wait: Consul's default, 5 min */
#define RETRY_MIN_MS 1000 /* between tries while the agent is unreachable */
#define RETRY_MAX_MS 30000

enum { W_KEY, W_KEYPREFIX, W_SERVICE };

typedef struct watch_s {
    hd_client_t cl;
    int type;
    hd_buf_t path;
    char **cmd; /* NULL: print once, or stream (json) */
    int json;   /* --json: one line per change on stdout */
} watch_t;

/* The JSON a handler gets for a reply (a new string), as consul watch
 * hands it over: a key's entry alone, a missing key or prefix as null. */
static char *handler_json(const watch_t *w, const hd_client_reply_t *rep)
{
    const json_t *data = rep->status == 404 ? NULL : rep->json;
    if (w->type == W_KEY) data = json_array_get(data, 0);
    if (!data) return strdup("null\n");
    char *s = json_dumps(data, JSON_ENCODE_ANY | JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t n = strlen(s);
    s = realloc(s, n + 2);
    if (!s) abort();
    memcpy(s + n, "\n", 2);
    return s;
}

/* Prints one line {"Index": index, "Data": ...} for --json. */
static void print_line(const watch_t *w, const hd_client_reply_t *rep, unsigned long long index)
{
    json_t *data = rep->status == 404 ? NULL : rep->json;
    if (w->type == W_KEY) data = json_array_get(data, 0);
    json_t *line = json_pack("{s:I, s:O?}", "Index", (json_int_t)index, "Data", data);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text) {
        puts(text);
        fflush(stdout);
    }
    free(text);
    json_decref(line);
}

/* Runs the command on one answer; its exit status (reported, not fatal). */
static int run_handler(const watch_t *w, const char *json, unsigned long long index)
{
    char env_index[48], env_heed[48];
    snprintf(env_index, sizeof(env_index), "CONSUL_INDEX=%llu", index);
    snprintf(env_heed, sizeof(env_heed), "HEED_INDEX=%llu", index);
    const char *env[] = {env_index, env_heed, NULL};
    pid_t pid = hd_child_start("watch", w->cmd, env, json, strlen(json));
    if (pid < 0) return 126;
    int code;
    hd_child_wait(pid, -1, &code);
    if (code != 0)
        fprintf(stderr, "heed watch: %s exited with status %d (index %llu)\n", w->cmd[0], code,
                index);
    return code;
}

static int loop(watch_t *w)
{
    unsigned long long index = 0;
    long retry_ms = RETRY_MIN_MS;
    int first = 1;
    while (!hd_child_stop) {
        hd_client_reply_t rep;
        int rc = hd_kvclient_block(&w->cl, w->path.data, index, WAIT_S, &hd_child_stop, &rep);
        if (rc == HD_EXIT_CANCELLED) break;
        if (rc) { /* printed; an agent restarting comes back */
            if (!w->cmd && !w->json) return rc;
            hd_child_sleep(retry_ms);
            retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
            continue;
        }
        retry_ms = RETRY_MIN_MS;
        int ok = rep.status == 200 || (rep.status == 404 && w->type != W_SERVICE && !rep.len);
        if (!ok || (rep.status == 200 && !json_is_array(rep.json))) {
            if (ok)
                fprintf(stderr, "heed watch: unexpected reply from %s (HTTP 200): not a list\n",
                        w->cl.base);
            else
                hd_kvclient_print_error(&w->cl, &rep);
            hd_client_reply_free(&rep);
            return EXIT_REFUSED;
        }
        unsigned long long got = rep.index;
        if ((first || got != index) && w->json) {
            print_line(w, &rep, got);
        } else if (first || got != index) {
            char *json = handler_json(w, &rep);
            if (!w->cmd) {
                fputs(json, stdout);
                free(json);
                hd_client_reply_free(&rep);
                return 0;
            }
            int code = run_handler(w, json, got);
            free(json);
            if (code == 126 || code == 127) {
                hd_client_reply_free(&rep);
                return code; /* it will not run next time either */
            }
        }
        first = 0;
        hd_client_reply_free(&rep);
        /* Consul's rule for a client: an index that went backwards (the
         * agent's store was reset) starts again from 0. */
        if (!got) {
            fprintf(stderr, "heed watch: the agent at %s sent no X-Consul-Index; polling\n",
                    w->cl.base);
            hd_child_sleep(RETRY_MIN_MS);
        }
        index = got < index ? 0 : got;
    }
    return 0;
}

static int run_watch(int argc, char **argv)
{
    hd_client_flags_t cf = {0};
    const char *type = NULL, *what = NULL;
    const char **tags = calloc((size_t)argc + 1, sizeof(*tags));
    size_t ntags = 0;
    int passing = 0, rc = HD_EXIT_USAGE;
    watch_t w;
    memset(&w, 0, sizeof(w));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            w.cmd = argv + i + 1;
            break;
        }
        if (a[0] != '-') {
            if (!type) {
                type = a;
            } else if (!what) {
                what = a;
            } else {
                hd_cmd_usage_error("watch", "unexpected argument '%s': put COMMAND after --", a);
                goto out;
            }
            continue;
        }
        char flag[32];
        const char *eq = strchr(a, '=');
        snprintf(flag, sizeof(flag), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        if (!strcmp(flag, "--passing")) {
            passing = 1;
            continue;
        }
        if (!strcmp(flag, "--json") && !eq) {
            w.json = 1;
            continue;
        }
        const char *tag = NULL;
        const char **dst = !strcmp(flag, "--addr")     ? &cf.addr
                           : !strcmp(flag, "--token")  ? &cf.token
                           : !strcmp(flag, "--ns")     ? &cf.ns
                           : !strcmp(flag, "--cacert") ? &cf.cacert
                           : !strcmp(flag, "--cert")   ? &cf.cert
                           : !strcmp(flag, "--key")    ? &cf.key
                           : !strcmp(flag, "--tag")    ? &tag
                                                       : NULL;
        if (!dst) {
            hd_cmd_usage_error("watch", "unknown flag '%s'", flag);
            goto out;
        }
        if (!(*dst = hd_cmd_flag_value("watch", argc, argv, &i, eq))) goto out;
        if (tag) tags[ntags++] = tag;
    }
    if (!type) {
        hd_cmd_usage_error("watch", "give what to watch: key K, keyprefix P or service NAME");
        goto out;
    }
    w.type = !strcmp(type, "key")         ? W_KEY
             : !strcmp(type, "keyprefix") ? W_KEYPREFIX
             : !strcmp(type, "service")   ? W_SERVICE
                                          : -1;
    if (w.type < 0) {
        hd_cmd_usage_error("watch", "unknown watch type '%s' (key, keyprefix, service)", type);
        goto out;
    }
    if (!what || (w.type != W_KEYPREFIX && !*what)) {
        hd_cmd_usage_error("watch", "%s needs a %s", type,
                           w.type == W_SERVICE ? "service name"
                           : w.type == W_KEY   ? "key"
                                               : "prefix");
        goto out;
    }
    if (w.type != W_SERVICE && (passing || ntags)) {
        hd_cmd_usage_error("watch", "--%s applies to service watches", passing ? "passing" : "tag");
        goto out;
    }
    if (w.cmd && !w.cmd[0]) {
        hd_cmd_usage_error("watch", "give the COMMAND to run after --");
        goto out;
    }
    if (w.cmd && w.json) {
        hd_cmd_usage_error("watch", "--json prints each change itself: give it without COMMAND");
        goto out;
    }
    if (w.type == W_SERVICE) {
        hd_buf_puts(&w.path, "/v1/health/service/");
        hd_url_encode(&w.path, what);
        char sep = '?';
        if (passing) {
            hd_buf_puts(&w.path, "?passing");
            sep = '&';
        }
        for (size_t i = 0; i < ntags; i++) {
            hd_buf_printf(&w.path, "%ctag=", sep);
            hd_url_encode(&w.path, tags[i]);
            sep = '&';
        }
    } else {
        hd_buf_puts(&w.path, "/v1/kv/");
        hd_kvclient_append_key(&w.path, what);
        if (w.type == W_KEYPREFIX) hd_buf_puts(&w.path, "?recurse");
    }
    if ((rc = hd_client_init(&w.cl, "watch", &cf)) != 0) goto out;
    hd_child_signals();
    rc = loop(&w);
    hd_client_free(&w.cl);
out:
    hd_buf_free(&w.path);
    free(tags);
    return rc;
}

const hd_cmd_t hd_cmd_watch = {
    "watch",
    run_watch,
    "run a command each time a key, a prefix or a service changes (as consul watch)",
    "usage: heed watch key KEY [--json | -- COMMAND [ARGS...]]\n"
    "       heed watch keyprefix PREFIX [--json | -- COMMAND [ARGS...]]\n"
    "       heed watch service NAME [--passing] [--tag T ...] [--json | -- COMMAND [ARGS...]]\n"
    "\n"
    "Watches through a running `heed agent` with blocking queries, as `consul watch`:\n"
    "COMMAND runs at once, then each time what is watched changes, with the new\n"
    "JSON on its stdin and the reply's index in CONSUL_INDEX (and HEED_INDEX):\n"
    "\n"
    "  key        the key's KV entry (Value in base64), or null when it does not exist\n"
    "  keyprefix  the array of entries under PREFIX, or null when there are none\n"
    "  service    the array of /v1/health/service/NAME: --passing keeps instances\n"
    "             whose checks all pass, --tag T those tagged T (repeatable)\n"
    "\n"
    "Without COMMAND the JSON is printed once; with --json instead, each change\n"
    "(the first answer too) is one line {\"Index\":N,\"Data\":...} on stdout until a\n"
    "signal stops the watch. COMMAND runs without a shell (write\n"
    "`-- sh -c '...'` for one), one run at a time; its failures are reported and\n"
    "the watch goes on. An unreachable agent is retried (1 s, then up to 30 s\n"
    "apart); SIGINT, SIGTERM or SIGHUP stop the watch once COMMAND (which gets them\n"
    "too) has ended.\n"
    "\n"
    "Flags:\n" HD_CLIENT_ADDR_HELP
    "      --ns TENANT    the tenant to work in (Consul's namespace) [env HEED_NAMESPACE,\n"
    "                     else CONSUL_NAMESPACE]\n" HD_CLIENT_TLS_HELP "\n"
    "Exit status: 0 stopped by a signal, or the JSON printed; 1 the agent refused\n"
    "(its message is printed); 2 usage error; 3 (without COMMAND or --json) the agent\n"
    "could not be reached; 126/127 COMMAND could not be run.\n",
};
