#include "hd/utf8.h"

#include <stdint.h>

/* Length of the sequence that starts with byte c, and the range its second byte must fall in
 * (RFC 3629 table 2 and the Unicode standard's table 3-7). 0 means c cannot start one. */
static int seq_len(uint8_t c, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0x01 && c <= 0x7F)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            *lo = 0xA0;
        if (c == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            *lo = 0x90;
        if (c == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0;
}

bool hd_utf8_valid(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint8_t lo, hi;
        int n = seq_len(p[i], &lo, &hi);
        if (n == 0 || i + (size_t)n > len)
            return false;
        if (n > 1 && (p[i + 1] < lo || p[i + 1] > hi))
            return false;
        for (int k = 2; k < n; k++)
            if ((p[i + (size_t)k] & 0xC0) != 0x80)
                return false;
        i += (size_t)n;
    }
    return true;
}

size_t hd_utf8_length(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if (((uint8_t)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}
