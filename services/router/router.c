#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/rules.h"

#define MAX_ASSIGNEE 128

/* Where a ticket goes. */
typedef struct {
    char *queue;
    uint32_t tier;
    char *assignee; /* "" for none */
} target;

struct route_rules {
    hd_rules *rules; /* each carries its target */
    target fallback;
};

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

/* ---- loading ---------------------------------------------------------------------------- */

static int load_tier(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, uint32_t *tier)
{
    *tier = 1;
    if (node == NULL)
        return 0;
    if (node->kind != HD_YAML_SCALAR || strlen(node->value) != 1 || node->value[0] < '1' ||
        node->value[0] > '3')
        return hd_rules_fail(ctx, node, path, "\"%s\" is not a tier: use 1, 2 or 3",
                             node->kind == HD_YAML_SCALAR ? node->value : "(not a number)");
    *tier = (uint32_t)(node->value[0] - '0');
    return 0;
}

/* A technician's login or name: may hold spaces, but no quotes or control characters, since
 * it is written into log lines. Empty means nobody in particular. */
static int load_assignee(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, char **out)
{
    if (node == NULL || (node->kind == HD_YAML_SCALAR && node->value[0] == '\0')) {
        *out = xstrdup("");
        return 0;
    }
    if (hd_rules_check_text(ctx, node, path) != 0)
        return -1;
    if (strlen(node->value) > MAX_ASSIGNEE)
        return hd_rules_fail(ctx, node, path, "is longer than %d bytes", MAX_ASSIGNEE);
    for (const char *p = node->value; *p; p++)
        if ((unsigned char)*p < ' ' || *p == '"' || *p == '\\' || *p == 0x7f)
            return hd_rules_fail(ctx, node, path,
                                 "\"%s\" holds a quote, backslash or control character",
                                 node->value);
    *out = xstrdup(node->value);
    return 0;
}

/* queue, tier, assignee of a rule (`node` is the rule) or of the default. */
static int load_target(hd_rules_ctx *ctx, const hd_yaml *node, const char *path, target *to)
{
    char sub[96];
    snprintf(sub, sizeof sub, "%s.queue", path);
    const hd_yaml *queue = hd_yaml_get(node, "queue");
    if (queue == NULL)
        return hd_rules_fail(ctx, node, sub, "is missing (the support centre the ticket goes to)");
    if (hd_rules_check_word(ctx, queue, sub) != 0)
        return -1;
    to->queue = xstrdup(queue->value);
    snprintf(sub, sizeof sub, "%s.tier", path);
    if (load_tier(ctx, hd_yaml_get(node, "tier"), sub, &to->tier) != 0)
        return -1;
    snprintf(sub, sizeof sub, "%s.assignee", path);
    return load_assignee(ctx, hd_yaml_get(node, "assignee"), sub, &to->assignee);
}

/* "default" names the fallback in ticket history. */
static bool reserved_name(const char *name)
{
    return strcmp(name, "default") == 0;
}

static void target_free(void *payload)
{
    target *t = payload;
    free(t->queue);
    free(t->assignee);
}

static int load_rule_target(hd_rules_ctx *ctx, const hd_yaml *rule, const char *path, void *payload)
{
    return load_target(ctx, rule, path, payload);
}

static const char *const rule_keys[] = {"name", "when", "queue", "tier", "assignee", NULL};
static const char *const when_keys[] = {
    "category", "keywords",     "priority", "channel",        "site",    "city",      "country",
    "language", "organization", "vip",      "contract_level", "product", "min_users", "urgency",
    "impact",   "attributes",   NULL};

static const hd_rules_spec rules_spec = {
    .rule_keys = rule_keys,
    .rule_expected = "name, when, queue, tier, assignee",
    .cond_keys = when_keys,
    .reserved = reserved_name,
    .reserved_why = "reserved for the fallback",
    .payload_size = sizeof(target),
    .load_payload = load_rule_target,
    .free_payload = target_free,
};

static const char *const default_keys[] = {"queue", "tier", "assignee", NULL};

static int load_default(hd_rules_ctx *ctx, const hd_yaml *root, route_rules *rs)
{
    const hd_yaml *def = hd_yaml_get(root, "default");
    if (def == NULL)
        return hd_rules_fail(ctx, root, "default",
                             "is missing (where a ticket goes when no rule matches, e.g. "
                             "\"default: {queue: service-desk, tier: 1}\")");
    if (hd_rules_check_map(ctx, def, "default", default_keys, "queue, tier, assignee") != 0)
        return -1;
    return load_target(ctx, def, "default", &rs->fallback);
}

static const char *const top_keys[] = {"rules", "default", NULL};

route_rules *route_rules_from_yaml(const hd_yaml *root, const char *source, char *err,
                                   size_t errlen)
{
    hd_rules_ctx ctx = {.source = source ? source : "<rules>", .err = err, .errlen = errlen};
    route_rules *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        abort();
    int rc = hd_rules_check_map(&ctx, root, "(top level)", top_keys, "rules, default");
    if (rc == 0)
        rc = hd_rules_load(&ctx, hd_yaml_get(root, "rules"), &rules_spec, &rs->rules);
    if (rc == 0)
        rc = load_default(&ctx, root, rs);
    if (rc != 0)
        route_rules_destroy(&rs);
    return rs;
}

route_rules *route_rules_load(const char *path, char *err, size_t errlen)
{
    char why[320];
    hd_yaml *root = hd_yaml_load_file(path, why, sizeof why);
    if (root == NULL) {
        snprintf(err, errlen, "%s: %s", path, why);
        return NULL;
    }
    route_rules *rs = route_rules_from_yaml(root, path, err, errlen);
    hd_yaml_free(&root);
    return rs;
}

void route_rules_destroy(route_rules **r)
{
    if (r == NULL || *r == NULL)
        return;
    hd_rules_destroy(&(*r)->rules);
    target_free(&(*r)->fallback);
    free(*r);
    *r = NULL;
}

size_t route_rules_count(const route_rules *r)
{
    return r ? hd_rules_count(r->rules) : 0;
}

const char *route_rules_default_queue(const route_rules *r)
{
    return r->fallback.queue;
}

/* ---- deciding --------------------------------------------------------------------------- */

static void set_target(route_decision *d, const target *to, const char *rule_name)
{
    snprintf(d->queue, sizeof d->queue, "%s", to->queue);
    snprintf(d->assignee, sizeof d->assignee, "%s", to->assignee);
    snprintf(d->rule, sizeof d->rule, "%s", rule_name);
    d->pb.tier = to->tier;
}

void route_decide(const route_rules *r, const HdTicket *t, route_decision *d)
{
    helpdesk__v1__route_result__init(&d->pb);
    const char *name = NULL;
    const target *hit = hd_rules_match(r->rules, t, &name);
    if (hit != NULL)
        set_target(d, hit, name);
    else
        set_target(d, &r->fallback, "default");
    d->pb.queue = d->queue;
    d->pb.assignee = d->assignee;
    d->pb.rule = d->rule;
}
