#include "args.h"

#include <stdio.h>
#include <string.h>

#include "hd/utf8.h"
#include "opt.h"

enum cli_parse cli_parse_globals(int argc, char **argv, cli_globals *g, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    g->timeout_ms = 5000;
    cli_opt_iter it;
    cli_opt_init(&it, argc, argv, 1);
    const char *pos = NULL;
    enum cli_arg kind;
    while ((kind = cli_opt_next(&it, &pos)) == CLI_ARG_OPTION) {
        int64_t n = g->timeout_ms;
        int rc = 0;
        if (cli_opt_is_help(&it))
            return CLI_PARSE_HELP;
        if (cli_opt_is(&it, "--config"))
            rc = cli_opt_value(&it, &g->config, err, errlen);
        else if (cli_opt_is(&it, "--intake"))
            rc = cli_opt_value(&it, &g->intake, err, errlen);
        else if (cli_opt_is(&it, "--store"))
            rc = cli_opt_value(&it, &g->store, err, errlen);
        else if (cli_opt_is(&it, "--events"))
            rc = cli_opt_value(&it, &g->events, err, errlen);
        else if (cli_opt_is(&it, "--timeout")) {
            rc = cli_opt_number(&it, 1, 3600000, &n, err, errlen);
            g->timeout_ms = (int)n;
        } else if (cli_opt_is(&it, "--json")) {
            rc = cli_opt_flag(&it, err, errlen);
            g->json = true;
        } else {
            snprintf(err, errlen, "unknown option %s (see helpdesk --help)", it.name);
            return CLI_PARSE_ERROR;
        }
        if (rc != 0)
            return CLI_PARSE_ERROR;
    }
    if (kind == CLI_ARG_POSITIONAL) {
        g->command = pos;
        g->rest = it.i;
    } else {
        g->rest = argc;
    }
    return CLI_PARSE_OK;
}

/* --- the options every command draws from --- */

enum opt_kind { K_FLAG, K_TEXT, K_NUMBER, K_CHANNEL, K_PRIORITY, K_STATUS, K_DIRECTION };

typedef struct {
    const char *name;
    unsigned bit;
    enum opt_kind kind;
    size_t offset;    /* of the field in cli_args; unused for flags (the bit says it) */
    const char *meta; /* the value in messages: "--to A" */
    int64_t lo;       /* numbers: the smallest allowed */
} opt_def;

#define OFF(member) offsetof(cli_args, member)

static const opt_def opt_defs[] = {
    {"--json", CLI_O_JSON, K_FLAG, 0, "", 0},
    {"--agent", CLI_O_AGENT, K_TEXT, OFF(agent), "A", 0},
    {"--queue", CLI_O_QUEUE, K_TEXT, OFF(queue), "Q", 0},
    {"--to", CLI_O_TO, K_TEXT, OFF(to), "A", 0},
    {"--direction", CLI_O_DIRECTION, K_DIRECTION, OFF(direction), "inbound|outbound", 0},
    {"--channel", CLI_O_CHANNEL, K_CHANNEL, OFF(channel), "CHANNEL", 0},
    {"--summary", CLI_O_SUMMARY, K_TEXT, OFF(summary), "TEXT", 0},
    {"--reason", CLI_O_REASON, K_TEXT, OFF(reason), "R", 0},
    {"--solution", CLI_O_SOLUTION, K_TEXT, OFF(solution), "TEXT", 0},
    {"--satisfied", CLI_O_SATISFIED, K_FLAG, 0, "", 0},
    {"--not-satisfied", CLI_O_NOT_SATISFIED, K_FLAG, 0, "", 0},
    {"--comment", CLI_O_COMMENT, K_TEXT, OFF(comment), "TEXT", 0},
    {"--limit", CLI_O_LIMIT, K_NUMBER, OFF(limit), "N", 1},
    {"--status", CLI_O_STATUS, K_STATUS, OFF(status), "S", 0},
    {"--priority", CLI_O_PRIORITY, K_PRIORITY, OFF(priority), "P1..P4", 0},
    {"--open", CLI_O_OPEN, K_FLAG, 0, "", 0},
    {"--assignee", CLI_O_ASSIGNEE, K_TEXT, OFF(assignee), "A", 0},
    {"--contact", CLI_O_CONTACT, K_NUMBER, OFF(contact), "N", 1},
    {"--from", CLI_O_FROM, K_NUMBER, OFF(from), "SEQ", 0},
    {"--count", CLI_O_COUNT, K_NUMBER, OFF(count), "N", 1},
};

#define N_OPTS (sizeof opt_defs / sizeof opt_defs[0])

static const opt_def *find_opt(const cli_opt_iter *it)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (cli_opt_is(it, opt_defs[i].name))
            return &opt_defs[i];
    return NULL;
}

/* "--to A", or "--open" for a flag. */
static void opt_usage(const opt_def *d, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", d->name, d->meta[0] ? " " : "", d->meta);
}

/* The names of the options in `bits`, joined by `sep`. */
static void opts_named(unsigned bits, const char *sep, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_OPTS && used < len; i++) {
        if (!(bits & opt_defs[i].bit))
            continue;
        char one[64];
        opt_usage(&opt_defs[i], one, sizeof one);
        int n = snprintf(buf + used, len - used, "%s%s", used ? sep : "", one);
        used += n > 0 ? (size_t)n : 0;
    }
}

static int text_ok(const char *what, const char *s, char *err, size_t errlen)
{
    if (s[0] == '\0') {
        snprintf(err, errlen, "%s must not be empty", what);
        return -1;
    }
    if (!hd_utf8_valid(s, strlen(s))) {
        snprintf(err, errlen, "%s is not valid UTF-8 text", what);
        return -1;
    }
    return 0;
}

static int enum_value(const opt_def *d, const char *v, void *field, char *err, size_t errlen)
{
    int rc = -1;
    const char *choices = "";
    switch (d->kind) {
    case K_CHANNEL:
        rc = hd_channel_parse(v, field);
        choices = "phone, email, web, chat, on_site, api";
        break;
    case K_PRIORITY:
        rc = hd_priority_parse(v, field);
        choices = "P1, P2, P3, P4";
        break;
    case K_STATUS:
        rc = hd_status_parse(v, field);
        choices = "new, triaged, queued, in_progress, waiting_customer, resolved, closed, "
                  "reopened";
        break;
    default: /* K_DIRECTION */
        rc = strcmp(v, "inbound") == 0 || strcmp(v, "outbound") == 0 ? 0 : -1;
        if (rc == 0)
            *(const char **)field = v;
        choices = "inbound, outbound";
        break;
    }
    if (rc != 0)
        snprintf(err, errlen, "%s: \"%s\" is not one of %s", d->name, v, choices);
    return rc;
}

static int set_option(const opt_def *d, const cli_grammar *g, cli_opt_iter *it, cli_args *a,
                      char *err, size_t errlen)
{
    void *field = (char *)a + d->offset;
    const char *v;
    a->given |= d->bit;
    if (d->kind == K_FLAG)
        return cli_opt_flag(it, err, errlen);
    if (d->kind == K_NUMBER) {
        int64_t hi = d->bit == CLI_O_LIMIT && g->max_limit > 0 ? g->max_limit : INT64_MAX;
        return cli_opt_number(it, d->lo, hi, field, err, errlen);
    }
    if (cli_opt_value(it, &v, err, errlen) != 0)
        return -1;
    if (d->kind != K_TEXT)
        return enum_value(d, v, field, err, errlen);
    *(const char **)field = v;
    return text_ok(d->name, v, err, errlen);
}

/* --- positionals --- */

/* How many positionals the command takes. */
static int pos_count(enum cli_pos p)
{
    return p == CLI_POS_NONE ? 0 : p == CLI_POS_ID || p == CLI_POS_TEXT ? 1 : 2;
}

static const char *pos_usage(enum cli_pos p)
{
    static const char *const names[] = {"no argument", "ID", "ID TEXT", "ID P1..P4", "TEXT"};
    return names[p];
}

static int set_positional(const cli_grammar *g, int n, const char *v, cli_args *a, char *err,
                          size_t errlen)
{
    bool id_first =
        g->pos == CLI_POS_ID || g->pos == CLI_POS_ID_TEXT || g->pos == CLI_POS_ID_PRIORITY;
    if (n >= pos_count(g->pos)) {
        snprintf(err, errlen, "%s takes %s, not also \"%s\"%s", g->name, pos_usage(g->pos), v,
                 g->pos == CLI_POS_ID_TEXT || g->pos == CLI_POS_TEXT ? " (put the text in quotes)"
                                                                     : "");
        return -1;
    }
    if (n == 0 && id_first)
        return cli_parse_number("ID", v, 1, INT64_MAX, &a->id, err, errlen);
    if (g->pos == CLI_POS_ID_PRIORITY) {
        if (hd_priority_parse(v, &a->priority) == 0)
            return 0;
        snprintf(err, errlen, "priority: \"%s\" is not one of P1, P2, P3, P4", v);
        return -1;
    }
    a->text = v;
    return text_ok("TEXT", v, err, errlen);
}

/* --- the whole command line --- */

static int check_required(const cli_grammar *g, const cli_args *a, int npos, char *err,
                          size_t errlen)
{
    char names[256];
    if (npos < pos_count(g->pos)) {
        snprintf(err, errlen, "%s needs %s: helpdesk %s %s", g->name, pos_usage(g->pos), g->name,
                 pos_usage(g->pos));
        return -1;
    }
    unsigned missing = g->required & ~a->given;
    if (missing) {
        opts_named(missing, " and ", names, sizeof names);
        snprintf(err, errlen, "%s needs %s", g->name, names);
        return -1;
    }
    unsigned chosen = g->one_of & a->given;
    if (g->one_of && (chosen == 0 || (chosen & (chosen - 1)) != 0)) {
        opts_named(g->one_of, " or ", names, sizeof names);
        snprintf(err, errlen, "%s needs exactly one of %s", g->name, names);
        return -1;
    }
    return 0;
}

enum cli_parse cli_args_parse(const cli_grammar *g, int argc, char **argv, cli_args *a, char *err,
                              size_t errlen)
{
    bool json = a->json;
    memset(a, 0, sizeof *a);
    cli_opt_iter it;
    cli_opt_init(&it, argc, argv, 0);
    const char *pos;
    enum cli_arg kind;
    int npos = 0;
    while ((kind = cli_opt_next(&it, &pos)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            if (set_positional(g, npos++, pos, a, err, errlen) != 0)
                return CLI_PARSE_ERROR;
            continue;
        }
        if (cli_opt_is_help(&it))
            return CLI_PARSE_HELP;
        const opt_def *d = find_opt(&it);
        if (d == NULL || !(g->options & d->bit)) {
            (void)cli_opt_unknown(&it, g->name, err, errlen);
            return CLI_PARSE_ERROR;
        }
        if (set_option(d, g, &it, a, err, errlen) != 0)
            return CLI_PARSE_ERROR;
    }
    a->json = json || (a->given & CLI_O_JSON);
    return check_required(g, a, npos, err, errlen) == 0 ? CLI_PARSE_OK : CLI_PARSE_ERROR;
}

const char *cli_actor(const char *agent_opt, const char *hd_agent, const char *user)
{
    const char *const order[] = {agent_opt, hd_agent, user};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (order[i] && order[i][0])
            return order[i];
    return NULL;
}
