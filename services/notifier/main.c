/* hd-notifier: a durable consumer of the store's event log that sends customer communication
 * (acknowledgement, periodic update, technician reply, word of escalation, resolution with a
 * satisfaction request) and internal notices, by email (SMTP), webhook (HTTP POST of JSON) and
 * the log, and records every attempt on the ticket.
 *   hd-notifier [--config FILE]       (or HD_CONFIG=FILE)
 *
 * Catch-up: the cursor "notifier" says where to resume; a SUB on store.events only wakes us,
 * events_since fills every gap. Events are handled a page at a time with two store requests for
 * the whole page: notify_lookup{ticket_ids, contacts_of} for the tickets (and a created event's
 * contact's tickets, for the one ack per contact), then notify_lookup{keys} which tells for each
 * delivery whether an earlier run already sent it (then it is skipped) or how many attempts it
 * made; keys sent in this run are remembered, so the 2nd and 3rd ticket of a contact cost
 * nothing. Outcomes are recorded in batches (record_communications). Transfers run
 * in libcurl's multi interface inside this loop, so a slow or dead mail server delays only its
 * own messages. The cursor is committed only up to the event before the oldest one whose
 * deliveries are unfinished, so a restart re-reads exactly those. SIGHUP reloads the templates
 * (notifier.templates); a set that does not load is refused and the old one kept. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd/client.h"
#include "hd/clock.h"
#include "hd/config.h"
#include "hd/http.h"
#include "hd/log.h"
#include "hd/metrics.h"
#include "hd/signals.h"
#include "hd/transport.h"
#include "keyset.h"
#include "mail.h"
#include "notifier.h"
#include "template.h"

#define CONSUMER "notifier"
#define ACTOR "notifier"
/* Deliveries held at once; past this the loop stops reading new events (back-pressure). */
#define MAX_JOBS 2048
/* Events per events_since page; each page costs two lookups whatever its size. */
#define BATCH 500
/* Outcomes recorded per record_communications request. */
#define RECORD_BATCH 500
/* Keys remembered as sent or given up (a shortcut only: cleared when full). */
#define DONE_KEYS_MAX 100000
#define MAX_POLL_ITEMS 64
/* Catch-up runs at least this often, in case a PUB message was lost. */
#define CATCHUP_MS 1000
/* /healthz fails when the loop has not turned for this long (at least 10 s, else three store
 * timeouts). */
#define STALE_MIN_MS 10000

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
    bool ok, final;  /* JOB_RECORD: the outcome still to record */
    char error[256];
    struct job *next;
} job;

typedef struct {
    hd_config *cfg;
    const char *smtp_url, *from, *webhook, *satisfaction_url, *staff_lang;
    int64_t retry_initial, retry_max, max_attempts, store_timeout, commit_ms, stop_grace;
    notif_templates *tmpl;
    void *zctx, *sub;
    hd_curve_opts curve; /* CurveZMQ client of the store, or off */
    hd_client *store;
    notif_sender *sender;
    int sigfd;
    bool stopping;
    job *jobs;
    size_t n_jobs;
    notif_keyset *busy; /* keys of the jobs */
    notif_keyset *done; /* keys known to be sent or given up */
    uint64_t next_job_id;
    int64_t done_seq;      /* every event up to here has been looked at */
    int64_t committed;     /* the cursor in the store */
    int64_t next_commit, next_catchup;
    bool wake;
    uint64_t sent, failed;
    struct {
        hd_metrics *reg;
        hd_http *http;
        hd_metric *api_out, *api_in, *events_in, *retries, *jobs, *in_flight, *lag;
        hd_metric *sent[NOTIF_LOG + 1], *failed[NOTIF_LOG + 1]; /* by channel */
        bool answering; /* the store answered our last request */
    } obs;
} app;

static void obs_init(app *a)
{
    hd_metrics *r = a->obs.reg = hd_metrics_new("notifier");
    a->obs.api_out = hd_metrics_counter(r, "helpdesk_messages_sent_total",
                                        "Requests sent to the store, by socket.", "socket", "api");
    const char *in = "Messages read, by socket (api: the store's replies; events: its PUB).";
    a->obs.api_in = hd_metrics_counter(r, "helpdesk_messages_received_total", in, "socket", "api");
    a->obs.events_in = hd_metrics_counter(r, "helpdesk_messages_received_total", in, "socket",
                                          "events");
    a->obs.retries = hd_metrics_counter(r, "helpdesk_notifier_retries_total",
                                        "Delivery attempts after a failed one.", NULL, NULL);
    a->obs.jobs = hd_metrics_gauge(r, "helpdesk_notifier_queue_depth",
                                   "Deliveries held: due, in progress or waiting to be recorded.",
                                   NULL, NULL);
    a->obs.in_flight = hd_metrics_gauge(r, "helpdesk_notifier_in_flight",
                                        "Email and webhook transfers in progress.", NULL, NULL);
    a->obs.lag = hd_metrics_gauge(r, "helpdesk_notifier_cursor_lag",
                                  "Events in the store's log not yet handled by the notifier.",
                                  NULL, NULL);
    for (int c = NOTIF_EMAIL; c <= NOTIF_LOG; c++) {
        const char *name = notif_channel_name((enum notif_channel)c);
        a->obs.sent[c] = hd_metrics_counter(r, "helpdesk_notifier_sent_total",
                                            "Communications delivered, by channel.", "channel",
                                            name);
        a->obs.failed[c] = hd_metrics_counter(r, "helpdesk_notifier_failed_total",
                                              "Delivery attempts that failed, by channel.",
                                              "channel", name);
    }
}

static void count_error(app *a, const char *kind)
{
    hd_metric_inc(hd_metrics_counter(a->obs.reg, "helpdesk_errors_total",
                                     "Requests the store refused, by error code; no_answer: it "
                                     "did not answer in time.",
                                     "kind", kind));
}

/* One delivery attempt finished: helpdesk_notifier_{sent,failed}_total{channel}. */
static void count_delivery(app *a, enum notif_channel c, bool ok)
{
    if (c >= NOTIF_EMAIL && c <= NOTIF_LOG)
        hd_metric_inc(ok ? a->obs.sent[c] : a->obs.failed[c]);
}

/* Each loop turn: heartbeat, readiness, gauges. */
static void obs_update(app *a)
{
    hd_metrics_beat(a->obs.reg);
    hd_metric_set(a->obs.jobs, (int64_t)a->n_jobs);
    if (a->sender != NULL)
        hd_metric_set(a->obs.in_flight, (int64_t)notif_sender_active(a->sender));
    hd_metrics_set_ready(a->obs.reg, a->obs.answering,
                         a->obs.answering ? NULL : "the store did not answer in time");
}

/* --- store calls (short, with a timeout; the store is on the same host) --- */

static HdReply *store_call(app *a, HdRequest *req, Helpdesk__V1__Reply__BodyCase want)
{
    hd_metric_inc(a->obs.api_out);
    HdReply *rep = hd_client_call(a->store, req, (int)a->store_timeout);
    if (rep == NULL) {
        hd_warn("event=store_unavailable body=%d error=\"%s\"", (int)req->body_case,
                strerror(errno));
        a->obs.answering = false;
        count_error(a, "no_answer");
        obs_update(a);
        return NULL;
    }
    hd_metric_inc(a->obs.api_in);
    a->obs.answering = true;
    obs_update(a);
    if (rep->body_case == want)
        return rep;
    count_error(a, rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error != NULL
                       ? hd_error_code_name(rep->error->code)
                       : "unexpected_reply");
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error != NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", rep->error->message);
        hd_log_clean(msg);
        hd_warn("event=store_error body=%d code=%s field=%s message=\"%s\"", (int)req->body_case,
                hd_error_code_name(rep->error->code), rep->error->field, msg);
    }
    hd_reply_free(rep);
    return NULL;
}

/* One notify_lookup: tickets (and their contacts' tickets when contacts_of), or the status of
 * keys. NULL when the store did not answer. */
static HdReply *lookup(app *a, int64_t *ids, size_t n_ids, int64_t *contacts_of,
                       size_t n_contacts_of, char **keys, size_t n_keys)
{
    Helpdesk__V1__NotifyLookup l = HELPDESK__V1__NOTIFY_LOOKUP__INIT;
    l.ticket_ids = ids;
    l.n_ticket_ids = n_ids;
    l.contacts_of = contacts_of;
    l.n_contacts_of = n_contacts_of;
    l.keys = keys;
    l.n_keys = n_keys;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_NOTIFY_LOOKUP;
    req.notify_lookup = &l;
    HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_NOTIFY_CONTEXT);
    if (rep != NULL && rep->notify_context->n_communications != n_keys) {
        hd_warn("event=store_error reason=\"notify_lookup answered %zu keys of %zu\"",
                rep->notify_context->n_communications, n_keys);
        hd_reply_free(rep);
        return NULL;
    }
    return rep;
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
            notif_keyset_del(a->busy, j->d.key);
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

/* A key this run already has a job for, or already saw sent or given up. */
static bool key_settled_or_busy(const app *a, const char *key)
{
    return notif_keyset_get(a->busy, key, NULL) || notif_keyset_get(a->done, key, NULL);
}

/* Remembers a key that needs nothing more, so later events naming it (the 2nd and 3rd ticket
 * of a contact) cost nothing. Only a shortcut: the store's status decides after a restart, so
 * the memory is simply dropped when it grows large. */
static void key_done(app *a, const char *key)
{
    if (notif_keyset_size(a->done) >= DONE_KEYS_MAX)
        notif_keyset_clear(a->done);
    notif_keyset_put(a->done, key, 1);
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

/* Notes the outcome of an attempt; flush_records records it, with others, in one request. */
static void job_result(app *a, job *j, bool ok, const char *error)
{
    bool final = !ok && j->attempt >= (uint32_t)a->max_attempts;
    count_delivery(a, j->d.channel, ok);
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
    j->state = JOB_RECORD; /* keep the outcome until the store takes it */
    j->ok = ok;
    j->final = final;
    snprintf(j->error, sizeof j->error, "%s", why);
    j->due = 0;
}

/* The store took the outcome: done, or a retry later. */
static void job_recorded(app *a, job *j)
{
    if (j->ok || j->final) {
        if (j->ok)
            a->sent++;
        else
            a->failed++;
        key_done(a, j->d.key);
        job_unlink(a, j);
        job_free(j);
        return;
    }
    j->state = JOB_DUE;
    j->due = hd_mono_ms() + notif_backoff_ms(a->retry_initial, a->retry_max, j->attempt);
    j->attempt++;
}

static void record_fill(HdRecordCommunication *r, const job *j)
{
    r->ticket_id = j->ticket_id;
    r->key = (char *)j->d.key;
    r->kind = (char *)j->kind;
    r->channel = (char *)notif_channel_name(j->d.channel);
    r->recipient = (char *)j->d.recipient;
    r->subject = j->subject;
    r->sent = j->ok;
    r->error = (char *)(j->ok ? "" : j->error);
    r->attempt = j->attempt;
    r->final = j->final;
    r->actor = (char *)ACTOR;
}

/* Records the outcomes of up to RECORD_BATCH jobs in one request. Returns how many it sent;
 * -1 when the store did not take them (they are tried again after retry_initial). */
static int record_batch(app *a, int64_t now)
{
    HdRecordCommunication *recs = calloc(RECORD_BATCH, sizeof *recs);
    HdRecordCommunication *ptrs[RECORD_BATCH];
    job *js[RECORD_BATCH];
    size_t n = 0;
    if (recs == NULL)
        abort();
    for (job *j = a->jobs; j && n < RECORD_BATCH; j = j->next)
        if (j->state == JOB_RECORD && j->due <= now) {
            helpdesk__v1__record_communication__init(&recs[n]);
            record_fill(&recs[n], j);
            ptrs[n] = &recs[n];
            js[n++] = j;
        }
    if (n == 0) {
        free(recs);
        return 0;
    }
    Helpdesk__V1__RecordCommunications rc = HELPDESK__V1__RECORD_COMMUNICATIONS__INIT;
    rc.records = ptrs;
    rc.n_records = n;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_RECORD_COMMUNICATIONS;
    req.record_communications = &rc;
    HdReply *rep = store_call(a, &req, HELPDESK__V1__REPLY__BODY_COMMUNICATIONS);
    bool ok = rep != NULL && rep->communications->n_communications == n;
    for (size_t i = 0; i < n; i++) {
        if (ok && rep->communications->communications[i]->found) {
            job_recorded(a, js[i]);
        } else {
            if (ok)
                hd_warn("event=record_refused ticket_id=%lld key=%s reason=\"no such ticket\"",
                        (long long)js[i]->ticket_id, js[i]->d.key);
            js[i]->due = now + a->retry_initial;
        }
    }
    hd_reply_free(rep);
    free(recs);
    return ok ? (int)n : -1;
}

/* Records every outcome that is due, a batch at a time. */
static void flush_records(app *a)
{
    int64_t now = hd_mono_ms();
    while (record_batch(a, now) == RECORD_BATCH)
        ;
}

static void on_transfer_done(uint64_t id, bool ok, const char *error, void *ctx)
{
    app *a = ctx;
    job *j = job_find(a, id);
    if (j != NULL)
        job_result(a, j, ok, error);
}

/* Starts due retries, then records the outcomes the store has not taken yet. */
static void service_jobs(app *a)
{
    int64_t now = hd_mono_ms();
    for (job *j = a->jobs; j; j = j->next) {
        if (j->due > now || a->stopping || j->state != JOB_DUE)
            continue;
        hd_metric_inc(a->obs.retries); /* a first attempt starts in deliver(), not here */
        j->id = ++a->next_job_id;
        job_start(a, j);
    }
    flush_records(a);
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

/* Queues one delivery; `attempts`: what earlier runs made of it. */
static void deliver(app *a, const event_ctx *e, const notif_comm *c, const notif_delivery *d,
                    uint32_t attempts)
{
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
        return;
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
    notif_keyset_put(a->busy, j->d.key, 1);
    job_start(a, j);
}

/* --- a page of events --- */

/* One delivery a page's event calls for, and where its key's status is in the lookup. */
typedef struct {
    size_t ev;   /* index in the page */
    notif_comm comm;
    notif_delivery d;
    long status; /* index into the keys asked; -1: not asked (busy or done at planning) */
} planned;

typedef struct {
    HdTicketEvent **evs;
    size_t n;
    HdReply *ctx;   /* tickets and contacts */
    HdReply *stat;  /* statuses of keys */
    planned *p;
    size_t np;
    char **keys;
    size_t nkeys;
    notif_keyset *asked;
} page;

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static size_t unique_ids(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    return k;
}

/* The tickets of the page's wanted events, and of `created` ones their contacts' tickets. */
static int page_fetch_tickets(app *a, page *pg)
{
    int64_t *ids = calloc(pg->n + 1, sizeof *ids), *of = calloc(pg->n + 1, sizeof *of);
    if (ids == NULL || of == NULL)
        abort();
    size_t n = 0, nof = 0;
    for (size_t i = 0; i < pg->n; i++) {
        if (!notif_event_wanted(pg->evs[i]))
            continue;
        ids[n++] = pg->evs[i]->ticket_id;
        if (notif_event_needs_contact(pg->evs[i]))
            of[nof++] = pg->evs[i]->ticket_id;
    }
    n = unique_ids(ids, n);
    nof = unique_ids(of, nof);
    if (n > 0)
        pg->ctx = lookup(a, ids, n, of, nof, NULL, 0);
    free(ids);
    free(of);
    return n == 0 || pg->ctx != NULL ? 0 : -1;
}

static int cmp_ticket(const void *key, const void *elem)
{
    int64_t id = *(const int64_t *)key, t = (*(HdTicket *const *)elem)->id;
    return (id > t) - (id < t);
}

typedef Helpdesk__V1__ContactTickets contact_tickets;

static int cmp_contact(const void *key, const void *elem)
{
    int64_t id = *(const int64_t *)key, c = (*(contact_tickets *const *)elem)->contact_id;
    return (id > c) - (id < c);
}

/* The event's ticket and (created) its contact's ticket ids; false when the ticket is gone. */
static bool page_event_ctx(const page *pg, size_t i, event_ctx *e)
{
    const Helpdesk__V1__NotifyContext *c = pg->ctx->notify_context;
    memset(e, 0, sizeof *e);
    e->ev = pg->evs[i];
    HdTicket **t = bsearch(&e->ev->ticket_id, c->tickets, c->n_tickets, sizeof(HdTicket *),
                           cmp_ticket);
    if (t == NULL)
        return false;
    e->t = *t;
    if (notif_event_needs_contact(e->ev)) {
        contact_tickets **ct = bsearch(&e->t->contact_id, c->contacts, c->n_contacts,
                                       sizeof(contact_tickets *), cmp_contact);
        if (ct != NULL) {
            e->ids = (*ct)->ticket_ids;
            e->n_ids = (*ct)->n_ticket_ids;
        }
    }
    return true;
}

static void page_plan_one(app *a, page *pg, size_t i, const notif_comm *c,
                          const notif_delivery *d)
{
    planned *p = &pg->p[pg->np++];
    p->ev = i;
    p->comm = *c;
    p->d = *d;
    p->status = -1;
    int64_t at = 0;
    if (notif_keyset_get(pg->asked, d->key, &at)) {
        p->status = (long)at;
    } else if (!key_settled_or_busy(a, d->key)) {
        p->status = (long)pg->nkeys;
        notif_keyset_put(pg->asked, d->key, (int64_t)pg->nkeys);
        pg->keys[pg->nkeys++] = p->d.key;
    }
}

/* Every delivery of the page, and the keys whose status the store must tell. */
static void page_plan(app *a, page *pg)
{
    pg->p = calloc(pg->n * NOTIF_MAX_COMMS * 2 + 1, sizeof *pg->p);
    pg->keys = calloc(pg->n * NOTIF_MAX_COMMS * 2 + 1, sizeof *pg->keys);
    if (pg->p == NULL || pg->keys == NULL)
        abort();
    for (size_t i = 0; i < pg->n; i++) {
        event_ctx e;
        if (!notif_event_wanted(pg->evs[i]) || !page_event_ctx(pg, i, &e))
            continue;
        notif_comm comms[NOTIF_MAX_COMMS];
        size_t n = notif_plan(e.ev, e.t, team_address, a, comms);
        for (size_t k = 0; k < n; k++) {
            notif_delivery d[2];
            size_t nd = notif_channels(&comms[k], a->smtp_url[0] != '\0', a->webhook, d);
            for (size_t m = 0; m < nd; m++)
                page_plan_one(a, pg, i, &comms[k], &d[m]);
        }
    }
}

/* Queues the deliveries of event i that earlier runs and this one have not done. -1 when a
 * key's status is unknown (asked nothing about it): the event waits for the next round. */
static int page_deliver(app *a, page *pg, size_t i, size_t *pi)
{
    event_ctx e;
    if (!notif_event_wanted(pg->evs[i]))
        return 0;
    if (!page_event_ctx(pg, i, &e)) { /* planned nothing for it */
        hd_warn("event=skip seq=%lld ticket_id=%lld reason=\"ticket not found\"",
                (long long)pg->evs[i]->seq, (long long)pg->evs[i]->ticket_id);
        return 0;
    }
    size_t first = *pi;
    for (; *pi < pg->np && pg->p[*pi].ev == i; (*pi)++) {
        const planned *p = &pg->p[*pi];
        if (key_settled_or_busy(a, p->d.key))
            continue;
        if (p->status < 0)
            return (*pi = first), -1;
        const HdCommunicationStatus *s =
            pg->stat->notify_context->communications[p->status];
        uint32_t attempts = s->found ? s->attempts : 0;
        if (s->found && (s->sent || s->final || s->attempts >= (uint32_t)a->max_attempts)) {
            hd_debug("event=skip key=%s reason=\"already sent or given up\"", p->d.key);
            key_done(a, p->d.key);
            continue;
        }
        deliver(a, &e, &p->comm, &p->d, attempts);
    }
    return 0;
}

static void page_free(page *pg)
{
    hd_reply_free(pg->ctx);
    hd_reply_free(pg->stat);
    free(pg->p);
    free(pg->keys);
    notif_keyset_destroy(&pg->asked);
}

/* Handles the events of one page in order, with two lookups for all of them; done_seq moves
 * past each event whose deliveries are all queued. Stops early when the jobs are full or the
 * store does not answer. Returns how many events were handled. */
static size_t handle_page(app *a, HdTicketEvent **evs, size_t n)
{
    page pg = {.evs = evs, .n = n, .asked = notif_keyset_new()};
    size_t i = 0;
    if (page_fetch_tickets(a, &pg) != 0)
        goto out;
    if (pg.ctx != NULL)
        page_plan(a, &pg);
    if (pg.nkeys > 0 && (pg.stat = lookup(a, NULL, 0, NULL, 0, pg.keys, pg.nkeys)) == NULL)
        goto out;
    for (size_t pi = 0; i < n; i++) {
        if (a->n_jobs >= MAX_JOBS)
            flush_records(a);
        if (a->n_jobs >= MAX_JOBS || page_deliver(a, &pg, i, &pi) != 0)
            break;
        a->done_seq = evs[i]->seq;
    }
out:
    page_free(&pg);
    return i;
}

static void handle_signals(app *a);
static void commit(app *a);

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
        if (rep == NULL)
            return;
        size_t n = rep->events->n_events;
        size_t done = handle_page(a, rep->events->events, n);
        int64_t lag = rep->events->last_seq - a->done_seq;
        hd_metric_set(a->obs.lag, lag > 0 ? lag : 0);
        bool more = done == n && n == BATCH;
        hd_reply_free(rep);
        flush_records(a);
        /* Log deliveries finish at once, so a long backlog never fills the jobs: without this
         * a stop signal waited for the whole backlog, and the cursor stayed where it was. */
        handle_signals(a);
        if (hd_mono_ms() >= a->next_commit) {
            commit(a);
            a->next_commit = hd_mono_ms() + a->commit_ms;
        }
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

static const char *templates_dir(const app *a)
{
    return hd_config_str(a->cfg, "notifier.templates", "deploy/local/templates");
}

/* SIGHUP: reads the templates again. A set that does not load is refused and the old one
 * kept. Nothing queued is lost: a delivery holds the text it was rendered with, and only
 * events handled after the swap use the new templates. */
static void reload_templates(app *a)
{
    const char *dir = templates_dir(a);
    char err[512];
    notif_templates *t = notif_templates_load(dir, err, sizeof err);
    if (t == NULL) {
        hd_log_clean(err);
        hd_error("event=templates_invalid path=%s kept=previous error=\"%s\"", dir, err);
        return;
    }
    notif_templates_destroy(&a->tmpl);
    a->tmpl = t;
    hd_info("event=templates_loaded path=%s pending=%zu", dir, a->n_jobs);
}

static void handle_signals(app *a)
{
    int sig;
    while ((sig = hd_signals_take(a->sigfd)) != 0) {
        if (sig == SIGHUP) {
            reload_templates(a);
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
        hd_metric_inc(a->obs.events_in);
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
    obs_update(a);
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
    flush_records(a);
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
    const char *dir = templates_dir(a);
    char err[512];
    a->tmpl = notif_templates_load(dir, err, sizeof err);
    if (a->tmpl == NULL) {
        hd_log_clean(err);
        hd_error("event=config_invalid key=notifier.templates error=\"%s\"", err);
        return -1;
    }
    if (hd_curve_client_config(a->cfg, "store", &a->curve, err, sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_invalid error=\"%s\"", err);
        return -1;
    }
    return config_ints(a);
}

static int open_sockets(app *a)
{
    obs_init(a);
    int64_t stale_ms = 3 * a->store_timeout > STALE_MIN_MS ? 3 * a->store_timeout : STALE_MIN_MS;
    if (hd_http_from_config(a->cfg, a->obs.reg, stale_ms, &a->obs.http) != 0)
        return -1;
    a->zctx = zmq_ctx_new();
    if (a->zctx == NULL)
        return -1;
    const char *events = hd_config_str(a->cfg, "store.events", HD_DEFAULT_STORE_EVENTS);
    const char *api = hd_config_str(a->cfg, "store.api", HD_DEFAULT_STORE_API);
    a->sub = hd_socket_open(a->zctx, ZMQ_SUB, events, false, &a->curve);
    if (a->sub == NULL || zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, "", 0) != 0)
        return -1;
    a->store = hd_client_open(a->zctx, api, &a->curve);
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
    notif_keyset_destroy(&a->busy);
    notif_keyset_destroy(&a->done);
    hd_http_stop(&a->obs.http);
    notif_sender_destroy(&a->sender);
    hd_client_destroy(&a->store);
    hd_socket_close(&a->sub);
    if (a->zctx != NULL)
        zmq_ctx_term(a->zctx);
    hd_metrics_destroy(&a->obs.reg);
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
    a.busy = notif_keyset_new();
    a.done = notif_keyset_new();
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
