/* status — `heed status`: a running agent's node, version, uptime and its
 * checks counted by status (GET /v1/status), with the exit status of a
 * Nagios plugin so that a script or another monitor can use it as a check:
 * 0 every check passing (or paused), 1 some warning, 2 some critical, 3
 * unknown (the agent unreachable or refusing, or a usage error). The
 * checks not passing are named under the counts (GET /v1/checks?status=),
 * critical first, NAMED_MAX of each status at most. */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "util/buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define EXIT_OK       0
#define EXIT_WARNING  1
#define EXIT_CRITICAL 2
#define EXIT_UNKNOWN  3  /* Nagios' UNKNOWN: also usage errors, as its plugin guidelines say */
#define NAMED_MAX     10 /* checks named per status; beyond, "... and N more" */
#define OUTPUT_COLS   60 /* a named check's output is cut to this many columns */

/* "3d4h", "2h5m", "4m10s", "12s". */
static void format_uptime(double secs, char *out, size_t outlen)
{
    long long s = secs > 0 ? (long long)secs : 0;
    long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, r = s % 60;
    if (d)
        snprintf(out, outlen, "%lldd%lldh", d, h);
    else if (h)
        snprintf(out, outlen, "%lldh%lldm", h, m);
    else if (m)
        snprintf(out, outlen, "%lldm%llds", m, r);
    else
        snprintf(out, outlen, "%llds", r);
}

static long long count(const json_t *checks, const char *status)
{
    return (long long)json_integer_value(json_object_get(checks, status));
}

/* Appends s's first line, control bytes as spaces, cut to OUTPUT_COLS
 * columns (a UTF-8 sequence counts one) with "..." when cut: the output
 * of a check is outside input. */
static void append_output(hd_buf_t *b, const char *s)
{
    size_t n = strcspn(s, "\r\n"), cols = 0, i;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch & 0xC0) != 0x80 && cols++ == OUTPUT_COLS - 3) break;
        hd_buf_append(b, ch < 0x20 || ch == 0x7f ? " " : &s[i], 1);
    }
    if (i < n) hd_buf_puts(b, "...");
}

/* Prints the checks of status (total of them: count) as lines
 * "  critical  ID  OUTPUT"; with --ns '*' the ID is "tenant/id". Returns 0,
 * or -1 when the agent could not be asked (the counts are printed already,
 * so the exit status stays theirs: this is a best-effort detail). */
static int name_checks(hd_client_t *cl, const char *status, long long count, int across)
{
    if (!count) return 0;
    char path[96];
    snprintf(path, sizeof(path), "/v1/checks?status=%s&limit=%d", status, NAMED_MAX);
    hd_client_reply_t rep;
    if (hd_client_call(cl, "GET", path, NULL, &rep) != 0) return -1;
    int rc = rep.status == 200 && json_is_array(rep.json) ? 0 : -1;
    size_t i;
    const json_t *c;
    hd_buf_t b = {0};
    if (rc == 0) {
        json_array_foreach(rep.json, i, c)
        {
            const char *t = json_string_value(json_object_get(c, "tenant"));
            const char *id = json_string_value(json_object_get(c, "id"));
            const char *out = json_string_value(json_object_get(c, "output"));
            hd_buf_reset(&b);
            hd_buf_printf(&b, "  %-9s %s%s%s", status, across && t ? t : "", across && t ? "/" : "",
                          id ? id : "?");
            if (out && *out) {
                hd_buf_puts(&b, ": ");
                append_output(&b, out);
            }
            puts(b.data);
        }
    }
    if (rc == 0 && count > (long long)json_array_size(rep.json))
        printf("  ... and %lld more %s (heed checks list --status %s)\n",
               count - (long long)json_array_size(rep.json), status, status);
    hd_buf_free(&b);
    hd_client_reply_free(&rep);
    return rc;
}

/* Where the value of flag name goes, or NULL when name takes no value. */
static const char **value_flag(hd_client_flags_t *f, const char *name)
{
    static const struct {
        const char *name;
        size_t off;
    } flags[] = {
        {"--addr", offsetof(hd_client_flags_t, addr)},
        {"--token", offsetof(hd_client_flags_t, token)},
        {"--cacert", offsetof(hd_client_flags_t, cacert)},
        {"--cert", offsetof(hd_client_flags_t, cert)},
        {"--key", offsetof(hd_client_flags_t, key)},
        {"--ns", offsetof(hd_client_flags_t, ns)},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (!strcmp(name, flags[i].name)) return (const char **)((char *)f + flags[i].off);
    return NULL;
}

static int run_status(int argc, char **argv)
{
    hd_client_flags_t f;
    memset(&f, 0, sizeof(f));
    const char **to;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        if (!strcmp(name, "--json") && !eq) {
            json = 1;
        } else if ((to = value_flag(&f, name))) {
            if (!(*to = hd_cmd_flag_value("status", argc, argv, &i, eq))) return EXIT_UNKNOWN;
        } else {
            hd_cmd_usage_error("status", "%s '%s'",
                               a[0] == '-' ? "unknown flag" : "unexpected argument",
                               a[0] == '-' ? name : a);
            return EXIT_UNKNOWN;
        }
    }
    hd_client_t cl;
    if (hd_client_init(&cl, "status", &f) != 0) return EXIT_UNKNOWN;
    hd_client_reply_t rep;
    int rc = EXIT_UNKNOWN;
    if (hd_client_call(&cl, "GET", "/v1/status", NULL, &rep) != 0) goto out;
    const json_t *checks = rep.json ? json_object_get(rep.json, "checks") : NULL;
    if (rep.status != 200) {
        hd_client_print_error(&cl, &rep);
    } else if (!json_is_object(checks)) {
        fprintf(stderr, "heed status: unexpected reply from %s: not a heed agent?\n", cl.base);
    } else {
        long long pass = count(checks, "passing"), warn = count(checks, "warning"),
                  crit = count(checks, "critical"), maint = count(checks, "maintenance");
        rc = crit ? EXIT_CRITICAL : warn ? EXIT_WARNING : EXIT_OK;
        if (json) {
            hd_client_print_body(&rep);
        } else {
            const json_t *o = rep.json;
            char up[32];
            format_uptime(json_number_value(json_object_get(o, "uptime_s")), up, sizeof(up));
            printf("Node:     %s\n", json_string_value(json_object_get(o, "node")));
            printf("Version:  %s\n", json_string_value(json_object_get(o, "version")));
            printf("Uptime:   %s (since %s)\n", up,
                   json_string_value(json_object_get(o, "started")));
            printf("Agent:    %s\n", cl.base);
            printf("Checks:   %lld total: %lld passing, %lld warning, %lld critical, %lld "
                   "maintenance\n",
                   pass + warn + crit + maint, pass, warn, crit, maint);
            if (crit || warn) {
                int across = f.ns && !strcmp(f.ns, "*");
                printf("Not passing:\n");
                if (name_checks(&cl, "critical", crit, across) < 0 ||
                    name_checks(&cl, "warning", warn, across) < 0)
                    printf("  (the agent did not list them: heed checks list --status critical)\n");
            }
        }
    }
    hd_client_reply_free(&rep);
out:
    hd_client_free(&cl);
    return rc;
}

const hd_cmd_t hd_cmd_status = {
    "status",
    run_status,
    "a running agent's node, version, uptime and checks by status",
    "usage: heed status [--addr URL] [--token T] [--ns TENANT|*] [--cacert FILE]\n"
    "                   [--cert FILE] [--key FILE] [--json]\n"
    "\n"
    "Asks a running `heed agent` (GET /v1/status) for its node, version, uptime\n"
    "and how many of its checks are passing, warning, critical or paused\n"
    "(maintenance): those of the token's tenant, or of the default tenant for a\n"
    "token without one; --ns names another tenant, --ns '*' counts every tenant's.\n"
    "Then it names the checks not passing, critical first, with the first line\n"
    "of their output (10 of each status at most; heed checks list --status S\n"
    "lists them all).\n"
    "\n"
    "Flags:\n" HD_CLIENT_ADDR_HELP
    "      --ns TENANT    the tenant to count (Consul's namespace) [env HEED_NAMESPACE,\n"
    "                     else CONSUL_NAMESPACE]; '*': every tenant\n" HD_CLIENT_TLS_HELP
    "      --json         print the agent's JSON reply instead\n"
    "\n"
    "Exit status, as a Nagios plugin's, so that `heed status` can itself be a\n"
    "check: 0 every check passing (paused ones do not count), 1 some warning and\n"
    "none critical, 2 some critical, 3 unknown: the agent could not be reached,\n"
    "TLS with it failed (the message names the file and what failed), the agent\n"
    "refused the request (its message is printed), or a usage error.\n",
};
