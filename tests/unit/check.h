/* check — small assertions the unit tests share on top of cmocka.
 *
 * Include after <cmocka.h>. Everything here is static inline so that a test
 * file that uses only part of it still builds with -Werror. */
#ifndef HD_TEST_CHECK_H
#define HD_TEST_CHECK_H

#include <stdlib.h>
#include <string.h>

/* Fails unless haystack contains needle, printing both. */
#define assert_contains(haystack, needle)                                                          \
    do {                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                               \
        if (!h_ || !strstr(h_, n_))                                                                \
            fail_msg("'%s' does not contain '%s'", h_ ? h_ : "(null)", n_);                        \
    } while (0)

/* A copy of n bytes in a heap block of exactly that size, so that
 * AddressSanitizer reports any read past the end. */
static inline unsigned char *exact_copy(const void *p, size_t n)
{
    unsigned char *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

#endif
