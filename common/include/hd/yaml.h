/* A YAML document as a small tree (maps, sequences, scalars), for config and rules files.
 * Every node knows its line, so errors can point at the place in the file. */
#ifndef HD_YAML_H
#define HD_YAML_H

#include <stddef.h>

typedef enum { HD_YAML_SCALAR, HD_YAML_MAP, HD_YAML_SEQ } hd_yaml_kind;

typedef struct hd_yaml hd_yaml;
struct hd_yaml {
    hd_yaml_kind kind;
    char *key;      /* the key, when this node is a value in a map */
    char *value;    /* the text, for a scalar */
    int line;       /* 1-based line in the source */
    size_t count;   /* children, for a map or sequence */
    hd_yaml *child; /* first child */
    hd_yaml *next;  /* next sibling */
};

/* Parse a file or a buffer. NULL on failure, with "line N: reason" in err. Caller owns the
 * result and frees it with hd_yaml_free. An empty document gives an empty map. */
hd_yaml *hd_yaml_load_file(const char *path, char *err, size_t errlen);
hd_yaml *hd_yaml_load_string(const char *text, size_t len, char *err, size_t errlen);
/* Frees *y and sets it to NULL; safe on NULL and twice. */
void hd_yaml_free(hd_yaml **y);

/* The value of `key` in a map, or NULL (absent, or `map` is not a map). */
const hd_yaml *hd_yaml_get(const hd_yaml *map, const char *key);
/* The scalar text of `key` in a map, or NULL when absent or not a scalar. */
const char *hd_yaml_str(const hd_yaml *map, const char *key);

#endif
