/* buf — a growable byte buffer, always NUL-terminated for convenience. */
#ifndef HD_BUF_H
#define HD_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct hd_buf_s {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
} hd_buf_t;

/* Appends n bytes. */
void hd_buf_append(hd_buf_t *b, const void *p, size_t n);
/* Appends a C string. */
void hd_buf_puts(hd_buf_t *b, const char *s);
/* Appends printf-formatted text. */
void hd_buf_printf(hd_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hd_buf_vprintf(hd_buf_t *b, const char *fmt, va_list ap);
/* Makes room for n more bytes and returns where they go (b->data + b->len);
 * write at most n there, then hd_buf_commit what was written. */
char *hd_buf_reserve(hd_buf_t *b, size_t n);
/* Adds n bytes written after hd_buf_reserve to the length. */
void hd_buf_commit(hd_buf_t *b, size_t n);
/* Empties the buffer, keeping its memory. */
void hd_buf_reset(hd_buf_t *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void hd_buf_free(hd_buf_t *b);

#endif
