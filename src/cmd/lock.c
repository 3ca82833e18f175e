/* lock — `heed lock PREFIX -- COMMAND`: runs COMMAND while holding the
 * lock PREFIX/.lock, as `consul lock` does (Consul's leader-election
 * recipe, with its lock flags, so that heed's and Consul's CLI exclude
 * each other on one prefix):
 *
 * 1. a session with a TTL (15 s by default, Behavior "release"), renewed
 *    every TTL/2 for as long as heed holds or waits for the lock;
 * 2. PUT /v1/kv/PREFIX/.lock?acquire=SESSION until the agent answers
 *    true, waiting between tries with blocking queries on the key;
 * 3. COMMAND, with HEED_LOCK_HELD=true and CONSUL_LOCK_HELD=true;
 *    SIGINT, SIGTERM and SIGHUP that heed receives are passed on to it;
 * 4. when COMMAND ends (or heed is told to stop): release the key,
 *    destroy the session, delete the key if no one took it meanwhile.
 *    If heed dies instead, the session's TTL frees the lock. If the lock
 *    is lost (the session is gone: the agent lost it, or someone
 *    destroyed it), COMMAND gets SIGTERM, then SIGKILL 5 s later, as with
 *    `consul lock`.
 *
 * --json reports on stderr (stdout is COMMAND's), one JSON line each:
 * {"Event":"acquired","Key":K,"Session":S} once the lock is held, and
 * {"Event":"released"|"not_acquired","Key":K,"Session":S,"ExitCode":N}
 * at the end.
 *
 * Exit status: COMMAND's (128 + N when signal N ended it); 1 the lock was
 * not acquired (--timeout, a key that is not a lock, the agent refused) or
 * was lost; 2 usage; 3 the agent could not be reached; 126/127 COMMAND
 * could not be run; 128 + N when signal N stopped heed before COMMAND
 * started. */
#include "cmd/child.h"
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/kvclient.h"
#include "util/buf.h"
#include "util/time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_NOLOCK 1
/* Consul's api.LockFlagValue: the Flags of a lock key (a semaphore's
 * differ), which `consul lock` checks before it takes a key. */
#define LOCK_FLAGS       "3304740253564472344"
#define KILL_GRACE_MS    5000 /* SIGTERM to SIGKILL, as consul lock */
#define LOCK_DELAY_RETRY 1000 /* ms between tries while the agent's lock delay lasts */

typedef struct lock_s {
    hd_client_t cl;
    const char *prefix;
    char *key;     /* PREFIX/.lock */
    char *session; /* the session's ID */
    int ttl_s;
    const char *lock_delay;         /* --lock-delay, NULL: the agent's default */
    long long renew_at, give_up_at; /* monotonic ms; give_up_at 0: never */
} lock_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Renews the session when it is due. 0, or 1 when the session is gone. */
static int renew_if_due(lock_t *l, const volatile sig_atomic_t *cancel)
{
    if (now_ms() < l->renew_at) return 0;
    int rc = hd_kvclient_session_renew(&l->cl, l->session, cancel);
    if (rc == 0 || rc == HD_EXIT_CANCELLED) {
        l->renew_at = now_ms() + l->ttl_s * 1000 / 2;
        return 0;
    }
    if (rc == 1) return 1;
    /* The agent unreachable or refusing: try again soon; the TTL decides. */
    l->renew_at = now_ms() + 1000;
    return 0;
}

/* PUT ?acquire=. 1 acquired, 0 not, or an exit status (negative for a
 * cancel) after printing why. */
static int try_acquire(lock_t *l)
{
    hd_buf_t path = {0};
    hd_buf_puts(&path, "/v1/kv/");
    hd_kvclient_append_key(&path, l->key);
    hd_buf_printf(&path, "?acquire=%s&flags=" LOCK_FLAGS, l->session);
    hd_client_req_t req = {.method = "PUT",
                           .path = path.data,
                           .body = "",
                           .body_len = 0,
                           .content_type = "application/octet-stream",
                           .cancel = &hd_child_stop};
    hd_client_reply_t rep;
    int rc = hd_client_send(&l->cl, &req, &rep);
    hd_buf_free(&path);
    if (rc) return rc == HD_EXIT_CANCELLED ? -1 : rc + 1; /* +1: never 0 or 1 */
    if (rep.status == 200 && (json_is_true(rep.json) || json_is_false(rep.json))) {
        rc = json_is_true(rep.json);
    } else {
        hd_kvclient_print_error(&l->cl, &rep);
        rc = EXIT_NOLOCK + 1;
    }
    hd_client_reply_free(&rep);
    return rc;
}

/* Waits for the key to change from index: 0 with the new index and
 * whether a session holds it, or an exit status. */
static int wait_key(lock_t *l, unsigned long long *index, int *held)
{
    hd_buf_t path = {0};
    hd_buf_puts(&path, "/v1/kv/");
    hd_kvclient_append_key(&path, l->key);
    int wait_s = l->ttl_s / 3 > 0 ? l->ttl_s / 3 : 1; /* renewals fit between */
    if (l->give_up_at) {                              /* and --timeout is kept to the second */
        long long left = (l->give_up_at - now_ms() + 999) / 1000;
        if (left < wait_s) wait_s = left > 1 ? (int)left : 1;
    }
    hd_client_reply_t rep;
    int rc = hd_kvclient_block(&l->cl, path.data, *index, wait_s, &hd_child_stop, &rep);
    hd_buf_free(&path);
    if (rc) return rc;
    *held = 0;
    if (rep.status == 200) {
        const json_t *e = json_array_get(rep.json, 0);
        json_t *flags = json_object_get(e, "Flags");
        const char *s = json_string_value(json_object_get(e, "Session"));
        *held = s && *s;
        char want[32];
        snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT,
                 json_is_integer(flags) ? json_integer_value(flags) : 0);
        /* jansson reads Flags past 2^63 as a real: compare the text */
        if (json_is_real(flags) || (json_is_integer(flags) && strcmp(want, LOCK_FLAGS) != 0)) {
            fprintf(stderr,
                    "heed lock: %s exists and is not a lock (its flags are not a lock's: a value "
                    "written by hand, or a semaphore of consul lock -n)\n",
                    l->key);
            rc = EXIT_NOLOCK;
        }
    } else if (rep.status != 404) {
        hd_kvclient_print_error(&l->cl, &rep);
        rc = EXIT_NOLOCK;
    }
    if (!rc) *index = rep.index > *index || !rep.index ? rep.index : 0;
    hd_client_reply_free(&rep);
    return rc;
}

/* Steps 1 and 2. 0 with the lock held, or an exit status. */
static int acquire(lock_t *l, const char *name)
{
    int rc = hd_kvclient_session_create(&l->cl, name, l->ttl_s, l->lock_delay, &hd_child_stop,
                                        &l->session);
    if (rc) return rc;
    l->renew_at = now_ms() + l->ttl_s * 1000 / 2;
    unsigned long long index = 0;
    int said = 0;
    for (;;) {
        if (hd_child_stop) return HD_EXIT_CANCELLED;
        if (renew_if_due(l, &hd_child_stop)) {
            fprintf(stderr, "heed lock: the session %s expired while waiting for %s\n", l->session,
                    l->key);
            return EXIT_NOLOCK;
        }
        int held = 0;
        /* The key as it is now, then wait for it to change while held. */
        if ((rc = wait_key(l, &index, &held)) != 0) return rc;
        if (!held) {
            int got = try_acquire(l);
            if (got == 1) return 0;
            if (got < 0) return HD_EXIT_CANCELLED;
            if (got > 1) return got - 1;
            /* Free, yet refused: the agent's lock delay after a session
             * that held it was invalidated. */
            hd_child_sleep(LOCK_DELAY_RETRY);
            index = 0;
        } else {
            if (!said)
                fprintf(stderr, "heed lock: %s is held by another session; waiting\n", l->key);
            said = 1;
            if (!index) hd_child_sleep(LOCK_DELAY_RETRY); /* no X-Consul-Index to block on */
        }
        if (l->give_up_at && now_ms() >= l->give_up_at) {
            fprintf(stderr, "heed lock: %s is still held by another session: gave up (--timeout)\n",
                    l->key);
            return EXIT_NOLOCK;
        }
    }
}

/* Whether the key is still held by our session (a non-blocking read). */
static int still_ours(lock_t *l)
{
    hd_buf_t path = {0};
    hd_buf_puts(&path, "/v1/kv/");
    hd_kvclient_append_key(&path, l->key);
    hd_client_reply_t rep;
    int rc = hd_client_call(&l->cl, "GET", path.data, NULL, &rep);
    hd_buf_free(&path);
    if (rc) return 1; /* unreachable: the TTL decides, as for renewals */
    int ours = 1;
    if (rep.status == 404) {
        ours = 0;
    } else if (rep.status == 200) {
        const char *s = json_string_value(json_object_get(json_array_get(rep.json, 0), "Session"));
        ours = s && !strcmp(s, l->session);
    }
    hd_client_reply_free(&rep);
    return ours;
}

/* Step 3: runs the command, renewing, until it ends. Its exit status. */
static int hold(lock_t *l, char **argv)
{
    static const char *const env[] = {"HEED_LOCK_HELD=true", "CONSUL_LOCK_HELD=true", NULL};
    pid_t pid = hd_child_start("lock", argv, env, NULL, 0);
    if (pid < 0) return 126;
    int code;
    for (;;) {
        long long wait = l->renew_at - now_ms();
        if (hd_child_wait(pid, wait > 0 ? (long)wait : 0, &code)) return code;
        /* No cancel here: a signal is passed on to the command, which
         * decides when it ends. */
        int gone = renew_if_due(l, NULL);
        if (gone || !still_ours(l)) {
            fprintf(stderr, "heed lock: lost the lock on %s (%s); stopping %s with SIGTERM\n",
                    l->key,
                    gone ? "the session expired or was destroyed" : "another session holds it",
                    argv[0]);
            hd_child_end(pid, KILL_GRACE_MS, &code);
            return EXIT_NOLOCK;
        }
    }
}

/* Deletes the lock's key if no session holds it, as consul lock's
 * Destroy does: with ?cas on the index read, so that a
 * session that took it meanwhile keeps it. Best effort, silent. */
static void clean_up(lock_t *l)
{
    hd_buf_t path = {0};
    hd_buf_puts(&path, "/v1/kv/");
    hd_kvclient_append_key(&path, l->key);
    hd_client_reply_t rep;
    if (hd_client_call(&l->cl, "GET", path.data, NULL, &rep) != 0) goto out;
    const json_t *e = json_array_get(rep.json, 0);
    const char *s = json_string_value(json_object_get(e, "Session"));
    json_int_t index = json_integer_value(json_object_get(e, "ModifyIndex"));
    json_int_t flags = json_integer_value(json_object_get(e, "Flags"));
    char want[32];
    snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT, flags);
    int free_lock = rep.status == 200 && e && !(s && *s) && index > 0 && !strcmp(want, LOCK_FLAGS);
    hd_client_reply_free(&rep);
    if (!free_lock) goto out;
    hd_buf_printf(&path, "?cas=%" JSON_INTEGER_FORMAT, index);
    if (hd_client_call(&l->cl, "DELETE", path.data, NULL, &rep) == 0) hd_client_reply_free(&rep);
out:
    hd_buf_free(&path);
}

/* --json's report of event on stderr (see the top); code < 0: none. */
static void report(const lock_t *l, const char *event, int code)
{
    json_t *o = json_pack("{s:s, s:s, s:s?}", "Event", event, "Key", l->key, "Session", l->session);
    if (o && code >= 0) json_object_set_new(o, "ExitCode", json_integer(code));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text) fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(o);
}

/* Step 4: release, destroy, and delete the key if it is still free.
 * Best effort: the TTL frees what this misses. */
static void let_go(lock_t *l, int held)
{
    if (!l->session) return;
    if (held) {
        hd_buf_t path = {0};
        hd_buf_puts(&path, "/v1/kv/");
        hd_kvclient_append_key(&path, l->key);
        /* A release writes the entry as an acquire does: the flags too. */
        hd_buf_printf(&path, "?release=%s&flags=" LOCK_FLAGS, l->session);
        hd_client_req_t req = {.method = "PUT",
                               .path = path.data,
                               .body = "",
                               .body_len = 0,
                               .content_type = "application/octet-stream"};
        hd_client_reply_t rep;
        if (hd_client_send(&l->cl, &req, &rep) == 0) {
            if (rep.status != 200) hd_kvclient_print_error(&l->cl, &rep);
            hd_client_reply_free(&rep);
        }
        hd_buf_free(&path);
    }
    (void)hd_kvclient_session_destroy(&l->cl, l->session); /* it prints its failure */
    if (held) clean_up(l);
}

static int run_lock(int argc, char **argv)
{
    hd_client_flags_t cf = {0};
    const char *prefix = NULL, *name = NULL, *ttl = NULL, *timeout = NULL, *delay = NULL;
    char **cmd = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            cmd = argv + i + 1;
            break;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (a[0] != '-') {
            if (prefix)
                return hd_cmd_usage_error("lock", "unexpected argument '%s': put COMMAND after --",
                                          a);
            prefix = a;
            continue;
        }
        char flag[32];
        const char *eq = strchr(a, '=');
        snprintf(flag, sizeof(flag), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        const char **dst = !strcmp(flag, "--addr")         ? &cf.addr
                           : !strcmp(flag, "--token")      ? &cf.token
                           : !strcmp(flag, "--ns")         ? &cf.ns
                           : !strcmp(flag, "--cacert")     ? &cf.cacert
                           : !strcmp(flag, "--cert")       ? &cf.cert
                           : !strcmp(flag, "--key")        ? &cf.key
                           : !strcmp(flag, "--name")       ? &name
                           : !strcmp(flag, "--ttl")        ? &ttl
                           : !strcmp(flag, "--timeout")    ? &timeout
                           : !strcmp(flag, "--lock-delay") ? &delay
                                                           : NULL;
        if (!dst) return hd_cmd_usage_error("lock", "unknown flag '%s'", flag);
        if (!(*dst = hd_cmd_flag_value("lock", argc, argv, &i, eq))) return HD_EXIT_USAGE;
    }
    if (!prefix) return hd_cmd_usage_error("lock", "give a PREFIX, then -- COMMAND");
    if (!cmd || !cmd[0]) return hd_cmd_usage_error("lock", "give the COMMAND to run after --");
    lock_t l;
    memset(&l, 0, sizeof(l));
    l.prefix = prefix;
    l.ttl_s = 15;
    char err[200];
    int64_t us;
    if (ttl) {
        if (hd_time_parse_duration(ttl, &us, err, sizeof(err)) < 0)
            return hd_cmd_usage_error("lock", "--ttl: %s", err);
        if (us < 10 * HD_USEC_PER_SEC || us > 86400LL * HD_USEC_PER_SEC)
            return hd_cmd_usage_error("lock", "--ttl %s: Consul takes 10s to 24h", ttl);
        l.ttl_s = (int)(us / HD_USEC_PER_SEC);
    }
    if (timeout) {
        if (hd_time_parse_duration(timeout, &us, err, sizeof(err)) < 0)
            return hd_cmd_usage_error("lock", "--timeout: %s", err);
        l.give_up_at = now_ms() + us / 1000 + (us == 0);
    }
    if (delay) {
        int64_t ns;
        if (hd_time_parse_go_duration(delay, strlen(delay), &ns, err, sizeof(err)) < 0 || ns < 0 ||
            ns > 60LL * 1000000000)
            return hd_cmd_usage_error("lock", "--lock-delay %s: expected a duration of 0s .. 60s",
                                      delay);
        l.lock_delay = delay;
    }
    int rc = hd_client_init(&l.cl, "lock", &cf);
    if (rc) return rc;
    hd_buf_t key = {0}, sname = {0};
    size_t plen = strlen(prefix);
    while (plen && prefix[plen - 1] == '/')
        plen--;
    hd_buf_printf(&key, "%.*s/.lock", (int)plen, prefix);
    l.key = key.data;
    hd_buf_printf(&sname, "heed lock %s", key.data);
    hd_child_signals();

    rc = acquire(&l, name ? name : sname.data);
    int held = rc == 0;
    if (held && json) report(&l, "acquired", -1);
    if (held) rc = hold(&l, cmd);
    let_go(&l, held);
    if (rc == HD_EXIT_CANCELLED) rc = 128 + (hd_child_stop ? hd_child_stop : SIGTERM);
    if (json) report(&l, held ? "released" : "not_acquired", rc);
    free(l.session);
    hd_buf_free(&key);
    hd_buf_free(&sname);
    hd_client_free(&l.cl);
    return rc;
}

const hd_cmd_t hd_cmd_lock = {
    "lock",
    run_lock,
    "run a command while holding a lock in the KV store (as consul lock)",
    "usage: heed lock PREFIX [--ttl 15s] [--timeout D] [--lock-delay 15s] [--name N]\n"
    "                 [--json] -- COMMAND [ARGS...]\n"
    "\n"
    "Takes the lock PREFIX/.lock through a running `heed agent` (Consul's session and\n"
    "KV API, as `consul lock` does, so the two exclude each other), runs COMMAND\n"
    "while it is held, then releases it. A second `heed lock` on the same PREFIX\n"
    "waits until the first's COMMAND has ended.\n"
    "\n"
    "COMMAND runs without a shell (write `-- sh -c '...'` for one), with\n"
    "HEED_LOCK_HELD=true and CONSUL_LOCK_HELD=true in its environment; SIGINT,\n"
    "SIGTERM and SIGHUP that heed receives are passed on to it, and heed releases\n"
    "the lock once it has ended. The lock lives in a session with a TTL that heed\n"
    "renews: if heed or its machine dies, the agent frees the lock within the TTL\n"
    "(Consul's rule: between TTL and 2 x TTL, then its 15 s lock delay). If the\n"
    "lock is lost meanwhile, COMMAND gets SIGTERM, and SIGKILL 5 s later.\n"
    "\n"
    "Flags:\n"
    "      --ttl D        the session's TTL (10s .. 24h) [15s]\n"
    "      --timeout D    give up if the lock is not acquired within D [wait forever]\n"
    "      --lock-delay D the session's LockDelay: after heed dies, the lock cannot be\n"
    "                     taken again for D (Consul's guard; 0s .. 60s) [15s]\n"
    "      --name N       the session's name [heed lock PREFIX/.lock]\n"
    "      --json         report on stderr as JSON lines (stdout is COMMAND's):\n"
    "                     {\"Event\":\"acquired\",\"Key\":K,\"Session\":S} when held, then\n"
    "                     {\"Event\":\"released\" or "
    "\"not_acquired\",...,\"ExitCode\":N}\n" HD_CLIENT_ADDR_HELP
    "      --ns TENANT    the tenant to work in (Consul's namespace) [env HEED_NAMESPACE,\n"
    "                     else CONSUL_NAMESPACE]\n" HD_CLIENT_TLS_HELP "\n"
    "Exit status: COMMAND's (128 + N if signal N ended it); 1 the lock was not\n"
    "acquired (--timeout, the key is not a lock, the agent refused) or was lost;\n"
    "2 usage error; 3 the agent could not be reached; 126/127 COMMAND could not be\n"
    "run; 128 + N if signal N stopped heed before COMMAND started.\n",
};
