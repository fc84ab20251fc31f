#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/rules.h"
#include "hd/alloc.h"

#define MAX_ASSIGNEE 128

/* Where a ticket goes. */
typedef struct {
    char *queue;
    uint32_t tier;
    char *assignee; /* "" for none */
} target;

/* managers: queue -> the manager contact told beyond tier 3. */
typedef struct {
    char *queue; /* "default" for the fallback */
    char *contact;
} manager;

struct route_rules {
    hd_rules *rules; /* each carries its target */
    target fallback;
    hd_rules *escalation; /* each carries its target (tier unused: the request's to_tier) */
    manager *managers;
    size_t nmanagers;
};

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
        *out = hd_xstrdup("");
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
    *out = hd_xstrdup(node->value);
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
    to->queue = hd_xstrdup(queue->value);
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

/* ---- escalation: where a ticket goes at the next tier ------------------------------------ */

/* Rule names recorded for the fallbacks of the escalation side. */
static bool reserved_escalation_name(const char *name)
{
    return strcmp(name, "default") == 0 || strcmp(name, ROUTE_DEFAULT_ESCALATION) == 0 ||
           strcmp(name, ROUTE_MANAGER_RULE) == 0;
}

static int load_escalation_target(hd_rules_ctx *ctx, const hd_yaml *rule, const char *path,
                                  void *payload)
{
    target *to = payload;
    char sub[96];
    snprintf(sub, sizeof sub, "%s.queue", path);
    const hd_yaml *queue = hd_yaml_get(rule, "queue");
    if (queue == NULL)
        return hd_rules_fail(ctx, rule, sub,
                             "is missing (the support centre that takes the ticket at the next "
                             "tier)");
    if (hd_rules_check_word(ctx, queue, sub) != 0)
        return -1;
    to->queue = hd_xstrdup(queue->value);
    snprintf(sub, sizeof sub, "%s.assignee", path);
    return load_assignee(ctx, hd_yaml_get(rule, "assignee"), sub, &to->assignee);
}

static const char *const escalation_keys[] = {"name", "when", "queue", "assignee", NULL};
static const char *const escalation_when_keys[] = {
    "queue",    "to_tier",  "category",     "keywords", "priority",       "channel",
    "site",     "city",     "country",      "language", "organization",   "vip",
    "contract_level",       "product",      "min_users", "urgency",       "impact",
    "attributes", NULL};

static const hd_rules_spec escalation_spec = {
    .rule_keys = escalation_keys,
    .rule_expected = "name, when, queue, assignee",
    .cond_keys = escalation_when_keys,
    .reserved = reserved_escalation_name,
    .reserved_why = "reserved for the escalation fallbacks (default, default-escalation, manager)",
    .payload_size = sizeof(target),
    .load_payload = load_escalation_target,
    .free_payload = target_free,
    .list_key = "escalation",
};

/* A manager contact: an address or a name, written into logs and the ticket history. */
static int check_contact(hd_rules_ctx *ctx, const hd_yaml *node, const char *path)
{
    if (hd_rules_check_text(ctx, node, path) != 0)
        return -1;
    for (const char *p = node->value; *p; p++)
        if ((unsigned char)*p < ' ' || *p == '"' || *p == '\\' || *p == 0x7f)
            return hd_rules_fail(ctx, node, path,
                                 "\"%s\" holds a quote, backslash or control character",
                                 node->value);
    return 0;
}

/* `managers: {network-ops: noc@example.com, default: desk@example.com}` (optional). */
static int load_managers(hd_rules_ctx *ctx, const hd_yaml *root, route_rules *rs)
{
    const hd_yaml *m = hd_yaml_get(root, "managers");
    if (m == NULL)
        return 0;
    if (hd_rules_check_map(ctx, m, "managers", NULL,
                           "queue names (or default) and manager contacts") != 0)
        return -1;
    rs->managers = calloc(m->count ? m->count : 1, sizeof *rs->managers);
    if (rs->managers == NULL)
        abort();
    for (const hd_yaml *c = m->child; c; c = c->next) {
        char sub[128];
        snprintf(sub, sizeof sub, "managers.%s", c->key);
        for (const char *p = c->key; *p; p++)
            if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
                return hd_rules_fail(ctx, c, "managers",
                                     "\"%s\" is not a queue name (one word, no quotes, '=' or "
                                     "'\\')",
                                     c->key);
        if (check_contact(ctx, c, sub) != 0)
            return -1;
        manager *mg = &rs->managers[rs->nmanagers++];
        mg->queue = hd_xstrdup(c->key);
        mg->contact = hd_xstrdup(c->value);
    }
    return 0;
}

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

static const char *const top_keys[] = {"rules", "default", "escalation", "managers", NULL};

route_rules *route_rules_from_yaml(const hd_yaml *root, const char *source, char *err,
                                   size_t errlen)
{
    hd_rules_ctx ctx = {.source = source ? source : "<rules>", .err = err, .errlen = errlen};
    route_rules *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        abort();
    int rc = hd_rules_check_map(&ctx, root, "(top level)", top_keys,
                                "rules, default, escalation, managers");
    if (rc == 0)
        rc = hd_rules_load(&ctx, hd_yaml_get(root, "rules"), &rules_spec, &rs->rules);
    if (rc == 0)
        rc = load_default(&ctx, root, rs);
    if (rc == 0)
        rc = hd_rules_load(&ctx, hd_yaml_get(root, "escalation"), &escalation_spec,
                           &rs->escalation);
    if (rc == 0)
        rc = load_managers(&ctx, root, rs);
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
    hd_rules_destroy(&(*r)->escalation);
    for (size_t i = 0; i < (*r)->nmanagers; i++) {
        free((*r)->managers[i].queue);
        free((*r)->managers[i].contact);
    }
    free((*r)->managers);
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

size_t route_rules_escalation_count(const route_rules *r)
{
    return r ? hd_rules_count(r->escalation) : 0;
}

size_t route_rules_manager_count(const route_rules *r)
{
    return r ? r->nmanagers : 0;
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

/* managers[queue], else managers.default, else "" (the store then records no recipient). */
static const char *manager_for(const route_rules *r, const char *queue)
{
    const char *fallback = "";
    for (size_t i = 0; i < r->nmanagers; i++) {
        if (strcmp(r->managers[i].queue, queue) == 0)
            return r->managers[i].contact;
        if (strcmp(r->managers[i].queue, "default") == 0)
            fallback = r->managers[i].contact;
    }
    return fallback;
}

uint32_t route_target_tier(const HdTicket *t, const HdEscalationRequest *req)
{
    uint32_t to = req ? req->to_tier : 0;
    if (to == 0) {
        uint32_t from = req && req->from_tier ? req->from_tier : t->tier;
        to = from + 1;
    }
    if (to < 2)
        to = 2;
    return to > 4 ? 4 : to;
}

void route_escalate(const route_rules *r, const HdTicket *t, const HdEscalationRequest *req,
                    route_escalation *d)
{
    helpdesk__v1__escalation_result__init(&d->pb);
    const char *queue = t->queue ? t->queue : "";
    uint32_t to = route_target_tier(t, req);
    d->manager[0] = '\0';
    if (to >= 4) {
        /* Beyond tier 3 the ticket stays where it is; the support centre's manager is told. */
        snprintf(d->queue, sizeof d->queue, "%s", queue);
        snprintf(d->assignee, sizeof d->assignee, "%s", t->assignee ? t->assignee : "");
        snprintf(d->rule, sizeof d->rule, "%s", ROUTE_MANAGER_RULE);
        snprintf(d->manager, sizeof d->manager, "%s", manager_for(r, queue));
        d->pb.tier = 3;
    } else {
        hd_cond_facts facts = {.to_tier = to};
        const char *name = NULL;
        const target *hit = hd_rules_match_facts(r->escalation, t, &facts, &name);
        /* No rule: the same support centre, a technician of the next tier takes it. */
        snprintf(d->queue, sizeof d->queue, "%s", hit ? hit->queue : queue);
        snprintf(d->assignee, sizeof d->assignee, "%s", hit ? hit->assignee : "");
        snprintf(d->rule, sizeof d->rule, "%s", hit ? name : ROUTE_DEFAULT_ESCALATION);
        d->pb.tier = to;
    }
    d->pb.queue = d->queue;
    d->pb.assignee = d->assignee;
    d->pb.rule = d->rule;
    d->pb.manager = d->manager;
}
