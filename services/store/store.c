#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/config.h"
#include "hd/utf8.h"

void store_events_push(store_events *l, HdTicketEvent *ev)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, l->cap * sizeof(HdTicketEvent *));
        if (l->v == NULL)
            abort();
    }
    l->v[l->n++] = ev;
}

void store_events_push_escalation(store_events *l, int64_t escalation_id)
{
    if (l->n_esc == l->cap_esc) {
        l->cap_esc = l->cap_esc ? l->cap_esc * 2 : 4;
        l->esc = realloc(l->esc, l->cap_esc * sizeof *l->esc);
        if (l->esc == NULL)
            abort();
    }
    l->esc[l->n_esc++] = escalation_id;
}

void store_events_clear(store_events *l)
{
    for (size_t i = 0; i < l->n; i++)
        protobuf_c_message_free_unpacked(&l->v[i]->base, NULL);
    free(l->v);
    free(l->esc);
    l->v = NULL;
    l->esc = NULL;
    l->n = l->cap = 0;
    l->n_esc = l->cap_esc = 0;
}

HdTicketEvent *store_event_dup(const HdTicketEvent *e)
{
    size_t len = protobuf_c_message_get_packed_size(&e->base);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        abort();
    protobuf_c_message_pack(&e->base, buf);
    HdTicketEvent *d = helpdesk__v1__ticket_event__unpack(NULL, len, buf);
    free(buf);
    if (d == NULL)
        abort(); /* only out of memory: we packed it ourselves */
    return d;
}

void store_outcome_clear(store_outcome *o)
{
    store_events_clear(&o->evs);
    o->escalate = false;
}

void store_set_str(char **field, const char *v)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = store_strdup(v);
}

HdTicketEvent *store_event_for(const HdTicket *t, Helpdesk__V1__EventKind kind, const char *actor,
                               int64_t at)
{
    HdTicketEvent *e = calloc(1, sizeof *e);
    if (e == NULL)
        abort();
    helpdesk__v1__ticket_event__init(e);
    e->ticket_id = t->id;
    e->kind = kind;
    e->actor = store_strdup(actor);
    e->at = at;
    e->status = t->status;
    e->priority = t->priority;
    e->queue = store_strdup(t->queue);
    e->tier = t->tier;
    e->assignee = store_strdup(t->assignee);
    return e;
}

/* ---- the lifecycle graph ---- */

#define ST(x) HELPDESK__V1__STATUS__STATUS_##x
#define AC(x) HELPDESK__V1__TICKET_ACTION__ACTION_##x

bool store_status_open(Helpdesk__V1__Status s)
{
    return s == ST(QUEUED) || s == ST(IN_PROGRESS) || s == ST(WAITING_CUSTOMER) ||
           s == ST(REOPENED);
}

static bool status_valid(Helpdesk__V1__Status s)
{
    return s >= ST(NEW) && s <= ST(REOPENED);
}

/* Actions that never change the status, and where they are allowed. */
static Helpdesk__V1__Status keep_status(Helpdesk__V1__Status from,
                                        Helpdesk__V1__TicketAction__ActionCase a)
{
    switch (a) {
    case AC(NOTE):
    case AC(LOG_CONTACT): return status_valid(from) ? from : ST(UNSPECIFIED);
    case AC(ASSIGN):
    case AC(REPLY):
    case AC(ESCALATE):
    case AC(REPRIORITIZE): return store_status_open(from) ? from : ST(UNSPECIFIED);
    case AC(SATISFACTION):
        return from == ST(RESOLVED) || from == ST(CLOSED) ? from : ST(UNSPECIFIED);
    default: return ST(UNSPECIFIED);
    }
}

Helpdesk__V1__Status store_transition(Helpdesk__V1__Status from,
                                      Helpdesk__V1__TicketAction__ActionCase a)
{
    switch (a) {
    case AC(TAKE):
        return from == ST(QUEUED) || from == ST(REOPENED) || from == ST(WAITING_CUSTOMER) ||
                       from == ST(IN_PROGRESS)
                   ? ST(IN_PROGRESS)
                   : ST(UNSPECIFIED);
    case AC(WAIT): return from == ST(IN_PROGRESS) ? ST(WAITING_CUSTOMER) : ST(UNSPECIFIED);
    case AC(RESOLVE):
        return from == ST(IN_PROGRESS) || from == ST(WAITING_CUSTOMER) ? ST(RESOLVED)
                                                                        : ST(UNSPECIFIED);
    case AC(CLOSE): return from == ST(RESOLVED) ? ST(CLOSED) : ST(UNSPECIFIED);
    case AC(REOPEN):
        return from == ST(RESOLVED) || from == ST(CLOSED) ? ST(REOPENED) : ST(UNSPECIFIED);
    default: return keep_status(from, a);
    }
}

const char *store_action_name(Helpdesk__V1__TicketAction__ActionCase a)
{
    switch (a) {
    case AC(TAKE): return "take";
    case AC(ASSIGN): return "assign";
    case AC(NOTE): return "note";
    case AC(REPLY): return "reply";
    case AC(LOG_CONTACT): return "log_contact";
    case AC(WAIT): return "wait";
    case AC(RESOLVE): return "resolve";
    case AC(CLOSE): return "close";
    case AC(REOPEN): return "reopen";
    case AC(ESCALATE): return "escalate";
    case AC(REPRIORITIZE): return "reprioritize";
    case AC(SATISFACTION): return "satisfaction";
    default: return "unknown";
    }
}

void store_reply_init(store_reply *r, uint64_t id)
{
    helpdesk__v1__reply__init(&r->pb);
    r->pb.id = id;
}

void store_reply_error(store_reply *r, Helpdesk__V1__ErrorCode code, const char *field,
                       const char *fmt, ...)
{
    store_reply_clear(r);
    char msg[sizeof r->err.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hd_error_set(&r->err, code, field, "%s", msg);
    hd_reply_set_error(&r->pb, &r->err);
}

void store_reply_clear(store_reply *r)
{
    ProtobufCMessage *body = NULL;
    switch (r->pb.body_case) {
    case HELPDESK__V1__REPLY__BODY_RECEIPT: body = &r->pb.receipt->base; break;
    case HELPDESK__V1__REPLY__BODY_TICKET: body = &r->pb.ticket->base; break;
    case HELPDESK__V1__REPLY__BODY_TICKETS: body = &r->pb.tickets->base; break;
    case HELPDESK__V1__REPLY__BODY_EVENTS: body = &r->pb.events->base; break;
    case HELPDESK__V1__REPLY__BODY_CURSOR: body = &r->pb.cursor->base; break;
    case HELPDESK__V1__REPLY__BODY_WORK_ITEM: body = &r->pb.work_item->base; break;
    case HELPDESK__V1__REPLY__BODY_WORK_ACK: body = &r->pb.work_ack->base; break;
    case HELPDESK__V1__REPLY__BODY_HEARTBEAT: body = &r->pb.heartbeat->base; break;
    case HELPDESK__V1__REPLY__BODY_RESULTS: body = &r->pb.results->base; break;
    case HELPDESK__V1__REPLY__BODY_SIGNAL_ACK: body = &r->pb.signal_ack->base; break;
    case HELPDESK__V1__REPLY__BODY_COMMUNICATION: body = &r->pb.communication->base; break;
    case HELPDESK__V1__REPLY__BODY_CLOCKS: body = &r->pb.clocks->base; break;
    case HELPDESK__V1__REPLY__BODY_NOTIFY_CONTEXT: body = &r->pb.notify_context->base; break;
    case HELPDESK__V1__REPLY__BODY_COMMUNICATIONS: body = &r->pb.communications->base; break;
    default: break; /* none, or an error held in r->err */
    }
    if (body)
        protobuf_c_message_free_unpacked(body, NULL);
    r->pb.body_case = HELPDESK__V1__REPLY__BODY__NOT_SET;
    r->pb.error = NULL;
}

char *store_strdup(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return (char *)protobuf_c_empty_string;
    char *d = strdup(s);
    if (d == NULL)
        abort();
    return d;
}

/* -1 with the error set when s is not valid UTF-8. `field` is a printf-style path. */
static int check_text(const char *s, hd_error_buf *err, const char *field)
{
    if (s == NULL || hd_utf8_valid(s, strlen(s)))
        return 0;
    hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                 "%s is not valid UTF-8 text", field);
    return -1;
}

static int check_customer(const HdCustomer *c, hd_error_buf *err)
{
    if (c == NULL)
        return 0;
    if (check_text(c->name, err, "customer.name") || check_text(c->email, err, "customer.email") ||
        check_text(c->phone, err, "customer.phone") ||
        check_text(c->language, err, "customer.language") ||
        check_text(c->organization, err, "customer.organization"))
        return -1;
    for (size_t i = 0; i < c->n_attributes; i++) {
        char field[64];
        const HdAttribute *a = c->attributes[i];
        snprintf(field, sizeof field, "customer.attributes[%zu].key", i);
        if (check_text(a->key, err, field))
            return -1;
        snprintf(field, sizeof field, "customer.attributes[%zu].value", i);
        if (check_text(a->value, err, field))
            return -1;
    }
    return 0;
}

static int check_account(const HdAccount *a, hd_error_buf *err)
{
    if (a == NULL)
        return 0;
    return check_text(a->account_number, err, "account.account_number") ||
                   check_text(a->contract_level, err, "account.contract_level") ||
                   check_text(a->licence, err, "account.licence") ||
                   check_text(a->product, err, "account.product") ||
                   check_text(a->model, err, "account.model") ||
                   check_text(a->serial_number, err, "account.serial_number")
               ? -1
               : 0;
}

static int check_location(const HdLocation *l, hd_error_buf *err)
{
    if (l == NULL)
        return 0;
    return check_text(l->site, err, "location.site") ||
                   check_text(l->building, err, "location.building") ||
                   check_text(l->floor, err, "location.floor") ||
                   check_text(l->room, err, "location.room") ||
                   check_text(l->address, err, "location.address") ||
                   check_text(l->city, err, "location.city") ||
                   check_text(l->country, err, "location.country")
               ? -1
               : 0;
}

static int check_problem(const HdProblem *p, size_t i, hd_error_buf *err)
{
    char field[64];
    const char *names[] = {"category", "summary", "description"};
    const char *values[] = {p->category, p->summary, p->description};
    for (size_t k = 0; k < 3; k++) {
        snprintf(field, sizeof field, "problems[%zu].%s", i, names[k]);
        if (check_text(values[k], err, field))
            return -1;
    }
    if ((unsigned)p->urgency > HELPDESK__V1__LEVEL__LEVEL_CRITICAL ||
        (unsigned)p->impact > HELPDESK__V1__LEVEL__LEVEL_CRITICAL) {
        snprintf(field, sizeof field, "problems[%zu].%s", i,
                 (unsigned)p->urgency > HELPDESK__V1__LEVEL__LEVEL_CRITICAL ? "urgency"
                                                                           : "impact");
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                     "%s must be one of low, medium, high, critical", field);
        return -1;
    }
    if (p->users_affected > INT32_MAX) {
        snprintf(field, sizeof field, "problems[%zu].users_affected", i);
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                     "%s is too large", field);
        return -1;
    }
    return 0;
}

/* Times are epoch milliseconds; PostgreSQL's timestamptz ends in year 294276, but nothing
 * sensible lies beyond 9999-12-31. */
#define MAX_TIME_MS 253402300799999LL

static int check_time(int64_t ms, hd_error_buf *err, const char *field)
{
    if (ms >= 0 && ms <= MAX_TIME_MS)
        return 0;
    hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                 "%s must be milliseconds since 1970 up to the year 9999", field);
    return -1;
}

static int require(const char *s, hd_error_buf *err, const char *field)
{
    if (s != NULL && s[0] != '\0')
        return check_text(s, err, field);
    hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                 "%s is required (with source, it makes the contact's idempotency key)", field);
    return -1;
}

int store_check_contact(const HdContact *c, hd_error_buf *err)
{
    if (c == NULL) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "contact",
                     "create_tickets needs a contact");
        return -1;
    }
    if (require(c->source, err, "source") || require(c->external_id, err, "external_id") ||
        check_text(c->agent, err, "agent") || check_time(c->received_at, err, "received_at"))
        return -1;
    if ((unsigned)c->channel > HELPDESK__V1__CHANNEL__CHANNEL_API) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "channel",
                     "channel must be one of phone, email, web, chat, on_site, api");
        return -1;
    }
    if (c->n_problems == 0) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "problems",
                     "a contact needs at least one problem: each becomes a ticket");
        return -1;
    }
    if (check_customer(c->customer, err) || check_account(c->account, err) ||
        check_location(c->location, err))
        return -1;
    for (size_t i = 0; i < c->n_problems; i++)
        if (check_problem(c->problems[i], i, err))
            return -1;
    return 0;
}

static int check_prioritized(const HdPrioritizeResult *p, hd_error_buf *err)
{
    if (p->priority < HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE ||
        p->priority > HELPDESK__V1__PRIORITY__PRIORITY_P4_PLANNED_EVENT) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "prioritized.priority",
                     "priority must be P1, P2, P3 or P4");
        return -1;
    }
    const HdSlaDeadlines *s = p->sla;
    if (s && (check_time(s->first_response_due, err, "prioritized.sla.first_response_due") ||
              check_time(s->update_interval_ms, err, "prioritized.sla.update_interval_ms") ||
              check_time(s->resolution_due, err, "prioritized.sla.resolution_due") ||
              check_time(s->tier2_escalation_due, err, "prioritized.sla.tier2_escalation_due") ||
              check_time(s->tier3_escalation_due, err, "prioritized.sla.tier3_escalation_due")))
        return -1;
    return check_text(p->rule, err, "prioritized.rule");
}

static int check_routed(const HdRouteResult *r, hd_error_buf *err)
{
    if (r->queue == NULL || r->queue[0] == '\0') {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "routed.queue",
                     "a routed ticket needs a queue");
        return -1;
    }
    if (r->tier > 3) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "routed.tier",
                     "tier must be 1, 2 or 3");
        return -1;
    }
    return check_text(r->queue, err, "routed.queue") ||
                   check_text(r->assignee, err, "routed.assignee") ||
                   check_text(r->rule, err, "routed.rule")
               ? -1
               : 0;
}

static int check_escalated(const HdEscalationResult *e, hd_error_buf *err)
{
    if (e->tier > 3) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "escalated.tier",
                     "tier must be 1, 2 or 3");
        return -1;
    }
    return check_text(e->queue, err, "escalated.queue") ||
                   check_text(e->assignee, err, "escalated.assignee") ||
                   check_text(e->rule, err, "escalated.rule") ||
                   check_text(e->manager, err, "escalated.manager")
               ? -1
               : 0;
}

int store_check_result(const HdWorkResult *r, hd_error_buf *err)
{
    if (r->ticket_id <= 0) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "ticket_id",
                     "ticket_id must be a ticket's id");
        return -1;
    }
    if (check_text(r->worker, err, "worker"))
        return -1;
    Helpdesk__V1__Stage want = HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    switch (r->result_case) {
    case HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED:
        want = HELPDESK__V1__STAGE__STAGE_PRIORITIZE;
        break;
    case HELPDESK__V1__WORK_RESULT__RESULT_ROUTED: want = HELPDESK__V1__STAGE__STAGE_ROUTE; break;
    case HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED:
        want = HELPDESK__V1__STAGE__STAGE_ESCALATE;
        break;
    case HELPDESK__V1__WORK_RESULT__RESULT_FAILED: want = r->stage; break;
    default:
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "result",
                     "a work result needs prioritized, routed, escalated or failed");
        return -1;
    }
    if (r->stage != want || (store_stage_from(r->stage) == HELPDESK__V1__STATUS__STATUS_UNSPECIFIED &&
                             r->stage != HELPDESK__V1__STAGE__STAGE_ESCALATE)) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "stage",
                     "stage must be prioritize with a prioritized result, route with routed, "
                     "escalate with escalated");
        return -1;
    }
    if (r->result_case == HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED && r->escalated)
        return check_escalated(r->escalated, err);
    if (r->result_case == HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED && r->prioritized)
        return check_prioritized(r->prioritized, err);
    if (r->result_case == HELPDESK__V1__WORK_RESULT__RESULT_ROUTED && r->routed)
        return check_routed(r->routed, err);
    if (r->result_case == HELPDESK__V1__WORK_RESULT__RESULT_FAILED && r->failed)
        return 0;
    hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "result",
                 "the work result's body is missing");
    return -1;
}

Helpdesk__V1__Status store_stage_from(Helpdesk__V1__Stage stage)
{
    switch (stage) {
    case HELPDESK__V1__STAGE__STAGE_PRIORITIZE: return HELPDESK__V1__STATUS__STATUS_NEW;
    case HELPDESK__V1__STAGE__STAGE_ROUTE: return HELPDESK__V1__STATUS__STATUS_TRIAGED;
    default: return HELPDESK__V1__STATUS__STATUS_UNSPECIFIED;
    }
}

Helpdesk__V1__Status store_stage_to(Helpdesk__V1__Stage stage)
{
    switch (stage) {
    case HELPDESK__V1__STAGE__STAGE_PRIORITIZE: return HELPDESK__V1__STATUS__STATUS_TRIAGED;
    case HELPDESK__V1__STAGE__STAGE_ROUTE: return HELPDESK__V1__STATUS__STATUS_QUEUED;
    default: return HELPDESK__V1__STATUS__STATUS_UNSPECIFIED;
    }
}

Helpdesk__V1__Stage store_stage_for(Helpdesk__V1__Status status)
{
    switch (status) {
    case HELPDESK__V1__STATUS__STATUS_NEW: return HELPDESK__V1__STAGE__STAGE_PRIORITIZE;
    case HELPDESK__V1__STATUS__STATUS_TRIAGED: return HELPDESK__V1__STAGE__STAGE_ROUTE;
    default: return HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    }
}

Helpdesk__V1__EventKind store_event_kind_parse(const char *s)
{
    /* 4..99 are reserved for later kinds; their names come from the same table. */
    for (int k = 1; k < 100; k++) {
        const char *name = hd_event_kind_name((Helpdesk__V1__EventKind)k);
        if (strcmp(name, "unknown") == 0)
            break;
        if (strcmp(name, s) == 0)
            return (Helpdesk__V1__EventKind)k;
    }
    return HELPDESK__V1__EVENT_KIND__EVENT_UNSPECIFIED;
}

void store_text_created(char *buf, size_t len, const HdContact *c, size_t index)
{
    const char *agent = c->agent && c->agent[0] ? c->agent : "(no agent recorded)";
    snprintf(buf, len, "created from a %s contact taken by %s (problem %zu of %zu)",
             hd_channel_name(c->channel), agent, index + 1, c->n_problems);
}

void store_text_triaged(char *buf, size_t len, const HdPrioritizeResult *p)
{
    snprintf(buf, len, "priority %s (%s) set by rule %s", hd_priority_name(p->priority),
             hd_priority_title(p->priority), p->rule && p->rule[0] ? p->rule : "(none)");
}

void store_text_queued(char *buf, size_t len, const HdRouteResult *r)
{
    unsigned tier = r->tier ? r->tier : 1;
    if (r->assignee && r->assignee[0])
        snprintf(buf, len, "queued to %s, tier %u, assigned to %s, by rule %s", r->queue, tier,
                 r->assignee, r->rule && r->rule[0] ? r->rule : "(none)");
    else
        snprintf(buf, len, "queued to %s, tier %u, by rule %s", r->queue, tier,
                 r->rule && r->rule[0] ? r->rule : "(none)");
}
