/* The store's decisions over protobuf structs, without ZeroMQ or PostgreSQL: what a request
 * must carry before it reaches the database, the text of history entries, and the list of
 * events a transaction produced (published by the loop only after COMMIT). */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/codec.h"
#include "hd/sla.h"
#include "hd/config.h"

/* Short names for the action messages hd/proto.h does not name (identical typedefs are fine
 * should it name them later). */
typedef Helpdesk__V1__Take HdTake;
typedef Helpdesk__V1__ContactLog HdContactLog;
typedef Helpdesk__V1__Reprioritize HdReprioritize;
typedef Helpdesk__V1__Satisfaction HdSatisfaction;

/* Events one transaction produced, in seq order, and the escalation requests (ids in table
 * escalations) it made, for the loop to queue for STAGE_ESCALATE. Owns the events. */
typedef struct {
    HdTicketEvent **v;
    size_t n;
    size_t cap;
    int64_t *esc;
    size_t n_esc;
    size_t cap_esc;
} store_events;

/* Takes ownership of ev. */
void store_events_push(store_events *l, HdTicketEvent *ev);
void store_events_push_escalation(store_events *l, int64_t escalation_id);
/* Frees every event and the array; the list is empty and reusable afterwards. */
void store_events_clear(store_events *l);
/* A deep copy (for a reply's history while the original waits to be published). */
HdTicketEvent *store_event_dup(const HdTicketEvent *e);

/* What one decision (an action, an SLA signal, an escalation result) makes besides the new
 * ticket row: its events in order (seq not yet assigned) and at most one escalation request. */
typedef struct {
    store_events evs;
    bool escalate;
    uint32_t from_tier;
    uint32_t to_tier; /* 2, 3, or 4: beyond tier 3, the support centre's manager */
    Helpdesk__V1__Deadline deadline;
    char reason[256];
} store_outcome;

/* Frees the events; the outcome is empty afterwards. */
void store_outcome_clear(store_outcome *o);


/* ---- the lifecycle ---- */

/* The status action `a` leads to from `from`, or STATUS_UNSPECIFIED when the graph forbids it.
 * Actions that keep the status (assign, note, reply, log_contact, escalate, reprioritize,
 * satisfaction) return `from` where they are allowed. A satisfaction that reopens, and an
 * inbound contact that resumes, are a second step (reopen, take) checked by the caller. */
Helpdesk__V1__Status store_transition(Helpdesk__V1__Status from,
                                      Helpdesk__V1__TicketAction__ActionCase a);
/* queued, in_progress, waiting_customer, reopened: a technician can work on it. */
bool store_status_open(Helpdesk__V1__Status s);
/* "take", "assign", ...; "unknown". */
const char *store_action_name(Helpdesk__V1__TicketAction__ActionCase a);

/* An action's fields: ticket_id, actor, the action's required fields, enums, UTF-8. 0, or -1
 * with ERROR_INVALID_FIELD naming the field in err. */
__attribute__((warn_unused_result)) int store_check_action(const HdTicketAction *a,
                                                           hd_error_buf *err);
/* Applies a checked action to t (changing it) at now_ms: events and escalation request in o.
 * sla may be NULL (re-prioritization then keeps the deadlines). -1 with
 * ERROR_ILLEGAL_TRANSITION in err when the lifecycle forbids it; t and o unchanged then. */
__attribute__((warn_unused_result)) int store_apply_action(HdTicket *t, const HdTicketAction *a,
                                                           const hd_sla *sla, int64_t now_ms,
                                                           store_outcome *o, hd_error_buf *err);
/* Ends a pause: every running deadline moves on by now - paused_at; paused_at = 0. */
void store_resume_clock(HdTicket *t, int64_t now_ms);

/* ---- SLA signals and escalation results ---- */

/* The ticket's current time for deadline d (0 when it has none). */
int64_t store_deadline_of(const HdTicket *t, Helpdesk__V1__Deadline d);
/* Checks a signal's fields. 0 or -1 with err set. */
__attribute__((warn_unused_result)) int store_check_signal(const HdSlaSignal *s,
                                                           hd_error_buf *err);
/* Decides a signal: false (nothing changes) when it is no longer relevant (ticket resolved,
 * closed or waiting, deadline moved or done, tier already reached); else changes t and fills
 * o. Idempotency (a repeat) is the database's part. */
bool store_apply_signal(HdTicket *t, const HdSlaSignal *s, int64_t now_ms, store_outcome *o);
/* Applies a router's escalation result to t if t->tier == req->from_tier: tier, queue and
 * assignee for to_tier 2..3; for 4, the manager is told (tier stays). False when stale. */
bool store_apply_escalation(HdTicket *t, const HdEscalationRequest *req,
                            const HdEscalationResult *res, const char *actor, int64_t now_ms,
                            store_outcome *o);

/* Replaces a string field of a protobuf message (freeing the old value). */
void store_set_str(char **field, const char *v);
/* A new event for t's state after the change: status, priority, queue, tier, assignee. */
HdTicketEvent *store_event_for(const HdTicket *t, Helpdesk__V1__EventKind kind, const char *actor,
                               int64_t at);
/* The communication event of one delivery attempt ("sent" or "failed: <error>"). */
HdTicketEvent *store_communication_event(const HdTicket *t, const HdRecordCommunication *c,
                                        int64_t now_ms);

/* A reply under construction: the body is heap-allocated protobuf (freed by
 * store_reply_clear), an error lives in `err`. */
typedef struct {
    HdReply pb;
    hd_error_buf err;
} store_reply;

void store_reply_init(store_reply *r, uint64_t id);
void store_reply_error(store_reply *r, Helpdesk__V1__ErrorCode code, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Frees the body; safe twice. */
void store_reply_clear(store_reply *r);

/* Re-checks what the database relies on in create_tickets: contact present, source and
 * external_id non-empty, at least one problem, enums in range, every string valid UTF-8. 0, or -1 with ERROR_INVALID_FIELD naming the field in err. */
__attribute__((warn_unused_result)) int store_check_contact(const HdContact *c, hd_error_buf *err);

/* Checks a work result before it is applied: stage and result kind agree, priority in range,
 * queue present, strings valid UTF-8. 0 or -1 with err set. */
__attribute__((warn_unused_result)) int store_check_result(const HdWorkResult *r,
                                                           hd_error_buf *err);

/* The status a stage takes its tickets from, and the one it leaves them in. */
Helpdesk__V1__Status store_stage_from(Helpdesk__V1__Stage stage);
Helpdesk__V1__Status store_stage_to(Helpdesk__V1__Stage stage);
/* The stage that takes tickets in `status`, or STAGE_UNSPECIFIED. */
Helpdesk__V1__Stage store_stage_for(Helpdesk__V1__Status status);

/* Parses an event kind name ("created", ...); EVENT_UNSPECIFIED when unknown. */
Helpdesk__V1__EventKind store_event_kind_parse(const char *s);

/* History texts. */
void store_text_created(char *buf, size_t len, const HdContact *c, size_t index);
void store_text_triaged(char *buf, size_t len, const HdPrioritizeResult *p);
void store_text_queued(char *buf, size_t len, const HdRouteResult *r);

/* A copy for a protobuf string field: "" maps to protobuf_c_empty_string, so the message can
 * be freed with protobuf_c_message_free_unpacked. Aborts on out of memory. */
char *store_strdup(const char *s);

#endif
