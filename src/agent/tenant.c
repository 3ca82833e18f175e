/* tenant — tenant names, qualified keys and the rule of reach (see
 * tenant.h). */
#include "agent/tenant.h"

#include <stdio.h>
#include <string.h>

const char *hd_tenant_name(const char *t)
{
    return t ? t : HD_TENANT_DEFAULT;
}

int hd_tenant_same(const char *a, const char *b)
{
    return strcmp(hd_tenant_name(a), hd_tenant_name(b)) == 0;
}

int hd_tenant_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > HD_TENANT_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-' || c == ':' || c == '@';
        if (!ok) return 0;
    }
    return 1;
}

int hd_scope_has(const hd_scope_t *s, const char *t)
{
    return !s->tenant || hd_tenant_same(s->tenant, t);
}

int hd_tenant_key(char *out, size_t outlen, const char *tenant, const char *id)
{
    int n = snprintf(out, outlen, "%s/%s", hd_tenant_name(tenant), id);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int hd_tenant_split(const char *key, size_t len, size_t *tenant_len, const char **id,
                    size_t *id_len)
{
    const char *slash = memchr(key, '/', len);
    if (!slash || slash == key || slash + 1 == key + len) return -1;
    *tenant_len = (size_t)(slash - key);
    *id = slash + 1;
    *id_len = len - *tenant_len - 1;
    return 0;
}
