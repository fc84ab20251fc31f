/* helpdesk: the command line for technicians and operators. Global options, the config file
 * and the environment give the endpoints; the command's row in the table does the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hd/config.h"
#include "hd/log.h"

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
    const cli_command *cmd = cli_command_find(g.command);
    if (cmd == NULL) {
        fprintf(stderr, "helpdesk: unknown command \"%s\" (see helpdesk help)\n", g.command);
        return CLI_USAGE;
    }
    cli_env env = {.timeout_ms = g.timeout_ms, .json = g.json};
    if (cmd->run == cli_help_run || cmd->run == cli_keygen_run) /* need no config */
        return cmd->run(cmd, &env, argc - g.rest, argv + g.rest);
    const char *path = g.config ? g.config : getenv("HD_CONFIG");
    hd_config *cfg = hd_config_load(path, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "helpdesk: --config: %s\n", err);
        return CLI_USAGE;
    }
    /* The same check the services make: a typo in a setting the CLI reads is said, not
     * silently replaced by a default endpoint. */
    hd_config_problem bad;
    if (hd_config_check(cfg, HD_SVC_CLI, &bad) != 0) {
        fprintf(stderr, "helpdesk: config: %s (%s): %s\n", bad.key, bad.source, bad.reason);
        hd_config_destroy(&cfg);
        return CLI_USAGE;
    }
    env.intake = g.intake ? g.intake : hd_config_str(cfg, "intake.endpoint", HD_DEFAULT_INTAKE);
    env.store = g.store ? g.store : hd_config_str(cfg, "store.api", HD_DEFAULT_STORE_API);
    env.events = g.events ? g.events : hd_config_str(cfg, "store.events", HD_DEFAULT_STORE_EVENTS);
    if (hd_curve_client_config(cfg, "store", &env.store_curve, err, sizeof err) != 0 ||
        hd_curve_client_config(cfg, "intake", &env.intake_curve, err, sizeof err) != 0) {
        fprintf(stderr, "helpdesk: %s\n", err);
        hd_config_destroy(&cfg);
        return CLI_USAGE;
    }
    int rc = cmd->run(cmd, &env, argc - g.rest, argv + g.rest);
    hd_config_destroy(&cfg);
    return rc;
}
