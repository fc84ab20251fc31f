/* Config: file values, environment overrides, integer ranges with errors naming the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hd/config.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_values_and_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_beats_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_errors_name_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
