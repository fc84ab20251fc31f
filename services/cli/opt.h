/* Walking a command line: options "--name", "--name=value", "-h"; "--" ends the options. Shared
 * by every parser of the CLI, so each one only says what its options mean. Values point into
 * argv. Errors are written into err as a sentence naming the option. */
#ifndef CLI_OPT_H
#define CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int argc;
    char **argv;
    int i;                    /* next argv index */
    char name[64];            /* the current option, "--queue" */
    const char *inline_value; /* after '=' in "--queue=x", else NULL */
    bool no_more_options;
} cli_opt_iter;

enum cli_arg { CLI_ARG_END, CLI_ARG_OPTION, CLI_ARG_POSITIONAL };

/* Starts at argv[first]. */
void cli_opt_init(cli_opt_iter *it, int argc, char **argv, int first);
/* The next argument: an option (its name in it->name) or a positional (in *positional). */
enum cli_arg cli_opt_next(cli_opt_iter *it, const char **positional);
bool cli_opt_is(const cli_opt_iter *it, const char *name);
bool cli_opt_is_help(const cli_opt_iter *it);

/* The current option's value (inline or the next argument). 0, or -1 when missing. */
int cli_opt_value(cli_opt_iter *it, const char **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* For flags: -1 when "--flag=value" was given. */
int cli_opt_flag(const cli_opt_iter *it, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The current option's value as a whole number in [lo, hi]. */
int cli_opt_number(cli_opt_iter *it, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* `s` as a whole number in [lo, hi]; `what` names it in the error. */
int cli_parse_number(const char *what, const char *s, int64_t lo, int64_t hi, int64_t *out,
                     char *err, size_t errlen) __attribute__((warn_unused_result));
/* Writes "unknown option --x for CMD (see helpdesk CMD --help)"; returns -1. */
int cli_opt_unknown(const cli_opt_iter *it, const char *cmd, char *err, size_t errlen);

#endif
