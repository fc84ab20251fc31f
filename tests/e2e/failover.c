/* End to end: a prioritizer that dies holding leased work loses no ticket. Another prioritizer
 * finishes every ticket, and each is triaged and queued exactly once. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "hd/clock.h"
#include "hd/transport.h"

/* No prioritizer in the group: each test starts (and kills) its own. */
typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *router;
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "failover");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, &f->intake, NULL, &f->router);
}

typedef struct {
    int64_t ids[64];
    size_t n;
} id_set;

static bool wait_all_queued(fixture *f, const id_set *s, int timeout_ms)
{
    return ht_wait_tickets_status(f->env, s->ids, s->n, HELPDESK__V1__STATUS__STATUS_QUEUED,
                                  timeout_ms);
}

/* Submits `contacts` contacts of two problems each; their ticket ids go into s. */
static void submit_some(fixture *f, const char *tag, int contacts, id_set *s)
{
    for (int i = 0; i < contacts; i++) {
        char ext[64];
        snprintf(ext, sizeof ext, "%s-%d", tag, i);
        ht_contact ct;
        ht_contact_init(&ct, "e2e-failover", ext);
        ht_contact_add(&ct, "network", "الشبكة متوقفة", "");
        ht_contact_add(&ct, "printing", "Imprimante en panne", "");
        HdReply *rep = ht_submit_ok(f->env, &ct.c);
        for (size_t k = 0; k < rep->receipt->n_ticket_ids; k++)
            s->ids[s->n++] = rep->receipt->ticket_ids[k];
        hd_reply_free(rep);
    }
}

/* Each ticket: created, triaged, queued exactly once (SQL), triaged by `prio`. */
static void assert_exactly_once(fixture *f, const id_set *s, pid_t prio)
{
    for (size_t i = 0; i < s->n; i++) {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FILTER (WHERE kind = 'created') * 100 + "
                 "count(*) FILTER (WHERE kind = 'triaged') * 10 + "
                 "count(*) FILTER (WHERE kind = 'queued') FROM ticket_events "
                 "WHERE ticket_id = %lld",
                 (long long)s->ids[i]);
        long v = ht_sql_long(f->env, sql);
        if (v != 111)
            fail_msg("ticket %lld: created/triaged/queued events = %ld/%ld/%ld, want 1/1/1",
                     (long long)s->ids[i], v / 100, v / 10 % 10, v % 10);
        HdReply *rep = ht_get_ticket(f->env, s->ids[i]);
        assert_non_null(rep);
        assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
        assert_int_equal(rep->ticket->n_history, 3);
        const char *actor = rep->ticket->history[1]->actor;
        if (!ht_actor_is(actor, "prioritizer", prio))
            fail_msg("ticket %lld was triaged by \"%s\", not by the surviving prioritizer %d",
                     (long long)s->ids[i], actor, (int)prio);
        hd_reply_free(rep);
    }
}

static void send_request(void *sock, HdRequest *req)
{
    assert_int_equal(hd_dealer_send(sock, req, 0), 0);
}

/* A worker written here takes leases on the work socket and dies without answering; a real
 * prioritizer started afterwards gets the items once the leases expire. */
static void test_stalled_worker_leases_are_redispatched(void **state)
{
    fixture *f = *state;
    void *w = hd_socket_new(f->env->zctx, ZMQ_DEALER, f->env->work_ep, false);
    assert_non_null(w);
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdWorkReady ready = HELPDESK__V1__WORK_READY__INIT;
    ready.stage = HELPDESK__V1__STAGE__STAGE_PRIORITIZE;
    ready.credit = 10;
    ready.worker = "prioritizer@stalled-test:1";
    req.body_case = HELPDESK__V1__REQUEST__BODY_WORK_READY;
    req.work_ready = &ready;
    send_request(w, &req);

    id_set s = {0};
    submit_some(f, "stalled", 2, &s);
    assert_int_equal(s.n, 4);

    /* the store hands the four items to this worker, under leases */
    int64_t leases[4] = {0}, lease_tickets[4] = {0};
    size_t got = 0;
    int64_t deadline = hd_mono_ms() + 10000;
    while (got < 4 && hd_mono_ms() < deadline) {
        HdReply *rep = ht_dealer_recv_wait(w, 500);
        if (rep == NULL)
            continue;
        if (rep->body_case == HELPDESK__V1__REPLY__BODY_WORK_ITEM) {
            const HdWorkItem *it = rep->work_item;
            assert_int_equal(rep->id, 0);
            assert_int_equal(it->stage, HELPDESK__V1__STAGE__STAGE_PRIORITIZE);
            assert_true(it->lease_id != 0);
            assert_non_null(it->ticket);
            assert_int_equal(it->ticket->status, HELPDESK__V1__STATUS__STATUS_NEW);
            assert_non_null(it->ticket->problem);
            assert_non_null(it->ticket->customer); /* the full ticket travels with the item */
            assert_true(it->lease_expires_at > hd_now_ms() - 1000);
            leases[got] = it->lease_id;
            lease_tickets[got] = it->ticket->id;
            got++;
        }
        hd_reply_free(rep);
    }
    if (got < 4)
        fail_msg("the store dispatched %zu of 4 items to a worker with credit 10", got);
    /* the worker "dies": its socket goes away without a word */
    int zero = 0;
    zmq_setsockopt(w, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(w);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(ht_ticket_status(f->env, s.ids[i]), HELPDESK__V1__STATUS__STATUS_NEW);

    ht_proc *p = ht_start_ready(f->env, "hd-prioritizer", NULL);
    assert_non_null(p);
    if (!wait_all_queued(f, &s, 30000))
        fail_msg("tickets leased to a dead worker did not all reach queued in 30 s "
                 "(store.lease_ms is %d)",
                 f->env->lease_ms);
    assert_exactly_once(f, &s, p->pid);

    /* the dead worker's result, arriving late, is not applied a second time */
    long events = ht_sql_long(f->env, "SELECT count(*) FROM ticket_events");
    void *late = hd_socket_new(f->env->zctx, ZMQ_DEALER, f->env->work_ep, false);
    assert_non_null(late);
    HdWorkResult wr = HELPDESK__V1__WORK_RESULT__INIT;
    HdPrioritizeResult pr = HELPDESK__V1__PRIORITIZE_RESULT__INIT;
    pr.priority = HELPDESK__V1__PRIORITY__PRIORITY_P4_PLANNED_EVENT;
    pr.rule = "late-result";
    wr.lease_id = leases[0];
    wr.ticket_id = lease_tickets[0];
    wr.stage = HELPDESK__V1__STAGE__STAGE_PRIORITIZE;
    wr.worker = "prioritizer@stalled-test:1";
    wr.result_case = HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED;
    wr.prioritized = &pr;
    HdRequest rr = HELPDESK__V1__REQUEST__INIT;
    rr.id = 4242;
    rr.body_case = HELPDESK__V1__REQUEST__BODY_WORK_RESULT;
    rr.work_result = &wr;
    send_request(late, &rr);
    HdReply *ack = ht_dealer_recv_wait(late, 10000);
    hd_socket_close(&late);
    assert_non_null(ack);
    assert_int_equal(ack->id, 4242);
    assert_int_equal(ack->body_case, HELPDESK__V1__REPLY__BODY_WORK_ACK);
    assert_false(ack->work_ack->applied);
    assert_int_equal(ack->work_ack->ticket_id, lease_tickets[0]);
    hd_reply_free(ack);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM ticket_events"), events);
    HdReply *t = ht_get_ticket(f->env, lease_tickets[0]);
    assert_non_null(t);
    assert_int_equal(t->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    assert_string_not_equal(t->ticket->ticket->priority_rule, "late-result");
    hd_reply_free(t);

    assert_int_equal(ht_stop(p, 10000), 0);
    ht_pass(f->env);
}

/* A real prioritizer is frozen (SIGSTOP) while the store hands it work, then killed with
 * SIGKILL; another prioritizer finishes every ticket. */
static void test_killed_prioritizer_loses_nothing(void **state)
{
    fixture *f = *state;
    ht_proc *p1 = ht_start_ready(f->env, "hd-prioritizer", NULL);
    assert_non_null(p1);
    /* p1 works: a probe ticket goes all the way */
    id_set probe = {0};
    submit_some(f, "probe", 1, &probe);
    assert_true(wait_all_queued(f, &probe, 20000));

    assert_int_equal(kill(p1->pid, SIGSTOP), 0);
    id_set s = {0};
    submit_some(f, "frozen", 3, &s);
    assert_int_equal(s.n, 6);
    /* nobody else can take them: they stay new while p1 holds them */
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(ht_ticket_status(f->env, s.ids[i]), HELPDESK__V1__STATUS__STATUS_NEW);
    ht_kill9(p1);

    ht_proc *p2 = ht_start_ready(f->env, "hd-prioritizer", NULL);
    assert_non_null(p2);
    if (!wait_all_queued(f, &s, 30000))
        fail_msg("tickets held by the killed prioritizer did not all reach queued in 30 s");
    assert_exactly_once(f, &s, p2->pid);
    assert_int_equal(ht_stop(p2, 10000), 0);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_stalled_worker_leases_are_redispatched),
        HT_TEST(test_killed_prioritizer_loses_nothing),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
