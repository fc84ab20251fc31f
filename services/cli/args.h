/* Command-line parsing for `helpdesk`: global options, and each command's options into the
 * request it sends. Plain functions over argv, so they are tested without sockets. Parsed
 * strings point into argv, which must outlive the results. */
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
enum cli_parse cli_parse_globals(int argc, char **argv, cli_globals *g, char *err,
                                 size_t errlen);

/* A contact built from `submit` options. */
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

/* `show ID` */
enum cli_parse cli_show_parse(int argc, char **argv, int64_t *id, bool *json, char *err,
                              size_t errlen);
/* `list` filters into a ListTickets request (strings point into argv). */
enum cli_parse cli_list_parse(int argc, char **argv, HdListTickets *lt, bool *json, char *err,
                              size_t errlen);

typedef struct {
    bool has_from;
    int64_t from; /* --from SEQ: catch up from the events after SEQ */
    int64_t count; /* --count N: stop after N events; 0 = never */
} cli_watch_opts;
enum cli_parse cli_watch_parse(int argc, char **argv, cli_watch_opts *w, bool *json, char *err,
                               size_t errlen);

/* A fresh external id, "cli-<time>-<pid>-<random>", into buf. */
void cli_make_external_id(char *buf, size_t len);

#endif
