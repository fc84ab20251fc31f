/* End to end: the real `helpdesk` command against the real services. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define OUT 65536

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *prio, *router;
    char out[OUT], err[OUT];
    int64_t ids[2];
} fixture;

static const char arabic_summary[] = "الشبكة متوقفة في مركز البيانات";
static const char french_summary[] = "Imprimante en panne au 2e étage";

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "cli");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, &f->intake, &f->prio, &f->router);
}

/* helpdesk --config CFG args...; prints what it said when the exit code is not `want`. */
static void cli(fixture *f, int want, const char *const *args)
{
    const char *argv[64] = {"helpdesk", "--config", f->env->config};
    size_t n = 3;
    for (size_t i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int code = ht_run(f->env, argv, NULL, f->out, sizeof f->out, f->err, sizeof f->err, 60000);
    if (code != want) {
        fprintf(stderr, "helpdesk");
        for (size_t i = 1; argv[i]; i++)
            fprintf(stderr, " '%s'", argv[i]);
        fprintf(stderr, "\nstdout:\n%s\nstderr:\n%s\n", f->out, f->err);
        fail_msg("helpdesk exited with %d, want %d", code, want);
    }
}

static bool contains_id(const char *text, int64_t id)
{
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)id);
    size_t w = strlen(want);
    for (const char *p = strstr(text, want); p; p = strstr(p + 1, want)) {
        bool left = p == text || !(p[-1] >= '0' && p[-1] <= '9');
        bool right = !(p[w] >= '0' && p[w] <= '9');
        if (left && right)
            return true;
    }
    return false;
}

/* A `list` row for ticket id: a line that starts with the id. */
static bool lists_id(const char *text, int64_t id)
{
    char want[32];
    int w = snprintf(want, sizeof want, "%lld", (long long)id);
    const char *line = text;
    while (line && *line) {
        while (*line == ' ' || *line == '#')
            line++;
        if (strncmp(line, want, (size_t)w) == 0 && !(line[w] >= '0' && line[w] <= '9'))
            return true;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return false;
}

static void assert_lists(fixture *f, int64_t id, bool want)
{
    if (lists_id(f->out, id) != want)
        fail_msg("ticket %lld should%s be in this output:\n%s", (long long)id, want ? "" : " not",
                 f->out);
}

static void test_submit_prints_ticket_ids(void **state)
{
    fixture *f = *state;
    const char *args[] = {"submit",       "--source",       "e2e-cli",       "--external-id",
                          "cli-1",        "--channel",      "phone",         "--agent",
                          "maya",         "--name",         "أمينة حدّاد",   "--email",
                          "amina@example.com", "--language", "ar",           "--city",
                          "Paris",        "--problem",      arabic_summary,  "--category",
                          "network",      "--users",        "250",           "--problem",
                          french_summary, "--category",     "printing",      NULL};
    cli(f, 0, args);
    /* the ids the store made, in problem order, are the ones printed */
    char *ids = ht_sql_text(f->env, "SELECT string_agg(t.id::text, ' ' ORDER BY t.problem_index) "
                                    "FROM tickets t JOIN contacts c ON c.id = t.contact_id "
                                    "WHERE c.source = 'e2e-cli' AND c.external_id = 'cli-1'");
    assert_non_null(ids);
    long long a, b;
    assert_int_equal(sscanf(ids, "%lld %lld", &a, &b), 2);
    free(ids);
    f->ids[0] = a;
    f->ids[1] = b;
    const char *tickets_word = strstr(f->out, "ticket");
    if (tickets_word == NULL || !contains_id(tickets_word, a) || !contains_id(tickets_word, b))
        fail_msg("submit did not print ticket ids %lld and %lld:\n%s", a, b, f->out);
    /* the Arabic text reached the database byte-exact */
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT summary FROM tickets WHERE id = %lld", a);
    char *summary = ht_sql_text(f->env, sql);
    ht_assert_bytes(summary, arabic_summary);
    free(summary);
    /* the same again is the same contact: same ids, nothing new */
    long tickets = ht_sql_long(f->env, "SELECT count(*) FROM tickets");
    cli(f, 0, args);
    tickets_word = strstr(f->out, "ticket");
    assert_non_null(tickets_word);
    assert_true(contains_id(tickets_word, a) && contains_id(tickets_word, b));
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets"), tickets);
    ht_pass(f->env);
}

/* Checks with python3 that `file` is JSON and that some string in it equals `want`. */
static bool json_has_string(fixture *f, const char *file, const char *want)
{
    static const char prog[] =
        "import json, sys\n"
        "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "want = open(sys.argv[2], encoding='utf-8').read()\n"
        "def walk(x):\n"
        "    if isinstance(x, str): return x == want\n"
        "    if isinstance(x, dict): return any(walk(v) for v in x.values())\n"
        "    if isinstance(x, list): return any(walk(v) for v in x)\n"
        "    return False\n"
        "sys.exit(0 if walk(d) else 1)\n";
    char want_file[600];
    snprintf(want_file, sizeof want_file, "%s.want", file);
    if (ht_write_file(want_file, want) != 0)
        return false;
    const char *argv[] = {"/usr/bin/python3", "-c", prog, file, want_file, NULL};
    char out[4096], err[4096];
    int code = ht_run(f->env, argv, NULL, out, sizeof out, err, sizeof err, 30000);
    if (code != 0)
        fprintf(stderr, "python3 json check: exit %d\n%s%s", code, out, err);
    return code == 0;
}

static void test_show_and_list(void **state)
{
    fixture *f = *state;
    assert_true(f->ids[0] > 0);
    assert_true(
        ht_wait_tickets_status(f->env, f->ids, 2, HELPDESK__V1__STATUS__STATUS_QUEUED, 20000));
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)f->ids[0]);

    const char *show_json[] = {"show", id, "--json", NULL};
    cli(f, 0, show_json);
    char path[600];
    snprintf(path, sizeof path, "%s/show.json", f->env->dir);
    assert_int_equal(ht_write_file(path, f->out), 0);
    if (!json_has_string(f, path, arabic_summary))
        fail_msg("show --json is not JSON holding the summary:\n%s", f->out);

    const char *show[] = {"show", id, NULL};
    cli(f, 0, show);
    assert_non_null(strstr(f->out, arabic_summary));
    assert_non_null(strstr(f->out, "network-ops")); /* routed by the rule */
    assert_non_null(strstr(f->out, "ar-network-down"));
    assert_non_null(strstr(f->out, "intake")); /* the history with its actors */
    assert_non_null(strstr(f->out, "prioritizer@"));
    assert_non_null(strstr(f->out, "router@"));

    const char *list[] = {"list", "--status", "queued", NULL};
    cli(f, 0, list);
    assert_lists(f, f->ids[0], true);
    assert_lists(f, f->ids[1], true);
    const char *list_new[] = {"list", "--status", "new", "--queue", "network-ops", NULL};
    cli(f, 0, list_new);
    assert_lists(f, f->ids[0], false);
    const char *list_q[] = {"list", "--queue", "network-ops", "--priority", "P1", NULL};
    cli(f, 0, list_q);
    assert_lists(f, f->ids[0], true);
    assert_lists(f, f->ids[1], false);

    const char *missing[] = {"show", "987654321", NULL};
    cli(f, 1, missing); /* the server refused: no such ticket */
    ht_pass(f->env);
}

static void test_usage_errors_exit_2(void **state)
{
    fixture *f = *state;
    const char *bogus[] = {"list", "--bogus", NULL};
    cli(f, 2, bogus);
    assert_true(strlen(f->err) > 0);
    const char *bad_status[] = {"list", "--status", "sleeping", NULL};
    cli(f, 2, bad_status);
    const char *no_command[] = {"frobnicate", NULL};
    cli(f, 2, no_command);
    const char *bad_id[] = {"show", "not-a-number", NULL};
    cli(f, 2, bad_id);
    ht_pass(f->env);
}

static void test_intake_down_exits_3(void **state)
{
    fixture *f = *state;
    assert_int_equal(ht_stop(f->intake, 10000), 0);
    long contacts = ht_sql_long(f->env, "SELECT count(*) FROM contacts");
    const char *args[] = {"--timeout", "1000",   "submit",   "--name",  "Budi",
                          "--email",   "budi@example.com",  "--problem", "Printer rusak",
                          NULL};
    cli(f, 3, args);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM contacts"), contacts);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_submit_prints_ticket_ids),
        HT_TEST(test_show_and_list),
        HT_TEST(test_usage_errors_exit_2),
        HT_TEST(test_intake_down_exits_3),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
