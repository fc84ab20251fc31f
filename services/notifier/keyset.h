/* A set of strings with an integer each (communication keys: those with a job, those known to
 * be done, those asked about in one lookup). Chained hashing; grows as needed. */
#ifndef NOTIF_KEYSET_H
#define NOTIF_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct notif_keyset notif_keyset;

/* Caller owns the result; aborts on out-of-memory. */
notif_keyset *notif_keyset_new(void);
/* Safe on NULL and twice; sets *s to NULL. */
void notif_keyset_destroy(notif_keyset **s);

/* Adds key (copied) with `value`, or sets the value of a key already there. */
void notif_keyset_put(notif_keyset *s, const char *key, int64_t value);
/* True when key is there; its value into *value (may be NULL). */
bool notif_keyset_get(const notif_keyset *s, const char *key, int64_t *value);
/* Removes key if there. */
void notif_keyset_del(notif_keyset *s, const char *key);
size_t notif_keyset_size(const notif_keyset *s);
/* Removes every key. */
void notif_keyset_clear(notif_keyset *s);

#endif
