/* End to end: the SLA clock and tiered escalation with SLA durations of seconds. A P1 ticket
 * left untouched escalates tier 1 -> 2 -> 3 at the configured times, by the escalation rules,
 * and to the manager when its resolution deadline passes at tier 3; a ticket waiting for the
 * customer does not escalate while it waits; killing the escalation timer with SIGKILL and
 * restarting it loses no escalation and repeats none. Real hd-store, hd-intake,
 * hd-prioritizer, hd-router, hd-escalation-timer and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "hd/clock.h"

/* P1 SLA of these tests, seconds (the prioritizer gets them as HD_SLA_P1_* overrides):
 * tier 2 after 2 s, tier 3 after 4 s, resolution breach (-> the manager) after 6 s. First
 * response and updates are far enough not to matter here. */
#define TIER2_MS 2000
#define TIER3_MS 4000
#define RESOLUTION_MS 6000
/* Tolerance: an escalation's `escalated` event is at most this late after its deadline (the
 * timer's wake-up, the store, a router round trip), and never before the deadline. */
#define LATE_MS 1500

static const char *const prio_env[] = {
    "HD_SLA_P1_FIRST_RESPONSE=60", "HD_SLA_P1_UPDATE_INTERVAL=120", "HD_SLA_P1_RESOLUTION=6",
    "HD_SLA_P1_TIER2_AFTER=2",     "HD_SLA_P1_TIER3_AFTER=4",       NULL};

static const char priority_rules[] =
    "rules:\n"
    "  - {name: esc-outage, when: {keywords: [outage]}, priority: P1}\n"
    "default: P4\n";

/* esc-desk (tier 1) -> esc-l2 (tier 2, rule esc-tier2) -> esc-l3 (tier 3, rule esc-tier3,
 * Ana Lopez) -> the manager of esc-l3. */
static const char routing_rules[] =
    "rules:\n"
    "  - {name: esc-desk, when: {category: [esc]}, queue: esc-desk, tier: 1}\n"
    "default: {queue: service-desk, tier: 1}\n"
    "escalation:\n"
    "  - name: esc-tier2\n"
    "    when: {queue: [esc-desk], to_tier: [2]}\n"
    "    queue: esc-l2\n"
    "    assignee: \"\"\n"
    "  - name: esc-tier3\n"
    "    when: {queue: [esc-l2], to_tier: [3]}\n"
    "    queue: esc-l3\n"
    "    assignee: Ana Lopez\n"
    "managers: {esc-l3: l3-manager@example.com, default: desk-manager@example.com}\n";

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *prio, *router, *timer;
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "escalation");
    *state = f;
    if (ht_write_rules(f->env, priority_rules, routing_rules) != 0)
        return -1;
    if (ht_start_pipeline(f->env, &f->store, &f->intake, NULL, NULL) != 0)
        return -1;
    f->prio = ht_start_ready(f->env, "hd-prioritizer", prio_env);
    f->router = ht_start_ready(f->env, "hd-router", NULL);
    f->timer = ht_start_timer(f->env, NULL);
    if (f->prio == NULL || f->router == NULL || f->timer == NULL) {
        ht_dump_logs(f->env, 40);
        return -1;
    }
    return 0;
}

#define EK(name) HELPDESK__V1__EVENT_KIND__EVENT_##name
#define ST(name) HELPDESK__V1__STATUS__STATUS_##name

/* Submits n P1 problems of one contact, waits until all are queued at tier 1 in esc-desk. */
static void submit_p1(fixture *f, const char *ext, size_t n, int64_t *ids)
{
    ht_contact ct;
    ht_contact_init(&ct, "e2e-esc", ext);
    for (size_t i = 0; i < n; i++)
        ht_contact_add(&ct, "esc", "outage: the ERP is down", "nobody can book orders");
    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    assert_int_equal(rep->receipt->n_ticket_ids, n);
    for (size_t i = 0; i < n; i++)
        ids[i] = rep->receipt->ticket_ids[i];
    hd_reply_free(rep);
    if (!ht_wait_tickets_status(f->env, ids, n, ST(QUEUED), 10000))
        fail_msg("the tickets of %s did not reach queued within 10 s", ext);
}

static HdReply *get_ok(fixture *f, int64_t id)
{
    HdReply *rep = ht_get_ticket(f->env, id);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    return rep;
}

/* The ticket's first event of `kind` whose from_tier is from_tier; NULL when none. */
static const HdTicketEvent *find_event(const HdTicketDetail *d, Helpdesk__V1__EventKind kind,
                                       uint32_t from_tier)
{
    for (size_t i = 0; i < d->n_history; i++)
        if (d->history[i]->kind == kind && d->history[i]->from_tier == from_tier)
            return d->history[i];
    return NULL;
}

typedef struct {
    fixture *f;
    const int64_t *ids;
    size_t n;
    uint32_t from_tier; /* every ticket has an escalated event from this tier */
} escalated_wait;

static bool all_escalated_from(void *arg)
{
    escalated_wait *w = arg;
    for (size_t i = 0; i < w->n; i++) {
        char where[64];
        snprintf(where, sizeof where, "from_tier = %u", w->from_tier);
        if (ht_count_events(w->f->env, w->ids[i], "escalated", where) < 1)
            return false;
    }
    return true;
}

static void wait_escalated(fixture *f, const int64_t *ids, size_t n, uint32_t from_tier,
                           int timeout_ms)
{
    escalated_wait w = {f, ids, n, from_tier};
    if (!ht_wait_until(all_escalated_from, &w, timeout_ms))
        fail_msg("not every ticket escalated from tier %u within %d ms", from_tier, timeout_ms);
}

/* Waits until the wall clock passes `when` (ms). Used only where the test must let a deadline
 * go by to show that nothing happens, never to wait for something to happen. */
static void sleep_until(int64_t when)
{
    for (int64_t now = hd_now_ms(); now < when; now = hd_now_ms()) {
        int64_t left = when - now;
        struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* An escalated event at its deadline (created + after_ms) within the stated tolerance. */
static void assert_on_time(const HdTicketEvent *e, int64_t created, int64_t after_ms,
                           const char *what)
{
    int64_t late = e->at - (created + after_ms);
    if (late < 0 || late > LATE_MS)
        fail_msg("%s at created_at + %lld ms, want %lld ms (+0..%d ms)", what,
                 (long long)(e->at - created), (long long)after_ms, LATE_MS);
}

/* ---------------------------------------------------------------- (a) tier 1 -> 2 -> 3 -> manager */

static void test_untouched_p1_escalates_to_tier3_then_the_manager(void **state)
{
    fixture *f = *state;
    int64_t id = 0;
    submit_p1(f, "untouched-1", 1, &id);
    HdReply *rep = get_ok(f, id);
    const HdTicket *t = rep->ticket->ticket;
    assert_int_equal(t->priority, HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE);
    assert_int_equal(t->tier, 1);
    assert_string_equal(t->queue, "esc-desk");
    int64_t created = t->created_at;
    assert_int_equal(t->sla->tier2_escalation_due, created + TIER2_MS);
    assert_int_equal(t->sla->tier3_escalation_due, created + TIER3_MS);
    assert_int_equal(t->sla->resolution_due, created + RESOLUTION_MS);
    hd_reply_free(rep);

    /* the manager is told last: once that is in, the whole chain is */
    wait_escalated(f, &id, 1, 3, RESOLUTION_MS + LATE_MS + 3000);
    rep = get_ok(f, id);
    const HdTicketDetail *d = rep->ticket;
    t = d->ticket;

    /* tier 2: requested at the tier2 deadline, done by the rule esc-tier2 */
    const HdTicketEvent *req2 = find_event(d, EK(ESCALATION_REQUESTED), 1);
    const HdTicketEvent *esc2 = find_event(d, EK(ESCALATED), 1);
    assert_non_null(req2);
    assert_non_null(esc2);
    assert_int_equal(req2->deadline, HELPDESK__V1__DEADLINE__DEADLINE_TIER2);
    assert_int_equal(req2->deadline_at, created + TIER2_MS);
    assert_true(strlen(req2->reason) > 0);
    assert_int_equal(esc2->tier, 2);
    assert_string_equal(esc2->queue, "esc-l2");
    assert_string_equal(esc2->rule, "esc-tier2");
    assert_true(strlen(esc2->reason) > 0);
    assert_true(ht_actor_is(esc2->actor, "router", f->router->pid));
    assert_on_time(esc2, created, TIER2_MS, "tier 1 -> 2");

    /* tier 3 */
    const HdTicketEvent *req3 = find_event(d, EK(ESCALATION_REQUESTED), 2);
    const HdTicketEvent *esc3 = find_event(d, EK(ESCALATED), 2);
    assert_non_null(req3);
    assert_non_null(esc3);
    assert_int_equal(req3->deadline, HELPDESK__V1__DEADLINE__DEADLINE_TIER3);
    assert_int_equal(req3->deadline_at, created + TIER3_MS);
    assert_int_equal(esc3->tier, 3);
    assert_string_equal(esc3->queue, "esc-l3");
    assert_string_equal(esc3->rule, "esc-tier3");
    assert_string_equal(esc3->assignee, "Ana Lopez");
    assert_on_time(esc3, created, TIER3_MS, "tier 2 -> 3");
    assert_true(esc2->seq < esc3->seq);

    /* resolution breached at tier 3: the manager of esc-l3, tier stays 3 */
    const HdTicketEvent *req4 = find_event(d, EK(ESCALATION_REQUESTED), 3);
    const HdTicketEvent *esc4 = find_event(d, EK(ESCALATED), 3);
    assert_non_null(req4);
    assert_non_null(esc4);
    assert_int_equal(req4->deadline, HELPDESK__V1__DEADLINE__DEADLINE_RESOLUTION);
    assert_int_equal(esc4->tier, 3);
    assert_string_equal(esc4->recipient, "l3-manager@example.com");
    assert_string_equal(esc4->rule, "manager");
    assert_on_time(esc4, created, RESOLUTION_MS, "tier 3 -> the manager");
    assert_true(esc3->seq < esc4->seq);
    assert_int_equal(ht_count_events(f->env, id, "sla_breach", "deadline = 'resolution'"), 1);

    assert_int_equal(t->tier, 3);
    assert_string_equal(t->queue, "esc-l3");
    assert_string_equal(t->assignee, "Ana Lopez");
    assert_int_equal(t->status, ST(QUEUED)); /* escalation never changes the status */
    hd_reply_free(rep);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- (b) waiting: no escalation */

static void test_waiting_ticket_does_not_escalate(void **state)
{
    fixture *f = *state;
    int64_t id = 0;
    submit_p1(f, "waiting-1", 1, &id);
    HdTicketAction a = HELPDESK__V1__TICKET_ACTION__INIT;
    Helpdesk__V1__Take take = HELPDESK__V1__TAKE__INIT;
    Helpdesk__V1__Wait wait = HELPDESK__V1__WAIT__INIT;
    a.ticket_id = id;
    a.actor = "omar";
    a.action_case = HELPDESK__V1__TICKET_ACTION__ACTION_TAKE;
    a.take = &take;
    hd_reply_free(ht_act_ok(f->env, &a));
    a.action_case = HELPDESK__V1__TICKET_ACTION__ACTION_WAIT;
    wait.reason = "waiting for the customer's VPN logs";
    a.wait = &wait;
    HdReply *rep = ht_act_ok(f->env, &a);
    const HdTicket *t = rep->ticket->ticket;
    int64_t created = t->created_at, paused = t->paused_at;
    assert_int_equal(t->status, ST(WAITING_CUSTOMER));
    if (paused >= created + TIER2_MS)
        fail_msg("the test was too slow: paused %lld ms after creation, after the tier 2 "
                 "deadline", (long long)(paused - created));
    hd_reply_free(rep);

    /* Deliberately wait out every deadline but the first response's (tier 2 at 2 s, tier 3 at
     * 4 s, resolution at 6 s, plus the tolerance): nothing may fire while the clock is paused.
     * This is a period to show that something does NOT happen, so it is waited out. */
    sleep_until(created + RESOLUTION_MS + LATE_MS);
    rep = get_ok(f, id);
    t = rep->ticket->ticket;
    assert_int_equal(t->status, ST(WAITING_CUSTOMER));
    assert_int_equal(t->tier, 1);
    assert_string_equal(t->queue, "esc-desk");
    assert_int_equal(ht_count_events(f->env, id, "escalation_requested", NULL), 0);
    assert_int_equal(ht_count_events(f->env, id, "escalated", NULL), 0);
    assert_int_equal(ht_count_events(f->env, id, "sla_warning", NULL), 0);
    assert_int_equal(ht_count_events(f->env, id, "sla_breach", NULL), 0);
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM escalations WHERE ticket_id = %lld",
             (long long)id);
    assert_int_equal(ht_sql_long(f->env, sql), 0);
    int64_t tier2_due = t->sla->tier2_escalation_due;
    hd_reply_free(rep);

    /* back from waiting: the deadlines move on by the pause, and the clock runs again */
    a.action_case = HELPDESK__V1__TICKET_ACTION__ACTION_TAKE;
    a.take = &take;
    rep = ht_act_ok(f->env, &a);
    t = rep->ticket->ticket;
    assert_int_equal(t->status, ST(IN_PROGRESS));
    assert_int_equal(t->paused_at, 0);
    int64_t resumed = rep->ticket->history[rep->ticket->n_history - 1]->at;
    int64_t moved_due = t->sla->tier2_escalation_due;
    /* by the length of the pause (the resumed event's time; a few ms of slack for a store
     * that reads its clock twice in one action) */
    int64_t shift_error = moved_due - (tier2_due + (resumed - paused));
    if (shift_error < -50 || shift_error > 50)
        fail_msg("tier 2 deadline moved by %lld ms, the pause lasted %lld ms",
                 (long long)(moved_due - tier2_due), (long long)(resumed - paused));
    hd_reply_free(rep);
    wait_escalated(f, &id, 1, 1, (int)(moved_due - hd_now_ms()) + LATE_MS + 2000);
    rep = get_ok(f, id);
    const HdTicketEvent *esc2 = find_event(rep->ticket, EK(ESCALATED), 1);
    assert_non_null(esc2);
    assert_on_time(esc2, moved_due - TIER2_MS, TIER2_MS, "tier 1 -> 2 after the pause");
    assert_int_equal(rep->ticket->ticket->status, ST(IN_PROGRESS));
    hd_reply_free(rep);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- (c) kill -9 the timer */

enum { KILL_N = 4 };

/* Every ticket: exactly one escalation request and one escalated event per tier, one
 * resolution breach, three escalations all done. */
static void assert_exactly_once(fixture *f, const int64_t *ids, size_t n)
{
    static const char *const checks[][3] = {
        {"escalation_requested", "from_tier = 1 AND deadline = 'tier2'", "request tier 2"},
        {"escalation_requested", "from_tier = 2 AND deadline = 'tier3'", "request tier 3"},
        {"escalation_requested", "from_tier = 3 AND deadline = 'resolution'", "request manager"},
        {"escalated", "from_tier = 1 AND tier = 2 AND queue = 'esc-l2'", "escalated to tier 2"},
        {"escalated", "from_tier = 2 AND tier = 3 AND queue = 'esc-l3'", "escalated to tier 3"},
        {"escalated", "from_tier = 3 AND recipient = 'l3-manager@example.com'", "manager told"},
        {"sla_breach", "deadline = 'resolution'", "resolution breach"},
        {"sla_warning", "deadline = 'resolution'", "resolution warning"},
    };
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
            long got = ht_count_events(f->env, ids[i], checks[c][0], checks[c][1]);
            if (got != 1)
                fail_msg("ticket %lld: %ld x %s (%s %s), want exactly 1", (long long)ids[i], got,
                         checks[c][2], checks[c][0], checks[c][1]);
        }
        long all = ht_count_events(f->env, ids[i], "escalated", NULL);
        if (all != 3)
            fail_msg("ticket %lld has %ld escalated events, want 3", (long long)ids[i], all);
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) * 10 + count(done_at) FROM escalations WHERE ticket_id = %lld",
                 (long long)ids[i]);
        long esc = ht_sql_long(f->env, sql);
        if (esc != 33)
            fail_msg("ticket %lld: %ld escalation rows, %ld done; want 3, 3", (long long)ids[i],
                     esc / 10, esc % 10);
    }
}

static void test_timer_killed_and_restarted_loses_and_repeats_nothing(void **state)
{
    fixture *f = *state;
    int64_t ids[KILL_N];
    submit_p1(f, "kill-1", KILL_N, ids);
    HdReply *rep = get_ok(f, ids[0]);
    int64_t created = rep->ticket->ticket->created_at;
    hd_reply_free(rep);

    /* mid-run: every ticket is at tier 2, none at tier 3 yet */
    wait_escalated(f, ids, KILL_N, 1, TIER2_MS + LATE_MS + 3000);
    ht_kill9(f->timer);
    long tier3_before = 0;
    for (size_t i = 0; i < KILL_N; i++)
        tier3_before += ht_count_events(f->env, ids[i], "escalation_requested", "from_tier = 2");
    if (tier3_before != 0)
        fail_msg("killed too late: a tier 3 request was in already (%ld)", tier3_before);

    /* Deliberately let the tier 3 deadlines pass while no timer runs: nobody may escalate
     * meanwhile, and the restarted timer must catch up. */
    sleep_until(created + TIER3_MS + 500);
    for (size_t i = 0; i < KILL_N; i++)
        assert_int_equal(ht_count_events(f->env, ids[i], "escalated", "from_tier = 2"), 0);
    f->timer = ht_start_timer(f->env, NULL);
    assert_non_null(f->timer);
    wait_escalated(f, ids, KILL_N, 2, 5000);

    /* again, right after it caught up (its cursor may well be behind what it signalled) */
    ht_kill9(f->timer);
    f->timer = ht_start_timer(f->env, NULL);
    assert_non_null(f->timer);
    wait_escalated(f, ids, KILL_N, 3, (int)(created + RESOLUTION_MS - hd_now_ms()) + 5000);
    /* A repeat would come from the restarted timer re-sending what it had signalled: let it
     * run past its rebuild, a commit period and a tick before counting (waited out on
     * purpose: it is a period in which something must NOT happen). */
    sleep_until(hd_now_ms() + 1500);
    assert_exactly_once(f, ids, KILL_N);
    /* the store refused the repeats rather than the timer never sending them: either is fine,
     * but the unique signals table holds one row per deadline and kind */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT ticket_id, deadline, deadline_at, breach, count(*) "
             "FROM sla_signals WHERE ticket_id BETWEEN %lld AND %lld "
             "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) x",
             (long long)ids[0], (long long)ids[KILL_N - 1]);
    assert_int_equal(ht_sql_long(f->env, sql), 0);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_untouched_p1_escalates_to_tier3_then_the_manager),
        HT_TEST(test_waiting_ticket_does_not_escalate),
        HT_TEST(test_timer_killed_and_restarted_loses_and_repeats_nothing),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
