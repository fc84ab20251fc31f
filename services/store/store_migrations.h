/* The schema, as numbered migrations compiled into hd-store and applied at start, each in its
 * own transaction, recorded in schema_migrations. Append new versions; never edit old ones. */
#ifndef STORE_MIGRATIONS_H
#define STORE_MIGRATIONS_H

#include <stddef.h>

typedef struct {
    int version;
    const char *name;
    const char *sql;
} store_migration;

/* In increasing version order. */
extern const store_migration store_migrations[];
extern const size_t store_migrations_count;

#endif
