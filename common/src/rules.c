#include "hd/rules.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/utf8.h"
#include "hd/alloc.h"

/* Longest text a condition may hold; longer would be a mistake in the file, not a keyword. */
#define MAX_TEXT 256
#define MAX_NAME 64

/* ---- text matching ---------------------------------------------------------------------- */

/* The byte at s[i] with letter case folded. ASCII letters, and the Latin-1 capitals
 * U+00C0..U+00DE (except U+00D7, the multiplication sign), which UTF-8 writes C3 80..C3 9E and
 * whose small letters are C3 A0..C3 BE: folding keeps the length, so comparing stays byte-wise
 * and every other script is compared exactly. s[i-1] == 0xC3 can only be a lead byte, so the
 * test cannot misfire inside another character. */
static unsigned fold_at(const char *s, size_t i)
{
    unsigned c = (unsigned char)s[i];
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (i > 0 && (unsigned char)s[i - 1] == 0xC3 && c >= 0x80 && c <= 0x9E && c != 0x97)
        return c + 0x20;
    return c;
}

static bool text_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (fold_at(a, i) != fold_at(b, i))
            return false;
    return true;
}

bool hd_cond_text_contains(const char *hay, const char *needle)
{
    size_t h = strlen(hay), n = strlen(needle);
    if (n == 0)
        return true;
    for (size_t j = 0; j + n <= h; j++) {
        size_t k = 0;
        while (k < n && fold_at(hay, j + k) == fold_at(needle, k))
            k++;
        if (k == n)
            return true;
    }
    return false;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

/* ---- what a condition looks at -------------------------------------------------------------- */

typedef enum { C_TEXT, C_KEYWORDS, C_ENUM, C_VIP, C_MIN_USERS, C_ATTRIBUTES } cond_kind;

typedef const char *(*text_fn)(const HdTicket *t);
/* An enum condition may look at the facts of the request as well as the ticket (to_tier); f is
 * NULL when the stage has none, and a value of 0 then never matches. */
typedef int (*enum_fn)(const HdTicket *t, const hd_cond_facts *f);
typedef int (*parse_fn)(const char *s, int *out);

static const char *t_category(const HdTicket *t)
{
    return t->problem ? str(t->problem->category) : "";
}
static const char *t_contract(const HdTicket *t)
{
    return t->account ? str(t->account->contract_level) : "";
}
static const char *t_organization(const HdTicket *t)
{
    return t->customer ? str(t->customer->organization) : "";
}
static const char *t_product(const HdTicket *t)
{
    return t->account ? str(t->account->product) : "";
}
static const char *t_site(const HdTicket *t)
{
    return t->location ? str(t->location->site) : "";
}
static const char *t_city(const HdTicket *t)
{
    return t->location ? str(t->location->city) : "";
}
static const char *t_country(const HdTicket *t)
{
    return t->location ? str(t->location->country) : "";
}
static const char *t_language(const HdTicket *t)
{
    return t->customer ? str(t->customer->language) : "";
}
static const char *t_queue(const HdTicket *t)
{
    return str(t->queue);
}
static int f_to_tier(const HdTicket *t, const hd_cond_facts *f)
{
    (void)t;
    return f ? (int)f->to_tier : 0;
}
static int t_priority(const HdTicket *t, const hd_cond_facts *f)
{
    (void)f;
    return (int)t->priority;
}
static int t_channel(const HdTicket *t, const hd_cond_facts *f)
{
    (void)f;
    return (int)t->channel;
}
static int t_urgency(const HdTicket *t, const hd_cond_facts *f)
{
    (void)f;
    return t->problem ? (int)t->problem->urgency : 0;
}
static int t_impact(const HdTicket *t, const hd_cond_facts *f)
{
    (void)f;
    return t->problem ? (int)t->problem->impact : 0;
}

static int parse_channel(const char *s, int *out)
{
    Helpdesk__V1__Channel c;
    if (hd_channel_parse(s, &c) != 0)
        return -1;
    *out = (int)c;
    return 0;
}

static int parse_priority(const char *s, int *out)
{
    Helpdesk__V1__Priority p;
    if (hd_priority_parse(s, &p) != 0)
        return -1;
    *out = (int)p;
    return 0;
}

/* Escalations a rule can steer go to tier 2 or 3; beyond tier 3 the managers decide. */
static int parse_to_tier(const char *s, int *out)
{
    if (strcmp(s, "2") != 0 && strcmp(s, "3") != 0)
        return -1;
    *out = s[0] - '0';
    return 0;
}

static int parse_level(const char *s, int *out)
{
    Helpdesk__V1__Level l;
    if (hd_level_parse(s, &l) != 0)
        return -1;
    *out = (int)l;
    return 0;
}

typedef struct {
    const char *key;
    cond_kind kind;
    text_fn text;
    enum_fn value;
    parse_fn parse;
    const char *choices; /* for error messages */
} cond_spec;

/* Every condition any stage knows; each stage accepts its own subset (hd_cond_set_load). */
static const cond_spec cond_specs[] = {
    {"category", C_TEXT, t_category, NULL, NULL, NULL},
    {"keywords", C_KEYWORDS, NULL, NULL, NULL, NULL},
    {"priority", C_ENUM, NULL, t_priority, parse_priority, "P1, P2, P3, P4"},
    {"channel", C_ENUM, NULL, t_channel, parse_channel, "phone, email, web, chat, on_site, api"},
    {"vip", C_VIP, NULL, NULL, NULL, NULL},
    {"contract_level", C_TEXT, t_contract, NULL, NULL, NULL},
    {"organization", C_TEXT, t_organization, NULL, NULL, NULL},
    {"product", C_TEXT, t_product, NULL, NULL, NULL},
    {"site", C_TEXT, t_site, NULL, NULL, NULL},
    {"city", C_TEXT, t_city, NULL, NULL, NULL},
    {"country", C_TEXT, t_country, NULL, NULL, NULL},
    {"language", C_TEXT, t_language, NULL, NULL, NULL},
    {"min_users", C_MIN_USERS, NULL, NULL, NULL, NULL},
    {"urgency", C_ENUM, NULL, t_urgency, parse_level, "low, medium, high, critical"},
    {"impact", C_ENUM, NULL, t_impact, parse_level, "low, medium, high, critical"},
    {"attributes", C_ATTRIBUTES, NULL, NULL, NULL, NULL},
    {"queue", C_TEXT, t_queue, NULL, NULL, NULL},
    {"to_tier", C_ENUM, NULL, f_to_tier, parse_to_tier,
     "2, 3; beyond tier 3 the managers: map decides"},
};
#define N_SPECS (sizeof cond_specs / sizeof cond_specs[0])

typedef struct {
    const cond_spec *spec;
    char *attr;   /* C_ATTRIBUTES: the attribute key */
    char **texts; /* any of these */
    size_t ntexts;
    unsigned mask;  /* C_ENUM: bit v set when value v is accepted */
    int64_t number; /* C_MIN_USERS; C_VIP: 0 or 1 */
} cond;

struct hd_cond_set {
    cond *conds;
    size_t nconds;
};

typedef struct {
    char *name;
    hd_cond_set *when; /* NULL: no conditions */
} rule;

struct hd_rules {
    const hd_rules_spec *spec;
    rule *rules;
    size_t nrules;
    unsigned char *payloads; /* spec->payload_size bytes per rule, in rule order */
};

/* ---- matching --------------------------------------------------------------------------- */

static bool any_text(const cond *c, const char *value)
{
    for (size_t i = 0; i < c->ntexts; i++)
        if (text_equal(value, c->texts[i]))
            return true;
    return false;
}

static bool any_keyword(const cond *c, const HdTicket *t)
{
    if (t->problem == NULL)
        return false;
    for (size_t i = 0; i < c->ntexts; i++)
        if (hd_cond_text_contains(str(t->problem->summary), c->texts[i]) ||
            hd_cond_text_contains(str(t->problem->description), c->texts[i]))
            return true;
    return false;
}

static bool attribute_matches(const cond *c, const HdTicket *t)
{
    if (t->customer == NULL)
        return false;
    for (size_t i = 0; i < t->customer->n_attributes; i++) {
        const HdAttribute *a = t->customer->attributes[i];
        if (a != NULL && text_equal(str(a->key), c->attr) && any_text(c, str(a->value)))
            return true;
    }
    return false;
}

static bool cond_matches(const cond *c, const HdTicket *t, const hd_cond_facts *f)
{
    switch (c->spec->kind) {
    case C_TEXT:
        return any_text(c, c->spec->text(t));
    case C_KEYWORDS:
        return any_keyword(c, t);
    case C_ENUM: {
        int v = c->spec->value(t, f);
        return v > 0 && v < 32 && (c->mask & (1u << v)) != 0;
    }
    case C_VIP:
        return (t->customer != NULL && t->customer->vip) == (c->number != 0);
    case C_MIN_USERS:
        return t->problem != NULL && (int64_t)t->problem->users_affected >= c->number;
    case C_ATTRIBUTES:
        return attribute_matches(c, t);
    }
    return false;
}

bool hd_cond_set_matches_facts(const hd_cond_set *s, const HdTicket *t, const hd_cond_facts *f)
{
    for (size_t i = 0; s && i < s->nconds; i++)
        if (!cond_matches(&s->conds[i], t, f))
            return false;
    return true;
}

bool hd_cond_set_matches(const hd_cond_set *s, const HdTicket *t)
{
    return hd_cond_set_matches_facts(s, t, NULL);
}

/* ---- checking --------------------------------------------------------------------------- */

int hd_rules_fail(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, const char *fmt, ...)
{
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(ctx->err, ctx->errlen, "%s:%d: %s: %s", ctx->source, node ? node->line : 0, path, why);
    return -1;
}

int hd_rules_check_map(hd_rules_ctx *ctx, const hd_yaml *node, const char *path,
                       const char *const *allowed, const char *expected)
{
    if (node->kind != HD_YAML_MAP)
        return hd_rules_fail(ctx, node, path, "must be a map of %s", expected);
    for (const hd_yaml *c = node->child; c; c = c->next) {
        bool known = allowed == NULL;
        for (size_t i = 0; allowed && allowed[i]; i++)
            known = known || strcmp(c->key, allowed[i]) == 0;
        if (!known)
            return hd_rules_fail(ctx, c, path, "unknown key \"%s\" (expected %s)", c->key,
                                 expected);
        for (const hd_yaml *d = node->child; d != c; d = d->next)
            if (strcmp(d->key, c->key) == 0)
                return hd_rules_fail(ctx, c, path, "key \"%s\" is given twice", c->key);
    }
    return 0;
}

int hd_rules_check_text(hd_rules_ctx *ctx, const hd_yaml *node, const char *path)
{
    if (node->kind != HD_YAML_SCALAR)
        return hd_rules_fail(ctx, node, path, "must be text, not a %s",
                             node->kind == HD_YAML_MAP ? "map" : "list");
    size_t n = strlen(node->value);
    if (n == 0)
        return hd_rules_fail(ctx, node, path, "is empty (an empty value would never match)");
    if (n > MAX_TEXT)
        return hd_rules_fail(ctx, node, path, "is longer than %d bytes", MAX_TEXT);
    if (!hd_utf8_valid(node->value, n))
        return hd_rules_fail(ctx, node, path, "is not valid UTF-8");
    return 0;
}

int hd_rules_check_word(hd_rules_ctx *ctx, const hd_yaml *node, const char *path)
{
    if (hd_rules_check_text(ctx, node, path) != 0)
        return -1;
    const char *s = node->value;
    if (strlen(s) > MAX_NAME)
        return hd_rules_fail(ctx, node, path, "\"%s\" is longer than %d bytes", s, MAX_NAME);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return hd_rules_fail(ctx, node, path,
                                 "\"%s\" must be one word (no spaces, quotes, '=' or '\\')", s);
    return 0;
}

/* ---- loading conditions ----------------------------------------------------------------- */

/* A scalar or a list of scalars: the "any of" values of a condition. */
static int load_texts(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, cond *c)
{
    const hd_yaml *items = node->kind == HD_YAML_SEQ ? node->child : node;
    size_t n = node->kind == HD_YAML_SEQ ? node->count : 1;
    if (n == 0)
        return hd_rules_fail(ctx, node, path,
                             "is an empty list (it would never match; remove the key)");
    c->texts = hd_xcalloc(n, sizeof *c->texts);
    for (const hd_yaml *it = items; it && c->ntexts < n; it = it->next) {
        if (hd_rules_check_text(ctx, it, path) != 0)
            return -1;
        c->texts[c->ntexts++] = hd_xstrdup(it->value);
    }
    return 0;
}

static int load_enum(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, cond *c)
{
    if (load_texts(ctx, node, path, c) != 0)
        return -1;
    const hd_yaml *it = node->kind == HD_YAML_SEQ ? node->child : node;
    for (size_t i = 0; it != NULL && i < c->ntexts; i++, it = it->next) {
        int v;
        if (c->spec->parse(c->texts[i], &v) != 0)
            return hd_rules_fail(ctx, it, path, "unknown value \"%s\" (expected %s)", c->texts[i],
                                 c->spec->choices);
        c->mask |= 1u << v;
    }
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (text_equal(s, yes[i]) || text_equal(s, no[i])) {
            *out = text_equal(s, yes[i]);
            return 0;
        }
    }
    return -1;
}

static int load_scalar_number(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, cond *c)
{
    if (node->kind != HD_YAML_SCALAR)
        return hd_rules_fail(ctx, node, path, "must be a whole number");
    char *end;
    errno = 0;
    long long n = strtoll(node->value, &end, 10);
    if (errno != 0 || end == node->value || *end != '\0' || n < 0 || n > UINT32_MAX)
        return hd_rules_fail(ctx, node, path, "\"%s\" is not a whole number from 0 to %u",
                             node->value, UINT32_MAX);
    c->number = n;
    return 0;
}

static int load_vip(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, cond *c)
{
    bool b;
    if (node->kind != HD_YAML_SCALAR || parse_bool(node->value, &b) != 0)
        return hd_rules_fail(ctx, node, path, "must be true or false");
    c->number = b;
    return 0;
}

static const cond_spec *find_spec(const char *key)
{
    for (size_t i = 0; i < N_SPECS; i++)
        if (strcmp(cond_specs[i].key, key) == 0)
            return &cond_specs[i];
    return NULL;
}

/* `attributes: {segment: healthcare, region: [emea, apac]}`: one condition per attribute. */
static int load_attributes(hd_rules_ctx *ctx, const hd_yaml *node, const char *path,
                           const cond_spec *spec, hd_cond_set *s)
{
    if (hd_rules_check_map(ctx, node, path, NULL, "customer attribute names and values") != 0)
        return -1;
    if (node->count == 0)
        return hd_rules_fail(ctx, node, path, "is empty (remove the key)");
    for (const hd_yaml *a = node->child; a; a = a->next) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s.%s", path, a->key);
        cond *c = &s->conds[s->nconds++];
        c->spec = spec;
        c->attr = hd_xstrdup(a->key);
        if (load_texts(ctx, a, sub, c) != 0)
            return -1;
    }
    return 0;
}

static int load_cond(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, hd_cond_set *s)
{
    const cond_spec *spec = find_spec(node->key);
    /* Only keys the stage listed get here; a stage listing an unknown one is a bug. */
    assert(spec != NULL);
    if (spec->kind == C_ATTRIBUTES)
        return load_attributes(ctx, node, path, spec, s);
    cond *c = &s->conds[s->nconds++];
    c->spec = spec;
    switch (spec->kind) {
    case C_TEXT:
    case C_KEYWORDS:
        return load_texts(ctx, node, path, c);
    case C_ENUM:
        return load_enum(ctx, node, path, c);
    case C_VIP:
        return load_vip(ctx, node, path, c);
    case C_MIN_USERS:
        return load_scalar_number(ctx, node, path, c);
    case C_ATTRIBUTES:
        break;
    }
    return 0;
}

/* "conditions: category, keywords, ..." in the stage's own order. */
static void describe_keys(const char *const *keys, char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "conditions:");
    for (size_t i = 0; keys[i] && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s %s", i ? "," : "", keys[i]);
}

int hd_cond_set_load(hd_rules_ctx *ctx, const hd_yaml *when, const char *path,
                     const char *const *keys, hd_cond_set **out)
{
    *out = NULL;
    char expected[512];
    describe_keys(keys, expected, sizeof expected);
    if (hd_rules_check_map(ctx, when, path, keys, expected) != 0)
        return -1;
    size_t n = 0;
    for (const hd_yaml *c = when->child; c; c = c->next)
        n += strcmp(c->key, "attributes") == 0 && c->kind == HD_YAML_MAP ? c->count : 1;
    hd_cond_set *s = hd_xcalloc(1, sizeof *s);
    s->conds = hd_xcalloc(n, sizeof *s->conds);
    for (const hd_yaml *c = when->child; c; c = c->next) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s.%s", path, c->key);
        if (load_cond(ctx, c, sub, s) != 0) {
            hd_cond_set_destroy(&s);
            return -1;
        }
    }
    *out = s;
    return 0;
}

void hd_cond_set_destroy(hd_cond_set **s)
{
    if (s == NULL || *s == NULL)
        return;
    for (size_t j = 0; j < (*s)->nconds; j++) {
        cond *c = &(*s)->conds[j];
        for (size_t k = 0; k < c->ntexts; k++)
            free(c->texts[k]);
        free(c->texts);
        free(c->attr);
    }
    free((*s)->conds);
    free(*s);
    *s = NULL;
}

/* ---- loading rules ---------------------------------------------------------------------- */

static void *payload_at(const hd_rules *r, size_t i)
{
    return r->payloads + i * r->spec->payload_size;
}

static int check_name(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, const hd_rules *r)
{
    if (hd_rules_check_word(ctx, node, path) != 0)
        return -1;
    if (r->spec->reserved != NULL && r->spec->reserved(node->value))
        return hd_rules_fail(ctx, node, path, "\"%s\" is %s", node->value, r->spec->reserved_why);
    for (size_t i = 0; i < r->nrules; i++)
        if (strcmp(r->rules[i].name, node->value) == 0)
            return hd_rules_fail(ctx, node, path,
                                 "\"%s\" is used by an earlier rule; names must be unique",
                                 node->value);
    return 0;
}

static const char *list_key(const hd_rules_spec *spec)
{
    return spec->list_key ? spec->list_key : "rules";
}

static int load_rule(hd_rules_ctx *ctx, const hd_yaml *node, size_t index, hd_rules *r)
{
    const hd_rules_spec *spec = r->spec;
    char path[64];
    snprintf(path, sizeof path, "%s[%zu]", list_key(spec), index);
    if (hd_rules_check_map(ctx, node, path, spec->rule_keys, spec->rule_expected) != 0)
        return -1;
    char sub[96];
    snprintf(sub, sizeof sub, "%s.name", path);
    const hd_yaml *name = hd_yaml_get(node, "name");
    if (name == NULL)
        return hd_rules_fail(ctx, node, sub, "is missing (every rule needs a name)");
    if (check_name(ctx, name, sub, r) != 0)
        return -1;
    rule *ru = &r->rules[r->nrules++];
    ru->name = hd_xstrdup(name->value);
    const hd_yaml *when = hd_yaml_get(node, "when");
    snprintf(sub, sizeof sub, "%s.when", path);
    if (when != NULL && hd_cond_set_load(ctx, when, sub, spec->cond_keys, &ru->when) != 0)
        return -1;
    return spec->load_payload(ctx, node, path, payload_at(r, r->nrules - 1));
}

int hd_rules_load(hd_rules_ctx *ctx, const hd_yaml *list, const hd_rules_spec *spec, hd_rules **out)
{
    *out = NULL;
    if (list != NULL && list->kind != HD_YAML_SEQ)
        return hd_rules_fail(ctx, list, list_key(spec), "must be a list of rules");
    size_t n = list ? list->count : 0;
    hd_rules *r = hd_xcalloc(1, sizeof *r);
    r->spec = spec;
    r->rules = hd_xcalloc(n, sizeof *r->rules);
    r->payloads = hd_xcalloc(n, spec->payload_size);
    size_t i = 0;
    for (const hd_yaml *it = list ? list->child : NULL; it; it = it->next, i++) {
        if (load_rule(ctx, it, i, r) != 0) {
            hd_rules_destroy(&r);
            return -1;
        }
    }
    *out = r;
    return 0;
}

void hd_rules_destroy(hd_rules **r)
{
    if (r == NULL || *r == NULL)
        return;
    for (size_t i = 0; i < (*r)->nrules; i++) {
        free((*r)->rules[i].name);
        hd_cond_set_destroy(&(*r)->rules[i].when);
        if ((*r)->spec->free_payload != NULL)
            (*r)->spec->free_payload(payload_at(*r, i));
    }
    free((*r)->rules);
    free((*r)->payloads);
    free(*r);
    *r = NULL;
}

size_t hd_rules_count(const hd_rules *r)
{
    return r ? r->nrules : 0;
}

const void *hd_rules_match_facts(const hd_rules *r, const HdTicket *t, const hd_cond_facts *f,
                                 const char **name)
{
    for (size_t i = 0; r && i < r->nrules; i++) {
        if (hd_cond_set_matches_facts(r->rules[i].when, t, f)) {
            *name = r->rules[i].name;
            return payload_at(r, i);
        }
    }
    return NULL;
}

const void *hd_rules_match(const hd_rules *r, const HdTicket *t, const char **name)
{
    return hd_rules_match_facts(r, t, NULL, name);
}
