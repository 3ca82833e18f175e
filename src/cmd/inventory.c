/* inventory — `heed inventory --list|--host H [--all]`: an Ansible dynamic
 * inventory from the agent's live health (the script protocol ansible's
 * `script` inventory plugin speaks: --list prints every group and, under
 * _meta.hostvars, every host's variables; --host prints one host's).
 *
 * Hosts are service instances' addresses (the service's Address, else its
 * node's; the node's name when it has neither). Groups: one per service,
 * named as the service, and one per tag, "tag_<tag>"; names are made of
 * letters, digits and '_' (anything else becomes '_'), as Ansible wants
 * them. Only instances whose checks all pass are listed, unless --all.
 * Host variables: the node's meta and the services' meta (each key a
 * variable, '_' for other characters; a service's key wins over its
 * node's), heed_node, heed_address, and heed_services: for each service
 * on the host, its id, port, tags, meta and status.
 *
 * Exit codes: 0 done, 1 the agent refused, 2 usage, 3 unreachable. */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "util/buf.h"
#include "util/url.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_REFUSED 1

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* prefix + s with every character outside [A-Za-z0-9_] as '_', and a
 * leading '_' when it would start with a digit (a valid Ansible name). */
static void group_name(hd_buf_t *b, const char *prefix, const char *s)
{
    hd_buf_reset(b);
    hd_buf_puts(b, prefix);
    if (!*prefix && *s >= '0' && *s <= '9') hd_buf_puts(b, "_");
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        hd_buf_append(b, ok ? s : "_", 1);
    }
}

static void add_to_group(json_t *inv, const char *group, const char *host)
{
    json_t *g = json_object_get(inv, group);
    if (!g) {
        g = json_pack("{s:[]}", "hosts");
        json_object_set_new(inv, group, g);
        json_array_append_new(json_object_get(json_object_get(inv, "all"), "children"),
                              json_string(group));
    }
    json_t *hosts = json_object_get(g, "hosts");
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h) if (!strcmp(json_string_value(h), host)) return;
    json_array_append_new(hosts, json_string(host));
}

/* Copies meta's keys into vars, each as a valid variable name. */
static void add_meta(json_t *vars, const json_t *meta, hd_buf_t *tmp)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v)
    {
        group_name(tmp, "", k);
        json_object_set(vars, tmp->data, v);
    }
}

/* The worst status of an instance's checks ("passing" for none). */
static const char *worst(const json_t *checks)
{
    static const char *const order[] = {"passing", "warning", "critical", "maintenance"};
    int w = 0;
    size_t i;
    json_t *c;
    json_array_foreach(checks, i, c) for (int k = 3; k > w;
                                          k--) if (!strcmp(str(c, "Status"), order[k])) w = k;
    return order[w];
}

/* Adds one /v1/health/service entry (Node, Service, Checks) to inv. */
static void add_instance(json_t *inv, const json_t *e, hd_buf_t *tmp)
{
    const json_t *node = json_object_get(e, "Node"), *svc = json_object_get(e, "Service");
    const char *addr = str(svc, "Address");
    if (!*addr) addr = str(node, "Address");
    const char *host = *addr ? addr : str(node, "Node");
    if (!*host) return;
    json_t *hv = json_object_get(json_object_get(inv, "_meta"), "hostvars");
    json_t *vars = json_object_get(hv, host);
    if (!vars) {
        vars = json_object();
        json_object_set_new(hv, host, vars);
        add_meta(vars, json_object_get(node, "Meta"), tmp);
        json_object_set_new(vars, "heed_node", json_string(str(node, "Node")));
        json_object_set_new(vars, "heed_address", json_string(host));
        json_object_set_new(vars, "heed_services", json_object());
    }
    add_meta(vars, json_object_get(svc, "Meta"), tmp);
    json_t *services = json_object_get(vars, "heed_services");
    json_t *one = json_object();
    json_object_set_new(one, "id", json_string(str(svc, "ID")));
    json_object_set_new(one, "port",
                        json_integer(json_integer_value(json_object_get(svc, "Port"))));
    json_t *tags = json_object_get(svc, "Tags");
    json_object_set_new(one, "tags", json_is_array(tags) ? json_copy(tags) : json_array());
    json_t *meta = json_object_get(svc, "Meta");
    json_object_set_new(one, "meta", json_is_object(meta) ? json_copy(meta) : json_object());
    json_object_set_new(one, "status", json_string(worst(json_object_get(e, "Checks"))));
    json_object_set_new(services, str(svc, "Service"), one);
    group_name(tmp, "", str(svc, "Service"));
    add_to_group(inv, tmp->data, host);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        if (!json_is_string(t)) continue;
        group_name(tmp, "tag_", json_string_value(t));
        add_to_group(inv, tmp->data, host);
    }
}

/* The whole inventory, or NULL after printing why (*rc set). */
static json_t *build(hd_client_t *cl, int all, int *rc)
{
    hd_client_reply_t rep;
    if ((*rc = hd_client_call(cl, "GET", "/v1/catalog/services", NULL, &rep))) return NULL;
    json_t *inv = NULL;
    if (rep.status != 200 || !json_is_object(rep.json)) {
        hd_client_print_error(cl, &rep);
        *rc = EXIT_REFUSED;
        goto out;
    }
    inv = json_pack("{s:{s:{}}, s:{s:[]}}", "_meta", "hostvars", "all", "children");
    hd_buf_t path = {0}, tmp = {0};
    const char *name;
    json_t *v;
    json_object_foreach(rep.json, name, v)
    {
        hd_buf_reset(&path);
        hd_buf_puts(&path, "/v1/health/service/");
        hd_url_encode(&path, name);
        if (!all) hd_buf_puts(&path, "?passing");
        hd_client_reply_t h;
        if ((*rc = hd_client_call(cl, "GET", path.data, NULL, &h))) break;
        if (h.status != 200 || !json_is_array(h.json)) {
            hd_client_print_error(cl, &h);
            hd_client_reply_free(&h);
            *rc = EXIT_REFUSED;
            break;
        }
        size_t i;
        json_t *e;
        json_array_foreach(h.json, i, e) add_instance(inv, e, &tmp);
        hd_client_reply_free(&h);
    }
    hd_buf_free(&path);
    hd_buf_free(&tmp);
    if (*rc) {
        json_decref(inv);
        inv = NULL;
    }
out:
    hd_client_reply_free(&rep);
    return inv;
}

static int run_inventory(int argc, char **argv)
{
    hd_client_flags_t cf = {0};
    const char *host = NULL;
    int list = 0, all = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        const char **dst = !strcmp(name, "--addr")     ? &cf.addr
                           : !strcmp(name, "--token")  ? &cf.token
                           : !strcmp(name, "--ns")     ? &cf.ns
                           : !strcmp(name, "--cacert") ? &cf.cacert
                           : !strcmp(name, "--cert")   ? &cf.cert
                           : !strcmp(name, "--key")    ? &cf.key
                           : !strcmp(name, "--host")   ? &host
                                                       : NULL;
        if (dst) {
            if (!(*dst = hd_cmd_flag_value("inventory", argc, argv, &i, eq))) return HD_EXIT_USAGE;
        } else if (!strcmp(a, "--list")) {
            list = 1;
        } else if (!strcmp(a, "--all")) {
            all = 1;
        } else {
            return hd_cmd_usage_error("inventory", "unknown %s '%s'",
                                      a[0] == '-' ? "flag" : "argument", a);
        }
    }
    if (list == !!host)
        return hd_cmd_usage_error("inventory", "give --list or --host HOST (one of them)");
    hd_client_t cl;
    int rc = hd_client_init(&cl, "inventory", &cf);
    if (rc) return rc;
    json_t *inv = build(&cl, all, &rc);
    if (inv) {
        const json_t *out = inv;
        if (host) /* an unknown host has no variables: {} */
            out = json_object_get(json_object_get(json_object_get(inv, "_meta"), "hostvars"), host);
        char *text = out ? json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        puts(text ? text : "{}");
        free(text);
        json_decref(inv);
    }
    hd_client_free(&cl);
    return rc;
}

const hd_cmd_t hd_cmd_inventory = {
    "inventory",
    run_inventory,
    "an Ansible dynamic inventory from the agent's live service health",
    "usage: heed inventory --list [--all]\n"
    "       heed inventory --host HOST [--all]\n"
    "\n"
    "Prints an Ansible dynamic inventory (JSON) from a running agent's services\n"
    "and their health, for `ansible -i SCRIPT` or `ansible-inventory -i SCRIPT`\n"
    "where SCRIPT runs `exec heed inventory \"$@\"`.\n"
    "\n"
    "  hosts       service instances' addresses (the service's Address, else its\n"
    "              node's)\n"
    "  groups      one per service, named as the service; one per tag, tag_TAG;\n"
    "              characters other than letters, digits and '_' become '_'\n"
    "  host vars   the node's and the services' meta, heed_node, heed_address,\n"
    "              heed_services (per service: id, port, tags, meta, status)\n"
    "\n"
    "Only instances whose checks all pass are listed, unless --all.\n"
    "\n"
    "Flags:\n" HD_CLIENT_ADDR_HELP
    "      --ns TENANT    the tenant to read (Consul's namespace) [env HEED_NAMESPACE,\n"
    "                     else CONSUL_NAMESPACE]\n" HD_CLIENT_TLS_HELP "\n"
    "Exit status: 0 done; 1 the agent refused (its message is printed); 2 usage\n"
    "error; 3 the agent could not be reached.\n",
};
