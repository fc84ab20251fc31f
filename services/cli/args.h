/* Command-line parsing for `helpdesk`: global options, and each command's arguments. One
 * parser serves every command but `submit`: a command names its positional arguments and the
 * options it takes (a cli_command in table.c), and the parser fills one cli_args. Plain
 * functions over argv, tested without sockets. Parsed strings point into argv, which must
 * outlive the results. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/proto.h"

/* Exit codes of the helpdesk command. */
enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_USAGE = 2, CLI_NO_ANSWER = 3 };

/* What a parser found: go on, help was asked for, or a usage error (message in err). */
enum cli_parse { CLI_PARSE_OK = 0, CLI_PARSE_HELP = 1, CLI_PARSE_ERROR = -1 };

typedef struct {
    const char *config;  /* --config, else NULL (HD_CONFIG is read by the caller) */
    const char *intake;  /* --intake, NULL: from the config */
    const char *store;   /* --store */
    const char *events;  /* --events */
    int timeout_ms;      /* --timeout, default 5000 */
    bool json;           /* --json */
    const char *command; /* NULL when none was given */
    int rest;            /* argv index of the command's first argument */
} cli_globals;

/* Global options up to the command name. */
enum cli_parse cli_parse_globals(int argc, char **argv, cli_globals *g, char *err, size_t errlen);

/* The positional arguments a command takes. */
enum cli_pos {
    CLI_POS_NONE,
    CLI_POS_ID,          /* ID */
    CLI_POS_ID_TEXT,     /* ID TEXT */
    CLI_POS_ID_PRIORITY, /* ID P1..P4 */
    CLI_POS_TEXT,        /* TEXT */
};

/* The options, as bits: a command lists those it takes and those it requires. */
enum cli_opt_bit {
    CLI_O_JSON = 1u << 0,
    CLI_O_AGENT = 1u << 1,          /* --agent A: who acts */
    CLI_O_QUEUE = 1u << 2,          /* --queue Q */
    CLI_O_TO = 1u << 3,             /* --to A: the new assignee */
    CLI_O_DIRECTION = 1u << 4,      /* --direction inbound|outbound */
    CLI_O_CHANNEL = 1u << 5,        /* --channel phone|email|... */
    CLI_O_SUMMARY = 1u << 6,        /* --summary TEXT */
    CLI_O_REASON = 1u << 7,         /* --reason R */
    CLI_O_SOLUTION = 1u << 8,       /* --solution TEXT */
    CLI_O_SATISFIED = 1u << 9,      /* --satisfied */
    CLI_O_NOT_SATISFIED = 1u << 10, /* --not-satisfied */
    CLI_O_COMMENT = 1u << 11,       /* --comment TEXT */
    CLI_O_LIMIT = 1u << 12,         /* --limit N */
    CLI_O_STATUS = 1u << 13,        /* --status S */
    CLI_O_PRIORITY = 1u << 14,      /* --priority P1..P4 */
    CLI_O_OPEN = 1u << 15,          /* --open */
    CLI_O_ASSIGNEE = 1u << 16,      /* --assignee A */
    CLI_O_CONTACT = 1u << 17,       /* --contact N */
    CLI_O_FROM = 1u << 18,          /* --from SEQ */
    CLI_O_COUNT = 1u << 19,         /* --count N */
};

/* What a command line said. Strings point into argv; NULL when not given. */
typedef struct {
    unsigned given; /* cli_opt_bit of each option given */
    bool json;
    int64_t id;                      /* ID */
    const char *text;                /* TEXT */
    Helpdesk__V1__Priority priority; /* P of `priority ID P`, or --priority */
    const char *agent, *queue, *to, *direction, *summary, *reason, *solution, *comment, *assignee;
    Helpdesk__V1__Channel channel;
    Helpdesk__V1__Status status;
    int64_t limit, contact, from, count;
} cli_args;

/* The grammar of one command. */
typedef struct {
    const char *name;
    enum cli_pos pos;
    unsigned options;  /* cli_opt_bit: taken */
    unsigned required; /* cli_opt_bit: each must be given */
    unsigned one_of;   /* cli_opt_bit: exactly one must be given (0: no such group) */
    int64_t max_limit; /* bound of --limit */
} cli_grammar;

/* Parses the arguments after the command name (argv[0] is the first). `json` in *a starts as
 * the global --json. */
enum cli_parse cli_args_parse(const cli_grammar *g, int argc, char **argv, cli_args *a, char *err,
                              size_t errlen);

/* Who acts: the first non-empty of --agent, $HD_AGENT, $USER; NULL when none. */
const char *cli_actor(const char *agent_opt, const char *hd_agent, const char *user);

/* --- submit (its own parser: a contact with several problems) --- */

typedef struct cli_submit cli_submit;

/* Parses the arguments after "submit" (argv[0] is the first option). On CLI_PARSE_OK *out is
 * set and the caller owns it. `json` is set when --json appears among them. */
enum cli_parse cli_submit_parse(int argc, char **argv, cli_submit **out, bool *json, char *err,
                                size_t errlen);
void cli_submit_destroy(cli_submit **s);
/* The contact; owned by s. */
HdContact *cli_submit_contact(cli_submit *s);
/* True when no --external-id was given and one was generated. */
bool cli_submit_generated(const cli_submit *s);

/* A fresh external id, "cli-<time>-<pid>-<random>", into buf. */
void cli_make_external_id(char *buf, size_t len);

#endif
