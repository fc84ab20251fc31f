#include "args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Walks argv: options "--name", "--name=value", "-h"; "--" ends the options. */
typedef struct {
    int argc;
    char **argv;
    int i;
    char name[64];
    const char *inline_value;
    bool no_more_options;
} opt_iter;

enum { ARG_END, ARG_OPTION, ARG_POSITIONAL };

static int next_arg(opt_iter *it, const char **positional)
{
    if (it->i >= it->argc)
        return ARG_END;
    const char *a = it->argv[it->i++];
    if (!it->no_more_options && strcmp(a, "--") == 0) {
        it->no_more_options = true;
        return next_arg(it, positional);
    }
    if (it->no_more_options || a[0] != '-' || a[1] == '\0') {
        *positional = a;
        return ARG_POSITIONAL;
    }
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    if (n >= sizeof it->name)
        n = sizeof it->name - 1;
    memcpy(it->name, a, n);
    it->name[n] = '\0';
    it->inline_value = eq ? eq + 1 : NULL;
    return ARG_OPTION;
}

static bool is(const opt_iter *it, const char *name)
{
    return strcmp(it->name, name) == 0;
}

static int take_value(opt_iter *it, const char **out, char *err, size_t errlen)
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

static int no_value(const opt_iter *it, char *err, size_t errlen)
{
    if (it->inline_value == NULL)
        return 0;
    snprintf(err, errlen, "option %s takes no value", it->name);
    return -1;
}

static int parse_number(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out,
                        char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        snprintf(err, errlen, "%s: \"%s\" is not a whole number from %" PRId64 " to %" PRId64,
                 opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int number_value(opt_iter *it, int64_t lo, int64_t hi, int64_t *out, char *err,
                        size_t errlen)
{
    const char *v;
    if (take_value(it, &v, err, errlen) != 0)
        return -1;
    return parse_number(it->name, v, lo, hi, out, err, errlen);
}

static enum cli_parse unknown(const opt_iter *it, const char *cmd, char *err, size_t errlen)
{
    snprintf(err, errlen, "unknown option %s for %s (see helpdesk %s%s--help)", it->name, cmd,
             cmd, cmd[0] ? " " : "");
    return CLI_PARSE_ERROR;
}

static bool is_help(const opt_iter *it)
{
    return is(it, "--help") || is(it, "-h");
}

enum cli_parse cli_parse_globals(int argc, char **argv, cli_globals *g, char *err,
                                 size_t errlen)
{
    memset(g, 0, sizeof *g);
    g->timeout_ms = 5000;
    opt_iter it = {.argc = argc, .argv = argv, .i = 1};
    const char *pos = NULL;
    int kind;
    while ((kind = next_arg(&it, &pos)) == ARG_OPTION) {
        int64_t n = g->timeout_ms;
        int rc = 0;
        if (is_help(&it))
            return CLI_PARSE_HELP;
        if (is(&it, "--config"))
            rc = take_value(&it, &g->config, err, errlen);
        else if (is(&it, "--intake"))
            rc = take_value(&it, &g->intake, err, errlen);
        else if (is(&it, "--store"))
            rc = take_value(&it, &g->store, err, errlen);
        else if (is(&it, "--events"))
            rc = take_value(&it, &g->events, err, errlen);
        else if (is(&it, "--timeout")) {
            rc = number_value(&it, 1, 3600000, &n, err, errlen);
            g->timeout_ms = (int)n;
        } else if (is(&it, "--json")) {
            rc = no_value(&it, err, errlen);
            g->json = true;
        } else {
            snprintf(err, errlen, "unknown option %s (see helpdesk --help)", it.name);
            return CLI_PARSE_ERROR;
        }
        if (rc != 0)
            return CLI_PARSE_ERROR;
    }
    if (kind == ARG_POSITIONAL) {
        g->command = pos;
        g->rest = it.i;
    } else {
        g->rest = argc;
    }
    return CLI_PARSE_OK;
}

/* --- submit --- */

typedef struct {
    HdAttribute pb;
    char *text; /* "key\0value" */
} attr_box;

struct cli_submit {
    HdContact contact;
    HdCustomer customer;
    HdAccount account;
    HdLocation location;
    HdProblem **problems;
    HdAttribute **attrs;
    bool has_account, has_location, generated;
    char external_id[96];
};

void cli_submit_destroy(cli_submit **s)
{
    if (s == NULL || *s == NULL)
        return;
    cli_submit *x = *s;
    for (size_t i = 0; i < x->contact.n_problems; i++)
        free(x->problems[i]);
    free(x->problems);
    for (size_t i = 0; i < x->customer.n_attributes; i++) {
        attr_box *b = (attr_box *)x->attrs[i];
        free(b->text);
        free(b);
    }
    free(x->attrs);
    free(x);
    *s = NULL;
}

HdContact *cli_submit_contact(cli_submit *s)
{
    return &s->contact;
}

bool cli_submit_generated(const cli_submit *s)
{
    return s->generated;
}

void cli_make_external_id(char *buf, size_t len)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)clock();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "cli-%04d%02d%02dT%02d%02d%02dZ-%ld-%08" PRIx32, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid(), r);
}

static void *grow_array(void *arr, size_t n)
{
    void **a = realloc(arr, (n + 1) * sizeof *a);
    if (a == NULL)
        abort();
    return a;
}

static void add_problem(cli_submit *s, const char *summary)
{
    HdProblem *p = malloc(sizeof *p);
    if (p == NULL)
        abort();
    helpdesk__v1__problem__init(p);
    p->summary = (char *)summary;
    s->problems = grow_array(s->problems, s->contact.n_problems);
    s->problems[s->contact.n_problems++] = p;
    s->contact.problems = s->problems;
}

static int add_attr(cli_submit *s, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv) {
        snprintf(err, errlen, "--attr: \"%s\" is not key=value", kv);
        return -1;
    }
    attr_box *b = malloc(sizeof *b);
    if (b == NULL || (b->text = strdup(kv)) == NULL)
        abort();
    helpdesk__v1__attribute__init(&b->pb);
    b->text[eq - kv] = '\0';
    b->pb.key = b->text;
    b->pb.value = b->text + (eq - kv) + 1;
    s->attrs = grow_array(s->attrs, s->customer.n_attributes);
    s->attrs[s->customer.n_attributes++] = &b->pb;
    s->customer.attributes = s->attrs;
    return 0;
}

/* A string option that sets one field: its name and where it goes. */
typedef struct {
    const char *name;
    size_t offset; /* of a char * in cli_submit */
    bool *flag;    /* set when given (account, location), or NULL */
} text_opt;

#define AT(member) offsetof(cli_submit, member)

static int set_text_option(cli_submit *s, opt_iter *it, bool *found, char *err, size_t errlen)
{
    const text_opt table[] = {
        {"--source", AT(contact.source), NULL},
        {"--external-id", AT(contact.external_id), NULL},
        {"--agent", AT(contact.agent), NULL},
        {"--name", AT(customer.name), NULL},
        {"--email", AT(customer.email), NULL},
        {"--phone", AT(customer.phone), NULL},
        {"--language", AT(customer.language), NULL},
        {"--organization", AT(customer.organization), NULL},
        {"--account", AT(account.account_number), &s->has_account},
        {"--contract", AT(account.contract_level), &s->has_account},
        {"--licence", AT(account.licence), &s->has_account},
        {"--product", AT(account.product), &s->has_account},
        {"--model", AT(account.model), &s->has_account},
        {"--serial", AT(account.serial_number), &s->has_account},
        {"--site", AT(location.site), &s->has_location},
        {"--building", AT(location.building), &s->has_location},
        {"--floor", AT(location.floor), &s->has_location},
        {"--room", AT(location.room), &s->has_location},
        {"--address", AT(location.address), &s->has_location},
        {"--city", AT(location.city), &s->has_location},
        {"--country", AT(location.country), &s->has_location},
    };
    *found = false;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!is(it, table[i].name))
            continue;
        *found = true;
        const char *v;
        if (take_value(it, &v, err, errlen) != 0)
            return -1;
        *(const char **)((char *)s + table[i].offset) = v;
        if (table[i].flag)
            *table[i].flag = true;
        return 0;
    }
    return 0;
}

static int level_value(opt_iter *it, Helpdesk__V1__Level *out, char *err, size_t errlen)
{
    const char *v;
    if (take_value(it, &v, err, errlen) != 0)
        return -1;
    if (hd_level_parse(v, out) != 0) {
        snprintf(err, errlen, "%s: \"%s\" is not one of low, medium, high, critical", it->name, v);
        return -1;
    }
    return 0;
}

/* Options that describe the problem most recently started with --problem. */
static int set_problem_option(cli_submit *s, opt_iter *it, bool *found, char *err,
                              size_t errlen)
{
    static const char *const names[] = {"--category", "--description", "--users", "--urgency",
                                        "--impact"};
    *found = false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        *found = *found || is(it, names[i]);
    if (!*found)
        return 0;
    if (s->contact.n_problems == 0) {
        snprintf(err, errlen, "%s describes a problem: put it after --problem SUMMARY",
                 it->name);
        return -1;
    }
    HdProblem *p = s->problems[s->contact.n_problems - 1];
    const char *v;
    int64_t n;
    if (is(it, "--category") || is(it, "--description")) {
        if (take_value(it, &v, err, errlen) != 0)
            return -1;
        *(is(it, "--category") ? &p->category : &p->description) = (char *)v;
        return 0;
    }
    if (is(it, "--users")) {
        if (number_value(it, 0, UINT32_MAX, &n, err, errlen) != 0)
            return -1;
        p->users_affected = (uint32_t)n;
        return 0;
    }
    return level_value(it, is(it, "--urgency") ? &p->urgency : &p->impact, err, errlen);
}

static int set_submit_option(cli_submit *s, opt_iter *it, bool *json, char *err, size_t errlen)
{
    bool found;
    if (set_text_option(s, it, &found, err, errlen) != 0)
        return -1;
    if (found)
        return 0;
    if (set_problem_option(s, it, &found, err, errlen) != 0)
        return -1;
    if (found)
        return 0;
    const char *v;
    if (is(it, "--problem")) {
        if (take_value(it, &v, err, errlen) != 0)
            return -1;
        add_problem(s, v);
    } else if (is(it, "--attr")) {
        if (take_value(it, &v, err, errlen) != 0 || add_attr(s, v, err, errlen) != 0)
            return -1;
    } else if (is(it, "--channel")) {
        if (take_value(it, &v, err, errlen) != 0)
            return -1;
        if (hd_channel_parse(v, &s->contact.channel) != 0) {
            snprintf(err, errlen,
                     "--channel: \"%s\" is not one of phone, email, web, chat, on_site, api", v);
            return -1;
        }
    } else if (is(it, "--vip")) {
        if (no_value(it, err, errlen) != 0)
            return -1;
        s->customer.vip = true;
    } else if (is(it, "--json")) {
        if (no_value(it, err, errlen) != 0)
            return -1;
        *json = true;
    } else {
        unknown(it, "submit", err, errlen);
        return -1;
    }
    return 0;
}

static cli_submit *submit_new(void)
{
    cli_submit *s = calloc(1, sizeof *s);
    if (s == NULL)
        abort();
    helpdesk__v1__contact__init(&s->contact);
    helpdesk__v1__customer__init(&s->customer);
    helpdesk__v1__account__init(&s->account);
    helpdesk__v1__location__init(&s->location);
    s->contact.source = "cli";
    s->contact.channel = HELPDESK__V1__CHANNEL__CHANNEL_PHONE;
    s->contact.customer = &s->customer;
    return s;
}

enum cli_parse cli_submit_parse(int argc, char **argv, cli_submit **out, bool *json, char *err,
                                size_t errlen)
{
    *out = NULL;
    cli_submit *s = submit_new();
    opt_iter it = {.argc = argc, .argv = argv};
    const char *pos;
    int kind;
    while ((kind = next_arg(&it, &pos)) != ARG_END) {
        if (kind == ARG_POSITIONAL) {
            snprintf(err, errlen, "submit takes no argument \"%s\": give the text with an "
                                  "option such as --problem", pos);
            goto fail;
        }
        if (is_help(&it)) {
            cli_submit_destroy(&s);
            return CLI_PARSE_HELP;
        }
        if (set_submit_option(s, &it, json, err, errlen) != 0)
            goto fail;
    }
    if (s->contact.external_id == NULL || s->contact.external_id[0] == '\0') {
        cli_make_external_id(s->external_id, sizeof s->external_id);
        s->contact.external_id = s->external_id;
        s->generated = true;
    }
    if (s->has_account)
        s->contact.account = &s->account;
    if (s->has_location)
        s->contact.location = &s->location;
    *out = s;
    return CLI_PARSE_OK;
fail:
    cli_submit_destroy(&s);
    return CLI_PARSE_ERROR;
}

/* --- show, list, watch --- */

enum cli_parse cli_show_parse(int argc, char **argv, int64_t *id, bool *json, char *err,
                              size_t errlen)
{
    opt_iter it = {.argc = argc, .argv = argv};
    const char *pos;
    int kind;
    bool have = false;
    while ((kind = next_arg(&it, &pos)) != ARG_END) {
        if (kind == ARG_POSITIONAL) {
            if (have) {
                snprintf(err, errlen, "show takes one ticket id, not also \"%s\"", pos);
                return CLI_PARSE_ERROR;
            }
            if (parse_number("ID", pos, 1, INT64_MAX, id, err, errlen) != 0)
                return CLI_PARSE_ERROR;
            have = true;
        } else if (is_help(&it)) {
            return CLI_PARSE_HELP;
        } else if (is(&it, "--json")) {
            if (no_value(&it, err, errlen) != 0)
                return CLI_PARSE_ERROR;
            *json = true;
        } else {
            return unknown(&it, "show", err, errlen);
        }
    }
    if (!have) {
        snprintf(err, errlen, "show needs a ticket ID: helpdesk show ID");
        return CLI_PARSE_ERROR;
    }
    return CLI_PARSE_OK;
}

static int list_option(opt_iter *it, HdListTickets *lt, char *err, size_t errlen)
{
    const char *v;
    int64_t n;
    if (is(it, "--limit")) {
        if (number_value(it, 1, 1000, &n, err, errlen) != 0)
            return -1;
        lt->limit = (uint32_t)n;
        return 0;
    }
    if (take_value(it, &v, err, errlen) != 0)
        return -1;
    if (is(it, "--queue")) {
        lt->queue = (char *)v;
    } else if (is(it, "--status")) {
        if (hd_status_parse(v, &lt->status) != 0) {
            snprintf(err, errlen,
                     "--status: \"%s\" is not one of new, triaged, queued, in_progress, "
                     "waiting_customer, resolved, closed, reopened",
                     v);
            return -1;
        }
    } else if (hd_priority_parse(v, &lt->priority) != 0) {
        snprintf(err, errlen, "--priority: \"%s\" is not one of P1, P2, P3, P4", v);
        return -1;
    }
    return 0;
}

enum cli_parse cli_list_parse(int argc, char **argv, HdListTickets *lt, bool *json, char *err,
                              size_t errlen)
{
    helpdesk__v1__list_tickets__init(lt);
    opt_iter it = {.argc = argc, .argv = argv};
    const char *pos;
    int kind;
    while ((kind = next_arg(&it, &pos)) != ARG_END) {
        if (kind == ARG_POSITIONAL) {
            snprintf(err, errlen, "list takes no argument \"%s\"; filter with --queue, "
                                  "--status, --priority", pos);
            return CLI_PARSE_ERROR;
        }
        if (is_help(&it))
            return CLI_PARSE_HELP;
        if (is(&it, "--json")) {
            if (no_value(&it, err, errlen) != 0)
                return CLI_PARSE_ERROR;
            *json = true;
        } else if (is(&it, "--queue") || is(&it, "--status") || is(&it, "--priority") ||
                   is(&it, "--limit")) {
            if (list_option(&it, lt, err, errlen) != 0)
                return CLI_PARSE_ERROR;
        } else {
            return unknown(&it, "list", err, errlen);
        }
    }
    return CLI_PARSE_OK;
}

enum cli_parse cli_watch_parse(int argc, char **argv, cli_watch_opts *w, bool *json, char *err,
                               size_t errlen)
{
    memset(w, 0, sizeof *w);
    opt_iter it = {.argc = argc, .argv = argv};
    const char *pos;
    int kind;
    while ((kind = next_arg(&it, &pos)) != ARG_END) {
        int rc = 0;
        if (kind == ARG_POSITIONAL) {
            snprintf(err, errlen, "watch takes no argument \"%s\"", pos);
            return CLI_PARSE_ERROR;
        }
        if (is_help(&it))
            return CLI_PARSE_HELP;
        if (is(&it, "--json")) {
            rc = no_value(&it, err, errlen);
            *json = true;
        } else if (is(&it, "--from")) {
            rc = number_value(&it, 0, INT64_MAX, &w->from, err, errlen);
            w->has_from = true;
        } else if (is(&it, "--count")) {
            rc = number_value(&it, 1, INT64_MAX, &w->count, err, errlen);
        } else {
            return unknown(&it, "watch", err, errlen);
        }
        if (rc != 0)
            return CLI_PARSE_ERROR;
    }
    return CLI_PARSE_OK;
}
