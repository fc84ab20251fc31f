/* End to end: list_clocks, the escalation timer's lean view of the SLA clocks. Pages hold only
 * the tickets whose clocks run (not new, waiting, resolved), by id, at most `limit`, with the
 * clock fields equal to the whole ticket's and nothing else; by ids it answers for each ticket
 * that exists whatever its status, with the signal events of its current deadlines when asked;
 * bad input is refused naming the field. Real hd-store, hd-intake, hd-prioritizer, hd-router
 * and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define NT 4 /* tickets of the fixture's contact */
#define ST(name) HELPDESK__V1__STATUS__STATUS_##name
#define INVALID HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    int64_t ids[NT]; /* [0], [1] queued; [2] waiting_customer; [3] resolved */
} fixture;

static void act(ht_env *env, int64_t id, Helpdesk__V1__TicketAction__ActionCase what)
{
    HdTicketAction a = HELPDESK__V1__TICKET_ACTION__INIT;
    Helpdesk__V1__Take take = HELPDESK__V1__TAKE__INIT;
    Helpdesk__V1__Wait wait = HELPDESK__V1__WAIT__INIT;
    Helpdesk__V1__Resolve resolve = HELPDESK__V1__RESOLVE__INIT;
    a.ticket_id = id;
    a.actor = "Nadia Rahman";
    a.action_case = what;
    a.take = &take;
    if (what == HELPDESK__V1__TICKET_ACTION__ACTION_WAIT) {
        wait.reason = "waiting for the customer's logs";
        a.wait = &wait;
    } else if (what == HELPDESK__V1__TICKET_ACTION__ACTION_RESOLVE) {
        resolve.solution = "replaced the switch";
        a.resolve = &resolve;
    }
    HdReply *rep = ht_act(env, &a);
    if (rep == NULL || rep->body_case != HELPDESK__V1__REPLY__BODY_TICKET)
        fail_msg("action %d on ticket %lld failed", (int)what, (long long)id);
    hd_reply_free(rep);
}

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "clocks");
    *state = f;
    ht_proc *store = NULL, *intake = NULL, *prio = NULL, *router = NULL;
    if (ht_start_pipeline(f->env, &store, &intake, &prio, &router) != 0)
        return -1;
    ht_contact ct;
    ht_contact_init(&ct, "e2e-clocks", "c-1");
    for (int i = 0; i < NT; i++)
        ht_contact_add(&ct, "hardware", "Le commutateur est en panne", "Aucun poste ne répond");
    HdReply *rep = ht_submit(f->env, &ct.c);
    if (rep == NULL || rep->body_case != HELPDESK__V1__REPLY__BODY_RECEIPT)
        return -1;
    for (int i = 0; i < NT; i++)
        f->ids[i] = rep->receipt->ticket_ids[i];
    hd_reply_free(rep);
    if (!ht_wait_tickets_status(f->env, f->ids, NT, ST(QUEUED), 15000))
        return -1;
    return 0;
}

/* Ticket 2 waits for the customer (its clock paused), ticket 3 is resolved. */
static void pause_and_resolve(fixture *f)
{
    act(f->env, f->ids[2], HELPDESK__V1__TICKET_ACTION__ACTION_TAKE);
    act(f->env, f->ids[2], HELPDESK__V1__TICKET_ACTION__ACTION_WAIT);
    act(f->env, f->ids[3], HELPDESK__V1__TICKET_ACTION__ACTION_TAKE);
    act(f->env, f->ids[3], HELPDESK__V1__TICKET_ACTION__ACTION_RESOLVE);
}

static HdReply *list_clocks(ht_env *env, int64_t after_id, uint32_t limit, int64_t *ids,
                            size_t nids, bool with_signals)
{
    Helpdesk__V1__ListClocks l = HELPDESK__V1__LIST_CLOCKS__INIT;
    l.after_id = after_id;
    l.limit = limit;
    l.ticket_ids = ids;
    l.n_ticket_ids = nids;
    l.with_signals = with_signals;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_LIST_CLOCKS;
    req.list_clocks = &l;
    HdReply *rep = ht_store_call(env, &req);
    assert_non_null(rep);
    return rep;
}

static HdReply *clocks_ok(ht_env *env, int64_t after_id, uint32_t limit, int64_t *ids,
                          size_t nids, bool with_signals)
{
    HdReply *rep = list_clocks(env, after_id, limit, ids, nids, with_signals);
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_CLOCKS)
        fail_msg("list_clocks refused: %s", rep->error ? rep->error->message : "?");
    return rep;
}

/* The clock fields equal the whole ticket's; the rest is left out. */
static void assert_same_clock(ht_env *env, const HdTicket *c)
{
    HdReply *rep = ht_get_ticket(env, c->id);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    const HdTicket *t = rep->ticket->ticket;
    assert_int_equal(c->status, t->status);
    assert_int_equal(c->priority, t->priority);
    assert_int_equal(c->tier, t->tier);
    assert_int_equal(c->created_at, t->created_at);
    assert_int_equal(c->first_response_at, t->first_response_at);
    assert_int_equal(c->next_update_due, t->next_update_due);
    assert_int_equal(c->paused_at, t->paused_at);
    assert_non_null(c->sla);
    assert_non_null(t->sla);
    assert_int_equal(c->sla->first_response_due, t->sla->first_response_due);
    assert_int_equal(c->sla->update_interval_ms, t->sla->update_interval_ms);
    assert_int_equal(c->sla->resolution_due, t->sla->resolution_due);
    assert_int_equal(c->sla->tier2_escalation_due, t->sla->tier2_escalation_due);
    assert_int_equal(c->sla->tier3_escalation_due, t->sla->tier3_escalation_due);
    assert_string_equal(c->queue, "");
    assert_null(c->customer);
    assert_null(c->problem);
    hd_reply_free(rep);
}

static void test_pages_hold_only_running_clocks(void **state)
{
    fixture *f = *state;
    pause_and_resolve(f);
    int64_t seen[8] = {0};
    size_t n = 0;
    int64_t after = 0;
    for (int page = 0; page < 8; page++) {
        HdReply *rep = clocks_ok(f->env, after, 1, NULL, 0, true);
        const Helpdesk__V1__ClockList *l = rep->clocks;
        assert_true(l->n_tickets <= 1);
        assert_int_equal(l->n_signals, 0); /* none recorded yet */
        if (l->n_tickets == 0) {
            hd_reply_free(rep);
            break;
        }
        const HdTicket *c = l->tickets[0];
        assert_true(c->id > after);
        assert_same_clock(f->env, c);
        assert_true(n < 8);
        seen[n++] = after = c->id;
        hd_reply_free(rep);
    }
    assert_int_equal(n, 2); /* the two queued ones; not waiting, not resolved */
    assert_int_equal(seen[0], f->ids[0]);
    assert_int_equal(seen[1], f->ids[1]);
    /* one page with room for all: the same two */
    HdReply *rep = clocks_ok(f->env, 0, 0, NULL, 0, false);
    assert_int_equal(rep->clocks->n_tickets, 2);
    hd_reply_free(rep);
    ht_pass(f->env);
}

static void signal_ok(ht_env *env, int64_t id, Helpdesk__V1__Deadline d, int64_t at,
                      bool breach)
{
    HdSlaSignal sig = HELPDESK__V1__SLA_SIGNAL__INIT;
    sig.ticket_id = id;
    sig.deadline = d;
    sig.deadline_at = at;
    sig.breach = breach;
    sig.actor = "e2e";
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SLA_SIGNAL;
    req.sla_signal = &sig;
    HdReply *rep = ht_store_call(env, &req);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_SIGNAL_ACK);
    assert_true(rep->signal_ack->applied);
    hd_reply_free(rep);
}

static void test_by_ids_any_status_with_signals(void **state)
{
    fixture *f = *state;
    if (ht_ticket_status(f->env, f->ids[3]) != ST(RESOLVED))
        pause_and_resolve(f); /* run alone */
    /* a recorded warning on ticket 0's first response, and an update owed, after which the
     * next update is due later: that update_due names a deadline the ticket no longer has */
    HdReply *rep = ht_get_ticket(f->env, f->ids[0]);
    assert_non_null(rep);
    int64_t due = rep->ticket->ticket->sla->first_response_due;
    int64_t update_due = rep->ticket->ticket->next_update_due;
    hd_reply_free(rep);
    assert_true(update_due > 0);
    signal_ok(f->env, f->ids[0], HELPDESK__V1__DEADLINE__DEADLINE_FIRST_RESPONSE, due, false);
    signal_ok(f->env, f->ids[0], HELPDESK__V1__DEADLINE__DEADLINE_UPDATE, update_due, true);
    assert_int_equal(ht_count_events(f->env, f->ids[0], "update_due", NULL), 1);

    int64_t ids[] = {f->ids[3], f->ids[0], 999999999, f->ids[2]};
    rep = clocks_ok(f->env, 0, 0, ids, 4, true);
    const Helpdesk__V1__ClockList *l = rep->clocks;
    assert_int_equal(l->n_tickets, 3); /* the missing id is left out; by id */
    assert_int_equal(l->tickets[0]->id, f->ids[0]);
    assert_int_equal(l->tickets[1]->id, f->ids[2]);
    assert_int_equal(l->tickets[2]->id, f->ids[3]);
    assert_int_equal(l->tickets[1]->status, ST(WAITING_CUSTOMER));
    assert_true(l->tickets[1]->paused_at > 0);
    assert_int_equal(l->tickets[2]->status, ST(RESOLVED));
    for (size_t i = 0; i < l->n_tickets; i++)
        assert_same_clock(f->env, l->tickets[i]);
    assert_int_equal(l->n_signals, 1);
    const HdTicketEvent *e = l->signals[0];
    assert_int_equal(e->ticket_id, f->ids[0]);
    assert_int_equal(e->kind, HELPDESK__V1__EVENT_KIND__EVENT_SLA_WARNING);
    assert_int_equal(e->deadline, HELPDESK__V1__DEADLINE__DEADLINE_FIRST_RESPONSE);
    assert_int_equal(e->deadline_at, due);
    assert_true(e->seq > 0 && e->at > 0);
    hd_reply_free(rep);
    /* without with_signals: none */
    rep = clocks_ok(f->env, 0, 0, ids, 4, false);
    assert_int_equal(rep->clocks->n_tickets, 3);
    assert_int_equal(rep->clocks->n_signals, 0);
    hd_reply_free(rep);
    ht_pass(f->env);
}

static void test_bad_input_names_the_field(void **state)
{
    fixture *f = *state;
    HdReply *rep = list_clocks(f->env, 0, 10001, NULL, 0, false);
    ht_assert_error(rep, INVALID, "limit");
    hd_reply_free(rep);
    rep = list_clocks(f->env, -5, 0, NULL, 0, false);
    ht_assert_error(rep, INVALID, "after_id");
    hd_reply_free(rep);
    int64_t bad[] = {f->ids[0], 0};
    rep = list_clocks(f->env, 0, 0, bad, 2, false);
    ht_assert_error(rep, INVALID, "ticket_ids[1]");
    hd_reply_free(rep);
    int64_t *many = calloc(1001, sizeof *many);
    for (int i = 0; i < 1001; i++)
        many[i] = i + 1;
    rep = list_clocks(f->env, 0, 0, many, 1001, false);
    ht_assert_error(rep, INVALID, "ticket_ids");
    hd_reply_free(rep);
    free(many);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_pages_hold_only_running_clocks),
        HT_TEST(test_by_ids_any_status_with_signals),
        HT_TEST(test_bad_input_names_the_field),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
