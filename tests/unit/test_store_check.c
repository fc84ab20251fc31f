/* The store's own checks of create_tickets and work results (any program may speak to it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/store/store.h"

typedef struct {
    HdContact c;
    HdCustomer cu;
    HdProblem p[2];
    HdProblem *pp[2];
} contact_fixture;

static void fixture(contact_fixture *f)
{
    helpdesk__v1__contact__init(&f->c);
    helpdesk__v1__customer__init(&f->cu);
    helpdesk__v1__problem__init(&f->p[0]);
    helpdesk__v1__problem__init(&f->p[1]);
    f->c.source = "web";
    f->c.external_id = "x-1";
    f->c.customer = &f->cu;
    f->cu.name = "Siti Nurhaliza";
    f->p[0].summary = "Printer jammed";
    f->p[1].summary = "لا يعمل البريد";
    f->pp[0] = &f->p[0];
    f->pp[1] = &f->p[1];
    f->c.problems = f->pp;
    f->c.n_problems = 2;
}

static void test_contact_ok(void **state)
{
    (void)state;
    contact_fixture f;
    fixture(&f);
    hd_error_buf err;
    assert_int_equal(store_check_contact(&f.c, &err), 0);
}

static void expect_field(const HdContact *c, const char *field)
{
    hd_error_buf err;
    assert_int_equal(store_check_contact(c, &err), -1);
    assert_int_equal(err.pb.code, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD);
    assert_string_equal(err.field, field);
}

static void test_contact_refused(void **state)
{
    (void)state;
    contact_fixture f;
    expect_field(NULL, "contact");
    fixture(&f);
    f.c.source = "";
    expect_field(&f.c, "source");
    fixture(&f);
    f.c.external_id = "";
    expect_field(&f.c, "external_id");
    fixture(&f);
    f.c.n_problems = 0;
    expect_field(&f.c, "problems");
    fixture(&f);
    f.p[1].summary = "bad \xc3\x28 text";
    expect_field(&f.c, "problems[1].summary");
    fixture(&f);
    f.cu.name = "\xed\xa0\x80"; /* a surrogate */
    expect_field(&f.c, "customer.name");
    fixture(&f);
    f.p[0].urgency = (Helpdesk__V1__Level)9;
    expect_field(&f.c, "problems[0].urgency");
    fixture(&f);
    f.c.channel = (Helpdesk__V1__Channel)42;
    expect_field(&f.c, "channel");
    fixture(&f);
    f.c.received_at = -5;
    expect_field(&f.c, "received_at");
}

static void test_result_checks(void **state)
{
    (void)state;
    hd_error_buf err;
    HdPrioritizeResult p = HELPDESK__V1__PRIORITIZE_RESULT__INIT;
    HdWorkResult r = HELPDESK__V1__WORK_RESULT__INIT;
    r.ticket_id = 1;
    r.stage = HELPDESK__V1__STAGE__STAGE_PRIORITIZE;
    r.result_case = HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED;
    r.prioritized = &p;
    assert_int_equal(store_check_result(&r, &err), -1);
    assert_string_equal(err.field, "prioritized.priority");
    p.priority = HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION;
    assert_int_equal(store_check_result(&r, &err), 0);
    HdSlaDeadlines sla = HELPDESK__V1__SLA_DEADLINES__INIT;
    sla.resolution_due = INT64_MAX;
    p.sla = &sla;
    assert_int_equal(store_check_result(&r, &err), -1);
    assert_string_equal(err.field, "prioritized.sla.resolution_due");
    sla.resolution_due = 1700000000000;
    assert_int_equal(store_check_result(&r, &err), 0);
    r.stage = HELPDESK__V1__STAGE__STAGE_ROUTE;
    assert_int_equal(store_check_result(&r, &err), -1);
    assert_string_equal(err.field, "stage");

    HdRouteResult ro = HELPDESK__V1__ROUTE_RESULT__INIT;
    r.result_case = HELPDESK__V1__WORK_RESULT__RESULT_ROUTED;
    r.routed = &ro;
    assert_int_equal(store_check_result(&r, &err), -1);
    assert_string_equal(err.field, "routed.queue");
    ro.queue = "network";
    assert_int_equal(store_check_result(&r, &err), 0);

    r.result_case = HELPDESK__V1__WORK_RESULT__RESULT__NOT_SET;
    assert_int_equal(store_check_result(&r, &err), -1);
    assert_string_equal(err.field, "result");
    r.ticket_id = 0;
    assert_int_equal(store_check_result(&r, &err), -1);
    assert_string_equal(err.field, "ticket_id");
}

static void test_stages_and_texts(void **state)
{
    (void)state;
    assert_int_equal(store_stage_for(HELPDESK__V1__STATUS__STATUS_NEW),
                     HELPDESK__V1__STAGE__STAGE_PRIORITIZE);
    assert_int_equal(store_stage_for(HELPDESK__V1__STATUS__STATUS_TRIAGED),
                     HELPDESK__V1__STAGE__STAGE_ROUTE);
    assert_int_equal(store_stage_for(HELPDESK__V1__STATUS__STATUS_QUEUED),
                     HELPDESK__V1__STAGE__STAGE_UNSPECIFIED);
    assert_int_equal(store_event_kind_parse("queued"), HELPDESK__V1__EVENT_KIND__EVENT_QUEUED);
    assert_int_equal(store_event_kind_parse("nonsense"),
                     HELPDESK__V1__EVENT_KIND__EVENT_UNSPECIFIED);
    contact_fixture f;
    fixture(&f);
    f.c.channel = HELPDESK__V1__CHANNEL__CHANNEL_EMAIL;
    f.c.agent = "Ayu";
    char text[256];
    store_text_created(text, sizeof text, &f.c, 1);
    assert_non_null(strstr(text, "email"));
    assert_non_null(strstr(text, "Ayu"));
    assert_non_null(strstr(text, "2 of 2"));
}

static void test_reply_and_events_free(void **state)
{
    (void)state;
    store_reply rep;
    store_reply_init(&rep, 7);
    HdCursor *c = calloc(1, sizeof *c);
    helpdesk__v1__cursor__init(c);
    c->consumer = store_strdup("timer");
    rep.pb.body_case = HELPDESK__V1__REPLY__BODY_CURSOR;
    rep.pb.cursor = c;
    store_reply_error(&rep, HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND, "x", "gone %d", 1);
    assert_int_equal(rep.pb.body_case, HELPDESK__V1__REPLY__BODY_ERROR);
    assert_string_equal(rep.pb.error->message, "gone 1");
    store_reply_clear(&rep);
    store_reply_clear(&rep);
    store_events evs = {0};
    for (int i = 0; i < 20; i++) {
        HdTicketEvent *e = calloc(1, sizeof *e);
        helpdesk__v1__ticket_event__init(e);
        e->text = store_strdup(i % 2 ? "" : "text");
        store_events_push(&evs, e);
    }
    assert_int_equal(evs.n, 20);
    store_events_clear(&evs);
    assert_int_equal(evs.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contact_ok),
        cmocka_unit_test(test_contact_refused),
        cmocka_unit_test(test_result_checks),
        cmocka_unit_test(test_stages_and_texts),
        cmocka_unit_test(test_reply_and_events_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
