/* End to end: bad input gets an error reply naming the field and stores nothing; a rules file
 * with an unknown priority keeps the prioritizer (and the router) from starting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake;
    long contacts, tickets, events; /* row counts before the test */
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "validation");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, &f->intake, NULL, NULL);
}

static void count_rows(fixture *f, long *contacts, long *tickets, long *events)
{
    *contacts = ht_sql_long(f->env, "SELECT count(*) FROM contacts");
    *tickets = ht_sql_long(f->env, "SELECT count(*) FROM tickets");
    *events = ht_sql_long(f->env, "SELECT count(*) FROM ticket_events");
}

static int test_setup(void **state)
{
    fixture *f = *state;
    count_rows(f, &f->contacts, &f->tickets, &f->events);
    return ht_fixture_test_setup(state);
}

/* Nothing was stored since the test began. */
static void assert_nothing_stored(fixture *f)
{
    long c, t, e;
    count_rows(f, &c, &t, &e);
    assert_true(f->contacts >= 0);
    assert_int_equal(c, f->contacts);
    assert_int_equal(t, f->tickets);
    assert_int_equal(e, f->events);
}

static HdReply *submit_frames(fixture *f, int n, const void *const *frames, const size_t *lens)
{
    return ht_raw_call(f->env, f->env->intake_ep, n, frames, lens, 10000);
}

static void test_malformed_protobuf(void **state)
{
    fixture *f = *state;
    static const char junk[] = "\xff\xff\xff\xff\xff\xff\x0f garbage";
    const void *frames[] = {"", junk};
    size_t lens[] = {0, sizeof junk - 1};
    HdReply *rep = submit_frames(f, 2, frames, lens);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "request");
    hd_reply_free(rep);
    /* a Request with no body at all */
    const void *empty[] = {"", ""};
    size_t elens[] = {0, 0};
    rep = submit_frames(f, 2, empty, elens);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body");
    hd_reply_free(rep);
    assert_nothing_stored(f);
    ht_pass(f->env);
}

static void test_wrong_frame_count(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "frames-1");
    ht_contact_add(&ct, "network", "down", "");
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &ct.c;
    req.id = 77;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    zmq_msg_t msg;
    assert_int_equal(hd_request_pack(&req, &msg), 0);
    const void *frames[] = {"", zmq_msg_data(&msg), "extra frame"};
    size_t lens[] = {0, zmq_msg_size(&msg), 11};
    HdReply *rep = submit_frames(f, 3, frames, lens);
    zmq_msg_close(&msg);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "frames");
    hd_reply_free(rep);
    assert_nothing_stored(f);
    ht_pass(f->env);
}

static void submit_expect_field(fixture *f, const ht_contact *ct, const char *field)
{
    HdReply *rep = ht_submit(f->env, &ct->c);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field);
    hd_reply_free(rep);
}

static void test_missing_customer_contact(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "no-contact-1");
    ct.customer.email = "";
    ct.customer.phone = "";
    ht_contact_add(&ct, "network", "Le réseau est en panne", "");
    HdReply *rep = ht_submit(f->env, &ct.c);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_ERROR);
    assert_int_equal(rep->error->code, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD);
    if (strcmp(rep->error->field, "customer.email") != 0 &&
        strcmp(rep->error->field, "customer.phone") != 0)
        fail_msg("field \"%s\" does not name the customer's email or phone", rep->error->field);
    hd_reply_free(rep);
    /* no customer at all */
    ct.c.customer = NULL;
    rep = ht_submit(f->env, &ct.c);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_ERROR);
    assert_int_equal(rep->error->code, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD);
    assert_true(strncmp(rep->error->field, "customer", 8) == 0);
    hd_reply_free(rep);
    /* no problem at all */
    ht_contact_init(&ct, "e2e-web", "no-problem-1");
    submit_expect_field(f, &ct, "problems");
    assert_nothing_stored(f);
    ht_pass(f->env);
}

static void test_invalid_utf8(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "utf8-1");
    ht_contact_add(&ct, "network", "الشبكة متوقفة", "");
    ht_contact_add(&ct, "printing", "Imprimante \xc3\x28 en panne", ""); /* broken é */
    submit_expect_field(f, &ct, "problems[1].summary");
    ct.problem[1].summary = "Imprimante en panne";
    ct.problem[0].description = "\xed\xa0\x80 a surrogate"; /* U+D800 */
    submit_expect_field(f, &ct, "problems[0].description");
    ct.problem[0].description = "";
    ct.customer.name = "Amina \xc0\xaf overlong";
    submit_expect_field(f, &ct, "customer.name");
    ct.customer.name = "Amina";
    ct.location.city = "Casablanca\xff";
    submit_expect_field(f, &ct, "location.city");
    assert_nothing_stored(f);
    ht_pass(f->env);
}

static void test_oversized_field(void **state)
{
    fixture *f = *state;
    size_t big = 20000;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, 'a', big);
    text[big] = '\0';
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "oversized-1");
    ht_contact_add(&ct, "network", "down", text); /* 20000 > 16384 bytes */
    submit_expect_field(f, &ct, "problems[0].description");
    ct.problem[0].description = "";
    text[600] = '\0';
    ct.problem[0].summary = text; /* 600 > 512 bytes */
    submit_expect_field(f, &ct, "problems[0].summary");
    ct.problem[0].summary = "down";
    text[2000] = '\0';
    memset(text, 'b', 2000);
    ct.customer.name = text; /* 2000 > 1024 bytes */
    submit_expect_field(f, &ct, "customer.name");
    free(text);
    assert_nothing_stored(f);
    ht_pass(f->env);
}

static void test_store_refuses_unknown_body(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "wrong-socket-1");
    ht_contact_add(&ct, "network", "down", "");
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &ct.c;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT; /* intake's request, sent to the store */
    req.submit = &s;
    HdReply *rep = ht_store_call(f->env, &req);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body");
    hd_reply_free(rep);
    assert_nothing_stored(f);
    /* after all that, a good contact still goes through */
    ht_contact_init(&ct, "e2e-web", "good-after-bad-1");
    ht_contact_add(&ct, "network", "Jaringan kantor mati", "sejak pagi");
    rep = ht_submit_ok(f->env, &ct.c);
    assert_int_equal(rep->receipt->n_ticket_ids, 1);
    hd_reply_free(rep);
    ht_pass(f->env);
}

/* A rules file with "P7" on line 6: the service must refuse to start and say where. */
static void check_refuses_rules(fixture *f, const char *bin, const char *key, const char *file,
                                const char *text)
{
    char path[600], env_line[700];
    snprintf(path, sizeof path, "%s/%s", f->env->dir, file);
    assert_int_equal(ht_write_file(path, text), 0);
    snprintf(env_line, sizeof env_line, "%s=%s", key, path);
    const char *extra[] = {env_line, NULL};
    ht_proc *p = ht_start(f->env, bin, extra);
    assert_non_null(p);
    if (!ht_wait_exit(p, 20000)) {
        ht_kill9(p);
        fail_msg("%s kept running with a rules file that names priority P7", bin);
    }
    assert_true(WIFEXITED(p->status) || WIFSIGNALED(p->status));
    assert_int_not_equal(WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1, 0);
    assert_false(ht_log_has_sanitizer_report(p));
    assert_false(ht_log_contains(p, "event=ready"));
    if (!ht_log_contains(p, "P7") || !ht_log_contains(p, file))
        fail_msg("the log of %s does not name the file and the bad value P7", bin);
    char where1[64], where2[64];
    snprintf(where1, sizeof where1, "%s:6", file);
    snprintf(where2, sizeof where2, "line 6");
    if (!ht_log_contains(p, where1) && !ht_log_contains(p, where2))
        fail_msg("the log of %s does not name line 6 of %s", bin, file);
}

static void test_unknown_priority_in_rules_file(void **state)
{
    fixture *f = *state;
    /* a ticket waiting for a prioritizer */
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "waits-for-prioritizer-1");
    ht_contact_add(&ct, "network", "down", "");
    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    int64_t id = rep->receipt->ticket_ids[0];
    hd_reply_free(rep);
    long events = ht_sql_long(f->env, "SELECT count(*) FROM ticket_events");

    check_refuses_rules(f, "hd-prioritizer", "HD_PRIORITIZER_RULES", "bad-priority.yaml",
                        "rules:\n"
                        "  - name: outage\n"
                        "    when:\n"
                        "      keywords: [down]\n"
                        "      min_users: 1\n"
                        "    priority: P7\n"
                        "default: P3\n");
    check_refuses_rules(f, "hd-router", "HD_ROUTER_RULES", "bad-routing.yaml",
                        "rules:\n"
                        "  - name: urgent\n"
                        "    when:\n"
                        "      category: [network]\n"
                        "      keywords: [down]\n"
                        "      priority: [P1, P7]\n"
                        "    queue: network-ops\n"
                        "default: {queue: service-desk, tier: 1}\n");
    /* nothing was stored for it: the ticket is still new, no event was added */
    assert_int_equal(ht_ticket_status(f->env, id), HELPDESK__V1__STATUS__STATUS_NEW);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM ticket_events"), events);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets WHERE priority IS NOT NULL"),
                     0);
    ht_pass(f->env);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_setup, ht_fixture_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_malformed_protobuf),
        T(test_wrong_frame_count),
        T(test_missing_customer_contact),
        T(test_invalid_utf8),
        T(test_oversized_field),
        T(test_store_refuses_unknown_body),
        T(test_unknown_priority_in_rules_file),
        HT_TEST_SERVICES_EXIT_CLEANLY(test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
