#include "opt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_opt_init(cli_opt_iter *it, int argc, char **argv, int first)
{
    memset(it, 0, sizeof *it);
    it->argc = argc;
    it->argv = argv;
    it->i = first;
}

enum cli_arg cli_opt_next(cli_opt_iter *it, const char **positional)
{
    while (it->i < it->argc) {
        const char *a = it->argv[it->i++];
        if (!it->no_more_options && strcmp(a, "--") == 0) {
            it->no_more_options = true;
            continue;
        }
        /* "-" alone and negative-looking text are positionals only after "--". */
        if (it->no_more_options || a[0] != '-' || a[1] == '\0') {
            *positional = a;
            return CLI_ARG_POSITIONAL;
        }
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof it->name)
            n = sizeof it->name - 1;
        memcpy(it->name, a, n);
        it->name[n] = '\0';
        it->inline_value = eq ? eq + 1 : NULL;
        return CLI_ARG_OPTION;
    }
    return CLI_ARG_END;
}

bool cli_opt_is(const cli_opt_iter *it, const char *name)
{
    return strcmp(it->name, name) == 0;
}

bool cli_opt_is_help(const cli_opt_iter *it)
{
    return cli_opt_is(it, "--help") || cli_opt_is(it, "-h");
}

int cli_opt_value(cli_opt_iter *it, const char **out, char *err, size_t errlen)
{
    if (it->inline_value) {
        *out = it->inline_value;
        return 0;
    }
    if (it->i >= it->argc) {
        snprintf(err, errlen, "option %s needs a value", it->name);
        return -1;
    }
    *out = it->argv[it->i++];
    return 0;
}

int cli_opt_flag(const cli_opt_iter *it, char *err, size_t errlen)
{
    if (it->inline_value == NULL)
        return 0;
    snprintf(err, errlen, "option %s takes no value", it->name);
    return -1;
}

int cli_parse_number(const char *what, const char *s, int64_t lo, int64_t hi, int64_t *out,
                     char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        snprintf(err, errlen, "%s: \"%s\" is not a whole number from %" PRId64 " to %" PRId64, what,
                 s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_opt_number(cli_opt_iter *it, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
{
    const char *v;
    if (cli_opt_value(it, &v, err, errlen) != 0)
        return -1;
    return cli_parse_number(it->name, v, lo, hi, out, err, errlen);
}

int cli_opt_unknown(const cli_opt_iter *it, const char *cmd, char *err, size_t errlen)
{
    snprintf(err, errlen, "unknown option %s for %s (see helpdesk %s --help)", it->name, cmd, cmd);
    return -1;
}
