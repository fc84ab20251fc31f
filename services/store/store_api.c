#include "store_api.h"

#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
#include "hd/utf8.h"
#include "store_clocks.h"
#include "store_notify.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define EVENTS_DEFAULT 1000
#define EVENTS_MAX 5000

void store_reply_db_error(store_reply *rep, const store_db *db)
{
    const char *field, *why;
    if (db != NULL && store_db_refusal(db, &field, &why))
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                          "the database refused this request (%s); nothing was stored, and "
                          "sending it again unchanged will fail again", why);
    else
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                          "the database did not answer; retry shortly");
}

static void create_tickets(store_db *db, const HdCreateTickets *ct, int64_t now_ms,
                           store_reply *rep, store_events *evs)
{
    const HdContact *c = ct ? ct->contact : NULL;
    if (store_check_contact(c, &rep->err) != 0) {
        hd_reply_set_error(&rep->pb, &rep->err);
        hd_info("event=create_refused field=%s", rep->err.field);
        return;
    }
    HdContactReceipt *rc = NULL;
    size_t mark = evs->n;
    if (store_db_create_tickets(db, c, now_ms, &rc, evs) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    store_api_receipt(rep, rc, evs, mark);
}

void store_api_receipt(store_reply *rep, HdContactReceipt *rc, const store_events *evs,
                       size_t mark)
{
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_RECEIPT;
    rep->pb.receipt = rc;
    if (rc->duplicate)
        hd_info("event=contact_duplicate contact_id=%lld tickets=%zu", (long long)rc->contact_id,
                rc->n_ticket_ids);
    /* One line per contact, not per ticket: log lines cost CPU at thousands of tickets/s. */
    if (evs->n > mark)
        hd_info("event=ticket_created contact_id=%lld tickets=%zu first_ticket_id=%lld",
                (long long)rc->contact_id, evs->n - mark, (long long)evs->v[mark]->ticket_id);
}

static void get_ticket(store_db *db, const HdGetTicket *g, store_reply *rep)
{
    int64_t id = g ? g->ticket_id : 0;
    HdTicketDetail *d = NULL;
    enum store_db_rc rc = id > 0 ? store_db_get_ticket(db, id, true, &d) : STORE_DB_NOT_FOUND;
    if (rc == STORE_DB_ERROR) {
        store_reply_db_error(rep, db);
    } else if (rc == STORE_DB_NOT_FOUND) {
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND, "ticket_id",
                          "there is no ticket %lld", (long long)id);
    } else {
        rep->pb.body_case = HELPDESK__V1__REPLY__BODY_TICKET;
        rep->pb.ticket = d;
    }
}

int store_reply_check_text(store_reply *rep, const char *s, bool required, const char *field)
{
    if (s == NULL || s[0] == '\0') {
        if (!required)
            return 0;
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                          "%s is required", field);
        return -1;
    }
    if (hd_utf8_valid(s, strlen(s)))
        return 0;
    store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                      "%s is not valid UTF-8 text", field);
    return -1;
}

static void list_tickets(store_db *db, const HdListTickets *l, store_reply *rep)
{
    static const HdListTickets none = HELPDESK__V1__LIST_TICKETS__INIT;
    if (l == NULL)
        l = &none;
    if (store_reply_check_text(rep, l->queue, false, "queue") != 0)
        return;
    if ((unsigned)l->status > HELPDESK__V1__STATUS__STATUS_REOPENED) {
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "status",
                          "status %d is not a ticket status", (int)l->status);
        return;
    }
    if ((unsigned)l->priority > HELPDESK__V1__PRIORITY__PRIORITY_P4_PLANNED_EVENT) {
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "priority",
                          "priority %d is not P1..P4", (int)l->priority);
        return;
    }
    uint32_t limit = l->limit == 0 ? LIST_DEFAULT : l->limit > LIST_MAX ? LIST_MAX : l->limit;
    HdTicketList *out = NULL;
    if (store_reply_check_text(rep, l->assignee, false, "assignee") != 0)
        return;
    if (store_db_list_tickets(db, l, limit, &out) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_TICKETS;
    rep->pb.tickets = out;
}

static void events_since(store_db *db, const HdEventsSince *e, store_reply *rep)
{
    int64_t after = e ? e->after_seq : 0;
    uint32_t limit = e ? e->limit : 0;
    limit = limit == 0 ? EVENTS_DEFAULT : limit > EVENTS_MAX ? EVENTS_MAX : limit;
    HdEventBatch *b = NULL;
    if (store_db_events_since(db, after < 0 ? 0 : after, limit, &b) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_EVENTS;
    rep->pb.events = b;
}

static int check_consumer(const char *consumer, store_reply *rep)
{
    if (consumer == NULL || consumer[0] == '\0') {
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "consumer",
                          "consumer must name the durable consumer");
        return -1;
    }
    return store_reply_check_text(rep, consumer, false, "consumer");
}

static void cursor_reply(store_reply *rep, const char *consumer, int64_t seq)
{
    HdCursor *c = calloc(1, sizeof *c);
    if (c == NULL)
        abort();
    helpdesk__v1__cursor__init(c);
    c->consumer = store_strdup(consumer);
    c->seq = seq;
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_CURSOR;
    rep->pb.cursor = c;
}

static void get_cursor(store_db *db, const HdGetCursor *g, store_reply *rep)
{
    const char *consumer = g ? g->consumer : NULL;
    int64_t seq = 0;
    if (check_consumer(consumer, rep) != 0)
        return;
    if (store_db_get_cursor(db, consumer, &seq) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    cursor_reply(rep, consumer, seq);
}

static void commit_cursor(store_db *db, const HdCommitCursor *cc, store_reply *rep)
{
    const char *consumer = cc ? cc->consumer : NULL;
    int64_t seq = cc ? cc->seq : 0;
    if (check_consumer(consumer, rep) != 0)
        return;
    if (seq < 0 || seq > store_db_last_seq(db)) {
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "seq",
                          "seq %lld is outside the event log (0..%lld)", (long long)seq,
                          (long long)store_db_last_seq(db));
        return;
    }
    int64_t now_seq = 0;
    if (store_db_commit_cursor(db, consumer, seq, &now_seq) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    cursor_reply(rep, consumer, now_seq);
}

void store_api_handle(store_db *db, const HdRequest *req, int64_t now_ms, store_reply *rep,
                      store_events *evs)
{
    if (store_api_workflow(db, req, now_ms, rep, evs) || store_api_clocks(db, req, rep) ||
        store_api_notify(db, req, now_ms, rep, evs))
        return;
    switch (req->body_case) {
    case HELPDESK__V1__REQUEST__BODY_CREATE_TICKETS:
        create_tickets(db, req->create_tickets, now_ms, rep, evs);
        break;
    case HELPDESK__V1__REQUEST__BODY_GET_TICKET: get_ticket(db, req->get_ticket, rep); break;
    case HELPDESK__V1__REQUEST__BODY_LIST_TICKETS: list_tickets(db, req->list_tickets, rep); break;
    case HELPDESK__V1__REQUEST__BODY_EVENTS_SINCE: events_since(db, req->events_since, rep); break;
    case HELPDESK__V1__REQUEST__BODY_GET_CURSOR: get_cursor(db, req->get_cursor, rep); break;
    case HELPDESK__V1__REQUEST__BODY_COMMIT_CURSOR:
        commit_cursor(db, req->commit_cursor, rep);
        break;
    default:
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body",
                          "the store's api socket takes create_tickets, get_ticket, list_tickets, "
                          "events_since, get_cursor, commit_cursor, act, next, search, "
                          "sla_signal, record_communication, get_communication or list_clocks");
        break;
    }
}
