/* checks — `heed checks list|get|add|rm|pause|resume|history`: the agent's checks
 * through its HTTP API (api/checks.c), as `consul members` talks to its
 * agent. This file parses flags, sends one request and prints; the agent
 * validates the checks. Exit codes: 0 done, 1 the agent refused (its
 * error is printed) or a check file is unreadable, 2 usage, 3 the agent
 * could not be reached. */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/url.h"
#include "util/yaml.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_REFUSED   1
#define TABLE_COLUMNS  100 /* a list line fits this, unless an id is very long */
#define OUTPUT_MIN_COL 20  /* the OUTPUT column never gets narrower */
#define FILE_MAX       (16u << 20)

enum {
    V_LIST = 1 << 0,
    V_GET = 1 << 1,
    V_ADD = 1 << 2,
    V_RM = 1 << 3,
    V_PAUSE = 1 << 4,
    V_RESUME = 1 << 5,
    V_HISTORY = 1 << 6,
    V_ALL = (1 << 7) - 1,
};

static const struct {
    const char *name;
    int verb;
    int takes_id;
} verbs[] = {
    {"list", V_LIST, 0},   {"get", V_GET, 1},       {"add", V_ADD, 0},         {"rm", V_RM, 1},
    {"pause", V_PAUSE, 1}, {"resume", V_RESUME, 1}, {"history", V_HISTORY, 1},
};

typedef struct opts_s {
    const char *addr, *token, *ns;
    const char *cacert, *cert, *key; /* TLS */
    int json;
    const char *status, *tag;               /* list's filters */
    const char *name, *target, *interval;   /* add */
    const char *timeout, *expect_status;    /* add */
    const char *body_contains, *latency_ms; /* add */
    const char *id, *file;                  /* add */
    const char *since, *until, *step;       /* history */
    const char **tags;                      /* every --tag (list takes one) */
    size_t ntags;
} opts_t;

/* Flags with a value, which verbs take them, and where the value goes. */
static const struct {
    const char *name, *alt;
    int verbs;
    size_t off;
} flags[] = {
    {"--addr", NULL, V_ALL, offsetof(opts_t, addr)},
    {"--token", NULL, V_ALL, offsetof(opts_t, token)},
    {"--ns", NULL, V_ALL, offsetof(opts_t, ns)},
    {"--cacert", NULL, V_ALL, offsetof(opts_t, cacert)},
    {"--cert", NULL, V_ALL, offsetof(opts_t, cert)},
    {"--key", NULL, V_ALL, offsetof(opts_t, key)},
    {"--status", NULL, V_LIST, offsetof(opts_t, status)},
    {"--name", NULL, V_ADD, offsetof(opts_t, name)},
    {"--target", NULL, V_ADD, offsetof(opts_t, target)},
    {"--interval", NULL, V_ADD, offsetof(opts_t, interval)},
    {"--timeout", NULL, V_ADD, offsetof(opts_t, timeout)},
    {"--expect-status", NULL, V_ADD, offsetof(opts_t, expect_status)},
    {"--body-contains", NULL, V_ADD, offsetof(opts_t, body_contains)},
    {"--latency-ms", NULL, V_ADD, offsetof(opts_t, latency_ms)},
    {"--id", NULL, V_ADD, offsetof(opts_t, id)},
    {"--file", "-f", V_ADD, offsetof(opts_t, file)},
    {"--since", NULL, V_HISTORY, offsetof(opts_t, since)},
    {"--until", NULL, V_HISTORY, offsetof(opts_t, until)},
    {"--step", NULL, V_HISTORY, offsetof(opts_t, step)},
};

/* ---- printing --------------------------------------------------------------- */

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Wall-clock seconds of an RFC 3339 time from the agent, or -1. */
static long long parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || !*s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
    return (long long)timegm(&tm);
}

/* "12s ago", "5m ago", "3h ago", "2d ago", or "never". */
static void format_ago(const char *when, char *out, size_t outlen)
{
    long long t = parse_time(when);
    if (t < 0) {
        snprintf(out, outlen, "never");
        return;
    }
    long long age = (long long)(hd_time_wall_us() / HD_USEC_PER_SEC) - t;
    if (age < 0) age = 0;
    if (age < 120)
        snprintf(out, outlen, "%llds ago", age);
    else if (age < 7200)
        snprintf(out, outlen, "%lldm ago", age / 60);
    else if (age < 2 * 86400)
        snprintf(out, outlen, "%lldh ago", age / 3600);
    else
        snprintf(out, outlen, "%lldd ago", age / 86400);
}

static void format_latency(const json_t *c, char *out, size_t outlen)
{
    double ms = json_number_value(json_object_get(c, "latency_ms"));
    if (!json_is_string(json_object_get(c, "last_checked")))
        snprintf(out, outlen, "-");
    else if (ms < 10)
        snprintf(out, outlen, "%.2fms", ms);
    else if (ms < 1000)
        snprintf(out, outlen, "%.1fms", ms);
    else
        snprintf(out, outlen, "%.2fs", ms / 1000);
}

/* Appends n bytes of s to b with control bytes (escape sequences from a
 * probed server, tabs) as spaces: check output is outside input. */
static void append_clean(hd_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        hd_buf_append(b, ch < 0x20 || ch == 0x7f ? " " : &s[i], 1);
    }
}

/* Appends s's first line to b, control bytes as spaces, cut to at most
 * width columns (a UTF-8 sequence counts one) ending in "..." when cut. */
static void append_cut(hd_buf_t *b, const char *s, size_t width)
{
    size_t n = strcspn(s, "\r\n"), cols = 0, keep = n;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) cols++;
    if (cols > width && width >= 3) { /* keep width - 3 columns, then "..." */
        size_t c = 0;
        for (keep = 0; keep < n; keep++)
            if (((unsigned char)s[keep] & 0xC0) != 0x80 && c++ == width - 3) break;
    }
    append_clean(b, s, keep);
    if (keep < n) hd_buf_puts(b, "...");
}

static void print_table(const json_t *arr)
{
    size_t idw = 2, i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        size_t n = strlen(str(c, "id"));
        if (n > idw) idw = n;
    }
    /* ID  STATUS  LATENCY  LAST CHECKED  OUTPUT, two spaces apart */
    const int stw = 11, latw = 9, agow = 12;
    size_t fixed = idw + 2 + (size_t)stw + 2 + (size_t)latw + 2 + (size_t)agow + 2;
    size_t outw = fixed + OUTPUT_MIN_COL < TABLE_COLUMNS ? TABLE_COLUMNS - fixed : OUTPUT_MIN_COL;
    hd_buf_t b = {0};
    hd_buf_printf(&b, "%-*s  %-*s  %-*s  %-*s  OUTPUT", (int)idw, "ID", stw, "STATUS", latw,
                  "LATENCY", agow, "LAST CHECKED");
    puts(b.data);
    json_array_foreach(arr, i, c)
    {
        char lat[32], ago[32];
        format_latency(c, lat, sizeof(lat));
        format_ago(str(c, "last_checked"), ago, sizeof(ago));
        hd_buf_reset(&b);
        hd_buf_printf(&b, "%-*s  %-*s  %-*s  %-*s  ", (int)idw, str(c, "id"), stw, str(c, "status"),
                      latw, lat, agow, ago);
        append_cut(&b, str(c, "output"), outw);
        while (b.len && b.data[b.len - 1] == ' ')
            b.data[--b.len] = '\0';
        puts(b.data);
    }
    hd_buf_free(&b);
}

/* "0.07ms", "12.3ms", "1.20s". */
static void format_ms(double ms, char *out, size_t outlen)
{
    if (ms < 10)
        snprintf(out, outlen, "%.2fms", ms);
    else if (ms < 1000)
        snprintf(out, outlen, "%.1fms", ms);
    else
        snprintf(out, outlen, "%.2fs", ms / 1000);
}

/* `history`: one line per result (step raw: its status, latency and
 * reason) or per minute or hour (the worst status, runs, how many passed,
 * latency min/avg/max), then the total. */
static void print_history(const char *id, const json_t *h)
{
    const json_t *pts = json_object_get(h, "points"), *p;
    int raw = !strcmp(str(h, "step"), "raw");
    long long runs = 0, ok = 0;
    size_t i;
    if (json_array_size(pts)) {
        if (raw)
            printf("%-24s  %-11s  %9s  REASON\n", "TIME", "STATUS", "LATENCY");
        else
            printf("%-24s  %-11s  %6s  %6s  LATENCY MIN/AVG/MAX\n", "TIME", "STATUS", "RUNS", "OK");
    }
    json_array_foreach(pts, i, p)
    {
        const json_t *lat = json_object_get(p, "latency_ms");
        long long n = json_integer_value(json_object_get(p, "count")),
                  k = json_integer_value(json_object_get(p, "ok"));
        char mn[32], avg[32], mx[32];
        format_ms(json_number_value(json_object_get(lat, "min")), mn, sizeof(mn));
        format_ms(json_number_value(json_object_get(lat, "avg")), avg, sizeof(avg));
        format_ms(json_number_value(json_object_get(lat, "max")), mx, sizeof(mx));
        runs += n;
        ok += k;
        if (raw)
            printf("%-24s  %-11s  %9s  %s\n", str(p, "ts"), str(p, "status"), avg,
                   str(p, "reason"));
        else
            printf("%-24s  %-11s  %6lld  %6lld  %s / %s / %s\n", str(p, "ts"), str(p, "status"), n,
                   k, mn, avg, mx);
    }
    if (!runs)
        printf("%s: no results in this range\n", id);
    else
        printf("%s: %lld result%s, %lld passing (%.1f%%)\n", id, runs, runs == 1 ? "" : "s", ok,
               100.0 * (double)ok / (double)runs);
}

static void field(const char *label, const char *value)
{
    printf("%-14s%s\n", label, value && *value ? value : "-");
}

static void field_time(const char *label, const json_t *c, const char *key)
{
    const char *t = str(c, key);
    if (!*t) {
        field(label, "never");
        return;
    }
    char ago[32], line[96];
    format_ago(t, ago, sizeof(ago));
    snprintf(line, sizeof(line), "%s (%s)", t, ago);
    field(label, line);
}

static void print_check(const json_t *c)
{
    char lat[32];
    hd_buf_t b = {0};
    field("ID:", str(c, "id"));
    field("Name:", str(c, "name"));
    if (json_is_string(json_object_get(c, "ttl"))) {
        field("TTL:", str(c, "ttl"));
    } else {
        field("Target:", str(c, "target"));
        field("Interval:", str(c, "interval"));
        field("Timeout:", str(c, "timeout"));
    }
    const char *reason = str(c, "reason");
    hd_buf_puts(&b, str(c, "status"));
    if (*reason && strcmp(reason, "ok") != 0) hd_buf_printf(&b, " (%s)", reason);
    field("Status:", b.data);
    format_latency(c, lat, sizeof(lat));
    field("Latency:", lat);
    field_time("Last checked:", c, "last_checked");
    field_time("Last change:", c, "last_change");
    field_time("Last success:", c, "last_success");
    const json_t *x = json_object_get(c, "expect");
    hd_buf_reset(&b);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)x, k, v)
    {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        hd_buf_printf(&b, "%s%s=%s", b.len ? ", " : "", k, text ? text : "?");
        free(text);
    }
    field("Expect:", b.data);
    hd_buf_reset(&b);
    size_t i;
    json_array_foreach(json_object_get(c, "tags"), i, v)
        hd_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(v) ? json_string_value(v) : "");
    field("Tags:", b.data);
    field("Tenant:", str(c, "tenant"));
    field("Service:", str(c, "service_id"));
    field("Source:", str(c, "source"));
    /* the output last, whole: it may have many lines */
    const char *out = str(c, "output");
    hd_buf_reset(&b);
    for (const char *p = out; *p;) {
        size_t n = strcspn(p, "\n");
        if (p != out) hd_buf_puts(&b, "\n              ");
        append_clean(&b, p, n);
        p += n;
        if (*p) p++;
    }
    field("Output:", b.data);
    hd_buf_free(&b);
}

/* ---- add ------------------------------------------------------------------ */

/* A plain YAML scalar as YAML 1.2's core schema reads it: null, a boolean,
 * an integer, a float, else a string. Quoted scalars are strings. */
static json_t *scalar(const hd_yaml_node_t *n)
{
    if (!n->plain) return json_stringn(n->text, n->len);
    if (hd_yaml_is_null(n)) return json_null();
    const char *s = n->text;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (end != s && !*end && !errno && strspn(s, "+-0123456789") == strlen(s))
        return json_integer(i);
    double d = strtod(s, &end);
    if (end != s && !*end && !errno && strspn(s, "+-.0123456789eE") == strlen(s))
        return json_real(d);
    return json_stringn(n->text, n->len);
}

/* The YAML tree as JSON; NULL with "name:line:column: ..." in err for a
 * duplicate key or text that is not UTF-8. */
static json_t *yaml_json(const hd_yaml_node_t *n, const char *name, char *err, size_t errlen)
{
    if (n->type == HD_YAML_SCALAR) {
        json_t *v = scalar(n);
        if (!v) snprintf(err, errlen, "%s:%d:%d: not valid UTF-8", name, n->line, n->column);
        return v;
    }
    json_t *out = n->type == HD_YAML_MAP ? json_object() : json_array();
    for (size_t i = 0; i < n->n; i++) {
        const hd_yaml_node_t *item = n->type == HD_YAML_MAP ? n->items[2 * i + 1] : n->items[i];
        json_t *v = yaml_json(item, name, err, errlen);
        if (!v) {
            json_decref(out);
            return NULL;
        }
        if (n->type == HD_YAML_SEQ) {
            json_array_append_new(out, v);
            continue;
        }
        const hd_yaml_node_t *key = n->items[2 * i];
        if (json_object_get(out, key->text)) {
            snprintf(err, errlen, "%s:%d:%d: key '%s' given twice", name, key->line, key->column,
                     key->text);
            json_decref(v);
            json_decref(out);
            return NULL;
        }
        if (json_object_set_new(out, key->text, v) < 0) { /* v is freed */
            snprintf(err, errlen, "%s:%d:%d: the key is not valid UTF-8", name, key->line,
                     key->column);
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Reads a check from path ("-": stdin), JSON or YAML, as JSON text. Returns
 * a new string, or NULL after printing why. */
static char *read_check_file(const char *path)
{
    const char *name = strcmp(path, "-") ? path : "stdin";
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "heed checks: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    hd_buf_t b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= FILE_MAX)
        hd_buf_append(&b, chunk, n);
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    char *text = NULL;
    char err[1024];
    json_t *o = NULL;
    if (bad || b.len > FILE_MAX) {
        fprintf(stderr, "heed checks: cannot read %s: %s\n", name,
                bad ? "read error" : "larger than 16 MiB");
        goto out;
    }
    o = b.len ? json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!o && b.len) { /* not JSON: YAML, of which JSON is a subset */
        hd_yaml_node_t *root = NULL;
        int line = 0, col = 0;
        if (hd_yaml_parse(b.data, b.len, &root, &line, &col, err, sizeof(err)) < 0) {
            fprintf(stderr, "heed checks: %s:%d:%d: %s\n", name, line, col, err);
            goto out;
        }
        int is_map = root && root->type == HD_YAML_MAP;
        if (is_map) o = yaml_json(root, name, err, sizeof(err));
        hd_yaml_free(root);
        if (is_map && !o) {
            fprintf(stderr, "heed checks: %s\n", err);
            goto out;
        }
    }
    if (!json_is_object(o)) {
        fprintf(stderr,
                "heed checks: %s: expected a check: a mapping of name, target, interval, ... "
                "(JSON or YAML)\n",
                name);
        goto out;
    }
    text = json_dumps(o, JSON_COMPACT);
out:
    json_decref(o);
    hd_buf_free(&b);
    return text;
}

/* The body of `add` from its flags; NULL after a usage message. */
static char *flags_check(const opts_t *o, int *rc)
{
    char err[256];
    int64_t us;
    *rc = HD_EXIT_USAGE;
    if (!o->name || !o->target) {
        hd_cmd_usage_error("checks", "add needs --name and --target (or -f FILE)");
        return NULL;
    }
    const char *durs[2][2] = {{"--interval", o->interval}, {"--timeout", o->timeout}};
    for (int i = 0; i < 2; i++)
        if (durs[i][1] && hd_time_parse_duration(durs[i][1], &us, err, sizeof(err)) < 0) {
            hd_cmd_usage_error("checks", "%s: %s", durs[i][0], err);
            return NULL;
        }
    json_t *c = json_pack("{s:s, s:s}", "name", o->name, "target", o->target);
    if (o->id) json_object_set_new(c, "id", json_string(o->id));
    if (o->interval) json_object_set_new(c, "interval", json_string(o->interval));
    if (o->timeout) json_object_set_new(c, "timeout", json_string(o->timeout));
    if (o->ntags) {
        json_t *t = json_array();
        for (size_t i = 0; i < o->ntags; i++)
            json_array_append_new(t, json_string(o->tags[i]));
        json_object_set_new(c, "tags", t);
    }
    json_t *x = json_object();
    if (o->expect_status) {
        json_t *st = json_array();
        for (const char *p = o->expect_status; *p;) {
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno || v < 100 || v > 599 || (*end && *end != ',')) {
                json_decref(st);
                json_decref(x);
                json_decref(c);
                hd_cmd_usage_error("checks",
                                   "--expect-status '%s': expected HTTP codes 100-599 like 200,204",
                                   o->expect_status);
                return NULL;
            }
            json_array_append_new(st, json_integer(v));
            p = *end ? end + 1 : end;
        }
        json_object_set_new(x, "status", st);
    }
    if (o->body_contains) json_object_set_new(x, "body_contains", json_string(o->body_contains));
    if (o->latency_ms) {
        char *end;
        errno = 0;
        long v = strtol(o->latency_ms, &end, 10);
        if (end == o->latency_ms || *end || errno || v < 1) {
            json_decref(x);
            json_decref(c);
            hd_cmd_usage_error("checks",
                               "--latency-ms '%s': expected a whole number of milliseconds",
                               o->latency_ms);
            return NULL;
        }
        json_object_set_new(x, "latency_ms", json_integer(v));
    }
    if (json_object_size(x))
        json_object_set_new(c, "expect", x);
    else
        json_decref(x);
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    *rc = 0;
    return text;
}

/* ---- the command ------------------------------------------------------------ */

static const char *verb_name(int verb)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].verb == verb) return verbs[i].name;
    return "?";
}

/* `list`: the agent's list page by page (LIST_PAGE checks a request, so
 * that no reply of a big agent is megabytes), printed as one. */
#define LIST_PAGE 500

static int run_list(hd_client_t *cl, const opts_t *o)
{
    hd_buf_t path = {0}, text = {0};
    json_t *all = json_array();
    char *after = NULL;
    int rc = 0;
    hd_buf_puts(&text, "[");
    for (;;) {
        hd_buf_reset(&path);
        hd_buf_printf(&path, "/v1/checks?limit=%d", LIST_PAGE);
        if (o->status) {
            hd_buf_puts(&path, "&status=");
            hd_url_encode(&path, o->status);
        }
        if (o->tag) {
            hd_buf_puts(&path, "&tag=");
            hd_url_encode(&path, o->tag);
        }
        if (after) {
            hd_buf_puts(&path, "&after=");
            hd_url_encode(&path, after);
        }
        hd_client_reply_t rep;
        if ((rc = hd_client_call(cl, "GET", path.data, NULL, &rep))) break;
        size_t n = json_array_size(rep.json);
        if (rep.status != 200) {
            hd_client_print_error(cl, &rep);
            rc = EXIT_REFUSED;
        } else if (!json_is_array(rep.json)) {
            fprintf(stderr, "heed checks: unexpected reply from %s (HTTP %ld): not a heed agent?\n",
                    cl->base, rep.status);
            rc = EXIT_REFUSED;
        } else if (n) {
            /* --json prints the pages' text joined: the agent's own
             * numbers, not jansson's re-formatting of them. */
            const char *b = rep.body, *open = strchr(b, '['), *close = strrchr(b, ']');
            if (text.len > 1) hd_buf_puts(&text, ",");
            hd_buf_append(&text, open + 1, (size_t)(close - open - 1));
            json_array_extend(all, rep.json);
            const json_t *last = json_array_get(rep.json, n - 1);
            const char *t = json_string_value(json_object_get(last, "tenant"));
            const char *id = json_string_value(json_object_get(last, "id"));
            free(after);
            /* Within one tenant the id is the key; across tenants (--ns '*')
             * "tenant/id" is. */
            hd_buf_t k = {0};
            if (o->ns && !strcmp(o->ns, "*") && t) hd_buf_printf(&k, "%s/", t);
            hd_buf_puts(&k, id ? id : "");
            after = k.data;
        }
        hd_client_reply_free(&rep);
        if (rc || n < LIST_PAGE) break;
    }
    if (!rc) {
        if (o->json) {
            hd_buf_puts(&text, "]\n");
            fputs(text.data, stdout);
        } else {
            /* Across tenants an id alone is ambiguous: the ID column says
             * "tenant/id". */
            size_t i;
            json_t *c;
            int across = o->ns && !strcmp(o->ns, "*");
            json_array_foreach(all, i, c)
            {
                char q[512];
                snprintf(q, sizeof(q), "%s/%s", str(c, "tenant"), str(c, "id"));
                if (across) json_object_set_new(c, "id", json_string(q));
            }
            print_table(all);
        }
    }
    free(after);
    json_decref(all);
    hd_buf_free(&path);
    hd_buf_free(&text);
    return rc;
}

static int run(hd_client_t *cl, int verb, const char *id, const opts_t *o)
{
    if (verb == V_LIST) return run_list(cl, o);
    hd_buf_t path = {0};
    const char *method = "GET";
    char *body = NULL;
    int rc = 0;
    hd_buf_puts(&path, "/v1/checks");
    if (id) {
        hd_buf_puts(&path, "/");
        hd_url_encode(&path, id);
    }
    switch (verb) {
    case V_ADD:
        method = "POST";
        body = o->file ? read_check_file(o->file) : flags_check(o, &rc);
        if (!body) {
            if (o->file) rc = EXIT_REFUSED;
            goto out;
        }
        break;
    case V_RM:
        method = "DELETE";
        break;
    case V_PAUSE:
        method = "PUT";
        hd_buf_puts(&path, "/pause");
        break;
    case V_RESUME:
        method = "PUT";
        hd_buf_puts(&path, "/resume");
        break;
    case V_HISTORY: {
        /* The agent checks the values and names the one it cannot read. */
        const char *q[][2] = {{"since", o->since}, {"until", o->until}, {"step", o->step}};
        char sep = '?';
        hd_buf_puts(&path, "/history");
        for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
            if (!q[k][1]) continue;
            hd_buf_printf(&path, "%c%s=", sep, q[k][0]);
            hd_url_encode(&path, q[k][1]);
            sep = '&';
        }
        break;
    }
    }
    hd_client_reply_t rep;
    rc = hd_client_call(cl, method, path.data, body, &rep);
    if (rc) goto out;
    if (rep.status < 200 || rep.status > 299) {
        hd_client_print_error(cl, &rep);
        rc = EXIT_REFUSED;
    } else if (o->json) {
        hd_client_print_body(&rep);
    } else if (!json_is_object(rep.json)) {
        fprintf(stderr, "heed checks: unexpected reply from %s (HTTP %ld): not a heed agent?\n",
                cl->base, rep.status);
        rc = EXIT_REFUSED;
    } else {
        const json_t *c = rep.json;
        switch (verb) {
        case V_GET:
            print_check(c);
            break;
        case V_ADD:
            if (json_is_string(json_object_get(c, "ttl")))
                printf("added check %s (ttl %s)\n", str(c, "id"), str(c, "ttl"));
            else
                printf("added check %s: %s every %s\n", str(c, "id"), str(c, "target"),
                       str(c, "interval"));
            break;
        case V_RM:
            printf("removed check %s\n", id);
            break;
        case V_PAUSE:
            printf("paused check %s: %s until resumed\n", id, str(c, "status"));
            break;
        case V_RESUME:
            printf("resumed check %s: %s\n", id, str(c, "status"));
            break;
        case V_HISTORY:
            print_history(id, c);
            break;
        }
    }
    hd_client_reply_free(&rep);
out:
    free(body);
    hd_buf_free(&path);
    return rc;
}

static int run_checks(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof(o));
    o.tags = hd_xcalloc((size_t)argc + 1, sizeof(*o.tags));
    int verb = 0, takes_id = 0, rc = HD_EXIT_USAGE;
    const char *id = NULL;
    /* the flags given and the verbs each applies to, checked once the verb is known */
    struct {
        char name[64];
        int verbs;
    } *given = hd_xcalloc((size_t)argc, sizeof(*given));
    int ngiven = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (!verb) {
                for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
                    if (!strcmp(a, verbs[k].name)) {
                        verb = verbs[k].verb;
                        takes_id = verbs[k].takes_id;
                    }
                if (!verb) {
                    hd_cmd_usage_error(
                        "checks",
                        "unknown subcommand '%s' (list, get, add, rm, pause, resume, history)", a);
                    goto out;
                }
            } else if (takes_id && !id) {
                id = a;
            } else {
                hd_cmd_usage_error("checks", "unexpected argument '%s'", a);
                goto out;
            }
            continue;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        if (!strcmp(name, "--json")) {
            if (eq) {
                hd_cmd_usage_error("checks", "--json takes no value");
                goto out;
            }
            o.json = 1;
            continue;
        }
        int mask = 0;
        const char *val = NULL;
        if (!strcmp(name, "--tag")) {
            if (!(val = hd_cmd_flag_value("checks", argc, argv, &i, eq))) goto out;
            o.tags[o.ntags++] = val;
            o.tag = val;
            mask = V_LIST | V_ADD;
        } else {
            for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
                if (strcmp(name, flags[k].name) && (!flags[k].alt || strcmp(name, flags[k].alt)))
                    continue;
                if (!(val = hd_cmd_flag_value("checks", argc, argv, &i, eq))) goto out;
                *(const char **)((char *)&o + flags[k].off) = val;
                mask = flags[k].verbs;
            }
        }
        if (!mask) {
            hd_cmd_usage_error("checks", "unknown flag '%s'", name);
            goto out;
        }
        snprintf(given[ngiven].name, sizeof(given[ngiven].name), "%s", name);
        given[ngiven++].verbs = mask;
    }
    if (!verb) {
        hd_cmd_usage_error("checks",
                           "give a subcommand: list, get, add, rm, pause, resume or history");
        goto out;
    }
    for (int k = 0; k < ngiven; k++)
        if (!(given[k].verbs & verb)) {
            hd_cmd_usage_error("checks", "flag '%s' does not apply to '%s'", given[k].name,
                               verb_name(verb));
            goto out;
        }
    if (takes_id && !id) {
        hd_cmd_usage_error("checks", "%s needs a check id", verb_name(verb));
        goto out;
    }
    if (verb == V_LIST) {
        if (o.ntags > 1) {
            hd_cmd_usage_error("checks", "list filters by one --tag");
            goto out;
        }
        static const char *const st[] = {"passing", "warning", "critical", "maintenance"};
        int ok = !o.status;
        for (int k = 0; k < 4 && !ok; k++)
            ok = !strcmp(o.status, st[k]);
        if (!ok) {
            hd_cmd_usage_error("checks",
                               "--status '%s': expected passing, warning, critical or maintenance",
                               o.status);
            goto out;
        }
    }
    if (verb == V_ADD && o.file &&
        (o.name || o.target || o.interval || o.timeout || o.ntags || o.expect_status ||
         o.body_contains || o.latency_ms || o.id)) {
        hd_cmd_usage_error("checks",
                           "-f FILE holds the whole check: give no other check flags with it");
        goto out;
    }
    hd_client_t cl;
    hd_client_flags_t cf = {o.addr, o.token, o.cacert, o.cert, o.key, o.ns};
    if ((rc = hd_client_init(&cl, "checks", &cf)) != 0) goto out;
    rc = run(&cl, verb, id, &o);
    hd_client_free(&cl);
out:
    free(given);
    free(o.tags);
    return rc;
}

const hd_cmd_t hd_cmd_checks = {
    "checks",
    run_checks,
    "list, show, add, remove, pause and resume a running agent's checks; their history",
    "usage: heed checks list [--status S] [--tag T] [--ns TENANT|*] [--json]\n"
    "       heed checks get ID [--json]\n"
    "       heed checks add --name N --target URL [--interval 10s] [--timeout 2s]\n"
    "                       [--tag T ...] [--expect-status 200,204] [--body-contains TEXT]\n"
    "                       [--latency-ms N] [--id ID] [--json]\n"
    "       heed checks add -f FILE [--json]\n"
    "       heed checks rm|pause|resume ID [--json]\n"
    "       heed checks history ID [--since 1h] [--until T] [--step raw|1m|1h] [--json]\n"
    "\n"
    "Talks to a running `heed agent` over its HTTP API (/v1/checks).\n"
    "\n"
    "  list     a table: ID, STATUS, LATENCY, LAST CHECKED, OUTPUT (first line,\n"
    "           cut to fit 100 columns); --status passing|warning|critical|\n"
    "           maintenance and --tag T filter it; with --ns '*' the ID is\n"
    "           TENANT/ID\n"
    "  get      every field of one check\n"
    "  add      a new check from flags, or from FILE: one check in JSON or YAML with\n"
    "           the keys of a check in the config file (docs/config.md); '-' reads\n"
    "           stdin. The check goes to the token's tenant (or --ns's).\n"
    "  rm       delete a check made through the API (config file checks stay)\n"
    "  pause    maintenance: the check stops running until resumed\n"
    "  resume   run it again\n"
    "  history  the check's results over time: each result (TIME, STATUS, LATENCY,\n"
    "           REASON), or per minute or hour (the worst STATUS, RUNS, OK, latency\n"
    "           min/avg/max), then the total passing. --since and --until take an\n"
    "           RFC 3339 time, Unix seconds or a duration ago (default: the last\n"
    "           hour, until now); --step defaults to the finest that fits (raw up\n"
    "           to 6 h, 1m up to 7 d, then 1h)\n"
    "\n"
    "Flags:\n" HD_CLIENT_ADDR_HELP
    "      --ns TENANT    the tenant to work in (Consul's namespace) [env HEED_NAMESPACE,\n"
    "                     else CONSUL_NAMESPACE]; default: the token's tenant, or\n"
    "                     \"default\" for a token without one; list takes '*': every "
    "tenant\n" HD_CLIENT_TLS_HELP "      --json         print the agent's JSON reply instead\n"
    "\n"
    "Exit status: 0 done; 1 the agent refused (its message is printed as\n"
    "`heed checks: <error> (HTTP 409 conflict)`) or a check file is unreadable;\n"
    "2 usage error (also a TLS file that cannot be read);\n"
    "3 the agent could not be reached, or TLS with it failed (the message names\n"
    "the file and what failed: a certificate that does not verify, or one the\n"
    "agent refused).\n",
};
