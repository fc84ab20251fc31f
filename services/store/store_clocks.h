/* list_clocks: the SLA clocks of tickets for the escalation timer, lean (a rebuild of a million
 * tickets must take seconds): only the fields the timer plans from, no contact, no text, in
 * large keyset pages or for a list of ids, optionally with the signal events already recorded.
 * The api part (store_api_clocks.c) checks the request; the database part (store_db_clocks.c)
 * runs its two queries. */
#ifndef STORE_CLOCKS_H
#define STORE_CLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_db.h"

typedef Helpdesk__V1__ListClocks HdListClocks;
typedef Helpdesk__V1__ClockList HdClockList;

#define STORE_CLOCKS_DEFAULT 1000
#define STORE_CLOCKS_MAX 10000
#define STORE_CLOCKS_MAX_IDS 1000

/* Answers req when it is a list_clocks: true; false when it is another request. */
bool store_api_clocks(store_db *db, const HdRequest *req, store_reply *rep);

/* Without ids (nids 0): the tickets whose clocks run with id > after_id, by id, at most
 * `limit`. With ids: those of them that exist, by id. with_signals: also their sla_warning,
 * sla_breach, update_due and escalation_requested events that name a current deadline (or
 * none), by ticket and seq. Caller frees *out
 * with protobuf_c_message_free_unpacked. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_list_clocks(store_db *db, int64_t after_id, uint32_t limit, const int64_t *ids,
                     size_t nids, bool with_signals, HdClockList **out);

#endif
