/* notify_lookup and record_communications: the notifier's batched requests. A page of events
 * needs its tickets, the tickets of their contacts and the status of every communication key;
 * one request answers all of it, and the outcomes of many deliveries are recorded in one more.
 * The api part (store_api_notify.c) checks the request; the database part
 * (store_db_notify.c) runs a few statements for the whole batch. */
#ifndef STORE_NOTIFY_H
#define STORE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_db.h"

typedef Helpdesk__V1__NotifyLookup HdNotifyLookup;
typedef Helpdesk__V1__NotifyContext HdNotifyContext;
typedef Helpdesk__V1__ContactTickets HdContactTickets;
typedef Helpdesk__V1__RecordCommunications HdRecordCommunications;
typedef Helpdesk__V1__CommunicationList HdCommunicationList;

#define STORE_NOTIFY_MAX_IDS 1000
#define STORE_NOTIFY_MAX_KEYS 2000
#define STORE_NOTIFY_MAX_RECORDS 1000

/* Answers req when it is a notify_lookup or record_communications: true; false otherwise. */
bool store_api_notify(store_db *db, const HdRequest *req, int64_t now_ms, store_reply *rep,
                      store_events *evs);

/* The tickets of `ids` (by id, no history), the contacts of the tickets `of` with all their
 * ticket ids (by contact), and the status of each key in order. Caller frees *out with
 * protobuf_c_message_free_unpacked. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_notify_lookup(store_db *db, const HdNotifyLookup *l, HdNotifyContext **out);

/* Records every attempt (checked by the caller) once per (key, attempt), with a communication
 * event each for the new ones, in one transaction; *out holds one status per record, in order,
 * found false when its ticket does not exist. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_record_communications(store_db *db, HdRecordCommunication *const *recs, size_t n,
                               int64_t now_ms, HdCommunicationList **out, store_events *evs);

#endif
