/* The helpdesk command line: global options, submit options into a Contact (several problems
 * with their own options), every other command's arguments into its store request, and the
 * usage errors naming the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/cli/cli.h"

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

/* Parses argv for the command `name` from the table; asserts the outcome. */
static enum cli_parse parse(const char *name, int argc, char **argv, cli_args *a, char *err,
                            size_t errlen)
{
    const cli_command *cmd = cli_command_find(name);
    assert_non_null(cmd);
    *a = (cli_args){0};
    err[0] = '\0';
    return cli_args_parse(&cmd->grammar, argc, argv, a, err, errlen);
}

/* The command must refuse argv with a usage error naming `needle`. */
static void expect_error(const char *name, int argc, char **argv, const char *needle)
{
    cli_args a;
    char err[256];
    assert_int_equal(parse(name, argc, argv, &a, err, sizeof err), CLI_PARSE_ERROR);
    if (strstr(err, needle) == NULL)
        fail_msg("%s: error \"%s\" does not name %s", name, err, needle);
}

#define EXPECT_ERROR(name, needle, ...)                                                            \
    do {                                                                                           \
        char *argv_[] = {__VA_ARGS__};                                                             \
        expect_error(name, ARGC(argv_), argv_, needle);                                            \
    } while (0)

/* Parses and builds the request; the caller checks it. */
static void build(const char *name, int argc, char **argv, const char *actor, cli_args *a,
                  cli_request *r)
{
    char err[256];
    if (parse(name, argc, argv, a, err, sizeof err) != CLI_PARSE_OK)
        fail_msg("%s: %s", name, err);
    cli_request_build(cli_command_find(name), a, actor, r);
}

#define BUILD(name, actor, ...)                                                                    \
    do {                                                                                           \
        char *argv_[] = {__VA_ARGS__};                                                             \
        build(name, ARGC(argv_), argv_, actor, &a, &r);                                            \
    } while (0)

static void test_show_list_watch(void **state)
{
    (void)state;
    cli_args a;
    cli_request r;
    BUILD("show", NULL, "31", "--json");
    assert_true(a.json);
    assert_int_equal(r.req.body_case, HELPDESK__V1__REQUEST__BODY_GET_TICKET);
    assert_int_equal(r.req.get_ticket->ticket_id, 31);
    EXPECT_ERROR("show", "ID", "x31");
    EXPECT_ERROR("show", "ID", "--json");
    EXPECT_ERROR("show", "not also", "31", "32");

    BUILD("list", NULL, "--queue", "network", "--status", "queued", "--priority", "p1",
          "--limit", "20", "--open", "--assignee", "سارة", "--contact=12");
    const HdListTickets *lt = r.req.list_tickets;
    assert_int_equal(r.req.body_case, HELPDESK__V1__REQUEST__BODY_LIST_TICKETS);
    assert_string_equal(lt->queue, "network");
    assert_int_equal(lt->status, HELPDESK__V1__STATUS__STATUS_QUEUED);
    assert_int_equal(lt->priority, HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE);
    assert_int_equal(lt->limit, 20);
    assert_true(lt->open_only);
    assert_string_equal(lt->assignee, "سارة");
    assert_int_equal(lt->contact_id, 12);
    BUILD("list", NULL, "--json");
    assert_false(r.req.list_tickets->open_only);
    assert_null(r.req.list_tickets->assignee);
    assert_int_equal(r.req.list_tickets->contact_id, 0);
    EXPECT_ERROR("list", "--status", "--status", "done");
    EXPECT_ERROR("list", "--priority", "--priority", "P9");
    EXPECT_ERROR("list", "--limit", "--limit", "0");
    EXPECT_ERROR("list", "--limit", "--limit", "1001");
    EXPECT_ERROR("list", "--open", "--open=yes");
    EXPECT_ERROR("list", "--contact", "--contact", "twelve");
    EXPECT_ERROR("list", "--assignee", "--assignee");
    EXPECT_ERROR("list", "stray", "stray");

    char *watch[] = {"--from", "0", "--count=5"};
    char err[256];
    assert_int_equal(parse("watch", ARGC(watch), watch, &a, err, sizeof err), CLI_PARSE_OK);
    assert_true(a.given & CLI_O_FROM);
    assert_int_equal(a.from, 0);
    assert_int_equal(a.count, 5);
    EXPECT_ERROR("watch", "--from", "--from", "-1");
    EXPECT_ERROR("watch", "--queue", "--queue", "x"); /* an option of another command */
}

static void test_next_and_actor(void **state)
{
    (void)state;
    cli_args a;
    cli_request r;
    BUILD("next", "sam", "--queue", "network-ops", "--agent", "sam");
    assert_int_equal(r.req.body_case, HELPDESK__V1__REQUEST__BODY_NEXT);
    assert_string_equal(r.req.next->queue, "network-ops");
    assert_string_equal(r.req.next->agent, "sam");
    assert_string_equal(a.agent, "sam");
    EXPECT_ERROR("next", "--queue", "--agent", "sam");
    EXPECT_ERROR("next", "--queue", "--queue");
    EXPECT_ERROR("next", "--queue", "--queue", "");
    EXPECT_ERROR("next", "not also", "--queue", "q", "31");

    assert_string_equal(cli_actor("ali", "env", "user"), "ali");
    assert_string_equal(cli_actor(NULL, "env", "user"), "env");
    assert_string_equal(cli_actor(NULL, "", "user"), "user");
    assert_null(cli_actor(NULL, NULL, ""));
}

static void test_actions(void **state)
{
    (void)state;
    cli_args a;
    cli_request r;
    const HdTicketAction *act = NULL;
#define ACT(kind)                                                                                  \
    do {                                                                                           \
        assert_int_equal(r.req.body_case, HELPDESK__V1__REQUEST__BODY_ACT);                        \
        act = r.req.act;                                                                           \
        assert_int_equal(act->ticket_id, 31);                                                      \
        assert_string_equal(act->actor, "sam");                                                    \
        assert_int_equal(act->action_case, HELPDESK__V1__TICKET_ACTION__ACTION_##kind);            \
    } while (0)

    BUILD("take", "sam", "31");
    ACT(TAKE);
    assert_non_null(act->take); /* an empty message, but present: the oneof is set */
    BUILD("assign", "sam", "31", "--to", "Budi");
    ACT(ASSIGN);
    assert_string_equal(act->assign->assignee, "Budi");
    BUILD("note", "sam", "31", "تم استبدال الكابل", "--json");
    ACT(NOTE);
    assert_string_equal(act->note->text, "تم استبدال الكابل");
    assert_true(a.json);
    BUILD("reply", "sam", "--", "31", "-- Bonjour, l'écran est réparé");
    ACT(REPLY);
    assert_string_equal(act->reply->text, "-- Bonjour, l'écran est réparé");
    BUILD("log-contact", "sam", "31", "--direction", "inbound", "--channel=on_site", "--summary",
          "گاہک نے فون کیا");
    ACT(LOG_CONTACT);
    assert_string_equal(act->log_contact->direction, "inbound");
    assert_int_equal(act->log_contact->channel, HELPDESK__V1__CHANNEL__CHANNEL_ON_SITE);
    assert_string_equal(act->log_contact->summary, "گاہک نے فون کیا");
    BUILD("wait", "sam", "31");
    ACT(WAIT);
    assert_null(act->wait->reason);
    BUILD("wait", "sam", "31", "--reason", "en attente du client");
    assert_string_equal(act->wait->reason, "en attente du client");
    BUILD("resolve", "sam", "31", "--solution", "Replaced the roller");
    ACT(RESOLVE);
    assert_string_equal(act->resolve->solution, "Replaced the roller");
    BUILD("close", "sam", "31");
    ACT(CLOSE);
    BUILD("reopen", "sam", "31", "--reason", "came back");
    ACT(REOPEN);
    assert_string_equal(act->reopen->reason, "came back");
    BUILD("escalate", "sam", "31", "--reason", "needs network team");
    ACT(ESCALATE);
    assert_string_equal(act->escalate->reason, "needs network team");
    BUILD("priority", "sam", "31", "p2", "--reason", "only one user");
    ACT(REPRIORITIZE);
    assert_int_equal(act->reprioritize->priority,
                     HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION);
    assert_string_equal(act->reprioritize->reason, "only one user");
    BUILD("confirm", "sam", "31", "--satisfied", "--comment", "Terima kasih");
    ACT(SATISFACTION);
    assert_true(act->satisfaction->satisfied);
    assert_string_equal(act->satisfaction->comment, "Terima kasih");
    BUILD("confirm", "sam", "31", "--not-satisfied");
    ACT(SATISFACTION);
    assert_false(act->satisfaction->satisfied);
    assert_null(act->satisfaction->comment);
#undef ACT
}

static void test_action_usage_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("take", "ID", "--agent", "sam");
    EXPECT_ERROR("take", "ID", "0");
    EXPECT_ERROR("take", "--to", "31", "--to", "x");
    EXPECT_ERROR("assign", "--to", "31");
    EXPECT_ERROR("note", "ID TEXT", "31");
    EXPECT_ERROR("note", "quotes", "31", "two", "words");
    EXPECT_ERROR("note", "TEXT", "31", "");
    EXPECT_ERROR("note", "UTF-8", "31", "bad \xff byte");
    EXPECT_ERROR("reply", "ID", "hello");
    EXPECT_ERROR("log-contact", "--direction", "31", "--channel", "phone", "--summary", "s");
    EXPECT_ERROR("log-contact", "--direction", "31", "--direction", "sideways", "--channel",
                 "phone", "--summary", "s");
    EXPECT_ERROR("log-contact", "--channel", "31", "--direction", "inbound", "--channel", "fax",
                 "--summary", "s");
    EXPECT_ERROR("log-contact", "--summary", "31", "--direction", "inbound", "--channel",
                 "phone");
    EXPECT_ERROR("resolve", "--solution", "31");
    EXPECT_ERROR("resolve", "--solution", "31", "--solution=");
    EXPECT_ERROR("escalate", "--reason", "31");
    EXPECT_ERROR("priority", "P1..P4", "31", "--reason", "r");
    EXPECT_ERROR("priority", "P7", "31", "P7", "--reason", "r");
    EXPECT_ERROR("priority", "--reason", "31", "P1");
    EXPECT_ERROR("confirm", "--satisfied", "31");
    EXPECT_ERROR("confirm", "exactly one", "31", "--satisfied", "--not-satisfied");
    EXPECT_ERROR("confirm", "--not-satisfied", "31", "--not-satisfied=no");
    EXPECT_ERROR("wait", "--solution", "31", "--solution", "x");

    cli_args a;
    char err[256];
    char *help[] = {"31", "--help"};
    assert_int_equal(parse("resolve", ARGC(help), help, &a, err, sizeof err), CLI_PARSE_HELP);
}

static void test_search(void **state)
{
    (void)state;
    cli_args a;
    cli_request r;
    BUILD("search", NULL, "imprimante bloquée", "--limit", "5");
    assert_int_equal(r.req.body_case, HELPDESK__V1__REQUEST__BODY_SEARCH);
    assert_string_equal(r.req.search->text, "imprimante bloquée");
    assert_int_equal(r.req.search->similar_to, 0);
    assert_int_equal(r.req.search->limit, 5);
    BUILD("similar", NULL, "31");
    assert_int_equal(r.req.body_case, HELPDESK__V1__REQUEST__BODY_SEARCH);
    assert_null(r.req.search->text);
    assert_int_equal(r.req.search->similar_to, 31);
    assert_int_equal(r.req.search->limit, 0);
    EXPECT_ERROR("search", "TEXT", "--limit", "3");
    EXPECT_ERROR("search", "--limit", "x", "--limit", "101");
    EXPECT_ERROR("similar", "ID", "printer");
    EXPECT_ERROR("similar", "--agent", "31", "--agent", "sam");
}

static void test_table(void **state)
{
    (void)state;
    static const char *const names[] = {
        "submit", "show",   "list",  "watch",  "next",     "take",     "assign",
        "note",   "reply",  "log-contact", "wait", "resolve", "close", "reopen",
        "escalate", "priority", "confirm", "similar", "search", "help"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cli_command *c = cli_command_find(names[i]);
        if (c == NULL)
            fail_msg("no command %s", names[i]);
        assert_string_equal(c->grammar.name, names[i]);
        assert_non_null(c->summary);
        assert_non_null(c->run);
        /* every technician action says who acts */
        if (c->output == CLI_OUT_ACTION)
            assert_true(c->actor && (c->grammar.options & CLI_O_AGENT));
    }
    assert_null(cli_command_find("frobnicate"));
    assert_null(cli_command_find(NULL));

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_usage(f, NULL);
    fclose(f);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "\n  %-12s ", names[i]);
        if (strstr(text, line) == NULL)
            fail_msg("help does not list %s", names[i]);
    }
    free(text);
    f = open_memstream(&text, &len);
    cli_usage(f, cli_command_find("log-contact"));
    fclose(f);
    assert_non_null(strstr(text, "usage: helpdesk log-contact ID --direction inbound|outbound"));
    assert_non_null(strstr(text, "[--agent A] [--json]"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_globals),
        cmocka_unit_test(test_submit_full),
        cmocka_unit_test(test_submit_defaults),
        cmocka_unit_test(test_submit_usage_errors),
        cmocka_unit_test(test_show_list_watch),
        cmocka_unit_test(test_next_and_actor),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_action_usage_errors),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
