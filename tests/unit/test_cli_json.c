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
                        "{\"seq\":12,\"ticket_id\":31,\"kind\":\"triaged\",\"actor\":"
                        "\"prioritizer@box:1\",\"at\":\"2026-11-23T10:00:01.123Z\",\"status\":"
                        "\"triaged\",\"priority\":\"P1\",\"queue\":\"\",\"tier\":0,\"rule\":"
                        "\"vip-outage\",\"text\":\"priorité P1 — \\\"panne\\\"\"}");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure_and_commas), cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_utf8_kept),            cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_large_document_grows), cmocka_unit_test(test_event_json),
        cmocka_unit_test(test_times),                cmocka_unit_test(test_ticket_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
