/* The router's escalation side: escalation rules by queue, to_tier and the route conditions;
 * the default escalation (same queue, next tier); the manager beyond tier 3; and the mistakes
 * in escalation: and managers: refused with file, line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/router/router.h"

static route_rules *parse(const char *text, char *err, size_t errlen)
{
    hd_yaml *y = hd_yaml_load_string(text, strlen(text), err, errlen);
    if (y == NULL)
        fail_msg("yaml: %s", err);
    route_rules *r = route_rules_from_yaml(y, "routing.yaml", err, errlen);
    hd_yaml_free(&y);
    return r;
}

static route_rules *rules_from(const char *text)
{
    char err[512] = "";
    route_rules *r = parse(text, err, sizeof err);
    if (r == NULL)
        fail_msg("rules: %s", err);
    return r;
}

static void expect_error(const char *text, const char *const *needles)
{
    char err[512] = "";
    route_rules *r = parse(text, err, sizeof err);
    if (r != NULL) {
        route_rules_destroy(&r);
        fail_msg("accepted a bad file:\n%s", text);
    }
    for (size_t i = 0; needles[i]; i++)
        if (strstr(err, needles[i]) == NULL)
            fail_msg("error \"%s\" lacks \"%s\"", err, needles[i]);
}

#define EXPECT_ERROR(text, ...)                                                                    \
    do {                                                                                           \
        const char *const needles_[] = {__VA_ARGS__, NULL};                                        \
        expect_error(text, needles_);                                                              \
    } while (0)

static const char *const FILE_TEXT =
    "rules:\n"
    "  - {name: net, when: {category: network}, queue: network-ops}\n"
    "default: {queue: service-desk}\n"
    "escalation:\n"
    "  - name: network-tier2\n"
    "    when: {queue: [network-ops], to_tier: [2]}\n"
    "    queue: network-l2\n"
    "    assignee: \"\"\n"
    "  - name: network-tier3\n"
    "    when: {queue: [network-ops, network-l2], to_tier: 3}\n"
    "    queue: network-l3\n"
    "    assignee: Ana Lopez\n"
    "  - name: vip-any\n"
    "    when: {vip: true}\n"
    "    queue: key-accounts\n"
    "managers: {network-ops: noc-manager@example.com, default: desk-manager@example.com}\n";

typedef struct {
    HdTicket t;
    HdCustomer customer;
    HdProblem problem;
    HdEscalationRequest req;
} fixture;

static void fx_init(fixture *f, const char *queue, uint32_t tier, uint32_t to_tier)
{
    helpdesk__v1__ticket__init(&f->t);
    helpdesk__v1__customer__init(&f->customer);
    helpdesk__v1__problem__init(&f->problem);
    helpdesk__v1__escalation_request__init(&f->req);
    f->t.id = 3;
    f->t.status = HELPDESK__V1__STATUS__STATUS_QUEUED;
    f->t.queue = (char *)queue;
    f->t.tier = tier;
    f->t.assignee = "tier1-tech";
    f->t.customer = &f->customer;
    f->t.problem = &f->problem;
    f->req.from_tier = tier;
    f->req.to_tier = to_tier;
    f->req.reason = "tier 1 not resolved within 1800 s";
    f->req.deadline = HELPDESK__V1__DEADLINE__DEADLINE_TIER2;
}

static void expect(const route_rules *r, const fixture *f, const char *queue, unsigned tier,
                   const char *assignee, const char *rule, const char *manager)
{
    route_escalation d;
    route_escalate(r, &f->t, &f->req, &d);
    assert_string_equal(d.pb.rule, rule);
    assert_string_equal(d.pb.queue, queue);
    assert_int_equal(d.pb.tier, tier);
    assert_string_equal(d.pb.assignee, assignee);
    assert_string_equal(d.pb.manager, manager);
}

static void test_rules_by_queue_and_tier(void **state)
{
    (void)state;
    route_rules *r = rules_from(FILE_TEXT);
    assert_int_equal(route_rules_escalation_count(r), 3);
    assert_int_equal(route_rules_manager_count(r), 2);
    fixture f;
    fx_init(&f, "network-ops", 1, 2);
    expect(r, &f, "network-l2", 2, "", "network-tier2", "");
    fx_init(&f, "network-l2", 2, 3);
    expect(r, &f, "network-l3", 3, "Ana Lopez", "network-tier3", "");
    /* The route conditions work too. */
    fx_init(&f, "service-desk", 1, 2);
    f.customer.vip = 1;
    expect(r, &f, "key-accounts", 2, "", "vip-any", "");
    route_rules_destroy(&r);
}

static void test_default_escalation(void **state)
{
    (void)state;
    route_rules *r = rules_from(FILE_TEXT);
    fixture f;
    fx_init(&f, "service-desk", 1, 2);
    expect(r, &f, "service-desk", 2, "", "default-escalation", "");
    fx_init(&f, "network-l2", 2, 2); /* no rule for to_tier 2 from network-l2 */
    expect(r, &f, "network-l2", 2, "", "default-escalation", "");
    /* A file without escalation: or managers: (issue 2's files) still works. */
    route_rules *plain = rules_from("default: {queue: service-desk}\n");
    fx_init(&f, "field-paris", 2, 3);
    expect(plain, &f, "field-paris", 3, "", "default-escalation", "");
    fx_init(&f, "field-paris", 3, 4);
    expect(plain, &f, "field-paris", 3, "tier1-tech", "manager", "");
    route_rules_destroy(&plain);
    route_rules_destroy(&r);
}

static void test_manager_beyond_tier3(void **state)
{
    (void)state;
    route_rules *r = rules_from(FILE_TEXT);
    fixture f;
    fx_init(&f, "network-ops", 3, 4);
    expect(r, &f, "network-ops", 3, "tier1-tech", "manager", "noc-manager@example.com");
    fx_init(&f, "field-paris", 3, 4);
    expect(r, &f, "field-paris", 3, "tier1-tech", "manager", "desk-manager@example.com");
    route_rules_destroy(&r);
}

static void test_target_tier(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, "q", 1, 0); /* to_tier left out: the next tier */
    assert_int_equal(route_target_tier(&f.t, &f.req), 2);
    f.req.from_tier = 0;
    f.t.tier = 3;
    assert_int_equal(route_target_tier(&f.t, &f.req), 4);
    assert_int_equal(route_target_tier(&f.t, NULL), 4);
    f.req.to_tier = 9;
    assert_int_equal(route_target_tier(&f.t, &f.req), 4);
    f.req.to_tier = 1;
    assert_int_equal(route_target_tier(&f.t, &f.req), 2);
}

/* The example file shipped in deploy/local. */
static void test_example_file(void **state)
{
    (void)state;
    char err[512] = "";
    route_rules *r = route_rules_load("deploy/local/rules/routing.yaml", err, sizeof err);
    if (r == NULL)
        fail_msg("%s", err);
    fixture f;
    fx_init(&f, "network-ops", 1, 2);
    expect(r, &f, "network-l2", 2, "", "network-tier2", "");
    fx_init(&f, "network-l2", 2, 3);
    expect(r, &f, "network-l3", 3, "", "network-tier3", "");
    fx_init(&f, "network-l3", 3, 4);
    expect(r, &f, "network-l3", 3, "tier1-tech", "manager", "noc-manager@example.com");
    fx_init(&f, "service-desk", 3, 4);
    expect(r, &f, "service-desk", 3, "tier1-tech", "manager", "desk-manager@example.com");
    route_rules_destroy(&r);
}

#define BASE "default: {queue: service-desk}\n"

static void test_errors(void **state)
{
    (void)state;
    EXPECT_ERROR(BASE "escalation:\n  - name: a\n    when: {to_tier: 2}\n",
                 "routing.yaml:3:", "escalation[0].queue", "missing");
    EXPECT_ERROR(BASE "escalation:\n  - name: a\n    when: {to_tier: 4}\n    queue: x\n",
                 "routing.yaml:4:", "escalation[0].when.to_tier", "\"4\"", "managers");
    EXPECT_ERROR(BASE "escalation:\n  - name: a\n    when: {queue: \"\"}\n    queue: x\n",
                 "routing.yaml:4:", "escalation[0].when.queue", "empty");
    EXPECT_ERROR(BASE "escalation:\n  - name: a\n    tier: 2\n    queue: x\n", "routing.yaml:4:",
                 "escalation[0]", "unknown key \"tier\"");
    EXPECT_ERROR(BASE "escalation:\n  - name: manager\n    queue: x\n", "routing.yaml:3:",
                 "escalation[0].name", "reserved");
    EXPECT_ERROR(BASE "escalation:\n  - name: default-escalation\n    queue: x\n",
                 "escalation[0].name", "reserved");
    EXPECT_ERROR(BASE "escalation:\n  - {name: a, queue: x}\n  - {name: a, queue: y}\n",
                 "routing.yaml:4:", "escalation[1].name", "unique");
    EXPECT_ERROR(BASE "escalation: {name: a}\n", "routing.yaml:2:", "escalation",
                 "list of rules");
    EXPECT_ERROR(BASE "managers: [a, b]\n", "routing.yaml:2:", "managers", "map");
    EXPECT_ERROR(BASE "managers:\n  net ops: a@example.com\n", "routing.yaml:3:", "managers",
                 "\"net ops\"");
    EXPECT_ERROR(BASE "managers:\n  net: \"\"\n", "routing.yaml:3:", "managers.net", "empty");
    EXPECT_ERROR(BASE "managers:\n  net: \"a\\\"b\"\n", "routing.yaml:3:", "managers.net",
                 "quote");
    EXPECT_ERROR(BASE "managers:\n  net: a\n  net: b\n", "routing.yaml:4:", "given twice");
    EXPECT_ERROR(BASE "escalations: []\n", "unknown key \"escalations\"",
                 "rules, default, escalation, managers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_by_queue_and_tier),
        cmocka_unit_test(test_default_escalation),
        cmocka_unit_test(test_manager_beyond_tier3),
        cmocka_unit_test(test_target_tier),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
