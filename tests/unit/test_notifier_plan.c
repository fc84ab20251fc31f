/* Notifier decisions: which communications each event kind produces, their keys and
 * recipients, the channels, the retry schedule, and the placeholder values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/notifier/notifier.h"

#define K(x) HELPDESK__V1__EVENT_KIND__EVENT_##x

typedef struct {
    HdTicket t;
    HdCustomer cu;
    HdProblem pr;
    HdSlaDeadlines sla;
    HdTicketEvent ev;
} fixture;

static void fx_init(fixture *f, Helpdesk__V1__EventKind kind)
{
    memset(f, 0, sizeof *f);
    helpdesk__v1__ticket__init(&f->t);
    helpdesk__v1__customer__init(&f->cu);
    helpdesk__v1__problem__init(&f->pr);
    helpdesk__v1__sla_deadlines__init(&f->sla);
    helpdesk__v1__ticket_event__init(&f->ev);
    f->t.id = 31;
    f->t.contact_id = 12;
    f->t.queue = "network-ops";
    f->t.tier = 1;
    f->t.priority = HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE;
    f->t.customer = &f->cu;
    f->t.problem = &f->pr;
    f->t.sla = &f->sla;
    f->sla.update_interval_ms = 1800000;
    f->cu.name = "Amina";
    f->cu.email = "amina@example.org";
    f->cu.language = "ar";
    f->pr.summary = "VPN down";
    f->ev.seq = 345;
    f->ev.ticket_id = 31;
    f->ev.kind = kind;
    f->ev.deadline_at = 1700000000000LL;
}

static const char *team(const char *queue, void *ctx)
{
    (void)ctx;
    return strcmp(queue, "network-ops") == 0 ? "noc@example.com" : NULL;
}

static void test_created_ack_per_contact(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, K(CREATED));
    notif_comm c[NOTIF_MAX_COMMS];
    assert_true(notif_event_wanted(&f.ev));
    assert_true(notif_event_needs_contact(&f.ev));
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 1);
    assert_string_equal(c[0].key, "ack/12");
    assert_string_equal(c[0].tmpl, "ack");
    assert_string_equal(c[0].kind, "ack");
    assert_string_equal(c[0].to, "amina@example.org");
    assert_false(c[0].internal);
}

static void test_customer_kinds(void **state)
{
    (void)state;
    struct {
        Helpdesk__V1__EventKind kind;
        const char *key, *tmpl, *rkind;
    } cases[] = {
        {K(UPDATE_DUE), "update/31/1700000000000", "update", "update"},
        {K(REPLY), "reply/345", "reply", "reply"},
        {K(RESOLVED), "resolved/345", "resolved", "resolution"},
    };
    for (size_t i = 0; i < 3; i++) {
        fixture f;
        fx_init(&f, cases[i].kind);
        notif_comm c[NOTIF_MAX_COMMS];
        assert_false(notif_event_needs_contact(&f.ev));
        assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 1);
        assert_string_equal(c[0].key, cases[i].key);
        assert_string_equal(c[0].tmpl, cases[i].tmpl);
        assert_string_equal(c[0].kind, cases[i].rkind);
        assert_string_equal(c[0].to, "amina@example.org");
    }
}

static void test_escalated(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, K(ESCALATED));
    f.ev.queue = "network-l2";
    notif_comm c[NOTIF_MAX_COMMS];
    /* no manager, no team for the new queue: the notice goes to the log */
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 2);
    assert_string_equal(c[0].key, "escalated/345/customer");
    assert_string_equal(c[0].kind, "escalation");
    assert_string_equal(c[1].key, "escalated/345/internal");
    assert_string_equal(c[1].tmpl, "escalated_internal");
    assert_string_equal(c[1].kind, "internal");
    assert_true(c[1].internal);
    assert_string_equal(c[1].to, "");
    assert_string_equal(c[1].who, "team:network-l2");
    /* the team of the queue */
    f.ev.queue = "network-ops";
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 2);
    assert_string_equal(c[1].to, "noc@example.com");
    /* beyond tier 3: the manager named by the event wins */
    f.ev.recipient = "boss@example.com";
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 2);
    assert_string_equal(c[1].to, "boss@example.com");
    assert_string_equal(c[1].who, "manager:boss@example.com");
}

static void test_breach_only_with_team(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, K(SLA_BREACH));
    notif_comm c[NOTIF_MAX_COMMS];
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 1);
    assert_string_equal(c[0].key, "breach/345");
    assert_string_equal(c[0].to, "noc@example.com");
    assert_string_equal(c[0].tmpl, "breach_internal");
    f.t.queue = "other";
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 0);
    assert_int_equal(notif_plan(&f.ev, &f.t, NULL, NULL, c), 0);
}

static void test_other_kinds_nothing(void **state)
{
    (void)state;
    Helpdesk__V1__EventKind none[] = {K(TRIAGED), K(QUEUED), K(TAKEN), K(NOTE),
                                      K(COMMUNICATION), K(SLA_WARNING), K(WAITING)};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        fixture f;
        fx_init(&f, none[i]);
        notif_comm c[NOTIF_MAX_COMMS];
        assert_false(notif_event_wanted(&f.ev));
        assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 0);
    }
}

static void test_channels(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, K(REPLY));
    notif_comm c[NOTIF_MAX_COMMS];
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 1);
    notif_delivery d[2];
    /* SMTP and a webhook: email with the key, webhook copy with key/webhook */
    assert_int_equal(notif_channels(&c[0], true, "http://127.0.0.1:1/h", d), 2);
    assert_int_equal(d[0].channel, NOTIF_EMAIL);
    assert_string_equal(d[0].key, "reply/345");
    assert_string_equal(d[0].recipient, "amina@example.org");
    assert_int_equal(d[1].channel, NOTIF_WEBHOOK);
    assert_string_equal(d[1].key, "reply/345/webhook");
    assert_string_equal(d[1].recipient, "http://127.0.0.1:1/h");
    /* nothing configured: the log */
    assert_int_equal(notif_channels(&c[0], false, "", d), 1);
    assert_int_equal(d[0].channel, NOTIF_LOG);
    assert_string_equal(d[0].key, "reply/345");
    assert_string_equal(notif_channel_name(d[0].channel), "log");
    /* the customer has no email: the log even with SMTP */
    f.cu.email = "";
    assert_int_equal(notif_plan(&f.ev, &f.t, team, NULL, c), 1);
    assert_int_equal(notif_channels(&c[0], true, NULL, d), 1);
    assert_int_equal(d[0].channel, NOTIF_LOG);
    assert_string_equal(d[0].recipient, "customer:Amina");
}

static void test_backoff(void **state)
{
    (void)state;
    int64_t want[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (uint32_t a = 1; a <= 8; a++)
        assert_int_equal(notif_backoff_ms(500, 30000, a), want[a - 1]);
    assert_int_equal(notif_backoff_ms(100, 250, 1), 100);
    assert_int_equal(notif_backoff_ms(100, 250, 3), 250);
    assert_int_equal(notif_backoff_ms(1000, 60000, 1000), 60000); /* no overflow */
}

static void test_interval_and_vars(void **state)
{
    (void)state;
    char b[64];
    notif_interval_text("en", 1800000, b, sizeof b);
    assert_string_equal(b, "30 minutes");
    notif_interval_text("en", 3600000, b, sizeof b);
    assert_string_equal(b, "1 hour");
    notif_interval_text("fr", 7200000, b, sizeof b);
    assert_string_equal(b, "2 heures");
    notif_interval_text("id", 86400000, b, sizeof b);
    assert_string_equal(b, "1 hari");
    notif_interval_text("ur", 7200000, b, sizeof b);
    assert_string_equal(b, "2 گھنٹے");
    notif_interval_text("xx", 2000, b, sizeof b);
    assert_string_equal(b, "1 minute");

    int64_t ids[] = {31, 32, 33};
    notif_ticket_list(ids, 3, b, sizeof b);
    assert_string_equal(b, "#31, #32, #33");
    char small[10];
    notif_ticket_list(ids, 3, small, sizeof small);
    assert_string_equal(small, "#31, #32"); /* whole numbers only */

    fixture f;
    fx_init(&f, K(RESOLVED));
    f.ev.text = "replaced the router";
    notif_vars v = {0};
    notif_vars_fill(&v, "ar", &f.ev, &f.t, ids, 3, "https://desk.example/s/{ticket}?a={ticket}");
    const char *want[][2] = {{"ticket", "31"},
                             {"tickets", "#31, #32, #33"},
                             {"name", "Amina"},
                             {"summary", "VPN down"},
                             {"priority", "P1"},
                             {"queue", "network-ops"},
                             {"tier", "1"},
                             {"solution", "replaced the router"},
                             {"message", "replaced the router"},
                             {"interval", "30 دقيقة"},
                             {"satisfaction", "https://desk.example/s/31?a=31"}};
    assert_int_equal(NOTIF_N_VARS, 11);
    for (size_t i = 0; i < NOTIF_N_VARS; i++) {
        assert_string_equal(v.v[i].name, want[i][0]);
        assert_string_equal(v.v[i].value, want[i][1]);
    }
    notif_vars_fill(&v, "en", &f.ev, &f.t, NULL, 0, "");
    assert_string_equal(v.tickets, "#31");
    assert_string_equal(v.satisfaction, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_ack_per_contact),
        cmocka_unit_test(test_customer_kinds),
        cmocka_unit_test(test_escalated),
        cmocka_unit_test(test_breach_only_with_team),
        cmocka_unit_test(test_other_kinds_nothing),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_interval_and_vars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
