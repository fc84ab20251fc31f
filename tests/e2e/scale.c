/* End to end: three prioritizers and two routers at once process a few hundred tickets, each
 * exactly once, with a gapless event log, and the work is shared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define CONTACTS 100 /* three problems each: 300 tickets */
#define PRIOS 3
#define ROUTERS 2

/* The workers are started by the test, after a backlog has built up. */
typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake;
    ht_proc *prio[PRIOS], *router[ROUTERS];
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "scale");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, &f->intake, NULL, NULL);
}

static void submit_range(fixture *f, int from, int to)
{
    static const char *const summaries[3] = {"الشبكة متوقفة في مركز البيانات",
                                             "ای میل سرور کام نہیں کر رہا",
                                             "Imprimante en panne au 2e étage"};
    static const char *const categories[3] = {"network", "email", "printing"};
    for (int i = from; i < to; i++) {
        char ext[32];
        snprintf(ext, sizeof ext, "scale-%d", i);
        ht_contact ct;
        ht_contact_init(&ct, "e2e-scale", ext);
        for (int k = 0; k < 3; k++)
            ht_contact_add(&ct, categories[k], summaries[k], "");
        HdReply *rep = ht_submit(f->env, &ct.c);
        assert_non_null(rep);
        if (rep->body_case != HELPDESK__V1__REPLY__BODY_RECEIPT)
            fail_msg("contact %d was not taken", i);
        assert_int_equal(rep->receipt->n_ticket_ids, 3);
        hd_reply_free(rep);
    }
}

typedef struct {
    ht_env *env;
    long want;
} count_arg;

static bool queued_count_reached(void *arg)
{
    count_arg *a = arg;
    return ht_count_status(a->env, HELPDESK__V1__STATUS__STATUS_QUEUED) >= a->want;
}

static bool actor_known(const char *actor, const char *prefix, ht_proc *const *procs, int n)
{
    for (int i = 0; i < n; i++)
        if (ht_actor_is(actor, prefix, procs[i]->pid))
            return true;
    return false;
}

static void test_three_prioritizers_two_routers_exactly_once(void **state)
{
    fixture *f = *state;
    long tickets = CONTACTS * 3;
    /* half the contacts wait as a backlog, the rest arrive while the workers run */
    submit_range(f, 0, CONTACTS / 2);
    /* small credit, so a burst has to be shared between the replicas */
    const char *credit[] = {"HD_PRIORITIZER_CREDIT=4", "HD_ROUTER_CREDIT=4", NULL};
    for (int i = 0; i < PRIOS; i++)
        assert_non_null(f->prio[i] = ht_start(f->env, "hd-prioritizer", credit));
    for (int i = 0; i < ROUTERS; i++)
        assert_non_null(f->router[i] = ht_start(f->env, "hd-router", credit));
    for (int i = 0; i < PRIOS; i++)
        assert_true(ht_wait_ready(f->env, f->prio[i], 30000));
    for (int i = 0; i < ROUTERS; i++)
        assert_true(ht_wait_ready(f->env, f->router[i], 30000));
    submit_range(f, CONTACTS / 2, CONTACTS);

    count_arg a = {f->env, tickets};
    if (!ht_wait_until(queued_count_reached, &a, 120000))
        fail_msg("only %ld of %ld tickets reached queued in 120 s",
                 ht_count_status(f->env, HELPDESK__V1__STATUS__STATUS_QUEUED), tickets);
    assert_int_equal(ht_count_status(f->env, HELPDESK__V1__STATUS__STATUS_QUEUED), tickets);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets"), tickets);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets WHERE status <> 'queued'"),
                     0);

    /* exactly once: one created, one triaged, one queued event per ticket */
    long bad = ht_sql_long(f->env,
                           "SELECT count(*) FROM tickets t WHERE (SELECT count(*) FROM "
                           "ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'created') <> 1 "
                           "OR (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id "
                           "AND e.kind = 'triaged') <> 1 OR (SELECT count(*) FROM ticket_events e "
                           "WHERE e.ticket_id = t.id AND e.kind = 'queued') <> 1");
    assert_int_equal(bad, 0);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM ticket_events"), tickets * 3);
    /* gapless sequence 1..N */
    assert_int_equal(ht_sql_long(f->env, "SELECT min(seq) FROM ticket_events"), 1);
    assert_int_equal(ht_sql_long(f->env, "SELECT max(seq) FROM ticket_events"), tickets * 3);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(DISTINCT seq) FROM ticket_events"),
                     tickets * 3);
    /* each ticket's history is in order: created < triaged < queued */
    assert_int_equal(
        ht_sql_long(f->env,
                    "SELECT count(*) FROM tickets t WHERE NOT ("
                    "(SELECT seq FROM ticket_events WHERE ticket_id = t.id AND kind = 'created') <"
                    " (SELECT seq FROM ticket_events WHERE ticket_id = t.id AND kind = 'triaged')"
                    " AND (SELECT seq FROM ticket_events WHERE ticket_id = t.id AND kind = "
                    "'triaged') < (SELECT seq FROM ticket_events WHERE ticket_id = t.id AND kind "
                    "= 'queued'))"),
        0);
    /* the work was shared */
    long prio_actors = ht_sql_long(
        f->env, "SELECT count(DISTINCT actor) FROM ticket_events WHERE kind = 'triaged'");
    long router_actors = ht_sql_long(
        f->env, "SELECT count(DISTINCT actor) FROM ticket_events WHERE kind = 'queued'");
    if (prio_actors < 2)
        fail_msg("only %ld prioritizer did any work; 3 were running", prio_actors);
    if (router_actors < 2)
        fail_msg("only %ld router did any work; 2 were running", router_actors);

    /* the same through the API: events_since pages through the whole log, seq 1..N, every
     * actor one of the running services */
    int64_t after = 0, expect = 1;
    for (;;) {
        HdReply *rep = ht_events_since(f->env, after, 250);
        assert_non_null(rep);
        assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_EVENTS);
        size_t n = rep->events->n_events;
        assert_true(n <= 250);
        assert_int_equal(rep->events->last_seq, tickets * 3);
        for (size_t i = 0; i < n; i++) {
            const HdTicketEvent *e = rep->events->events[i];
            assert_int_equal(e->seq, expect);
            expect++;
            if (e->kind == HELPDESK__V1__EVENT_KIND__EVENT_CREATED)
                assert_string_equal(e->actor, "intake");
            else if (e->kind == HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED)
                assert_true(actor_known(e->actor, "prioritizer", f->prio, PRIOS));
            else if (e->kind == HELPDESK__V1__EVENT_KIND__EVENT_QUEUED)
                assert_true(actor_known(e->actor, "router", f->router, ROUTERS));
            else
                fail_msg("unexpected event kind %d", e->kind);
        }
        if (n > 0)
            after = rep->events->events[n - 1]->seq;
        hd_reply_free(rep);
        if (n == 0)
            break;
    }
    assert_int_equal(expect - 1, tickets * 3);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_three_prioritizers_two_routers_exactly_once),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
