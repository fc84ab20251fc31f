/* Credit-based dispatch of work items with leases, as plain bookkeeping: a FIFO of item ids
 * per stage (ticket ids; escalation ids for STAGE_ESCALATE; the field is still called
 * ticket_id), the workers that asked for work (keyed by their ZeroMQ routing id) with their
 * credit, and the leases out. No I/O here: the loop in main.c sends what this module decides.
 * Times are CLOCK_MONOTONIC milliseconds passed in by the caller. */
#ifndef STORE_DISPATCH_H
#define STORE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/proto.h"

typedef struct store_dispatch store_dispatch;

/* A worker's identity on the work socket. */
typedef struct {
    unsigned char id[256];
    size_t len;
} store_worker_key;

typedef struct {
    int64_t lease_id;
    int64_t ticket_id;
    Helpdesk__V1__Stage stage;
    store_worker_key worker;
    int64_t expires_at;
} store_lease;

/* lease_ms: how long a worker has to answer; silence_ms: a worker not heard from for this long
 * is forgotten; first_lease_id: lease ids count up from here (seed it from the wall clock so a
 * restarted store never reuses an id a worker still holds). Caller owns the result. */
store_dispatch *store_dispatch_new(int64_t lease_ms, int64_t silence_ms, int64_t first_lease_id);
/* Safe on NULL and twice; sets *d to NULL. */
void store_dispatch_destroy(store_dispatch **d);

/* Queues: append, put back at the front, remove if present (true when it was queued). */
void store_dispatch_push(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t ticket_id);
void store_dispatch_push_front(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t ticket_id);
bool store_dispatch_unqueue(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t ticket_id);
size_t store_dispatch_queued(const store_dispatch *d, Helpdesk__V1__Stage stage);
/* Empties the queues and drops the held items (the caller loads them all again). */
void store_dispatch_clear_queues(store_dispatch *d);
/* Keeps the item out of its queue (taken out if it is there) until `due`: a result the
 * database refused would be refused again at once. unqueue removes a held item too. */
void store_dispatch_hold(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t id, int64_t due);
/* Moves the held items whose time has come to the back of their queues; how many. */
size_t store_dispatch_release(store_dispatch *d, int64_t now);
size_t store_dispatch_held(const store_dispatch *d);
bool store_dispatch_is_leased(const store_dispatch *d, int64_t ticket_id);
/* The same for one stage's items (escalation ids are not ticket ids). */
bool store_dispatch_stage_leased(const store_dispatch *d, Helpdesk__V1__Stage stage, int64_t id);
size_t store_dispatch_leases(const store_dispatch *d);

/* A worker grants `credit` more items for `stage` (registering it when new); credit is kept
 * per stage, so one worker may serve two stages (routers: route and escalate). Returns 1 when
 * the worker is new, 0 when known, -1 when the stage is not one the store dispatches. */
int store_dispatch_ready(store_dispatch *d, const store_worker_key *w, Helpdesk__V1__Stage stage,
                         uint32_t credit, const char *name, int64_t now);
/* Marks the worker seen (heartbeat). False when the store has no record of it. */
bool store_dispatch_seen(store_dispatch *d, const store_worker_key *w, int64_t now);
/* The worker's name, or NULL when unknown. */
const char *store_dispatch_worker_name(const store_dispatch *d, const store_worker_key *w);
/* The worker's credit, or -1 when unknown. */
int64_t store_dispatch_credit(const store_dispatch *d, const store_worker_key *w);
size_t store_dispatch_workers(const store_dispatch *d);
/* Drops the worker (unreachable). Its leases stay and expire in time. */
void store_dispatch_forget(store_dispatch *d, const store_worker_key *w);

/* True when some queued ticket has a worker of its stage with credit. */
bool store_dispatch_pending(const store_dispatch *d);
/* Takes the next queued ticket for a worker with credit (round robin among workers), takes one
 * credit, and records a lease expiring at now + lease_ms. False when there is nothing to do. */
bool store_dispatch_next(store_dispatch *d, int64_t now, store_lease *out);
/* The lease was not sent after all (ticket no longer in the stage's status, worker gone):
 * removes it; `requeue` puts the ticket back at the front, `give_credit` returns the credit. */
void store_dispatch_cancel(store_dispatch *d, int64_t lease_id, bool requeue, bool give_credit);

/* A result arrived from worker `from`. Removes the lease when it is live and for this ticket,
 * and gives one credit back to `from` if it is a known worker (it has a free slot again).
 * Returns true when a live lease matched; *stage (may be NULL) then holds its stage. */
bool store_dispatch_result(store_dispatch *d, const store_worker_key *from, int64_t lease_id,
                           int64_t ticket_id, int64_t now, Helpdesk__V1__Stage *stage);

/* The same for a result of `result_stage` (its credit goes back to that stage when the lease
 * is not live) whose lease carries `item` (a ticket id; an escalation id for STAGE_ESCALATE). */
bool store_dispatch_result_for(store_dispatch *d, const store_worker_key *from, int64_t lease_id,
                               int64_t item, Helpdesk__V1__Stage result_stage, int64_t now,
                               Helpdesk__V1__Stage *stage);
/* The item and stage of a live lease; false when there is none with that id. */
bool store_dispatch_lease_item(const store_dispatch *d, int64_t lease_id, int64_t *item,
                               Helpdesk__V1__Stage *stage);

/* Leases past their expiry are removed and their tickets put back at the front of their queue
 * (oldest lease first in line). Copies up to `max` of them to `out`; returns how many expired. */
size_t store_dispatch_expire(store_dispatch *d, int64_t now, store_lease *out, size_t max);
/* Forgets workers silent for silence_ms. Copies up to `max` names (truncated to 127 bytes) to
 * names; returns how many were forgotten. */
size_t store_dispatch_forget_silent(store_dispatch *d, int64_t now, char (*names)[128],
                                    size_t max);
/* The earliest time a lease expires, a worker falls silent or a held item is due; INT64_MAX
 * when none. */
int64_t store_dispatch_deadline(const store_dispatch *d);

#endif
