/* The technician actions, SLA signals and escalation results as plain functions over a
 * Ticket: what changes and which events it makes. The database layer locks the row, calls
 * these, and writes back the ticket and the outcome in the same transaction. */
#include <stdio.h>
#include <string.h>

#include "hd/utf8.h"
#include "store.h"

#define ST(x) HELPDESK__V1__STATUS__STATUS_##x
#define AC(x) HELPDESK__V1__TICKET_ACTION__ACTION_##x
#define EV(x) HELPDESK__V1__EVENT_KIND__EVENT_##x
#define DL(x) HELPDESK__V1__DEADLINE__DEADLINE_##x
#define INVALID HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD

/* ---- checking ---- */

static int text_ok(const char *s, hd_error_buf *err, const char *field)
{
    if (s == NULL || hd_utf8_valid(s, strlen(s)))
        return 0;
    hd_error_set(err, INVALID, field, "%s is not valid UTF-8 text", field);
    return -1;
}

static int required(const char *s, hd_error_buf *err, const char *field)
{
    if (s != NULL && s[0] != '\0')
        return text_ok(s, err, field);
    hd_error_set(err, INVALID, field, "%s is required", field);
    return -1;
}

static int check_contact_log(const HdContactLog *c, hd_error_buf *err)
{
    if (c->direction == NULL ||
        (strcmp(c->direction, "inbound") != 0 && strcmp(c->direction, "outbound") != 0)) {
        hd_error_set(err, INVALID, "log_contact.direction",
                     "log_contact.direction must be inbound or outbound");
        return -1;
    }
    if ((unsigned)c->channel > HELPDESK__V1__CHANNEL__CHANNEL_API) {
        hd_error_set(err, INVALID, "log_contact.channel",
                     "log_contact.channel must be one of phone, email, web, chat, on_site, api");
        return -1;
    }
    return required(c->summary, err, "log_contact.summary");
}

static int check_reprioritize(const HdReprioritize *r, hd_error_buf *err)
{
    if (r->priority < HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE ||
        r->priority > HELPDESK__V1__PRIORITY__PRIORITY_P4_PLANNED_EVENT) {
        hd_error_set(err, INVALID, "reprioritize.priority",
                     "reprioritize.priority must be P1, P2, P3 or P4");
        return -1;
    }
    return text_ok(r->reason, err, "reprioritize.reason");
}

/* The action's own fields; every oneof member is a message, NULL when absent. */
static int check_body(const HdTicketAction *a, hd_error_buf *err)
{
    switch (a->action_case) {
    case AC(TAKE): return 0;
    case AC(ASSIGN): return required(a->assign->assignee, err, "assign.assignee");
    case AC(NOTE): return required(a->note->text, err, "note.text");
    case AC(REPLY): return required(a->reply->text, err, "reply.text");
    case AC(LOG_CONTACT): return check_contact_log(a->log_contact, err);
    case AC(WAIT): return text_ok(a->wait->reason, err, "wait.reason");
    case AC(RESOLVE): return required(a->resolve->solution, err, "resolve.solution");
    case AC(CLOSE): return text_ok(a->close->reason, err, "close.reason");
    case AC(REOPEN): return text_ok(a->reopen->reason, err, "reopen.reason");
    case AC(ESCALATE): return text_ok(a->escalate->reason, err, "escalate.reason");
    case AC(REPRIORITIZE): return check_reprioritize(a->reprioritize, err);
    case AC(SATISFACTION): return text_ok(a->satisfaction->comment, err, "satisfaction.comment");
    default: break;
    }
    hd_error_set(err, INVALID, "action",
                 "act needs one action: take, assign, note, reply, log_contact, wait, resolve, "
                 "close, reopen, escalate, reprioritize or satisfaction");
    return -1;
}

int store_check_action(const HdTicketAction *a, hd_error_buf *err)
{
    if (a == NULL) {
        hd_error_set(err, INVALID, "act", "act needs a ticket action");
        return -1;
    }
    if (a->ticket_id <= 0) {
        hd_error_set(err, INVALID, "ticket_id", "ticket_id must be a ticket's id");
        return -1;
    }
    if (required(a->actor, err, "actor") != 0)
        return -1;
    /* protobuf-c leaves the member NULL only when the oneof is unset; be safe anyway. */
    if (a->action_case != AC(TAKE) && a->action_case != 0 && a->take == NULL) {
        hd_error_set(err, INVALID, "action", "the action's body is missing");
        return -1;
    }
    return check_body(a, err);
}

int store_check_signal(const HdSlaSignal *s, hd_error_buf *err)
{
    if (s == NULL || s->ticket_id <= 0) {
        hd_error_set(err, INVALID, "ticket_id", "sla_signal needs a ticket_id");
        return -1;
    }
    if (s->deadline < DL(FIRST_RESPONSE) || s->deadline > DL(TIER3)) {
        hd_error_set(err, INVALID, "deadline",
                     "deadline must be first_response, update, resolution, tier2 or tier3");
        return -1;
    }
    if (s->deadline_at <= 0) {
        hd_error_set(err, INVALID, "deadline_at", "deadline_at must be the deadline's time");
        return -1;
    }
    return text_ok(s->actor, err, "actor");
}

/* ---- the clock ---- */

static void shift(int64_t *t, int64_t by)
{
    if (*t != 0)
        *t += by;
}

void store_resume_clock(HdTicket *t, int64_t now_ms)
{
    int64_t by = t->paused_at > 0 && now_ms > t->paused_at ? now_ms - t->paused_at : 0;
    t->paused_at = 0;
    if (by == 0)
        return;
    shift(&t->next_update_due, by);
    if (t->sla == NULL)
        return;
    if (t->first_response_at == 0)
        shift(&t->sla->first_response_due, by);
    shift(&t->sla->resolution_due, by);
    shift(&t->sla->tier2_escalation_due, by);
    shift(&t->sla->tier3_escalation_due, by);
}

/* Deadlines for a new priority, from created_at, as the prioritizer computes them. */
static void recompute_sla(HdTicket *t, const hd_sla *sla, int64_t now_ms)
{
    if (sla == NULL || t->sla == NULL || (int)t->priority < 1 || (int)t->priority > 4)
        return;
    HdSlaDeadlines *d = t->sla;
    hd_sla_deadlines(sla, t->priority, t->created_at, d);
    if (d->update_interval_ms > 0) {
        t->next_update_due = t->created_at + d->update_interval_ms;
        while (t->next_update_due <= now_ms)
            t->next_update_due += d->update_interval_ms;
    }
}

/* ---- the actions ---- */

typedef struct {
    HdTicket *t;
    const HdTicketAction *a;
    const hd_sla *sla;
    int64_t now;
    store_outcome *o;
} act_ctx;

static HdTicketEvent *emit(act_ctx *c, Helpdesk__V1__EventKind kind)
{
    HdTicketEvent *e = store_event_for(c->t, kind, c->a->actor, c->now);
    store_events_push(&c->o->evs, e);
    return e;
}

/* Take, or resume from waiting_customer (deadlines move on by the pause). */
static void do_take(act_ctx *c, const char *who)
{
    bool resume = c->t->status == ST(WAITING_CUSTOMER);
    if (resume)
        store_resume_clock(c->t, c->now);
    c->t->status = ST(IN_PROGRESS);
    store_set_str(&c->t->assignee, who);
    HdTicketEvent *e = emit(c, resume ? EV(RESUMED) : EV(TAKEN));
    char text[256];
    snprintf(text, sizeof text, "%s by %s", resume ? "resumed" : "taken", who);
    store_set_str(&e->text, text);
}

static void first_response(act_ctx *c)
{
    if (c->t->first_response_at == 0)
        c->t->first_response_at = c->now;
}

static void do_log_contact(act_ctx *c)
{
    const HdContactLog *l = c->a->log_contact;
    bool inbound = strcmp(l->direction, "inbound") == 0;
    if (!inbound)
        first_response(c);
    HdTicketEvent *e = emit(c, EV(CONTACT_LOGGED));
    store_set_str(&e->direction, l->direction);
    store_set_str(&e->channel, hd_channel_name(l->channel));
    store_set_str(&e->text, l->summary);
    if (inbound && c->t->status == ST(WAITING_CUSTOMER)) {
        store_resume_clock(c->t, c->now);
        c->t->status = ST(IN_PROGRESS);
        e = emit(c, EV(RESUMED));
        store_set_str(&e->reason, "the customer got back in touch");
        store_set_str(&e->text, "resumed: the customer got back in touch");
    }
}

static void do_reopen(act_ctx *c, const char *reason)
{
    c->t->status = ST(REOPENED);
    c->t->resolved_at = 0;
    c->t->closed_at = 0;
    HdTicketEvent *e = emit(c, EV(REOPENED));
    store_set_str(&e->reason, reason);
}

static void do_satisfaction(act_ctx *c)
{
    const HdSatisfaction *s = c->a->satisfaction;
    c->t->satisfaction = s->satisfied ? 1 : 2;
    HdTicketEvent *e = emit(c, EV(SATISFACTION));
    e->satisfied = c->t->satisfaction;
    store_set_str(&e->text, s->comment);
    if (!s->satisfied)
        do_reopen(c, "customer not satisfied");
}

static void do_escalate(act_ctx *c)
{
    const char *why = c->a->escalate->reason;
    store_outcome *o = c->o;
    o->escalate = true;
    o->from_tier = c->t->tier ? c->t->tier : 1;
    o->to_tier = o->from_tier >= 3 ? 4 : o->from_tier + 1;
    o->deadline = DL(UNSPECIFIED);
    snprintf(o->reason, sizeof o->reason, "%s",
             why && why[0] ? why : "escalation requested by a technician");
    HdTicketEvent *e = emit(c, EV(ESCALATION_REQUESTED));
    e->from_tier = o->from_tier;
    store_set_str(&e->reason, o->reason);
}

static void do_reprioritize(act_ctx *c)
{
    c->t->priority = c->a->reprioritize->priority;
    recompute_sla(c->t, c->sla, c->now);
    HdTicketEvent *e = emit(c, EV(REPRIORITIZED));
    store_set_str(&e->reason, c->a->reprioritize->reason);
}

static void do_simple(act_ctx *c)
{
    const HdTicketAction *a = c->a;
    HdTicketEvent *e;
    switch (a->action_case) {
    case AC(ASSIGN):
        store_set_str(&c->t->assignee, a->assign->assignee);
        emit(c, EV(ASSIGNED));
        break;
    case AC(NOTE): store_set_str(&emit(c, EV(NOTE))->text, a->note->text); break;
    case AC(REPLY):
        first_response(c);
        store_set_str(&emit(c, EV(REPLY))->text, a->reply->text);
        break;
    case AC(WAIT):
        c->t->status = ST(WAITING_CUSTOMER);
        c->t->paused_at = c->now;
        store_set_str(&emit(c, EV(WAITING))->reason, a->wait->reason);
        break;
    case AC(RESOLVE):
        c->t->status = ST(RESOLVED);
        c->t->paused_at = 0; /* no clock runs on a resolved ticket */
        c->t->resolved_at = c->now;
        store_set_str(&c->t->solution, a->resolve->solution);
        store_set_str(&emit(c, EV(RESOLVED))->text, a->resolve->solution);
        break;
    case AC(CLOSE):
        c->t->status = ST(CLOSED);
        c->t->closed_at = c->now;
        e = emit(c, EV(CLOSED));
        store_set_str(&e->reason, a->close->reason);
        break;
    default: break;
    }
}

static void dispatch_action(act_ctx *c)
{
    switch (c->a->action_case) {
    case AC(TAKE): do_take(c, c->a->actor); break;
    case AC(LOG_CONTACT): do_log_contact(c); break;
    case AC(REOPEN):
        do_reopen(c, c->a->reopen->reason && c->a->reopen->reason[0] ? c->a->reopen->reason
                                                                      : "reopened");
        break;
    case AC(SATISFACTION): do_satisfaction(c); break;
    case AC(ESCALATE): do_escalate(c); break;
    case AC(REPRIORITIZE): do_reprioritize(c); break;
    default: do_simple(c); break;
    }
}

int store_apply_action(HdTicket *t, const HdTicketAction *a, const hd_sla *sla, int64_t now_ms,
                       store_outcome *o, hd_error_buf *err)
{
    const char *what = store_action_name(a->action_case);
    if (store_transition(t->status, a->action_case) == ST(UNSPECIFIED)) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_ILLEGAL_TRANSITION, "status",
                     "ticket %lld is %s: %s is not allowed in that status", (long long)t->id,
                     hd_status_name(t->status), what);
        return -1;
    }
    if (a->action_case == AC(TAKE) && t->status == ST(IN_PROGRESS) && t->assignee &&
        strcmp(t->assignee, a->actor) == 0) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_ILLEGAL_TRANSITION, "status",
                     "ticket %lld is already in_progress with %s", (long long)t->id, a->actor);
        return -1;
    }
    act_ctx c = {.t = t, .a = a, .sla = sla, .now = now_ms, .o = o};
    dispatch_action(&c);
    t->updated_at = now_ms;
    return 0;
}

/* ---- SLA signals ---- */

int64_t store_deadline_of(const HdTicket *t, Helpdesk__V1__Deadline d)
{
    const HdSlaDeadlines *s = t->sla;
    switch (d) {
    case DL(FIRST_RESPONSE): return s && t->first_response_at == 0 ? s->first_response_due : 0;
    case DL(UPDATE): return t->next_update_due;
    case DL(RESOLUTION): return s ? s->resolution_due : 0;
    case DL(TIER2): return s && t->tier < 2 ? s->tier2_escalation_due : 0;
    case DL(TIER3): return s && t->tier < 3 ? s->tier3_escalation_due : 0;
    default: return 0;
    }
}

static bool clock_runs(const HdTicket *t)
{
    return t->status != ST(RESOLVED) && t->status != ST(CLOSED) &&
           t->status != ST(WAITING_CUSTOMER) && t->paused_at == 0 && t->status != ST(NEW);
}

static HdTicketEvent *signal_event(HdTicket *t, const HdSlaSignal *s, Helpdesk__V1__EventKind k,
                                   int64_t now_ms, store_outcome *o)
{
    HdTicketEvent *e = store_event_for(t, k, s->actor && s->actor[0] ? s->actor : "sla", now_ms);
    e->deadline = s->deadline;
    e->deadline_at = s->deadline_at;
    store_events_push(&o->evs, e);
    return e;
}

static void request_escalation(HdTicket *t, const HdSlaSignal *s, uint32_t to, int64_t now_ms,
                               store_outcome *o)
{
    o->escalate = true;
    o->from_tier = t->tier ? t->tier : 1;
    o->to_tier = to;
    o->deadline = s->deadline;
    if (to == 4)
        snprintf(o->reason, sizeof o->reason,
                 "tier 3 did not resolve it by the resolution deadline");
    else
        snprintf(o->reason, sizeof o->reason, "tier %u not resolved within the %s deadline",
                 o->from_tier, hd_deadline_name(s->deadline));
    HdTicketEvent *e = signal_event(t, s, EV(ESCALATION_REQUESTED), now_ms, o);
    e->from_tier = o->from_tier;
    store_set_str(&e->reason, o->reason);
}

bool store_apply_signal(HdTicket *t, const HdSlaSignal *s, int64_t now_ms, store_outcome *o)
{
    if (!clock_runs(t) || store_deadline_of(t, s->deadline) != s->deadline_at)
        return false;
    switch (s->deadline) {
    case DL(FIRST_RESPONSE):
    case DL(RESOLUTION):
        signal_event(t, s, s->breach ? EV(SLA_BREACH) : EV(SLA_WARNING), now_ms, o);
        if (s->deadline == DL(RESOLUTION) && s->breach && t->tier >= 3)
            request_escalation(t, s, 4, now_ms, o);
        return true;
    case DL(UPDATE): {
        int64_t step = t->sla ? t->sla->update_interval_ms : 0;
        if (!s->breach || step <= 0)
            return false;
        signal_event(t, s, EV(UPDATE_DUE), now_ms, o);
        do /* at least one interval on, and into the future after a long outage */
            t->next_update_due += step;
        while (t->next_update_due <= now_ms);
        t->updated_at = now_ms;
        return true;
    }
    case DL(TIER2):
    case DL(TIER3):
        if (!s->breach)
            return false;
        request_escalation(t, s, s->deadline == DL(TIER2) ? 2 : 3, now_ms, o);
        return true;
    default: return false;
    }
}

/* ---- escalation results ---- */

bool store_apply_escalation(HdTicket *t, const HdEscalationRequest *req,
                            const HdEscalationResult *res, const char *actor, int64_t now_ms,
                            store_outcome *o)
{
    uint32_t tier = t->tier ? t->tier : 1;
    if (tier != req->from_tier || req->to_tier < 2 || req->to_tier > 4 ||
        t->status == ST(RESOLVED) || t->status == ST(CLOSED))
        return false;
    char text[512];
    if (req->to_tier <= 3) {
        t->tier = req->to_tier;
        if (res->queue && res->queue[0])
            store_set_str(&t->queue, res->queue);
        store_set_str(&t->assignee, res->assignee);
        snprintf(text, sizeof text, "escalated from tier %u to tier %u, queue %s", tier, t->tier,
                 t->queue);
    } else {
        snprintf(text, sizeof text, "escalated to the support centre manager");
    }
    t->updated_at = now_ms;
    HdTicketEvent *e = store_event_for(t, EV(ESCALATED), actor, now_ms);
    e->from_tier = tier;
    e->deadline = req->deadline;
    store_set_str(&e->rule, res->rule);
    store_set_str(&e->reason, req->reason);
    store_set_str(&e->text, text);
    if (req->to_tier == 4)
        store_set_str(&e->recipient, res->manager);
    store_events_push(&o->evs, e);
    return true;
}
