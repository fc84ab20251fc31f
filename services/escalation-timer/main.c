/* hd-escalation-timer: keeps every open ticket's SLA deadlines in memory and tells the store
 * (sla_signal) when one passes: warnings, breaches, periodic updates owed, tier escalations.
 *   hd-escalation-timer [--config FILE]       (or HD_CONFIG=FILE)
 *
 * A durable consumer of the event log ("escalation-timer"): at start it reads the log's last
 * seq, rebuilds its deadlines from list_tickets{open_only}, then follows the events after that
 * seq (events_since; the PUB socket only wakes it up, since PUB may drop), re-reading each
 * ticket an event touched. It needs no memory of its own: the store drops a repeated signal
 * (unique by ticket, deadline, deadline_at, breach), so a restart that re-sends is harmless.
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
#include "hd/log.h"
#include "hd/signals.h"
#include "hd/transport.h"
#include "hd/worker.h"
#include "timer.h"

#define CONSUMER "escalation-timer"
/* Events read per events_since, tickets listed per page at start. */
#define EVENT_BATCH 500
#define LIST_PAGE 1000
/* Signals sent per loop turn, so the log and signals are not starved by a backlog. */
#define FIRE_BATCH 256
/* After the store failed to answer, wait this long before firing again. */
#define STORE_BACKOFF_MS 1000

typedef struct {
    const char *api, *events;
    int64_t warning_percent, commit_ms, tick_ms, timeout_ms;
    char actor[320];
    void *zctx;
    hd_client *store;
    void *sub;
    int sigfd;
    timer_queue *q;
    int64_t seq;           /* events up to here are reflected in q */
    int64_t committed;     /* last seq committed */
    int64_t next_commit;   /* monotonic ms */
    int64_t next_poll;     /* monotonic ms: events_since even without a PUB wake-up */
    int64_t backoff_until; /* monotonic ms: no firing before (store silent) */
    bool wake, stopping, started;
    uint64_t fired, applied;
} app;

static void handle_signals(app *a);

/* ---- store calls ---------------------------------------------------------------------------- */

/* One request; the reply (caller frees), or NULL when the store did not answer (logged) or a
 * stop was asked for: a long rebuild or catch-up is a run of calls, and SIGTERM must not wait
 * for all of them. */
static HdReply *call(app *a, HdRequest *req, const char *what)
{
    handle_signals(a);
    if (a->stopping)
        return NULL;
    HdReply *rep = hd_client_call(a->store, req, (int)a->timeout_ms);
    if (rep == NULL)
        hd_warn("event=store_silent request=%s timeout_ms=%lld", what, (long long)a->timeout_ms);
    return rep;
}

static void log_store_error(const HdReply *rep, const char *what)
{
    const HdError *e = rep->error;
    hd_warn("event=store_error request=%s code=%s field=%s message=\"%s\"", what,
            e ? hd_error_code_name(e->code) : "none", e ? e->field : "", e ? e->message : "");
}

/* Recomputes one ticket's entries from its current state and history. 0, or -1 when the store
 * did not answer. */
static int refresh_ticket(app *a, int64_t ticket_id)
{
    HdGetTicket get = HELPDESK__V1__GET_TICKET__INIT;
    get.ticket_id = ticket_id;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_TICKET;
    req.get_ticket = &get;
    HdReply *rep = call(a, &req, "get_ticket");
    if (rep == NULL)
        return -1;
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_TICKET && rep->ticket->ticket != NULL) {
        timer_entry plan[TIMER_MAX_PLAN];
        size_t n = timer_plan(rep->ticket->ticket, rep->ticket->history, rep->ticket->n_history,
                              (int)a->warning_percent, hd_now_ms(), plan);
        timer_queue_set(a->q, ticket_id, plan, n);
    } else {
        if (!(rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error &&
              rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND))
            log_store_error(rep, "get_ticket");
        timer_queue_set(a->q, ticket_id, NULL, 0);
    }
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
        log_store_error(rep, "events_since");
    }
    hd_reply_free(rep);
    return rc;
}

/* One page of open tickets after *after_id, planned without history (a warning already sent
 * is sent again and refused by the store). 1 when more may follow, 0 at the end, -1 on failure. */
static int rebuild_page(app *a, int64_t *after_id, size_t *count)
{
    HdListTickets list = HELPDESK__V1__LIST_TICKETS__INIT;
    list.open_only = true;
    list.limit = LIST_PAGE;
    list.after_id = *after_id;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_LIST_TICKETS;
    req.list_tickets = &list;
    HdReply *rep = call(a, &req, "list_tickets");
    if (rep == NULL)
        return -1;
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_TICKETS) {
        log_store_error(rep, "list_tickets");
        hd_reply_free(rep);
        return -1;
    }
    int64_t now = hd_now_ms();
    size_t n = rep->tickets->n_tickets;
    for (size_t i = 0; i < n; i++) {
        const HdTicket *t = rep->tickets->tickets[i];
        timer_entry plan[TIMER_MAX_PLAN];
        size_t k = timer_plan(t, NULL, 0, (int)a->warning_percent, now, plan);
        timer_queue_set(a->q, t->id, plan, k);
        *after_id = t->id;
    }
    *count += n;
    hd_reply_free(rep);
    return n == LIST_PAGE ? 1 : 0;
}

/* Start: the log's seq first, then the tickets, so no change falls between the two. */
static int rebuild(app *a)
{
    int64_t last = 0, after_id = 0;
    if (read_last_seq(a, &last) != 0)
        return -1;
    size_t count = 0;
    int rc;
    while ((rc = rebuild_page(a, &after_id, &count)) == 1)
        ;
    if (rc != 0)
        return -1;
    a->seq = a->committed = last;
    hd_info("event=rebuilt tickets=%zu timed=%zu entries=%zu last_seq=%lld", count,
            timer_queue_tickets(a->q), timer_queue_live(a->q), (long long)last);
    return 0;
}

/* ---- following the log ---------------------------------------------------------------------- */

/* Refreshes each ticket of the batch once. 0, or -1 when the store stopped answering. */
static int apply_batch(app *a, const HdEventBatch *b)
{
    for (size_t i = 0; i < b->n_events; i++) {
        int64_t id = b->events[i]->ticket_id;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = b->events[j]->ticket_id == id;
        if (!seen && refresh_ticket(a, id) != 0)
            return -1;
    }
    return 0;
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
        log_store_error(rep, "events_since");
    } else if (apply_batch(a, rep->events) == 0) {
        size_t n = rep->events->n_events;
        if (n > 0)
            a->seq = rep->events->events[n - 1]->seq;
        rc = n == EVENT_BATCH ? 1 : 0;
    }
    hd_reply_free(rep);
    return rc;
}

static int catch_up(app *a)
{
    int rc;
    while ((rc = catch_up_once(a)) == 1 && !a->stopping)
        ;
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
    HdReply *rep = hd_client_call(a->store, &req, (int)a->timeout_ms);
    if (rep == NULL) {
        hd_warn("event=store_silent request=commit_cursor timeout_ms=%lld",
                (long long)a->timeout_ms);
        return;
    }
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_CURSOR)
        a->committed = a->seq;
    else
        log_store_error(rep, "commit_cursor");
    hd_reply_free(rep);
}

/* ---- firing --------------------------------------------------------------------------------- */

/* Sends one signal. 0 (answered, applied or not, or refused), -1 when the store is silent. */
static int fire(app *a, const timer_entry *e)
{
    HdSlaSignal sig = HELPDESK__V1__SLA_SIGNAL__INIT;
    sig.ticket_id = e->ticket_id;
    sig.deadline = (Helpdesk__V1__Deadline)e->deadline;
    sig.deadline_at = e->deadline_at;
    sig.breach = e->breach != 0;
    sig.actor = a->actor;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SLA_SIGNAL;
    req.sla_signal = &sig;
    HdReply *rep = call(a, &req, "sla_signal");
    if (rep == NULL)
        return -1;
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_SIGNAL_ACK) {
        bool applied = rep->signal_ack->applied;
        a->fired++;
        a->applied += applied;
        hd_info("event=signal ticket_id=%lld deadline=%s deadline_at=%lld breach=%s applied=%s "
                "late_ms=%lld",
                (long long)e->ticket_id, hd_deadline_name(sig.deadline), (long long)e->deadline_at,
                sig.breach ? "true" : "false", applied ? "true" : "false",
                (long long)(hd_now_ms() - timer_entry_due(e)));
    } else {
        log_store_error(rep, "sla_signal");
    }
    hd_reply_free(rep);
    return 0;
}

static void fire_due(app *a)
{
    if (hd_mono_ms() < a->backoff_until)
        return;
    timer_entry e;
    for (int i = 0; i < FIRE_BATCH && timer_queue_pop_due(a->q, hd_now_ms(), &e); i++) {
        if (fire(a, &e) != 0) {
            timer_queue_add(a->q, &e); /* again once the store answers */
            a->backoff_until = hd_mono_ms() + STORE_BACKOFF_MS;
            return;
        }
        timer_entry next;
        if (timer_followup(&e, &next))
            timer_queue_add(a->q, &next);
    }
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void drain_sub(app *a)
{
    for (int i = 0; i < 1024; i++) {
        HdTicketEvent *ev = hd_subscriber_recv(a->sub, ZMQ_DONTWAIT);
        if (ev == NULL && errno != EPROTO)
            return;
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

/* How long the poll may sleep: until the next entry, poll or commit, at most tick_ms. */
static long poll_wait(app *a)
{
    int64_t mono = hd_mono_ms(), wait = a->tick_ms;
    if (!a->started || a->wake)
        return 0;
    int64_t due = timer_queue_next_due(a->q);
    if (due != INT64_MAX && hd_mono_ms() >= a->backoff_until && due - hd_now_ms() < wait)
        wait = due - hd_now_ms();
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
    fire_due(a);
    if (hd_mono_ms() >= a->next_commit) {
        commit_cursor(a);
        a->next_commit = hd_mono_ms() + a->commit_ms;
    }
}

static int loop(app *a)
{
    while (!a->stopping) {
        zmq_pollitem_t items[2] = {
            {.socket = a->sub, .events = ZMQ_POLLIN},
            {.fd = a->sigfd, .events = ZMQ_POLLIN},
        };
        int rc = zmq_poll(items, 2, poll_wait(a));
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
    if (a->started)
        commit_cursor(a);
    return 0;
}

/* ---- start and stop ------------------------------------------------------------------------- */

static int configure(const hd_config *cfg, app *a)
{
    char err[512];
    a->api = hd_config_str(cfg, "store.api", HD_DEFAULT_STORE_API);
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
                      sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_invalid error=\"%s\"", err);
        return -1;
    }
    hd_worker_name("escalation-timer", a->actor, sizeof a->actor);
    return 0;
}

static int open_sockets(app *a)
{
    a->store = hd_client_new(a->zctx, a->api);
    a->sub = hd_socket_new(a->zctx, ZMQ_SUB, a->events, false);
    if (a->store == NULL || a->sub == NULL)
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
    if (a->zctx != NULL && open_sockets(a) == 0) {
        hd_info("event=ready actor=%s api=%s events=%s warning_percent=%lld commit_ms=%lld "
                "tick_ms=%lld",
                a->actor, a->api, a->events, (long long)a->warning_percent,
                (long long)a->commit_ms, (long long)a->tick_ms);
        rc = loop(a);
    }
    hd_client_destroy(&a->store);
    hd_socket_close(&a->sub);
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
    app a = {0};
    int rc = 1;
    if (configure(cfg, &a) == 0)
        rc = run(&a) == 0 ? 0 : 1;
    hd_config_destroy(&cfg);
    return rc;
}
