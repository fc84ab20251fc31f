/* Priority rules files: every mistake a help desk can make is refused with an error naming the
 * file, the line and the key. */
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

/* Loads `text`, expects it refused, and checks the message holds every needle. */
static void expect_error(const char *text, const char *const *needles)
{
    char err[512] = "";
    hd_yaml *y = ut_yaml(text);
    prio_rules *r = prio_rules_from_yaml(y, "prio.yaml", err, sizeof err);
    hd_yaml_free(&y);
    if (r != NULL) {
        prio_rules_destroy(&r);
        fail_msg("accepted a bad file:\n%s", text);
    }
    ut_assert_err_has(err, needles);
}

#define EXPECT_ERROR(text, ...) expect_error(text, UT_NEEDLES(__VA_ARGS__))

static void test_unknown_priority(void **state)
{
    (void)state;
    EXPECT_ERROR("rules:\n"
                 "  - name: a\n"
                 "    when: {vip: true}\n"
                 "    priority: P7\n"
                 "default: P3\n",
                 "prio.yaml:4:", "rules[0].priority", "\"P7\"", "P1");
    EXPECT_ERROR("rules:\n"
                 "  - name: a\n"
                 "    priority: P2\n"
                 "  - name: b\n"
                 "    priority: urgent\n"
                 "default: P3\n",
                 "prio.yaml:5:", "rules[1].priority", "\"urgent\"");
    EXPECT_ERROR("default: P0\n", "prio.yaml:1:", "default", "\"P0\"");
    EXPECT_ERROR("matrix:\n  high: {low: P5}\ndefault: P3\n", "prio.yaml:2:", "matrix.high.low",
                 "\"P5\"");
    EXPECT_ERROR("rules:\n  - name: a\n    priority: [P1]\ndefault: P3\n",
                 "prio.yaml:3:", "rules[0].priority");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    EXPECT_ERROR("rules: []\ndefualt: P3\n", "prio.yaml:2:", "\"defualt\"");
    EXPECT_ERROR("rules:\n"
                 "  - name: a\n"
                 "    priority: P1\n"
                 "    queue: x\n"
                 "default: P3\n",
                 "prio.yaml:4:", "rules[0]", "\"queue\"");
    EXPECT_ERROR("rules:\n"
                 "  - name: a\n"
                 "    when:\n"
                 "      category: network\n"
                 "      colour: red\n"
                 "    priority: P1\n"
                 "default: P3\n",
                 "prio.yaml:5:", "rules[0].when", "\"colour\"", "keywords");
    EXPECT_ERROR("matrix:\n  huge: {low: P1}\ndefault: P3\n", "prio.yaml:2:", "matrix", "\"huge\"");
    EXPECT_ERROR("matrix:\n  high: {soon: P1}\ndefault: P3\n", "prio.yaml:2:", "matrix.high",
                 "\"soon\"");
    EXPECT_ERROR("rules:\n  - name: a\n    priority: P1\n    priority: P2\ndefault: P3\n",
                 "prio.yaml:4:", "rules[0]", "twice");
}

static void test_bad_condition_values(void **state)
{
    (void)state;
    EXPECT_ERROR("rules:\n  - name: a\n    when: {channel: [phone, fax]}\n    priority: P1\n"
                 "default: P3\n",
                 "prio.yaml:3:", "rules[0].when.channel", "\"fax\"", "on_site");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {urgency: asap}\n    priority: P1\n"
                 "default: P3\n",
                 "prio.yaml:3:", "rules[0].when.urgency", "\"asap\"");
    EXPECT_ERROR("rules:\n  - name: a\n    when:\n      impact: [high, massive]\n"
                 "    priority: P1\ndefault: P3\n",
                 "prio.yaml:4:", "rules[0].when.impact", "\"massive\"");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {min_users: many}\n    priority: P1\n"
                 "default: P3\n",
                 "prio.yaml:3:", "rules[0].when.min_users", "\"many\"");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {min_users: -1}\n    priority: P1\n"
                 "default: P3\n",
                 "rules[0].when.min_users");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {vip: maybe}\n    priority: P1\ndefault: P3\n",
                 "prio.yaml:3:", "rules[0].when.vip", "true or false");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {category: []}\n    priority: P1\ndefault: P3\n",
                 "prio.yaml:3:", "rules[0].when.category", "empty");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {keywords: [\"\"]}\n    priority: P1\n"
                 "default: P3\n",
                 "rules[0].when.keywords", "empty");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {keywords: [{x: 1}]}\n    priority: P1\n"
                 "default: P3\n",
                 "rules[0].when.keywords", "must be text");
    EXPECT_ERROR("rules:\n  - name: a\n    when:\n      attributes: {segment: []}\n"
                 "    priority: P1\ndefault: P3\n",
                 "prio.yaml:4:", "rules[0].when.attributes.segment");
    EXPECT_ERROR("rules:\n  - name: a\n    when: [vip]\n    priority: P1\ndefault: P3\n",
                 "prio.yaml:3:", "rules[0].when", "must be a map");
}

static void test_names_and_structure(void **state)
{
    (void)state;
    EXPECT_ERROR("rules:\n  - when: {vip: true}\n    priority: P1\ndefault: P3\n",
                 "prio.yaml:2:", "rules[0].name", "missing");
    EXPECT_ERROR("rules:\n  - name: a\n    priority: P1\n  - name: a\n    priority: P2\n"
                 "default: P3\n",
                 "prio.yaml:4:", "rules[1].name", "unique");
    EXPECT_ERROR("rules:\n  - name: two words\n    priority: P1\ndefault: P3\n",
                 "prio.yaml:2:", "rules[0].name", "one word");
    EXPECT_ERROR("rules:\n  - name: default\n    priority: P1\ndefault: P3\n", "rules[0].name",
                 "reserved");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {vip: true}\ndefault: P3\n",
                 "prio.yaml:2:", "rules[0].priority", "missing");
    EXPECT_ERROR("rules:\n  - name: a\n    priority: P1\n", "default", "missing");
    EXPECT_ERROR("rules: {name: a}\ndefault: P3\n", "prio.yaml:1:", "rules", "must be a list");
    EXPECT_ERROR("- a\n- b\n", "prio.yaml:1:", "must be a map");
}

static char *write_temp(const char *text)
{
    return ut_write_temp("/tmp/hd-prio-rules-", text);
}

static void test_load_file(void **state)
{
    (void)state;
    char err[512];
    char *path = write_temp("rules:\n  - name: a\n    priority: P9\ndefault: P3\n");
    assert_null(prio_rules_load(path, err, sizeof err));
    char want[300];
    snprintf(want, sizeof want, "%s:3: rules[0].priority", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    free(path);

    path = write_temp("rules:\n  - name: a\n   priority: [P1\n"); /* broken YAML */
    assert_null(prio_rules_load(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "line"));
    unlink(path);
    free(path);

    assert_null(prio_rules_load("/nonexistent/prio.yaml", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/prio.yaml"));

    path = write_temp("# only a default\ndefault: p2\n");
    prio_rules *r = prio_rules_load(path, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(prio_rules_count(r), 0);
    assert_int_equal(prio_rules_default(r), HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION);
    prio_rules_destroy(&r);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_priority),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_bad_condition_values),
        cmocka_unit_test(test_names_and_structure),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
