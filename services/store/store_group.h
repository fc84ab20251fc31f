/* Group commit of the store's requests: everything read from the api and work sockets in one
 * loop turn runs in ONE transaction; replies, events and dispatch wait for its COMMIT. */
#ifndef STORE_GROUP_H
#define STORE_GROUP_H

#include <stdbool.h>

#include "store_work.h"

/* The requests of one group, kept between turns so the loop does not allocate. */
typedef struct store_group store_group;

/* Caller owns the result; aborts on out-of-memory. */
store_group *store_group_new(void);
/* Safe on NULL and twice; sets *grp to NULL. */
void store_group_destroy(store_group **grp);

/* Drains the api socket (when `api`) and the work socket (when `work`) and serves what was
 * read as one group commit. */
void store_group_serve(store_group *grp, store_svc *s, bool api, bool work);

#endif
