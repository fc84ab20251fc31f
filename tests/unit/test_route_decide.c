/* Router decisions: each condition kind, first match wins, the default queue, tier and
 * assignee, and matching on text in several scripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/router/router.h"
#include "../support/unit_helpers.h"
#include "hd/rules.h"

typedef ut_ticket fixture;

/* A triaged P3 ticket, as the store hands it to a router. */
static void fx_init(fixture *f)
{
    ut_ticket_init(f, 7, HELPDESK__V1__STATUS__STATUS_TRIAGED);
    f->t.priority = HELPDESK__V1__PRIORITY__PRIORITY_P3_REGULAR_SERVICE;
}

static route_rules *rules_from(const char *text)
{
    char err[512] = "";
    hd_yaml *y = ut_yaml(text);
    route_rules *r = route_rules_from_yaml(y, "test.yaml", err, sizeof err);
    hd_yaml_free(&y);
    if (r == NULL)
        fail_msg("rules: %s", err);
    return r;
}

static void expect(const route_rules *r, const fixture *f, const char *queue, unsigned tier,
                   const char *assignee, const char *rule)
{
    route_decision d;
    route_decide(r, &f->t, &d);
    assert_string_equal(d.pb.rule, rule);
    assert_string_equal(d.pb.queue, queue);
    assert_int_equal(d.pb.tier, tier);
    assert_string_equal(d.pb.assignee, assignee);
}

#define P1 HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE
#define P2 HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION
#define P4 HELPDESK__V1__PRIORITY__PRIORITY_P4_PLANNED_EVENT

static void test_category_and_priority(void **state)
{
    (void)state;
    route_rules *r = rules_from("rules:\n"
                                "  - name: network-p1\n"
                                "    when: {category: [network], priority: [P1, P2]}\n"
                                "    queue: network-ops\n"
                                "    tier: 2\n"
                                "  - name: network\n"
                                "    when: {category: network}\n"
                                "    queue: network-ops\n"
                                "default: {queue: service-desk, tier: 1}\n");
    fixture f;
    fx_init(&f);
    f.problem.category = "Network";
    f.t.priority = P1;
    expect(r, &f, "network-ops", 2, "", "network-p1");
    f.t.priority = P2;
    expect(r, &f, "network-ops", 2, "", "network-p1");
    f.t.priority = P4;
    expect(r, &f, "network-ops", 1, "", "network"); /* tier defaults to 1 */
    f.problem.category = "printer";
    expect(r, &f, "service-desk", 1, "", "default");
    assert_string_equal(route_rules_default_queue(r), "service-desk");
    assert_int_equal(route_rules_count(r), 2);
    route_rules_destroy(&r);
    route_rules_destroy(&r);
    assert_null(r);
}

static void test_location(void **state)
{
    (void)state;
    route_rules *r = rules_from("rules:\n"
                                "  - name: paris\n"
                                "    when: {site: [paris-hq, paris-nord], category: hardware}\n"
                                "    queue: field-paris\n"
                                "    assignee: jdupont\n"
                                "  - name: jakarta\n"
                                "    when: {city: Jakarta}\n"
                                "    queue: field-jakarta\n"
                                "  - name: pakistan\n"
                                "    when: {country: [PK, Pakistan]}\n"
                                "    queue: desk-pk\n"
                                "default: {queue: service-desk}\n");
    fixture f;
    fx_init(&f);
    f.location.site = "PARIS-HQ";
    f.problem.category = "hardware";
    expect(r, &f, "field-paris", 1, "jdupont", "paris");
    f.problem.category = "software";
    expect(r, &f, "service-desk", 1, "", "default");
    f.location.city = "jakarta";
    expect(r, &f, "field-jakarta", 1, "", "jakarta");
    f.location.city = "";
    f.location.country = "pk";
    expect(r, &f, "desk-pk", 1, "", "pakistan");
    f.t.location = NULL; /* no location: location rules never match */
    expect(r, &f, "service-desk", 1, "", "default");
    route_rules_destroy(&r);
}

static void test_customer_and_account(void **state)
{
    (void)state;
    route_rules *r = rules_from("rules:\n"
                                "  - name: vip\n"
                                "    when: {vip: true}\n"
                                "    queue: vip-desk\n"
                                "    tier: 2\n"
                                "    assignee: Amina Khan\n"
                                "  - name: acme\n"
                                "    when: {organization: [ACME SA]}\n"
                                "    queue: acme-team\n"
                                "  - name: erp-gold\n"
                                "    when: {product: ERP, contract_level: [gold, platinum]}\n"
                                "    queue: erp-premium\n"
                                "  - name: healthcare\n"
                                "    when: {attributes: {segment: healthcare}}\n"
                                "    queue: health\n"
                                "  - name: mena\n"
                                "    when: {language: [ar, ur]}\n"
                                "    queue: desk-mena\n"
                                "default: {queue: service-desk}\n");
    fixture f;
    fx_init(&f);
    f.customer.vip = true;
    expect(r, &f, "vip-desk", 2, "Amina Khan", "vip");
    f.customer.vip = false;
    f.customer.organization = "Acme SA";
    expect(r, &f, "acme-team", 1, "", "acme");
    f.customer.organization = "";
    f.account.product = "erp";
    f.account.contract_level = "Platinum";
    expect(r, &f, "erp-premium", 1, "", "erp-gold");
    f.account.contract_level = "bronze";
    expect(r, &f, "service-desk", 1, "", "default");
    ut_ticket_attr(&f, "segment", "Healthcare");
    expect(r, &f, "health", 1, "", "healthcare");
    f.customer.n_attributes = 0;
    f.customer.language = "ur";
    expect(r, &f, "desk-mena", 1, "", "mena");
    f.t.customer = NULL;
    expect(r, &f, "service-desk", 1, "", "default");
    route_rules_destroy(&r);
}

static void test_keywords_channel_levels(void **state)
{
    (void)state;
    route_rules *r =
        rules_from("rules:\n"
                   "  - name: printers\n"
                   "    when: {keywords: [imprimante, printer, \"طابعة\", \"پرنٹر\"]}\n"
                   "    queue: desk-side\n"
                   "  - name: walk-in\n"
                   "    when: {channel: on_site}\n"
                   "    queue: walk-in\n"
                   "  - name: big\n"
                   "    when: {min_users: 100, impact: [high, critical]}\n"
                   "    queue: major-incident\n"
                   "    tier: 3\n"
                   "default: {queue: service-desk, tier: 1, assignee: \"\"}\n");
    fixture f;
    fx_init(&f);
    f.problem.summary = "L'IMPRIMANTE du 2e étage";
    expect(r, &f, "desk-side", 1, "", "printers");
    f.problem.summary = "الطابعة لا تعمل";
    expect(r, &f, "desk-side", 1, "", "printers");
    f.problem.summary = "";
    f.problem.description = "پرنٹر کام نہیں کر رہا";
    expect(r, &f, "desk-side", 1, "", "printers");
    f.problem.description = "";
    f.t.channel = HELPDESK__V1__CHANNEL__CHANNEL_ON_SITE;
    expect(r, &f, "walk-in", 1, "", "walk-in");
    f.t.channel = HELPDESK__V1__CHANNEL__CHANNEL_WEB;
    f.problem.users_affected = 100;
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_CRITICAL;
    expect(r, &f, "major-incident", 3, "", "big");
    f.problem.impact = HELPDESK__V1__LEVEL__LEVEL_MEDIUM;
    expect(r, &f, "service-desk", 1, "", "default");
    route_rules_destroy(&r);

    assert_true(hd_cond_text_contains("ÉCRAN NOIR", "écran"));
    assert_false(hd_cond_text_contains("طابعة", "طابعات"));
}

static void test_example_file(void **state)
{
    (void)state;
    char err[512] = "";
    route_rules *r = route_rules_load("deploy/local/rules/routing.yaml", err, sizeof err);
    if (r == NULL)
        fail_msg("%s", err);
    fixture f;
    fx_init(&f);
    f.problem.category = "network";
    f.t.priority = P1;
    expect(r, &f, "network-ops", 2, "", "network-major");
    f.t.priority = P2;
    expect(r, &f, "network-ops", 1, "", "network");
    f.problem.category = "printer";
    f.customer.language = "ar";
    expect(r, &f, "desk-mena", 1, "", "arabic-urdu-desk");
    f.customer.language = "fr";
    expect(r, &f, "service-desk", 1, "", "default");
    route_rules_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_category_and_priority),
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_customer_and_account),
        cmocka_unit_test(test_keywords_channel_levels),
        cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
