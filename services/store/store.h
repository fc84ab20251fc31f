/* The store's decisions over protobuf structs, without ZeroMQ or PostgreSQL: what a request
 * must carry before it reaches the database, the text of history entries, and the list of
 * events a transaction produced (published by the loop only after COMMIT). */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/codec.h"

/* Events one transaction produced, in seq order. Owns the events. */
typedef struct {
    HdTicketEvent **v;
    size_t n;
    size_t cap;
} store_events;

/* Takes ownership of ev. */
void store_events_push(store_events *l, HdTicketEvent *ev);
/* Frees every event and the array; the list is empty and reusable afterwards. */
void store_events_clear(store_events *l);

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
