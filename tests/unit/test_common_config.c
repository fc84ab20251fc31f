/* Config: file values, environment overrides, integer ranges with errors naming the key; the
 * table of settings and hd_config_check (unknown keys, types, ranges, environment names); the
 * README and the example files agree with the table. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hd/config.h"
#include "hd/yaml.h"

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/hd-config-test-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static const char *sample = "database_url: postgresql://x@127.0.0.1:1/db\n"
                            "store:\n"
                            "  api: tcp://127.0.0.1:7001\n"
                            "  lease_ms: 1500\n"
                            "  bad_number: 12abc\n"
                            "sla:\n"
                            "  P1:\n"
                            "    first_response: 60\n";

static int setup(void **state)
{
    unsetenv("HD_STORE_API");
    unsetenv("HD_STORE_LEASE_MS");
    unsetenv("HD_SLA_P1_FIRST_RESPONSE");
    unsetenv("HD_INTAKE_MAX_PROBLEMS");
    *state = write_temp(sample);
    return 0;
}

static int teardown(void **state)
{
    unlink(*state);
    free(*state);
    return 0;
}

static void test_file_values_and_defaults(void **state)
{
    char err[256];
    hd_config *cfg = hd_config_load(*state, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(hd_config_path(cfg), *state);
    assert_string_equal(hd_config_str(cfg, "store.api", "def"), "tcp://127.0.0.1:7001");
    assert_string_equal(hd_config_str(cfg, "database_url", NULL), "postgresql://x@127.0.0.1:1/db");
    assert_string_equal(hd_config_str(cfg, "store.work", "tcp://d"), "tcp://d");
    assert_null(hd_config_str(cfg, "nothing.here", NULL));
    assert_null(hd_config_str(cfg, "store", NULL)); /* a map is not a value */
    int64_t v = 10000;
    assert_int_equal(hd_config_int(cfg, "store.lease_ms", 1, 1000000, &v, err, sizeof err), 0);
    assert_int_equal(v, 1500);
    v = 60;
    assert_int_equal(hd_config_int(cfg, "sla.P1.first_response", 1, 100000, &v, err, sizeof err),
                     0);
    assert_int_equal(v, 60);
    v = 7;
    assert_int_equal(hd_config_int(cfg, "store.heartbeat_ms", 1, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, 7); /* absent: the default stays */
    hd_config_destroy(&cfg);
    assert_null(cfg);
    hd_config_destroy(&cfg);
}

static void test_environment_beats_file(void **state)
{
    char err[256];
    setenv("HD_STORE_API", "tcp://127.0.0.1:9999", 1);
    setenv("HD_STORE_LEASE_MS", "2500", 1);
    setenv("HD_SLA_P1_FIRST_RESPONSE", "30", 1);
    setenv("HD_INTAKE_MAX_PROBLEMS", "3", 1);
    hd_config *cfg = hd_config_load(*state, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(hd_config_str(cfg, "store.api", "def"), "tcp://127.0.0.1:9999");
    int64_t v = 0;
    assert_int_equal(hd_config_int(cfg, "store.lease_ms", 1, 1000000, &v, err, sizeof err), 0);
    assert_int_equal(v, 2500);
    assert_int_equal(hd_config_int(cfg, "sla.P1.first_response", 1, 1000, &v, err, sizeof err), 0);
    assert_int_equal(v, 30);
    assert_int_equal(hd_config_int(cfg, "intake.max_problems", 1, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 3); /* only in the environment */
    hd_config_destroy(&cfg);
    /* no file at all: environment and defaults */
    cfg = hd_config_load(NULL, err, sizeof err);
    assert_non_null(cfg);
    assert_null(hd_config_path(cfg));
    assert_string_equal(hd_config_str(cfg, "store.api", "def"), "tcp://127.0.0.1:9999");
    assert_string_equal(hd_config_str(cfg, "store.events", "def"), "def");
    hd_config_destroy(&cfg);
    unsetenv("HD_STORE_API");
    unsetenv("HD_STORE_LEASE_MS");
    unsetenv("HD_SLA_P1_FIRST_RESPONSE");
    unsetenv("HD_INTAKE_MAX_PROBLEMS");
}

static void test_int_errors_name_the_key(void **state)
{
    char err[256] = "";
    hd_config *cfg = hd_config_load(*state, err, sizeof err);
    assert_non_null(cfg);
    int64_t v = 5;
    assert_int_equal(hd_config_int(cfg, "store.lease_ms", 1, 1000, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "store.lease_ms"));
    assert_int_equal(v, 5); /* unchanged on error */
    err[0] = '\0';
    assert_int_equal(hd_config_int(cfg, "store.bad_number", 0, 100000, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "store.bad_number"));
    setenv("HD_STORE_LEASE_MS", "-3", 1);
    err[0] = '\0';
    assert_int_equal(hd_config_int(cfg, "store.lease_ms", 1, 1000000, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "store.lease_ms"));
    setenv("HD_STORE_LEASE_MS", "", 1);
    assert_int_equal(hd_config_int(cfg, "store.lease_ms", 1, 1000000, &v, err, sizeof err), -1);
    unsetenv("HD_STORE_LEASE_MS");
    hd_config_destroy(&cfg);
}

static void test_bad_files_are_refused(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(hd_config_load("/nonexistent/helpdesk.yaml", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/helpdesk.yaml"));
    char *path = write_temp("- a\n- b\n");
    err[0] = '\0';
    assert_null(hd_config_load(path, err, sizeof err));
    assert_true(strlen(err) > 0);
    unlink(path);
    free(path);
    path = write_temp("store:\n  api: [unclosed\n");
    err[0] = '\0';
    assert_null(hd_config_load(path, err, sizeof err));
    assert_non_null(strstr(err, "line"));
    unlink(path);
    free(path);
}

/* ---- the table of settings and hd_config_check ---- */

/* A config file with this text, checked for `service`: the return of hd_config_check. */
static int check_text(const char *text, unsigned service, hd_config_problem *p)
{
    char *path = write_temp(text);
    char err[256];
    hd_config *cfg = hd_config_load(path, err, sizeof err);
    assert_non_null(cfg);
    int rc = hd_config_check(cfg, service, p);
    hd_config_destroy(&cfg);
    unlink(path);
    free(path);
    return rc;
}

/* The problem names the key, "FILE:LINE" (file path without the directory) and says why. */
static void assert_problem(const hd_config_problem *p, const char *key, const char *line_suffix,
                           const char *reason_part)
{
    assert_string_equal(p->key, key);
    size_t n = strlen(p->source), m = strlen(line_suffix);
    if (n < m || strcmp(p->source + n - m, line_suffix) != 0)
        fail_msg("source \"%s\" does not end in \"%s\"", p->source, line_suffix);
    if (strstr(p->reason, reason_part) == NULL)
        fail_msg("reason \"%s\" does not say \"%s\"", p->reason, reason_part);
}

static void test_check_unknown_key_in_own_section(void **state)
{
    (void)state;
    hd_config_problem p;
    const char *text = "store:\n  api: tcp://127.0.0.1:1\n  leas_ms: 5\n";
    assert_int_equal(check_text(text, HD_SVC_STORE, &p), -1);
    assert_problem(&p, "store.leas_ms", ":3", "no such setting");
    assert_non_null(strstr(p.reason, "lease_ms")); /* the message lists what there is */
    /* the same shared file serves intake, which does not own the store's section */
    assert_int_equal(check_text(text, HD_SVC_INTAKE, &p), 0);
    /* a nested typo, a map where a value belongs, a list */
    assert_int_equal(check_text("notifier:\n  smtp:\n    ulr: x\n", HD_SVC_NOTIFIER, &p), -1);
    assert_problem(&p, "notifier.smtp.ulr", ":3", "no such setting");
    assert_int_equal(check_text("notifier:\n  smtp: smtp://x\n", HD_SVC_NOTIFIER, &p), -1);
    assert_problem(&p, "notifier.smtp", ":2", "no such setting");
    assert_int_equal(check_text("store:\n  lease_ms: {a: 1}\n", HD_SVC_STORE, &p), -1);
    assert_problem(&p, "store.lease_ms", ":2", "not a map");
    assert_int_equal(check_text("router:\n  rules: [a, b]\n", HD_SVC_ROUTER, &p), -1);
    assert_problem(&p, "router.rules", ":2", "not a list");
    /* a section nobody has is refused by everyone */
    assert_int_equal(check_text("x: 1\nstor:\n  lease_ms: 5\n", HD_SVC_INTAKE, &p), -1);
    assert_problem(&p, "x", ":1", "not a setting of any service");
    /* wildcards: any queue's team address, nothing else under it */
    assert_int_equal(
        check_text("notifier:\n  teams:\n    net-ops: {email: a@b.c}\n", HD_SVC_NOTIFIER, &p), 0);
    assert_int_equal(check_text("notifier:\n  teams:\n  smtp:\n", HD_SVC_NOTIFIER, &p), 0);
    assert_int_equal(
        check_text("notifier:\n  teams:\n    net-ops: {phone: 1}\n", HD_SVC_NOTIFIER, &p), -1);
    assert_problem(&p, "notifier.teams.net-ops.phone", ":3", "no such setting");
}

static void test_check_types_and_ranges(void **state)
{
    (void)state;
    hd_config_problem p;
    assert_int_equal(check_text("store:\n  lease_ms: ten\n", HD_SVC_STORE, &p), -1);
    assert_problem(&p, "store.lease_ms", ":2", "\"ten\" is not a whole number from 10 to");
    assert_int_equal(check_text("prioritizer:\n  credit: 0\n", HD_SVC_PRIORITIZER, &p), -1);
    assert_problem(&p, "prioritizer.credit", ":2", "from 1 to 10000");
    assert_int_equal(check_text("\n\nintake:\n  store_timeout_ms: -5\n", HD_SVC_INTAKE, &p), -1);
    assert_problem(&p, "intake.store_timeout_ms", ":4", "\"-5\"");
    assert_int_equal(check_text("curve:\n  enabled: maybe\n", HD_SVC_ROUTER, &p), -1);
    assert_problem(&p, "curve.enabled", ":2", "not true or false");
    assert_int_equal(check_text("sla:\n  P2: {resolution: 1.5}\n", HD_SVC_PRIORITIZER, &p), -1);
    assert_problem(&p, "sla.P2.resolution", ":2", "whole number");
    /* a wrong value in a key this service neither reads nor owns is another's business */
    assert_int_equal(check_text("store:\n  lease_ms: ten\n", HD_SVC_NOTIFIER, &p), 0);
    /* but a shared key it reads is checked: intake reads store.api, the timer does not read
     * worker.heartbeat_ms */
    assert_int_equal(check_text("worker:\n  heartbeat_ms: 0\n", HD_SVC_TIMER, &p), 0);
    assert_int_equal(check_text("worker:\n  heartbeat_ms: 0\n", HD_SVC_ROUTER, &p), -1);
    assert_problem(&p, "worker.heartbeat_ms", ":2", "from 10 to");
}

static void test_check_environment(void **state)
{
    (void)state;
    hd_config_problem p;
    char err[256];
    hd_config *cfg = hd_config_load(NULL, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(hd_config_check(cfg, HD_SVC_STORE, &p), 0);
    setenv("HD_STORE_LEASE_MS", "abc", 1);
    assert_int_equal(hd_config_check(cfg, HD_SVC_STORE, &p), -1);
    assert_string_equal(p.key, "store.lease_ms");
    assert_string_equal(p.source, "HD_STORE_LEASE_MS");
    assert_non_null(strstr(p.reason, "\"abc\""));
    assert_int_equal(hd_config_check(cfg, HD_SVC_INTAKE, &p), 0); /* not intake's setting */
    unsetenv("HD_STORE_LEASE_MS");
    /* the environment is checked even where the file is fine, and wins over it */
    setenv("HD_ROUTER_CREDIT", "0", 1);
    assert_int_equal(hd_config_check(cfg, HD_SVC_ROUTER, &p), -1);
    assert_string_equal(p.source, "HD_ROUTER_CREDIT");
    unsetenv("HD_ROUTER_CREDIT");
    /* text must be UTF-8 (a file that is not is refused by the YAML parser already) */
    setenv("HD_NOTIFIER_TEMPLATES", "/srv/\xff\xfe", 1);
    assert_int_equal(hd_config_check(cfg, HD_SVC_NOTIFIER, &p), -1);
    assert_string_equal(p.source, "HD_NOTIFIER_TEMPLATES");
    assert_non_null(strstr(p.reason, "UTF-8"));
    unsetenv("HD_NOTIFIER_TEMPLATES");
    /* a misspelt variable of a section the service owns */
    setenv("HD_STORE_LEAS_MS", "100", 1);
    assert_int_equal(hd_config_check(cfg, HD_SVC_STORE, &p), -1);
    assert_string_equal(p.key, "HD_STORE_LEAS_MS");
    assert_non_null(strstr(p.reason, "HD_STORE_LEASE_MS"));
    assert_int_equal(hd_config_check(cfg, HD_SVC_PRIORITIZER, &p), 0);
    unsetenv("HD_STORE_LEAS_MS");
    /* variables that are no setting's (HD_LOG_LEVEL, the tests' own) and wildcard names pass */
    setenv("HD_LOG_LEVEL", "info", 1);
    setenv("HD_NOTIFIER_TEAMS_NET_OPS_EMAIL", "noc@example.com", 1);
    assert_int_equal(hd_config_check(cfg, HD_SVC_NOTIFIER, &p), 0);
    unsetenv("HD_NOTIFIER_TEAMS_NET_OPS_EMAIL");
    unsetenv("HD_LOG_LEVEL");
    hd_config_destroy(&cfg);
}

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(hd_config_service("hd-store"), HD_SVC_STORE);
    assert_int_equal(hd_config_service("hd-escalation-timer"), HD_SVC_TIMER);
    assert_int_equal(hd_config_service("hd-nothing"), 0);
    assert_non_null(hd_config_key_find("notifier.teams.any-queue.email"));
    assert_null(hd_config_key_find("notifier.teams"));
    assert_null(hd_config_key_find("store"));
    assert_string_equal(hd_config_key_find("sla.P3.resolution")->def, "432000");
    size_t n, ns;
    const hd_config_key *k = hd_config_keys(&n);
    const hd_config_section *s = hd_config_sections(&ns);
    for (size_t i = 0; i < n; i++) {
        /* every key is in a section, read by someone, and its default is in range */
        bool in_section = false;
        for (size_t j = 0; j < ns; j++) {
            size_t len = strlen(s[j].name);
            in_section |= strncmp(k[i].key, s[j].name, len) == 0 &&
                          (k[i].key[len] == '\0' || k[i].key[len] == '.');
        }
        if (!in_section || k[i].readers == 0)
            fail_msg("%s: no section or no reader", k[i].key);
        if (k[i].type == HD_CONFIG_INT && k[i].def != NULL) {
            long long d = strtoll(k[i].def, NULL, 10);
            if (d < k[i].lo || d > k[i].hi)
                fail_msg("%s: default %lld outside %lld..%lld", k[i].key, d,
                         (long long)k[i].lo, (long long)k[i].hi);
        }
    }
}

/* The repository: the nearest folder above this test binary that holds README.md and
 * common/include/hd/config.h (the build folder may be anywhere below it). */
static void repo_file(const char *rel, char *out, size_t cap)
{
    char dir[4096];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    assert_true(n > 0);
    dir[n] = '\0';
    for (char *slash = strrchr(dir, '/'); slash != NULL; slash = strrchr(dir, '/')) {
        *slash = '\0';
        snprintf(out, cap, "%s/common/include/hd/config.h", dir);
        if (access(out, R_OK) == 0) {
            snprintf(out, cap, "%s/%s", dir, rel);
            return;
        }
    }
    fail_msg("no repository above the test binary");
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot read %s", path);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The README's configuration table lists every setting of every service (as `key`). */
static void test_readme_lists_every_setting(void **state)
{
    (void)state;
    char path[4096];
    repo_file("README.md", path, sizeof path);
    char *readme = read_all(path), missing[1024] = "";
    size_t n;
    const hd_config_key *k = hd_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        char quoted[200];
        snprintf(quoted, sizeof quoted, "`%s`", k[i].key);
        char sla[200] = "";
        if (strncmp(k[i].key, "sla.", 4) == 0) { /* one row for the twenty SLA targets */
            snprintf(quoted, sizeof quoted, "`%s`", strrchr(k[i].key, '.') + 1);
            snprintf(sla, sizeof sla, "`sla.<P>.%s`", strrchr(k[i].key, '.') + 1);
        }
        if (strstr(readme, quoted) == NULL && (sla[0] == '\0' || strstr(readme, sla) == NULL))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s", quoted);
    }
    free(readme);
    if (missing[0] != '\0')
        fail_msg("README.md does not document%s", missing);
}

/* Every key of a service's own example file is one that service reads, and the file passes. */
static void walk_own(const hd_yaml *node, const char *path, unsigned service, const char *file)
{
    if (node->kind == HD_YAML_SCALAR) {
        const hd_config_key *k = hd_config_key_find(path);
        if (k == NULL || (k->readers & service) == 0)
            fail_msg("%s:%d: %s is not a setting this service reads", file, node->line, path);
        return;
    }
    for (const hd_yaml *c = node->child; c; c = c->next) {
        char sub[200];
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", c->key);
        walk_own(c, sub, service, file);
    }
}

static void test_per_service_files(void **state)
{
    (void)state;
    static const char *const names[] = {"store",  "intake",           "prioritizer",
                                        "router", "escalation-timer", "notifier"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char rel[128], path[4096], program[64], err[256];
        snprintf(program, sizeof program, "hd-%s", names[i]);
        unsigned service = hd_config_service(program);
        snprintf(rel, sizeof rel, "deploy/local/config/%s.yaml", names[i]);
        repo_file(rel, path, sizeof path);
        hd_yaml *y = hd_yaml_load_file(path, err, sizeof err);
        if (y == NULL)
            fail_msg("%s", err);
        walk_own(y, "", service, path);
        hd_yaml_free(&y);
        hd_config *cfg = hd_config_load(path, err, sizeof err);
        assert_non_null(cfg);
        hd_config_problem p;
        if (hd_config_check(cfg, service, &p) != 0)
            fail_msg("%s: %s: %s", p.source, p.key, p.reason);
        hd_config_destroy(&cfg);
    }
    /* and the shared files serve every service */
    static const char *const shared[] = {"deploy/local/helpdesk.yaml",
                                         "deploy/docker/helpdesk.yaml"};
    for (size_t f = 0; f < 2; f++)
        for (unsigned bit = HD_SVC_STORE; bit <= HD_SVC_NOTIFIER; bit <<= 1) {
            char path[4096], err[256];
            repo_file(shared[f], path, sizeof path);
            hd_config *cfg = hd_config_load(path, err, sizeof err);
            assert_non_null(cfg);
            hd_config_problem p;
            if (hd_config_check(cfg, bit, &p) != 0)
                fail_msg("%s: %s: %s", p.source, p.key, p.reason);
            hd_config_destroy(&cfg);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_values_and_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_beats_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_errors_name_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files_are_refused, setup, teardown),
        cmocka_unit_test(test_check_unknown_key_in_own_section),
        cmocka_unit_test(test_check_types_and_ranges),
        cmocka_unit_test(test_check_environment),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_readme_lists_every_setting),
        cmocka_unit_test(test_per_service_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
