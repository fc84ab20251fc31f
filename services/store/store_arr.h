/* PostgreSQL array literals built row by row: each column of a batch becomes one text parameter
 * ("{...}") that a statement unnests. */
#ifndef STORE_ARR_H
#define STORE_ARR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_dbi.h"

typedef struct store_arr {
    char *p;
    size_t len, cap, n;
} store_arr;

/* Text, quoted; NULL stays NULL. */
void store_arr_text(store_arr *a, const char *s);
/* "" and NULL become NULL, like store_p_opt. */
void store_arr_opt(store_arr *a, const char *s);
/* NULL becomes "". */
void store_arr_str(store_arr *a, const char *s);
void store_arr_int(store_arr *a, int64_t x);
/* 0 becomes NULL, like store_p_int_opt. */
void store_arr_int_opt(store_arr *a, int64_t x);
void store_arr_bool(store_arr *a, bool b);
/* bytea in hex input form. */
void store_arr_bytes(store_arr *a, const uint8_t *b, size_t len);
/* Closes the literal ("{}" when empty) and returns its text, owned by a. */
const char *store_arr_end(store_arr *a);
void store_arrs_free(store_arr *a, size_t n);
/* Ends the arrays and makes them the statement's parameters, in order. */
void store_arrs_params(store_arr *a, size_t n, store_params *p);

#endif
