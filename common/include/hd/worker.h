/* The loop every work stage (prioritizer, router) runs: a DEALER on the store's work socket that
 * asks for work with credit, decides each item it is given, sends the result back, heartbeats,
 * and reconnects when the store goes silent. The stage only supplies the decision. One worker
 * may serve several stages (the router: route and escalate); credit is per stage, so each stage
 * gets its own work_ready on the same socket.
 *
 * Protocol (README, "work socket"): work_ready{stage, credit, worker} grants credit; the store
 * sends work_item replies while we have credit; each work_result gives one credit back; a
 * heartbeat every heartbeat_ms; ERROR_UNKNOWN_WORKER (the store forgot us) -> announce the free
 * credit again; nothing heard for 3 heartbeats -> a fresh socket and a new announcement.
 * A result that is lost is not re-sent: its lease expires and the store dispatches the item
 * again, and the store applies results idempotently. */
#ifndef HD_WORKER_H
#define HD_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "hd/config.h"
#include "hd/curve.h"
#include "hd/metrics.h"
#include "hd/proto.h"

/* Fills out->result_case and the matching pointer (prioritized, routed, escalated or failed) for
 * the item (item->stage is one of the worker's stages and item->ticket is set; the escalation
 * stage also reads item->escalation). What out points to must stay valid until the next call
 * (the loop sends the result before it decides the next item), so it can live in ctx. Returns
 * 0, or -1 when it could not decide, in which case the loop sends a `failed` result and the
 * store re-queues the item. */
typedef int (*hd_decide_fn)(const HdWorkItem *item, HdWorkResult *out, void *ctx);

/* Called on SIGHUP between two items. Reloads the stage's rules; on failure it keeps the old
 * rules and logs why. Returns 0 or -1 (the loop goes on either way). */
typedef int (*hd_reload_fn)(void *ctx);

#define HD_WORKER_MAX_STAGES 3

typedef struct {
    /* The stages served (PRIORITIZE, ROUTE, ESCALATE), each at most once; the list ends at the
     * first STAGE_UNSPECIFIED (0) or at the end of the array. At least one. */
    Helpdesk__V1__Stage stages[HD_WORKER_MAX_STAGES];
    const char *endpoint; /* store.work, e.g. tcp://127.0.0.1:5552 */
    uint32_t credit;      /* items of EACH stage the store may have in flight to us, >= 1 */
    int heartbeat_ms;     /* >= 10 */
    const char *worker;   /* our name, see hd_worker_name */
    hd_reload_fn reload;  /* may be NULL: SIGHUP is then only logged */
    hd_curve_opts curve;  /* CurveZMQ client of the store, or off (zeroed) */
    /* May be NULL. The loop beats it every turn, is ready while the store answers, and counts
     * messages, items by stage and outcome, and the time to decide an item. */
    hd_metrics *metrics;
} hd_worker_opts;

/* Writes "<service>@<hostname>:<pid>" into buf. */
void hd_worker_name(const char *service, char *buf, size_t len);

/* The settings every stage reads the same way: <service>.rules (required; copied into
 * rules_path), <service>.credit, worker.heartbeat_ms, store.work and the curve.* client keys. Stages, worker name and
 * reload stay the caller's. -1 with the reason logged (the bad key named). */
__attribute__((warn_unused_result)) int hd_worker_configure(const hd_config *cfg,
                                                            const char *service,
                                                            hd_worker_opts *opts,
                                                            char *rules_path, size_t cap);

/* Opens the signal descriptor, creates the ZeroMQ context and runs until SIGTERM or SIGINT.
 * Returns 0 after a clean stop (sockets closed), -1 when it could not start (logged). Must be
 * called before any other ZeroMQ context exists in the process: the signals are blocked first
 * so ZeroMQ's threads inherit the mask. */
__attribute__((warn_unused_result)) int hd_worker_run(const hd_worker_opts *opts,
                                                      hd_decide_fn decide, void *ctx);

#endif
