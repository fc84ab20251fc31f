/* hd-intake: the front door. Clients send Request{submit{contact}} on a ROUTER; a valid contact
 * goes on to the store as create_tickets over a DEALER, and the store's answer (sent after it
 * committed) goes back to the client. Many calls wait for the store at once; none blocks. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd/clock.h"
#include "hd/config.h"
#include "hd/curve.h"
#include "hd/http.h"
#include "hd/log.h"
#include "hd/metrics.h"
#include "hd/signals.h"
#include "hd/transport.h"
#include "intake.h"

/* Messages read from one socket before looking at the others, so neither starves. */
#define BATCH 256
/* /healthz fails when the loop has not turned for this long (it turns at least every second). */
#define STALE_MS 10000
/* What the monitor of the store DEALER reports: a connection made (its handshake done) and a
 * connection gone. A failed CurveZMQ handshake is reported as gone too, without made before. */
#define STORE_EVENTS (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED)

/* What /metrics and /readyz show; updated by the loop (hd/metrics.h). */
typedef struct {
    hd_metrics *reg;
    hd_metric *client_in, *client_out, *store_in, *store_out;
    hd_metric *accepted, *ack_seconds, *waiting;
    bool store_connected; /* the handshake with the store succeeded and it has not dropped */
    bool store_silent;    /* a call timed out since the store last answered */
} intake_obs;

typedef struct {
    intake_settings set;
    void *router;        /* clients */
    void *store;         /* DEALER to store.api */
    void *store_monitor; /* PAIR: connection events of store; opened and closed with it */
    intake_pending *pending;
    intake_obs obs;
    hd_zap *zap; /* NULL when curve is off */
} intake_loop;

static void obs_init(intake_obs *o, hd_metrics *reg)
{
    const char *in = "Messages read, by socket (intake: clients; store: the store's replies).";
    const char *out = "Messages sent, by socket (intake: replies to clients; store: requests).";
    o->reg = reg;
    o->client_in = hd_metrics_counter(reg, "helpdesk_messages_received_total", in, "socket",
                                      "intake");
    o->store_in = hd_metrics_counter(reg, "helpdesk_messages_received_total", in, "socket",
                                     "store");
    o->client_out = hd_metrics_counter(reg, "helpdesk_messages_sent_total", out, "socket",
                                       "intake");
    o->store_out = hd_metrics_counter(reg, "helpdesk_messages_sent_total", out, "socket",
                                      "store");
    o->accepted = hd_metrics_counter(reg, "helpdesk_intake_contacts_accepted_total",
                                     "Contacts acknowledged with the store's receipt.", NULL,
                                     NULL);
    o->ack_seconds = hd_metrics_histogram(
        reg, "helpdesk_intake_ack_latency_seconds",
        "From a contact's arrival to its acknowledgement (receipt or error from the store).",
        hd_metrics_latency_buckets, 12, NULL, NULL);
    o->waiting = hd_metrics_gauge(reg, "helpdesk_intake_waiting_calls",
                                  "Contacts forwarded to the store and not yet answered.", NULL,
                                  NULL);
}

/* An error reply of this code: helpdesk_errors_total{kind}. */
static void count_error(intake_obs *o, Helpdesk__V1__ErrorCode code)
{
    hd_metric_inc(hd_metrics_counter(o->reg, "helpdesk_errors_total",
                                     "Error replies sent, by error code.", "kind",
                                     hd_error_code_name(code)));
}

static void count_rejected(intake_obs *o, Helpdesk__V1__ErrorCode code)
{
    hd_metric_inc(hd_metrics_counter(o->reg, "helpdesk_intake_contacts_rejected_total",
                                     "Contacts refused by intake's validation, by error code.",
                                     "code", hd_error_code_name(code)));
}

/* Ready while connected to the store and it answers. */
static void obs_update(intake_loop *l)
{
    intake_obs *o = &l->obs;
    hd_metrics_beat(o->reg);
    hd_metric_set(o->waiting, (int64_t)intake_pending_count(l->pending));
    if (!o->store_connected)
        hd_metrics_set_ready(o->reg, false, "no connection to the store");
    else if (o->store_silent)
        hd_metrics_set_ready(o->reg, false, "the store did not answer in time");
    else
        hd_metrics_set_ready(o->reg, true, NULL);
}

/* Opens the DEALER to the store with the monitor that watches its connection; on failure
 * (logged) l->store stays NULL. Whatever replaces the store socket goes through here and
 * store_close, so the monitor follows the socket it watches. */
static void store_open(intake_loop *l, void *ctx, const hd_curve_opts *curve)
{
    l->store = hd_socket_open(ctx, ZMQ_DEALER, l->set.store_api, false, curve);
    if (l->store != NULL)
        l->store_monitor = hd_monitor_open(ctx, l->store, STORE_EVENTS);
    if (l->store_monitor == NULL)
        hd_socket_close(&l->store);
    l->obs.store_connected = false;
}

static void store_close(intake_loop *l)
{
    hd_monitor_close(l->store, &l->store_monitor);
    hd_socket_close(&l->store);
    l->obs.store_connected = false;
}

static void log_rejected(const HdRequest *req, const hd_error_buf *err)
{
    const HdContact *c = req && req->body_case == HELPDESK__V1__REQUEST__BODY_SUBMIT &&
                                 req->submit ? req->submit->contact
                                             : NULL;
    char src[96], ext[256];
    intake_log_quote(src, sizeof src, c ? c->source : "");
    intake_log_quote(ext, sizeof ext, c ? c->external_id : "");
    hd_info("event=rejected code=%s field=%s source=%s external_id=%s",
            hd_error_code_name(err->pb.code), err->field, src, ext);
}

/* A client that never reads makes every reply to it fail: one line a second, not one a reply. */
static void log_reply_failed(void)
{
    static hd_log_limit lim = {.interval_ms = 1000};
    hd_log_limited(&lim, HD_LOG_WARN, "event=reply_failed error=\"%s\"", zmq_strerror(errno));
}

static void reply_error(intake_loop *l, const hd_peer *peer, uint64_t id, hd_error_buf *err)
{
    count_error(&l->obs, err->pb.code);
    if (hd_router_send_error(l->router, peer, id, err) != 0)
        log_reply_failed();
    else
        hd_metric_inc(l->obs.client_out);
}

static void forward(intake_loop *l, const hd_peer *peer, HdRequest *req)
{
    HdContact *c = req->submit->contact;
    intake_call *call =
        intake_pending_add(l->pending, req->id, peer, hd_mono_ms() + l->set.store_timeout_ms, c);
    hd_error_buf err;
    if (call == NULL) {
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                     "intake has too many contacts waiting for the store; retry shortly with "
                     "the same source and external_id");
        reply_error(l, peer, req->id, &err);
        return;
    }
    HdCreateTickets create = HELPDESK__V1__CREATE_TICKETS__INIT;
    create.contact = c;
    HdRequest out = HELPDESK__V1__REQUEST__INIT;
    out.id = call->store_id;
    out.body_case = HELPDESK__V1__REQUEST__BODY_CREATE_TICKETS;
    out.create_tickets = &create;
    if (hd_dealer_send(l->store, &out, ZMQ_DONTWAIT) != 0) {
        intake_call gone;
        (void)intake_pending_take(l->pending, out.id, &gone);
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                     "the store cannot take requests now; retry with the same source and "
                     "external_id");
        hd_warn("event=store_send_failed error=\"%s\"", zmq_strerror(errno));
        reply_error(l, peer, req->id, &err);
        return;
    }
    hd_metric_inc(l->obs.store_out);
}

static void on_client(intake_loop *l)
{
    for (int i = 0; i < BATCH; i++) {
        hd_peer peer;
        HdRequest *req = NULL;
        hd_error_buf err;
        enum hd_recv_result r = hd_router_recv(l->router, &peer, &req, &err, ZMQ_DONTWAIT);
        if (r == HD_RECV_NONE)
            return;
        hd_metric_inc(l->obs.client_in);
        if (r == HD_RECV_BAD) {
            count_rejected(&l->obs, err.pb.code);
            log_rejected(NULL, &err);
            reply_error(l, &peer, peer.request_id, &err);
            continue;
        }
        if (intake_accept(req, l->set.max_problems, hd_now_ms(), &err) != 0) {
            count_rejected(&l->obs, err.pb.code);
            log_rejected(req, &err);
            reply_error(l, &peer, req->id, &err);
        } else {
            forward(l, &peer, req);
        }
        hd_request_free(req);
    }
}

static void log_contact(const intake_call *call, const HdReply *rep)
{
    char src[96], ext[256];
    intake_log_quote(src, sizeof src, call->source);
    intake_log_quote(ext, sizeof ext, call->external_id);
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_RECEIPT) {
        const HdError *e = rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR ? rep->error : NULL;
        hd_warn("event=store_refused source=%s external_id=%s code=%s field=%s", src, ext,
                e ? hd_error_code_name(e->code) : "none", e && e->field ? e->field : "");
        return;
    }
    const HdContactReceipt *rc = rep->receipt;
    char ids[512] = "";
    size_t n = 0;
    for (size_t i = 0; i < rc->n_ticket_ids && n < sizeof ids - 24; i++)
        n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%" PRId64, i ? "," : "",
                              rc->ticket_ids[i]);
    hd_info("event=contact source=%s external_id=%s contact_id=%" PRId64
            " tickets=%s duplicate=%s",
            src, ext, rc->contact_id, ids, rc->duplicate ? "true" : "false");
}

/* The store's answer to a contact: accepted, or an error of its kind; and its latency. */
static void count_answer(intake_loop *l, const intake_call *call, const HdReply *rep)
{
    int64_t waited_ms = hd_mono_ms() - (call->deadline - l->set.store_timeout_ms);
    hd_metric_observe(l->obs.ack_seconds, (double)waited_ms / 1000.0);
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_RECEIPT)
        hd_metric_inc(l->obs.accepted);
    else if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error != NULL)
        count_error(&l->obs, rep->error->code);
}

/* Reads up to BATCH of the store's replies; returns how many messages it read. */
static int on_store(intake_loop *l)
{
    int i;
    for (i = 0; i < BATCH; i++) {
        HdReply *rep = hd_dealer_recv(l->store, ZMQ_DONTWAIT);
        if (rep == NULL) {
            if (errno == EAGAIN || errno == ETERM || errno == EINTR)
                return i;
            hd_warn("event=store_bad_reply error=\"the store sent a malformed reply\"");
            continue;
        }
        hd_metric_inc(l->obs.store_in);
        l->obs.store_silent = false;
        intake_call call;
        if (intake_pending_take(l->pending, rep->id, &call) != 0) {
            hd_warn("event=store_late_reply store_request=%" PRIu64, rep->id);
            hd_reply_free(rep);
            continue;
        }
        log_contact(&call, rep);
        count_answer(l, &call, rep);
        hd_error_buf err;
        rep->id = call.client_id;
        int rc;
        if (rep->body_case == HELPDESK__V1__REPLY__BODY_RECEIPT ||
            rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR) {
            rc = hd_router_send(l->router, &call.peer, rep);
        } else {
            hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_INTERNAL, "",
                         "the store answered with something other than a receipt");
            rc = hd_router_send_error(l->router, &call.peer, call.client_id, &err);
        }
        if (rc != 0)
            log_reply_failed();
        else
            hd_metric_inc(l->obs.client_out);
        hd_reply_free(rep);
    }
    return i;
}

static void expire_calls(intake_loop *l)
{
    intake_call call;
    while (intake_pending_expire(l->pending, hd_mono_ms(), &call) == 0) {
        char src[96], ext[256];
        intake_log_quote(src, sizeof src, call.source);
        intake_log_quote(ext, sizeof ext, call.external_id);
        hd_warn("event=store_timeout source=%s external_id=%s timeout_ms=%d", src, ext,
                l->set.store_timeout_ms);
        l->obs.store_silent = true;
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                     "the store did not answer; retry with the same source and external_id");
        reply_error(l, &call.peer, call.client_id, &err);
    }
}

/* The connection to the store went away, and with it whatever the store held unanswered: each
 * call still waiting is answered at once (the store may have committed some; the client's retry
 * with the same key gets those tickets) and the store's later answers to them are ignored.
 * Replies that arrived before the connection went are delivered first. */
static void fail_waiting_calls(intake_loop *l)
{
    while (on_store(l) == BATCH)
        ;
    size_t n = 0;
    intake_call call;
    while (intake_pending_expire(l->pending, INT64_MAX, &call) == 0) { /* all, oldest first */
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                     "the store went away before answering; retry with the same source and "
                     "external_id");
        reply_error(l, &call.peer, call.client_id, &err);
        n++;
    }
    hd_warn("event=store_disconnected answered_unavailable=%zu", n);
}

/* Follows the store connection: made (handshake done) or gone. A connection whose handshake
 * failed (a CurveZMQ key refused) is reported gone without having been made: nothing was sent
 * on it, so the calls waiting for the store keep waiting for the next one. */
static void on_monitor(intake_loop *l)
{
    int event;
    while ((event = hd_monitor_recv(l->store_monitor, NULL)) != 0) {
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            l->obs.store_connected = true;
            l->obs.store_silent = false; /* a new connection: give it the benefit of the doubt */
        } else if (event == ZMQ_EVENT_DISCONNECTED && l->obs.store_connected) {
            l->obs.store_connected = false;
            fail_waiting_calls(l);
        }
    }
}

static long poll_timeout(intake_loop *l)
{
    int64_t next = intake_pending_next_deadline(l->pending);
    if (next < 0)
        return 1000;
    int64_t left = next - hd_mono_ms();
    return left < 0 ? 0 : (left > 1000 ? 1000 : (long)left);
}

/* SIGHUP: the CurveZMQ allow list again (keys added or removed). */
static void reload_allowed(hd_zap *zap)
{
    char err[512];
    if (zap == NULL)
        hd_info("event=sighup note=\"curve is off: nothing to reload\"");
    else
        (void)hd_zap_reload(zap, err, sizeof err);
}

static int run(intake_loop *l, int sigfd)
{
    for (;;) {
        obs_update(l);
        zmq_pollitem_t items[] = {{.socket = l->router, .events = ZMQ_POLLIN},
                                  {.socket = l->store, .events = ZMQ_POLLIN},
                                  {.fd = sigfd, .events = ZMQ_POLLIN},
                                  {.socket = l->store_monitor, .events = ZMQ_POLLIN}};
        int rc = zmq_poll(items, 4, poll_timeout(l));
        if (rc < 0 && errno != EINTR) {
            hd_error("event=poll_failed error=\"%s\"", zmq_strerror(errno));
            return 1;
        }
        if (rc > 0 && (items[2].revents & ZMQ_POLLIN)) {
            int sig = hd_signals_take(sigfd);
            if (sig == SIGHUP)
                reload_allowed(l->zap);
            if (sig == SIGTERM || sig == SIGINT) {
                hd_info("event=stopping signal=%d waiting=%zu", sig,
                        intake_pending_count(l->pending));
                return 0;
            }
        }
        if (rc > 0 && (items[3].revents & ZMQ_POLLIN))
            on_monitor(l);
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            on_store(l);
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            on_client(l);
        expire_calls(l);
    }
}

int main(int argc, char **argv)
{
    hd_log_init("intake");
    int exit_code;
    hd_config *cfg = hd_config_from_args(argc, argv, "hd-intake", &exit_code);
    if (cfg == NULL)
        return exit_code;
    char err[512];
    intake_loop l = {0};
    if (intake_settings_load(cfg, &l.set, err, sizeof err) != 0) {
        hd_error("event=config_failed error=\"%s\"", err);
        hd_config_destroy(&cfg);
        return 1;
    }
    int sigfd = hd_signals_open();
    if (sigfd < 0) {
        hd_error("event=signals_failed error=\"%s\"", strerror(errno));
        hd_config_destroy(&cfg);
        return 1;
    }
    hd_metrics *reg = hd_metrics_new("intake");
    obs_init(&l.obs, reg);
    hd_http *http = NULL;
    void *ctx = zmq_ctx_new();
    int status = 1;
    hd_curve_opts serve = {0}, to_store = {0};
    if (hd_http_from_config(cfg, reg, STALE_MS, &http) != 0) {
        /* logged, naming http.listen */
    } else if (hd_curve_server_start(cfg, "intake", ctx, &serve, &l.zap, err, sizeof err) != 0 ||
        hd_curve_client_config(cfg, "store", &to_store, err, sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_failed error=\"%s\"", err);
    } else {
        l.router = hd_curve_bind(ctx, ZMQ_ROUTER, l.set.endpoint, &serve, "intake");
        store_open(&l, ctx, &to_store);
    }
    l.pending = intake_pending_new((uint64_t)hd_now_ms() << 16);
    if (l.router != NULL && l.store != NULL) {
        hd_info("event=ready endpoint=%s store=%s max_problems=%d store_timeout_ms=%d curve=%s",
                l.set.endpoint, l.set.store_api, l.set.max_problems, l.set.store_timeout_ms,
                serve.enabled ? "on" : "off");
        status = run(&l, sigfd);
    }
    hd_http_stop(&http);
    hd_socket_close(&l.router);
    store_close(&l);
    hd_zap_stop(&l.zap);
    intake_pending_destroy(&l.pending);
    zmq_ctx_term(ctx);
    hd_metrics_destroy(&reg);
    hd_config_destroy(&cfg);
    close(sigfd);
    hd_info("event=stopped");
    return status;
}
