/* The technician workflow, SLA signal and communication requests of the store's api socket:
 * check the request, run its one transaction, fill the reply. */
#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
#include "store_api.h"

#define SEARCH_DEFAULT 10
#define SEARCH_MAX 100
#define INVALID HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD

static void ticket_reply(store_reply *rep, HdTicketDetail *d)
{
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_TICKET;
    rep->pb.ticket = d;
}

static void act(store_db *db, const HdTicketAction *a, int64_t now_ms, store_reply *rep,
                store_events *evs)
{
    if (store_check_action(a, &rep->err) != 0) {
        hd_reply_set_error(&rep->pb, &rep->err);
        return;
    }
    HdTicketDetail *d = NULL;
    switch (store_db_act(db, a, now_ms, &d, evs, &rep->err)) {
    case STORE_DB_OK:
        hd_info("event=action ticket_id=%lld action=%s status=%s", (long long)a->ticket_id,
                store_action_name(a->action_case), hd_status_name(d->ticket->status));
        ticket_reply(rep, d);
        break;
    case STORE_DB_NOT_FOUND:
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND, "ticket_id",
                          "there is no ticket %lld", (long long)a->ticket_id);
        break;
    case STORE_DB_REFUSED:
        hd_info("event=action_refused ticket_id=%lld action=%s", (long long)a->ticket_id,
                store_action_name(a->action_case));
        hd_reply_set_error(&rep->pb, &rep->err);
        break;
    default: store_reply_db_error(rep, db); break;
    }
}

static void next(store_db *db, const HdNextTicket *n, int64_t now_ms, store_reply *rep,
                 store_events *evs)
{
    if (n == NULL || store_reply_check_text(rep, n->queue, true, "queue") ||
        store_reply_check_text(rep, n->agent, true, "agent"))
        return;
    HdTicketDetail *d = NULL;
    enum store_db_rc rc = store_db_next(db, n->queue, n->agent, now_ms, &d, evs);
    if (rc == STORE_DB_OK) {
        hd_info("event=next ticket_id=%lld queue=\"%s\"", (long long)d->ticket->id, n->queue);
        ticket_reply(rep, d);
    } else if (rc == STORE_DB_NOT_FOUND) {
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_EMPTY, "queue",
                          "no ticket is waiting in queue %s", n->queue);
    } else {
        store_reply_db_error(rep, db);
    }
}

static void search(store_db *db, const HdSearchSolutions *s, store_reply *rep)
{
    bool has_text = s && s->text && s->text[0];
    if (s == NULL || (!has_text && s->similar_to <= 0)) {
        store_reply_error(rep, INVALID, "text", "search needs text or similar_to");
        return;
    }
    if (has_text && store_reply_check_text(rep, s->text, true, "text"))
        return;
    uint32_t limit = s->limit == 0 ? SEARCH_DEFAULT : s->limit > SEARCH_MAX ? SEARCH_MAX : s->limit;
    HdSearchResults *out = NULL;
    if (store_db_search(db, has_text ? s->text : NULL, s->similar_to, limit, &out) !=
        STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_RESULTS;
    rep->pb.results = out;
}

static void sla_signal(store_db *db, const HdSlaSignal *s, int64_t now_ms, store_reply *rep,
                       store_events *evs)
{
    if (store_check_signal(s, &rep->err) != 0) {
        hd_reply_set_error(&rep->pb, &rep->err);
        return;
    }
    bool applied = false;
    if (store_db_sla_signal(db, s, now_ms, &applied, evs) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    hd_info("event=sla_signal ticket_id=%lld deadline=%s breach=%s applied=%s",
            (long long)s->ticket_id, hd_deadline_name(s->deadline), s->breach ? "true" : "false",
            applied ? "true" : "false");
    HdSignalAck *ack = calloc(1, sizeof *ack);
    if (ack == NULL)
        abort();
    helpdesk__v1__signal_ack__init(ack);
    ack->applied = applied;
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_SIGNAL_ACK;
    rep->pb.signal_ack = ack;
}

static int check_communication(const HdRecordCommunication *c, store_reply *rep)
{
    if (c == NULL || c->ticket_id <= 0) {
        store_reply_error(rep, INVALID, "ticket_id", "record_communication needs a ticket_id");
        return -1;
    }
    if (store_reply_check_text(rep, c->key, true, "key"))
        return -1;
    if (c->attempt == 0 || c->attempt > INT32_MAX) {
        store_reply_error(rep, INVALID, "attempt", "attempt counts from 1");
        return -1;
    }
    const char *opt[] = {c->kind, c->channel, c->recipient, c->subject, c->error, c->actor};
    const char *names[] = {"kind", "channel", "recipient", "subject", "error", "actor"};
    for (size_t i = 0; i < 6; i++)
        if (store_reply_check_text(rep, opt[i], false, names[i]))
            return -1;
    return 0;
}

static void communication_reply(store_reply *rep, HdCommunicationStatus *c)
{
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_COMMUNICATION;
    rep->pb.communication = c;
}

static void record_communication(store_db *db, const HdRecordCommunication *c, int64_t now_ms,
                                 store_reply *rep, store_events *evs)
{
    if (check_communication(c, rep) != 0)
        return;
    HdCommunicationStatus *out = NULL;
    enum store_db_rc rc = store_db_record_communication(db, c, now_ms, &out, evs);
    if (rc == STORE_DB_OK)
        communication_reply(rep, out);
    else if (rc == STORE_DB_NOT_FOUND)
        store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND, "ticket_id",
                          "there is no ticket %lld", (long long)c->ticket_id);
    else
        store_reply_db_error(rep, db);
}

static void get_communication(store_db *db, const HdGetCommunication *g, store_reply *rep)
{
    if (g == NULL || store_reply_check_text(rep, g->key, true, "key"))
        return;
    HdCommunicationStatus *out = NULL;
    if (store_db_get_communication(db, g->key, &out) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    communication_reply(rep, out);
}

bool store_api_workflow(store_db *db, const HdRequest *req, int64_t now_ms, store_reply *rep,
                        store_events *evs)
{
    switch (req->body_case) {
    case HELPDESK__V1__REQUEST__BODY_ACT: act(db, req->act, now_ms, rep, evs); return true;
    case HELPDESK__V1__REQUEST__BODY_NEXT: next(db, req->next, now_ms, rep, evs); return true;
    case HELPDESK__V1__REQUEST__BODY_SEARCH: search(db, req->search, rep); return true;
    case HELPDESK__V1__REQUEST__BODY_SLA_SIGNAL:
        sla_signal(db, req->sla_signal, now_ms, rep, evs);
        return true;
    case HELPDESK__V1__REQUEST__BODY_RECORD_COMMUNICATION:
        record_communication(db, req->record_communication, now_ms, rep, evs);
        return true;
    case HELPDESK__V1__REQUEST__BODY_GET_COMMUNICATION:
        get_communication(db, req->get_communication, rep);
        return true;
    default: return false;
    }
}
