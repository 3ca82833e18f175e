/* match — which checks a rule applies to (match.h). */
#include "agent/match.h"

#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static int in_list(char *const *list, const char *s)
{
    if (!s) return 0;
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

static int any_in(char *const *want, char *const *have)
{
    for (size_t i = 0; have && have[i]; i++)
        if (in_list(want, have[i])) return 1;
    return 0;
}

int hd_match(const hd_match_t *m, const hd_match_subject_t *s)
{
    const hd_check_def_t *d = s->def;
    if (m->tenant && m->tenant[0] && !(d->tenant && strcmp(d->tenant, m->tenant) == 0)) return 0;
    if (m->checks && !in_list(m->checks, d->id)) return 0;
    if (m->services && !in_list(m->services, d->service_id) &&
        !in_list(m->services, s->service_name))
        return 0;
    if (m->tags && !any_in(m->tags, d->tags) && !any_in(m->tags, s->service_tags)) return 0;
    return 1;
}

int hd_match_is_all(const hd_match_t *m)
{
    return !m->checks && !m->services && !m->tags && !(m->tenant && m->tenant[0]);
}

static char **list_copy(char *const *l)
{
    if (!l) return NULL;
    size_t n = 0;
    while (l[n])
        n++;
    char **out = hd_xcalloc(n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = hd_xstrdup(l[i]);
    return out;
}

static void list_free(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

void hd_match_copy(hd_match_t *dst, const hd_match_t *src)
{
    dst->checks = list_copy(src->checks);
    dst->services = list_copy(src->services);
    dst->tags = list_copy(src->tags);
    dst->tenant = src->tenant ? hd_xstrdup(src->tenant) : NULL;
}

void hd_match_free(hd_match_t *m)
{
    list_free(m->checks);
    list_free(m->services);
    list_free(m->tags);
    free(m->tenant);
    memset(m, 0, sizeof(*m));
}
