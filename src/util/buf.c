/* buf — growable byte buffer. */
#include "util/buf.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(hd_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = hd_xrealloc(b->data, cap);
    b->cap = cap;
}

void hd_buf_append(hd_buf_t *b, const void *p, size_t n)
{
    reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hd_buf_puts(hd_buf_t *b, const char *s)
{
    hd_buf_append(b, s, strlen(s));
}

void hd_buf_vprintf(hd_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n <= 0) return;
    reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void hd_buf_printf(hd_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hd_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *hd_buf_reserve(hd_buf_t *b, size_t n)
{
    reserve(b, n);
    return b->data + b->len;
}

void hd_buf_commit(hd_buf_t *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

void hd_buf_reset(hd_buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void hd_buf_free(hd_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
