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
 * Conditions: category, keywords, priority, channel, site, city, country, language,
 * organization, vip, contract_level, product, attributes (map of customer attribute -> value
 * or list). Text comparisons ignore ASCII and Latin-1 letter case; other scripts compare
 * byte-exact. */
#ifndef ROUTE_ROUTER_H
#define ROUTE_ROUTER_H

#include <stddef.h>

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

#endif
