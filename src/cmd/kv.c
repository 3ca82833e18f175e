/* kv — `heed kv get|put|delete|list`: the agent's KV store through
 * Consul's API (/v1/kv), as `consul kv` uses it. This file parses flags,
 * sends one request and prints; the agent checks keys and values.
 *
 * Exit codes (README, "heed kv"): 0 done; 1 the key does not exist (get),
 * a --cas write or delete lost (the key changed), or the agent refused
 * (its message is printed); 2 usage; 3 the agent could not be reached. */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/kvclient.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_NO   1            /* not found, cas lost, refused */
#define VALUE_MAX (512u << 10) /* Consul's default kv_max_value_size */

typedef struct opts_s {
    hd_client_flags_t cf;
    const char *verb, *key, *value;
    const char *cas, *flags, *separator;
    int json, recurse;
} opts_t;

/* The value of put: the argument, '-' for stdin, '@FILE' for a file.
 * Returns 0 with the bytes in *b, or prints why and returns EXIT_NO. */
static int read_value(const char *v, hd_buf_t *b)
{
    if (strcmp(v, "-") != 0 && v[0] != '@') {
        hd_buf_puts(b, v);
        return 0;
    }
    const char *path = v[0] == '@' ? v + 1 : NULL;
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "heed kv: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_NO;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b->len <= VALUE_MAX)
        hd_buf_append(b, chunk, n);
    int bad = ferror(f);
    if (path) fclose(f);
    if (bad || b->len > VALUE_MAX) {
        fprintf(stderr, "heed kv: cannot read %s: %s\n", path ? path : "stdin",
                bad ? "read error" : "larger than 512 KiB, the agent's limit for a value");
        return EXIT_NO;
    }
    if (!b->data) hd_buf_puts(b, "");
    return 0;
}

/* "/v1/kv/KEY" with each segment of KEY escaped, then the query. */
static void kv_path(hd_buf_t *p, const char *key, const char *query)
{
    hd_buf_puts(p, "/v1/kv/");
    hd_kvclient_append_key(p, key);
    if (query && *query) hd_buf_printf(p, "?%s", query);
}

/* Writes a KV entry's value (base64 in JSON, null for none) to stdout as
 * its bytes. */
static int print_value(const json_t *entry)
{
    const char *v = json_string_value(json_object_get(entry, "Value"));
    if (!v) return 0;
    hd_buf_t raw = {0};
    int rc = hd_base64_decode(v, strlen(v), &raw, NULL);
    if (rc == 0 && raw.len) fwrite(raw.data, 1, raw.len, stdout);
    hd_buf_free(&raw);
    return rc;
}

static int do_get(hd_client_t *cl, const opts_t *o)
{
    hd_buf_t path = {0};
    kv_path(&path, o->key, o->recurse ? "recurse" : NULL);
    hd_client_reply_t rep;
    int rc = hd_client_call(cl, "GET", path.data, NULL, &rep);
    hd_buf_free(&path);
    if (rc) return rc;
    if (rep.status == 404 && !rep.len) { /* Consul's "no such key": empty body */
        if (o->recurse) {
            if (o->json) puts("[]");
        } else {
            fprintf(stderr, "heed kv: no key '%s'\n", o->key);
            rc = EXIT_NO;
        }
    } else if (rep.status != 200) {
        hd_kvclient_print_error(cl, &rep);
        rc = EXIT_NO;
    } else if (!json_is_array(rep.json)) {
        fprintf(stderr, "heed kv: unexpected reply from %s: not a list of KV entries\n", cl->base);
        rc = EXIT_NO;
    } else if (o->json) {
        hd_client_print_body(&rep);
    } else if (!o->recurse) {
        if (print_value(json_array_get(rep.json, 0)) < 0) {
            fprintf(stderr, "heed kv: the agent's value for '%s' is not base64\n", o->key);
            rc = EXIT_NO;
        }
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(rep.json, i, e)
        { /* KEY:VALUE, as `consul kv get -recurse` prints them */
            const char *k = json_string_value(json_object_get(e, "Key"));
            printf("%s:", k ? k : "");
            if (print_value(e) < 0) rc = EXIT_NO;
            putchar('\n');
        }
    }
    hd_client_reply_free(&rep);
    return rc;
}

/* "true" or "false", Consul's answer to a write: 1, 0, or -1 for neither. */
static int consul_bool(const hd_client_reply_t *rep)
{
    if (json_is_true(rep->json)) return 1;
    if (json_is_false(rep->json)) return 0;
    return -1;
}

static int do_write(hd_client_t *cl, const opts_t *o, int del)
{
    hd_buf_t q = {0}, path = {0}, value = {0};
    int rc = 0;
    if (del && o->recurse) hd_buf_puts(&q, "recurse");
    if (o->cas) hd_buf_printf(&q, "%scas=%s", q.len ? "&" : "", o->cas);
    if (o->flags) hd_buf_printf(&q, "%sflags=%s", q.len ? "&" : "", o->flags);
    if (!del && (rc = read_value(o->value, &value)) != 0) goto out;
    kv_path(&path, o->key, q.data);
    hd_client_req_t req = {.method = del ? "DELETE" : "PUT",
                           .path = path.data,
                           .body = del ? NULL : (value.data ? value.data : ""),
                           .body_len = value.len,
                           .content_type = "application/octet-stream"};
    hd_client_reply_t rep;
    if ((rc = hd_client_send(cl, &req, &rep)) != 0) goto out;
    int ok = consul_bool(&rep);
    if (rep.status != 200 || ok < 0) {
        hd_kvclient_print_error(cl, &rep);
        rc = EXIT_NO;
    } else if (o->json) {
        hd_client_print_body(&rep);
        rc = ok ? 0 : EXIT_NO;
    } else if (!ok) {
        fprintf(stderr,
                "heed kv: %s '%s': the cas index %s is not its ModifyIndex (it changed%s)\n",
                del ? "did not delete" : "did not write", o->key, o->cas,
                del ? ", or is gone" : ", or it exists and --cas was 0");
        rc = EXIT_NO;
    } else if (del) {
        if (o->recurse)
            printf("deleted every key under '%s'\n", o->key);
        else
            printf("deleted '%s'\n", o->key);
    } else {
        printf("wrote '%s' (%zu bytes)\n", o->key, value.len);
    }
    hd_client_reply_free(&rep);
out:
    hd_buf_free(&q);
    hd_buf_free(&path);
    hd_buf_free(&value);
    return rc;
}

static int do_list(hd_client_t *cl, const opts_t *o)
{
    hd_buf_t q = {0}, path = {0};
    hd_buf_puts(&q, "keys");
    if (o->separator) {
        hd_buf_puts(&q, "&separator=");
        hd_url_encode(&q, o->separator);
    }
    kv_path(&path, o->key ? o->key : "", q.data);
    hd_client_reply_t rep;
    int rc = hd_client_call(cl, "GET", path.data, NULL, &rep);
    hd_buf_free(&q);
    hd_buf_free(&path);
    if (rc) return rc;
    if (rep.status == 404 && !rep.len) {
        if (o->json) puts("[]");
    } else if (rep.status != 200) {
        hd_kvclient_print_error(cl, &rep);
        rc = EXIT_NO;
    } else if (!json_is_array(rep.json)) {
        fprintf(stderr, "heed kv: unexpected reply from %s: not a list of keys\n", cl->base);
        rc = EXIT_NO;
    } else if (o->json) {
        hd_client_print_body(&rep);
    } else {
        size_t i;
        json_t *k;
        json_array_foreach(rep.json, i, k) puts(json_string_value(k) ? json_string_value(k) : "");
    }
    hd_client_reply_free(&rep);
    return rc;
}

/* 1 when s is a decimal number of 0 .. 2^64-1. */
static int is_u64(const char *s)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20) return 0;
    errno = 0;
    (void)strtoull(s, NULL, 10); /* only its range matters here */
    return errno == 0;
}

static int parse(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    int npos = 0, dashes = 0;
    const char *pos[3] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashes && !strcmp(a, "--")) { /* then a value may start with '-' */
            dashes = 1;
            continue;
        }
        if (dashes || a[0] != '-' || !a[1]) {
            if (npos == 3) return hd_cmd_usage_error("kv", "unexpected argument '%s'", a);
            pos[npos++] = a;
            continue;
        }
        char name[32];
        const char *eq = strchr(a, '=');
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        int *flag = !strcmp(name, "--json")      ? &o->json
                    : !strcmp(name, "--recurse") ? &o->recurse
                                                 : NULL;
        if (flag) {
            if (eq) return hd_cmd_usage_error("kv", "%s takes no value", name);
            *flag = 1;
            continue;
        }
        const char **dst = !strcmp(name, "--addr")        ? &o->cf.addr
                           : !strcmp(name, "--token")     ? &o->cf.token
                           : !strcmp(name, "--ns")        ? &o->cf.ns
                           : !strcmp(name, "--cacert")    ? &o->cf.cacert
                           : !strcmp(name, "--cert")      ? &o->cf.cert
                           : !strcmp(name, "--key")       ? &o->cf.key
                           : !strcmp(name, "--cas")       ? &o->cas
                           : !strcmp(name, "--flags")     ? &o->flags
                           : !strcmp(name, "--separator") ? &o->separator
                                                          : NULL;
        if (!dst) return hd_cmd_usage_error("kv", "unknown flag '%s'", name);
        if (!(*dst = hd_cmd_flag_value("kv", argc, argv, &i, eq))) return HD_EXIT_USAGE;
    }
    if (npos == 0) return hd_cmd_usage_error("kv", "give a subcommand: get, put, delete or list");
    o->verb = pos[0];
    o->key = pos[1];
    o->value = pos[2];
    int get = !strcmp(o->verb, "get"), put = !strcmp(o->verb, "put"),
        del = !strcmp(o->verb, "delete"), list = !strcmp(o->verb, "list");
    if (!get && !put && !del && !list)
        return hd_cmd_usage_error("kv", "unknown subcommand '%s' (get, put, delete, list)",
                                  o->verb);
    if (!list && !o->key) return hd_cmd_usage_error("kv", "%s needs a key", o->verb);
    if (put && !o->value)
        return hd_cmd_usage_error("kv", "put needs a value: VALUE, '-' (stdin) or @FILE");
    if (!put && o->value) return hd_cmd_usage_error("kv", "unexpected argument '%s'", o->value);
    if (o->cas && (!is_u64(o->cas) || (!put && !del)))
        return hd_cmd_usage_error("kv", "--cas %s: %s", o->cas,
                                  put || del ? "expected a ModifyIndex (0: only if absent)"
                                             : "applies to put and delete");
    if (o->flags && (!is_u64(o->flags) || !put))
        return hd_cmd_usage_error("kv", "--flags %s: %s", o->flags,
                                  put ? "expected a number of 0 .. 2^64-1" : "applies to put");
    if (o->recurse && !get && !del)
        return hd_cmd_usage_error("kv", "--recurse applies to get and delete");
    if (o->recurse && o->cas)
        return hd_cmd_usage_error("kv", "--cas deletes one key, not --recurse");
    if (o->separator && !list) return hd_cmd_usage_error("kv", "--separator applies to list");
    if (!list && !*o->key && !o->recurse) return hd_cmd_usage_error("kv", "the key is empty");
    return 0;
}

static int run_kv(int argc, char **argv)
{
    opts_t o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    hd_client_t cl;
    if ((rc = hd_client_init(&cl, "kv", &o.cf)) != 0) return rc;
    if (!strcmp(o.verb, "get"))
        rc = do_get(&cl, &o);
    else if (!strcmp(o.verb, "list"))
        rc = do_list(&cl, &o);
    else
        rc = do_write(&cl, &o, !strcmp(o.verb, "delete"));
    hd_client_free(&cl);
    return rc;
}

const hd_cmd_t hd_cmd_kv = {
    "kv",
    run_kv,
    "read and write the agent's KV store (Consul's /v1/kv)",
    "usage: heed kv get KEY [--json]\n"
    "       heed kv get --recurse PREFIX [--json]\n"
    "       heed kv put KEY VALUE|-|@FILE [--cas INDEX] [--flags N] [--json]\n"
    "       heed kv delete KEY [--cas INDEX] [--json]\n"
    "       heed kv delete --recurse PREFIX [--json]\n"
    "       heed kv list [PREFIX] [--separator S] [--json]\n"
    "\n"
    "Talks to a running `heed agent` over Consul's KV API (/v1/kv), as `consul kv`.\n"
    "\n"
    "  get      prints the value's bytes exactly as stored (no newline added);\n"
    "           --recurse prints KEY:VALUE lines for every key under PREFIX\n"
    "  put      writes VALUE, or stdin ('-'), or a file's bytes (@FILE); --cas INDEX\n"
    "           writes only if the key's ModifyIndex is INDEX (0: only if it does\n"
    "           not exist yet); --flags N stores Consul's opaque flags\n"
    "  delete   deletes a key (a key that does not exist is not an error, as in\n"
    "           Consul); --cas INDEX only if its ModifyIndex is INDEX; --recurse\n"
    "           every key under PREFIX\n"
    "  list     the keys under PREFIX, one a line; --separator / stops at the\n"
    "           next '/' (folders end in '/')\n"
    "\n"
    "Flags:\n" HD_CLIENT_ADDR_HELP
    "      --ns TENANT    the tenant to work in (Consul's namespace) [env HEED_NAMESPACE,\n"
    "                     else CONSUL_NAMESPACE]; default: the token's tenant\n" HD_CLIENT_TLS_HELP
    "      --json         print the agent's JSON reply instead (values in base64,\n"
    "                     as Consul's API has them; put and delete: true or false)\n"
    "\n"
    "Exit status: 0 done; 1 no such key (get), the --cas write or delete did not\n"
    "happen (the key changed), or the agent refused (its message is printed);\n"
    "2 usage error; 3 the agent could not be reached.\n",
};
