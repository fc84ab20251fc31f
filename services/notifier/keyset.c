#include "keyset.h"

#include <stdlib.h>
#include <string.h>
#include "hd/alloc.h"

typedef struct node {
    struct node *next;
    int64_t value;
    char key[]; /* NUL-terminated */
} node;

struct notif_keyset {
    node **b;
    size_t nb, n; /* buckets (a power of two), keys */
};

/* FNV-1a */
static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

notif_keyset *notif_keyset_new(void)
{
    notif_keyset *s = hd_xcalloc(1, sizeof *s);
    s->nb = 1024;
    s->b = hd_xcalloc(s->nb, sizeof(node *));
    return s;
}

void notif_keyset_clear(notif_keyset *s)
{
    for (size_t i = 0; i < s->nb; i++)
        while (s->b[i]) {
            node *x = s->b[i];
            s->b[i] = x->next;
            free(x);
        }
    s->n = 0;
}

void notif_keyset_destroy(notif_keyset **s)
{
    if (*s == NULL)
        return;
    notif_keyset_clear(*s);
    free((*s)->b);
    free(*s);
    *s = NULL;
}

static node **find(const notif_keyset *s, const char *key)
{
    node **pp = &s->b[hash(key) & (s->nb - 1)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Doubles the buckets when there are more keys than buckets. */
static void grow(notif_keyset *s)
{
    size_t nb = s->nb * 2;
    node **b = hd_xcalloc(nb, sizeof(node *));
    for (size_t i = 0; i < s->nb; i++)
        while (s->b[i]) {
            node *x = s->b[i];
            s->b[i] = x->next;
            size_t h = hash(x->key) & (nb - 1);
            x->next = b[h];
            b[h] = x;
        }
    free(s->b);
    s->b = b;
    s->nb = nb;
}

void notif_keyset_put(notif_keyset *s, const char *key, int64_t value)
{
    node **pp = find(s, key);
    if (*pp) {
        (*pp)->value = value;
        return;
    }
    size_t len = strlen(key);
    node *x = hd_xcalloc(1, sizeof *x + len + 1);
    memcpy(x->key, key, len + 1);
    x->value = value;
    *pp = x;
    if (++s->n > s->nb)
        grow(s);
}

bool notif_keyset_get(const notif_keyset *s, const char *key, int64_t *value)
{
    node *x = *find(s, key);
    if (x && value)
        *value = x->value;
    return x != NULL;
}

void notif_keyset_del(notif_keyset *s, const char *key)
{
    node **pp = find(s, key);
    if (*pp == NULL)
        return;
    node *x = *pp;
    *pp = x->next;
    free(x);
    s->n--;
}

size_t notif_keyset_size(const notif_keyset *s)
{
    return s->n;
}
