/* The commands of `helpdesk`. Each returns the process exit code (CLI_OK, CLI_REFUSED,
 * CLI_USAGE, CLI_NO_ANSWER from args.h) after printing its result or its error. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "args.h"

typedef struct {
    const char *intake; /* endpoints, resolved from options, environment, config */
    const char *store;
    const char *events;
    int timeout_ms;
    bool json;
} cli_env;

/* argv[0] is the first argument after the command name. */
int cli_submit_run(const cli_env *env, int argc, char **argv);
int cli_show_run(const cli_env *env, int argc, char **argv);
int cli_list_run(const cli_env *env, int argc, char **argv);
int cli_watch_run(const cli_env *env, int argc, char **argv);

/* Help for one command, or the overview when command is NULL or unknown. */
void cli_usage(FILE *out, const char *command);
/* True when `command` is one of the commands above. */
bool cli_command_known(const char *command);

#endif
