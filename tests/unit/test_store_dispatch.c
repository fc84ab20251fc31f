/* The store's lease/queue/credit bookkeeping, without sockets or a database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/store/store_dispatch.h"

#define PRIO HELPDESK__V1__STAGE__STAGE_PRIORITIZE
#define ROUTE HELPDESK__V1__STAGE__STAGE_ROUTE
#define LEASE_MS 1000
#define SILENCE_MS 3000

static store_worker_key key(const char *id)
{
    store_worker_key k;
    memset(&k, 0, sizeof k);
    k.len = strlen(id);
    memcpy(k.id, id, k.len);
    return k;
}

static int setup(void **state)
{
    *state = store_dispatch_new(LEASE_MS, SILENCE_MS, 100);
    return 0;
}

static int teardown(void **state)
{
    store_dispatch *d = *state;
    store_dispatch_destroy(&d);
    store_dispatch_destroy(&d); /* safe twice */
    assert_null(d);
    return 0;
}

static void test_nothing_without_credit(void **state)
{
    store_dispatch *d = *state;
    store_lease l;
    store_dispatch_push(d, PRIO, 1);
    assert_false(store_dispatch_next(d, 0, &l));
    store_worker_key w = key("w1");
    assert_int_equal(store_dispatch_ready(d, &w, PRIO, 0, "p@h:1", 0), 1);
    assert_false(store_dispatch_pending(d));
    assert_false(store_dispatch_next(d, 0, &l));
}

static void test_credit_respected(void **state)
{
    store_dispatch *d = *state;
    for (int64_t id = 1; id <= 5; id++)
        store_dispatch_push(d, PRIO, id);
    store_worker_key w = key("w1");
    assert_int_equal(store_dispatch_ready(d, &w, PRIO, 2, "p@h:1", 0), 1);
    store_lease l;
    assert_true(store_dispatch_next(d, 0, &l));
    assert_int_equal(l.ticket_id, 1);
    assert_int_equal(l.lease_id, 100);
    assert_int_equal(l.expires_at, LEASE_MS);
    assert_int_equal(l.stage, PRIO);
    assert_true(store_dispatch_next(d, 0, &l));
    assert_int_equal(l.ticket_id, 2);
    assert_int_equal(l.lease_id, 101);
    assert_false(store_dispatch_next(d, 0, &l));
    assert_int_equal(store_dispatch_credit(d, &w), 0);
    assert_int_equal(store_dispatch_leases(d), 2);
    /* a result gives one credit back */
    assert_true(store_dispatch_result(d, &w, 100, 1, 10, NULL));
    assert_int_equal(store_dispatch_credit(d, &w), 1);
    assert_true(store_dispatch_next(d, 10, &l));
    assert_int_equal(l.ticket_id, 3);
    assert_false(store_dispatch_next(d, 10, &l));
    /* work_ready adds more */
    assert_int_equal(store_dispatch_ready(d, &w, PRIO, 5, "p@h:1", 20), 0);
    assert_true(store_dispatch_next(d, 20, &l));
    assert_true(store_dispatch_next(d, 20, &l));
    assert_int_equal(l.ticket_id, 5);
    assert_false(store_dispatch_next(d, 20, &l));
    assert_int_equal(store_dispatch_credit(d, &w), 3);
}

static void test_stages_kept_apart(void **state)
{
    store_dispatch *d = *state;
    store_dispatch_push(d, ROUTE, 7);
    store_worker_key p = key("prio"), r = key("route");
    assert_int_equal(store_dispatch_ready(d, &p, PRIO, 3, "p", 0), 1);
    store_lease l;
    assert_false(store_dispatch_next(d, 0, &l));
    assert_int_equal(store_dispatch_ready(d, &r, ROUTE, 1, "r", 0), 1);
    assert_true(store_dispatch_next(d, 0, &l));
    assert_int_equal(l.ticket_id, 7);
    assert_int_equal(l.stage, ROUTE);
    assert_memory_equal(l.worker.id, "route", 5);
    assert_int_equal(store_dispatch_ready(d, &r, HELPDESK__V1__STAGE__STAGE_UNSPECIFIED, 1, "r",
                                          0),
                     -1);
}

static void test_round_robin(void **state)
{
    store_dispatch *d = *state;
    store_worker_key a = key("a"), b = key("b");
    assert_int_equal(store_dispatch_ready(d, &a, PRIO, 10, "a", 0), 1);
    assert_int_equal(store_dispatch_ready(d, &b, PRIO, 10, "b", 0), 1);
    for (int64_t id = 1; id <= 4; id++)
        store_dispatch_push(d, PRIO, id);
    int to_a = 0, to_b = 0;
    store_lease l;
    while (store_dispatch_next(d, 0, &l)) {
        if (l.worker.id[0] == 'a')
            to_a++;
        else
            to_b++;
    }
    assert_int_equal(to_a, 2);
    assert_int_equal(to_b, 2);
}

static void test_expiry_requeues_front(void **state)
{
    store_dispatch *d = *state;
    store_worker_key w = key("w1");
    assert_int_equal(store_dispatch_ready(d, &w, PRIO, 2, "w1", 0), 1);
    for (int64_t id = 1; id <= 4; id++)
        store_dispatch_push(d, PRIO, id);
    store_lease l1, l2, out[4];
    assert_true(store_dispatch_next(d, 0, &l1));
    assert_true(store_dispatch_next(d, 100, &l2));
    assert_int_equal(store_dispatch_deadline(d), LEASE_MS);
    assert_int_equal(store_dispatch_expire(d, LEASE_MS - 1, out, 4), 0);
    assert_int_equal(store_dispatch_expire(d, LEASE_MS + 100, out, 4), 2);
    assert_int_equal(out[0].ticket_id, 1);
    assert_int_equal(out[1].ticket_id, 2);
    assert_int_equal(store_dispatch_leases(d), 0);
    assert_int_equal(store_dispatch_queued(d, PRIO), 4);
    /* the worker keeps no credit for the lost items until it answers, so give it some */
    assert_int_equal(store_dispatch_ready(d, &w, PRIO, 4, "w1", LEASE_MS + 100), 0);
    store_lease l;
    for (int64_t want = 1; want <= 4; want++) {
        assert_true(store_dispatch_next(d, LEASE_MS + 200, &l));
        assert_int_equal(l.ticket_id, want);
    }
}

static void test_result_for_expired_lease(void **state)
{
    store_dispatch *d = *state;
    store_worker_key a = key("a"), b = key("b");
    assert_int_equal(store_dispatch_ready(d, &a, PRIO, 1, "a", 0), 1);
    store_dispatch_push(d, PRIO, 42);
    store_lease la, lb, out[2];
    assert_true(store_dispatch_next(d, 0, &la));
    assert_int_equal(store_dispatch_expire(d, LEASE_MS, out, 2), 1);
    /* expired and back in the queue; the late result does not match a live lease, but still
     * gives the worker its credit back */
    assert_true(store_dispatch_is_leased(d, 42) == false);
    Helpdesk__V1__Stage st = HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    assert_false(store_dispatch_result(d, &a, la.lease_id, 42, LEASE_MS + 1, &st));
    assert_int_equal(st, HELPDESK__V1__STAGE__STAGE_UNSPECIFIED);
    assert_int_equal(store_dispatch_credit(d, &a), 1);
    /* the caller applied it and takes it out of the queue */
    assert_true(store_dispatch_unqueue(d, PRIO, 42));
    assert_false(store_dispatch_unqueue(d, PRIO, 42));
    assert_int_equal(store_dispatch_queued(d, PRIO), 0);
    /* re-dispatched to b before a answers: a's late result leaves b's lease alone */
    store_dispatch_push(d, PRIO, 43);
    assert_true(store_dispatch_next(d, LEASE_MS + 2, &la));
    assert_int_equal(store_dispatch_expire(d, 2 * LEASE_MS + 2, out, 2), 1);
    assert_int_equal(store_dispatch_ready(d, &b, PRIO, 1, "b", 2 * LEASE_MS + 3), 1);
    assert_true(store_dispatch_next(d, 2 * LEASE_MS + 3, &lb));
    assert_int_equal(lb.ticket_id, 43);
    assert_memory_equal(lb.worker.id, "b", 1);
    assert_false(store_dispatch_result(d, &a, la.lease_id, 43, 2 * LEASE_MS + 4, NULL));
    assert_true(store_dispatch_is_leased(d, 43));
    assert_true(store_dispatch_result(d, &b, lb.lease_id, 43, 2 * LEASE_MS + 5, &st));
    assert_int_equal(st, PRIO);
    assert_false(store_dispatch_is_leased(d, 43));
}

static void test_result_wrong_ticket_or_unknown_worker(void **state)
{
    store_dispatch *d = *state;
    store_worker_key a = key("a"), stranger = key("x");
    assert_int_equal(store_dispatch_ready(d, &a, PRIO, 1, "a", 0), 1);
    store_dispatch_push(d, PRIO, 5);
    store_lease l;
    assert_true(store_dispatch_next(d, 0, &l));
    /* a lease id that names another ticket (a restarted store reusing ids) does not match */
    assert_false(store_dispatch_result(d, &a, l.lease_id, 6, 1, NULL));
    assert_true(store_dispatch_is_leased(d, 5));
    /* a result from a worker the store does not know gives no credit to anyone */
    assert_true(store_dispatch_result(d, &stranger, l.lease_id, 5, 1, NULL));
    assert_int_equal(store_dispatch_credit(d, &stranger), -1);
    assert_int_equal(store_dispatch_credit(d, &a), 1);
}

static void test_worker_forgotten_after_silence(void **state)
{
    store_dispatch *d = *state;
    store_worker_key a = key("a"), b = key("b");
    assert_int_equal(store_dispatch_ready(d, &a, PRIO, 1, "alpha", 0), 1);
    assert_int_equal(store_dispatch_ready(d, &b, PRIO, 1, "beta", 0), 1);
    assert_true(store_dispatch_seen(d, &b, 2000));
    char names[4][128];
    assert_int_equal(store_dispatch_forget_silent(d, SILENCE_MS - 1, names, 4), 0);
    assert_int_equal(store_dispatch_deadline(d), SILENCE_MS);
    assert_int_equal(store_dispatch_forget_silent(d, SILENCE_MS, names, 4), 1);
    assert_string_equal(names[0], "alpha");
    assert_false(store_dispatch_seen(d, &a, SILENCE_MS));
    assert_null(store_dispatch_worker_name(d, &a));
    assert_string_equal(store_dispatch_worker_name(d, &b), "beta");
    assert_int_equal(store_dispatch_workers(d), 1);
    /* a forgotten worker's lease still expires in time and goes back to the queue */
    store_dispatch_push(d, PRIO, 9);
    store_lease l, out[1];
    assert_true(store_dispatch_next(d, SILENCE_MS, &l));
    store_dispatch_forget(d, &b);
    assert_int_equal(store_dispatch_workers(d), 0);
    assert_int_equal(store_dispatch_expire(d, SILENCE_MS + LEASE_MS, out, 1), 1);
    assert_int_equal(store_dispatch_queued(d, PRIO), 1);
    /* announcing again registers it anew */
    assert_int_equal(store_dispatch_ready(d, &a, PRIO, 1, "alpha", 5000), 1);
}

static void test_cancel(void **state)
{
    store_dispatch *d = *state;
    store_worker_key a = key("a");
    assert_int_equal(store_dispatch_ready(d, &a, PRIO, 1, "a", 0), 1);
    store_dispatch_push(d, PRIO, 1);
    store_dispatch_push(d, PRIO, 2);
    store_lease l;
    assert_true(store_dispatch_next(d, 0, &l));
    /* ticket no longer waits for this stage: drop it, credit back */
    store_dispatch_cancel(d, l.lease_id, false, true);
    assert_int_equal(store_dispatch_credit(d, &a), 1);
    assert_true(store_dispatch_next(d, 0, &l));
    assert_int_equal(l.ticket_id, 2);
    /* send failed: back at the front, credit not returned */
    store_dispatch_cancel(d, l.lease_id, true, false);
    assert_int_equal(store_dispatch_credit(d, &a), 0);
    assert_int_equal(store_dispatch_queued(d, PRIO), 1);
    assert_int_equal(store_dispatch_leases(d), 0);
    store_dispatch_cancel(d, 12345, true, true); /* unknown lease: nothing happens */
    assert_int_equal(store_dispatch_queued(d, PRIO), 1);
}

static void test_queue_grows_and_front(void **state)
{
    store_dispatch *d = *state;
    for (int64_t id = 1; id <= 1000; id++)
        store_dispatch_push(d, ROUTE, id);
    store_dispatch_push_front(d, ROUTE, 0);
    assert_true(store_dispatch_unqueue(d, ROUTE, 500));
    assert_int_equal(store_dispatch_queued(d, ROUTE), 1000);
    store_worker_key r = key("r");
    assert_int_equal(store_dispatch_ready(d, &r, ROUTE, 2000, "r", 0), 1);
    store_lease l;
    int64_t want = 0;
    while (store_dispatch_next(d, 0, &l)) {
        assert_int_equal(l.ticket_id, want);
        want += want == 499 ? 2 : 1;
    }
    assert_int_equal(want, 1001);
    store_dispatch_clear_queues(d);
    assert_int_equal(store_dispatch_queued(d, ROUTE), 0);
}

/* A router announces credit for route and escalate on one socket: kept per stage. */
static void test_two_stages_one_worker(void **state)
{
    store_dispatch *d = *state;
    const Helpdesk__V1__Stage ESC = HELPDESK__V1__STAGE__STAGE_ESCALATE;
    store_worker_key r = key("router");
    assert_int_equal(store_dispatch_ready(d, &r, ROUTE, 1, "r", 0), 1);
    assert_int_equal(store_dispatch_ready(d, &r, ESC, 1, "r", 0), 0);
    assert_int_equal(store_dispatch_credit(d, &r), 2);
    store_dispatch_push(d, ESC, 900); /* an escalation id */
    store_dispatch_push(d, ROUTE, 5);
    store_dispatch_push(d, ROUTE, 6);
    store_lease a, b, c;
    assert_true(store_dispatch_next(d, 0, &a));
    assert_true(store_dispatch_next(d, 0, &b));
    assert_false(store_dispatch_next(d, 0, &c)); /* route credit spent, 6 waits */
    assert_true((a.stage == ROUTE && b.stage == ESC) || (a.stage == ESC && b.stage == ROUTE));
    const store_lease *esc = a.stage == ESC ? &a : &b;
    assert_int_equal(esc->ticket_id, 900);
    int64_t item = 0;
    Helpdesk__V1__Stage st = HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    assert_true(store_dispatch_lease_item(d, esc->lease_id, &item, &st));
    assert_int_equal(item, 900);
    assert_int_equal(st, ESC);
    assert_true(store_dispatch_stage_leased(d, ESC, 900));
    assert_false(store_dispatch_stage_leased(d, ROUTE, 900));
    /* the escalation result gives escalate credit back, not route credit */
    assert_true(store_dispatch_result_for(d, &r, esc->lease_id, 900, ESC, 1, &st));
    assert_false(store_dispatch_next(d, 1, &c));
    /* a late result (no live lease) gives credit to the result's stage */
    assert_false(store_dispatch_result_for(d, &r, 12345, 6, ROUTE, 2, &st));
    assert_true(store_dispatch_next(d, 2, &c));
    assert_int_equal(c.ticket_id, 6);
}

/* A held item stays out of its queue until its time, then goes to the back; the deadline
 * names that time; unqueue and clear_queues drop it. */
static void test_hold_until_due(void **state)
{
    store_dispatch *d = *state;
    store_dispatch_push(d, ROUTE, 7);
    store_dispatch_push(d, ROUTE, 8);
    assert_int_equal(store_dispatch_deadline(d), INT64_MAX); /* no lease, no worker */
    store_dispatch_hold(d, ROUTE, 7, 5000); /* taken out of the queue */
    store_dispatch_hold(d, ROUTE, 7, 6000); /* once, with the later time */
    assert_int_equal(store_dispatch_queued(d, ROUTE), 1);
    assert_int_equal(store_dispatch_held(d), 1);
    assert_int_equal(store_dispatch_deadline(d), 6000); /* the loop wakes for it */
    store_worker_key w = key("router-1");
    assert_int_equal(store_dispatch_ready(d, &w, ROUTE, 10, "router-1", 5000), 1);
    store_lease l;
    assert_true(store_dispatch_next(d, 5000, &l));
    assert_int_equal(l.ticket_id, 8);
    assert_false(store_dispatch_next(d, 5000, &l)); /* 7 is held, not queued */
    assert_true(store_dispatch_result(d, &w, l.lease_id, 8, 5010, NULL));
    assert_int_equal(store_dispatch_release(d, 5999), 0);
    assert_int_equal(store_dispatch_release(d, 6000), 1);
    assert_int_equal(store_dispatch_held(d), 0);
    assert_true(store_dispatch_next(d, 6000, &l));
    assert_int_equal(l.ticket_id, 7);

    store_dispatch_hold(d, ROUTE, 9, 100);
    assert_true(store_dispatch_unqueue(d, ROUTE, 9));
    store_dispatch_hold(d, PRIO, 10, 100);
    store_dispatch_clear_queues(d);
    assert_int_equal(store_dispatch_held(d), 0);
    assert_int_equal(store_dispatch_release(d, 1000000), 0);
    store_dispatch_hold(d, HELPDESK__V1__STAGE__STAGE_UNSPECIFIED, 11, 100); /* ignored */
    assert_int_equal(store_dispatch_held(d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_without_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stages_kept_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_requeues_front, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_for_expired_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_wrong_ticket_or_unknown_worker, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_worker_forgotten_after_silence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_grows_and_front, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_stages_one_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_until_due, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
