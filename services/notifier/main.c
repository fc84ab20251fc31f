/* hd-notifier: a durable consumer of the store's event log that sends customer communication
 * (acknowledgement, periodic update, technician reply, word of escalation, resolution with a
 * satisfaction request) and internal notices, by email (SMTP), webhook (HTTP POST of JSON) and
 * the log, and records every attempt on the ticket.
 *   hd-notifier [--config FILE]       (or HD_CONFIG=FILE)
 *
 * Catch-up: the cursor "notifier" says where to resume; a SUB on store.events only wakes us,
 * events_since fills every gap. Before a delivery, get_communication{key} tells whether an
 * earlier run already sent it (then it is skipped) or how many attempts it made. Transfers run
 * in libcurl's multi interface inside this loop, so a slow or dead mail server delays only its
 * own messages. The cursor is committed only up to the event before the oldest one whose
 * deliveries are unfinished, so a restart re-reads exactly those. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd/client.h"
#include "hd/clock.h"
#include "hd/config.h"
#include "hd/log.h"
#include "hd/signals.h"
#include "hd/transport.h"
#include "mail.h"
#include "notifier.h"
#include "template.h"

#define CONSUMER "notifier"
#define ACTOR "notifier"
/* Deliveries held at once; past this the loop stops reading new events (back-pressure). */
#define MAX_JOBS 512
#define BATCH 200
#define MAX_POLL_ITEMS 64
/* Catch-up runs at least this often, in case a PUB message was lost. */
#define CATCHUP_MS 1000

enum job_state { JOB_DUE, JOB_IN_FLIGHT, JOB_RECORD };

typedef struct job {
    uint64_t id;
    int64_t seq, ticket_id, at;
    Helpdesk__V1__EventKind ev_kind;
    notif_delivery d;
    char kind[16], lang[8];
    char to[256]; /* who the communication is for: an address, or "customer:Name"... */
    bool internal;
    char *subject, *body;
    int64_t *ids;
    size_t n_ids;
    uint32_t attempt;
    enum job_state state;
    int64_t due;     /* monotonic ms: next attempt (JOB_DUE) or next record try (JOB_RECORD) */
    bool ok;         /* JOB_RECORD: the outcome still to record */
    char error[256];
    struct job *next;
} job;

typedef struct {
    hd_config *cfg;
    const char *smtp_url, *from, *webhook, *satisfaction_url, *staff_lang;
    int64_t retry_initial, retry_max, max_attempts, store_timeout, commit_ms, stop_grace;
    notif_templates *tmpl;
    void *zctx, *sub;
    hd_client *store;
    notif_sender *sender;
    int sigfd;
    bool stopping;
    job *jobs;
    size_t n_jobs;
    uint64_t next_job_id;
    int64_t done_seq;      /* every event up to here has been looked at */
    int64_t committed;     /* the cursor in the store */
    int64_t next_commit, next_catchup;
    bool wake;
    uint64_t sent, failed;
} app;

/* --- store calls (short, with a timeout; the store is on the same host) --- */

static HdReply *store_call(app *a, HdRequest *req, Helpdesk__V1__Reply__BodyCase want)
{
    HdReply *rep = hd_client_call(a->store, req, (int)a->store_timeout);
    if (rep == NULL) {
        hd_warn("event=store_unavailable body=%d error=\"%s\"", (int)req->body_case,
                strerror(errno));
        return NULL;
    }
    if (rep->body_case == want)
        return rep;
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error != NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", rep->error->message);
        hd_log_clean(msg);
        hd_warn("event=store_error body=%d code=%s field=%s message=\"%s\"", (int)req->body_case,
                hd_error_code_name(rep->error->code), rep->error->field, msg);
        if (rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND)
            return rep; /* the caller decides */
    }
    hd_reply_free(rep);
    return NULL;
}

static HdReply *get_ticket(app *a, int64_t id)
{
    HdGetTicket g = HELPDESK__V1__GET_TICKET__INIT;
    g.ticket_id = id;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_TICKET;
    req.get_ticket = &g;
    return store_call(a, &req, HELPDESK__V1__REPLY__BODY_TICKET);
}

/* The ids of the contact's tickets, in order; -1 when the store did not answer. */
static int contact_tickets(app *a, int64_t contact_id, int64_t **ids, size_t *n)
{
    HdListTickets l = HELPDESK__V1__LIST_TICKETS__INIT;
    l.contact_id = contact_id;
    l.limit = 1000;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_LIST_TICKETS;
    req.list_tickets = &l;
    HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_TICKETS);
    if (rep == NULL || rep->body_case != HELPDESK__V1__REPLY__BODY_TICKETS) {
        hd_reply_free(rep);
        return -1;
    }
    *n = rep->tickets->n_tickets;
    *ids = calloc(*n ? *n : 1, sizeof **ids);
    if (*ids == NULL)
        abort();
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = rep->tickets->tickets[i]->id;
    hd_reply_free(rep);
    return 0;
}

/* What earlier runs did for `key`; -1 when the store did not answer. */
static int get_communication(app *a, const char *key, bool *done, uint32_t *attempts)
{
    HdGetCommunication g = HELPDESK__V1__GET_COMMUNICATION__INIT;
    g.key = (char *)key;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_COMMUNICATION;
    req.get_communication = &g;
    HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_COMMUNICATION);
    if (rep == NULL || rep->body_case != HELPDESK__V1__REPLY__BODY_COMMUNICATION) {
        hd_reply_free(rep);
        return -1;
    }
    const HdCommunicationStatus *c = rep->communication;
    *attempts = c->found ? c->attempts : 0;
    *done = c->found && (c->sent || c->final || c->attempts >= (uint32_t)a->max_attempts);
    hd_reply_free(rep);
    return 0;
}

static int record(app *a, const job *j, bool ok, bool final, const char *error)
{
    HdRecordCommunication r = HELPDESK__V1__RECORD_COMMUNICATION__INIT;
    r.ticket_id = j->ticket_id;
    r.key = (char *)j->d.key;
    r.kind = (char *)j->kind;
    r.channel = (char *)notif_channel_name(j->d.channel);
    r.recipient = (char *)j->d.recipient;
    r.subject = j->subject;
    r.sent = ok;
    r.error = (char *)(ok ? "" : error);
    r.attempt = j->attempt;
    r.final = final;
    r.actor = (char *)ACTOR;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_RECORD_COMMUNICATION;
    req.record_communication = &r;
    HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_COMMUNICATION);
    int rc = rep != NULL && rep->body_case == HELPDESK__V1__REPLY__BODY_COMMUNICATION ? 0 : -1;
    hd_reply_free(rep);
    return rc;
}

/* --- jobs --- */

static void job_free(job *j)
{
    free(j->subject);
    free(j->body);
    free(j->ids);
    free(j);
}

static void job_unlink(app *a, job *j)
{
    for (job **pp = &a->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            a->n_jobs--;
            break;
        }
}

static job *job_find(app *a, uint64_t id)
{
    for (job *j = a->jobs; j; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

static bool key_busy(const app *a, const char *key)
{
    for (const job *j = a->jobs; j; j = j->next)
        if (strcmp(j->d.key, key) == 0)
            return true;
    return false;
}

static char *job_payload(const app *a, const job *j)
{
    if (j->d.channel == NOTIF_EMAIL) {
        notif_mail m = {.from = a->from, .to = j->d.recipient, .subject = j->subject,
                        .body = j->body, .key = j->d.key, .language = j->lang,
                        .ticket_id = j->ticket_id, .date_ms = hd_now_ms()};
        return notif_mail_build(&m);
    }
    notif_webhook_doc d = {.key = j->d.key, .kind = j->kind,
                           .event_kind = hd_event_kind_name(j->ev_kind),
                           .audience = j->internal ? "internal" : "customer",
                           .recipient = j->to,
                           .language = j->lang, .subject = j->subject, .body = j->body,
                           .ticket_id = j->ticket_id, .event_seq = j->seq, .at = j->at,
                           .tickets = j->ids, .n_tickets = j->n_ids, .attempt = j->attempt};
    return notif_webhook_json(&d);
}

static void job_result(app *a, job *j, bool ok, const char *error);

/* Starts attempt j->attempt. The log channel completes at once. */
static void job_start(app *a, job *j)
{
    if (j->d.channel == NOTIF_LOG) {
        char subject[512];
        snprintf(subject, sizeof subject, "%s", j->subject);
        hd_log_clean(subject);
        hd_info("event=message channel=log ticket_id=%lld key=%s recipient=\"%s\" lang=%s "
                "subject=\"%s\"",
                (long long)j->ticket_id, j->d.key, j->d.recipient, j->lang, subject);
        job_result(a, j, true, "");
        return;
    }
    char *payload = job_payload(a, j);
    int rc = j->d.channel == NOTIF_EMAIL
                 ? notif_sender_email(a->sender, j->id, a->smtp_url, a->from, j->d.recipient,
                                      payload)
                 : notif_sender_webhook(a->sender, j->id, a->webhook, payload);
    if (rc != 0) {
        job_result(a, j, false, "the transfer could not be started (bad address?)");
        return;
    }
    j->state = JOB_IN_FLIGHT;
}

/* Records the outcome of an attempt; then done, a retry later, or (store down) a record retry. */
static void job_result(app *a, job *j, bool ok, const char *error)
{
    bool final = !ok && j->attempt >= (uint32_t)a->max_attempts;
    char why[256];
    snprintf(why, sizeof why, "%s", error);
    hd_log_clean(why);
    if (ok)
        hd_info("event=sent channel=%s ticket_id=%lld key=%s attempt=%u recipient=\"%s\"",
                notif_channel_name(j->d.channel), (long long)j->ticket_id, j->d.key, j->attempt,
                j->d.recipient);
    else
        hd_warn("event=send_failed channel=%s ticket_id=%lld key=%s attempt=%u final=%s "
                "error=\"%s\"",
                notif_channel_name(j->d.channel), (long long)j->ticket_id, j->d.key, j->attempt,
                final ? "true" : "false", why);
    if (record(a, j, ok, final, why) != 0) {
        j->state = JOB_RECORD; /* keep the outcome until the store takes it */
        j->ok = ok;
        snprintf(j->error, sizeof j->error, "%s", why);
        j->due = hd_mono_ms() + a->retry_initial;
        return;
    }
    if (ok || final) {
        if (ok)
            a->sent++;
        else
            a->failed++;
        job_unlink(a, j);
        job_free(j);
        return;
    }
    j->state = JOB_DUE;
    j->due = hd_mono_ms() + notif_backoff_ms(a->retry_initial, a->retry_max, j->attempt);
    j->attempt++;
}

static void on_transfer_done(uint64_t id, bool ok, const char *error, void *ctx)
{
    app *a = ctx;
    job *j = job_find(a, id);
    if (j != NULL)
        job_result(a, j, ok, error);
}

/* Starts due retries and re-records outcomes the store did not take. */
static void service_jobs(app *a)
{
    int64_t now = hd_mono_ms();
    job *next;
    for (job *j = a->jobs; j; j = next) {
        next = j->next; /* j may be freed below */
        if (j->due > now || a->stopping)
            continue;
        if (j->state == JOB_DUE) {
            j->id = ++a->next_job_id;
            job_start(a, j);
        } else if (j->state == JOB_RECORD) {
            job_result(a, j, j->ok, j->error);
        }
    }
}

/* --- deciding --- */

static const char *team_address(const char *queue, void *ctx)
{
    const app *a = ctx;
    char key[256];
    if (queue == NULL || queue[0] == '\0')
        return NULL;
    snprintf(key, sizeof key, "notifier.teams.%s.email", queue);
    return hd_config_str(a->cfg, key, NULL);
}

typedef struct {
    const HdTicketEvent *ev;
    const HdTicket *t;
    const int64_t *ids;
    size_t n_ids;
} event_ctx;

/* Queues one delivery unless an earlier run or a job in flight already has it. */
static int deliver(app *a, const event_ctx *e, const notif_comm *c, const notif_delivery *d)
{
    if (key_busy(a, d->key))
        return 0;
    bool done = false;
    uint32_t attempts = 0;
    if (get_communication(a, d->key, &done, &attempts) != 0)
        return -1;
    if (done) {
        hd_debug("event=skip key=%s reason=\"already sent or given up\"", d->key);
        return 0;
    }
    const char *tag = c->internal ? a->staff_lang
                                  : (e->t->customer ? e->t->customer->language : "");
    const char *lang = notif_templates_language(a->tmpl, tag);
    notif_vars v = {0};
    notif_vars_fill(&v, lang, e->ev, e->t, e->ids, e->n_ids, a->satisfaction_url);
    job *j = calloc(1, sizeof *j);
    if (j == NULL)
        abort();
    if (notif_render(a->tmpl, lang, c->tmpl, v.v, NOTIF_N_VARS, &j->subject, &j->body) != 0) {
        hd_error("event=template_missing kind=%s", c->tmpl);
        free(j);
        return 0;
    }
    j->id = ++a->next_job_id;
    j->seq = e->ev->seq;
    j->ticket_id = e->t->id;
    j->at = e->ev->at;
    j->ev_kind = e->ev->kind;
    j->d = *d;
    snprintf(j->kind, sizeof j->kind, "%s", c->kind);
    snprintf(j->lang, sizeof j->lang, "%s", lang);
    j->internal = c->internal;
    snprintf(j->to, sizeof j->to, "%s", c->to[0] != '\0' ? c->to : c->who);
    j->n_ids = e->n_ids ? e->n_ids : 1;
    j->ids = calloc(j->n_ids, sizeof *j->ids);
    if (j->ids == NULL)
        abort();
    memcpy(j->ids, e->n_ids ? e->ids : &e->t->id, j->n_ids * sizeof *j->ids);
    j->attempt = attempts + 1;
    j->next = a->jobs;
    a->jobs = j;
    a->n_jobs++;
    job_start(a, j);
    return 0;
}

static int plan_and_deliver(app *a, const event_ctx *e)
{
    notif_comm comms[NOTIF_MAX_COMMS];
    size_t n = notif_plan(e->ev, e->t, team_address, a, comms);
    for (size_t i = 0; i < n; i++) {
        notif_delivery d[2];
        size_t nd = notif_channels(&comms[i], a->smtp_url[0] != '\0', a->webhook, d);
        for (size_t k = 0; k < nd; k++)
            if (deliver(a, e, &comms[i], &d[k]) != 0)
                return -1;
    }
    return 0;
}

/* Handles one event; -1 when the store did not answer (the event is tried again later). */
static int handle_event(app *a, const HdTicketEvent *ev)
{
    if (!notif_event_wanted(ev))
        return 0;
    HdReply *rep = get_ticket(a, ev->ticket_id);
    if (rep == NULL)
        return -1;
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_TICKET || rep->ticket->ticket == NULL) {
        hd_warn("event=skip seq=%lld ticket_id=%lld reason=\"ticket not found\"",
                (long long)ev->seq, (long long)ev->ticket_id);
        hd_reply_free(rep);
        return 0;
    }
    event_ctx e = {.ev = ev, .t = rep->ticket->ticket};
    int64_t *ids = NULL;
    int rc = 0;
    if (notif_event_needs_contact(ev) &&
        contact_tickets(a, e.t->contact_id, &ids, &e.n_ids) != 0)
        rc = -1;
    e.ids = ids;
    if (rc == 0)
        rc = plan_and_deliver(a, &e);
    free(ids);
    hd_reply_free(rep);
    return rc;
}

/* Reads events after done_seq and handles them, while there is room for more jobs. */
static void catch_up(app *a)
{
    while (!a->stopping && a->n_jobs < MAX_JOBS) {
        HdEventsSince es = HELPDESK__V1__EVENTS_SINCE__INIT;
        es.after_seq = a->done_seq;
        es.limit = BATCH;
        HdRequest req = HELPDESK__V1__REQUEST__INIT;
        req.body_case = HELPDESK__V1__REQUEST__BODY_EVENTS_SINCE;
        req.events_since = &es;
        HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_EVENTS);
        if (rep == NULL || rep->body_case != HELPDESK__V1__REPLY__BODY_EVENTS) {
            hd_reply_free(rep);
            return;
        }
        size_t n = rep->events->n_events, i = 0;
        for (; i < n && a->n_jobs < MAX_JOBS; i++) {
            if (handle_event(a, rep->events->events[i]) != 0)
                break;
            a->done_seq = rep->events->events[i]->seq;
        }
        bool more = i == n && n == BATCH;
        hd_reply_free(rep);
        if (!more)
            return;
    }
}

/* The cursor may move up to just before the oldest event with unfinished deliveries. */
static int64_t safe_seq(const app *a)
{
    int64_t s = a->done_seq;
    for (const job *j = a->jobs; j; j = j->next)
        if (j->seq - 1 < s)
            s = j->seq - 1;
    return s;
}

static void commit(app *a)
{
    int64_t s = safe_seq(a);
    if (s <= a->committed)
        return;
    HdCommitCursor c = HELPDESK__V1__COMMIT_CURSOR__INIT;
    c.consumer = (char *)CONSUMER;
    c.seq = s;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_COMMIT_CURSOR;
    req.commit_cursor = &c;
    HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_CURSOR);
    if (rep != NULL && rep->body_case == HELPDESK__V1__REPLY__BODY_CURSOR) {
        a->committed = s;
        hd_debug("event=cursor_committed seq=%lld", (long long)s);
    }
    hd_reply_free(rep);
}

static int load_cursor(app *a)
{
    HdGetCursor g = HELPDESK__V1__GET_CURSOR__INIT;
    g.consumer = (char *)CONSUMER;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_CURSOR;
    req.get_cursor = &g;
    HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_CURSOR);
    if (rep == NULL || rep->body_case != HELPDESK__V1__REPLY__BODY_CURSOR) {
        hd_reply_free(rep);
        return -1;
    }
    a->done_seq = a->committed = rep->cursor->seq;
    hd_reply_free(rep);
    return 0;
}

/* --- the loop --- */

static void handle_signals(app *a)
{
    int sig;
    while ((sig = hd_signals_take(a->sigfd)) != 0) {
        if (sig == SIGHUP) {
            hd_info("event=reload_ignored reason=\"templates are read at start; restart to "
                    "change them\"");
            continue;
        }
        hd_info("event=stopping signal=%d", sig);
        a->stopping = true;
    }
}

static void drain_sub(app *a)
{
    for (int i = 0; i < BATCH; i++) {
        HdTicketEvent *ev = hd_subscriber_recv(a->sub, ZMQ_DONTWAIT);
        if (ev == NULL && errno != EPROTO)
            return;
        hd_event_free(ev);
        a->wake = true; /* the event itself is read through events_since, in order */
    }
}

static long poll_timeout(app *a)
{
    int64_t now = hd_mono_ms();
    int64_t until = a->next_catchup < a->next_commit ? a->next_catchup : a->next_commit;
    for (const job *j = a->jobs; j; j = j->next)
        if (j->state != JOB_IN_FLIGHT && j->due < until)
            until = j->due;
    long t = until > now ? (long)(until - now) : 0;
    long c = notif_sender_timeout(a->sender);
    return c >= 0 && c < t ? c : t;
}

static int poll_once(app *a)
{
    zmq_pollitem_t items[2 + MAX_POLL_ITEMS] = {
        {.socket = a->sub, .events = ZMQ_POLLIN},
        {.fd = a->sigfd, .events = ZMQ_POLLIN},
    };
    size_t n = 2 + notif_sender_pollitems(a->sender, items + 2, MAX_POLL_ITEMS);
    int rc = zmq_poll(items, (int)n, poll_timeout(a));
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    if (items[1].revents & ZMQ_POLLIN)
        handle_signals(a);
    if (items[0].revents & ZMQ_POLLIN)
        drain_sub(a);
    notif_sender_run(a->sender, on_transfer_done, a);
    service_jobs(a);
    int64_t now = hd_mono_ms();
    if (!a->stopping && (a->wake || now >= a->next_catchup)) {
        a->wake = false;
        catch_up(a);
        a->next_catchup = hd_mono_ms() + CATCHUP_MS;
    }
    if (now >= a->next_commit) {
        commit(a);
        a->next_commit = hd_mono_ms() + a->commit_ms;
    }
    return 0;
}

/* After a stop signal, lets transfers in flight finish for a moment so their outcome is
 * recorded; whatever is still running is re-sent by the next run (its cursor is behind it). */
static void finish_in_flight(app *a)
{
    int64_t end = hd_mono_ms() + a->stop_grace;
    while (notif_sender_active(a->sender) > 0 && hd_mono_ms() < end) {
        zmq_pollitem_t items[MAX_POLL_ITEMS];
        size_t n = notif_sender_pollitems(a->sender, items, MAX_POLL_ITEMS);
        long t = notif_sender_timeout(a->sender);
        long left = (long)(end - hd_mono_ms());
        if (t < 0 || t > left)
            t = left > 0 ? left : 0;
        if (zmq_poll(items, (int)n, t) < 0 && errno != EINTR)
            break;
        notif_sender_run(a->sender, on_transfer_done, a);
    }
    commit(a);
}

static int run(app *a)
{
    int rc = 0;
    while (!a->stopping) {
        if (poll_once(a) != 0) {
            hd_error("event=poll_failed error=\"%s\"", zmq_strerror(errno));
            rc = -1;
            break;
        }
    }
    finish_in_flight(a);
    return rc;
}

/* --- configuration and start --- */

static int config_ints(app *a)
{
    char err[512];
    a->retry_initial = 500;
    a->retry_max = 30000;
    a->max_attempts = 6;
    a->store_timeout = 3000;
    a->commit_ms = 1000;
    a->stop_grace = 2000;
    int64_t connect_ms = 5000, total_ms = 20000;
    if (hd_config_int(a->cfg, "notifier.retry.initial_ms", 1, 3600000, &a->retry_initial, err,
                      sizeof err) != 0 ||
        hd_config_int(a->cfg, "notifier.retry.max_ms", 1, 86400000, &a->retry_max, err,
                      sizeof err) != 0 ||
        hd_config_int(a->cfg, "notifier.retry.max_attempts", 1, 100, &a->max_attempts, err,
                      sizeof err) != 0 ||
        hd_config_int(a->cfg, "notifier.store_timeout_ms", 100, 60000, &a->store_timeout, err,
                      sizeof err) != 0 ||
        hd_config_int(a->cfg, "notifier.commit_ms", 10, 600000, &a->commit_ms, err,
                      sizeof err) != 0 ||
        hd_config_int(a->cfg, "notifier.connect_timeout_ms", 100, 600000, &connect_ms, err,
                      sizeof err) != 0 ||
        hd_config_int(a->cfg, "notifier.timeout_ms", 100, 3600000, &total_ms, err,
                      sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_invalid error=\"%s\"", err);
        return -1;
    }
    a->sender = notif_sender_new((long)connect_ms, (long)total_ms);
    if (a->sender == NULL) {
        hd_error("event=start_failed reason=\"libcurl could not be initialised\"");
        return -1;
    }
    return 0;
}

static int configure(app *a)
{
    a->smtp_url = hd_config_str(a->cfg, "notifier.smtp.url", "");
    a->from = hd_config_str(a->cfg, "notifier.smtp.from", "Help Desk <helpdesk@localhost>");
    a->webhook = hd_config_str(a->cfg, "notifier.webhook.url", "");
    a->satisfaction_url = hd_config_str(a->cfg, "notifier.satisfaction_url", "");
    a->staff_lang = hd_config_str(a->cfg, "notifier.staff_language", "en");
    char addr[256];
    if (a->smtp_url[0] != '\0' && notif_mail_address(a->from, addr, sizeof addr) != 0) {
        hd_error("event=config_invalid key=notifier.smtp.from error=\"not an email address: "
                 "write it as name@domain or Name <name@domain>\"");
        return -1;
    }
    const char *dir = hd_config_str(a->cfg, "notifier.templates", "deploy/local/templates");
    char err[512];
    a->tmpl = notif_templates_load(dir, err, sizeof err);
    if (a->tmpl == NULL) {
        hd_log_clean(err);
        hd_error("event=config_invalid key=notifier.templates error=\"%s\"", err);
        return -1;
    }
    return config_ints(a);
}

static int open_sockets(app *a)
{
    a->zctx = zmq_ctx_new();
    if (a->zctx == NULL)
        return -1;
    const char *events = hd_config_str(a->cfg, "store.events", HD_DEFAULT_STORE_EVENTS);
    const char *api = hd_config_str(a->cfg, "store.api", HD_DEFAULT_STORE_API);
    a->sub = hd_socket_new(a->zctx, ZMQ_SUB, events, false);
    if (a->sub == NULL || zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, "", 0) != 0)
        return -1;
    a->store = hd_client_new(a->zctx, api);
    if (a->store == NULL)
        return -1;
    /* The store may start after us: wait for the cursor rather than give up. */
    while (load_cursor(a) != 0) {
        handle_signals(a);
        if (a->stopping)
            return -1;
    }
    hd_info("event=ready consumer=%s cursor=%lld store=%s events=%s email=%s webhook=%s",
            CONSUMER, (long long)a->done_seq, api, events,
            a->smtp_url[0] ? a->smtp_url : "off", a->webhook[0] ? a->webhook : "off");
    return 0;
}

static void shutdown_app(app *a)
{
    hd_info("event=stopped sent=%llu failed=%llu pending=%zu cursor=%lld",
            (unsigned long long)a->sent, (unsigned long long)a->failed, a->n_jobs,
            (long long)a->committed);
    while (a->jobs) {
        job *j = a->jobs;
        a->jobs = j->next;
        job_free(j);
    }
    notif_sender_destroy(&a->sender);
    hd_client_destroy(&a->store);
    hd_socket_close(&a->sub);
    if (a->zctx != NULL)
        zmq_ctx_term(a->zctx);
    notif_templates_destroy(&a->tmpl);
    if (a->sigfd >= 0)
        close(a->sigfd);
}

int main(int argc, char **argv)
{
    hd_log_init("notifier");
    int exit_code;
    app a = {.sigfd = -1};
    a.cfg = hd_config_from_args(argc, argv, "hd-notifier", &exit_code);
    if (a.cfg == NULL)
        return exit_code;
    a.sigfd = hd_signals_open(); /* before the ZeroMQ context: its threads inherit the mask */
    int rc = 1;
    if (a.sigfd >= 0 && configure(&a) == 0) {
        a.next_job_id = (uint64_t)hd_now_ms() << 16;
        if (open_sockets(&a) == 0) {
            a.next_commit = hd_mono_ms() + a.commit_ms;
            rc = run(&a) == 0 ? 0 : 1;
        } else if (a.stopping) {
            rc = 0;
        }
    }
    shutdown_app(&a);
    hd_config_destroy(&a.cfg);
    return rc;
}
