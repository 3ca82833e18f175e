/* fuzz_list_query — the query parameters every list and object route
 * reads from outside: ns= (hd_scope_parse, with any token tenant), limit=
 * and after= (hd_page_parse), and the Link written back from them
 * (hd_page_link). Input: ns, token tenant ("-": none), kind (0 or 1),
 * limit and after, separated by newlines; a missing field is absent.
 * What they accept must hold together: a scope within the token's reach,
 * a page within bounds, a Link with nothing unescaped in it. */
#include "api/page.h"
#include "api/scope.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *field(char **p)
{
    if (!*p) return NULL;
    char *f = *p, *nl = strchr(f, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *p = s;
    const char *ns = field(&p), *tok = field(&p), *kind_s = field(&p), *limit = field(&p),
               *after = field(&p);
    if (tok && (!strcmp(tok, "-") || !hd_tenant_valid(tok, strlen(tok))))
        tok = NULL; /* the server gives only valid tenants to tokens */
    int kind = kind_s && kind_s[0] == '1' ? HD_SCOPE_LIST : HD_SCOPE_ONE;

    hd_scope_t sc = {"unset"};
    char err[300] = "";
    int st = hd_scope_parse(ns, kind, tok, &sc, err, sizeof(err));
    if (st == 0) {
        if (!sc.tenant) {
            if (tok || kind != HD_SCOPE_LIST || !ns || strcmp(ns, "*") != 0) abort();
        } else {
            if (!hd_tenant_valid(sc.tenant, strlen(sc.tenant))) abort();
            if (tok && !hd_tenant_same(sc.tenant, tok)) abort(); /* never beyond its tenant */
        }
    } else if ((st != 400 && st != 403) || !err[0] || strlen(err) >= sizeof(err) - 1) {
        abort();
    }

    hd_page_t pg;
    err[0] = '\0';
    if (hd_page_parse(limit, after, &pg, err, sizeof(err)) == 0) {
        if (pg.limit > HD_PAGE_LIMIT_MAX ||
            (pg.after && (!pg.after[0] || strlen(pg.after) > HD_PAGE_AFTER_MAX)))
            abort();
        const char *kv[] = {"ns", ns, "tag", after, NULL};
        hd_buf_t b = {0};
        hd_page_link(&b, "/v1/checks", kv, pg.limit ? pg.limit : 1, pg.after ? pg.after : "x");
        const char *end = "; rel=\"next\"";
        if (strncmp(b.data, "</v1/checks?", 12) != 0 || b.len < strlen(end) + 1 ||
            strcmp(b.data + b.len - strlen(end), end) != 0)
            abort();
        const char *close = strchr(b.data, '>');
        if (close != b.data + b.len - strlen(end) - 1) abort(); /* one '>', at its end */
        for (size_t i = 0; i < b.len; i++)
            if ((unsigned char)b.data[i] <= 0x20 && b.data + i != b.data + b.len - strlen(end) + 1)
                abort(); /* no raw space or control byte but "; rel" */
        hd_buf_free(&b);
    } else if (strncmp(err, "limit: ", 7) != 0 && strncmp(err, "after: ", 7) != 0) {
        abort();
    }
    free(s);
    return 0;
}
