/* Which SLA signals a ticket's state calls for: paused, resolved and untriaged tickets none;
 * first response only until it happened; tiers already reached none; warnings at the configured
 * percentage, and signals the history already holds left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/escalation-timer/timer.h"

#define D_FIRST HELPDESK__V1__DEADLINE__DEADLINE_FIRST_RESPONSE
#define D_UPDATE HELPDESK__V1__DEADLINE__DEADLINE_UPDATE
#define D_RESOLUTION HELPDESK__V1__DEADLINE__DEADLINE_RESOLUTION
#define D_TIER2 HELPDESK__V1__DEADLINE__DEADLINE_TIER2
#define D_TIER3 HELPDESK__V1__DEADLINE__DEADLINE_TIER3

#define T0 1700000000000LL

typedef struct {
    HdTicket t;
    HdSlaDeadlines sla;
} fixture;

/* A P1 ticket queued at tier 1, created at T0: first response due in 900 s, update every
 * 1800 s, resolution 14400 s, tier 2 after 1800 s, tier 3 after 7200 s. */
static void fx_init(fixture *f)
{
    helpdesk__v1__ticket__init(&f->t);
    helpdesk__v1__sla_deadlines__init(&f->sla);
    f->t.id = 42;
    f->t.status = HELPDESK__V1__STATUS__STATUS_QUEUED;
    f->t.tier = 1;
    f->t.created_at = T0;
    f->t.sla = &f->sla;
    f->sla.first_response_due = T0 + 900000;
    f->sla.update_interval_ms = 1800000;
    f->sla.resolution_due = T0 + 14400000;
    f->sla.tier2_escalation_due = T0 + 1800000;
    f->sla.tier3_escalation_due = T0 + 7200000;
    f->t.next_update_due = T0 + 1800000;
}

static const timer_entry *find(const timer_entry *e, size_t n, int deadline)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].deadline == deadline)
            return &e[i];
    return NULL;
}

static void test_running_ticket(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    timer_entry e[TIMER_MAX_PLAN];
    size_t n = timer_plan(&f.t, NULL, 0, 80, T0 + 1000, e);
    assert_int_equal(n, 4);
    assert_null(find(e, n, D_TIER3)); /* tier 3 waits until the ticket is at tier 2 */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(e[i].ticket_id, 42);
        assert_int_equal(e[i].version, 0);
    }
    const timer_entry *fr = find(e, n, D_FIRST);
    assert_non_null(fr);
    assert_int_equal(fr->deadline_at, T0 + 900000);
    assert_int_equal(fr->breach, 0);
    assert_int_equal(timer_entry_due(fr), T0 + 720000); /* 80% of 900 s */
    const timer_entry *res = find(e, n, D_RESOLUTION);
    assert_int_equal(timer_entry_due(res), T0 + 11520000);
    assert_int_equal(res->breach, 0);
    const timer_entry *up = find(e, n, D_UPDATE);
    assert_int_equal(up->deadline_at, T0 + 1800000);
    assert_int_equal(up->lead_ms, 0);
    assert_int_equal(up->breach, 1);
    assert_int_equal(timer_entry_due(find(e, n, D_TIER2)), T0 + 1800000);
    assert_int_equal(find(e, n, D_TIER2)->breach, 1);

    /* The warning's follow-up is the breach at the deadline. */
    timer_entry next;
    assert_true(timer_followup(fr, &next));
    assert_int_equal(timer_entry_due(&next), T0 + 900000);
    assert_int_equal(next.breach, 1);
    assert_int_equal(next.deadline, D_FIRST);
    assert_false(timer_followup(&next, &next));
}

static void test_warning_percent(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    timer_entry e[TIMER_MAX_PLAN];
    size_t n = timer_plan(&f.t, NULL, 0, 50, T0, e);
    assert_int_equal(timer_entry_due(find(e, n, D_FIRST)), T0 + 450000);
    /* 0: no warnings, the breach straight away. */
    n = timer_plan(&f.t, NULL, 0, 0, T0, e);
    assert_int_equal(find(e, n, D_FIRST)->breach, 1);
    assert_int_equal(timer_entry_due(find(e, n, D_FIRST)), T0 + 900000);
    /* Past the deadline (a restart): the breach, not a late warning. */
    n = timer_plan(&f.t, NULL, 0, 80, T0 + 900000, e);
    assert_int_equal(find(e, n, D_FIRST)->breach, 1);
    assert_int_equal(find(e, n, D_RESOLUTION)->breach, 0);
}

static void test_clocks_stopped(void **state)
{
    (void)state;
    fixture f;
    timer_entry e[TIMER_MAX_PLAN];
    static const Helpdesk__V1__Status stopped[] = {
        HELPDESK__V1__STATUS__STATUS_NEW, HELPDESK__V1__STATUS__STATUS_RESOLVED,
        HELPDESK__V1__STATUS__STATUS_CLOSED, HELPDESK__V1__STATUS__STATUS_WAITING_CUSTOMER};
    for (size_t i = 0; i < sizeof stopped / sizeof stopped[0]; i++) {
        fx_init(&f);
        f.t.status = stopped[i];
        assert_int_equal(timer_plan(&f.t, NULL, 0, 80, T0, e), 0);
    }
    fx_init(&f);
    f.t.status = HELPDESK__V1__STATUS__STATUS_IN_PROGRESS;
    f.t.paused_at = T0 + 5;
    assert_int_equal(timer_plan(&f.t, NULL, 0, 80, T0, e), 0);
    f.t.paused_at = 0;
    assert_int_equal(timer_plan(&f.t, NULL, 0, 80, T0, e), 4);
    f.t.sla = NULL; /* no deadlines at all */
    assert_int_equal(timer_plan(&f.t, NULL, 0, 80, T0, e), 0);
    fx_init(&f);
    f.t.status = HELPDESK__V1__STATUS__STATUS_REOPENED;
    assert_int_equal(timer_plan(&f.t, NULL, 0, 80, T0, e), 4);
}

static void test_first_response_done_and_tiers(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    timer_entry e[TIMER_MAX_PLAN];
    f.t.first_response_at = T0 + 60000;
    size_t n = timer_plan(&f.t, NULL, 0, 80, T0, e);
    assert_int_equal(n, 3);
    assert_null(find(e, n, D_FIRST));
    f.t.tier = 2;
    n = timer_plan(&f.t, NULL, 0, 80, T0, e);
    assert_int_equal(n, 3);
    assert_null(find(e, n, D_TIER2));
    assert_int_equal(timer_entry_due(find(e, n, D_TIER3)), T0 + 7200000);
    /* Past its deadline when tier 2 is reached: due at once. */
    n = timer_plan(&f.t, NULL, 0, 80, T0 + 8000000, e);
    assert_int_equal(timer_entry_due(find(e, n, D_TIER3)), T0 + 7200000);
    /* No tier 2 deadline: tier 3 runs from tier 1. */
    f.t.tier = 1;
    f.sla.tier2_escalation_due = 0;
    n = timer_plan(&f.t, NULL, 0, 80, T0, e);
    assert_null(find(e, n, D_TIER2));
    assert_non_null(find(e, n, D_TIER3));
    f.sla.tier2_escalation_due = T0 + 1800000;
    f.t.tier = 2;
    f.t.tier = 3;
    n = timer_plan(&f.t, NULL, 0, 80, T0, e);
    assert_int_equal(n, 2);
    assert_null(find(e, n, D_TIER3));
    f.t.next_update_due = 0; /* no update owed */
    f.sla.resolution_due = 0;
    assert_int_equal(timer_plan(&f.t, NULL, 0, 80, T0, e), 0);
}

static void test_history_leaves_out_what_was_signalled(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f);
    HdTicketEvent warn = HELPDESK__V1__TICKET_EVENT__INIT, esc = HELPDESK__V1__TICKET_EVENT__INIT,
                  old = HELPDESK__V1__TICKET_EVENT__INIT;
    warn.kind = HELPDESK__V1__EVENT_KIND__EVENT_SLA_WARNING;
    warn.deadline = D_FIRST;
    warn.deadline_at = T0 + 900000;
    esc.kind = HELPDESK__V1__EVENT_KIND__EVENT_ESCALATION_REQUESTED;
    esc.deadline = D_TIER2;
    /* A breach of the resolution deadline before a pause moved it: not this deadline. */
    old.kind = HELPDESK__V1__EVENT_KIND__EVENT_SLA_BREACH;
    old.deadline = D_RESOLUTION;
    old.deadline_at = T0 + 1000;
    HdTicketEvent *history[] = {&warn, &esc, &old};
    timer_entry e[TIMER_MAX_PLAN];
    size_t n = timer_plan(&f.t, history, 3, 80, T0 + 800000, e);
    assert_int_equal(n, 3);
    const timer_entry *fr = find(e, n, D_FIRST);
    assert_int_equal(fr->breach, 1); /* the warning was sent: the breach is next */
    assert_int_equal(timer_entry_due(fr), T0 + 900000);
    assert_null(find(e, n, D_TIER2));
    assert_int_equal(find(e, n, D_RESOLUTION)->breach, 0);

    HdTicketEvent breach = HELPDESK__V1__TICKET_EVENT__INIT;
    breach.kind = HELPDESK__V1__EVENT_KIND__EVENT_SLA_BREACH;
    breach.deadline = D_FIRST;
    breach.deadline_at = T0 + 900000;
    HdTicketEvent *h2[] = {&warn, &esc, &breach};
    n = timer_plan(&f.t, h2, 3, 80, T0 + 950000, e);
    assert_null(find(e, n, D_FIRST));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running_ticket),
        cmocka_unit_test(test_warning_percent),
        cmocka_unit_test(test_clocks_stopped),
        cmocka_unit_test(test_first_response_done_and_tiers),
        cmocka_unit_test(test_history_leaves_out_what_was_signalled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
