/* hd-router: takes `triaged` tickets from the store, chooses their queue (support centre),
 * tier and optional technician from the help desk's routing rules file (router.rules), and
 * sends the result back. It also serves the escalation stage: where a ticket goes at the next
 * tier (the file's escalation: rules) or which manager is told beyond tier 3 (managers:).
 *   hd-router [--config FILE]       (or HD_CONFIG=FILE)
 * SIGHUP reloads the rules file; a bad new file is logged and the old rules stay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/config.h"
#include "hd/http.h"
#include "hd/log.h"
#include "hd/metrics.h"
#include "hd/worker.h"
#include "router.h"

typedef struct {
    char rules_path[1024];
    route_rules *rules;
    route_decision decision;     /* the result in flight points here (stage route) */
    route_escalation escalation; /* or here (stage escalate) */
} app;

static int decide(const HdWorkItem *item, HdWorkResult *out, void *ctx)
{
    app *a = ctx;
    if (item->stage == HELPDESK__V1__STAGE__STAGE_ESCALATE) {
        const HdEscalationRequest *req = item->escalation;
        route_escalate(a->rules, item->ticket, req, &a->escalation);
        hd_info("event=escalation ticket_id=%lld from_tier=%u to_tier=%u deadline=%s rule=%s "
                "queue=%s reason=\"%s\"",
                (long long)item->ticket->id, req ? req->from_tier : item->ticket->tier,
                route_target_tier(item->ticket, req),
                req && req->deadline ? hd_deadline_name(req->deadline) : "manual",
                a->escalation.rule, a->escalation.queue, req && req->reason ? req->reason : "");
        out->result_case = HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED;
        out->escalated = &a->escalation.pb;
        return 0;
    }
    route_decide(a->rules, item->ticket, &a->decision);
    out->result_case = HELPDESK__V1__WORK_RESULT__RESULT_ROUTED;
    out->routed = &a->decision.pb;
    return 0;
}

static int load_rules(void *ctx)
{
    app *a = ctx;
    char err[512];
    route_rules *r = route_rules_load(a->rules_path, err, sizeof err);
    if (r == NULL) {
        hd_log_clean(err);
        hd_error("event=rules_invalid path=%s error=\"%s\"", a->rules_path, err);
        return -1;
    }
    route_rules_destroy(&a->rules);
    a->rules = r;
    hd_info("event=rules_loaded path=%s rules=%zu default_queue=%s escalation_rules=%zu "
            "managers=%zu",
            a->rules_path, route_rules_count(r), route_rules_default_queue(r),
            route_rules_escalation_count(r), route_rules_manager_count(r));
    return 0;
}

/* Reads everything the stage needs from the config; -1 with the reason logged. */
static int configure(const hd_config *cfg, app *a, hd_worker_opts *opts)
{
    if (hd_worker_configure(cfg, "router", opts, a->rules_path, sizeof a->rules_path) != 0)
        return -1;
    opts->stages[0] = HELPDESK__V1__STAGE__STAGE_ROUTE;
    opts->stages[1] = HELPDESK__V1__STAGE__STAGE_ESCALATE;
    opts->reload = load_rules; /* on failure the old rules stay */
    return 0;
}

int main(int argc, char **argv)
{
    hd_log_init("router");
    int exit_code;
    hd_config *cfg = hd_config_from_args(argc, argv, "hd-router", &exit_code);
    if (cfg == NULL)
        return exit_code;
    app a = {0};
    hd_worker_opts opts = {0};
    char name[320];
    hd_worker_name("router", name, sizeof name);
    opts.worker = name;
    int rc = 1;
    opts.metrics = hd_metrics_new("router");
    hd_http *http = NULL;
    /* /healthz: the loop turns at least every heartbeat; stale after 10 s or 3 heartbeats */
    if (configure(cfg, &a, &opts) == 0 && load_rules(&a) == 0 &&
        hd_http_from_config(cfg, opts.metrics,
                            opts.heartbeat_ms > 3333 ? 3 * (int64_t)opts.heartbeat_ms : 10000,
                            &http) == 0)
        rc = hd_worker_run(&opts, decide, &a) == 0 ? 0 : 1;
    hd_http_stop(&http);
    hd_metrics_destroy(&opts.metrics);
    route_rules_destroy(&a.rules);
    hd_config_destroy(&cfg);
    return rc;
}
