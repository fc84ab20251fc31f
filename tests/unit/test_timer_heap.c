/* The timer's queue: entries come out in due order, re-planning a ticket makes its older
 * entries stale (lazy deletion), follow-ups join only the current version, and compaction keeps
 * memory near the live count; the same plan again makes nothing stale; a million tickets with
 * four deadlines each, all re-planned, fit in 200 MB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/escalation-timer/timer.h"

static timer_entry at(int64_t when, int deadline)
{
    timer_entry e;
    memset(&e, 0, sizeof e);
    e.deadline_at = when;
    e.deadline = (uint8_t)deadline;
    e.breach = 1;
    return e;
}

static void test_order(void **state)
{
    (void)state;
    timer_queue *q = timer_queue_new();
    assert_int_equal(timer_queue_next_due(q), INT64_MAX);
    /* 200 tickets with due times in a scrambled order. */
    for (int64_t id = 1; id <= 200; id++) {
        timer_entry e[2] = {at((id * 7919) % 1000 + 10, 1), at((id * 104729) % 1000 + 10, 3)};
        timer_queue_set(q, id, e, 2);
    }
    assert_int_equal(timer_queue_live(q), 400);
    assert_int_equal(timer_queue_tickets(q), 200);
    timer_entry out;
    assert_false(timer_queue_pop_due(q, 9, &out));
    int64_t last = 0;
    size_t popped = 0;
    while (timer_queue_pop_due(q, 2000, &out)) {
        assert_true(timer_entry_due(&out) >= last);
        last = timer_entry_due(&out);
        popped++;
    }
    assert_int_equal(popped, 400);
    assert_int_equal(timer_queue_live(q), 0);
    assert_int_equal(timer_queue_tickets(q), 0);
    timer_queue_destroy(&q);
    timer_queue_destroy(&q);
    assert_null(q);
}

static void test_warning_lead(void **state)
{
    (void)state;
    timer_queue *q = timer_queue_new();
    timer_entry w = at(1000, 1);
    w.lead_ms = 200;
    w.breach = 0;
    timer_queue_set(q, 5, &w, 1);
    assert_int_equal(timer_queue_next_due(q), 800);
    timer_entry out;
    assert_true(timer_queue_pop_due(q, 800, &out));
    assert_int_equal(out.ticket_id, 5);
    assert_int_equal(out.version, 1);
    timer_entry next;
    assert_true(timer_followup(&out, &next));
    timer_queue_add(q, &next);
    assert_int_equal(timer_queue_next_due(q), 1000);
    assert_true(timer_queue_pop_due(q, 1000, &out));
    assert_int_equal(out.breach, 1);
    timer_queue_destroy(&q);
}

static void test_replan_makes_stale(void **state)
{
    (void)state;
    timer_queue *q = timer_queue_new();
    timer_entry e[2] = {at(100, 1), at(300, 3)};
    timer_queue_set(q, 9, e, 2);
    timer_entry taken;
    assert_true(timer_queue_pop_due(q, 100, &taken)); /* fired; its follow-up comes later */

    /* The ticket was paused: its clocks stop. */
    timer_queue_set(q, 9, NULL, 0);
    assert_int_equal(timer_queue_live(q), 0);
    assert_int_equal(timer_queue_size(q), 1); /* the stale entry is still held */
    assert_int_equal(timer_queue_next_due(q), INT64_MAX);
    assert_int_equal(timer_queue_size(q), 0); /* dropped from the top */

    /* A follow-up of the old version is ignored. */
    timer_queue_add(q, &taken);
    assert_int_equal(timer_queue_live(q), 0);

    /* Resumed with deadlines moved on by the pause. */
    timer_entry moved = at(500, 3);
    timer_queue_set(q, 9, &moved, 1);
    timer_entry out;
    assert_false(timer_queue_pop_due(q, 499, &out));
    assert_true(timer_queue_pop_due(q, 500, &out));
    assert_int_equal(out.deadline_at, 500);
    assert_false(timer_queue_pop_due(q, 10000, &out));

    /* Setting nothing for an unknown ticket does nothing. */
    timer_queue_set(q, 12345, NULL, 0);
    assert_int_equal(timer_queue_tickets(q), 0);
    timer_queue_destroy(&q);
}

static void test_compaction(void **state)
{
    (void)state;
    timer_queue *q = timer_queue_new();
    /* 5000 tickets, each re-planned 10 times: without compaction 250000 entries. */
    for (int round = 0; round < 10; round++) {
        for (int64_t id = 1; id <= 5000; id++) {
            timer_entry e[5];
            for (int k = 0; k < 5; k++)
                e[k] = at(1000000 + id * 10 + k + round, k + 1);
            timer_queue_set(q, id, e, 5);
        }
    }
    assert_int_equal(timer_queue_live(q), 25000);
    assert_true(timer_queue_size(q) <= 2 * 25000 + 1024);
    /* The tickets resolve: everything goes stale, compaction drops it. */
    for (int64_t id = 1; id <= 5000; id++)
        timer_queue_set(q, id, NULL, 0);
    assert_int_equal(timer_queue_live(q), 0);
    assert_true(timer_queue_size(q) < 1100);
    /* What is left comes out right. */
    timer_entry e = at(7, 2);
    timer_queue_set(q, 77, &e, 1);
    timer_entry out;
    assert_true(timer_queue_pop_due(q, INT64_MAX, &out));
    assert_int_equal(out.ticket_id, 77);
    assert_false(timer_queue_pop_due(q, INT64_MAX, &out));
    timer_queue_destroy(&q);
}

static void test_same_plan_makes_no_stale(void **state)
{
    (void)state;
    timer_queue *q = timer_queue_new();
    timer_entry e[3] = {at(100, 1), at(200, 2), at(300, 3)};
    timer_queue_set(q, 5, e, 3);
    timer_queue_set(q, 5, e, 3); /* an event that changed no deadline */
    assert_int_equal(timer_queue_size(q), 3);
    assert_int_equal(timer_queue_live(q), 3);
    /* one deadline moved: re-planned, the old three stale */
    e[2] = at(350, 3);
    timer_queue_set(q, 5, e, 3);
    assert_int_equal(timer_queue_size(q), 6);
    assert_int_equal(timer_queue_live(q), 3);
    /* once one fired, the same plan is planned again: it must come back */
    timer_entry out;
    assert_true(timer_queue_pop_due(q, 100, &out));
    assert_int_equal(out.deadline_at, 100);
    timer_queue_set(q, 5, e, 3);
    assert_int_equal(timer_queue_live(q), 3);
    assert_true(timer_queue_pop_due(q, 100, &out));
    assert_int_equal(out.deadline_at, 100);
    /* a follow-up added: the plan differs from what is held, so it is set again */
    timer_entry f = at(250, 2);
    f.version = out.version;
    f.ticket_id = 5;
    timer_queue_add(q, &f);
    assert_int_equal(timer_queue_live(q), 3);
    timer_entry again[2] = {at(200, 2), at(350, 3)};
    timer_queue_set(q, 5, again, 2);
    assert_int_equal(timer_queue_live(q), 2);
    assert_true(timer_queue_pop_due(q, 1000, &out));
    assert_int_equal(out.deadline_at, 200);
    assert_true(timer_queue_pop_due(q, 1000, &out));
    assert_int_equal(out.deadline_at, 350);
    assert_false(timer_queue_pop_due(q, 1000, &out));
    timer_queue_destroy(&q);
}

static void plan4(timer_entry *e, int64_t id, int64_t shift)
{
    for (int k = 0; k < 4; k++)
        e[k] = at(1800000000000 + (id * 7919 + shift) % 100000000 + k, k + 1);
}

static void test_million_tickets_fit(void **state)
{
    (void)state;
    timer_queue *q = timer_queue_new();
    size_t most = 0;
    for (int round = 0; round < 3; round++)
        for (int64_t id = 1; id <= 1000000; id++) {
            timer_entry e[4];
            plan4(e, id, round * 1000);
            timer_queue_set(q, id, e, 4);
            if (timer_queue_bytes(q) > most)
                most = timer_queue_bytes(q);
        }
    assert_int_equal(timer_queue_live(q), 4000000);
    assert_int_equal(timer_queue_tickets(q), 1000000);
    if (most >= 200u * 1024 * 1024)
        fail_msg("the queue held %zu MB at its largest", most / (1024 * 1024));
    /* the earliest comes out first */
    timer_entry out, prev = {0};
    for (int i = 0; i < 1000; i++) {
        assert_true(timer_queue_pop_due(q, INT64_MAX, &out));
        assert_true(timer_entry_due(&out) >= timer_entry_due(&prev));
        prev = out;
    }
    timer_queue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_warning_lead),
        cmocka_unit_test(test_replan_makes_stale),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_same_plan_makes_no_stale),
        cmocka_unit_test(test_million_tickets_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
