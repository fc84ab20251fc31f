/* The prioritizer's decisions: a help desk's own priority rules (a YAML file), the impact x
 * urgency matrix and default that back them, and the SLA deadlines that follow from the
 * priority. Plain functions over protobuf structs; no sockets, no database.
 *
 * Rules file (see deploy/local/rules/priority.yaml for a commented example):
 *
 *   rules:                       # tried in order; the first rule whose conditions all hold wins
 *     - name: datacenter-down    # recorded on the ticket as priority_rule
 *       when:                    # every condition given must hold; a list means "any of"
 *         category: [network, datacenter]
 *         keywords: [outage, panne, down]   # substring of summary or description
 *         min_users: 50
 *       priority: P1
 *   matrix:                      # impact -> urgency -> priority; used when no rule matched
 *     critical: {critical: P1, high: P1, medium: P2, low: P2}
 *   default: P3                  # when no rule matched and the matrix has no cell
 *
 * Conditions: category, keywords, channel, vip, contract_level, organization, product,
 * min_users, urgency, impact, attributes (map of customer attribute -> value or list).
 * Text comparisons ignore ASCII case and the case of Latin-1 letters (É/é); other scripts
 * (Arabic, Urdu...) compare byte-exact. */
#ifndef PRIO_PRIORITIZER_H
#define PRIO_PRIORITIZER_H

#include <stddef.h>
#include <stdint.h>

#include "hd/config.h"
#include "hd/sla.h"
#include "hd/proto.h"
#include "hd/yaml.h"

typedef struct prio_rules prio_rules;

/* Builds rules from a parsed YAML tree. `source` names the file in error messages. NULL on a
 * invalid file, with "source:line: key: reason" in err. Caller owns the result. */
prio_rules *prio_rules_from_yaml(const hd_yaml *root, const char *source, char *err, size_t errlen);
/* Reads and builds rules from a file; NULL with the reason in err. */
prio_rules *prio_rules_load(const char *path, char *err, size_t errlen);
/* Safe on NULL and twice; sets *r to NULL. */
void prio_rules_destroy(prio_rules **r);
size_t prio_rules_count(const prio_rules *r);
Helpdesk__V1__Priority prio_rules_default(const prio_rules *r);

/* SLA targets in seconds per priority, indexed by the Priority value (1..4). */

/* A decision with its own storage: pb points into it. */
typedef struct {
    HdPrioritizeResult pb;
    HdSlaDeadlines sla;
    char rule[96];
} prio_decision;

/* Decides the priority of t: the first matching rule, else the matrix, else the default.
 * The rule is the rule's name, "matrix:<impact>/<urgency>" or "default". Deadlines count from
 * t->created_at, or from now_ms when the ticket has none. */
void prio_decide(const prio_rules *r, const hd_sla *sla, const HdTicket *t, int64_t now_ms,
                 prio_decision *d);

#endif
