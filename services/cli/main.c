/* helpdesk: the command line for technicians and operators. Global options, the config file
 * and the environment give the endpoints; the command does the rest (commands.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hd/config.h"
#include "hd/log.h"

typedef int (*command_fn)(const cli_env *env, int argc, char **argv);

static command_fn find_command(const char *name)
{
    if (strcmp(name, "submit") == 0)
        return cli_submit_run;
    if (strcmp(name, "show") == 0)
        return cli_show_run;
    if (strcmp(name, "list") == 0)
        return cli_list_run;
    if (strcmp(name, "watch") == 0)
        return cli_watch_run;
    return NULL;
}

int main(int argc, char **argv)
{
    hd_log_init("helpdesk");
    if (getenv("HD_LOG_LEVEL") == NULL)
        hd_log_set_level(HD_LOG_WARN); /* a command prints results, not service logs */
    cli_globals g;
    char err[512];
    enum cli_parse p = cli_parse_globals(argc, argv, &g, err, sizeof err);
    if (p == CLI_PARSE_HELP) {
        cli_usage(stdout, NULL);
        return CLI_OK;
    }
    if (p != CLI_PARSE_OK) {
        fprintf(stderr, "helpdesk: %s\n", err);
        return CLI_USAGE;
    }
    if (g.command == NULL) {
        cli_usage(stderr, NULL);
        return CLI_USAGE;
    }
    if (strcmp(g.command, "help") == 0) {
        const char *topic = g.rest < argc ? argv[g.rest] : NULL;
        if (topic && !cli_command_known(topic)) {
            fprintf(stderr, "helpdesk: no command \"%s\"\n", topic);
            return CLI_USAGE;
        }
        cli_usage(stdout, topic);
        return CLI_OK;
    }
    command_fn run = find_command(g.command);
    if (run == NULL) {
        fprintf(stderr, "helpdesk: unknown command \"%s\" (see helpdesk --help)\n", g.command);
        return CLI_USAGE;
    }
    const char *path = g.config ? g.config : getenv("HD_CONFIG");
    hd_config *cfg = hd_config_load(path, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "helpdesk: --config: %s\n", err);
        return CLI_USAGE;
    }
    cli_env env = {
        .intake = g.intake ? g.intake
                           : hd_config_str(cfg, "intake.endpoint", HD_DEFAULT_INTAKE),
        .store = g.store ? g.store : hd_config_str(cfg, "store.api", HD_DEFAULT_STORE_API),
        .events = g.events ? g.events
                           : hd_config_str(cfg, "store.events", HD_DEFAULT_STORE_EVENTS),
        .timeout_ms = g.timeout_ms,
        .json = g.json,
    };
    int rc = run(&env, argc - g.rest, argv + g.rest);
    hd_config_destroy(&cfg);
    return rc;
}
