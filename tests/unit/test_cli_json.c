/* The CLI's JSON writer: structure, commas, escaping, UTF-8 kept, bad bytes replaced; and the
 * JSON and text shapes of events and tickets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/cli/format.h"
#include "../../services/cli/json.h"

static void test_structure_and_commas(void **state)
{
    (void)state;
    cli_json *j = cli_json_new();
    cli_json_begin_object(j);
    cli_json_kint(j, "a", -5);
    cli_json_key(j, "list");
    cli_json_begin_array(j);
    cli_json_int(j, 1);
    cli_json_uint(j, UINT64_MAX);
    cli_json_begin_object(j);
    cli_json_end_object(j);
    cli_json_begin_array(j);
    cli_json_end_array(j);
    cli_json_null(j);
    cli_json_end_array(j);
    cli_json_kbool(j, "t", true);
    cli_json_kstr(j, "n", NULL);
    cli_json_end_object(j);
    assert_string_equal(cli_json_text(j), "{\"a\":-5,\"list\":[1,18446744073709551615,{},[],null],"
                                          "\"t\":true,\"n\":null}");
    cli_json_clear(j);
    cli_json_begin_array(j);
    cli_json_end_array(j);
    assert_string_equal(cli_json_text(j), "[]");
    assert_int_equal(cli_json_len(j), 2);
    cli_json_destroy(&j);
    cli_json_destroy(&j);
    assert_null(j);
}

static void test_escaping(void **state)
{
    (void)state;
    cli_json *j = cli_json_new();
    cli_json_string(j, "q\"b\\s/ n\n t\t r\r \x01\x1f\x7f");
    assert_string_equal(cli_json_text(j), "\"q\\\"b\\\\s/ n\\n t\\t r\\r \\u0001\\u001f\\u007f\"");
    cli_json_clear(j);
    cli_json_kstr(j, "k\"ey", "v");
    assert_string_equal(cli_json_text(j), "\"k\\\"ey\":\"v\"");
    cli_json_destroy(&j);
}

static void test_utf8_kept(void **state)
{
    (void)state;
    const char *texts[] = {"الطابعة لا تعمل", "ای میل نہیں آ رہی", "L'écran « clignote »",
                           "Jl. Sudirman — Jakarta", "emoji 🙂", "\xe2\x80\xa8 line sep"};
    cli_json *j = cli_json_new();
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cli_json_clear(j);
        cli_json_string(j, texts[i]);
        char want[256];
        snprintf(want, sizeof want, "\"%s\"", texts[i]);
        assert_string_equal(cli_json_text(j), want);
    }
    cli_json_destroy(&j);
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    cli_json *j = cli_json_new();
    cli_json_string(j, "a\xff" "b\xc3" "c\xed\xa0\x80" "d\xe2\x82");
    assert_string_equal(cli_json_text(j),
                        "\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\"");
    cli_json_destroy(&j);
}

static void test_large_document_grows(void **state)
{
    (void)state;
    cli_json *j = cli_json_new();
    cli_json_begin_array(j);
    for (int i = 0; i < 10000; i++)
        cli_json_string(j, "abcdefghij");
    cli_json_end_array(j);
    assert_int_equal(cli_json_len(j), 2 + 10000 * 13 - 1);
    cli_json_destroy(&j);
}

static void test_event_json(void **state)
{
    (void)state;
    HdTicketEvent e = HELPDESK__V1__TICKET_EVENT__INIT;
    e.seq = 12;
    e.ticket_id = 31;
    e.kind = HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED;
    e.actor = "prioritizer@box:1";
    e.at = 1795428001123; /* 2026-11-23T10:00:01.123Z */
    e.status = HELPDESK__V1__STATUS__STATUS_TRIAGED;
    e.priority = HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE;
    e.rule = "vip-outage";
    e.text = "priorité P1 — \"panne\"";
    cli_json *j = cli_json_new();
    cli_json_event(j, &e);
    assert_string_equal(cli_json_text(j),
                        "{\"seq\":12,\"ticket_id\":31,\"kind\":\"triaged\",\"at\":"
                        "\"2026-11-23T10:00:01.123Z\",\"status\":\"triaged\",\"priority\":\"P1\","
                        "\"tier\":0,\"from_tier\":0,\"actor\":\"prioritizer@box:1\",\"queue\":\"\","
                        "\"rule\":\"vip-outage\",\"text\":\"priorité P1 — \\\"panne\\\"\","
                        "\"reason\":\"\",\"channel\":\"\",\"recipient\":\"\",\"outcome\":\"\","
                        "\"assignee\":\"\",\"key\":\"\",\"direction\":\"\",\"subject\":\"\","
                        "\"deadline\":null,\"deadline_at\":null,\"satisfied\":null,\"attempt\":0}");
    cli_json_destroy(&j);
}

static void test_times(void **state)
{
    (void)state;
    char buf[64];
    cli_time_iso(1795428001123, false, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23T10:00:01Z");
    cli_time_iso(0, false, buf, sizeof buf);
    assert_string_equal(buf, "-");
    cli_duration(30 * 60000, buf, sizeof buf);
    assert_string_equal(buf, "30m");
    cli_duration(2 * 3600000, buf, sizeof buf);
    assert_string_equal(buf, "2h");
    cli_duration(36 * 3600000LL, buf, sizeof buf);
    assert_string_equal(buf, "1d 12h");
    cli_duration(3000, buf, sizeof buf);
    assert_string_equal(buf, "3s");
    cli_duration(61000, buf, sizeof buf);
    assert_string_equal(buf, "1m");
}

static char *render(void (*fn)(FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return text;
}

static void print_detail(FILE *f, const void *d) { cli_print_ticket(f, d); }
static void print_receipt(FILE *f, const void *r) { cli_print_receipt(f, r); }

static void test_ticket_text(void **state)
{
    (void)state;
    HdTicket t = HELPDESK__V1__TICKET__INIT;
    HdProblem p = HELPDESK__V1__PROBLEM__INIT;
    HdSlaDeadlines sla = HELPDESK__V1__SLA_DEADLINES__INIT;
    HdTicketEvent ev = HELPDESK__V1__TICKET_EVENT__INIT;
    HdTicketEvent *hist[] = {&ev};
    t.id = 31;
    t.status = HELPDESK__V1__STATUS__STATUS_QUEUED;
    t.priority = HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE;
    t.queue = "network";
    t.tier = 1;
    t.problem = &p;
    p.summary = "الشبكة متوقفة";
    p.description = "line one\nline two \x1b[31m";
    t.sla = &sla;
    sla.resolution_due = 1795428001000;
    sla.update_interval_ms = 1800000;
    ev.kind = HELPDESK__V1__EVENT_KIND__EVENT_CREATED;
    ev.actor = "intake";
    ev.at = 1795428001000;
    ev.text = "created from a phone contact taken by Sam";
    HdTicketDetail d = HELPDESK__V1__TICKET_DETAIL__INIT;
    d.ticket = &t;
    d.history = hist;
    d.n_history = 1;
    char *text = render(print_detail, &d);
    assert_non_null(strstr(text, "ticket 31  queued  P1 enterprise failure\n"));
    assert_non_null(strstr(text, "network, tier 1"));
    assert_non_null(strstr(text, "الشبكة متوقفة"));
    assert_non_null(strstr(text, "update every   30m"));
    assert_null(strchr(text, '\x1b')); /* escape sequences never reach the terminal */
    assert_non_null(
        strstr(text, "  2026-11-23T10:00:01Z  created  by intake  — created from a phone"));
    free(text);

    HdContactReceipt r = HELPDESK__V1__CONTACT_RECEIPT__INIT;
    int64_t ids[] = {31, 32, 33};
    r.contact_id = 12;
    r.ticket_ids = ids;
    r.n_ticket_ids = 3;
    text = render(print_receipt, &r);
    assert_string_equal(text, "contact 12: tickets 31 32 33\n");
    free(text);
    r.duplicate = true;
    text = render(print_receipt, &r);
    assert_string_equal(text, "contact 12: tickets 31 32 33 (already received)\n");
    free(text);
}

/* The history line of one event, without the time and actor in front. */
static char *history_line(const HdTicketEvent *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cli_print_history_line(f, e);
    fclose(f);
    return text;
}

static void expect_line(const HdTicketEvent *e, const char *want)
{
    char *line = history_line(e);
    if (strstr(line, want) == NULL)
        fail_msg("history line \"%s\" lacks \"%s\"", line, want);
    assert_null(strchr(line, '\x1b'));
    assert_int_equal(strchr(line, '\n') - line, (long)strlen(line) - 1); /* one line */
    free(line);
}

#define AT 1795428001000 /* 2026-11-23T10:00:01Z */
#define EVENT(kind_)                                                                               \
    HdTicketEvent e = HELPDESK__V1__TICKET_EVENT__INIT;                                            \
    e.kind = HELPDESK__V1__EVENT_KIND__EVENT_##kind_;                                              \
    e.at = AT;                                                                                     \
    e.actor = "sam";                                                                               \
    e.ticket_id = 31

static void test_event_lines_workflow(void **state)
{
    (void)state;
    {
        EVENT(TAKEN);
        e.assignee = "sam";
        e.text = "taken by sam";
        expect_line(&e, "2026-11-23T10:00:01Z  taken  by sam  — assignee sam\n");
    }
    {
        EVENT(NOTE);
        e.text = "تم استبدال الكابل\nline two\x1b[0m";
        expect_line(&e, "note  by sam  — تم استبدال الكابل line two?[0m\n");
    }
    {
        EVENT(REPLY);
        e.text = "Bonjour, c'est réparé";
        expect_line(&e, "reply  by sam  — to the customer: Bonjour, c'est réparé\n");
    }
    {
        EVENT(CONTACT_LOGGED);
        e.direction = "inbound";
        e.channel = "phone";
        e.text = "گاہک نے فون کیا";
        expect_line(&e, "contact_logged  by sam  — inbound phone: گاہک نے فون کیا\n");
    }
    {
        EVENT(WAITING);
        e.reason = "waiting for logs";
        expect_line(&e, "waiting  by sam  — waiting for logs\n");
    }
    {
        EVENT(CLOSED); /* nothing to say: no dash */
        expect_line(&e, "closed  by sam\n");
    }
    {
        EVENT(RESOLVED);
        e.text = "Replaced the roller";
        expect_line(&e, "resolved  by sam  — solution: Replaced the roller\n");
    }
    {
        EVENT(REOPENED);
        e.reason = "customer not satisfied";
        expect_line(&e, "reopened  by sam  — customer not satisfied\n");
    }
    {
        EVENT(REPRIORITIZED);
        e.priority = HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION;
        e.reason = "only one user";
        expect_line(&e, "reprioritized  by sam  — to P2: only one user\n");
    }
    {
        EVENT(SATISFACTION);
        e.satisfied = 2;
        e.text = "toujours en panne";
        expect_line(&e, "satisfaction  by sam  — not satisfied: toujours en panne\n");
        e.satisfied = 1;
        e.text = NULL;
        expect_line(&e, "satisfaction  by sam  — satisfied\n");
    }
}

static void test_event_lines_sla(void **state)
{
    (void)state;
    {
        EVENT(SLA_BREACH);
        e.deadline = HELPDESK__V1__DEADLINE__DEADLINE_RESOLUTION;
        e.deadline_at = AT - 1000 + 60 * 60 * 1000 - 1000 * 60 * 60; /* 10:00:00Z, same day */
        expect_line(&e, "sla_breach  by sam  — resolution due 10:00:00Z\n");
    }
    {
        EVENT(SLA_WARNING);
        e.deadline = HELPDESK__V1__DEADLINE__DEADLINE_FIRST_RESPONSE;
        e.deadline_at = AT + 86400000LL; /* another day: the date too */
        expect_line(&e, "sla_warning  by sam  — first_response due 2026-11-24T10:00:01Z\n");
    }
    {
        EVENT(UPDATE_DUE);
        e.deadline = HELPDESK__V1__DEADLINE__DEADLINE_UPDATE;
        e.deadline_at = AT + 299000; /* 10:05:00Z */
        expect_line(&e, "update_due  by sam  — update due 10:05:00Z\n");
    }
    {
        EVENT(ESCALATION_REQUESTED);
        e.from_tier = 1;
        e.deadline = HELPDESK__V1__DEADLINE__DEADLINE_TIER2;
        e.deadline_at = AT - 1000;
        e.reason = "tier 1 not resolved within the tier2 deadline";
        expect_line(&e, "escalation_requested  by sam  — from tier 1, tier2 due 10:00:00Z: tier 1 "
                        "not resolved within the tier2 deadline\n");
        e.deadline = HELPDESK__V1__DEADLINE__DEADLINE_UNSPECIFIED;
        e.reason = "needs the network team";
        expect_line(&e, "— from tier 1: needs the network team\n");
    }
    {
        EVENT(ESCALATED);
        e.from_tier = 1;
        e.tier = 2;
        e.queue = "network-l2";
        e.rule = "x";
        e.reason = "reason";
        expect_line(&e, "escalated  by sam  — tier 1 -> 2 queue network-l2 by rule x: reason\n");
        e.from_tier = 3;
        e.tier = 3;
        e.rule = "manager";
        e.recipient = "noc-manager@example.com";
        expect_line(&e, "— tier 3 -> manager noc-manager@example.com by rule manager: reason\n");
    }
    {
        EVENT(COMMUNICATION);
        e.channel = "email";
        e.recipient = "a@b.c";
        e.outcome = "sent";
        e.attempt = 1;
        expect_line(&e, "communication  by sam  — email to a@b.c: sent (attempt 1)\n");
        e.outcome = "failed: connection refused";
        e.attempt = 3;
        e.subject = "Ticket 31 — تحديث";
        expect_line(&e, "— email to a@b.c: failed: connection refused (attempt 3), subject: "
                        "Ticket 31 — تحديث\n");
    }
    {
        /* the kinds of issue 2 keep their own text, or show the state */
        EVENT(QUEUED);
        e.status = HELPDESK__V1__STATUS__STATUS_QUEUED;
        e.queue = "network-ops";
        e.tier = 1;
        e.rule = "net";
        expect_line(&e, "queued  by sam  — status queued, queue network-ops tier 1, rule net\n");
    }
}

static void test_event_json_new_fields(void **state)
{
    (void)state;
    EVENT(COMMUNICATION);
    e.seq = 7;
    e.channel = "email";
    e.recipient = "a@b.c";
    e.outcome = "sent";
    e.attempt = 2;
    e.key = "ack/12";
    e.subject = "Tiket 31";
    e.deadline = HELPDESK__V1__DEADLINE__DEADLINE_UPDATE;
    e.deadline_at = AT;
    e.satisfied = 1;
    e.from_tier = 2;
    e.direction = "outbound";
    e.reason = "r";
    cli_json *j = cli_json_new();
    cli_json_event(j, &e);
    const char *t = cli_json_text(j);
    const char *want[] = {"\"reason\":\"r\"", "\"deadline\":\"update\"",
                          "\"deadline_at\":\"2026-11-23T10:00:01.000Z\"", "\"channel\":\"email\"",
                          "\"recipient\":\"a@b.c\"", "\"outcome\":\"sent\"", "\"key\":\"ack/12\"",
                          "\"satisfied\":\"satisfied\"", "\"direction\":\"outbound\"",
                          "\"attempt\":2", "\"from_tier\":2", "\"subject\":\"Tiket 31\""};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(t, want[i]) == NULL)
            fail_msg("%s lacks %s", t, want[i]);
    cli_json_destroy(&j);
}

static void print_action(FILE *f, const void *d) { cli_print_action(f, d); }
static void print_hits(FILE *f, const void *r) { cli_print_hits(f, r); }

static void test_ticket_workflow_fields(void **state)
{
    (void)state;
    HdTicket t = HELPDESK__V1__TICKET__INIT;
    HdSlaDeadlines sla = HELPDESK__V1__SLA_DEADLINES__INIT;
    t.id = 31;
    t.status = HELPDESK__V1__STATUS__STATUS_WAITING_CUSTOMER;
    t.sla = &sla;
    sla.first_response_due = AT + 899000;
    sla.resolution_due = AT + 3600000;
    sla.update_interval_ms = 1800000;
    t.first_response_at = AT + 60000;
    t.next_update_due = AT + 1799000;
    t.paused_at = AT + 120000;
    HdTicketDetail d = HELPDESK__V1__TICKET_DETAIL__INIT;
    d.ticket = &t;
    char *text = render(print_detail, &d);
    assert_non_null(strstr(text, "first response 2026-11-23T10:01:01Z (due 2026-11-23T10:15:00Z)"));
    assert_non_null(strstr(text, "next update    2026-11-23T10:30:00Z"));
    assert_non_null(strstr(text, "clock paused   since 2026-11-23T10:02:01Z"));
    assert_null(strstr(text, "  solution "));
    free(text);

    t.status = HELPDESK__V1__STATUS__STATUS_CLOSED;
    t.paused_at = 0;
    t.first_response_at = 0;
    t.resolved_at = AT + 600000;
    t.closed_at = AT + 700000;
    t.solution = "Remplacé le câble réseau";
    t.satisfaction = 2;
    text = render(print_detail, &d);
    assert_non_null(strstr(text, "first response not yet, due 2026-11-23T10:15:00Z"));
    assert_non_null(strstr(text, "resolved       2026-11-23T10:10:01Z"));
    assert_non_null(strstr(text, "closed         2026-11-23T10:11:41Z"));
    assert_non_null(strstr(text, "solution       Remplacé le câble réseau"));
    assert_non_null(strstr(text, "satisfaction   not satisfied"));
    free(text);

    cli_json *j = cli_json_new();
    cli_json_ticket(j, &t);
    assert_non_null(strstr(cli_json_text(j), "\"first_response_at\":null,\"next_update_due\":"
                                             "\"2026-11-23T10:30:00.000Z\",\"paused_at\":null,"
                                             "\"resolved_at\":\"2026-11-23T10:10:01.000Z\""));
    assert_non_null(strstr(cli_json_text(j), "\"solution\":\"Remplacé le câble réseau\","
                                             "\"satisfaction\":\"not_satisfied\"}"));
    cli_json_destroy(&j);

    /* an action: the new state and only the events it made */
    HdTicketEvent ev = HELPDESK__V1__TICKET_EVENT__INIT;
    HdTicketEvent *hist[] = {&ev};
    ev.kind = HELPDESK__V1__EVENT_KIND__EVENT_CLOSED;
    ev.actor = "sam";
    ev.at = AT;
    d.history = hist;
    d.n_history = 1;
    t.queue = "network-ops";
    t.tier = 2;
    t.assignee = "sam";
    text = render(print_action, &d);
    assert_string_equal(text, "ticket 31  closed\n"
                              "  queue          network-ops, tier 2\n"
                              "  assignee       sam\n"
                              "  2026-11-23T10:00:01Z  closed  by sam\n");
    free(text);
}

static void test_hits(void **state)
{
    (void)state;
    HdTicket t = HELPDESK__V1__TICKET__INIT;
    HdProblem p = HELPDESK__V1__PROBLEM__INIT;
    t.id = 12;
    t.status = HELPDESK__V1__STATUS__STATUS_RESOLVED;
    t.problem = &p;
    p.summary = "الطابعة لا تعمل";
    t.solution = "أعيد تشغيل الطابعة";
    HdSearchHit h = HELPDESK__V1__SEARCH_HIT__INIT;
    h.ticket = &t;
    h.rank = 0.5f;
    HdSearchHit *hits[] = {&h};
    HdSearchResults r = HELPDESK__V1__SEARCH_RESULTS__INIT;
    r.hits = hits;
    r.n_hits = 1;
    char *text = render(print_hits, &r);
    assert_string_equal(text, "12       resolved  rank 0.500  الطابعة لا تعمل\n"
                              "         solution: أعيد تشغيل الطابعة\n");
    free(text);
    cli_json *j = cli_json_new();
    cli_json_hits(j, &r);
    assert_true(strncmp(cli_json_text(j), "[{\"rank\":0.5,\"ticket\":{\"id\":12,", 31) == 0);
    cli_json_destroy(&j);
    r.n_hits = 0;
    text = render(print_hits, &r);
    assert_string_equal(text, "(no resolved ticket matches)\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure_and_commas), cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_utf8_kept),            cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_large_document_grows), cmocka_unit_test(test_event_json),
        cmocka_unit_test(test_times),                cmocka_unit_test(test_ticket_text),
        cmocka_unit_test(test_event_lines_workflow), cmocka_unit_test(test_event_lines_sla),
        cmocka_unit_test(test_event_json_new_fields), cmocka_unit_test(test_ticket_workflow_fields),
        cmocka_unit_test(test_hits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
