/* utf8 — strict UTF-8 (RFC 3629, as jansson and the YAML reader check it):
 * no overlong forms, no surrogates, nothing past U+10FFFF. It only checks
 * and repairs bytes; it does not decode or convert. */
#ifndef HD_UTF8_H
#define HD_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s, reading at most n (>= 1)
 * bytes; 0 when s does not start one. */
size_t hd_utf8_len(const unsigned char *s, size_t n);

/* 1 when the n bytes at s are all valid UTF-8, else 0. */
int hd_utf8_valid(const char *s, size_t n);

/* A malloc'd NUL-terminated copy of the n bytes at s with each byte that
 * does not belong to a valid sequence replaced by U+FFFD (EF BF BD); its
 * length goes to *len unless len is NULL. */
char *hd_utf8_repair(const char *s, size_t n, size_t *len);

#endif
