/* The ticket lifecycle, actions, SLA signals and escalation results as plain functions: no
 * sockets, no database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/store/store.h"

#define ST(x) HELPDESK__V1__STATUS__STATUS_##x
#define A(x) HELPDESK__V1__TICKET_ACTION__ACTION_##x
#define EV(x) HELPDESK__V1__EVENT_KIND__EVENT_##x
#define DL(x) HELPDESK__V1__DEADLINE__DEADLINE_##x
#define NONE ST(UNSPECIFIED)

/* The whole graph: expected[from][action], NONE = illegal. Rows: unspecified, new, triaged,
 * queued, in_progress, waiting_customer, resolved, closed, reopened. Columns: take, assign,
 * note, reply, log_contact, wait, resolve, close, reopen, escalate, reprioritize,
 * satisfaction. A "=" entry (KEEP) means the status stays. */
#define KEEP ((Helpdesk__V1__Status)100)
static const Helpdesk__V1__Status expected[9][12] = {
    /* unspecified */ {NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE},
    /* new */ {NONE, NONE, KEEP, NONE, KEEP, NONE, NONE, NONE, NONE, NONE, NONE, NONE},
    /* triaged */ {NONE, NONE, KEEP, NONE, KEEP, NONE, NONE, NONE, NONE, NONE, NONE, NONE},
    /* queued */
    {ST(IN_PROGRESS), KEEP, KEEP, KEEP, KEEP, NONE, NONE, NONE, NONE, KEEP, KEEP, NONE},
    /* in_progress */
    {ST(IN_PROGRESS), KEEP, KEEP, KEEP, KEEP, ST(WAITING_CUSTOMER), ST(RESOLVED), NONE, NONE,
     KEEP, KEEP, NONE},
    /* waiting_customer */
    {ST(IN_PROGRESS), KEEP, KEEP, KEEP, KEEP, NONE, ST(RESOLVED), NONE, NONE, KEEP, KEEP, NONE},
    /* resolved */
    {NONE, NONE, KEEP, NONE, KEEP, NONE, NONE, ST(CLOSED), ST(REOPENED), NONE, NONE, KEEP},
    /* closed */ {NONE, NONE, KEEP, NONE, KEEP, NONE, NONE, NONE, ST(REOPENED), NONE, NONE, KEEP},
    /* reopened */
    {ST(IN_PROGRESS), KEEP, KEEP, KEEP, KEEP, NONE, NONE, NONE, NONE, KEEP, KEEP, NONE},
};

static void test_graph_every_pair(void **state)
{
    (void)state;
    for (int from = 0; from <= 8; from++) {
        for (int a = 0; a < 12; a++) {
            Helpdesk__V1__TicketAction__ActionCase act =
                (Helpdesk__V1__TicketAction__ActionCase)(A(TAKE) + a);
            Helpdesk__V1__Status want = expected[from][a] == KEEP
                                            ? (Helpdesk__V1__Status)from
                                            : expected[from][a];
            Helpdesk__V1__Status got = store_transition((Helpdesk__V1__Status)from, act);
            if (got != want)
                fail_msg("%s from %s: got %s, want %s", store_action_name(act),
                         hd_status_name((Helpdesk__V1__Status)from), hd_status_name(got),
                         hd_status_name(want));
        }
        /* no action at all */
        assert_int_equal(store_transition((Helpdesk__V1__Status)from,
                                          HELPDESK__V1__TICKET_ACTION__ACTION__NOT_SET),
                         NONE);
    }
}

/* ---- a ticket to play with ---- */

static HdTicket *ticket(Helpdesk__V1__Status st, uint32_t tier)
{
    HdTicket *t = calloc(1, sizeof *t);
    helpdesk__v1__ticket__init(t);
    t->id = 7;
    t->status = st;
    t->tier = tier;
    t->priority = HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION;
    t->queue = store_strdup("net");
    t->assignee = store_strdup("alice");
    t->created_at = 1000000;
    t->sla = calloc(1, sizeof *t->sla);
    helpdesk__v1__sla_deadlines__init(t->sla);
    t->sla->first_response_due = 2000000;
    t->sla->update_interval_ms = 100000;
    t->sla->resolution_due = 5000000;
    t->sla->tier2_escalation_due = 3000000;
    t->sla->tier3_escalation_due = 4000000;
    t->next_update_due = 1100000;
    return t;
}

static void ticket_free(HdTicket *t)
{
    protobuf_c_message_free_unpacked(&t->base, NULL);
}

static HdTake take_msg = HELPDESK__V1__TAKE__INIT;

static HdTicketAction action(const char *actor, Helpdesk__V1__TicketAction__ActionCase c)
{
    HdTicketAction a = HELPDESK__V1__TICKET_ACTION__INIT;
    a.ticket_id = 7;
    a.actor = (char *)actor;
    a.action_case = c;
    a.take = &take_msg; /* the union's pointer; callers set the right member */
    return a;
}

static void test_illegal_changes_nothing(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(CLOSED), 1);
    Helpdesk__V1__Resolve res = HELPDESK__V1__RESOLVE__INIT;
    res.solution = "x";
    HdTicketAction a = action("bob", A(RESOLVE));
    a.resolve = &res;
    store_outcome o = {0};
    hd_error_buf err;
    assert_int_equal(store_apply_action(t, &a, NULL, 10, &o, &err), -1);
    assert_int_equal(err.pb.code, HELPDESK__V1__ERROR_CODE__ERROR_ILLEGAL_TRANSITION);
    assert_non_null(strstr(err.message, "closed"));
    assert_int_equal(t->status, ST(CLOSED));
    assert_int_equal(o.evs.n, 0);
    assert_false(o.escalate);
    /* take of one's own in_progress ticket is refused too */
    t->status = ST(IN_PROGRESS);
    a = action("alice", A(TAKE));
    assert_int_equal(store_apply_action(t, &a, NULL, 10, &o, &err), -1);
    assert_int_equal(o.evs.n, 0);
    ticket_free(t);
}

static void test_wait_and_resume_shift(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(IN_PROGRESS), 1);
    Helpdesk__V1__Wait w = HELPDESK__V1__WAIT__INIT;
    HdTicketAction a = action("alice", A(WAIT));
    a.wait = &w;
    store_outcome o = {0};
    hd_error_buf err;
    assert_int_equal(store_apply_action(t, &a, NULL, 1500000, &o, &err), 0);
    assert_int_equal(t->status, ST(WAITING_CUSTOMER));
    assert_int_equal(t->paused_at, 1500000);
    assert_int_equal(o.evs.v[0]->kind, EV(WAITING));
    store_outcome_clear(&o);
    /* an inbound contact resumes; 60 s of pause move every running deadline */
    HdContactLog cl = HELPDESK__V1__CONTACT_LOG__INIT;
    cl.direction = "inbound";
    cl.summary = "customer called back";
    a = action("alice", A(LOG_CONTACT));
    a.log_contact = &cl;
    assert_int_equal(store_apply_action(t, &a, NULL, 1560000, &o, &err), 0);
    assert_int_equal(o.evs.n, 2);
    assert_int_equal(o.evs.v[0]->kind, EV(CONTACT_LOGGED));
    assert_int_equal(o.evs.v[0]->status, ST(WAITING_CUSTOMER));
    assert_int_equal(o.evs.v[1]->kind, EV(RESUMED));
    assert_int_equal(o.evs.v[1]->status, ST(IN_PROGRESS));
    assert_int_equal(t->paused_at, 0);
    assert_int_equal(t->sla->first_response_due, 2060000); /* no first response yet */
    assert_int_equal(t->sla->resolution_due, 5060000);
    assert_int_equal(t->sla->tier2_escalation_due, 3060000);
    assert_int_equal(t->sla->tier3_escalation_due, 4060000);
    assert_int_equal(t->next_update_due, 1160000);
    assert_int_equal(t->first_response_at, 0); /* inbound is not a response */
    store_outcome_clear(&o);
    ticket_free(t);
}

static void test_take_resumes_without_moving_answered_first_response(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(WAITING_CUSTOMER), 1);
    t->paused_at = 1000;
    t->first_response_at = 900;
    HdTicketAction a = action("bob", A(TAKE));
    store_outcome o = {0};
    hd_error_buf err;
    assert_int_equal(store_apply_action(t, &a, NULL, 3000, &o, &err), 0);
    assert_int_equal(o.evs.v[0]->kind, EV(RESUMED));
    assert_string_equal(t->assignee, "bob");
    assert_int_equal(t->sla->first_response_due, 2000000);
    assert_int_equal(t->sla->resolution_due, 5002000);
    store_outcome_clear(&o);
    ticket_free(t);
}

static void test_reply_sets_first_response_once(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(QUEUED), 1);
    Helpdesk__V1__CustomerMessage m = HELPDESK__V1__CUSTOMER_MESSAGE__INIT;
    m.text = "hello";
    HdTicketAction a = action("alice", A(REPLY));
    a.reply = &m;
    store_outcome o = {0};
    hd_error_buf err;
    assert_int_equal(store_apply_action(t, &a, NULL, 50, &o, &err), 0);
    assert_int_equal(store_apply_action(t, &a, NULL, 60, &o, &err), 0);
    assert_int_equal(t->first_response_at, 50);
    assert_int_equal(o.evs.n, 2);
    assert_string_equal(o.evs.v[1]->text, "hello");
    store_outcome_clear(&o);
    ticket_free(t);
}

static void test_satisfaction_reopens(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(RESOLVED), 1);
    t->resolved_at = 10;
    HdSatisfaction s = HELPDESK__V1__SATISFACTION__INIT;
    s.satisfied = false;
    s.comment = "no";
    HdTicketAction a = action("customer", A(SATISFACTION));
    a.satisfaction = &s;
    store_outcome o = {0};
    hd_error_buf err;
    assert_int_equal(store_apply_action(t, &a, NULL, 20, &o, &err), 0);
    assert_int_equal(t->status, ST(REOPENED));
    assert_int_equal(t->satisfaction, 2);
    assert_int_equal(t->resolved_at, 0);
    assert_int_equal(o.evs.n, 2);
    assert_int_equal(o.evs.v[0]->satisfied, 2);
    assert_string_equal(o.evs.v[1]->reason, "customer not satisfied");
    store_outcome_clear(&o);
    ticket_free(t);
}

static void test_escalate_and_reprioritize(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(IN_PROGRESS), 3);
    Helpdesk__V1__Escalate e = HELPDESK__V1__ESCALATE__INIT;
    HdTicketAction a = action("alice", A(ESCALATE));
    a.escalate = &e;
    store_outcome o = {0};
    hd_error_buf err;
    assert_int_equal(store_apply_action(t, &a, NULL, 20, &o, &err), 0);
    assert_true(o.escalate);
    assert_int_equal(o.from_tier, 3);
    assert_int_equal(o.to_tier, 4); /* beyond tier 3: the manager */
    assert_int_equal(o.evs.v[0]->kind, EV(ESCALATION_REQUESTED));
    store_outcome_clear(&o);
    hd_sla sla;
    hd_sla_defaults(&sla);
    HdReprioritize rp = HELPDESK__V1__REPRIORITIZE__INIT;
    rp.priority = HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE;
    a = action("alice", A(REPRIORITIZE));
    a.reprioritize = &rp;
    assert_int_equal(store_apply_action(t, &a, &sla, 20, &o, &err), 0);
    assert_int_equal(t->priority, 1);
    assert_int_equal(t->sla->first_response_due, 1000000 + 900000);
    assert_int_equal(t->sla->resolution_due, 1000000 + 14400000);
    assert_int_equal(t->sla->update_interval_ms, 1800000);
    assert_int_equal(t->next_update_due, 1000000 + 1800000);
    store_outcome_clear(&o);
    ticket_free(t);
}

static void test_check_action(void **state)
{
    (void)state;
    hd_error_buf err;
    HdTicketAction a = action("", A(TAKE));
    assert_int_equal(store_check_action(&a, &err), -1);
    assert_string_equal(err.field, "actor");
    Helpdesk__V1__Resolve res = HELPDESK__V1__RESOLVE__INIT;
    a = action("bob", A(RESOLVE));
    a.resolve = &res;
    assert_int_equal(store_check_action(&a, &err), -1);
    assert_string_equal(err.field, "resolve.solution");
    HdContactLog cl = HELPDESK__V1__CONTACT_LOG__INIT;
    cl.direction = "sideways";
    cl.summary = "x";
    a = action("bob", A(LOG_CONTACT));
    a.log_contact = &cl;
    assert_int_equal(store_check_action(&a, &err), -1);
    assert_string_equal(err.field, "log_contact.direction");
    a = action("bob", HELPDESK__V1__TICKET_ACTION__ACTION__NOT_SET);
    assert_int_equal(store_check_action(&a, &err), -1);
    a = action("bob", A(TAKE));
    a.ticket_id = 0;
    assert_int_equal(store_check_action(&a, &err), -1);
    assert_string_equal(err.field, "ticket_id");
}

static HdSlaSignal sig(Helpdesk__V1__Deadline d, int64_t at, bool breach)
{
    HdSlaSignal s = HELPDESK__V1__SLA_SIGNAL__INIT;
    s.ticket_id = 7;
    s.deadline = d;
    s.deadline_at = at;
    s.breach = breach;
    s.actor = "timer";
    return s;
}

static void test_signals(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(QUEUED), 1);
    store_outcome o = {0};
    HdSlaSignal s = sig(DL(FIRST_RESPONSE), 2000000, false);
    assert_true(store_apply_signal(t, &s, 1900000, &o));
    assert_int_equal(o.evs.v[0]->kind, EV(SLA_WARNING));
    assert_int_equal(o.evs.v[0]->deadline_at, 2000000);
    store_outcome_clear(&o);
    s = sig(DL(FIRST_RESPONSE), 1999999, true); /* moved deadline */
    assert_false(store_apply_signal(t, &s, 2000000, &o));
    t->first_response_at = 5; /* answered: no first-response clock */
    s = sig(DL(FIRST_RESPONSE), 2000000, true);
    assert_false(store_apply_signal(t, &s, 2000000, &o));
    /* update: moves on by intervals until in the future */
    s = sig(DL(UPDATE), 1100000, true);
    assert_true(store_apply_signal(t, &s, 1350000, &o));
    assert_int_equal(t->next_update_due, 1400000);
    assert_int_equal(o.evs.v[0]->kind, EV(UPDATE_DUE));
    store_outcome_clear(&o);
    /* tier2 breach: escalation to 2 */
    s = sig(DL(TIER2), 3000000, true);
    assert_true(store_apply_signal(t, &s, 3000000, &o));
    assert_true(o.escalate);
    assert_int_equal(o.to_tier, 2);
    assert_int_equal(o.deadline, DL(TIER2));
    assert_int_equal(o.evs.v[0]->kind, EV(ESCALATION_REQUESTED));
    store_outcome_clear(&o);
    t->tier = 2;
    assert_false(store_apply_signal(t, &s, 3000000, &o)); /* tier reached */
    /* resolution breach at tier 3 asks for the manager */
    t->tier = 3;
    s = sig(DL(RESOLUTION), 5000000, true);
    assert_true(store_apply_signal(t, &s, 5000000, &o));
    assert_int_equal(o.evs.n, 2);
    assert_int_equal(o.evs.v[0]->kind, EV(SLA_BREACH));
    assert_int_equal(o.to_tier, 4);
    store_outcome_clear(&o);
    /* waiting or resolved: nothing */
    t->status = ST(WAITING_CUSTOMER);
    t->paused_at = 1;
    assert_false(store_apply_signal(t, &s, 5000000, &o));
    t->status = ST(RESOLVED);
    t->paused_at = 0;
    assert_false(store_apply_signal(t, &s, 5000000, &o));
    assert_int_equal(o.evs.n, 0);
    ticket_free(t);
}

static void test_escalation_result(void **state)
{
    (void)state;
    HdTicket *t = ticket(ST(QUEUED), 1);
    HdEscalationRequest req = HELPDESK__V1__ESCALATION_REQUEST__INIT;
    req.from_tier = 1;
    req.to_tier = 2;
    req.reason = "late";
    HdEscalationResult res = HELPDESK__V1__ESCALATION_RESULT__INIT;
    res.queue = "net-l2";
    res.tier = 2;
    res.rule = "r2";
    store_outcome o = {0};
    assert_true(store_apply_escalation(t, &req, &res, "router", 10, &o));
    assert_int_equal(t->tier, 2);
    assert_string_equal(t->queue, "net-l2");
    assert_string_equal(t->assignee, "");
    assert_int_equal(o.evs.v[0]->kind, EV(ESCALATED));
    assert_int_equal(o.evs.v[0]->from_tier, 1);
    assert_string_equal(o.evs.v[0]->reason, "late");
    store_outcome_clear(&o);
    /* the same again is stale */
    assert_false(store_apply_escalation(t, &req, &res, "router", 11, &o));
    /* to the manager: tier stays */
    t->tier = 3;
    req.from_tier = 3;
    req.to_tier = 4;
    res.manager = "boss@example.com";
    assert_true(store_apply_escalation(t, &req, &res, "router", 12, &o));
    assert_int_equal(t->tier, 3);
    assert_string_equal(t->queue, "net-l2");
    assert_string_equal(o.evs.v[0]->recipient, "boss@example.com");
    assert_string_equal(o.evs.v[0]->text, "escalated to the support centre manager");
    store_outcome_clear(&o);
    ticket_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_every_pair),
        cmocka_unit_test(test_illegal_changes_nothing),
        cmocka_unit_test(test_wait_and_resume_shift),
        cmocka_unit_test(test_take_resumes_without_moving_answered_first_response),
        cmocka_unit_test(test_reply_sets_first_response_once),
        cmocka_unit_test(test_satisfaction_reopens),
        cmocka_unit_test(test_escalate_and_reprioritize),
        cmocka_unit_test(test_check_action),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_escalation_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
