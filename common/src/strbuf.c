#include "hd/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes and the terminating NUL. */
static void reserve(hd_strbuf *b, size_t n)
{
    if (b->s != NULL && b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n + 1 > cap)
        cap *= 2;
    char *grown = realloc(b->s, cap);
    if (grown == NULL)
        abort();
    b->s = grown;
    b->cap = cap;
}

void hd_strbuf_add(hd_strbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    if (n > 0)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void hd_strbuf_str(hd_strbuf *b, const char *s)
{
    hd_strbuf_add(b, s, strlen(s));
}

void hd_strbuf_fmt(hd_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
