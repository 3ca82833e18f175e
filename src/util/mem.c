/* mem — allocation wrappers that abort on out-of-memory. */
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "heed: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *hd_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *hd_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *hd_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *hd_xstrdup(const char *s)
{
    return hd_xstrndup(s, strlen(s));
}

char *hd_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = hd_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
