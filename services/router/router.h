/* The router's decisions: which support centre (queue), tier and, optionally, technician a
 * triaged ticket goes to, from the help desk's routing rules file. Plain functions over
 * protobuf structs; no sockets, no database.
 *
 * Rules file (see deploy/local/rules/routing.yaml for a commented example):
 *
 *   rules:                        # tried in order; the first rule whose conditions all hold wins
 *     - name: network-p1          # recorded on the ticket as route_rule
 *       when:                     # every condition given must hold; a list means "any of"
 *         category: [network]
 *         priority: [P1, P2]
 *       queue: network-ops
 *       tier: 1                   # 1..3, default 1
 *       assignee: ""              # optional technician
 *   default: {queue: service-desk, tier: 1}
 *
 *   escalation:                   # optional: where an escalation request sends the ticket
 *     - name: network-tier2       # recorded as the escalated event's rule
 *       when: {queue: [network-ops], to_tier: [2]}
 *       queue: network-l2         # the support centre at the next tier
 *       assignee: ""              # optional technician
 *   managers: {network-ops: noc-manager@example.com, default: desk-manager@example.com}
 *
 * Conditions: category, keywords, priority, channel, site, city, country, language,
 * organization, vip, contract_level, product, attributes (map of customer attribute -> value
 * or list); escalation rules also queue (the ticket's current queue) and to_tier (2 or 3).
 * Text comparisons ignore ASCII and Latin-1 letter case; other scripts compare byte-exact.
 *
 * Escalation (stage escalate): to_tier 2 or 3 -> the first matching escalation rule gives queue
 * and assignee, tier = to_tier; no rule -> same queue, no assignee, rule "default-escalation".
 * to_tier 4 (beyond tier 3) -> the ticket stays (same queue and assignee, tier 3), manager =
 * managers[queue] or managers.default or "", rule "manager". */
#ifndef ROUTE_ROUTER_H
#define ROUTE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "hd/proto.h"
#include "hd/yaml.h"

typedef struct route_rules route_rules;

/* Builds rules from a parsed YAML tree. `source` names the file in error messages. NULL on an
 * invalid file, with "source:line: key: reason" in err. Caller owns the result. */
route_rules *route_rules_from_yaml(const hd_yaml *root, const char *source, char *err,
                                   size_t errlen);
/* Reads and builds rules from a file; NULL with the reason in err. */
route_rules *route_rules_load(const char *path, char *err, size_t errlen);
/* Safe on NULL and twice; sets *r to NULL. */
void route_rules_destroy(route_rules **r);
size_t route_rules_count(const route_rules *r);
const char *route_rules_default_queue(const route_rules *r);

/* A decision with its own storage: pb points into it. */
typedef struct {
    HdRouteResult pb;
    char queue[80];
    char assignee[160];
    char rule[80];
} route_decision;

/* Decides where t goes: the first matching rule, else the default ("default" as the rule). */
void route_decide(const route_rules *r, const HdTicket *t, route_decision *d);

#define ROUTE_DEFAULT_ESCALATION "default-escalation"
#define ROUTE_MANAGER_RULE "manager"

size_t route_rules_escalation_count(const route_rules *r);
size_t route_rules_manager_count(const route_rules *r);

/* An escalation decision with its own storage: pb points into it. */
typedef struct {
    HdEscalationResult pb;
    char queue[80];
    char assignee[160];
    char rule[80];
    char manager[288];
} route_escalation;

/* The tier an escalation request asks for: req->to_tier, or one above from_tier (else the
 * ticket's tier) when it is 0; at least 2, at most 4 (the manager). */
uint32_t route_target_tier(const HdTicket *t, const HdEscalationRequest *req);
/* Decides where an escalated ticket goes (see above). req may be NULL (to_tier from the
 * ticket's tier). */
void route_escalate(const route_rules *r, const HdTicket *t, const HdEscalationRequest *req,
                    route_escalation *d);

#endif
