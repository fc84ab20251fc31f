/* PostgreSQL array literals ({"text",NULL,42}) built up row by row, so a whole group's values
 * travel as one text parameter per column and a statement unnests them: one round trip for many
 * rows. Used by the batched creates and results (store_db_batch.c) and the notifier's batches
 * (store_db_notify.c). */
#include "store_arr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void store_arr_put(store_arr *a, const char *s, size_t len)
{
    if (a->len + len + 2 > a->cap) {
        a->cap = (a->len + len + 2) * 2 + 64;
        a->p = realloc(a->p, a->cap);
        if (a->p == NULL)
            abort();
    }
    memcpy(a->p + a->len, s, len);
    a->len += len;
    a->p[a->len] = '\0';
}

static void store_arr_sep(store_arr *a)
{
    store_arr_put(a, a->n++ ? "," : "{", 1);
}

/* NULL stays NULL; inside quotes only '"' and '\' need a backslash. */
void store_arr_text(store_arr *a, const char *s)
{
    store_arr_sep(a);
    if (s == NULL) {
        store_arr_put(a, "NULL", 4);
        return;
    }
    store_arr_put(a, "\"", 1);
    while (*s) {
        size_t plain = strcspn(s, "\"\\");
        store_arr_put(a, s, plain);
        s += plain;
        if (*s) {
            store_arr_put(a, "\\", 1);
            store_arr_put(a, s++, 1);
        }
    }
    store_arr_put(a, "\"", 1);
}

/* "" becomes NULL, like store_p_opt. */
void store_arr_opt(store_arr *a, const char *s)
{
    store_arr_text(a, s && s[0] ? s : NULL);
}

void store_arr_int(store_arr *a, int64_t x)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%lld", (long long)x);
    store_arr_sep(a);
    store_arr_put(a, num, (size_t)len);
}

/* 0 becomes NULL, like store_p_int_opt. */
void store_arr_int_opt(store_arr *a, int64_t x)
{
    if (x)
        store_arr_int(a, x);
    else
        store_arr_text(a, NULL);
}

/* bytea in hex input form, its backslash escaped for the array: "\\x0a1b". */
void store_arr_bytes(store_arr *a, const uint8_t *b, size_t len)
{
    const char hex[] = "0123456789abcdef";
    store_arr_sep(a);
    store_arr_put(a, "\"\\\\x", 4);
    for (size_t i = 0; i < len; i++) {
        char two[2] = {hex[b[i] >> 4], hex[b[i] & 15]};
        store_arr_put(a, two, 2);
    }
    store_arr_put(a, "\"", 1);
}

const char *store_arr_end(store_arr *a)
{
    if (a->n == 0)
        store_arr_put(a, "{", 1);
    store_arr_put(a, "}", 1);
    return a->p;
}

void store_arrs_free(store_arr *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i].p);
}

/* Ends the arrays and makes them the statement's parameters $1..$n. */
void store_arrs_params(store_arr *a, size_t n, store_params *p)
{
    for (size_t i = 0; i < n; i++)
        store_p_text(p, store_arr_end(&a[i]));
}


void store_arr_str(store_arr *a, const char *s)
{
    store_arr_text(a, s ? s : "");
}

void store_arr_bool(store_arr *a, bool b)
{
    store_arr_sep(a);
    store_arr_put(a, b ? "t" : "f", 1);
}
