/* The work socket and dispatch: work_ready, heartbeats, acks, the leases sent out (pump) and
 * the ones expired, and the queues loaded from the database. Moved from main.c; the loop calls
 * these with the handles it owns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/clock.h"
#include "hd/log.h"
#include "hd/utf8.h"
#include "store.h"
#include "store_work.h"

#define DISPATCH_BATCH 256   /* work items sent per loop turn */

/* A worker-supplied name, made safe for a key="value" log line. */
void store_work_log_name(char *out, size_t len, const char *name)
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

static const char *worker_name(const store_svc *s, const store_worker_key *k)
{
    const char *n = store_dispatch_worker_name(s->disp, k);
    return n ? n : "(forgotten)";
}

void store_svc_note_db(store_svc *s)
{
    if (store_db_broken(s->db) && s->reconnect_at == 0)
        s->reconnect_at = hd_mono_ms() + s->backoff_ms;
}

/* Every escalation request not yet answered waits for STAGE_ESCALATE, oldest first. */
static int load_escalations(store_svc *s)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_db_pending_escalations(s->db, &ids, &n) != STORE_DB_OK)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (!store_dispatch_stage_leased(s->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE, ids[k]))
            store_dispatch_push(s->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE, ids[k]);
    free(ids);
    return 0;
}

/* Every status-new ticket waits for prioritize, every triaged one for route, oldest first,
 * except those out on a lease; and the pending escalations. At start and after a reconnect (a
 * COMMIT whose answer was lost may have made tickets the queues never heard of). */
int store_work_load_queues(store_svc *s)
{
    const Helpdesk__V1__Status from[] = {HELPDESK__V1__STATUS__STATUS_NEW,
                                         HELPDESK__V1__STATUS__STATUS_TRIAGED};
    int64_t *ids[2] = {NULL, NULL};
    size_t n[2] = {0, 0};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        if (store_db_ticket_ids(s->db, from[i], &ids[i], &n[i]) != STORE_DB_OK)
            rc = -1;
    if (rc == 0) {
        store_dispatch_clear_queues(s->disp);
        for (int i = 0; i < 2; i++)
            for (size_t k = 0; k < n[i]; k++)
                if (!store_dispatch_stage_leased(s->disp, store_stage_for(from[i]), ids[i][k]))
                    store_dispatch_push(s->disp, store_stage_for(from[i]), ids[i][k]);
        rc = load_escalations(s);
        hd_info("event=queues_loaded prioritize=%zu route=%zu escalate=%zu",
                store_dispatch_queued(s->disp, HELPDESK__V1__STAGE__STAGE_PRIORITIZE),
                store_dispatch_queued(s->disp, HELPDESK__V1__STAGE__STAGE_ROUTE),
                store_dispatch_queued(s->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE));
    }
    free(ids[0]);
    free(ids[1]);
    return rc;
}

static void peer_of(const store_worker_key *k, hd_peer *peer)
{
    memcpy(peer->id, k->id, k->len);
    peer->id_len = k->len;
    peer->delimited = true; /* workers are DEALERs: [""][Reply] */
}

void store_work_key_of(const hd_peer *peer, store_worker_key *k)
{
    memcpy(k->id, peer->id, peer->id_len);
    k->len = peer->id_len;
}

hd_metric *store_metrics_request(const store_metrics *m, int body_case)
{
    return body_case > 0 && body_case < STORE_METRICS_BODIES ? m->requests[body_case] : NULL;
}

hd_metric *store_metrics_error(const store_metrics *m, int code)
{
    return code > 0 && code < STORE_METRICS_ERRORS ? m->errors[code] : NULL;
}

static void reply_work(store_svc *s, const hd_peer *peer, const HdReply *rep)
{
    if (hd_router_send(s->work, peer, rep) != 0)
        hd_warn("event=reply_failed socket=work error=\"%s\"", zmq_strerror(errno));
    else
        hd_metric_inc(s->m.work_out);
}

void store_work_reply_error(store_svc *s, const hd_peer *peer, uint64_t id,
                            hd_error_buf *err)
{
    hd_metric_inc(store_metrics_error(&s->m, err->pb.code));
    if (hd_router_send_error(s->work, peer, id, err) != 0)
        hd_warn("event=reply_failed socket=work error=\"%s\"", zmq_strerror(errno));
    else
        hd_metric_inc(s->m.work_out);
}

/* work_ready has no reply unless it is wrong. */
void store_work_on_ready(store_svc *s, const hd_peer *peer, const HdRequest *req)
{
    const HdWorkReady *w = req->work_ready;
    store_worker_key key;
    store_work_key_of(peer, &key);
    char name[128];
    store_work_log_name(name, sizeof name, w ? w->worker : NULL);
    int rc = w ? store_dispatch_ready(s->disp, &key, w->stage, w->credit, name, hd_mono_ms()) : -1;
    if (rc < 0) {
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "stage",
                     "work_ready needs stage prioritize, route or escalate");
        store_work_reply_error(s, peer, req->id, &err);
        return;
    }
    if (rc == 1)
        hd_info("event=worker_ready worker=\"%s\" stage=%s credit=%u", name,
                hd_stage_name(w->stage), w->credit);
    else
        hd_debug("event=worker_credit worker=\"%s\" stage=%s credit=+%u", name,
                 hd_stage_name(w->stage), w->credit);
}

void store_work_on_heartbeat(store_svc *s, const hd_peer *peer, const HdRequest *req)
{
    store_worker_key key;
    store_work_key_of(peer, &key);
    if (!store_dispatch_seen(s->disp, &key, hd_mono_ms())) {
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNKNOWN_WORKER, "worker",
                     "the store has no record of this worker: send work_ready with your free "
                     "credit");
        store_work_reply_error(s, peer, req->id, &err);
        return;
    }
    HdHeartbeat hb = HELPDESK__V1__HEARTBEAT__INIT;
    hb.worker = req->heartbeat && req->heartbeat->worker ? req->heartbeat->worker : "";
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.id = req->id;
    rep.body_case = HELPDESK__V1__REPLY__BODY_HEARTBEAT;
    rep.heartbeat = &hb;
    reply_work(s, peer, &rep);
}

void store_work_send_ack(store_svc *s, const hd_peer *peer, uint64_t id, const HdWorkResult *res,
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
    reply_work(s, peer, &rep);
}

static int send_item(store_svc *s, const store_lease *l, HdTicket *t, HdEscalationRequest *esc)
{
    HdWorkItem wi = HELPDESK__V1__WORK_ITEM__INIT;
    wi.lease_id = l->lease_id;
    wi.stage = l->stage;
    wi.ticket = t;
    wi.escalation = esc;
    wi.lease_expires_at = hd_now_ms() + s->lease_ms;
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.body_case = HELPDESK__V1__REPLY__BODY_WORK_ITEM;
    rep.work_item = &wi;
    hd_peer peer;
    peer_of(&l->worker, &peer);
    int rc = hd_router_send(s->work, &peer, &rep);
    if (rc == 0)
        hd_metric_inc(s->m.work_out);
    return rc;
}

/* The lease's ticket if it still waits for the stage (for an escalation: the request is
 * still pending), with the escalation request for STAGE_ESCALATE. */
static enum store_db_rc load_item(store_svc *s, const store_lease *l, HdTicket **t,
                                  HdEscalationRequest **esc)
{
    *esc = NULL;
    if (l->stage == HELPDESK__V1__STAGE__STAGE_ESCALATE)
        return store_db_get_escalation(s->db, l->ticket_id, t, esc);
    HdTicketDetail *d = NULL;
    enum store_db_rc rc = store_db_get_ticket(s->db, l->ticket_id, false, &d);
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

/* Sends the loaded item (rc OK) or drops the lease (NOT_FOUND: no longer waits for the
 * stage); frees t and esc. */
static void deliver(store_svc *s, const store_lease *l, enum store_db_rc rc, HdTicket *t,
                    HdEscalationRequest *esc)
{
    if (rc == STORE_DB_NOT_FOUND) {
        hd_debug("event=dispatch_skipped ticket_id=%lld stage=%s", (long long)l->ticket_id,
                 hd_stage_name(l->stage));
        store_dispatch_cancel(s->disp, l->lease_id, false, true);
    } else if (send_item(s, l, t, esc) != 0) {
        hd_warn("event=dispatch_failed ticket_id=%lld worker=\"%s\" error=\"%s\"",
                (long long)l->ticket_id, worker_name(s, &l->worker),
                zmq_strerror(errno));
        /* Unreachable (gone, or its pipe is full): forget it; it announces itself again. */
        store_dispatch_cancel(s->disp, l->lease_id, true, false);
        store_dispatch_forget(s->disp, &l->worker);
    } else {
        hd_debug("event=dispatched ticket_id=%lld stage=%s lease_id=%lld worker=\"%s\"",
                 (long long)l->ticket_id, hd_stage_name(l->stage), (long long)l->lease_id,
                 worker_name(s, &l->worker));
    }
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    if (esc)
        protobuf_c_message_free_unpacked(&esc->base, NULL);
}

/* One escalation lease: load it, check it is still pending, send it. -1 when the database
 * failed (its lease is cancelled; stop dispatching for now). */
static int dispatch_one(store_svc *s, const store_lease *l)
{
    HdTicket *t = NULL;
    HdEscalationRequest *esc = NULL;
    enum store_db_rc rc = load_item(s, l, &t, &esc);
    if (rc == STORE_DB_ERROR) {
        store_dispatch_cancel(s->disp, l->lease_id, true, true);
        store_svc_note_db(s);
        return -1;
    }
    deliver(s, l, rc, t, esc);
    return 0;
}

/* Puts the leases l[from..n) back at the front of their queues, in their order. */
static void cancel_rest(store_svc *s, const store_lease *l, size_t from, size_t n)
{
    for (size_t i = n; i-- > from;)
        store_dispatch_cancel(s->disp, l[i].lease_id, true, true);
}

/* The tickets of the prioritize and route leases, in one query. */
static enum store_db_rc load_tickets(store_svc *s, const store_lease *l, size_t n, HdTicket ***t,
                                     size_t *nt)
{
    int64_t ids[DISPATCH_BATCH];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].stage != HELPDESK__V1__STAGE__STAGE_ESCALATE)
            ids[k++] = l[i].ticket_id;
    *t = NULL;
    *nt = 0;
    return k ? store_db_get_tickets(s->db, ids, k, t, nt) : STORE_DB_OK;
}

/* Takes ticket `id` out of t (each is sent at most once), or NULL. */
static HdTicket *take_ticket(HdTicket **t, size_t nt, int64_t id)
{
    for (size_t i = 0; i < nt; i++)
        if (t[i] && t[i]->id == id) {
            HdTicket *x = t[i];
            t[i] = NULL;
            return x;
        }
    return NULL;
}

static void send_loaded(store_svc *s, const store_lease *l, HdTicket **t, size_t nt)
{
    HdTicket *x = take_ticket(t, nt, l->ticket_id);
    if (x && x->status != store_stage_from(l->stage)) {
        protobuf_c_message_free_unpacked(&x->base, NULL);
        x = NULL;
    }
    deliver(s, l, x ? STORE_DB_OK : STORE_DB_NOT_FOUND, x, NULL);
}

/* Leases a batch of items to workers with credit and sends them, their tickets loaded with
 * one query (escalations one by one). */
void store_work_pump(store_svc *s)
{
    if (store_db_broken(s->db))
        return;
    store_lease l[DISPATCH_BATCH];
    size_t n = 0;
    while (n < DISPATCH_BATCH && store_dispatch_next(s->disp, hd_mono_ms(), &l[n]))
        n++;
    HdTicket **t = NULL;
    size_t nt = 0;
    if (n == 0)
        return;
    if (load_tickets(s, l, n, &t, &nt) != STORE_DB_OK) {
        cancel_rest(s, l, 0, n);
        store_svc_note_db(s);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t item = 0;
        Helpdesk__V1__Stage st;
        if (!store_dispatch_lease_item(s->disp, l[i].lease_id, &item, &st))
            continue; /* its worker was forgotten after a failed send: re-queued already */
        if (l[i].stage != HELPDESK__V1__STAGE__STAGE_ESCALATE) {
            send_loaded(s, &l[i], t, nt);
        } else if (dispatch_one(s, &l[i]) != 0) {
            cancel_rest(s, l, i + 1, n);
            break;
        }
    }
    for (size_t i = 0; i < nt; i++)
        if (t[i])
            protobuf_c_message_free_unpacked(&t[i]->base, NULL);
    free(t);
}

void store_work_expire(store_svc *s, int64_t now)
{
    store_lease gone[32];
    size_t n = store_dispatch_expire(s->disp, now, gone, 32);
    for (size_t i = 0; i < n && i < 32; i++)
        hd_warn("event=lease_expired ticket_id=%lld lease_id=%lld stage=%s worker=\"%s\"",
                (long long)gone[i].ticket_id, (long long)gone[i].lease_id,
                hd_stage_name(gone[i].stage), worker_name(s, &gone[i].worker));
    if (n > 32)
        hd_warn("event=lease_expired count=%zu", n - 32);
    char names[16][128];
    size_t f = store_dispatch_forget_silent(s->disp, now, names, 16);
    for (size_t i = 0; i < f && i < 16; i++)
        hd_info("event=worker_forgotten worker=\"%s\" reason=silent", names[i]);
}
