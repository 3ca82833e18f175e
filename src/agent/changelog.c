/* changelog — formats the agent's status-change lines (see changelog.h).
 * Which changes are logged, and where the line goes, is agent.c's. */
#include "agent/changelog.h"
#include "agent/tenant.h"
#include "util/mem.h"
#include "util/time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hd_log_format_parse(const char *s, hd_log_format_t *out)
{
    if (!strcmp(s, "text"))
        *out = HD_LOG_TEXT;
    else if (!strcmp(s, "json"))
        *out = HD_LOG_JSON;
    else
        return -1;
    return 0;
}

static char *json_line(const char *when, const char *tenant, const char *id, const char *old,
                       const char *new_status, const char *output)
{
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "check", json_string(id));
    json_object_set_new(o, "tenant", json_string(hd_tenant_name(tenant)));
    json_object_set_new(o, "old", old ? json_string(old) : json_null());
    json_object_set_new(o, "new", json_string(new_status));
    /* Outputs are UTF-8 checked by the probes; a stray byte would make
     * json_string fail, and then the line says so rather than vanish. */
    json_t *out = json_string(output ? output : "");
    json_object_set_new(o, "output", out ? out : json_string("(output not UTF-8)"));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) {
        fprintf(stderr, "heed agent: out of memory encoding JSON\n");
        abort();
    }
    size_t n = strlen(s);
    char *line = hd_xmalloc(n + 2);
    memcpy(line, s, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    free(s);
    return line;
}

char *hd_changelog_line(hd_log_format_t fmt, int64_t wall_us, const char *tenant, const char *id,
                        const char *old, const char *new_status, const char *output)
{
    char when[40];
    hd_time_format_rfc3339(wall_us, when, sizeof(when));
    if (fmt == HD_LOG_JSON) return json_line(when, tenant, id, old, new_status, output);
    const char *out = output && *output ? output : NULL;
    int deflt = !strcmp(hd_tenant_name(tenant), HD_TENANT_DEFAULT);
    size_t n = strlen(when) + strlen(hd_tenant_name(tenant)) + strlen(id) +
               strlen(old ? old : "unchecked") + strlen(new_status) + (out ? strlen(out) : 0) + 32;
    char *line = hd_xmalloc(n);
    int len = snprintf(line, n, "%s check %s%s%s: %s -> %s%s%s\n", when,
                       deflt ? "" : hd_tenant_name(tenant), deflt ? "" : "/", id,
                       old ? old : "unchecked", new_status, out ? ": " : "", out ? out : "");
    /* One line: the output's newlines and other control bytes become spaces. */
    for (int i = 0; i < len - 1; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) line[i] = ' ';
    return line;
}
