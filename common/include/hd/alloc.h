/* Allocation that cannot fail: out of memory aborts, since no service can do its job without
 * memory and a half-built message is worse than a restart. */
#ifndef HD_ALLOC_H
#define HD_ALLOC_H

#include <stddef.h>

/* calloc of at least one byte (n or size 0 still gives a distinct pointer). */
void *hd_xcalloc(size_t n, size_t size);
/* reallocarray of at least one element. */
void *hd_xrealloc(void *p, size_t n, size_t size);
char *hd_xstrdup(const char *s);

#endif
