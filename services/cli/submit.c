/* `helpdesk submit`: its options into a Contact with one or more problems. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "opt.h"

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

static int set_text_option(cli_submit *s, cli_opt_iter *it, bool *found, char *err, size_t errlen)
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
        if (!cli_opt_is(it, table[i].name))
            continue;
        *found = true;
        const char *v;
        if (cli_opt_value(it, &v, err, errlen) != 0)
            return -1;
        *(const char **)((char *)s + table[i].offset) = v;
        if (table[i].flag)
            *table[i].flag = true;
        return 0;
    }
    return 0;
}

static int level_value(cli_opt_iter *it, Helpdesk__V1__Level *out, char *err, size_t errlen)
{
    const char *v;
    if (cli_opt_value(it, &v, err, errlen) != 0)
        return -1;
    if (hd_level_parse(v, out) != 0) {
        snprintf(err, errlen, "%s: \"%s\" is not one of low, medium, high, critical", it->name, v);
        return -1;
    }
    return 0;
}

/* Options that describe the problem most recently started with --problem. */
static int set_problem_option(cli_submit *s, cli_opt_iter *it, bool *found, char *err,
                              size_t errlen)
{
    static const char *const names[] = {"--category", "--description", "--users", "--urgency",
                                        "--impact"};
    *found = false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        *found = *found || cli_opt_is(it, names[i]);
    if (!*found)
        return 0;
    if (s->contact.n_problems == 0) {
        snprintf(err, errlen, "%s describes a problem: put it after --problem SUMMARY", it->name);
        return -1;
    }
    HdProblem *p = s->problems[s->contact.n_problems - 1];
    const char *v;
    int64_t n;
    if (cli_opt_is(it, "--category") || cli_opt_is(it, "--description")) {
        if (cli_opt_value(it, &v, err, errlen) != 0)
            return -1;
        *(cli_opt_is(it, "--category") ? &p->category : &p->description) = (char *)v;
        return 0;
    }
    if (cli_opt_is(it, "--users")) {
        if (cli_opt_number(it, 0, UINT32_MAX, &n, err, errlen) != 0)
            return -1;
        p->users_affected = (uint32_t)n;
        return 0;
    }
    return level_value(it, cli_opt_is(it, "--urgency") ? &p->urgency : &p->impact, err, errlen);
}

static int set_submit_option(cli_submit *s, cli_opt_iter *it, bool *json, char *err, size_t errlen)
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
    if (cli_opt_is(it, "--problem")) {
        if (cli_opt_value(it, &v, err, errlen) != 0)
            return -1;
        add_problem(s, v);
    } else if (cli_opt_is(it, "--attr")) {
        if (cli_opt_value(it, &v, err, errlen) != 0 || add_attr(s, v, err, errlen) != 0)
            return -1;
    } else if (cli_opt_is(it, "--channel")) {
        if (cli_opt_value(it, &v, err, errlen) != 0)
            return -1;
        if (hd_channel_parse(v, &s->contact.channel) != 0) {
            snprintf(err, errlen,
                     "--channel: \"%s\" is not one of phone, email, web, chat, on_site, api", v);
            return -1;
        }
    } else if (cli_opt_is(it, "--vip")) {
        if (cli_opt_flag(it, err, errlen) != 0)
            return -1;
        s->customer.vip = true;
    } else if (cli_opt_is(it, "--json")) {
        if (cli_opt_flag(it, err, errlen) != 0)
            return -1;
        *json = true;
    } else {
        cli_opt_unknown(it, "submit", err, errlen);
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
    cli_opt_iter it;
    cli_opt_init(&it, argc, argv, 0);
    const char *pos;
    enum cli_arg kind;
    while ((kind = cli_opt_next(&it, &pos)) != CLI_ARG_END) {
        if (kind == CLI_ARG_POSITIONAL) {
            snprintf(err, errlen,
                     "submit takes no argument \"%s\": give the text with an "
                     "option such as --problem",
                     pos);
            goto fail;
        }
        if (cli_opt_is_help(&it)) {
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
