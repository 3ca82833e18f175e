/* notify_send — a test-only tool: sends events through one notifier of a
 * config file, on a libevent loop, and prints how it went. The notifier
 * tests (tests/integration/test_notifiers.py) drive it against real
 * receivers, apart from the alert engine.
 *
 *   notify_send CONFIG NAME EVENT.json [EVENT.json ...]
 *
 * One event is sent with hd_notifier_send, several with
 * hd_notifier_send_batch. Prints "delivered: REASON", "retry: REASON" or
 * "failed: REASON" and exits 0, 1 or 2; 3 for a usage, config or event
 * error (the message on stderr).
 *
 * With NOTIFY_SEND_OPEN_FD=1 in its environment it first opens a socket
 * without close-on-exec, as a careless part of a process might: an exec
 * notifier's command must not inherit it. */
#include "agent/config.h"
#include "agent/notifier.h"

#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct run_s {
    struct event_base *base;
    int done;
    hd_notifier_result_t result;
} run_t;

static void on_done(hd_notifier_result_t r, const char *reason, void *arg)
{
    run_t *run = arg;
    static const char *const words[] = {"delivered", "retry", "failed"};
    printf("%s: %s\n", words[r], reason);
    fflush(stdout);
    run->done = 1;
    run->result = r;
    event_base_loopbreak(run->base);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: notify_send CONFIG NAME EVENT.json [EVENT.json ...]\n");
        return 3;
    }
    if (getenv("NOTIFY_SEND_OPEN_FD")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0); /* kept open until exit, on purpose */
        if (fd < 0) return 3;
    }
    signal(SIGPIPE, SIG_IGN); /* as the agent: a receiver that goes away is an error, not death */
    hd_config_t cfg;
    char err[8192];
    if (hd_config_load_file(argv[1], &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 3;
    }
    const hd_notifier_def_t *def = NULL;
    for (size_t i = 0; i < cfg.nnotifiers; i++)
        if (!strcmp(cfg.notifiers[i].name, argv[2])) def = &cfg.notifiers[i];
    if (!def) {
        fprintf(stderr, "%s: no notifier named %s\n", argv[1], argv[2]);
        hd_config_free(&cfg);
        return 3;
    }
    size_t count = (size_t)argc - 3;
    json_t **events = calloc(count, sizeof(*events));
    for (size_t i = 0; i < count; i++) {
        json_error_t je;
        events[i] = json_load_file(argv[3 + i], 0, &je);
        if (!events[i]) {
            fprintf(stderr, "%s:%d: %s\n", argv[3 + i], je.line, je.text);
            return 3;
        }
    }
    run_t run = {.base = event_base_new()};
    hd_notifier_t *n = hd_notifier_new(run.base, def, err, sizeof(err));
    int rc = 3;
    if (!n) {
        fprintf(stderr, "%s: %s\n", argv[2], err);
        goto done;
    }
    int sent = count == 1
                   ? hd_notifier_send(n, events[0], on_done, &run)
                   : hd_notifier_send_batch(n, (const json_t *const *)events, count, on_done, &run);
    if (sent < 0) {
        fprintf(stderr, "%s: could not send\n", argv[2]);
        goto done;
    }
    if (run.done) { /* the contract: never from inside the call */
        fprintf(stderr, "the callback ran inside hd_notifier_send\n");
        goto done;
    }
    while (!run.done)
        event_base_loop(run.base, EVLOOP_ONCE);
    rc = (int)run.result;
done:
    hd_notifier_free(n);
    for (size_t i = 0; i < count; i++)
        json_decref(events[i]);
    free(events);
    event_base_free(run.base);
    hd_config_free(&cfg);
    return rc;
}
