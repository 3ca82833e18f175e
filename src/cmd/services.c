/* services — `heed services list|register|deregister`: the services of a
 * running agent through its Consul API (/v1/catalog/services,
 * /v1/health/service/:name, /v1/agent/service/register and
 * /deregister/:id), as `consul services` talks to its agent. Exit codes:
 * 0 done, 1 the agent refused (its error is printed) or a service file is
 * unreadable, 2 usage, 3 the agent could not be reached. */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/url.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_REFUSED 1

typedef struct opts_s {
    hd_client_flags_t cf;
    int json;
    const char *name, *id, *address, *port, *file;
    const char *check, *interval, *timeout, *ttl;
    const char **tags, **meta;
    size_t ntags, nmeta;
} opts_t;

/* The flags that take a value, and where it goes (--tag and --meta repeat). */
static const struct {
    const char *name;
    size_t off;
} flags[] = {
    {"--addr", offsetof(opts_t, cf.addr)},    {"--token", offsetof(opts_t, cf.token)},
    {"--ns", offsetof(opts_t, cf.ns)},        {"--cacert", offsetof(opts_t, cf.cacert)},
    {"--cert", offsetof(opts_t, cf.cert)},    {"--key", offsetof(opts_t, cf.key)},
    {"--name", offsetof(opts_t, name)},       {"--id", offsetof(opts_t, id)},
    {"--address", offsetof(opts_t, address)}, {"--port", offsetof(opts_t, port)},
    {"--file", offsetof(opts_t, file)},       {"-f", offsetof(opts_t, file)},
    {"--check", offsetof(opts_t, check)},     {"--interval", offsetof(opts_t, interval)},
    {"--timeout", offsetof(opts_t, timeout)}, {"--ttl", offsetof(opts_t, ttl)},
};

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Checks that a reply is a 2xx with JSON of type want (JSON_OBJECT,
 * JSON_ARRAY, or -1 for any); prints why not and returns EXIT_REFUSED. */
static int expect(const hd_client_t *cl, const hd_client_reply_t *rep, int want)
{
    if (rep->status < 200 || rep->status > 299) {
        hd_client_print_error(cl, rep);
        return EXIT_REFUSED;
    }
    if (want >= 0 && (!rep->json || (int)json_typeof(rep->json) != want)) {
        fprintf(stderr, "heed %s: unexpected reply from %s (HTTP %ld): not a heed agent?\n",
                cl->cmd, cl->base, rep->status);
        return EXIT_REFUSED;
    }
    return 0;
}

/* ---- list ------------------------------------------------------------------- */

/* A table of NAME, INSTANCES, PASSING, TAGS: the catalog's names, then
 * each name's health (a request per service, as `consul catalog
 * services` does not, so that the table answers "is it up" too). */
static int run_list(hd_client_t *cl, const opts_t *o)
{
    hd_client_reply_t rep;
    int rc = hd_client_call(cl, "GET", "/v1/catalog/services", NULL, &rep);
    if (rc) return rc;
    if ((rc = expect(cl, &rep, JSON_OBJECT))) goto out;
    if (o->json) {
        hd_client_print_body(&rep);
        goto out;
    }
    size_t w = 4;
    const char *name;
    json_t *tags;
    json_object_foreach(rep.json, name, tags)
    {
        if (strlen(name) > w) w = strlen(name);
    }
    printf("%-*s  INSTANCES  PASSING  TAGS\n", (int)w, "NAME");
    hd_buf_t path = {0}, t = {0};
    json_object_foreach(rep.json, name, tags)
    {
        hd_buf_reset(&path);
        hd_buf_puts(&path, "/v1/health/service/");
        hd_url_encode(&path, name);
        hd_client_reply_t h;
        if ((rc = hd_client_call(cl, "GET", path.data, NULL, &h))) break;
        if ((rc = expect(cl, &h, JSON_ARRAY))) {
            hd_client_reply_free(&h);
            break;
        }
        size_t i, passing = 0;
        json_t *inst;
        json_array_foreach(h.json, i, inst)
        {
            size_t k;
            json_t *c;
            int ok = 1;
            json_array_foreach(json_object_get(inst, "Checks"), k, c) ok =
                ok && !strcmp(str(c, "Status"), "passing");
            passing += ok;
        }
        hd_buf_reset(&t);
        json_t *tag;
        json_array_foreach(tags, i, tag)
            hd_buf_printf(&t, "%s%s", i ? "," : "", json_string_value(tag));
        printf("%-*s  %9zu  %7zu  %s\n", (int)w, name, json_array_size(h.json), passing,
               t.len ? t.data : "-");
        hd_client_reply_free(&h);
    }
    hd_buf_free(&path);
    hd_buf_free(&t);
out:
    hd_client_reply_free(&rep);
    return rc;
}

/* Prints {"ID": id}: what --json says after a register or deregister. */
static void print_id(const char *id)
{
    json_t *o = json_pack("{s:s}", "ID", id);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) puts(text);
    free(text);
    json_decref(o);
}

/* ---- register ---------------------------------------------------------------- */

/* Reads a Consul service definition (JSON) from path ("-": stdin); a
 * {"Service": {...}} wrapper, as Consul's files have, is taken off.
 * Returns its text, or NULL after printing why. */
static char *read_service_file(const char *path)
{
    json_error_t e;
    json_t *o = strcmp(path, "-") ? json_load_file(path, JSON_REJECT_DUPLICATES, &e)
                                  : json_loadf(stdin, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        fprintf(stderr, "heed services: %s:%d:%d: %s\n", strcmp(path, "-") ? path : "stdin", e.line,
                e.column, e.text);
        return NULL;
    }
    json_t *inner = json_object_get(o, "Service");
    if (!inner) inner = json_object_get(o, "service");
    json_t *def = json_is_object(inner) ? inner : o;
    char *text = json_is_object(def) ? json_dumps(def, JSON_COMPACT) : NULL;
    if (!text)
        fprintf(stderr, "heed services: %s: expected a service: an object with Name, ID, ...\n",
                path);
    json_decref(o);
    return text;
}

/* The register body from flags; NULL after a usage message. --check is a
 * target URL heed probes (http(s)://, tcp://, postgres://, ...): an HTTP
 * or TCP check in Consul's fields where Consul has them, heed's Target
 * field for the rest. */
static char *flags_service(const opts_t *o)
{
    if (!o->name) {
        hd_cmd_usage_error("services", "register needs --name (or -f FILE)");
        return NULL;
    }
    json_t *s = json_pack("{s:s}", "Name", o->name);
    if (o->id) json_object_set_new(s, "ID", json_string(o->id));
    if (o->address) json_object_set_new(s, "Address", json_string(o->address));
    if (o->port) {
        char *end;
        errno = 0;
        long p = strtol(o->port, &end, 10);
        if (end == o->port || *end || errno || p < 0 || p > 65535) {
            json_decref(s);
            hd_cmd_usage_error("services", "--port '%s': expected 0-65535", o->port);
            return NULL;
        }
        json_object_set_new(s, "Port", json_integer(p));
    }
    json_t *tags = json_array(), *meta = json_object();
    for (size_t i = 0; i < o->ntags; i++)
        json_array_append_new(tags, json_string(o->tags[i]));
    for (size_t i = 0; i < o->nmeta; i++) {
        const char *eq = strchr(o->meta[i], '=');
        if (!eq || eq == o->meta[i]) {
            json_decref(tags);
            json_decref(meta);
            json_decref(s);
            hd_cmd_usage_error("services", "--meta '%s': expected KEY=VALUE", o->meta[i]);
            return NULL;
        }
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - o->meta[i]), o->meta[i]);
        json_object_set_new(meta, key, json_string(eq + 1));
    }
    json_object_set_new(s, "Tags", tags);
    if (json_object_size(meta))
        json_object_set_new(s, "Meta", meta);
    else
        json_decref(meta);
    if (o->check || o->ttl) {
        json_t *c = json_object();
        if (o->ttl) json_object_set_new(c, "TTL", json_string(o->ttl));
        if (o->check && (!strncmp(o->check, "http://", 7) || !strncmp(o->check, "https://", 8)))
            json_object_set_new(c, "HTTP", json_string(o->check));
        else if (o->check && !strncmp(o->check, "tcp://", 6))
            json_object_set_new(c, "TCP", json_string(o->check + 6));
        else if (o->check)
            json_object_set_new(c, "Target", json_string(o->check));
        if (o->check)
            json_object_set_new(c, "Interval", json_string(o->interval ? o->interval : "10s"));
        if (o->timeout) json_object_set_new(c, "Timeout", json_string(o->timeout));
        json_object_set_new(s, "Check", c);
    }
    char *text = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    return text;
}

static int run_register(hd_client_t *cl, const opts_t *o)
{
    char *body = o->file ? read_service_file(o->file) : flags_service(o);
    if (!body) return o->file ? EXIT_REFUSED : HD_EXIT_USAGE;
    json_t *def = json_loads(body, 0, NULL);
    /* Consul names the instance by its name when no ID is given. */
    const char *id = str(def, "ID");
    if (!*id) id = str(def, "id");
    if (!*id) id = str(def, "Name");
    if (!*id) id = str(def, "name");
    hd_client_reply_t rep;
    int rc = hd_client_call(cl, "PUT", "/v1/agent/service/register", body, &rep);
    if (!rc) {
        rc = expect(cl, &rep, -1);
        if (!rc && !o->json) printf("registered service %s\n", id);
        if (!rc && o->json) print_id(id);
        hd_client_reply_free(&rep);
    }
    json_decref(def);
    free(body);
    return rc;
}

static int run_deregister(hd_client_t *cl, const char *id, const opts_t *o)
{
    hd_buf_t path = {0};
    hd_buf_puts(&path, "/v1/agent/service/deregister/");
    hd_url_encode(&path, id);
    hd_client_reply_t rep;
    int rc = hd_client_call(cl, "PUT", path.data, NULL, &rep);
    if (!rc) {
        rc = expect(cl, &rep, -1);
        if (!rc && o->json) print_id(id);
        if (!rc && !o->json) printf("deregistered service %s\n", id);
        hd_client_reply_free(&rep);
    }
    hd_buf_free(&path);
    return rc;
}

/* ---- the command ------------------------------------------------------------ */

static int run_services(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof(o));
    o.tags = hd_xcalloc((size_t)argc + 1, sizeof(*o.tags));
    o.meta = hd_xcalloc((size_t)argc + 1, sizeof(*o.meta));
    const char *verb = NULL, *arg = NULL;
    int rc = HD_EXIT_USAGE, defs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (!verb)
                verb = a;
            else if (!arg)
                arg = a;
            else {
                hd_cmd_usage_error("services", "unexpected argument '%s'", a);
                goto out;
            }
            continue;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        if (!strcmp(name, "--json") && !eq) {
            o.json = 1;
            continue;
        }
        const char *val = NULL;
        if (!strcmp(name, "--tag") || !strcmp(name, "--meta")) {
            if (!(val = hd_cmd_flag_value("services", argc, argv, &i, eq))) goto out;
            if (name[2] == 't')
                o.tags[o.ntags++] = val;
            else
                o.meta[o.nmeta++] = val;
            defs++;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (!strcmp(name, flags[k].name)) break;
        if (k == sizeof(flags) / sizeof(flags[0])) {
            hd_cmd_usage_error("services", "unknown flag '%s'", name);
            goto out;
        }
        if (!(val = hd_cmd_flag_value("services", argc, argv, &i, eq))) goto out;
        *(const char **)((char *)&o + flags[k].off) = val;
        if (flags[k].off >= offsetof(opts_t, name) && flags[k].off != offsetof(opts_t, file))
            defs++;
    }
    int list = verb && !strcmp(verb, "list"), reg = verb && !strcmp(verb, "register"),
        dereg = verb && !strcmp(verb, "deregister");
    if (!list && !reg && !dereg) {
        if (verb)
            hd_cmd_usage_error("services", "unknown subcommand '%s' (list, register, deregister)",
                               verb);
        else
            hd_cmd_usage_error("services", "give a subcommand: list, register or deregister");
        goto out;
    }
    if (dereg && !arg) {
        hd_cmd_usage_error("services", "deregister needs a service id");
        goto out;
    }
    if (!dereg && arg) {
        hd_cmd_usage_error("services", "unexpected argument '%s'", arg);
        goto out;
    }
    if (!reg && (defs || o.file)) {
        hd_cmd_usage_error("services", "the service flags apply to 'register' only");
        goto out;
    }
    if (reg && o.file && defs) {
        hd_cmd_usage_error("services",
                           "-f FILE holds the whole service: give no other service flags with it");
        goto out;
    }
    hd_client_t cl;
    if ((rc = hd_client_init(&cl, "services", &o.cf)) != 0) goto out;
    rc = list ? run_list(&cl, &o) : reg ? run_register(&cl, &o) : run_deregister(&cl, arg, &o);
    hd_client_free(&cl);
out:
    free(o.tags);
    free(o.meta);
    return rc;
}

const hd_cmd_t hd_cmd_services = {
    "services",
    run_services,
    "list, register and deregister a running agent's services (Consul's API)",
    "usage: heed services list [--json]\n"
    "       heed services register --name N [--id ID] [--address A] [--port P]\n"
    "                              [--tag T ...] [--meta K=V ...]\n"
    "                              [--check URL [--interval 10s] [--timeout 2s]]\n"
    "                              [--ttl 30s] [--json]\n"
    "       heed services register -f FILE [--json]\n"
    "       heed services deregister ID [--json]\n"
    "\n"
    "Talks to a running `heed agent` over its Consul API.\n"
    "\n"
    "  list        a table: NAME, INSTANCES, PASSING (instances whose checks all\n"
    "              pass), TAGS; --json prints /v1/catalog/services' reply\n"
    "  register    a service instance of this agent's node; --check is a URL heed\n"
    "              probes (http://, https://, tcp://, postgres://, redis://, ...);\n"
    "              --ttl adds a TTL check; -f FILE reads a Consul service\n"
    "              definition in JSON ('-': stdin), with or without its\n"
    "              {\"Service\": ...} wrapper\n"
    "  deregister  remove the instance ID and its checks\n"
    "\n"
    "Flags:\n" HD_CLIENT_ADDR_HELP
    "      --ns TENANT    the tenant to work in (Consul's namespace) [env HEED_NAMESPACE,\n"
    "                     else CONSUL_NAMESPACE]\n" HD_CLIENT_TLS_HELP
    "      --json         print JSON instead\n"
    "\n"
    "Exit status: 0 done; 1 the agent refused (its message is printed) or a\n"
    "service file is unreadable; 2 usage error; 3 the agent could not be reached.\n",
};
