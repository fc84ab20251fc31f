/* `helpdesk keygen`: a CurveZMQ key pair for a server or a client, written where the operator
 * says. Runs without a config and without any server. */
#include <stdio.h>

#include "cli.h"
#include "hd/curve.h"
#include "opt.h"

/* --out DIR and --name NAME. CLI_PARSE_* with the usage error in err. */
static enum cli_parse parse(int argc, char **argv, const char **dir, const char **name, char *err,
                            size_t errlen)
{
    cli_opt_iter it;
    cli_opt_init(&it, argc, argv, 0);
    const char *pos;
    enum cli_arg kind;
    while ((kind = cli_opt_next(&it, &pos)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            snprintf(err, errlen, "takes no argument \"%s\" (see helpdesk keygen --help)", pos);
            return CLI_PARSE_ERROR;
        }
        if (cli_opt_is_help(&it))
            return CLI_PARSE_HELP;
        int rc;
        if (cli_opt_is(&it, "--out"))
            rc = cli_opt_value(&it, dir, err, errlen);
        else if (cli_opt_is(&it, "--name"))
            rc = cli_opt_value(&it, name, err, errlen);
        else
            rc = cli_opt_unknown(&it, "keygen", err, errlen);
        if (rc != 0)
            return CLI_PARSE_ERROR;
    }
    if (!hd_curve_key_name_ok(*name)) {
        snprintf(err, errlen,
                 "--name: \"%s\" must be 1 to 64 letters, digits, '.', '_' or '-', not starting "
                 "with '.' or '-'",
                 *name);
        return CLI_PARSE_ERROR;
    }
    if ((*dir)[0] == '\0') {
        snprintf(err, errlen, "--out: give a folder");
        return CLI_PARSE_ERROR;
    }
    return CLI_PARSE_OK;
}

int cli_keygen_run(const cli_command *cmd, const cli_env *env, int argc, char **argv)
{
    (void)env;
    const char *dir = ".", *name = "client";
    char err[4200];
    enum cli_parse p = parse(argc, argv, &dir, &name, err, sizeof err);
    if (p == CLI_PARSE_HELP) {
        cli_usage(stdout, cmd);
        return CLI_OK;
    }
    if (p != CLI_PARSE_OK) {
        fprintf(stderr, "helpdesk keygen: %s\n", err);
        return CLI_USAGE;
    }
    char public_key[HD_CURVE_KEY_LEN + 1];
    if (hd_curve_keygen(dir, name, public_key, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        return CLI_REFUSED;
    }
    /* The key alone on stdout, so a script can take it: K=$(helpdesk keygen --name x). */
    printf("%s\n", public_key);
    fprintf(stderr, "wrote %s/%s.pub (public) and %s/%s.key (secret, mode 0600)\n", dir, name, dir,
            name);
    return CLI_OK;
}
