/* SLA targets per priority (the sla.P<n>.* config keys, in seconds) and the deadlines they
 * give a ticket. The prioritizer sets deadlines with them; the store recomputes them when a
 * ticket is re-prioritized; both must read the same keys the same way. */
#ifndef HD_SLA_H
#define HD_SLA_H

#include <stddef.h>
#include <stdint.h>

#include "hd/config.h"
#include "hd/proto.h"

typedef struct {
    int64_t first_response;
    int64_t update_interval;
    int64_t resolution;
    int64_t tier2_after;
    int64_t tier3_after;
} hd_sla_targets;

typedef struct {
    hd_sla_targets p[5]; /* index 1..4 = P1..P4 */
} hd_sla;

/* The defaults of shared/DESIGN.md (P1 900/1800/14400/1800/7200 ...). */
void hd_sla_defaults(hd_sla *sla);
/* Defaults overridden by sla.P1.first_response ... sla.P4.tier3_after from cfg (and the
 * environment). -1 with the offending key in err. */
__attribute__((warn_unused_result)) int hd_sla_from_config(hd_sla *sla, const hd_config *cfg,
                                                           char *err, size_t errlen);
/* Deadlines for priority p of a ticket created at created_ms (all zero for an unknown p). */
void hd_sla_deadlines(const hd_sla *sla, Helpdesk__V1__Priority p, int64_t created_ms,
                      HdSlaDeadlines *out);

#endif
