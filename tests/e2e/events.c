/* End to end: the event PUB, events_since catch-up, and consumer cursors. */
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
#include "hd/transport.h"

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *prio, *router;
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "events");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, &f->intake, &f->prio, &f->router);
}

static HdReply *submit_one(fixture *f, const char *ext, int problems)
{
    ht_contact ct;
    ht_contact_init(&ct, "e2e-events", ext);
    ht_contact_add(&ct, "network", "الشبكة متوقفة", "");
    if (problems > 1)
        ht_contact_add(&ct, "printing", "Imprimante en panne", "");
    return ht_submit_ok(f->env, &ct.c);
}

static bool is_ours(const HdTicketEvent *e, const HdContactReceipt *r)
{
    for (size_t i = 0; i < r->n_ticket_ids; i++)
        if (e->ticket_id == r->ticket_ids[i])
            return true;
    return false;
}

#define MAX_SEEN 256

static void test_subscriber_and_catch_up(void **state)
{
    fixture *f = *state;
    void *sub = hd_socket_new(f->env->zctx, ZMQ_SUB, f->env->events_ep, false);
    assert_non_null(sub);
    /* a SUB misses what is published before its subscription arrives: submit probes until
     * one event is seen, so the subscription is known to be in place */
    HdTicketEvent *e = NULL;
    for (int i = 0; i < 20 && e == NULL; i++) {
        char ext[32];
        snprintf(ext, sizeof ext, "probe-%d", i);
        hd_reply_free(submit_one(f, ext, 1));
        e = ht_subscriber_recv_wait(sub, 500);
    }
    assert_non_null(e);
    hd_event_free(e);

    HdReply *rep = submit_one(f, "watched-1", 2);
    const HdContactReceipt *r = rep->receipt;
    /* every event from here on arrives, in seq order, gapless; ours are created, triaged and
     * queued for each of the two tickets */
    HdTicketEvent *seen[MAX_SEEN];
    size_t nseen = 0, ours = 0;
    int64_t first_ours = 0;
    while (ours < 6 && nseen < MAX_SEEN) {
        e = ht_subscriber_recv_wait(sub, 20000);
        if (e == NULL)
            fail_msg("saw %zu of the 6 events of the two watched tickets", ours);
        if (nseen > 0 && e->seq != seen[nseen - 1]->seq + 1)
            fail_msg("events out of order or with a gap: %lld after %lld", (long long)e->seq,
                     (long long)seen[nseen - 1]->seq);
        seen[nseen++] = e;
        if (is_ours(e, r)) {
            if (ours == 0)
                first_ours = e->seq;
            ours++;
        }
    }
    int kinds[4] = {0};
    for (size_t i = 0; i < nseen; i++) {
        if (!is_ours(seen[i], r))
            continue;
        assert_true(seen[i]->kind >= 1 && seen[i]->kind <= 3);
        kinds[seen[i]->kind]++;
        assert_true(seen[i]->at > 0);
        if (seen[i]->kind == HELPDESK__V1__EVENT_KIND__EVENT_CREATED) {
            assert_string_equal(seen[i]->actor, "intake");
            assert_int_equal(seen[i]->status, HELPDESK__V1__STATUS__STATUS_NEW);
        } else if (seen[i]->kind == HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED) {
            assert_true(ht_actor_is(seen[i]->actor, "prioritizer", f->prio->pid));
            assert_int_equal(seen[i]->status, HELPDESK__V1__STATUS__STATUS_TRIAGED);
            assert_true(seen[i]->priority != 0);
            assert_true(strlen(seen[i]->rule) > 0);
        } else {
            assert_true(ht_actor_is(seen[i]->actor, "router", f->router->pid));
            assert_int_equal(seen[i]->status, HELPDESK__V1__STATUS__STATUS_QUEUED);
            assert_true(strlen(seen[i]->queue) > 0);
        }
    }
    assert_int_equal(kinds[1], 2);
    assert_int_equal(kinds[2], 2);
    assert_int_equal(kinds[3], 2);

    /* events_since after the first of ours returns the rest, the same as the PUB said */
    HdReply *batch = ht_events_since(f->env, first_ours, 0);
    assert_non_null(batch);
    assert_int_equal(batch->body_case, HELPDESK__V1__REPLY__BODY_EVENTS);
    const HdEventBatch *b = batch->events;
    assert_true(b->last_seq >= seen[nseen - 1]->seq);
    size_t k = 0;
    for (size_t i = 0; i < nseen; i++) {
        if (seen[i]->seq <= first_ours)
            continue;
        assert_true(k < b->n_events);
        const HdTicketEvent *x = b->events[k++];
        assert_int_equal(x->seq, seen[i]->seq);
        assert_int_equal(x->ticket_id, seen[i]->ticket_id);
        assert_int_equal(x->kind, seen[i]->kind);
        assert_string_equal(x->actor, seen[i]->actor);
        assert_int_equal(x->at, seen[i]->at);
        assert_int_equal(x->status, seen[i]->status);
        assert_int_equal(x->priority, seen[i]->priority);
        assert_string_equal(x->queue, seen[i]->queue);
        assert_string_equal(x->rule, seen[i]->rule);
    }
    for (size_t i = 0; i < b->n_events; i++) {
        assert_true(b->events[i]->seq > first_ours);
        if (i > 0)
            assert_int_equal(b->events[i]->seq, b->events[i - 1]->seq + 1);
    }
    int64_t last = b->last_seq;
    hd_reply_free(batch);

    /* limit is honoured; after the end there is nothing */
    batch = ht_events_since(f->env, 0, 2);
    assert_non_null(batch);
    assert_int_equal(batch->body_case, HELPDESK__V1__REPLY__BODY_EVENTS);
    assert_int_equal(batch->events->n_events, 2);
    assert_int_equal(batch->events->events[0]->seq, 1);
    assert_int_equal(batch->events->events[1]->seq, 2);
    hd_reply_free(batch);
    batch = ht_events_since(f->env, last + 1000, 0);
    assert_non_null(batch);
    assert_int_equal(batch->body_case, HELPDESK__V1__REPLY__BODY_EVENTS);
    assert_int_equal(batch->events->n_events, 0);
    assert_true(batch->events->last_seq >= last);
    hd_reply_free(batch);

    for (size_t i = 0; i < nseen; i++)
        hd_event_free(seen[i]);
    hd_reply_free(rep);
    hd_socket_close(&sub);
    ht_pass(f->env);
}

static HdReply *cursor_call(fixture *f, const char *consumer, bool commit, int64_t seq)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdGetCursor g = HELPDESK__V1__GET_CURSOR__INIT;
    HdCommitCursor c = HELPDESK__V1__COMMIT_CURSOR__INIT;
    if (commit) {
        c.consumer = (char *)consumer;
        c.seq = seq;
        req.body_case = HELPDESK__V1__REQUEST__BODY_COMMIT_CURSOR;
        req.commit_cursor = &c;
    } else {
        g.consumer = (char *)consumer;
        req.body_case = HELPDESK__V1__REQUEST__BODY_GET_CURSOR;
        req.get_cursor = &g;
    }
    return ht_store_call(f->env, &req);
}

static void expect_cursor(fixture *f, const char *consumer, bool commit, int64_t seq,
                          int64_t want)
{
    HdReply *rep = cursor_call(f, consumer, commit, seq);
    assert_non_null(rep);
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_CURSOR)
        fail_msg("%s_cursor(%s, %lld): no cursor in the reply (body %d)",
                 commit ? "commit" : "get", consumer, (long long)seq, rep->body_case);
    assert_string_equal(rep->cursor->consumer, consumer);
    if (rep->cursor->seq != want)
        fail_msg("%s_cursor(%s, %lld) gave %lld, want %lld", commit ? "commit" : "get",
                 consumer, (long long)seq, (long long)rep->cursor->seq, (long long)want);
    hd_reply_free(rep);
}

static void test_cursors_round_trip_and_never_go_back(void **state)
{
    fixture *f = *state;
    expect_cursor(f, "e2e-consumer", false, 0, 0); /* unknown: 0 */
    expect_cursor(f, "e2e-consumer", true, 5, 5);
    expect_cursor(f, "e2e-consumer", false, 0, 5);
    expect_cursor(f, "e2e-consumer", true, 3, 5); /* never backwards */
    expect_cursor(f, "e2e-consumer", false, 0, 5);
    expect_cursor(f, "e2e-consumer", true, 9, 9);
    expect_cursor(f, "e2e-consumer", true, 9, 9); /* a repeat is harmless */
    expect_cursor(f, "e2e-other", false, 0, 0);   /* consumers are independent */
    expect_cursor(f, "e2e-other", true, 2, 2);
    expect_cursor(f, "e2e-consumer", false, 0, 9);
    expect_cursor(f, "مستهلك-عربي", true, 4, 4); /* names are UTF-8 like everything else */
    expect_cursor(f, "مستهلك-عربي", false, 0, 4);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_subscriber_and_catch_up),
        HT_TEST(test_cursors_round_trip_and_never_go_back),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
