/* A growing NUL-terminated string. Zero-initialise (hd_strbuf b = {0}); the caller owns b.s
 * and frees it. Out of memory aborts. */
#ifndef HD_STRBUF_H
#define HD_STRBUF_H

#include <stddef.h>

typedef struct {
    char *s;
    size_t len, cap;
} hd_strbuf;

/* Appends n bytes of s (which need not be NUL-terminated). */
void hd_strbuf_add(hd_strbuf *b, const char *s, size_t n);
/* Appends a NUL-terminated string. */
void hd_strbuf_str(hd_strbuf *b, const char *s);
/* Appends printf-style text. */
void hd_strbuf_fmt(hd_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
