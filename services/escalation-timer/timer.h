/* The escalation timer's decisions, without sockets: which SLA signals a ticket's state calls
 * for (timer_plan), and a min-heap of them with lazy deletion (timer_queue).
 *
 * Memory: a million open tickets in < 200 MB. An entry is 24 bytes and a ticket has at most
 * four at a time (first response, update, resolution, and tier 2 or tier 3): a warning and its
 * breach share one entry (the breach is pushed when the warning fires). The per-ticket version
 * table is 16 bytes a slot at a load of at most 1/2. Stale entries are compacted away once
 * they are half the live ones. Worst case about 4 * 24 * 1.5 + 32 = 176 bytes a ticket; the
 * benchmark (tests/bench/timer.c) measures about 134 MB peak RSS at a million. */
#ifndef TIMER_TIMER_H
#define TIMER_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/proto.h"

/* One signal to send at deadline_at - lead_ms. */
typedef struct {
    int64_t deadline_at; /* the deadline as the ticket holds it (sent in sla_signal) */
    int64_t ticket_id;
    uint32_t lead_ms; /* > 0: a warning this long before the deadline; 0: at the deadline */
    uint16_t version; /* the ticket's version when planned; older ones are stale */
    uint8_t deadline; /* Helpdesk__V1__Deadline */
    uint8_t breach;   /* 1: breach (or update/tier: the deadline itself), 0: a warning */
} timer_entry;

/* When the entry fires (ms since the epoch). */
int64_t timer_entry_due(const timer_entry *e);

/* The most entries timer_plan writes. */
#define TIMER_MAX_PLAN 5

/* The signals the ticket's state calls for (version left 0), into out[TIMER_MAX_PLAN]; returns
 * how many. None for a ticket not yet triaged (new), resolved, closed or paused (paused_at set
 * or waiting_customer). Otherwise: first response (only while first_response_at is 0) and
 * resolution: a warning at warning_percent of the way from created_at to the deadline, whose
 * breach follows when it fires (timer_followup); just the breach when `now` is at or past the
 * deadline, the warning is already in `history`, or warning_percent is 0; update at
 * next_update_due (breach); tier 2 at tier2_escalation_due when tier < 2; tier 3 at
 * tier3_escalation_due when tier is 2 (or below 2 without a tier 2 deadline), so the tiers
 * escalate in order (breach). A zero deadline is no deadline. Signals that
 * `history` (the ticket's events, may be NULL) already records are left out: sla_warning,
 * sla_breach, update_due and escalation_requested events carry the deadline and deadline_at
 * (an escalation_requested with deadline_at 0 counts for any deadline_at of its deadline). */
size_t timer_plan(const HdTicket *t, HdTicketEvent *const *history, size_t nhistory,
                  int warning_percent, int64_t now, timer_entry *out);

/* The entry that follows one that fired: the breach after a warning. False when none. */
bool timer_followup(const timer_entry *fired, timer_entry *next);

/* ---- the queue ------------------------------------------------------------------------------ */

typedef struct timer_queue timer_queue;

/* Aborts on out-of-memory, like the rest of the services. Caller owns the result. */
timer_queue *timer_queue_new(void);
/* Safe on NULL and twice; sets *q to NULL. */
void timer_queue_destroy(timer_queue **q);

/* Replaces every entry of the ticket with these n (n may be 0: the ticket's clocks stop). The
 * old entries stay in the heap, stale, until they reach the top or a compaction. The same
 * entries again, while none of the ticket's has fired or been added since, change nothing. */
void timer_queue_set(timer_queue *q, int64_t ticket_id, const timer_entry *entries, size_t n);
/* Adds one entry to the ticket's current ones (a follow-up, a retry). Ignored when e->version
 * is not the ticket's current version (the ticket was re-planned since). */
void timer_queue_add(timer_queue *q, const timer_entry *e);
/* When the earliest live entry fires; INT64_MAX when there is none. Drops stale entries from
 * the top. */
int64_t timer_queue_next_due(timer_queue *q);
/* Takes the earliest live entry into *out if it is due at or before now: true; else false. */
bool timer_queue_pop_due(timer_queue *q, int64_t now, timer_entry *out);
/* Live entries (not stale), and all entries held. */
size_t timer_queue_live(const timer_queue *q);
size_t timer_queue_size(const timer_queue *q);
/* Tickets with live entries. */
size_t timer_queue_tickets(const timer_queue *q);
/* Bytes the queue holds (heap and ticket table, as allocated). */
size_t timer_queue_bytes(const timer_queue *q);

#endif
