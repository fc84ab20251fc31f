/* hd-store: the sole owner of PostgreSQL. One zmq_poll loop over the api ROUTER, the work
 * ROUTER and the signalfd; events go out on the PUB socket only after their COMMIT.
 *
 *   hd-store [--config FILE]      (database_url or HD_DATABASE_URL is required) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd/clock.h"
#include "hd/config.h"
#include "hd/log.h"
#include "hd/signals.h"
#include "hd/transport.h"
#include "hd/utf8.h"
#include "store.h"
#include "store_api.h"
#include "store_db.h"
#include "store_dispatch.h"

#define GROUP_MAX 256        /* requests drained from each socket into one transaction */
#define DISPATCH_BATCH 256   /* work items sent per loop turn */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000

typedef struct {
    const char *api;
    const char *work;
    const char *events;
    const char *database_url;
    int64_t lease_ms;
    int64_t heartbeat_ms;
    hd_sla sla;
} settings;

typedef struct {
    settings set;
    void *ctx;
    void *api;
    void *work;
    void *pub;
    int sigfd;
    store_db *db;
    store_dispatch *disp;
    bool stop;
    int64_t reconnect_at; /* mono ms; 0 when the database is fine */
    int64_t backoff_ms;
    struct group_item *group; /* GROUP_MAX api + GROUP_MAX work entries */
} app;

/* One request of a group commit: what it needs from the receive until its reply, which goes
 * out only after the group's COMMIT. */
typedef struct group_item {
    hd_peer peer;
    HdRequest *req;
    bool work;               /* a work_result (else an api request) */
    store_reply rep;         /* api */
    store_events evs;
    enum store_db_rc rc;     /* work: the apply's outcome */
    bool applied;            /* work */
    bool live;               /* work: its lease was live */
    Helpdesk__V1__Stage lease_stage;
    int64_t item;
    char actor[128];
} group_item;

static int load_settings(const hd_config *cfg, settings *s, char *err, size_t errlen)
{
    s->api = hd_config_str(cfg, "store.api", HD_DEFAULT_STORE_API);
    s->work = hd_config_str(cfg, "store.work", HD_DEFAULT_STORE_WORK);
    s->events = hd_config_str(cfg, "store.events", HD_DEFAULT_STORE_EVENTS);
    s->database_url = hd_config_str(cfg, "database_url", NULL);
    s->lease_ms = 10000;
    s->heartbeat_ms = 1000;
    if (hd_config_int(cfg, "store.lease_ms", 10, 86400000, &s->lease_ms, err, errlen) != 0 ||
        hd_config_int(cfg, "store.heartbeat_ms", 10, 600000, &s->heartbeat_ms, err, errlen) != 0 ||
        hd_sla_from_config(&s->sla, cfg, err, errlen) != 0)
        return -1;
    if (s->database_url == NULL || s->database_url[0] == '\0') {
        snprintf(err, errlen,
                 "database_url is not set: put it in the config file or set HD_DATABASE_URL, "
                 "e.g. postgresql://postgres@127.0.0.1:5432/postgres");
        return -1;
    }
    return 0;
}

/* A worker-supplied name, made safe for a key="value" log line. */
static void log_name(char *out, size_t len, const char *name)
{
    if (name == NULL || name[0] == '\0' || !hd_utf8_valid(name, strlen(name))) {
        snprintf(out, len, "(unnamed)");
        return;
    }
    snprintf(out, len, "%s", name);
    for (char *c = out; *c; c++)
        if (*c == '"' || *c == '\n' || *c == '\r')
            *c = '_';
}

static const char *worker_name(const app *a, const store_worker_key *k)
{
    const char *n = store_dispatch_worker_name(a->disp, k);
    return n ? n : "(forgotten)";
}

static void note_db(app *a)
{
    if (store_db_broken(a->db) && a->reconnect_at == 0)
        a->reconnect_at = hd_mono_ms() + a->backoff_ms;
}

/* Every escalation request not yet answered waits for STAGE_ESCALATE, oldest first. */
static int load_escalations(app *a)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_db_pending_escalations(a->db, &ids, &n) != STORE_DB_OK)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (!store_dispatch_stage_leased(a->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE, ids[k]))
            store_dispatch_push(a->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE, ids[k]);
    free(ids);
    return 0;
}

/* Every status-new ticket waits for prioritize, every triaged one for route, oldest first,
 * except those out on a lease; and the pending escalations. At start and after a reconnect (a
 * COMMIT whose answer was lost may have made tickets the queues never heard of). */
static int load_queues(app *a)
{
    const Helpdesk__V1__Status from[] = {HELPDESK__V1__STATUS__STATUS_NEW,
                                         HELPDESK__V1__STATUS__STATUS_TRIAGED};
    int64_t *ids[2] = {NULL, NULL};
    size_t n[2] = {0, 0};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        if (store_db_ticket_ids(a->db, from[i], &ids[i], &n[i]) != STORE_DB_OK)
            rc = -1;
    if (rc == 0) {
        store_dispatch_clear_queues(a->disp);
        for (int i = 0; i < 2; i++)
            for (size_t k = 0; k < n[i]; k++)
                if (!store_dispatch_stage_leased(a->disp, store_stage_for(from[i]), ids[i][k]))
                    store_dispatch_push(a->disp, store_stage_for(from[i]), ids[i][k]);
        rc = load_escalations(a);
        hd_info("event=queues_loaded prioritize=%zu route=%zu escalate=%zu",
                store_dispatch_queued(a->disp, HELPDESK__V1__STAGE__STAGE_PRIORITIZE),
                store_dispatch_queued(a->disp, HELPDESK__V1__STAGE__STAGE_ROUTE),
                store_dispatch_queued(a->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE));
    }
    free(ids[0]);
    free(ids[1]);
    return rc;
}

/* After COMMIT: publish, queue each ticket that entered new or triaged for its stage (a note
 * on a new ticket does not queue it twice), and queue the escalation requests. */
static void publish_committed(app *a, store_events *evs)
{
    for (size_t i = 0; i < evs->n; i++) {
        const HdTicketEvent *e = evs->v[i];
        if (hd_publish_event(a->pub, e) != 0)
            hd_warn("event=publish_failed ticket_id=%lld seq=%lld error=\"%s\"",
                    (long long)e->ticket_id, (long long)e->seq, zmq_strerror(errno));
        Helpdesk__V1__Stage next = store_stage_for(e->status);
        bool entered = e->kind == HELPDESK__V1__EVENT_KIND__EVENT_CREATED ||
                       e->kind == HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED;
        if (entered && next != HELPDESK__V1__STAGE__STAGE_UNSPECIFIED)
            store_dispatch_push(a->disp, next, e->ticket_id);
    }
    for (size_t i = 0; i < evs->n_esc; i++)
        store_dispatch_push(a->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE, evs->esc[i]);
    store_events_clear(evs);
}

/* Reads up to GROUP_MAX api requests into g; a malformed one is answered at once. */
static size_t collect_api(app *a, group_item *g)
{
    size_t n = 0;
    for (int i = 0; i < GROUP_MAX; i++) {
        hd_peer peer;
        HdRequest *req = NULL;
        hd_error_buf err;
        enum hd_recv_result r = hd_router_recv(a->api, &peer, &req, &err, ZMQ_DONTWAIT);
        if (r == HD_RECV_NONE)
            break;
        if (r == HD_RECV_BAD) {
            hd_info("event=bad_request socket=api field=%s", err.field);
            if (hd_router_send_error(a->api, &peer, peer.request_id, &err) != 0)
                hd_warn("event=reply_failed socket=api error=\"%s\"", zmq_strerror(errno));
            continue;
        }
        group_item *it = &g[n++];
        memset(it, 0, sizeof *it);
        it->peer = peer;
        it->req = req;
        store_reply_init(&it->rep, req->id);
    }
    return n;
}

static void peer_of(const store_worker_key *k, hd_peer *peer)
{
    memcpy(peer->id, k->id, k->len);
    peer->id_len = k->len;
    peer->delimited = true; /* workers are DEALERs: [""][Reply] */
}

static void key_of(const hd_peer *peer, store_worker_key *k)
{
    memcpy(k->id, peer->id, peer->id_len);
    k->len = peer->id_len;
}

static void reply_work(app *a, const hd_peer *peer, const HdReply *rep)
{
    if (hd_router_send(a->work, peer, rep) != 0)
        hd_warn("event=reply_failed socket=work error=\"%s\"", zmq_strerror(errno));
}

static void reply_work_error(app *a, const hd_peer *peer, uint64_t id, hd_error_buf *err)
{
    if (hd_router_send_error(a->work, peer, id, err) != 0)
        hd_warn("event=reply_failed socket=work error=\"%s\"", zmq_strerror(errno));
}

/* work_ready has no reply unless it is wrong. */
static void on_ready(app *a, const hd_peer *peer, const HdRequest *req)
{
    const HdWorkReady *w = req->work_ready;
    store_worker_key key;
    key_of(peer, &key);
    char name[128];
    log_name(name, sizeof name, w ? w->worker : NULL);
    int rc = w ? store_dispatch_ready(a->disp, &key, w->stage, w->credit, name, hd_mono_ms()) : -1;
    if (rc < 0) {
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "stage",
                     "work_ready needs stage prioritize, route or escalate");
        reply_work_error(a, peer, req->id, &err);
        return;
    }
    if (rc == 1)
        hd_info("event=worker_ready worker=\"%s\" stage=%s credit=%u", name,
                hd_stage_name(w->stage), w->credit);
    else
        hd_debug("event=worker_credit worker=\"%s\" stage=%s credit=+%u", name,
                 hd_stage_name(w->stage), w->credit);
}

static void on_heartbeat(app *a, const hd_peer *peer, const HdRequest *req)
{
    store_worker_key key;
    key_of(peer, &key);
    if (!store_dispatch_seen(a->disp, &key, hd_mono_ms())) {
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNKNOWN_WORKER, "worker",
                     "the store has no record of this worker: send work_ready with your free "
                     "credit");
        reply_work_error(a, peer, req->id, &err);
        return;
    }
    HdHeartbeat hb = HELPDESK__V1__HEARTBEAT__INIT;
    hb.worker = req->heartbeat && req->heartbeat->worker ? req->heartbeat->worker : "";
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.id = req->id;
    rep.body_case = HELPDESK__V1__REPLY__BODY_HEARTBEAT;
    rep.heartbeat = &hb;
    reply_work(a, peer, &rep);
}

static void send_ack(app *a, const hd_peer *peer, uint64_t id, const HdWorkResult *res,
                     bool applied)
{
    HdWorkAck ack = HELPDESK__V1__WORK_ACK__INIT;
    ack.lease_id = res->lease_id;
    ack.ticket_id = res->ticket_id;
    ack.applied = applied;
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.id = id;
    rep.body_case = HELPDESK__V1__REPLY__BODY_WORK_ACK;
    rep.work_ack = &ack;
    reply_work(a, peer, &rep);
}

/* Applies the result once: a stage result if the ticket is still where the stage expects it,
 * an escalation result to its escalation (`item`; the ticket's oldest pending one when the
 * lease is not live), lease or no lease. */
static enum store_db_rc apply_db(app *a, const HdWorkResult *res, int64_t *item, bool live,
                                 const char *actor, bool *applied, store_events *evs)
{
    if (res->result_case != HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED)
        return store_db_apply_result(a->db, res, actor, hd_now_ms(), applied, evs);
    int64_t done = 0;
    enum store_db_rc rc = store_db_apply_escalation(a->db, live ? *item : 0, res, actor,
                                                    hd_now_ms(), applied, &done, evs);
    if (!live && done)
        *item = done;
    return rc;
}

/* What the result's lease carries: the ticket id, or for an escalation the escalation id
 * (when the lease is live and its ticket is this result's, else 0). */
static int64_t result_item(const app *a, const HdWorkResult *res)
{
    if (res->stage != HELPDESK__V1__STAGE__STAGE_ESCALATE)
        return res->ticket_id;
    int64_t item = 0;
    Helpdesk__V1__Stage st = HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    if (!store_dispatch_lease_item(a->disp, res->lease_id, &item, &st) ||
        st != HELPDESK__V1__STAGE__STAGE_ESCALATE)
        return 0;
    return item;
}

/* Checks a work_result and answers the ones that need no database (refused, failed); true
 * when `it` was filled for the group to apply. */
static bool on_result(app *a, const hd_peer *peer, const HdRequest *req, group_item *it)
{
    const HdWorkResult *res = req->work_result;
    store_worker_key key;
    key_of(peer, &key);
    Helpdesk__V1__Stage lease_stage = HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    int64_t item = res ? result_item(a, res) : 0;
    bool live = res && store_dispatch_result_for(a->disp, &key, res->lease_id, item, res->stage,
                                                 hd_mono_ms(), &lease_stage);
    hd_error_buf err;
    if (res == NULL || store_check_result(res, &err) != 0) {
        if (res == NULL)
            hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "work_result",
                         "empty work_result");
        if (live)
            store_dispatch_push_front(a->disp, lease_stage, item);
        hd_warn("event=result_refused ticket_id=%lld field=%s", res ? (long long)res->ticket_id : 0LL,
                err.field);
        reply_work_error(a, peer, req->id, &err);
        return false;
    }
    char actor[128];
    const char *known = store_dispatch_worker_name(a->disp, &key);
    log_name(actor, sizeof actor, res->worker && res->worker[0] ? res->worker : known);
    if (res->result_case == HELPDESK__V1__WORK_RESULT__RESULT_FAILED) {
        char why[256];
        log_name(why, sizeof why, res->failed->message);
        hd_warn("event=work_failed ticket_id=%lld stage=%s worker=\"%s\" error=\"%s\"",
                (long long)res->ticket_id, hd_stage_name(res->stage), actor, why);
        if (live)
            store_dispatch_push(a->disp, lease_stage, item);
        send_ack(a, peer, req->id, res, false);
        return false;
    }
    memset(it, 0, sizeof *it);
    it->peer = *peer;
    it->work = true;
    it->live = live;
    it->lease_stage = lease_stage;
    it->item = item;
    memcpy(it->actor, actor, sizeof actor);
    return true;
}

/* Reads up to GROUP_MAX work messages: work_ready, heartbeats and results that need no
 * database are handled at once, the others go into g. */
static size_t collect_work(app *a, group_item *g)
{
    size_t n = 0;
    for (int i = 0; i < GROUP_MAX; i++) {
        hd_peer peer;
        HdRequest *req = NULL;
        hd_error_buf err;
        enum hd_recv_result r = hd_router_recv(a->work, &peer, &req, &err, ZMQ_DONTWAIT);
        if (r == HD_RECV_NONE)
            break;
        if (r == HD_RECV_BAD) {
            hd_info("event=bad_request socket=work field=%s", err.field);
            reply_work_error(a, &peer, peer.request_id, &err);
            continue;
        }
        switch (req->body_case) {
        case HELPDESK__V1__REQUEST__BODY_WORK_READY: on_ready(a, &peer, req); break;
        case HELPDESK__V1__REQUEST__BODY_HEARTBEAT: on_heartbeat(a, &peer, req); break;
        case HELPDESK__V1__REQUEST__BODY_WORK_RESULT:
            if (on_result(a, &peer, req, &g[n])) {
                g[n++].req = req;
                req = NULL;
            }
            break;
        default:
            hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body",
                         "the store's work socket takes work_ready, work_result or heartbeat");
            reply_work_error(a, &peer, req->id, &err);
            break;
        }
        hd_request_free(req);
    }
    return n;
}

/* One request inside the group's transaction, in its own savepoint. */
static void apply_item(app *a, group_item *it, int64_t now_ms)
{
    if (store_db_request_begin(a->db) != 0) {
        it->rc = STORE_DB_ERROR;
        return;
    }
    if (it->work)
        it->rc = apply_db(a, it->req->work_result, &it->item, it->live, it->actor, &it->applied,
                          &it->evs);
    else
        store_api_handle(a->db, it->req, now_ms, &it->rep, &it->evs);
    store_db_request_end(a->db);
}

static void unavailable(store_reply *rep)
{
    store_reply_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                      "the database did not answer; retry shortly");
}

/* After the group's COMMIT (committed) or its failure: publish, queue, reply. */
static void finish_api(app *a, group_item *it, bool committed)
{
    if (!committed || it->rc == STORE_DB_ERROR) {
        store_events_clear(&it->evs);
        unavailable(&it->rep);
    }
    publish_committed(a, &it->evs);
    if (hd_router_send(a->api, &it->peer, &it->rep.pb) != 0)
        hd_warn("event=reply_failed socket=api error=\"%s\"", zmq_strerror(errno));
    store_reply_clear(&it->rep);
}

static void finish_work(app *a, group_item *it, bool committed)
{
    const HdWorkResult *res = it->req->work_result;
    if (!committed || it->rc != STORE_DB_OK) {
        store_events_clear(&it->evs);
        if (it->live)
            store_dispatch_push_front(a->disp, it->lease_stage, it->item);
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                     "the database did not answer; the ticket will be dispatched again");
        reply_work_error(a, &it->peer, it->req->id, &err);
        return;
    }
    /* Its lease had expired and it waits to be dispatched again: no need any more (an
     * escalation is settled, applied or stale). */
    bool settled = it->applied || res->stage == HELPDESK__V1__STAGE__STAGE_ESCALATE;
    if (settled && !it->live)
        store_dispatch_unqueue(a->disp, res->stage, it->item);
    publish_committed(a, &it->evs);
    hd_info("event=result ticket_id=%lld stage=%s worker=\"%s\" lease=%s applied=%s",
            (long long)res->ticket_id, hd_stage_name(res->stage), it->actor,
            it->live ? "live" : "unknown", it->applied ? "true" : "false");
    send_ack(a, &it->peer, it->req->id, res, it->applied);
}

/* Group commit: everything read from both sockets in this turn runs in ONE transaction (one
 * fsync), a savepoint per request so a failing one undoes only itself. Replies, events and
 * dispatch wait for the COMMIT; when it fails, nothing of the group happened and every
 * request hears ERROR_UNAVAILABLE (clients retry; idempotency keys make that safe). */
static void serve_group(app *a, bool api, bool work)
{
    group_item *g = a->group;
    size_t na = api ? collect_api(a, g) : 0;
    size_t n = na + (work ? collect_work(a, g + na) : 0);
    if (n == 0)
        return;
    hd_debug("event=group requests=%zu api=%zu", n, na);
    bool began = store_db_group_begin(a->db) == 0;
    int64_t now_ms = hd_now_ms();
    for (size_t i = 0; i < n; i++) {
        if (began)
            apply_item(a, &g[i], now_ms);
        else
            g[i].rc = STORE_DB_ERROR;
    }
    bool committed = began && store_db_group_commit(a->db) == 0;
    note_db(a);
    if (began && !committed)
        hd_warn("event=group_commit_failed requests=%zu", n);
    for (size_t i = 0; i < n; i++) {
        if (g[i].work)
            finish_work(a, &g[i], committed);
        else
            finish_api(a, &g[i], committed);
        hd_request_free(g[i].req);
        g[i].req = NULL;
    }
}

static int send_item(app *a, const store_lease *l, HdTicket *t, HdEscalationRequest *esc)
{
    HdWorkItem wi = HELPDESK__V1__WORK_ITEM__INIT;
    wi.lease_id = l->lease_id;
    wi.stage = l->stage;
    wi.ticket = t;
    wi.escalation = esc;
    wi.lease_expires_at = hd_now_ms() + a->set.lease_ms;
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.body_case = HELPDESK__V1__REPLY__BODY_WORK_ITEM;
    rep.work_item = &wi;
    hd_peer peer;
    peer_of(&l->worker, &peer);
    return hd_router_send(a->work, &peer, &rep);
}

/* The lease's ticket if it still waits for the stage (for an escalation: the request is
 * still pending), with the escalation request for STAGE_ESCALATE. */
static enum store_db_rc load_item(app *a, const store_lease *l, HdTicket **t,
                                  HdEscalationRequest **esc)
{
    *esc = NULL;
    if (l->stage == HELPDESK__V1__STAGE__STAGE_ESCALATE)
        return store_db_get_escalation(a->db, l->ticket_id, t, esc);
    HdTicketDetail *d = NULL;
    enum store_db_rc rc = store_db_get_ticket(a->db, l->ticket_id, false, &d);
    *t = NULL;
    if (rc == STORE_DB_OK) {
        if (d->ticket->status == store_stage_from(l->stage)) {
            *t = d->ticket;
            d->ticket = NULL;
        } else {
            rc = STORE_DB_NOT_FOUND;
        }
        protobuf_c_message_free_unpacked(&d->base, NULL);
    }
    return rc;
}

/* One lease: load the ticket, check it still waits for this stage, send it. -1 when the
 * database failed (stop dispatching for now). */
static int dispatch_one(app *a, const store_lease *l)
{
    HdTicket *t = NULL;
    HdEscalationRequest *esc = NULL;
    enum store_db_rc rc = load_item(a, l, &t, &esc);
    if (rc == STORE_DB_ERROR) {
        store_dispatch_cancel(a->disp, l->lease_id, true, true);
        note_db(a);
        return -1;
    }
    if (rc == STORE_DB_NOT_FOUND) {
        hd_debug("event=dispatch_skipped ticket_id=%lld stage=%s", (long long)l->ticket_id,
                 hd_stage_name(l->stage));
        store_dispatch_cancel(a->disp, l->lease_id, false, true);
    } else if (send_item(a, l, t, esc) != 0) {
        hd_warn("event=dispatch_failed ticket_id=%lld worker=\"%s\" error=\"%s\"",
                (long long)l->ticket_id, worker_name(a, &l->worker),
                zmq_strerror(errno));
        /* Unreachable (gone, or its pipe is full): forget it; it announces itself again. */
        store_dispatch_cancel(a->disp, l->lease_id, true, false);
        store_dispatch_forget(a->disp, &l->worker);
    } else {
        hd_debug("event=dispatched ticket_id=%lld stage=%s lease_id=%lld worker=\"%s\"",
                 (long long)l->ticket_id, hd_stage_name(l->stage), (long long)l->lease_id,
                 worker_name(a, &l->worker));
    }
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    if (esc)
        protobuf_c_message_free_unpacked(&esc->base, NULL);
    return 0;
}

static void pump(app *a)
{
    if (store_db_broken(a->db))
        return;
    store_lease l;
    for (int i = 0; i < DISPATCH_BATCH && store_dispatch_next(a->disp, hd_mono_ms(), &l); i++)
        if (dispatch_one(a, &l) != 0)
            return;
}

static void housekeeping(app *a)
{
    int64_t now = hd_mono_ms();
    store_lease gone[32];
    size_t n = store_dispatch_expire(a->disp, now, gone, 32);
    for (size_t i = 0; i < n && i < 32; i++)
        hd_warn("event=lease_expired ticket_id=%lld lease_id=%lld stage=%s worker=\"%s\"",
                (long long)gone[i].ticket_id, (long long)gone[i].lease_id,
                hd_stage_name(gone[i].stage), worker_name(a, &gone[i].worker));
    if (n > 32)
        hd_warn("event=lease_expired count=%zu", n - 32);
    char names[16][128];
    size_t f = store_dispatch_forget_silent(a->disp, now, names, 16);
    for (size_t i = 0; i < f && i < 16; i++)
        hd_info("event=worker_forgotten worker=\"%s\" reason=silent", names[i]);
    if (a->reconnect_at != 0 && now >= a->reconnect_at) {
        if (store_db_reconnect(a->db) == 0 && load_queues(a) == 0) {
            a->reconnect_at = 0;
            a->backoff_ms = RECONNECT_MIN_MS;
        } else {
            a->backoff_ms = a->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS
                                                                 : a->backoff_ms * 2;
            a->reconnect_at = now + a->backoff_ms;
        }
    }
}

static long poll_timeout(const app *a)
{
    if (!store_db_broken(a->db) && store_dispatch_pending(a->disp))
        return 0;
    int64_t now = hd_mono_ms();
    int64_t next = store_dispatch_deadline(a->disp);
    if (a->reconnect_at != 0 && a->reconnect_at < next)
        next = a->reconnect_at;
    int64_t t = next - now;
    if (t > a->set.heartbeat_ms)
        t = a->set.heartbeat_ms;
    return t < 0 ? 0 : (long)t;
}

static void take_signals(app *a)
{
    int sig;
    while ((sig = hd_signals_take(a->sigfd)) != 0) {
        if (sig == SIGHUP) {
            hd_info("event=sighup note=\"the store has no rules to reload\"");
            continue;
        }
        hd_info("event=stopping signal=%d", sig);
        a->stop = true;
    }
}

static int run(app *a)
{
    while (!a->stop) {
        zmq_pollitem_t items[3] = {
            {.socket = a->api, .events = ZMQ_POLLIN},
            {.socket = a->work, .events = ZMQ_POLLIN},
            {.socket = NULL, .fd = a->sigfd, .events = ZMQ_POLLIN},
        };
        if (zmq_poll(items, 3, poll_timeout(a)) < 0) {
            if (errno == EINTR)
                continue;
            hd_error("event=poll_failed error=\"%s\"", zmq_strerror(errno));
            return -1;
        }
        if (items[2].revents & ZMQ_POLLIN)
            take_signals(a);
        if (a->stop)
            break;
        serve_group(a, items[0].revents & ZMQ_POLLIN, items[1].revents & ZMQ_POLLIN);
        housekeeping(a);
        pump(a);
    }
    return 0;
}

static int open_sockets(app *a)
{
    a->ctx = zmq_ctx_new();
    if (a->ctx == NULL)
        return -1;
    a->api = hd_socket_new(a->ctx, ZMQ_ROUTER, a->set.api, true);
    a->work = hd_socket_new(a->ctx, ZMQ_ROUTER, a->set.work, true);
    a->pub = hd_socket_new(a->ctx, ZMQ_PUB, a->set.events, true);
    return a->api && a->work && a->pub ? 0 : -1;
}

static void close_all(app *a)
{
    hd_socket_close(&a->api);
    hd_socket_close(&a->work);
    hd_socket_close(&a->pub);
    if (a->ctx)
        zmq_ctx_term(a->ctx);
    a->ctx = NULL;
    store_dispatch_destroy(&a->disp);
    store_db_destroy(&a->db);
    free(a->group);
    a->group = NULL;
}

int main(int argc, char **argv)
{
    hd_log_init("store");
    int exit_code;
    hd_config *cfg = hd_config_from_args(argc, argv, "hd-store", &exit_code);
    if (cfg == NULL)
        return exit_code;
    app a = {.sigfd = -1, .backoff_ms = RECONNECT_MIN_MS};
    a.sigfd = hd_signals_open(); /* before zmq_ctx_new: its threads inherit the mask */
    char err[512];
    if (a.sigfd < 0 || load_settings(cfg, &a.set, err, sizeof err) != 0) {
        hd_error("event=config_failed error=\"%s\"", a.sigfd < 0 ? "signalfd failed" : err);
        hd_config_destroy(&cfg);
        return 1;
    }
    a.db = store_db_open(a.set.database_url, err, sizeof err);
    if (a.db == NULL) {
        hd_error("event=db_failed error=\"%s\"", err);
        hd_config_destroy(&cfg);
        return 1;
    }
    store_db_set_sla(a.db, &a.set.sla);
    a.group = calloc((size_t)2 * GROUP_MAX, sizeof *a.group);
    if (a.group == NULL)
        abort();
    a.disp = store_dispatch_new(a.set.lease_ms, 3 * a.set.heartbeat_ms, hd_now_ms() * 1000);
    int rc = 1;
    if (open_sockets(&a) == 0 && load_queues(&a) == 0) {
        hd_info("event=ready api=%s work=%s events=%s last_seq=%lld lease_ms=%lld", a.set.api,
                a.set.work, a.set.events, (long long)store_db_last_seq(a.db),
                (long long)a.set.lease_ms);
        rc = run(&a) == 0 ? 0 : 1;
    }
    close_all(&a);
    hd_config_destroy(&cfg);
    close(a.sigfd);
    hd_info("event=stopped");
    return rc;
}
