/* Routing rules files: every mistake is refused with an error naming the file, the line and
 * the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/router/router.h"
#include "../support/unit_helpers.h"

/* Loads `text`, expects it refused, and checks the message holds every needle. */
static void expect_error(const char *text, const char *const *needles)
{
    char err[512] = "";
    hd_yaml *y = ut_yaml(text);
    route_rules *r = route_rules_from_yaml(y, "routing.yaml", err, sizeof err);
    hd_yaml_free(&y);
    if (r != NULL) {
        route_rules_destroy(&r);
        fail_msg("accepted a bad file:\n%s", text);
    }
    ut_assert_err_has(err, needles);
}

#define EXPECT_ERROR(text, ...) expect_error(text, UT_NEEDLES(__VA_ARGS__))

#define DEFAULT "default: {queue: service-desk}\n"

static void test_queue_and_tier(void **state)
{
    (void)state;
    EXPECT_ERROR("rules:\n  - name: a\n    when: {category: network}\n" DEFAULT,
                 "routing.yaml:2:", "rules[0].queue", "missing");
    EXPECT_ERROR("rules:\n  - name: a\n    queue: network ops\n" DEFAULT,
                 "routing.yaml:3:", "rules[0].queue", "one word");
    EXPECT_ERROR("rules:\n  - name: a\n    queue: \"\"\n" DEFAULT,
                 "routing.yaml:3:", "rules[0].queue", "empty");
    EXPECT_ERROR("rules:\n  - name: a\n    queue: net\n    tier: 4\n" DEFAULT,
                 "routing.yaml:4:", "rules[0].tier", "\"4\"", "1, 2 or 3");
    EXPECT_ERROR("rules:\n  - name: a\n    queue: net\n    tier: 0\n" DEFAULT, "rules[0].tier");
    EXPECT_ERROR("rules:\n  - name: a\n    queue: net\n    tier: one\n" DEFAULT, "rules[0].tier",
                 "\"one\"");
    EXPECT_ERROR("rules:\n  - name: a\n    queue: net\n    assignee: \"a\\\"b\"\n" DEFAULT,
                 "routing.yaml:4:", "rules[0].assignee");
}

static void test_default(void **state)
{
    (void)state;
    EXPECT_ERROR("rules: []\n", "routing.yaml:1:", "default", "missing");
    EXPECT_ERROR("default: {tier: 2}\n", "routing.yaml:1:", "default.queue", "missing");
    EXPECT_ERROR("default: {queue: sd, tier: 5}\n", "default.tier", "\"5\"");
    EXPECT_ERROR("default: {queue: sd, team: x}\n", "default", "\"team\"");
    EXPECT_ERROR("default: service-desk\n", "default", "must be a map");
}

static void test_unknown_keys_and_values(void **state)
{
    (void)state;
    EXPECT_ERROR("rules:\n  - name: a\n    queue: q\n    priority: P1\n" DEFAULT,
                 "routing.yaml:4:", "rules[0]", "\"priority\"");
    EXPECT_ERROR("rules:\n  - name: a\n    when:\n      region: emea\n    queue: q\n" DEFAULT,
                 "routing.yaml:4:", "rules[0].when", "\"region\"", "country");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {priority: [P1, P7]}\n    queue: q\n" DEFAULT,
                 "routing.yaml:3:", "rules[0].when.priority", "\"P7\"");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {priority: urgent}\n    queue: q\n" DEFAULT,
                 "rules[0].when.priority", "\"urgent\"");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {site: []}\n    queue: q\n" DEFAULT,
                 "rules[0].when.site", "empty");
    EXPECT_ERROR("rules:\n  - name: a\n    when: {channel: pigeon}\n    queue: q\n" DEFAULT,
                 "rules[0].when.channel", "\"pigeon\"");
    EXPECT_ERROR("rules:\n  - name: a\n    queue: q\n  - name: a\n    queue: r\n" DEFAULT,
                 "routing.yaml:4:", "rules[1].name", "unique");
    EXPECT_ERROR("rules:\n  - queue: q\n" DEFAULT, "rules[0].name", "missing");
    EXPECT_ERROR("rules:\n  - name: default\n    queue: q\n" DEFAULT, "rules[0].name", "reserved");
    EXPECT_ERROR("routes: []\n" DEFAULT, "routing.yaml:1:", "\"routes\"");
}

static void test_load_file(void **state)
{
    (void)state;
    char *path = ut_write_temp("/tmp/hd-route-rules-", "rules:\n"
                                                      "  - name: a\n"
                                                      "    when: {category: network}\n"
                                                      "    queue: net\n"
                                                      "    tier: 9\n"
                                                      "default: {queue: sd}\n");
    char err[512], want[300];
    assert_null(route_rules_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s:5: rules[0].tier", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    free(path);
    assert_null(route_rules_load("/nonexistent/routing.yaml", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/routing.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_and_tier),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_unknown_keys_and_values),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
