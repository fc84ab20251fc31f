/* The helpdesk command line: global options, submit options into a Contact (several problems
 * with their own options), and the usage errors naming the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/cli/args.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_globals(void **state)
{
    (void)state;
    char *argv[] = {"helpdesk", "--intake", "tcp://127.0.0.1:56301", "--store=tcp://x:1",
                    "--timeout", "250", "--json", "show", "31"};
    cli_globals g;
    char err[256];
    assert_int_equal(cli_parse_globals(ARGC(argv), argv, &g, err, sizeof err), CLI_PARSE_OK);
    assert_string_equal(g.intake, "tcp://127.0.0.1:56301");
    assert_string_equal(g.store, "tcp://x:1");
    assert_null(g.events);
    assert_int_equal(g.timeout_ms, 250);
    assert_true(g.json);
    assert_string_equal(g.command, "show");
    assert_int_equal(g.rest, 8);

    char *none[] = {"helpdesk"};
    assert_int_equal(cli_parse_globals(1, none, &g, err, sizeof err), CLI_PARSE_OK);
    assert_null(g.command);
    assert_int_equal(g.timeout_ms, 5000);

    char *bad[] = {"helpdesk", "--timeout", "soon", "list"};
    assert_int_equal(cli_parse_globals(ARGC(bad), bad, &g, err, sizeof err), CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "--timeout"));
    char *unknown[] = {"helpdesk", "--colour", "list"};
    assert_int_equal(cli_parse_globals(ARGC(unknown), unknown, &g, err, sizeof err),
                     CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "--colour"));
    char *missing[] = {"helpdesk", "--store"};
    assert_int_equal(cli_parse_globals(ARGC(missing), missing, &g, err, sizeof err),
                     CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "--store"));
    char *help[] = {"helpdesk", "--help"};
    assert_int_equal(cli_parse_globals(ARGC(help), help, &g, err, sizeof err), CLI_PARSE_HELP);
}

static void test_submit_full(void **state)
{
    (void)state;
    char *argv[] = {"--source", "phone-desk", "--external-id", "call-77", "--channel", "chat",
                    "--agent", "Sam", "--name", "عبد الله", "--email", "a@b.co", "--phone",
                    "+92 300 1234567", "--language", "ur", "--organization", "Org", "--vip",
                    "--attr", "plan=gold", "--attr", "note=a=b",
                    "--account", "ACC-9", "--contract", "gold", "--licence", "L-1", "--product",
                    "Printer", "--model", "X1", "--serial", "SN1",
                    "--site", "HQ", "--building", "B", "--floor", "3", "--room", "301",
                    "--address", "1 Rue", "--city", "Paris", "--country", "FR",
                    "--problem", "الطابعة لا تعمل", "--category", "hardware", "--users", "12",
                    "--urgency", "high", "--impact", "critical", "--description", "منذ الصباح",
                    "--problem", "ای میل نہیں آ رہی", "--category", "email",
                    "--problem=L'écran est noir", "--urgency=low", "--json"};
    cli_submit *s = NULL;
    bool json = false;
    char err[256];
    assert_int_equal(cli_submit_parse(ARGC(argv), argv, &s, &json, err, sizeof err),
                     CLI_PARSE_OK);
    assert_true(json);
    assert_false(cli_submit_generated(s));
    const HdContact *c = cli_submit_contact(s);
    assert_string_equal(c->source, "phone-desk");
    assert_string_equal(c->external_id, "call-77");
    assert_int_equal(c->channel, HELPDESK__V1__CHANNEL__CHANNEL_CHAT);
    assert_string_equal(c->agent, "Sam");
    assert_string_equal(c->customer->name, "عبد الله");
    assert_string_equal(c->customer->email, "a@b.co");
    assert_string_equal(c->customer->phone, "+92 300 1234567");
    assert_string_equal(c->customer->language, "ur");
    assert_string_equal(c->customer->organization, "Org");
    assert_true(c->customer->vip);
    assert_int_equal(c->customer->n_attributes, 2);
    assert_string_equal(c->customer->attributes[0]->key, "plan");
    assert_string_equal(c->customer->attributes[0]->value, "gold");
    assert_string_equal(c->customer->attributes[1]->key, "note");
    assert_string_equal(c->customer->attributes[1]->value, "a=b");
    assert_non_null(c->account);
    assert_string_equal(c->account->account_number, "ACC-9");
    assert_string_equal(c->account->contract_level, "gold");
    assert_string_equal(c->account->licence, "L-1");
    assert_string_equal(c->account->product, "Printer");
    assert_string_equal(c->account->model, "X1");
    assert_string_equal(c->account->serial_number, "SN1");
    assert_non_null(c->location);
    assert_string_equal(c->location->site, "HQ");
    assert_string_equal(c->location->building, "B");
    assert_string_equal(c->location->floor, "3");
    assert_string_equal(c->location->room, "301");
    assert_string_equal(c->location->address, "1 Rue");
    assert_string_equal(c->location->city, "Paris");
    assert_string_equal(c->location->country, "FR");
    assert_int_equal(c->n_problems, 3);
    const HdProblem *p0 = c->problems[0], *p1 = c->problems[1], *p2 = c->problems[2];
    assert_string_equal(p0->summary, "الطابعة لا تعمل");
    assert_string_equal(p0->category, "hardware");
    assert_int_equal(p0->users_affected, 12);
    assert_int_equal(p0->urgency, HELPDESK__V1__LEVEL__LEVEL_HIGH);
    assert_int_equal(p0->impact, HELPDESK__V1__LEVEL__LEVEL_CRITICAL);
    assert_string_equal(p0->description, "منذ الصباح");
    assert_string_equal(p1->summary, "ای میل نہیں آ رہی");
    assert_string_equal(p1->category, "email");
    assert_int_equal(p1->urgency, HELPDESK__V1__LEVEL__LEVEL_UNSPECIFIED);
    assert_string_equal(p1->description, "");
    assert_string_equal(p2->summary, "L'écran est noir");
    assert_int_equal(p2->urgency, HELPDESK__V1__LEVEL__LEVEL_LOW);
    assert_string_equal(p2->category, "");
    cli_submit_destroy(&s);
    cli_submit_destroy(&s);
    assert_null(s);
}

static void test_submit_defaults(void **state)
{
    (void)state;
    char *argv[] = {"--name", "Budi", "--phone", "0812345678", "--problem", "VPN down"};
    cli_submit *s = NULL;
    bool json = false;
    char err[256];
    assert_int_equal(cli_submit_parse(ARGC(argv), argv, &s, &json, err, sizeof err),
                     CLI_PARSE_OK);
    const HdContact *c = cli_submit_contact(s);
    assert_false(json);
    assert_string_equal(c->source, "cli");
    assert_int_equal(c->channel, HELPDESK__V1__CHANNEL__CHANNEL_PHONE);
    assert_true(cli_submit_generated(s));
    assert_true(strncmp(c->external_id, "cli-", 4) == 0);
    assert_null(c->account); /* nothing given: no empty sub-message */
    assert_null(c->location);
    assert_int_equal(c->n_problems, 1);
    char first[96];
    snprintf(first, sizeof first, "%s", c->external_id);
    cli_submit_destroy(&s);
    assert_int_equal(cli_submit_parse(ARGC(argv), argv, &s, &json, err, sizeof err),
                     CLI_PARSE_OK);
    assert_string_not_equal(first, cli_submit_contact(s)->external_id); /* unique */
    cli_submit_destroy(&s);
}

static void expect_submit_error(char **argv, int argc, const char *option)
{
    cli_submit *s = NULL;
    bool json = false;
    char err[256] = "";
    assert_int_equal(cli_submit_parse(argc, argv, &s, &json, err, sizeof err), CLI_PARSE_ERROR);
    assert_null(s);
    if (strstr(err, option) == NULL)
        fail_msg("error \"%s\" does not name %s", err, option);
}

static void test_submit_usage_errors(void **state)
{
    (void)state;
    char *a[] = {"--channel", "fax", "--problem", "x"};
    expect_submit_error(a, ARGC(a), "--channel");
    char *b[] = {"--problem", "x", "--urgency", "extreme"};
    expect_submit_error(b, ARGC(b), "--urgency");
    char *c[] = {"--problem", "x", "--impact"};
    expect_submit_error(c, ARGC(c), "--impact");
    char *d[] = {"--category", "hw", "--problem", "x"};
    expect_submit_error(d, ARGC(d), "--category");
    char *e[] = {"--problem", "x", "--users", "-3"};
    expect_submit_error(e, ARGC(e), "--users");
    char *f[] = {"--attr", "novalue"};
    expect_submit_error(f, ARGC(f), "--attr");
    char *g[] = {"--problem", "x", "--colour", "red"};
    expect_submit_error(g, ARGC(g), "--colour");
    char *h[] = {"--vip=yes"};
    expect_submit_error(h, ARGC(h), "--vip");
    char *i[] = {"stray"};
    expect_submit_error(i, ARGC(i), "stray");
    char *help[] = {"--problem", "x", "--help"};
    cli_submit *s = NULL;
    bool json = false;
    char err[256];
    assert_int_equal(cli_submit_parse(ARGC(help), help, &s, &json, err, sizeof err),
                     CLI_PARSE_HELP);
    assert_null(s);
}

static void test_show_list_watch(void **state)
{
    (void)state;
    char err[256];
    bool json = false;
    int64_t id = 0;
    char *show[] = {"31", "--json"};
    assert_int_equal(cli_show_parse(ARGC(show), show, &id, &json, err, sizeof err),
                     CLI_PARSE_OK);
    assert_int_equal(id, 31);
    assert_true(json);
    char *show_bad[] = {"x31"};
    assert_int_equal(cli_show_parse(1, show_bad, &id, &json, err, sizeof err), CLI_PARSE_ERROR);
    assert_int_equal(cli_show_parse(0, show_bad, &id, &json, err, sizeof err), CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "ID"));

    HdListTickets lt;
    char *list[] = {"--queue", "network", "--status", "queued", "--priority", "p1", "--limit",
                    "20"};
    assert_int_equal(cli_list_parse(ARGC(list), list, &lt, &json, err, sizeof err),
                     CLI_PARSE_OK);
    assert_string_equal(lt.queue, "network");
    assert_int_equal(lt.status, HELPDESK__V1__STATUS__STATUS_QUEUED);
    assert_int_equal(lt.priority, HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE);
    assert_int_equal(lt.limit, 20);
    char *bad_status[] = {"--status", "done"};
    assert_int_equal(cli_list_parse(2, bad_status, &lt, &json, err, sizeof err),
                     CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "--status"));
    char *bad_prio[] = {"--priority", "P9"};
    assert_int_equal(cli_list_parse(2, bad_prio, &lt, &json, err, sizeof err), CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "--priority"));
    char *bad_limit[] = {"--limit", "0"};
    assert_int_equal(cli_list_parse(2, bad_limit, &lt, &json, err, sizeof err), CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "--limit"));

    cli_watch_opts w;
    char *watch[] = {"--from", "0", "--count=5"};
    assert_int_equal(cli_watch_parse(ARGC(watch), watch, &w, &json, err, sizeof err),
                     CLI_PARSE_OK);
    assert_true(w.has_from);
    assert_int_equal(w.from, 0);
    assert_int_equal(w.count, 5);
    char *watch_bad[] = {"--from", "-1"};
    assert_int_equal(cli_watch_parse(2, watch_bad, &w, &json, err, sizeof err),
                     CLI_PARSE_ERROR);
    assert_non_null(strstr(err, "--from"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_globals),
        cmocka_unit_test(test_submit_full),
        cmocka_unit_test(test_submit_defaults),
        cmocka_unit_test(test_submit_usage_errors),
        cmocka_unit_test(test_show_list_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
