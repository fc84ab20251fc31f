#include "hd/sla.h"

#include <stdio.h>
#include <string.h>

void hd_sla_defaults(hd_sla *sla)
{
    static const hd_sla_targets def[5] = {
        {0, 0, 0, 0, 0},
        {900, 1800, 14400, 1800, 7200},
        {3600, 7200, 28800, 7200, 18000},
        {28800, 86400, 432000, 172800, 345600},
        {172800, 604800, 1209600, 604800, 1036800},
    };
    memcpy(sla->p, def, sizeof def);
}

int hd_sla_from_config(hd_sla *sla, const hd_config *cfg, char *err, size_t errlen)
{
    hd_sla_defaults(sla);
    static const char *const names[] = {"first_response", "update_interval", "resolution",
                                        "tier2_after", "tier3_after"};
    for (int p = 1; p <= 4; p++) {
        int64_t *f[] = {&sla->p[p].first_response, &sla->p[p].update_interval,
                        &sla->p[p].resolution, &sla->p[p].tier2_after, &sla->p[p].tier3_after};
        for (size_t i = 0; i < 5; i++) {
            char key[64];
            snprintf(key, sizeof key, "sla.P%d.%s", p, names[i]);
            /* Up to ten years: a larger value is a typo, and it keeps ms sums far from overflow. */
            if (hd_config_int(cfg, key, 1, 315360000, f[i], err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

void hd_sla_deadlines(const hd_sla *sla, Helpdesk__V1__Priority p, int64_t created_ms,
                      HdSlaDeadlines *out)
{
    out->first_response_due = 0;
    out->update_interval_ms = 0;
    out->resolution_due = 0;
    out->tier2_escalation_due = 0;
    out->tier3_escalation_due = 0;
    if ((int)p < 1 || (int)p > 4)
        return;
    const hd_sla_targets *s = &sla->p[p];
    out->first_response_due = created_ms + s->first_response * 1000;
    out->update_interval_ms = s->update_interval * 1000;
    out->resolution_due = created_ms + s->resolution * 1000;
    out->tier2_escalation_due = created_ms + s->tier2_after * 1000;
    out->tier3_escalation_due = created_ms + s->tier3_after * 1000;
}
