/* The one table of helpdesk commands: grammar, help, request and output of each. Adding a
 * command is adding a row (and, for a new request, a build function). */
#include <string.h>

#include "cli.h"
#include "hd/config.h"

#define AC(x) HELPDESK__V1__TICKET_ACTION__ACTION_##x
#define RQ(x) HELPDESK__V1__REQUEST__BODY_##x
#define RP(x) HELPDESK__V1__REPLY__BODY_##x

/* --- requests --- */

static void build_show(const cli_command *cmd, const cli_args *a, const char *actor, cli_request *r)
{
    (void)cmd;
    (void)actor;
    r->get.ticket_id = a->id;
    r->req.body_case = RQ(GET_TICKET);
    r->req.get_ticket = &r->get;
}

static void build_list(const cli_command *cmd, const cli_args *a, const char *actor, cli_request *r)
{
    (void)cmd;
    (void)actor;
    HdListTickets *l = &r->list;
    l->queue = (char *)a->queue;
    l->status = a->status;
    l->priority = a->priority;
    l->limit = (uint32_t)a->limit;
    l->open_only = (a->given & CLI_O_OPEN) != 0;
    l->contact_id = a->contact;
    l->assignee = (char *)a->assignee;
    r->req.body_case = RQ(LIST_TICKETS);
    r->req.list_tickets = l;
}

static void build_next(const cli_command *cmd, const cli_args *a, const char *actor, cli_request *r)
{
    (void)cmd;
    r->next.queue = (char *)a->queue;
    r->next.agent = (char *)actor;
    r->req.body_case = RQ(NEXT);
    r->req.next = &r->next;
}

/* search TEXT and similar ID: the same request, by text or by a ticket. */
static void build_search(const cli_command *cmd, const cli_args *a, const char *actor,
                         cli_request *r)
{
    (void)cmd;
    (void)actor;
    r->search.text = (char *)a->text;
    r->search.similar_to = a->id;
    r->search.limit = (uint32_t)a->limit;
    r->req.body_case = RQ(SEARCH);
    r->req.search = &r->search;
}

/* A technician action: the ticket, who acts, and the action's own fields by its kind. */
static void build_action(const cli_command *cmd, const cli_args *a, const char *actor,
                         cli_request *r)
{
    HdTicketAction *x = &r->act;
    x->ticket_id = a->id;
    x->actor = (char *)actor;
    x->action_case = cmd->action;
    r->req.body_case = RQ(ACT);
    r->req.act = x;
    r->wait.reason = r->close.reason = r->reopen.reason = r->escalate.reason =
        r->reprioritize.reason = (char *)a->reason;
    r->note.text = r->reply.text = (char *)a->text;
    switch (cmd->action) {
    case AC(TAKE): x->take = &r->take; break;
    case AC(ASSIGN):
        r->assign.assignee = (char *)a->to;
        x->assign = &r->assign;
        break;
    case AC(NOTE): x->note = &r->note; break;
    case AC(REPLY): x->reply = &r->reply; break;
    case AC(LOG_CONTACT):
        r->log_contact.direction = (char *)a->direction;
        r->log_contact.channel = a->channel;
        r->log_contact.summary = (char *)a->summary;
        x->log_contact = &r->log_contact;
        break;
    case AC(WAIT): x->wait = &r->wait; break;
    case AC(RESOLVE):
        r->resolve.solution = (char *)a->solution;
        x->resolve = &r->resolve;
        break;
    case AC(CLOSE): x->close = &r->close; break;
    case AC(REOPEN): x->reopen = &r->reopen; break;
    case AC(ESCALATE): x->escalate = &r->escalate; break;
    case AC(REPRIORITIZE):
        r->reprioritize.priority = a->priority;
        x->reprioritize = &r->reprioritize;
        break;
    default: /* AC(SATISFACTION) */
        r->satisfaction.satisfied = (a->given & CLI_O_SATISFIED) != 0;
        r->satisfaction.comment = (char *)a->comment;
        x->satisfaction = &r->satisfaction;
        break;
    }
}

void cli_request_build(const cli_command *cmd, const cli_args *a, const char *actor, cli_request *r)
{
    /* Every member initialised, so whichever the command uses packs as protobuf expects. */
    *r = (cli_request){
        .req = HELPDESK__V1__REQUEST__INIT,
        .get = HELPDESK__V1__GET_TICKET__INIT,
        .list = HELPDESK__V1__LIST_TICKETS__INIT,
        .next = HELPDESK__V1__NEXT_TICKET__INIT,
        .search = HELPDESK__V1__SEARCH_SOLUTIONS__INIT,
        .act = HELPDESK__V1__TICKET_ACTION__INIT,
        .take = HELPDESK__V1__TAKE__INIT,
        .assign = HELPDESK__V1__ASSIGN__INIT,
        .note = HELPDESK__V1__NOTE__INIT,
        .reply = HELPDESK__V1__CUSTOMER_MESSAGE__INIT,
        .log_contact = HELPDESK__V1__CONTACT_LOG__INIT,
        .wait = HELPDESK__V1__WAIT__INIT,
        .resolve = HELPDESK__V1__RESOLVE__INIT,
        .close = HELPDESK__V1__CLOSE__INIT,
        .reopen = HELPDESK__V1__REOPEN__INIT,
        .escalate = HELPDESK__V1__ESCALATE__INIT,
        .reprioritize = HELPDESK__V1__REPRIORITIZE__INIT,
        .satisfaction = HELPDESK__V1__SATISFACTION__INIT,
    };
    cmd->build(cmd, a, actor, r);
}

/* --- the table --- */

#define ACTS (CLI_O_JSON | CLI_O_AGENT)
#define LIST_OPTS                                                                                  \
    (CLI_O_JSON | CLI_O_QUEUE | CLI_O_STATUS | CLI_O_PRIORITY | CLI_O_LIMIT | CLI_O_OPEN |         \
     CLI_O_ASSIGNEE | CLI_O_CONTACT)

/* A technician action on ticket ID: the store answers with the ticket and the events made. */
#define ACTION(name_, pos_, opts_, req_, one_, usage_, summary_, help_, action_)                   \
    {                                                                                              \
        .grammar = {(name_), (pos_), ACTS | (opts_), (req_), (one_), 0}, .usage = (usage_),        \
        .summary = (summary_), .help = (help_), .actor = true, .build = build_action,              \
        .reply = RP(TICKET), .output = CLI_OUT_ACTION, .run = cli_request_run,                     \
        .action = AC(action_),                                                                     \
    }

static const char submit_help[] =
    "contact:   --source S (default cli)  --external-id X (default: generated and printed;\n"
    "           reuse it to retry)  --channel phone|email|web|chat|on_site|api (default phone)\n"
    "           --agent NAME\n"
    "customer:  --name N  --email E  --phone P  --language TAG  --organization O  --vip\n"
    "           --attr KEY=VALUE (repeatable)\n"
    "account:   --account N  --contract LEVEL  --licence L  --product P  --model M  --serial S\n"
    "location:  --site S  --building B  --floor F  --room R  --address A  --city C\n"
    "           --country C\n"
    "problems:  --problem SUMMARY starts a problem; these describe the last one:\n"
    "           --category C  --description D  --users N\n"
    "           --urgency low|medium|high|critical  --impact low|medium|high|critical\n"
    "\n"
    "Each problem becomes its own ticket. Prints \"contact 12: tickets 31 32\"; a contact sent\n"
    "again with the same --source and --external-id makes no new tickets (already received).\n"
    "Retries up to 3 times when intake does not answer.\n";

static const cli_command commands[] = {
    {
        .grammar = {"submit", CLI_POS_NONE, 0, 0, 0, 0},
        .usage = "[options] --problem SUMMARY [problem options] ...",
        .summary = "take a contact: customer, account, location and one or more --problem",
        .help = submit_help,
        .reply = RP(RECEIPT),
        .output = CLI_OUT_RECEIPT,
        .run = cli_submit_run,
    },
    {
        .grammar = {"show", CLI_POS_ID, CLI_O_JSON, 0, 0, 0},
        .usage = "ID",
        .summary = "a ticket and its whole history",
        .help = "The ticket (status, priority, queue and tier, assignee, customer, account,\n"
                "location, problem, SLA deadlines and clock in UTC, solution, satisfaction, the\n"
                "rules that decided) and its history, one line per event.\n",
        .build = build_show,
        .reply = RP(TICKET),
        .output = CLI_OUT_TICKET,
        .run = cli_request_run,
    },
    {
        .grammar = {"list", CLI_POS_NONE, LIST_OPTS, 0, 0, 1000},
        .usage = "[--queue Q] [--status S] [--priority P1..P4] [--open] [--assignee A]\n"
                 "                     [--contact N] [--limit N]",
        .summary = "tickets, filtered by queue, status, priority, assignee, contact",
        .help = "--open: only tickets not resolved or closed. --contact N: those of contact N.\n"
                "statuses: new triaged queued in_progress waiting_customer resolved closed\n"
                "reopened. limit: 1..1000 (default 100)\n",
        .build = build_list,
        .reply = RP(TICKETS),
        .output = CLI_OUT_LIST,
        .run = cli_request_run,
    },
    {
        .grammar = {"watch", CLI_POS_NONE, CLI_O_JSON | CLI_O_FROM | CLI_O_COUNT, 0, 0, 0},
        .usage = "[--from SEQ] [--count N]",
        .summary = "follow ticket events live (--from SEQ to catch up)",
        .help = "One line per event (one JSON object per line with --json). --from SEQ first\n"
                "prints every event after SEQ from the store's log, then follows live with no\n"
                "gap and no repeat. --count N stops after N events. Ctrl-C stops.\n",
        .reply = RP(EVENTS),
        .run = cli_watch_run,
    },
    {
        .grammar = {"next", CLI_POS_NONE, ACTS | CLI_O_QUEUE, CLI_O_QUEUE, 0, 0},
        .usage = "--queue Q",
        .summary = "take the next ticket of a queue (P1 first, then the oldest)",
        .help = "Takes the highest-priority, oldest queued or reopened ticket of queue Q and\n"
                "shows it. Exit 1 when none is waiting. Two technicians never get the same.\n",
        .actor = true,
        .build = build_next,
        .reply = RP(TICKET),
        .output = CLI_OUT_TICKET,
        .run = cli_request_run,
    },
    ACTION("take", CLI_POS_ID, 0, 0, 0, "ID", "take a ticket: in progress, assigned to you",
           "From waiting_customer this resumes the ticket and the SLA clock.\n", TAKE),
    ACTION("assign", CLI_POS_ID, CLI_O_TO, CLI_O_TO, 0, "ID --to A",
           "give a ticket to technician A", NULL, ASSIGN),
    ACTION("note", CLI_POS_ID_TEXT, 0, 0, 0, "ID TEXT", "add to the internal work log", NULL, NOTE),
    ACTION("reply", CLI_POS_ID_TEXT, 0, 0, 0, "ID TEXT", "send a message to the customer",
           "The notifier delivers TEXT to the customer. The first reply is the first response.\n",
           REPLY),
    ACTION("log-contact", CLI_POS_ID, CLI_O_DIRECTION | CLI_O_CHANNEL | CLI_O_SUMMARY,
           CLI_O_DIRECTION | CLI_O_CHANNEL | CLI_O_SUMMARY, 0,
           "ID --direction inbound|outbound --channel CHANNEL --summary TEXT",
           "document a call or visit with the customer",
           "channels: phone email web chat on_site api. An outbound contact is a first\n"
           "response; an inbound one on a ticket waiting for the customer resumes it.\n",
           LOG_CONTACT),
    ACTION("wait", CLI_POS_ID, CLI_O_REASON, 0, 0, "ID [--reason R]",
           "wait for the customer: pauses the SLA clock", NULL, WAIT),
    ACTION("resolve", CLI_POS_ID, CLI_O_SOLUTION, CLI_O_SOLUTION, 0, "ID --solution TEXT",
           "record the solution: resolved",
           "The customer is asked to confirm (helpdesk confirm).\n", RESOLVE),
    ACTION("close", CLI_POS_ID, CLI_O_REASON, 0, 0, "ID [--reason R]", "close a resolved ticket",
           NULL, CLOSE),
    ACTION("reopen", CLI_POS_ID, CLI_O_REASON, 0, 0, "ID [--reason R]",
           "reopen a resolved or closed ticket: back to its queue", NULL, REOPEN),
    ACTION("escalate", CLI_POS_ID, CLI_O_REASON, CLI_O_REASON, 0, "ID --reason R",
           "ask for the next tier (after tier 3: the manager)", NULL, ESCALATE),
    ACTION("priority", CLI_POS_ID_PRIORITY, CLI_O_REASON, CLI_O_REASON, 0, "ID P1..P4 --reason R",
           "re-prioritize a ticket", NULL, REPRIORITIZE),
    ACTION("confirm", CLI_POS_ID, CLI_O_SATISFIED | CLI_O_NOT_SATISFIED | CLI_O_COMMENT, 0,
           CLI_O_SATISFIED | CLI_O_NOT_SATISFIED, "ID --satisfied|--not-satisfied [--comment TEXT]",
           "record the customer's satisfaction with a resolution",
           "--not-satisfied reopens the ticket.\n", SATISFACTION),
    {
        .grammar = {"similar", CLI_POS_ID, CLI_O_JSON | CLI_O_LIMIT, 0, 0, 100},
        .usage = "ID [--limit N]",
        .summary = "past resolved tickets like this one, with their solutions",
        .help = "Best first, by PostgreSQL text search over summary, description and solution.\n"
                "limit: 1..100 (default 10)\n",
        .build = build_search,
        .reply = RP(RESULTS),
        .output = CLI_OUT_HITS,
        .run = cli_request_run,
    },
    {
        .grammar = {"search", CLI_POS_TEXT, CLI_O_JSON | CLI_O_LIMIT, 0, 0, 100},
        .usage = "TEXT [--limit N]",
        .summary = "past resolved tickets matching TEXT, with their solutions",
        .help = "Best first; any word of TEXT may match, in any language.\n"
                "limit: 1..100 (default 10)\n",
        .build = build_search,
        .reply = RP(RESULTS),
        .output = CLI_OUT_HITS,
        .run = cli_request_run,
    },
    {
        .grammar = {"keygen", CLI_POS_NONE, 0, 0, 0, 0},
        .usage = "[--out DIR] [--name NAME]",
        .summary = "make a CurveZMQ key pair: NAME.pub and NAME.key",
        .help = "Writes DIR/NAME.pub (the public key) and DIR/NAME.key (the secret key, mode\n"
                "0600) and prints the public key. DIR defaults to the current folder (made\n"
                "when missing), NAME to \"client\". Existing files are never overwritten.\n"
                "Needs no config and no server: see \"Security: CurveZMQ\" in the README.\n",
        .run = cli_keygen_run,
    },
    {
        .grammar = {"help", CLI_POS_NONE, 0, 0, 0, 0},
        .usage = "[COMMAND]",
        .summary = "this list, or the usage of COMMAND",
        .run = cli_help_run,
    },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_command_find(const char *name)
{
    for (size_t i = 0; name && i < N_COMMANDS; i++)
        if (strcmp(commands[i].grammar.name, name) == 0)
            return &commands[i];
    return NULL;
}

/* --- help --- */

static const char globals_help[] =
    "global options (before the command):\n"
    "  --config FILE       config file (else $HD_CONFIG)\n"
    "  --intake ENDPOINT   intake (else $HD_INTAKE_ENDPOINT, intake.endpoint, " HD_DEFAULT_INTAKE
    ")\n"
    "  --store ENDPOINT    store api (else $HD_STORE_API, store.api, " HD_DEFAULT_STORE_API ")\n"
    "  --events ENDPOINT   store events (else $HD_STORE_EVENTS, "
    "store.events, " HD_DEFAULT_STORE_EVENTS ")\n"
    "  --timeout MS        how long to wait for an answer (default 5000)\n"
    "  --json              print JSON for scripts\n"
    "CurveZMQ keys come from the curve.* settings (or $HD_CURVE_*), see the README.\n"
    "\n"
    "Technician commands act as --agent A, else $HD_AGENT, else $USER.\n"
    "exit status: 0 ok, 1 refused by the server, 2 usage error, 3 no answer\n";

void cli_usage(FILE *out, const cli_command *cmd)
{
    if (cmd == NULL) {
        fputs("usage: helpdesk [global options] COMMAND [options]\n\ncommands:\n", out);
        for (size_t i = 0; i < N_COMMANDS; i++)
            fprintf(out, "  %-12s %s\n", commands[i].grammar.name, commands[i].summary);
        fputs("\n`helpdesk COMMAND --help` gives the usage of one.\n\n", out);
        fputs(globals_help, out);
        return;
    }
    fprintf(out, "usage: helpdesk %s %s%s%s\n\n%s\n", cmd->grammar.name, cmd->usage,
            cmd->actor ? " [--agent A]" : "",
            (cmd->grammar.options & CLI_O_JSON) ? " [--json]" : "", cmd->summary);
    if (cmd->help)
        fputs(cmd->help, out);
    if (cmd->actor)
        fputs("--agent A: who acts (else $HD_AGENT, else $USER).\n", out);
    if (cmd->output == CLI_OUT_ACTION)
        fputs("Prints the ticket's new state and the events the action made; an action the\n"
              "ticket's status does not allow is refused (exit 1) and changes nothing.\n",
              out);
}
