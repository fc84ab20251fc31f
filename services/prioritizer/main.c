/* hd-prioritizer: takes `new` tickets from the store, sets their priority and SLA deadlines
 * from the help desk's rules file (prioritizer.rules), and sends the result back.
 *   hd-prioritizer [--config FILE]       (or HD_CONFIG=FILE)
 * SIGHUP reloads the rules file; a bad new file is logged and the old rules stay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/clock.h"
#include "hd/config.h"
#include "hd/http.h"
#include "hd/log.h"
#include "hd/metrics.h"
#include "hd/worker.h"
#include "prioritizer.h"

typedef struct {
    char rules_path[1024];
    prio_rules *rules;
    hd_sla sla;
    prio_decision decision; /* the result in flight points here */
} app;

static int decide(const HdWorkItem *item, HdWorkResult *out, void *ctx)
{
    app *a = ctx;
    prio_decide(a->rules, &a->sla, item->ticket, hd_now_ms(), &a->decision);
    out->result_case = HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED;
    out->prioritized = &a->decision.pb;
    return 0;
}

static int load_rules(void *ctx)
{
    app *a = ctx;
    char err[512];
    prio_rules *r = prio_rules_load(a->rules_path, err, sizeof err);
    if (r == NULL) {
        hd_log_clean(err);
        hd_error("event=rules_invalid path=%s error=\"%s\"", a->rules_path, err);
        return -1;
    }
    prio_rules_destroy(&a->rules);
    a->rules = r;
    hd_info("event=rules_loaded path=%s rules=%zu default=%s", a->rules_path, prio_rules_count(r),
            hd_priority_name(prio_rules_default(r)));
    return 0;
}

/* Reads everything the stage needs from the config; -1 with the reason logged. */
static int configure(const hd_config *cfg, app *a, hd_worker_opts *opts)
{
    if (hd_worker_configure(cfg, "prioritizer", opts, a->rules_path, sizeof a->rules_path) != 0)
        return -1;
    char err[512];
    if (hd_sla_from_config(&a->sla, cfg, err, sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_invalid error=\"%s\"", err);
        return -1;
    }
    opts->stages[0] = HELPDESK__V1__STAGE__STAGE_PRIORITIZE;
    opts->reload = load_rules; /* on failure the old rules stay */
    return 0;
}

int main(int argc, char **argv)
{
    hd_log_init("prioritizer");
    int exit_code;
    hd_config *cfg = hd_config_from_args(argc, argv, "hd-prioritizer", &exit_code);
    if (cfg == NULL)
        return exit_code;
    app a = {0};
    hd_worker_opts opts = {0};
    char name[320];
    hd_worker_name("prioritizer", name, sizeof name);
    opts.worker = name;
    int rc = 1;
    opts.metrics = hd_metrics_new("prioritizer");
    hd_http *http = NULL;
    /* /healthz: the loop turns at least every heartbeat; stale after 10 s or 3 heartbeats */
    if (configure(cfg, &a, &opts) == 0 && load_rules(&a) == 0 &&
        hd_http_from_config(cfg, opts.metrics,
                            opts.heartbeat_ms > 3333 ? 3 * (int64_t)opts.heartbeat_ms : 10000,
                            &http) == 0)
        rc = hd_worker_run(&opts, decide, &a) == 0 ? 0 : 1;
    hd_http_stop(&http);
    hd_metrics_destroy(&opts.metrics);
    prio_rules_destroy(&a.rules);
    hd_config_destroy(&cfg);
    return rc;
}
