/* The shared rules module on its own: a stage chooses the conditions it accepts, its rules
 * carry its own payload, and failures free what was built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hd/rules.h"

static hd_yaml *parse(const char *text)
{
    char err[256] = "";
    hd_yaml *y = hd_yaml_load_string(text, strlen(text), err, sizeof err);
    if (y == NULL)
        fail_msg("yaml: %s", err);
    return y;
}

static const char *const few_keys[] = {"keywords", "vip", "attributes", NULL};

static void test_cond_keys_are_a_parameter(void **state)
{
    (void)state;
    char err[512] = "";
    hd_rules_ctx ctx = {.source = "t.yaml", .err = err, .errlen = sizeof err};
    hd_yaml *y = parse("vip: true\ncategory: network\n");
    hd_cond_set *s = NULL;
    assert_int_equal(hd_cond_set_load(&ctx, y, "when", few_keys, &s), -1);
    assert_null(s);
    assert_string_equal(err, "t.yaml:2: when: unknown key \"category\" (expected conditions: "
                             "keywords, vip, attributes)");
    hd_yaml_free(&y);
}

static void test_cond_set_matches(void **state)
{
    (void)state;
    char err[512] = "";
    hd_rules_ctx ctx = {.source = "t.yaml", .err = err, .errlen = sizeof err};
    hd_yaml *y = parse("keywords: [PANNE, outage]\nvip: yes\nattributes: {segment: [Santé]}\n");
    hd_cond_set *s = NULL;
    assert_int_equal(hd_cond_set_load(&ctx, y, "when", few_keys, &s), 0);
    hd_yaml_free(&y);

    HdTicket t = HELPDESK__V1__TICKET__INIT;
    HdProblem p = HELPDESK__V1__PROBLEM__INIT;
    HdCustomer c = HELPDESK__V1__CUSTOMER__INIT;
    HdAttribute a = HELPDESK__V1__ATTRIBUTE__INIT;
    HdAttribute *attrs[] = {&a};
    p.summary = "Panne générale";
    c.vip = 1;
    a.key = "SEGMENT";
    a.value = "SANTÉ";
    c.attributes = attrs;
    c.n_attributes = 1;
    t.problem = &p;
    t.customer = &c;
    assert_true(hd_cond_set_matches(s, &t));
    c.vip = 0;
    assert_false(hd_cond_set_matches(s, &t));
    assert_true(hd_cond_set_matches(NULL, &t)); /* no conditions */

    hd_cond_set_destroy(&s);
    hd_cond_set_destroy(&s);
    assert_null(s);
}

/* A stage whose rules carry an owned string. */
static int load_label(hd_rules_ctx *ctx, const hd_yaml *rule, const char *path, void *payload)
{
    const char *label = hd_yaml_str(rule, "label");
    if (label == NULL)
        return hd_rules_fail(ctx, rule, path, "needs a label");
    *(char **)payload = strdup(label);
    return 0;
}

static void free_label(void *payload)
{
    free(*(char **)payload);
}

static bool reserved(const char *name)
{
    return strcmp(name, "fallback") == 0;
}

static const char *const rule_keys[] = {"name", "when", "label", NULL};
static const hd_rules_spec spec = {
    .rule_keys = rule_keys,
    .rule_expected = "name, when, label",
    .cond_keys = few_keys,
    .reserved = reserved,
    .reserved_why = "kept for the stage",
    .payload_size = sizeof(char *),
    .load_payload = load_label,
    .free_payload = free_label,
};

static void test_rules_first_match_and_payload(void **state)
{
    (void)state;
    char err[512] = "";
    hd_rules_ctx ctx = {.source = "t.yaml", .err = err, .errlen = sizeof err};
    hd_yaml *y = parse("- {name: vip, when: {vip: true}, label: first}\n"
                       "- {name: any, label: second}\n");
    hd_rules *r = NULL;
    assert_int_equal(hd_rules_load(&ctx, y, &spec, &r), 0);
    hd_yaml_free(&y);
    assert_int_equal(hd_rules_count(r), 2);

    HdTicket t = HELPDESK__V1__TICKET__INIT;
    const char *name = NULL;
    char *const *label = hd_rules_match(r, &t, &name);
    assert_non_null(label);
    assert_string_equal(name, "any");
    assert_string_equal(*label, "second");

    hd_rules_destroy(&r);
    hd_rules_destroy(&r);
    assert_null(r);
    assert_int_equal(hd_rules_count(NULL), 0);
    assert_null(hd_rules_match(NULL, &t, &name));
}

static void test_rules_errors_free_what_was_built(void **state)
{
    (void)state;
    char err[512] = "";
    hd_rules_ctx ctx = {.source = "t.yaml", .err = err, .errlen = sizeof err};
    hd_rules *r = NULL;

    /* The first rule's label is allocated before the second fails: ASan would report a leak. */
    hd_yaml *y = parse("- {name: a, label: x}\n- {name: b, when: {vip: maybe}, label: y}\n");
    assert_int_equal(hd_rules_load(&ctx, y, &spec, &r), -1);
    assert_null(r);
    assert_string_equal(err, "t.yaml:2: rules[1].when.vip: must be true or false");
    hd_yaml_free(&y);

    y = parse("- {name: fallback, label: x}\n");
    assert_int_equal(hd_rules_load(&ctx, y, &spec, &r), -1);
    assert_string_equal(err, "t.yaml:1: rules[0].name: \"fallback\" is kept for the stage");
    hd_yaml_free(&y);

    y = parse("- {name: a}\n");
    assert_int_equal(hd_rules_load(&ctx, y, &spec, &r), -1);
    assert_string_equal(err, "t.yaml:1: rules[0]: needs a label");
    hd_yaml_free(&y);

    y = parse("a: b\n");
    assert_int_equal(hd_rules_load(&ctx, y, &spec, &r), -1);
    assert_string_equal(err, "t.yaml:1: rules: must be a list of rules");
    hd_yaml_free(&y);

    assert_int_equal(hd_rules_load(&ctx, NULL, &spec, &r), 0);
    assert_int_equal(hd_rules_count(r), 0);
    hd_rules_destroy(&r);
}

/* Escalation conditions: queue looks at the ticket, to_tier at the request's facts. */
static void test_queue_and_to_tier(void **state)
{
    (void)state;
    static const char *const keys[] = {"queue", "to_tier", NULL};
    char err[512] = "";
    hd_rules_ctx ctx = {.source = "t.yaml", .err = err, .errlen = sizeof err};
    hd_yaml *y = parse("queue: [Network-Ops, field-paris]\nto_tier: [2]\n");
    hd_cond_set *s = NULL;
    assert_int_equal(hd_cond_set_load(&ctx, y, "when", keys, &s), 0);
    hd_yaml_free(&y);

    HdTicket t = HELPDESK__V1__TICKET__INIT;
    t.queue = "network-ops";
    hd_cond_facts two = {.to_tier = 2}, three = {.to_tier = 3};
    assert_true(hd_cond_set_matches_facts(s, &t, &two));
    assert_false(hd_cond_set_matches_facts(s, &t, &three));
    assert_false(hd_cond_set_matches_facts(s, &t, NULL)); /* no facts: to_tier never holds */
    assert_false(hd_cond_set_matches(s, &t));
    t.queue = "service-desk";
    assert_false(hd_cond_set_matches_facts(s, &t, &two));
    hd_cond_set_destroy(&s);

    y = parse("to_tier: [2, 4]\n");
    assert_int_equal(hd_cond_set_load(&ctx, y, "when", keys, &s), -1);
    assert_null(s);
    assert_non_null(strstr(err, "t.yaml:1: when.to_tier: unknown value \"4\" (expected 2, 3"));
    hd_yaml_free(&y);
}

/* hd_rules_match_facts, and a spec whose list has another key in messages. */
static void test_match_facts_and_list_key(void **state)
{
    (void)state;
    static const char *const keys[] = {"queue", "to_tier", NULL};
    hd_rules_spec esc = spec;
    esc.cond_keys = keys;
    esc.list_key = "escalation";
    char err[512] = "";
    hd_rules_ctx ctx = {.source = "t.yaml", .err = err, .errlen = sizeof err};
    hd_yaml *y = parse("- {name: t3, when: {to_tier: 3}, label: third}\n"
                       "- {name: t2, when: {to_tier: 2, queue: desk}, label: second}\n");
    hd_rules *r = NULL;
    assert_int_equal(hd_rules_load(&ctx, y, &esc, &r), 0);
    hd_yaml_free(&y);
    HdTicket t = HELPDESK__V1__TICKET__INIT;
    t.queue = "desk";
    const char *name = NULL;
    hd_cond_facts f = {.to_tier = 2};
    char *const *label = hd_rules_match_facts(r, &t, &f, &name);
    assert_non_null(label);
    assert_string_equal(name, "t2");
    f.to_tier = 3;
    label = hd_rules_match_facts(r, &t, &f, &name);
    assert_string_equal(*label, "third");
    assert_null(hd_rules_match(r, &t, &name));
    hd_rules_destroy(&r);

    y = parse("- {name: a, when: {queue: \"\"}, label: x}\n");
    assert_int_equal(hd_rules_load(&ctx, y, &esc, &r), -1);
    assert_non_null(strstr(err, "t.yaml:1: escalation[0].when.queue: is empty"));
    hd_yaml_free(&y);
    y = parse("a: b\n");
    assert_int_equal(hd_rules_load(&ctx, y, &esc, &r), -1);
    assert_string_equal(err, "t.yaml:1: escalation: must be a list of rules");
    hd_yaml_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_keys_are_a_parameter),
        cmocka_unit_test(test_cond_set_matches),
        cmocka_unit_test(test_rules_first_match_and_payload),
        cmocka_unit_test(test_rules_errors_free_what_was_built),
        cmocka_unit_test(test_queue_and_to_tier),
        cmocka_unit_test(test_match_facts_and_list_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
