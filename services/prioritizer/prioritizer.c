#include "prioritizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/rules.h"

struct prio_rules {
    hd_rules *rules; /* each carries its Helpdesk__V1__Priority */
    Helpdesk__V1__Priority fallback;
    Helpdesk__V1__Priority matrix[5][5]; /* [impact][urgency], 0 = no cell */
};

static int parse_level(const char *s, int *out)
{
    Helpdesk__V1__Level l;
    if (hd_level_parse(s, &l) != 0)
        return -1;
    *out = (int)l;
    return 0;
}

/* ---- loading ---------------------------------------------------------------------------- */

static int load_priority(hd_rules_ctx *ctx, const hd_yaml *node, const char *path,
                         Helpdesk__V1__Priority *out)
{
    if (node == NULL)
        return hd_rules_fail(ctx, NULL, path, "is missing");
    if (node->kind != HD_YAML_SCALAR || hd_priority_parse(node->value, out) != 0)
        return hd_rules_fail(ctx, node, path,
                             "unknown priority \"%s\" (expected P1 enterprise failure, P2 "
                             "critical situation, P3 regular scheduled service or P4 planned "
                             "event)",
                             node->kind == HD_YAML_SCALAR ? node->value : "(not text)");
    return 0;
}

/* A rule's own part: its priority. */
static int load_rule_priority(hd_rules_ctx *ctx, const hd_yaml *rule, const char *path,
                              void *payload)
{
    char sub[96];
    snprintf(sub, sizeof sub, "%s.priority", path);
    const hd_yaml *p = hd_yaml_get(rule, "priority");
    if (p == NULL)
        return hd_rules_fail(ctx, rule, sub, "is missing");
    return load_priority(ctx, p, sub, payload);
}

/* "default" and "matrix:..." name the fallbacks in ticket history. */
static bool reserved_name(const char *name)
{
    return strcmp(name, "default") == 0 || strncmp(name, "matrix:", 7) == 0;
}

static const char *const rule_keys[] = {"name", "when", "priority", NULL};
static const char *const when_keys[] = {"category",       "keywords",     "channel",    "vip",
                                        "contract_level", "organization", "product",    "min_users",
                                        "urgency",        "impact",       "attributes", NULL};

static const hd_rules_spec rules_spec = {
    .rule_keys = rule_keys,
    .rule_expected = "name, when, priority",
    .cond_keys = when_keys,
    .reserved = reserved_name,
    .reserved_why = "reserved for the fallbacks",
    .payload_size = sizeof(Helpdesk__V1__Priority),
    .load_payload = load_rule_priority,
    .free_payload = NULL,
};

static const char *const level_keys[] = {"low", "medium", "high", "critical", NULL};

static int load_matrix(hd_rules_ctx *ctx, const hd_yaml *node, prio_rules *rs)
{
    if (node == NULL)
        return 0;
    if (hd_rules_check_map(ctx, node, "matrix", level_keys,
                           "impact levels: low, medium, high, critical") != 0)
        return -1;
    for (const hd_yaml *imp = node->child; imp; imp = imp->next) {
        char path[64];
        snprintf(path, sizeof path, "matrix.%s", imp->key);
        if (hd_rules_check_map(ctx, imp, path, level_keys,
                               "urgency levels: low, medium, high, critical") != 0)
            return -1;
        int i = 0;
        (void)parse_level(imp->key, &i);
        for (const hd_yaml *urg = imp->child; urg; urg = urg->next) {
            char cell[96];
            snprintf(cell, sizeof cell, "%s.%s", path, urg->key);
            int u = 0;
            (void)parse_level(urg->key, &u);
            if (load_priority(ctx, urg, cell, &rs->matrix[i][u]) != 0)
                return -1;
        }
    }
    return 0;
}

static const char *const top_keys[] = {"rules", "matrix", "default", NULL};

prio_rules *prio_rules_from_yaml(const hd_yaml *root, const char *source, char *err, size_t errlen)
{
    hd_rules_ctx ctx = {.source = source ? source : "<rules>", .err = err, .errlen = errlen};
    prio_rules *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        abort();
    int rc = hd_rules_check_map(&ctx, root, "(top level)", top_keys, "rules, matrix, default");
    if (rc == 0)
        rc = hd_rules_load(&ctx, hd_yaml_get(root, "rules"), &rules_spec, &rs->rules);
    if (rc == 0)
        rc = load_matrix(&ctx, hd_yaml_get(root, "matrix"), rs);
    if (rc == 0) {
        const hd_yaml *def = hd_yaml_get(root, "default");
        if (def == NULL)
            rc = hd_rules_fail(&ctx, root, "default",
                               "is missing (the priority when no rule and no matrix cell "
                               "applies, e.g. \"default: P3\")");
        else
            rc = load_priority(&ctx, def, "default", &rs->fallback);
    }
    if (rc != 0)
        prio_rules_destroy(&rs);
    return rs;
}

prio_rules *prio_rules_load(const char *path, char *err, size_t errlen)
{
    char why[320];
    hd_yaml *root = hd_yaml_load_file(path, why, sizeof why);
    if (root == NULL) {
        snprintf(err, errlen, "%s: %s", path, why);
        return NULL;
    }
    prio_rules *rs = prio_rules_from_yaml(root, path, err, errlen);
    hd_yaml_free(&root);
    return rs;
}

void prio_rules_destroy(prio_rules **r)
{
    if (r == NULL || *r == NULL)
        return;
    hd_rules_destroy(&(*r)->rules);
    free(*r);
    *r = NULL;
}

size_t prio_rules_count(const prio_rules *r)
{
    return r ? hd_rules_count(r->rules) : 0;
}

Helpdesk__V1__Priority prio_rules_default(const prio_rules *r)
{
    return r->fallback;
}

/* ---- deciding --------------------------------------------------------------------------- */

void prio_decide(const prio_rules *r, const hd_sla *sla, const HdTicket *t, int64_t now_ms,
                 prio_decision *d)
{
    helpdesk__v1__prioritize_result__init(&d->pb);
    Helpdesk__V1__Priority p = HELPDESK__V1__PRIORITY__PRIORITY_UNSPECIFIED;
    const char *name = NULL;
    const Helpdesk__V1__Priority *hit = hd_rules_match(r->rules, t, &name);
    if (hit != NULL) {
        p = *hit;
        snprintf(d->rule, sizeof d->rule, "%s", name);
    }
    int imp = t->problem ? (int)t->problem->impact : 0;
    int urg = t->problem ? (int)t->problem->urgency : 0;
    if (p == 0 && imp >= 1 && imp <= 4 && urg >= 1 && urg <= 4 && r->matrix[imp][urg] != 0) {
        p = r->matrix[imp][urg];
        snprintf(d->rule, sizeof d->rule, "matrix:%s/%s", hd_level_name((Helpdesk__V1__Level)imp),
                 hd_level_name((Helpdesk__V1__Level)urg));
    }
    if (p == 0) {
        p = r->fallback;
        snprintf(d->rule, sizeof d->rule, "default");
    }
    d->pb.priority = p;
    d->pb.rule = d->rule;
    helpdesk__v1__sla_deadlines__init(&d->sla);
    hd_sla_deadlines(sla, p, t->created_at > 0 ? t->created_at : now_ms, &d->sla);
    d->pb.sla = &d->sla;
}
