/* Prioritizer decisions: each condition kind, first match wins, the impact x urgency matrix,
 * the default, keywords in French/Arabic/Urdu text, and SLA deadlines from created_at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/prioritizer/prioritizer.h"
#include "../support/unit_helpers.h"
#include "hd/rules.h"

#define CREATED 1700000000000LL

typedef ut_ticket fixture;

/* A new ticket, created at CREATED. */
static void fx_init(fixture *f)
{
    ut_ticket_init(f, 42, HELPDESK__V1__STATUS__STATUS_NEW);
    f->t.created_at = CREATED;
}

static prio_rules *rules_from(const char *text)
{
    char err[512] = "";
    hd_yaml *y = ut_yaml(text);
    prio_rules *r = prio_rules_from_yaml(y, "test.yaml", err, sizeof err);
    hd_yaml_free(&y);
    if (r == NULL)
        fail_msg("rules: %s", err);
    return r;
}

/* Decides f with rules r and checks the priority and the rule that fired. */
static void expect(const prio_rules *r, const fixture *f, Helpdesk__V1__Priority p,
                   const char *rule)
{
    hd_sla sla;
    hd_sla_defaults(&sla);
    prio_decision d;
    prio_decide(r, &sla, &f->t, CREATED + 5, &d);
    assert_string_equal(d.pb.rule, rule);
    assert_int_equal(d.pb.priority, p);
    assert_ptr_equal(d.pb.sla, &d.sla);
}

#define P1 HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE
#define P2 HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION
#define P3 HELPDESK__V1__PRIORITY__PRIORITY_P3_REGULAR_SERVICE
#define P4 HELPDESK__V1__PRIORITY__PRIORITY_P4_PLANNED_EVENT

static void test_category(void **state)
{
    (void)state;
    prio_rules *r = rules_from("rules:\n"
                               "  - name: net\n"
                               "    when: {category: [network, datacenter]}\n"
                               "    priority: P2\n"
                               "default: P4\n");
    fixture f;
    fx_init(&f);
    f.problem.category = "Datacenter"; /* case does not matter */
    expect(r, &f, P2, "net");
    f.problem.category = "data"; /* whole value, not a substring */
    expect(r, &f, P4, "default");
    f.t.problem = NULL; /* a ticket without a problem never matches, never crashes */
    expect(r, &f, P4, "default");
    prio_rules_destroy(&r);
    prio_rules_destroy(&r); /* safe twice */
    assert_null(r);
}

static void test_keywords_summary_or_description(void **state)
{
    (void)state;
    prio_rules *r = rules_from("rules:\n"
                               "  - name: outage\n"
                               "    when: {keywords: [outage, \"is down\"]}\n"
                               "    priority: P1\n"
                               "default: P3\n");
    fixture f;
    fx_init(&f);
    f.problem.summary = "Total OUTAGE in building B";
    expect(r, &f, P1, "outage");
    f.problem.summary = "Printer jam";
    f.problem.description = "since this morning the VPN Is Down for everyone";
    expect(r, &f, P1, "outage");
    f.problem.description = "slow VPN";
    expect(r, &f, P3, "default");
    prio_rules_destroy(&r);
}

static void test_keywords_utf8(void **state)
{
    (void)state;
    prio_rules *r = rules_from("rules:\n"
                               "  - name: fr\n"
                               "    when: {keywords: [\"panne électrique\"]}\n"
                               "    priority: P1\n"
                               "  - name: ar\n"
                               "    when: {keywords: [\"انقطاع\"]}\n"
                               "    priority: P1\n"
                               "  - name: ur\n"
                               "    when: {keywords: [\"بند ہے\"]}\n"
                               "    priority: P2\n"
                               "default: P3\n");
    fixture f;
    fx_init(&f);
    /* French, different case, accented capital: É and é fold together. */
    f.problem.summary = "PANNE ÉLECTRIQUE au 3e étage";
    expect(r, &f, P1, "fr");
    f.problem.summary = "Panne électrique";
    expect(r, &f, P1, "fr");
    f.problem.summary = "panne electrique"; /* without the accent it is another word */
    expect(r, &f, P3, "default");
    /* Arabic in the middle of the description. */
    f.problem.summary = "مشكلة";
    f.problem.description = "يوجد انقطاع كامل في الشبكة";
    expect(r, &f, P1, "ar");
    /* Arabic text that only shares letters is no match. */
    f.problem.description = "قطع غيار";
    expect(r, &f, P3, "default");
    /* Urdu. */
    f.problem.description = "";
    f.problem.summary = "سرور بند ہے اور کوئی کام نہیں ہو رہا";
    expect(r, &f, P2, "ur");
    prio_rules_destroy(&r);

    assert_true(hd_cond_text_contains("ÀÉÎÕÜ", "àéîõü"));
    assert_true(hd_cond_text_contains("àéîõü", "ÀÉÎÕÜ"));
    assert_false(hd_cond_text_contains("×", "÷")); /* not letters: not folded */
    assert_true(hd_cond_text_contains("abc", ""));
    assert_false(hd_cond_text_contains("ab", "abc"));
}

static void test_channel_vip_contract_org_product(void **state)
{
    (void)state;
    prio_rules *r = rules_from("rules:\n"
                               "  - name: phone-gold\n"
                               "    when: {channel: [phone, on_site], contract_level: gold}\n"
                               "    priority: P1\n"
                               "  - name: vip\n"
                               "    when: {vip: true}\n"
                               "    priority: P2\n"
                               "  - name: acme-erp\n"
                               "    when: {organization: [ACME SA], product: [ERP, CRM]}\n"
                               "    priority: P2\n"
                               "  - name: not-vip\n"
                               "    when: {vip: no, organization: Globex}\n"
                               "    priority: P4\n"
                               "default: P3\n");
    fixture f;
    fx_init(&f);
    f.t.channel = HELPDESK__V1__CHANNEL__CHANNEL_PHONE;
    f.account.contract_level = "Gold";
    expect(r, &f, P1, "phone-gold");
    f.t.channel = HELPDESK__V1__CHANNEL__CHANNEL_EMAIL;
    expect(r, &f, P3, "default");
    f.customer.vip = true;
    expect(r, &f, P2, "vip");
    f.customer.vip = false;
    f.customer.organization = "acme sa";
    f.account.product = "erp";
    expect(r, &f, P2, "acme-erp");
    f.account.product = "Billing";
    expect(r, &f, P3, "default");
    f.customer.organization = "Globex";
    expect(r, &f, P4, "not-vip");
    f.customer.vip = true;
    expect(r, &f, P2, "vip");
    prio_rules_destroy(&r);
}

static void test_min_users_urgency_impact_attributes(void **state)
{
    (void)state;
    prio_rules *r = rules_from("rules:\n"
                               "  - name: many\n"
                               "    when: {min_users: 50}\n"
                               "    priority: P1\n"
                               "  - name: urgent-high\n"
                               "    when: {urgency: [critical, high], impact: high}\n"
                               "    priority: P2\n"
                               "  - name: hospital\n"
                               "    when:\n"
                               "      attributes: {segment: [healthcare, hospital], region: emea}\n"
                               "    priority: P2\n"
                               "default: P4\n");
    fixture f;
    fx_init(&f);
    f.problem.users_affected = 49;
    expect(r, &f, P4, "default");
    f.problem.users_affected = 50;
    expect(r, &f, P1, "many");
    f.problem.users_affected = 1;
    f.problem.urgency = HELPDESK__V1__LEVEL__LEVEL_HIGH;
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_HIGH;
    expect(r, &f, P2, "urgent-high");
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_LOW;
    expect(r, &f, P4, "default");
    ut_ticket_attr(&f, "Segment", "Hospital");
    expect(r, &f, P4, "default"); /* both attributes must hold */
    ut_ticket_attr(&f, "region", "EMEA");
    expect(r, &f, P2, "hospital");
    prio_rules_destroy(&r);
}

static void test_first_match_wins(void **state)
{
    (void)state;
    prio_rules *r = rules_from("rules:\n"
                               "  - name: first\n"
                               "    when: {category: network}\n"
                               "    priority: P2\n"
                               "  - name: second\n"
                               "    when: {category: network, min_users: 1}\n"
                               "    priority: P1\n"
                               "  - name: catch-all\n"
                               "    priority: P4\n"
                               "default: P3\n");
    fixture f;
    fx_init(&f);
    f.problem.category = "network";
    f.problem.users_affected = 500;
    expect(r, &f, P2, "first");
    f.problem.category = "printer";
    expect(r, &f, P4, "catch-all"); /* a rule without `when` matches everything */
    assert_int_equal(prio_rules_count(r), 3);
    prio_rules_destroy(&r);
}

static void test_matrix_then_default(void **state)
{
    (void)state;
    prio_rules *r = rules_from("rules:\n"
                               "  - name: vip\n"
                               "    when: {vip: true}\n"
                               "    priority: P2\n"
                               "matrix:\n"
                               "  high: {critical: P1, low: P3}\n"
                               "  low:\n"
                               "    low: P4\n"
                               "default: P3\n");
    fixture f;
    fx_init(&f);
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_HIGH;
    f.problem.urgency = HELPDESK__V1__LEVEL__LEVEL_CRITICAL;
    expect(r, &f, P1, "matrix:high/critical");
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_LOW;
    f.problem.urgency = HELPDESK__V1__LEVEL__LEVEL_LOW;
    expect(r, &f, P4, "matrix:low/low");
    f.problem.urgency = HELPDESK__V1__LEVEL__LEVEL_HIGH; /* no such cell */
    expect(r, &f, P3, "default");
    f.problem.urgency = HELPDESK__V1__LEVEL__LEVEL_UNSPECIFIED; /* urgency not given */
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_HIGH;
    expect(r, &f, P3, "default");
    f.customer.vip = true; /* rules come before the matrix */
    f.problem.urgency = HELPDESK__V1__LEVEL__LEVEL_CRITICAL;
    expect(r, &f, P2, "vip");
    assert_int_equal(prio_rules_default(r), P3);
    prio_rules_destroy(&r);
}

static void test_sla_deadlines_from_created_at(void **state)
{
    (void)state;
    prio_rules *r = rules_from("default: P1\n");
    fixture f;
    fx_init(&f);
    hd_sla sla;
    hd_sla_defaults(&sla);
    prio_decision d;
    prio_decide(r, &sla, &f.t, CREATED + 99999, &d);
    assert_int_equal(d.sla.first_response_due, CREATED + 900 * 1000LL);
    assert_int_equal(d.sla.update_interval_ms, 1800 * 1000LL);
    assert_int_equal(d.sla.resolution_due, CREATED + 14400 * 1000LL);
    assert_int_equal(d.sla.tier2_escalation_due, CREATED + 1800 * 1000LL);
    assert_int_equal(d.sla.tier3_escalation_due, CREATED + 7200 * 1000LL);
    /* No created_at: the deadlines count from now. */
    f.t.created_at = 0;
    prio_decide(r, &sla, &f.t, 5000, &d);
    assert_int_equal(d.sla.first_response_due, 5000 + 900 * 1000LL);
    prio_rules_destroy(&r);

    /* The default table of shared/DESIGN.md, P2..P4. */
    HdSlaDeadlines s;
    hd_sla_deadlines(&sla, P2, 0, &s);
    assert_int_equal(s.first_response_due, 3600000);
    assert_int_equal(s.update_interval_ms, 7200000);
    assert_int_equal(s.resolution_due, 28800000);
    assert_int_equal(s.tier2_escalation_due, 7200000);
    assert_int_equal(s.tier3_escalation_due, 18000000);
    hd_sla_deadlines(&sla, P3, 0, &s);
    assert_int_equal(s.first_response_due, 28800000);
    assert_int_equal(s.update_interval_ms, 86400000);
    assert_int_equal(s.resolution_due, 432000000);
    assert_int_equal(s.tier2_escalation_due, 172800000);
    assert_int_equal(s.tier3_escalation_due, 345600000);
    hd_sla_deadlines(&sla, P4, 0, &s);
    assert_int_equal(s.first_response_due, 172800000);
    assert_int_equal(s.update_interval_ms, 604800000);
    assert_int_equal(s.resolution_due, 1209600000);
    assert_int_equal(s.tier2_escalation_due, 604800000);
    assert_int_equal(s.tier3_escalation_due, 1036800000);
}

static void test_sla_from_config(void **state)
{
    (void)state;
    char *path = ut_write_temp(
        "/tmp/hd-prio-sla-", "sla:\n  P1:\n    first_response: 60\n  P3:\n    resolution: 3600\n");
    char err[256];
    hd_config *cfg = hd_config_load(path, err, sizeof err);
    assert_non_null(cfg);
    setenv("HD_SLA_P2_TIER3_AFTER", "77", 1);
    hd_sla sla;
    assert_int_equal(hd_sla_from_config(&sla, cfg, err, sizeof err), 0);
    assert_int_equal(sla.p[1].first_response, 60);
    assert_int_equal(sla.p[1].update_interval, 1800); /* untouched keys keep the default */
    assert_int_equal(sla.p[3].resolution, 3600);
    assert_int_equal(sla.p[2].tier3_after, 77);
    setenv("HD_SLA_P4_UPDATE_INTERVAL", "soon", 1);
    assert_int_equal(hd_sla_from_config(&sla, cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "sla.P4.update_interval"));
    unsetenv("HD_SLA_P4_UPDATE_INTERVAL");
    unsetenv("HD_SLA_P2_TIER3_AFTER");
    hd_config_destroy(&cfg);
    unlink(path);
    free(path);
}

/* The example file a help desk starts from must load and do what its comments say. */
static void test_example_file(void **state)
{
    (void)state;
    char err[512] = "";
    prio_rules *r = prio_rules_load("deploy/local/rules/priority.yaml", err, sizeof err);
    if (r == NULL)
        fail_msg("%s", err);
    fixture f;
    fx_init(&f);
    f.problem.category = "network";
    f.problem.users_affected = 120;
    f.problem.description = "انقطاع الشبكة في المبنى";
    expect(r, &f, P1, "datacenter-down");
    f.problem.users_affected = 3;
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_MEDIUM;
    f.problem.urgency = HELPDESK__V1__LEVEL__LEVEL_LOW;
    expect(r, &f, P3, "matrix:medium/low");
    f.problem.category = "installation";
    expect(r, &f, P4, "planned-work");
    f.problem.category = "printer";
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_UNSPECIFIED;
    expect(r, &f, P3, "default");
    prio_rules_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_category),
        cmocka_unit_test(test_keywords_summary_or_description),
        cmocka_unit_test(test_keywords_utf8),
        cmocka_unit_test(test_channel_vip_contract_org_product),
        cmocka_unit_test(test_min_users_urgency_impact_attributes),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_matrix_then_default),
        cmocka_unit_test(test_sla_deadlines_from_created_at),
        cmocka_unit_test(test_sla_from_config),
        cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
