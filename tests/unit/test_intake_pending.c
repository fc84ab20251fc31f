/* Intake's table of calls waiting for the store: matching answers, expiry, growth, settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/intake/intake.h"

static hd_peer peer_named(const char *name)
{
    hd_peer p = {0};
    p.id_len = strlen(name);
    memcpy(p.id, name, p.id_len);
    p.delimited = true;
    return p;
}

static void test_add_take(void **state)
{
    (void)state;
    intake_pending *p = intake_pending_new(1000);
    hd_peer a = peer_named("a"), b = peer_named("b");
    HdContact c = HELPDESK__V1__CONTACT__INIT;
    c.source = "web";
    c.external_id = "x-1";
    intake_call *ca = intake_pending_add(p, 7, &a, 100, &c);
    assert_non_null(ca);
    uint64_t ida = ca->store_id;
    intake_call *cb = intake_pending_add(p, 7, &b, 110, NULL); /* same client id, other peer */
    uint64_t idb = cb->store_id;
    assert_int_not_equal(ida, idb);
    assert_int_equal(intake_pending_count(p), 2);
    intake_call out;
    assert_int_equal(intake_pending_take(p, idb, &out), 0);
    assert_int_equal(out.client_id, 7);
    assert_memory_equal(out.peer.id, "b", 1);
    assert_int_equal(intake_pending_take(p, idb, &out), -1); /* answered once only */
    assert_int_equal(intake_pending_take(p, 5, &out), -1);    /* never ours */
    assert_int_equal(intake_pending_take(p, ida, &out), 0);
    assert_string_equal(out.source, "web");
    assert_string_equal(out.external_id, "x-1");
    assert_int_equal(intake_pending_count(p), 0);
    assert_int_equal(intake_pending_next_deadline(p), -1);
    intake_pending_destroy(&p);
    intake_pending_destroy(&p);
    assert_null(p);
}

static void test_expire_in_order(void **state)
{
    (void)state;
    intake_pending *p = intake_pending_new(1);
    hd_peer a = peer_named("a");
    uint64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = intake_pending_add(p, (uint64_t)i, &a, 100 + i * 10, NULL)->store_id;
    intake_call out;
    assert_int_equal(intake_pending_next_deadline(p), 100);
    assert_int_equal(intake_pending_expire(p, 99, &out), -1);
    assert_int_equal(intake_pending_take(p, ids[0], &out), 0); /* answered in time */
    assert_int_equal(intake_pending_next_deadline(p), 110);
    assert_int_equal(intake_pending_expire(p, 115, &out), 0);
    assert_int_equal(out.store_id, ids[1]);
    assert_int_equal(intake_pending_expire(p, 115, &out), -1);
    assert_int_equal(intake_pending_take(p, ids[1], &out), -1); /* a late answer */
    assert_int_equal(intake_pending_expire(p, 1000, &out), 0);
    assert_int_equal(out.client_id, 2);
    assert_int_equal(intake_pending_count(p), 0);
    intake_pending_destroy(&p);
}

static void test_grows_and_wraps(void **state)
{
    (void)state;
    intake_pending *p = intake_pending_new(UINT64_MAX - 100); /* ids wrap past zero */
    hd_peer a = peer_named("a");
    enum { N = 5000 };
    uint64_t *ids = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        ids[i] = intake_pending_add(p, (uint64_t)i, &a, i, NULL)->store_id;
    assert_int_equal(intake_pending_count(p), N);
    intake_call out;
    for (int i = N - 1; i >= 0; i -= 2) { /* answers out of order */
        assert_int_equal(intake_pending_take(p, ids[i], &out), 0);
        assert_int_equal(out.client_id, (uint64_t)i);
    }
    for (int i = 0; i < N; i += 2) {
        assert_int_equal(intake_pending_expire(p, N, &out), 0);
        assert_int_equal(out.client_id, (uint64_t)i);
    }
    assert_int_equal(intake_pending_expire(p, N, &out), -1);
    free(ids);
    intake_pending_destroy(&p);
}

static void test_in_flight_limit(void **state)
{
    (void)state;
    intake_pending *p = intake_pending_new(0);
    hd_peer a = peer_named("a");
    for (int i = 0; i < INTAKE_MAX_IN_FLIGHT; i++)
        assert_non_null(intake_pending_add(p, 1, &a, 1, NULL));
    assert_null(intake_pending_add(p, 1, &a, 1, NULL));
    intake_call out;
    assert_int_equal(intake_pending_expire(p, 5, &out), 0);
    assert_non_null(intake_pending_add(p, 1, &a, 1, NULL));
    intake_pending_destroy(&p);
}

static void test_log_quote(void **state)
{
    (void)state;
    char buf[32];
    intake_log_quote(buf, sizeof buf, "a \"b\"\n\\");
    assert_string_equal(buf, "\"a \\\"b\\\"\\x0a\\\\\"");
    intake_log_quote(buf, sizeof buf, "0123456789012345678901234567890123456789");
    assert_true(strlen(buf) < sizeof buf);
    assert_int_equal(buf[strlen(buf) - 1], '"');
    intake_log_quote(buf, sizeof buf, NULL);
    assert_string_equal(buf, "\"\"");
}

static void test_settings(void **state)
{
    (void)state;
    char err[256];
    intake_settings s;
    setenv("HD_INTAKE_MAX_PROBLEMS", "3", 1);
    setenv("HD_INTAKE_ENDPOINT", "tcp://127.0.0.1:56399", 1);
    hd_config *cfg = hd_config_load(NULL, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(intake_settings_load(cfg, &s, err, sizeof err), 0);
    assert_int_equal(s.max_problems, 3);
    assert_int_equal(s.store_timeout_ms, 5000);
    assert_string_equal(s.endpoint, "tcp://127.0.0.1:56399");
    setenv("HD_INTAKE_STORE_TIMEOUT_MS", "soon", 1);
    assert_int_equal(intake_settings_load(cfg, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "intake.store_timeout_ms"));
    unsetenv("HD_INTAKE_STORE_TIMEOUT_MS");
    unsetenv("HD_INTAKE_MAX_PROBLEMS");
    unsetenv("HD_INTAKE_ENDPOINT");
    hd_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_take),       cmocka_unit_test(test_expire_in_order),
        cmocka_unit_test(test_grows_and_wraps), cmocka_unit_test(test_in_flight_limit),
        cmocka_unit_test(test_log_quote),      cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
