/* The commands of `helpdesk`: one table (table.c) says for each its grammar, help, the request
 * it sends and how its answer is shown; commands.c runs them. A run returns the process exit
 * code (CLI_OK, CLI_REFUSED, CLI_USAGE, CLI_NO_ANSWER from args.h) after printing its result
 * or its error. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "args.h"
#include "format.h"
#include "hd/client.h"

typedef struct {
    const char *intake; /* endpoints, resolved from options, environment, config */
    const char *store;
    const char *events;
    hd_curve_opts store_curve; /* CurveZMQ client options for the store (api and events) */
    hd_curve_opts intake_curve;
    int timeout_ms;
    bool json;
} cli_env;

/* Room for any request a command builds; the request points into it. */
typedef struct {
    HdRequest req;
    HdGetTicket get;
    HdListTickets list;
    HdNextTicket next;
    HdSearchSolutions search;
    HdTicketAction act;
    Helpdesk__V1__Take take;
    Helpdesk__V1__Assign assign;
    Helpdesk__V1__Note note;
    Helpdesk__V1__CustomerMessage reply;
    Helpdesk__V1__ContactLog log_contact;
    Helpdesk__V1__Wait wait;
    Helpdesk__V1__Resolve resolve;
    Helpdesk__V1__Close close;
    Helpdesk__V1__Reopen reopen;
    Helpdesk__V1__Escalate escalate;
    Helpdesk__V1__Reprioritize reprioritize;
    Helpdesk__V1__Satisfaction satisfaction;
} cli_request;

typedef struct cli_command cli_command;

/* argv[0] is the first argument after the command name. */
typedef int (*cli_run_fn)(const cli_command *cmd, const cli_env *env, int argc, char **argv);

struct cli_command {
    cli_grammar grammar; /* name, positionals, options */
    const char *usage;   /* after "helpdesk NAME " in the usage line */
    const char *summary; /* one line for `helpdesk help` */
    const char *help;    /* more for `NAME --help`, or NULL */
    bool actor;          /* acts as a technician: --agent, else $HD_AGENT, else $USER */
    /* The store request, for commands run by cli_request_run. */
    void (*build)(const cli_command *cmd, const cli_args *a, const char *actor, cli_request *r);
    Helpdesk__V1__Reply__BodyCase reply; /* the answer that means success */
    enum cli_output output;
    cli_run_fn run;
    Helpdesk__V1__TicketAction__ActionCase action; /* for technician actions */
};

/* The command called `name`, or NULL. */
const cli_command *cli_command_find(const char *name);
/* Fills r with the request of `cmd` (which must have a build function). */
void cli_request_build(const cli_command *cmd, const cli_args *a, const char *actor,
                       cli_request *r);
/* The usage of one command, or the overview of all when cmd is NULL. */
void cli_usage(FILE *out, const cli_command *cmd);

/* One request to `endpoint` (named `what` in messages), tried `attempts` times when there is
 * no answer. CLI_OK with *out set (caller frees with hd_reply_free) when the answer is `expect`;
 * else the exit code after printing why ("error: field: message"). `empty` is what to say for
 * ERROR_EMPTY, or NULL. */
int cli_call(hd_client *c, const char *what, const char *endpoint, HdRequest *req, int timeout_ms,
             int attempts, Helpdesk__V1__Reply__BodyCase expect, const char *empty, HdReply **out);
/* A client of `endpoint` (with `curve`: env->store_curve or env->intake_curve), or NULL after
 * saying why. */
hd_client *cli_connect(void *ctx, const char *what, const char *endpoint,
                       const hd_curve_opts *curve);

/* Parses argv by cmd's grammar into *a (json from env to start with). On CLI_PARSE_HELP the
 * usage is printed; on CLI_PARSE_ERROR the usage error is said. */
enum cli_parse cli_command_parse(const cli_command *cmd, const cli_env *env, int argc, char **argv,
                                 cli_args *a);

/* The runners the table uses. */
int cli_request_run(const cli_command *cmd, const cli_env *env, int argc, char **argv);
int cli_submit_run(const cli_command *cmd, const cli_env *env, int argc, char **argv);
int cli_watch_run(const cli_command *cmd, const cli_env *env, int argc, char **argv);
int cli_help_run(const cli_command *cmd, const cli_env *env, int argc, char **argv);
/* keygen.c: writes a CurveZMQ key pair; needs no config and no server. */
int cli_keygen_run(const cli_command *cmd, const cli_env *env, int argc, char **argv);

#endif
