/* hd-escalation-timer: keeps every open ticket's SLA deadlines in memory and tells the store
 * (sla_signal) when one passes: warnings, breaches, periodic updates owed, tier escalations.
 *   hd-escalation-timer [--config FILE]       (or HD_CONFIG=FILE)
 *
 * A durable consumer of the event log ("escalation-timer"): at start it reads the log's last
 * seq, rebuilds its deadlines from list_clocks (only the clock fields, in pages of 10,000: a
 * million tickets in seconds), then follows the events after that seq (events_since; the PUB
 * socket only wakes it up, since PUB may drop), re-reading the clocks and recorded signals of
 * the tickets a batch touched in one list_clocks{ticket_ids}. It needs no memory of its own:
 * the store drops a repeated signal (unique by ticket, deadline, deadline_at, breach), so a
 * restart that re-sends is harmless. Signals go out on a second DEALER with up to
 * SIGNAL_WINDOW in flight, so a burst of deadlines costs one group commit in the store, not one
 * round trip each.
 * Config: store.api, store.events, timer.warning_percent (80; 0 = no warnings),
 * timer.commit_ms (1000), timer.tick_ms (1000: longest sleep, and the events_since poll when
 * the PUB is silent), timer.store_timeout_ms (3000). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hd/client.h"
#include "hd/clock.h"
#include "hd/config.h"
#include "hd/http.h"
#include "hd/log.h"
#include "hd/metrics.h"
#include "hd/signals.h"
#include "hd/transport.h"
#include "hd/worker.h"
#include "timer.h"

#define CONSUMER "escalation-timer"
/* Events read per events_since (its tickets are re-read in one list_clocks, at most 1000 ids),
 * tickets listed per page at start. */
#define EVENT_BATCH 500
#define CLOCK_PAGE 10000
/* Signals in flight to the store at once. */
#define SIGNAL_WINDOW 128
/* After the store failed to answer, wait this long before firing again. */
#define STORE_BACKOFF_MS 1000
/* /healthz fails when the loop has not turned for this long (at least 10 s, else three of its
 * longest sleeps). */
#define STALE_MIN_MS 10000

/* What /metrics and /readyz show (hd/metrics.h). */
typedef struct {
    hd_metrics *reg;
    hd_http *http;
    hd_metric *api_out, *api_in, *signals_out, *signals_in, *events_in;
    hd_metric *entries, *tickets, *applied, *repeated, *late, *lag;
    bool answering; /* the store answered our last request */
} timer_obs;

/* A signal sent and not yet answered. */
typedef struct {
    uint64_t id; /* the request id its reply carries */
    int64_t sent; /* monotonic ms */
    timer_entry e;
} in_flight;

typedef struct {
    const char *api_ep, *events;
    hd_curve_opts curve; /* CurveZMQ client of the store, or off */
    int64_t warning_percent, commit_ms, tick_ms, timeout_ms;
    const hd_config *cfg;
    char actor[320];
    void *zctx;
    void *api; /* DEALER to the store's api: one request at a time (list_clocks, events...) */
    void *sub;
    void *signals; /* DEALER to the store's api: sla_signal requests, many in flight */
    in_flight flight[SIGNAL_WINDOW];
    size_t nflight;
    uint64_t next_id;
    int sigfd;
    timer_queue *q;
    int64_t seq;           /* events up to here are reflected in q */
    int64_t committed;     /* last seq committed */
    int64_t next_commit;   /* monotonic ms */
    int64_t next_poll;     /* monotonic ms: events_since even without a PUB wake-up */
    int64_t backoff_until; /* monotonic ms: no firing before (store silent) */
    bool wake, stopping, started;
    uint64_t fired, applied;
    timer_obs obs;
} app;

static void obs_init(timer_obs *o)
{
    const char *in = "Messages read, by socket (api and signals: the store's replies; events: "
                     "the store's PUB).";
    const char *out = "Requests sent to the store, by socket.";
    o->reg = hd_metrics_new("escalation-timer");
    o->api_out = hd_metrics_counter(o->reg, "helpdesk_messages_sent_total", out, "socket", "api");
    o->signals_out = hd_metrics_counter(o->reg, "helpdesk_messages_sent_total", out, "socket",
                                        "signals");
    o->api_in = hd_metrics_counter(o->reg, "helpdesk_messages_received_total", in, "socket",
                                   "api");
    o->signals_in = hd_metrics_counter(o->reg, "helpdesk_messages_received_total", in, "socket",
                                       "signals");
    o->events_in = hd_metrics_counter(o->reg, "helpdesk_messages_received_total", in, "socket",
                                      "events");
    o->entries = hd_metrics_gauge(o->reg, "helpdesk_timer_deadlines_held",
                                  "Deadlines waiting to fire (warnings, breaches, updates, "
                                  "escalations).",
                                  NULL, NULL);
    o->tickets = hd_metrics_gauge(o->reg, "helpdesk_timer_tickets",
                                  "Tickets with at least one deadline held.", NULL, NULL);
    const char *sig = "SLA signals the store answered: applied, or a repeat it already had.";
    o->applied = hd_metrics_counter(o->reg, "helpdesk_timer_signals_total", sig, "result",
                                    "applied");
    o->repeated = hd_metrics_counter(o->reg, "helpdesk_timer_signals_total", sig, "result",
                                     "repeat");
    o->late = hd_metrics_histogram(o->reg, "helpdesk_timer_fire_lateness_seconds",
                                   "From a deadline to the store's answer to its signal.",
                                   hd_metrics_latency_buckets, 12, NULL, NULL);
    o->lag = hd_metrics_gauge(o->reg, "helpdesk_timer_cursor_lag",
                              "Events in the store's log not yet read by the timer.", NULL, NULL);
}

static void count_store_error(timer_obs *o, const HdReply *rep)
{
    const char *kind = rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error
                           ? hd_error_code_name(rep->error->code)
                           : "unexpected_reply";
    hd_metric_inc(hd_metrics_counter(o->reg, "helpdesk_errors_total",
                                     "Requests the store refused, by error code; no_answer: it "
                                     "did not answer in time.",
                                     "kind", kind));
}

static void count_no_answer(timer_obs *o)
{
    o->answering = false;
    hd_metric_inc(hd_metrics_counter(o->reg, "helpdesk_errors_total",
                                     "Requests the store refused, by error code; no_answer: it "
                                     "did not answer in time.",
                                     "kind", "no_answer"));
}

/* Each turn of a loop: heartbeat, readiness, gauges. */
static void obs_update(app *a)
{
    timer_obs *o = &a->obs;
    hd_metrics_beat(o->reg);
    if (a->q != NULL) {
        hd_metric_set(o->entries, (int64_t)timer_queue_live(a->q));
        hd_metric_set(o->tickets, (int64_t)timer_queue_tickets(a->q));
    }
    if (!a->started)
        hd_metrics_set_ready(o->reg, false, "loading the deadlines from the store");
    else if (!o->answering)
        hd_metrics_set_ready(o->reg, false, "the store did not answer in time");
    else
        hd_metrics_set_ready(o->reg, true, NULL);
}

static void handle_signals(app *a);
static void fire_due(app *a);
static void take_replies(app *a);
static long fire_wait(app *a, long limit);

/* ---- store calls ---------------------------------------------------------------------------- */

/* A fresh api socket: after a timeout, so a late reply can never be taken for the next
 * request's. */
static void reopen_api(app *a)
{
    hd_socket_close(&a->api);
    a->api = hd_socket_open(a->zctx, ZMQ_DEALER, a->api_ep, false, &a->curve);
}

/* Sends req and waits up to timeout_ms for its reply, firing the deadlines that come due and
 * settling the signal replies meanwhile: a slow answer must not hold back a deadline. The reply
 * (caller frees), or NULL when the store did not answer (logged). */
static HdReply *request(app *a, HdRequest *req, const char *what)
{
    if (a->api == NULL)
        reopen_api(a);
    req->id = ++a->next_id;
    if (a->api == NULL || hd_dealer_send(a->api, req, 0) != 0) {
        hd_warn("event=send_failed request=%s error=\"%s\"", what, zmq_strerror(errno));
        return NULL;
    }
    hd_metric_inc(a->obs.api_out);
    int64_t deadline = hd_mono_ms() + a->timeout_ms;
    for (int64_t left = a->timeout_ms; left > 0; left = deadline - hd_mono_ms()) {
        zmq_pollitem_t items[2] = {{.socket = a->api, .events = ZMQ_POLLIN},
                                   {.socket = a->signals, .events = ZMQ_POLLIN}};
        int rc = zmq_poll(items, a->signals != NULL ? 2 : 1, fire_wait(a, (long)left));
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            take_replies(a);
        if (a->started && !a->stopping)
            fire_due(a);
        obs_update(a);
        HdReply *rep;
        while (rc > 0 && (rep = hd_dealer_recv(a->api, ZMQ_DONTWAIT)) != NULL) {
            hd_metric_inc(a->obs.api_in);
            a->obs.answering = true;
            if (rep->id == req->id)
                return rep;
            hd_reply_free(rep); /* a stale reply: keep waiting */
        }
    }
    count_no_answer(&a->obs);
    hd_warn("event=store_silent request=%s timeout_ms=%lld", what, (long long)a->timeout_ms);
    reopen_api(a);
    return NULL;
}

/* request(), or NULL at once when a stop was asked for: a long rebuild or catch-up is a run of
 * calls, and SIGTERM must not wait for all of them. */
static HdReply *call(app *a, HdRequest *req, const char *what)
{
    handle_signals(a);
    if (a->stopping)
        return NULL;
    return request(a, req, what);
}

static void log_store_error(app *a, const HdReply *rep, const char *what)
{
    count_store_error(&a->obs, rep);
    const HdError *e = rep->error;
    hd_warn("event=store_error request=%s code=%s field=%s message=\"%s\"", what,
            e ? hd_error_code_name(e->code) : "none", e ? e->field : "", e ? e->message : "");
}

typedef Helpdesk__V1__ListClocks HdListClocks;
typedef Helpdesk__V1__ClockList HdClockList;

/* list_clocks, by page (ids NULL) or for these ids. The clock list (caller frees the reply),
 * or NULL when the store did not answer or refused (logged). */
static HdReply *list_clocks(app *a, int64_t after_id, int64_t *ids, size_t nids)
{
    HdListClocks list = HELPDESK__V1__LIST_CLOCKS__INIT;
    list.after_id = after_id;
    list.limit = CLOCK_PAGE;
    list.ticket_ids = ids;
    list.n_ticket_ids = nids;
    list.with_signals = nids > 0; /* a rebuild goes without: a repeat is refused by the store */
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_LIST_CLOCKS;
    req.list_clocks = &list;
    HdReply *rep = call(a, &req, "list_clocks");
    if (rep != NULL && rep->body_case != HELPDESK__V1__REPLY__BODY_CLOCKS) {
        log_store_error(a, rep, "list_clocks");
        hd_reply_free(rep);
        rep = NULL;
    }
    return rep;
}

/* Plans every ticket of the list with its recorded signals (both by ticket id). */
static void plan_clocks(app *a, const HdClockList *l)
{
    int64_t now = hd_now_ms();
    size_t k = 0;
    for (size_t i = 0; i < l->n_tickets; i++) {
        const HdTicket *t = l->tickets[i];
        while (k < l->n_signals && l->signals[k]->ticket_id < t->id)
            k++;
        size_t first = k;
        while (k < l->n_signals && l->signals[k]->ticket_id == t->id)
            k++;
        timer_entry plan[TIMER_MAX_PLAN];
        size_t n = timer_plan(t, l->signals + first, k - first, (int)a->warning_percent, now,
                              plan);
        timer_queue_set(a->q, t->id, plan, n);
    }
}

/* Recomputes the entries of these tickets (distinct, at most EVENT_BATCH) from their current
 * clocks and recorded signals; a ticket the store no longer has stops. 0, or -1 when the
 * store did not answer. */
static int refresh_tickets(app *a, int64_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    HdReply *rep = list_clocks(a, 0, ids, n);
    if (rep == NULL)
        return -1;
    const HdClockList *l = rep->clocks;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < l->n_tickets && !found; j++)
            found = l->tickets[j]->id == ids[i];
        if (!found)
            timer_queue_set(a->q, ids[i], NULL, 0);
    }
    plan_clocks(a, l);
    hd_reply_free(rep);
    return 0;
}

/* The newest seq in the log: events_since with a seq nothing can follow. 0 or -1. */
static int read_last_seq(app *a, int64_t *last)
{
    HdEventsSince since = HELPDESK__V1__EVENTS_SINCE__INIT;
    since.after_seq = INT64_MAX;
    since.limit = 1;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_EVENTS_SINCE;
    req.events_since = &since;
    HdReply *rep = call(a, &req, "events_since");
    if (rep == NULL)
        return -1;
    int rc = -1;
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_EVENTS) {
        *last = rep->events->last_seq;
        rc = 0;
    } else {
        log_store_error(a, rep, "events_since");
    }
    hd_reply_free(rep);
    return rc;
}

/* One page of tickets whose clocks run, after *after_id, planned without history (a warning
 * already sent is sent again and refused by the store). 1 when more may follow, 0 at the end,
 * -1 on failure. */
static int rebuild_page(app *a, int64_t *after_id, size_t *count)
{
    HdReply *rep = list_clocks(a, *after_id, NULL, 0);
    if (rep == NULL)
        return -1;
    const HdClockList *l = rep->clocks;
    plan_clocks(a, l);
    size_t n = l->n_tickets;
    if (n > 0)
        *after_id = l->tickets[n - 1]->id;
    *count += n;
    hd_reply_free(rep);
    return n == CLOCK_PAGE ? 1 : 0;
}

/* Start: the log's seq first, then the tickets, so no change falls between the two. */
static int rebuild(app *a)
{
    int64_t last = 0, after_id = 0;
    if (read_last_seq(a, &last) != 0)
        return -1;
    size_t count = 0;
    int64_t start = hd_mono_ms();
    int rc;
    while ((rc = rebuild_page(a, &after_id, &count)) == 1)
        ;
    if (rc != 0)
        return -1;
    a->seq = a->committed = last;
    hd_info("event=rebuilt tickets=%zu timed=%zu entries=%zu queue_mb=%.1f last_seq=%lld ms=%lld",
            count, timer_queue_tickets(a->q), timer_queue_live(a->q),
            (double)timer_queue_bytes(a->q) / (1024.0 * 1024.0), (long long)last,
            (long long)(hd_mono_ms() - start));
    return 0;
}

/* ---- following the log ---------------------------------------------------------------------- */

/* Refreshes the tickets of the batch, each once, in one request. 0, or -1 when the store
 * stopped answering. */
static int apply_batch(app *a, const HdEventBatch *b)
{
    int64_t ids[EVENT_BATCH];
    size_t n = 0;
    for (size_t i = 0; i < b->n_events && n < EVENT_BATCH; i++) {
        int64_t id = b->events[i]->ticket_id;
        bool seen = id <= 0;
        for (size_t j = 0; j < n && !seen; j++)
            seen = ids[j] == id;
        if (!seen)
            ids[n++] = id;
    }
    return refresh_tickets(a, ids, n);
}

/* One events_since after a->seq. 1 when more may follow, 0 when caught up, -1 on failure. */
static int catch_up_once(app *a)
{
    HdEventsSince since = HELPDESK__V1__EVENTS_SINCE__INIT;
    since.after_seq = a->seq;
    since.limit = EVENT_BATCH;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_EVENTS_SINCE;
    req.events_since = &since;
    HdReply *rep = call(a, &req, "events_since");
    if (rep == NULL)
        return -1;
    int rc = -1;
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_EVENTS) {
        log_store_error(a, rep, "events_since");
    } else if (apply_batch(a, rep->events) == 0) {
        size_t n = rep->events->n_events;
        if (n > 0)
            a->seq = rep->events->events[n - 1]->seq;
        int64_t lag = rep->events->last_seq - a->seq;
        hd_metric_set(a->obs.lag, lag > 0 ? lag : 0);
        rc = n == EVENT_BATCH ? 1 : 0;
    }
    hd_reply_free(rep);
    return rc;
}

/* Pages through the log; deadlines keep firing between pages of a long backlog. */
static int catch_up(app *a)
{
    int rc;
    while ((rc = catch_up_once(a)) == 1 && !a->stopping) {
        take_replies(a);
        fire_due(a);
    }
    return rc < 0 ? -1 : 0;
}

/* Also called once after a stop was asked for, so it does not go through call(). */
static void commit_cursor(app *a)
{
    if (a->seq <= a->committed)
        return;
    HdCommitCursor commit = HELPDESK__V1__COMMIT_CURSOR__INIT;
    commit.consumer = CONSUMER;
    commit.seq = a->seq;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_COMMIT_CURSOR;
    req.commit_cursor = &commit;
    HdReply *rep = request(a, &req, "commit_cursor");
    if (rep == NULL)
        return;
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_CURSOR)
        a->committed = a->seq;
    else
        log_store_error(a, rep, "commit_cursor");
    hd_reply_free(rep);
}

/* ---- firing --------------------------------------------------------------------------------- */

/* Sends one signal without waiting. 0, or -1 when it could not be queued (errno). */
static int send_signal(app *a, const timer_entry *e)
{
    HdSlaSignal sig = HELPDESK__V1__SLA_SIGNAL__INIT;
    sig.ticket_id = e->ticket_id;
    sig.deadline = (Helpdesk__V1__Deadline)e->deadline;
    sig.deadline_at = e->deadline_at;
    sig.breach = e->breach != 0;
    sig.actor = a->actor;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.id = ++a->next_id;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SLA_SIGNAL;
    req.sla_signal = &sig;
    if (hd_dealer_send(a->signals, &req, ZMQ_DONTWAIT) != 0)
        return -1;
    hd_metric_inc(a->obs.signals_out);
    in_flight *f = &a->flight[a->nflight++];
    f->id = req.id;
    f->sent = hd_mono_ms();
    f->e = *e;
    return 0;
}

/* Sends what is due, as long as the window has room. */
static void fire_due(app *a)
{
    if (hd_mono_ms() < a->backoff_until || a->signals == NULL)
        return;
    timer_entry e;
    while (a->nflight < SIGNAL_WINDOW && timer_queue_pop_due(a->q, hd_now_ms(), &e)) {
        if (send_signal(a, &e) != 0) {
            hd_warn("event=signal_send_failed error=\"%s\"", zmq_strerror(errno));
            timer_queue_add(a->q, &e); /* again after the backoff */
            a->backoff_until = hd_mono_ms() + STORE_BACKOFF_MS;
            return;
        }
    }
}

static void on_ack(app *a, const timer_entry *e, const HdReply *rep)
{
    bool applied = rep->signal_ack->applied;
    a->fired++;
    a->applied += applied;
    hd_metric_inc(applied ? a->obs.applied : a->obs.repeated);
    hd_metric_observe(a->obs.late, (double)(hd_now_ms() - timer_entry_due(e)) / 1000.0);
    hd_info("event=signal ticket_id=%lld deadline=%s deadline_at=%lld breach=%s applied=%s "
            "late_ms=%lld",
            (long long)e->ticket_id, hd_deadline_name((Helpdesk__V1__Deadline)e->deadline),
            (long long)e->deadline_at, e->breach ? "true" : "false", applied ? "true" : "false",
            (long long)(hd_now_ms() - timer_entry_due(e)));
    timer_entry next;
    if (timer_followup(e, &next))
        timer_queue_add(a->q, &next);
}

/* One reply on the signal socket: settles its signal. A reply to nothing in flight (one that
 * came after its timeout) is dropped. */
static void on_signal_reply(app *a, const HdReply *rep)
{
    size_t i = 0;
    while (i < a->nflight && a->flight[i].id != rep->id)
        i++;
    if (i == a->nflight)
        return;
    timer_entry e = a->flight[i].e;
    a->flight[i] = a->flight[--a->nflight];
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_SIGNAL_ACK) {
        on_ack(a, &e, rep);
        return;
    }
    log_store_error(a, rep, "sla_signal");
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error &&
        rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE) {
        timer_queue_add(a->q, &e); /* the database is away: again after the backoff */
        a->backoff_until = hd_mono_ms() + STORE_BACKOFF_MS;
    }
}

/* Signals unanswered for timeout_ms: the store is silent. Every one in flight goes back to the
 * queue and the socket is replaced, so a late reply cannot settle a later request. */
static void expire_signals(app *a)
{
    int64_t now = hd_mono_ms();
    bool late = false;
    for (size_t i = 0; i < a->nflight && !late; i++)
        late = now - a->flight[i].sent >= a->timeout_ms;
    if (!late)
        return;
    hd_warn("event=store_silent request=sla_signal timeout_ms=%lld in_flight=%zu",
            (long long)a->timeout_ms, a->nflight);
    count_no_answer(&a->obs);
    for (size_t i = 0; i < a->nflight; i++)
        timer_queue_add(a->q, &a->flight[i].e);
    a->nflight = 0;
    hd_socket_close(&a->signals);
    a->signals = hd_socket_open(a->zctx, ZMQ_DEALER, a->api_ep, false, &a->curve);
    a->backoff_until = now + STORE_BACKOFF_MS;
}

static void take_replies(app *a)
{
    HdReply *rep;
    while (a->signals != NULL && (rep = hd_dealer_recv(a->signals, ZMQ_DONTWAIT)) != NULL) {
        hd_metric_inc(a->obs.signals_in);
        a->obs.answering = true;
        on_signal_reply(a, rep);
        hd_reply_free(rep);
    }
    if (a->nflight > 0)
        expire_signals(a);
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void drain_sub(app *a)
{
    for (int i = 0; i < 1024; i++) {
        HdTicketEvent *ev = hd_subscriber_recv(a->sub, ZMQ_DONTWAIT);
        if (ev == NULL && errno != EPROTO)
            return;
        hd_metric_inc(a->obs.events_in);
        a->wake = true; /* only a hint: events_since is the truth */
        hd_event_free(ev);
    }
}

static void handle_signals(app *a)
{
    int sig;
    while ((sig = hd_signals_take(a->sigfd)) != 0) {
        if (sig == SIGHUP) {
            hd_info("event=reload action=\"nothing to reload\"");
            continue;
        }
        hd_info("event=stopping signal=%d", sig);
        a->stopping = true;
    }
}

/* How long a wait may last, at most `limit` ms: until the next entry fires (when the window
 * has room), the backoff ends or a signal in flight times out. */
static long fire_wait(app *a, long limit)
{
    if (!a->started)
        return limit;
    int64_t mono = hd_mono_ms(), wait = limit;
    int64_t due = timer_queue_next_due(a->q);
    if (due != INT64_MAX && mono >= a->backoff_until && a->nflight < SIGNAL_WINDOW &&
        due - hd_now_ms() < wait)
        wait = due - hd_now_ms();
    if (mono < a->backoff_until && a->backoff_until - mono < wait)
        wait = a->backoff_until - mono;
    for (size_t i = 0; i < a->nflight; i++)
        if (a->flight[i].sent + a->timeout_ms - mono < wait)
            wait = a->flight[i].sent + a->timeout_ms - mono;
    return wait > 0 ? (long)wait : 0;
}

/* How long the poll may sleep: until the next entry, poll or commit, at most tick_ms. */
static long poll_wait(app *a)
{
    int64_t mono = hd_mono_ms(), wait = fire_wait(a, (long)a->tick_ms);
    if (a->started && a->wake)
        return 0;
    if (a->next_poll - mono < wait)
        wait = a->next_poll - mono;
    if (a->seq > a->committed && a->next_commit - mono < wait)
        wait = a->next_commit - mono;
    return wait > 0 ? (long)wait : 0;
}

static void on_work(app *a)
{
    int64_t mono = hd_mono_ms();
    if (!a->started) {
        if (mono < a->next_poll)
            return;
        a->next_poll = mono + a->tick_ms;
        a->started = rebuild(a) == 0;
        if (!a->started)
            return;
        a->wake = true;
    }
    if (a->wake || mono >= a->next_poll) {
        a->wake = false;
        a->next_poll = mono + a->tick_ms;
        if (catch_up(a) != 0)
            a->backoff_until = hd_mono_ms() + STORE_BACKOFF_MS;
    }
    take_replies(a);
    fire_due(a);
    if (hd_mono_ms() >= a->next_commit) {
        commit_cursor(a);
        a->next_commit = hd_mono_ms() + a->commit_ms;
    }
}

/* At a stop: the answers to the signals in flight, for at most store_timeout_ms. */
static void settle_in_flight(app *a)
{
    int64_t until = hd_mono_ms() + a->timeout_ms;
    while (a->nflight > 0 && a->signals != NULL && hd_mono_ms() < until) {
        zmq_pollitem_t item = {.socket = a->signals, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, (long)(until - hd_mono_ms()));
        if (rc < 0 && errno != EINTR)
            return;
        take_replies(a);
    }
}

static int loop(app *a)
{
    while (!a->stopping) {
        obs_update(a);
        zmq_pollitem_t items[3] = {
            {.socket = a->sub, .events = ZMQ_POLLIN},
            {.fd = a->sigfd, .events = ZMQ_POLLIN},
            {.socket = a->signals, .events = ZMQ_POLLIN},
        };
        int rc = zmq_poll(items, a->signals != NULL ? 3 : 2, poll_wait(a));
        if (rc < 0 && errno != EINTR) {
            hd_error("event=poll_failed error=\"%s\"", zmq_strerror(errno));
            return -1;
        }
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            handle_signals(a);
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            drain_sub(a);
        if (!a->stopping)
            on_work(a);
    }
    settle_in_flight(a);
    if (a->started)
        commit_cursor(a);
    if (a->nflight > 0) /* sent again after a restart; the store drops what it already took */
        hd_info("event=signals_unanswered count=%zu", a->nflight);
    return 0;
}

/* ---- start and stop ------------------------------------------------------------------------- */

static int configure(const hd_config *cfg, app *a)
{
    char err[512];
    a->api_ep = hd_config_str(cfg, "store.api", HD_DEFAULT_STORE_API);
    a->events = hd_config_str(cfg, "store.events", HD_DEFAULT_STORE_EVENTS);
    a->warning_percent = 80;
    a->commit_ms = 1000;
    a->tick_ms = 1000;
    a->timeout_ms = 3000;
    if (hd_config_int(cfg, "timer.warning_percent", 0, 99, &a->warning_percent, err,
                      sizeof err) != 0 ||
        hd_config_int(cfg, "timer.commit_ms", 10, 3600000, &a->commit_ms, err, sizeof err) != 0 ||
        hd_config_int(cfg, "timer.tick_ms", 10, 60000, &a->tick_ms, err, sizeof err) != 0 ||
        hd_config_int(cfg, "timer.store_timeout_ms", 100, 60000, &a->timeout_ms, err,
                      sizeof err) != 0 ||
        hd_curve_client_config(cfg, "store", &a->curve, err, sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_invalid error=\"%s\"", err);
        return -1;
    }
    hd_worker_name("escalation-timer", a->actor, sizeof a->actor);
    return 0;
}

static int open_sockets(app *a)
{
    a->api = hd_socket_open(a->zctx, ZMQ_DEALER, a->api_ep, false, &a->curve);
    a->sub = hd_socket_open(a->zctx, ZMQ_SUB, a->events, false, &a->curve);
    a->signals = hd_socket_open(a->zctx, ZMQ_DEALER, a->api_ep, false, &a->curve);
    a->next_id = (uint64_t)hd_now_ms() << 16; /* distinct from a previous run's ids */
    if (a->api == NULL || a->sub == NULL || a->signals == NULL)
        return -1;
    if (zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, "", 0) != 0) {
        hd_error("event=subscribe_failed error=\"%s\"", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int run(app *a)
{
    a->sigfd = hd_signals_open();
    if (a->sigfd < 0) {
        hd_error("event=start_failed reason=\"signalfd: %s\"", strerror(errno));
        return -1;
    }
    a->zctx = zmq_ctx_new();
    a->q = timer_queue_new();
    int rc = -1;
    int64_t stale_ms = 3 * a->tick_ms > STALE_MIN_MS ? 3 * a->tick_ms : STALE_MIN_MS;
    if (stale_ms < 3 * a->timeout_ms)
        stale_ms = 3 * a->timeout_ms;
    if (a->zctx != NULL && hd_http_from_config(a->cfg, a->obs.reg, stale_ms, &a->obs.http) == 0 &&
        open_sockets(a) == 0) {
        hd_info("event=ready actor=%s api=%s events=%s warning_percent=%lld commit_ms=%lld "
                "tick_ms=%lld",
                a->actor, a->api_ep, a->events, (long long)a->warning_percent,
                (long long)a->commit_ms, (long long)a->tick_ms);
        rc = loop(a);
    }
    hd_http_stop(&a->obs.http);
    hd_socket_close(&a->api);
    hd_socket_close(&a->sub);
    hd_socket_close(&a->signals);
    if (a->zctx != NULL)
        zmq_ctx_term(a->zctx);
    close(a->sigfd);
    hd_info("event=stopped signals=%llu applied=%llu seq=%lld", (unsigned long long)a->fired,
            (unsigned long long)a->applied, (long long)a->seq);
    timer_queue_destroy(&a->q);
    return rc;
}

int main(int argc, char **argv)
{
    hd_log_init("escalation-timer");
    int exit_code;
    hd_config *cfg = hd_config_from_args(argc, argv, "hd-escalation-timer", &exit_code);
    if (cfg == NULL)
        return exit_code;
    app a = {.cfg = cfg};
    obs_init(&a.obs);
    int rc = 1;
    if (configure(cfg, &a) == 0)
        rc = run(&a) == 0 ? 0 : 1;
    hd_metrics_destroy(&a.obs.reg);
    hd_config_destroy(&cfg);
    return rc;
}
