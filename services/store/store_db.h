/* Everything hd-store does with PostgreSQL: connection, migrations, prepared statements, and
 * one function per operation, each its own transaction. Results come back as protobuf
 * messages (caller frees them with protobuf_c_message_free_unpacked) and committed events in a
 * store_events list for the loop to publish after COMMIT.
 *
 * Event seq is gapless: the store assigns it from a counter initialised from max(seq) and
 * restored when a transaction rolls back. Only one hd-store may write to a database. */
#ifndef STORE_DB_H
#define STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/codec.h"
#include "hd/sla.h"
#include "store.h"

typedef struct store_db store_db;

enum store_db_rc {
    STORE_DB_ERROR = -1,     /* database failure: logged; reply ERROR_UNAVAILABLE */
    STORE_DB_OK = 0,
    STORE_DB_NOT_FOUND = 1,
    STORE_DB_REFUSED = 2,    /* the lifecycle forbids it: err says why; nothing changed */
};

/* Connects, refuses a server whose encoding is not UTF8, applies migrations under an advisory
 * lock, prepares statements and reads max(seq). NULL with the reason in err on failure.
 * Caller owns the result. */
store_db *store_db_open(const char *url, char *err, size_t errlen);
/* Safe on NULL and twice; sets *db to NULL. */
void store_db_destroy(store_db **db);

/* True after an error that lost the connection; the loop then calls store_db_reconnect. */
bool store_db_broken(const store_db *db);
/* PQreset, prepare again, re-read max(seq). 0 or -1 (still broken). */
__attribute__((warn_unused_result)) int store_db_reconnect(store_db *db);
/* The newest committed seq. */
int64_t store_db_last_seq(const store_db *db);
/* True when the statement that failed in the current request was refused for its data (a
 * constraint or a value the database cannot store), not for the database being away: sending
 * the same request again would fail again. *field names the column or the constraint, *why is
 * the database's sentence. Forgotten when the next request (or group) begins. */
bool store_db_refusal(const store_db *db, const char **field, const char **why);

/* Group commit: many requests in one transaction, one savepoint each. Between group_begin
 * and group_commit every operation below runs inside the request savepoint opened by
 * request_begin (its own BEGIN/COMMIT become no-ops, its ROLLBACK goes back to the savepoint),
 * so one failing request undoes only itself. Nothing is durable, and no event may be
 * published, before group_commit returns 0; when it fails, nothing of the group happened and
 * the seq counter is back where group_begin found it. */
__attribute__((warn_unused_result)) int store_db_group_begin(store_db *db);
__attribute__((warn_unused_result)) int store_db_request_begin(store_db *db);
/* Releases the request's savepoint, first rolling back to it if a statement failed. */
void store_db_request_end(store_db *db);
/* COMMIT (or ROLLBACK when the transaction is broken); ends the group either way. */
__attribute__((warn_unused_result)) int store_db_group_commit(store_db *db);

/* One request of a batch (store_db_batch): a create_tickets contact or a prioritized or
 * routed work result. */
typedef struct {
    const HdContact *contact;   /* a create, checked with store_check_contact; else NULL */
    const HdWorkResult *result; /* a result, checked with store_check_result; else NULL */
    const char *actor;          /* who sent the result */
    store_events *evs;          /* the request's events are appended here */
    HdContactReceipt *receipt;  /* out, create: caller owns */
    bool applied;               /* out, result: false when the ticket had moved on */
    size_t evs_mark;            /* internal: evs->n on entry */
} store_batch_item;

/* Inside a group, before its other requests: every item in a few statements for the whole
 * batch (one lookup of the idempotency keys, one INSERT each for contacts, tickets and events,
 * one UPDATE per stage) under one savepoint. A key repeated in the batch gets the first one's
 * tickets (duplicate set), like a repeat in a later request. Results need distinct ticket ids
 * per stage. OK, or ERROR: nothing of the batch happened (rolled back to its savepoint, seq
 * and evs restored, no receipts) and the caller redoes each item alone to find the one the
 * database refuses; when the connection broke, the group is lost anyway. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_batch(store_db *db, store_batch_item *v, size_t n, int64_t now_ms);

/* The tickets with these ids (any order; missing ids are left out); caller frees each of
 * *out[0..*n) and the array. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_get_tickets(store_db *db, const int64_t *ids, size_t nids, HdTicket ***out, size_t *n);

/* Creates one ticket per problem and a `created` event each, or on a repeated
 * (source, external_id) reads back the existing receipt with duplicate = true. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_create_tickets(store_db *db, const HdContact *c, int64_t now_ms, HdContactReceipt **out,
                        store_events *evs);

/* A ticket with customer, account, location and problem; with history when `history`. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_get_ticket(store_db *db, int64_t id, bool history, HdTicketDetail **out);

/* Filters of f: queue/assignee "" any, status/priority/contact_id 0 any, open_only; tickets
 * with id > after_id, by id, at most `limit` (f->limit is ignored). */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_list_tickets(store_db *db, const HdListTickets *f, uint32_t limit, HdTicketList **out);

__attribute__((warn_unused_result)) enum store_db_rc
store_db_events_since(store_db *db, int64_t after_seq, uint32_t limit, HdEventBatch **out);

/* The consumer's committed seq, 0 if none. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_get_cursor(store_db *db, const char *consumer, int64_t *seq);
/* Moves the cursor to max(current, seq); *out gets the resulting seq. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_commit_cursor(store_db *db, const char *consumer, int64_t seq, int64_t *out);

/* Applies a prioritized or routed result (checked with store_check_result) if the ticket is
 * still in the stage's expected status: one UPDATE ... WHERE status = expected plus its event.
 * *applied false means the ticket had moved on (or does not exist): nothing changed. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_apply_result(store_db *db, const HdWorkResult *r, const char *actor, int64_t now_ms,
                      bool *applied, store_events *evs);

/* Ids of tickets in `status`, by id; caller frees *ids. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_ticket_ids(store_db *db, Helpdesk__V1__Status status, int64_t **ids, size_t *n);

/* SLA targets for recomputing deadlines on re-prioritization (copied). Without it, a
 * re-prioritization keeps the deadlines. */
void store_db_set_sla(store_db *db, const hd_sla *sla);

/* One technician action in one transaction: locks the ticket, checks the lifecycle, writes the
 * ticket, its events and any escalation request. *out: the ticket after, with history = the
 * events this action made. NOT_FOUND, REFUSED (err set, nothing changed), OK or ERROR. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_act(store_db *db, const HdTicketAction *a, int64_t now_ms, HdTicketDetail **out,
             store_events *evs, hd_error_buf *err);

/* Takes the highest-priority, oldest queued or reopened ticket of `queue` for `agent` (rows
 * locked with SKIP LOCKED). NOT_FOUND when none waits. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_next(store_db *db, const char *queue, const char *agent, int64_t now_ms,
              HdTicketDetail **out, store_events *evs);

/* Resolved or closed tickets matching any word of `text` (or, when text is empty, of ticket
 * similar_to's summary and description, excluding it), best first. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_search(store_db *db, const char *text, int64_t similar_to, uint32_t limit,
                HdSearchResults **out);

/* Applies an SLA signal once: *applied false for a repeat or when no longer relevant. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_sla_signal(store_db *db, const HdSlaSignal *s, int64_t now_ms, bool *applied,
                    store_events *evs);

/* Records one attempt of a communication, once per (key, attempt), with its event; *out is the
 * key's status afterwards. NOT_FOUND when the ticket does not exist. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_record_communication(store_db *db, const HdRecordCommunication *c, int64_t now_ms,
                              HdCommunicationStatus **out, store_events *evs);
__attribute__((warn_unused_result)) enum store_db_rc
store_db_get_communication(store_db *db, const char *key, HdCommunicationStatus **out);

/* Ids of escalation requests not yet answered, oldest first; caller frees *ids. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_pending_escalations(store_db *db, int64_t **ids, size_t *n);
/* A pending escalation and its ticket, for a work item; NOT_FOUND when done or gone. */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_get_escalation(store_db *db, int64_t id, HdTicket **ticket, HdEscalationRequest **req);
/* Applies a router's escalated result to escalation `id` (0: the ticket's oldest pending one)
 * once, and marks it done; *applied false when stale or already done. *done_id: the
 * escalation it settled (0 if none). */
__attribute__((warn_unused_result)) enum store_db_rc
store_db_apply_escalation(store_db *db, int64_t id, const HdWorkResult *r, const char *actor,
                          int64_t now_ms, bool *applied, int64_t *done_id, store_events *evs);

#endif
