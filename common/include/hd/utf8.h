/* UTF-8 validation: text is stored byte-exact, so it must be valid on the way in. */
#ifndef HD_UTF8_H
#define HD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF, no NUL). */
bool hd_utf8_valid(const char *s, size_t len);
/* Number of code points in a valid UTF-8 string. */
size_t hd_utf8_length(const char *s, size_t len);

#endif
