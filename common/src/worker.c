#include "hd/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hd/clock.h"
#include "hd/log.h"
#include "hd/metrics.h"
#include "hd/signals.h"
#include "hd/transport.h"

/* Heartbeats we may miss before the connection counts as dead (the contract says 3). */
#define LIVENESS 3
/* While the store stays silent, each further reconnect waits twice as long, up to this. A fresh
 * socket already holds our work_ready, which ZeroMQ delivers as soon as the store is back, so the
 * backoff only spares the logs; it never delays the restart of work. */
#define MAX_SILENCE_MS 30000
/* Messages read per wake-up, so signals and heartbeats are not starved by a busy store. */
#define BATCH 128

typedef struct {
    const hd_worker_opts *opts;
    size_t nstages; /* opts->stages[0 .. nstages) */
    hd_decide_fn decide;
    void *ctx;
    void *zctx;
    void *sock;
    int sigfd;
    uint64_t next_id;
    /* The request id of our last work_ready. An ERROR_UNKNOWN_WORKER answering an older request
     * was already dealt with by that announcement; acting on it again would double the credit. */
    uint64_t announce_id;
    int64_t next_heartbeat; /* monotonic ms */
    int64_t last_heard;     /* monotonic ms */
    int silent_reconnects;  /* reconnects since we last heard from the store */
    bool stopping;
    uint64_t decided, failed, reconnects;
    int64_t heard_ms; /* monotonic ms of the store's last message; 0: none yet */
    /* hd/metrics.h series; NULL without opts->metrics */
    hd_metric *in, *out, *reconnected, *decide_seconds;
    hd_metric *outcomes[4]; /* by outcome_of(): prioritized, routed, escalated, failed */
} worker;

static void obs_init(worker *w)
{
    hd_metrics *r = w->opts->metrics;
    w->in = hd_metrics_counter(r, "helpdesk_messages_received_total",
                               "Messages read, by socket (work: from the store).", "socket",
                               "work");
    w->out = hd_metrics_counter(r, "helpdesk_messages_sent_total",
                                "Messages sent, by socket (work: to the store).", "socket", "work");
    w->reconnected = hd_metrics_counter(r, "helpdesk_worker_reconnects_total",
                                        "Fresh sockets after the store stayed silent.", NULL, NULL);
    w->decide_seconds = hd_metrics_histogram(r, "helpdesk_worker_item_seconds",
                                             "From a work item's arrival to its result sent.",
                                             hd_metrics_latency_buckets, 12, NULL, NULL);
    static const char *const outcomes[] = {"prioritized", "routed", "escalated", "failed"};
    for (size_t i = 0; i < 4; i++)
        w->outcomes[i] = hd_metrics_counter(r, "helpdesk_worker_items_total",
                                            "Work items decided, by outcome.", "outcome",
                                            outcomes[i]);
}


/* Each turn: heartbeat; ready while the store answered within LIVENESS heartbeats. */
static void obs_update(const worker *w)
{
    hd_metrics *r = w->opts->metrics;
    if (r == NULL)
        return;
    hd_metrics_beat(r);
    bool heard = w->heard_ms != 0 &&
                 hd_mono_ms() - w->heard_ms <= (int64_t)LIVENESS * w->opts->heartbeat_ms;
    hd_metrics_set_ready(r, heard, heard ? NULL : "the store does not answer");
}

void hd_worker_name(const char *service, char *buf, size_t len)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(buf, len, "%s@%s:%ld", service, host, (long)getpid());
}

static int send_request(worker *w, HdRequest *req)
{
    req->id = ++w->next_id;
    /* Never block the loop: when the pipe is full the store is not reading, and whatever is lost
     * here is recovered by leases and the next announcement. */
    if (hd_dealer_send(w->sock, req, ZMQ_DONTWAIT) != 0) {
        hd_warn("event=send_failed worker=%s body=%d error=\"%s\"", w->opts->worker,
                (int)req->body_case, zmq_strerror(errno));
        return -1;
    }
    hd_metric_inc(w->out);
    return 0;
}

/* Asks for `credit` items of each stage, one work_ready per stage since the store keeps credit
 * per stage. We decide each item as soon as it arrives, so between two messages we hold none:
 * all our credit is free. */
static void announce(worker *w)
{
    for (size_t i = 0; i < w->nstages; i++) {
        HdWorkReady ready = HELPDESK__V1__WORK_READY__INIT;
        ready.stage = w->opts->stages[i];
        ready.credit = w->opts->credit;
        ready.worker = (char *)w->opts->worker;
        HdRequest req = HELPDESK__V1__REQUEST__INIT;
        req.body_case = HELPDESK__V1__REQUEST__BODY_WORK_READY;
        req.work_ready = &ready;
        if (send_request(w, &req) == 0)
            w->announce_id = req.id;
    }
}

static bool serves(const worker *w, Helpdesk__V1__Stage stage)
{
    for (size_t i = 0; i < w->nstages; i++)
        if (w->opts->stages[i] == stage)
            return true;
    return false;
}

/* "route,escalate" for logs. */
static void stage_list(const worker *w, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < w->nstages && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                 hd_stage_name(w->opts->stages[i]));
}

static void heartbeat(worker *w)
{
    HdHeartbeat hb = HELPDESK__V1__HEARTBEAT__INIT;
    hb.worker = (char *)w->opts->worker;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    (void)send_request(w, &req);
}

static int connect_socket(worker *w)
{
    w->sock = hd_socket_open(w->zctx, ZMQ_DEALER, w->opts->endpoint, false, &w->opts->curve);
    if (w->sock == NULL)
        return -1;
    w->last_heard = hd_mono_ms();
    w->next_heartbeat = w->last_heard + w->opts->heartbeat_ms;
    announce(w);
    return 0;
}

/* The store has been silent for LIVENESS heartbeats: it died, restarted, or the connection is
 * stuck. A fresh socket drops anything queued on the old one (those leases will expire). */
static int reconnect(worker *w)
{
    int zero = 0;
    zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(w->sock);
    w->sock = NULL;
    w->reconnects++;
    hd_metric_inc(w->reconnected);
    hd_warn("event=reconnect worker=%s endpoint=%s silent_ms=%lld", w->opts->worker,
            w->opts->endpoint, (long long)(hd_mono_ms() - w->last_heard));
    if (w->silent_reconnects < 16)
        w->silent_reconnects++;
    return connect_socket(w);
}

static void log_decision(const worker *w, const HdWorkResult *res)
{
    long long id = (long long)res->ticket_id, lease = (long long)res->lease_id;
    switch (res->result_case) {
    case HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED:
        hd_info("event=decided ticket_id=%lld lease_id=%lld rule=%s result=%s", id, lease,
                res->prioritized->rule, hd_priority_name(res->prioritized->priority));
        break;
    case HELPDESK__V1__WORK_RESULT__RESULT_ROUTED:
        hd_info("event=decided ticket_id=%lld lease_id=%lld rule=%s result=%s tier=%u "
                "assignee=\"%s\"",
                id, lease, res->routed->rule, res->routed->queue, res->routed->tier,
                res->routed->assignee);
        break;
    case HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED:
        hd_info("event=decided stage=escalate ticket_id=%lld lease_id=%lld rule=%s result=%s "
                "tier=%u assignee=\"%s\" manager=\"%s\"",
                id, lease, res->escalated->rule, res->escalated->queue, res->escalated->tier,
                res->escalated->assignee, res->escalated->manager);
        break;
    default:
        hd_warn("event=decided ticket_id=%lld lease_id=%lld worker=%s result=failed "
                "error=\"%s\"",
                id, lease, w->opts->worker, res->failed ? res->failed->message : "");
        break;
    }
}

static bool result_ok(const HdWorkResult *res)
{
    switch (res->result_case) {
    case HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED:
        return res->prioritized != NULL;
    case HELPDESK__V1__WORK_RESULT__RESULT_ROUTED:
        return res->routed != NULL;
    case HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED:
        return res->escalated != NULL;
    case HELPDESK__V1__WORK_RESULT__RESULT_FAILED:
        return res->failed != NULL;
    default:
        return false;
    }
}

/* The index of the result's outcome in worker.outcomes. */
static size_t outcome_of(const HdWorkResult *res)
{
    switch (res->result_case) {
    case HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED: return 0;
    case HELPDESK__V1__WORK_RESULT__RESULT_ROUTED: return 1;
    case HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED: return 2;
    default: return 3;
    }
}

/* Decides one item and sends the result, which also gives its credit back. */
static void handle_item(worker *w, const HdWorkItem *item)
{
    int64_t start_us = hd_metrics_now_us();
    HdWorkResult res = HELPDESK__V1__WORK_RESULT__INIT;
    res.lease_id = item->lease_id;
    res.ticket_id = item->ticket ? item->ticket->id : 0;
    res.stage = item->stage;
    res.worker = (char *)w->opts->worker;
    hd_error_buf fail;
    if (!serves(w, item->stage) || item->ticket == NULL) {
        char stages[64];
        stage_list(w, stages, sizeof stages);
        hd_error_set(&fail, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "stage",
                     "this worker does stage %s; the item is for stage %s%s", stages,
                     hd_stage_name(item->stage), item->ticket ? "" : " and carries no ticket");
    } else if (w->decide(item, &res, w->ctx) != 0 || !result_ok(&res)) {
        hd_error_set(&fail, HELPDESK__V1__ERROR_CODE__ERROR_INTERNAL, "",
                     "the %s stage could not decide this ticket", hd_stage_name(item->stage));
        res.result_case = HELPDESK__V1__WORK_RESULT__RESULT__NOT_SET;
    }
    if (!result_ok(&res)) {
        res.result_case = HELPDESK__V1__WORK_RESULT__RESULT_FAILED;
        res.failed = &fail.pb;
    }
    if (res.result_case == HELPDESK__V1__WORK_RESULT__RESULT_FAILED)
        w->failed++;
    else
        w->decided++;
    log_decision(w, &res);
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_WORK_RESULT;
    req.work_result = &res;
    (void)send_request(w, &req);
    hd_metric_inc(w->outcomes[outcome_of(&res)]);
    hd_metric_observe_since(w->decide_seconds, start_us);
}

static void handle_error(worker *w, const HdReply *rep)
{
    const HdError *e = rep->error;
    hd_metric_inc(hd_metrics_counter(w->opts->metrics, "helpdesk_errors_total",
                                     "Errors the store answered, by error code.", "kind",
                                     hd_error_code_name(e->code)));
    if (e->code == HELPDESK__V1__ERROR_CODE__ERROR_UNKNOWN_WORKER) {
        if (rep->id <= w->announce_id)
            return; /* answered a request sent before our last announcement */
        hd_warn("event=unknown_worker worker=%s action=announce credit=%u", w->opts->worker,
                w->opts->credit);
        announce(w);
        return;
    }
    hd_warn("event=store_error worker=%s id=%llu code=%s field=%s message=\"%s\"", w->opts->worker,
            (unsigned long long)rep->id, hd_error_code_name(e->code), e->field, e->message);
}

static void handle_reply(worker *w, const HdReply *rep)
{
    switch (rep->body_case) {
    case HELPDESK__V1__REPLY__BODY_WORK_ITEM:
        handle_item(w, rep->work_item);
        break;
    case HELPDESK__V1__REPLY__BODY_WORK_ACK:
        hd_debug("event=ack ticket_id=%lld lease_id=%lld applied=%s",
                 (long long)rep->work_ack->ticket_id, (long long)rep->work_ack->lease_id,
                 rep->work_ack->applied ? "true" : "false");
        break;
    case HELPDESK__V1__REPLY__BODY_HEARTBEAT:
        break;
    case HELPDESK__V1__REPLY__BODY_ERROR:
        handle_error(w, rep);
        break;
    default:
        hd_warn("event=unexpected_reply worker=%s body=%d", w->opts->worker, (int)rep->body_case);
        break;
    }
}

/* Reads what is waiting on the socket, up to `max` messages. */
static void drain_socket(worker *w, int max)
{
    for (int i = 0; i < max && w->sock != NULL; i++) {
        HdReply *rep = hd_dealer_recv(w->sock, ZMQ_DONTWAIT);
        if (rep == NULL) {
            if (errno != EPROTO)
                return; /* EAGAIN: nothing more, or the context is closing */
            hd_warn("event=bad_message worker=%s reason=\"not a helpdesk.v1.Reply\"",
                    w->opts->worker);
            w->last_heard = w->heard_ms = hd_mono_ms();
            w->silent_reconnects = 0;
            continue;
        }
        hd_metric_inc(w->in);
        w->last_heard = w->heard_ms = hd_mono_ms();
        w->silent_reconnects = 0;
        handle_reply(w, rep);
        hd_reply_free(rep);
    }
}

static void handle_signals(worker *w)
{
    int sig;
    while ((sig = hd_signals_take(w->sigfd)) != 0) {
        if (sig == SIGHUP) {
            hd_info("event=reload worker=%s", w->opts->worker);
            if (w->opts->reload != NULL && w->opts->reload(w->ctx) != 0)
                hd_warn("event=reload_failed worker=%s action=\"keeping the previous rules\"",
                        w->opts->worker);
        } else {
            hd_info("event=stopping worker=%s signal=%d", w->opts->worker, sig);
            w->stopping = true;
        }
    }
}

/* How long the store may stay silent before we reconnect. */
static int64_t silence_limit(const worker *w)
{
    int64_t base = (int64_t)LIVENESS * w->opts->heartbeat_ms;
    int64_t limit = base << w->silent_reconnects;
    int64_t cap = base > MAX_SILENCE_MS ? base : MAX_SILENCE_MS;
    return limit < cap ? limit : cap;
}

static void on_timers(worker *w)
{
    int64_t now = hd_mono_ms();
    if (now - w->last_heard >= silence_limit(w)) {
        if (reconnect(w) != 0)
            w->stopping = true;
        return;
    }
    if (now >= w->next_heartbeat) {
        heartbeat(w);
        w->next_heartbeat = now + w->opts->heartbeat_ms;
    }
}

static int poll_once(worker *w)
{
    obs_update(w);
    int64_t wait = w->next_heartbeat - hd_mono_ms();
    zmq_pollitem_t items[2] = {
        {.socket = w->sock, .events = ZMQ_POLLIN},
        {.fd = w->sigfd, .events = ZMQ_POLLIN},
    };
    int rc = zmq_poll(items, 2, wait > 0 ? (long)wait : 0);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    if (items[1].revents & ZMQ_POLLIN)
        handle_signals(w);
    if (items[0].revents & ZMQ_POLLIN)
        drain_socket(w, BATCH);
    if (!w->stopping)
        on_timers(w);
    return 0;
}

/* 0 after a stop signal, -1 when the loop cannot go on. */
static int loop(worker *w)
{
    int rc = 0;
    while (!w->stopping) {
        if (poll_once(w) != 0) {
            hd_error("event=poll_failed worker=%s error=\"%s\"", w->opts->worker,
                     zmq_strerror(errno));
            rc = -1;
            break;
        }
    }
    /* Items the store already handed us are decided now rather than left to lease expiry;
     * anything still in transit is redone by another worker when its lease runs out. */
    if (w->sock != NULL)
        drain_socket(w, (int)(w->opts->credit * w->nstages));
    return w->sock != NULL ? rc : -1;
}

static bool stage_valid(Helpdesk__V1__Stage s)
{
    return s == HELPDESK__V1__STAGE__STAGE_PRIORITIZE || s == HELPDESK__V1__STAGE__STAGE_ROUTE ||
           s == HELPDESK__V1__STAGE__STAGE_ESCALATE;
}

/* The number of stages served, or 0 when the list is invalid (none, unknown, repeated). */
static size_t count_stages(const hd_worker_opts *o)
{
    size_t n = 0;
    while (n < HD_WORKER_MAX_STAGES && o->stages[n] != HELPDESK__V1__STAGE__STAGE_UNSPECIFIED) {
        if (!stage_valid(o->stages[n]))
            return 0;
        for (size_t j = 0; j < n; j++)
            if (o->stages[j] == o->stages[n])
                return 0;
        n++;
    }
    return n;
}

static bool opts_valid(const hd_worker_opts *o)
{
    return o != NULL && o->endpoint != NULL && o->worker != NULL && o->credit >= 1 &&
           o->heartbeat_ms >= 10 && count_stages(o) > 0;
}

int hd_worker_run(const hd_worker_opts *opts, hd_decide_fn decide, void *ctx)
{
    if (!opts_valid(opts) || decide == NULL) {
        hd_error("event=worker_failed reason=\"invalid worker options\"");
        return -1;
    }
    worker w = {.opts = opts,
                .nstages = count_stages(opts),
                .decide = decide,
                .ctx = ctx,
                .sigfd = hd_signals_open()};
    if (w.sigfd < 0) {
        hd_error("event=worker_failed reason=\"signalfd: %s\"", strerror(errno));
        return -1;
    }
    w.next_id = (uint64_t)hd_now_ms() << 16; /* ids distinct from a previous run's */
    obs_init(&w);
    w.zctx = zmq_ctx_new();
    int rc = -1;
    if (w.zctx != NULL && connect_socket(&w) == 0) {
        char stages[64];
        stage_list(&w, stages, sizeof stages);
        hd_info("event=ready worker=%s stage=%s endpoint=%s credit=%u heartbeat_ms=%d",
                opts->worker, stages, opts->endpoint, opts->credit, opts->heartbeat_ms);
        rc = loop(&w);
    }
    hd_socket_close(&w.sock);
    if (w.zctx != NULL)
        zmq_ctx_term(w.zctx);
    close(w.sigfd);
    hd_info("event=stopped worker=%s decided=%llu failed=%llu reconnects=%llu", opts->worker,
            (unsigned long long)w.decided, (unsigned long long)w.failed,
            (unsigned long long)w.reconnects);
    return rc;
}

int hd_worker_configure(const hd_config *cfg, const char *service, hd_worker_opts *opts,
                        char *rules_path, size_t cap)
{
    char key[64], err[512];
    snprintf(key, sizeof key, "%s.rules", service);
    const char *rules = hd_config_str(cfg, key, NULL);
    if (rules == NULL || rules[0] == '\0') {
        hd_error("event=config_invalid key=%s error=\"not set: give the path of the %s rules "
                 "file\"", key, service);
        return -1;
    }
    snprintf(rules_path, cap, "%s", rules);
    /* A stage moves at most `credit` items per worker per store loop turn (a commit): 128 keeps
     * up with the store's batches; fewer starve the stage while the store is busy. */
    int64_t credit = 128, hb = 1000;
    snprintf(key, sizeof key, "%s.credit", service);
    if (hd_config_int(cfg, key, 1, 10000, &credit, err, sizeof err) != 0 ||
        hd_config_int(cfg, "worker.heartbeat_ms", 10, 600000, &hb, err, sizeof err) != 0 ||
        hd_curve_client_config(cfg, "store", &opts->curve, err, sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_invalid error=\"%s\"", err);
        return -1;
    }
    opts->endpoint = hd_config_str(cfg, "store.work", HD_DEFAULT_STORE_WORK);
    opts->credit = (uint32_t)credit;
    opts->heartbeat_ms = (int)hb;
    return 0;
}
