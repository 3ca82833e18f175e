/* mem — allocation that never returns NULL.
 *
 * heed cannot do anything useful once malloc fails, so these wrappers print
 * one line and abort (docs/architecture.md, "Shape of the code"). Callers
 * that can really recover use malloc directly and say why. */
#ifndef HD_MEM_H
#define HD_MEM_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup that abort with a message on failure. */
void *hd_xmalloc(size_t n);
void *hd_xcalloc(size_t count, size_t size);
void *hd_xrealloc(void *p, size_t n);
char *hd_xstrdup(const char *s);
char *hd_xstrndup(const char *s, size_t n);

#endif
