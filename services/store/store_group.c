/* Group commit: the api requests and work results read in one loop turn run in one
 * transaction; replies, events and dispatch wait for its COMMIT. Moved from main.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/clock.h"
#include "hd/log.h"
#include "store.h"
#include "store_api.h"
#include "store_group.h"
#include "store_work.h"

#define GROUP_MAX 256        /* requests drained from each socket into one transaction */

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
    bool batched;            /* done by the group's batch (store_db_batch) */
    Helpdesk__V1__Stage lease_stage;
    int64_t item;
    char actor[128];
    bool refused;            /* work: the database refused the result's data */
    char refused_field[64];
    char refused_why[256];
} group_item;

struct store_group {
    group_item items[2 * GROUP_MAX]; /* GROUP_MAX api + GROUP_MAX work entries */
    store_batch_item batch[2 * GROUP_MAX];
    size_t of[2 * GROUP_MAX];        /* batch[k] is items[of[k]] */
};

/* After COMMIT: publish, queue each ticket that entered new or triaged for its stage (a note
 * on a new ticket does not queue it twice), and queue the escalation requests. */
static void publish_committed(store_svc *s, store_events *evs)
{
    for (size_t i = 0; i < evs->n; i++) {
        const HdTicketEvent *e = evs->v[i];
        if (hd_publish_event(s->pub, e) != 0)
            hd_warn("event=publish_failed ticket_id=%lld seq=%lld error=\"%s\"",
                    (long long)e->ticket_id, (long long)e->seq, zmq_strerror(errno));
        else
            hd_metric_inc(s->m.published);
        Helpdesk__V1__Stage next = store_stage_for(e->status);
        bool entered = e->kind == HELPDESK__V1__EVENT_KIND__EVENT_CREATED ||
                       e->kind == HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED;
        if (entered && next != HELPDESK__V1__STAGE__STAGE_UNSPECIFIED)
            store_dispatch_push(s->disp, next, e->ticket_id);
    }
    for (size_t i = 0; i < evs->n_esc; i++)
        store_dispatch_push(s->disp, HELPDESK__V1__STAGE__STAGE_ESCALATE, evs->esc[i]);
    store_events_clear(evs);
}

/* Reads up to GROUP_MAX api requests into g; a malformed one is answered at once. */
static size_t collect_api(store_svc *s, group_item *g)
{
    size_t n = 0;
    for (int i = 0; i < GROUP_MAX; i++) {
        hd_peer peer;
        HdRequest *req = NULL;
        hd_error_buf err;
        enum hd_recv_result r = hd_router_recv(s->api, &peer, &req, &err, ZMQ_DONTWAIT);
        if (r == HD_RECV_NONE)
            break;
        hd_metric_inc(s->m.api_in);
        if (r == HD_RECV_BAD) {
            hd_info("event=bad_request socket=api field=%s", err.field);
            hd_metric_inc(store_metrics_error(&s->m, err.pb.code));
            if (hd_router_send_error(s->api, &peer, peer.request_id, &err) != 0)
                hd_warn("event=reply_failed socket=api error=\"%s\"", zmq_strerror(errno));
            else
                hd_metric_inc(s->m.api_out);
            continue;
        }
        hd_metric_inc(store_metrics_request(&s->m, (int)req->body_case));
        group_item *it = &g[n++];
        memset(it, 0, sizeof *it);
        it->peer = peer;
        it->req = req;
        store_reply_init(&it->rep, req->id);
    }
    return n;
}

/* Applies the result once: a stage result if the ticket is still where the stage expects it,
 * an escalation result to its escalation (`item`; the ticket's oldest pending one when the
 * lease is not live), lease or no lease. */
static enum store_db_rc apply_db(store_svc *s, const HdWorkResult *res, int64_t *item, bool live,
                                 const char *actor, bool *applied, store_events *evs)
{
    if (res->result_case != HELPDESK__V1__WORK_RESULT__RESULT_ESCALATED)
        return store_db_apply_result(s->db, res, actor, hd_now_ms(), applied, evs);
    int64_t done = 0;
    enum store_db_rc rc = store_db_apply_escalation(s->db, live ? *item : 0, res, actor,
                                                    hd_now_ms(), applied, &done, evs);
    if (!live && done)
        *item = done;
    return rc;
}

/* What the result's lease carries: the ticket id, or for an escalation the escalation id
 * (when the lease is live and its ticket is this result's, else 0). */
static int64_t result_item(const store_svc *s, const HdWorkResult *res)
{
    if (res->stage != HELPDESK__V1__STAGE__STAGE_ESCALATE)
        return res->ticket_id;
    int64_t item = 0;
    Helpdesk__V1__Stage st = HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    if (!store_dispatch_lease_item(s->disp, res->lease_id, &item, &st) ||
        st != HELPDESK__V1__STAGE__STAGE_ESCALATE)
        return 0;
    return item;
}

/* Checks a work_result and answers the ones that need no database (refused, failed); true
 * when `it` was filled for the group to apply. */
static bool on_result(store_svc *s, const hd_peer *peer, const HdRequest *req, group_item *it)
{
    const HdWorkResult *res = req->work_result;
    store_worker_key key;
    store_work_key_of(peer, &key);
    Helpdesk__V1__Stage lease_stage = HELPDESK__V1__STAGE__STAGE_UNSPECIFIED;
    int64_t item = res ? result_item(s, res) : 0;
    bool live = res && store_dispatch_result_for(s->disp, &key, res->lease_id, item, res->stage,
                                                 hd_mono_ms(), &lease_stage);
    hd_error_buf err;
    if (res == NULL || store_check_result(res, &err) != 0) {
        if (res == NULL)
            hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "work_result",
                         "empty work_result");
        if (live)
            store_dispatch_push_front(s->disp, lease_stage, item);
        hd_warn("event=result_refused ticket_id=%lld field=%s", res ? (long long)res->ticket_id : 0LL,
                err.field);
        store_work_reply_error(s, peer, req->id, &err);
        return false;
    }
    char actor[128];
    const char *known = store_dispatch_worker_name(s->disp, &key);
    store_work_log_name(actor, sizeof actor, res->worker && res->worker[0] ? res->worker : known);
    if (res->result_case == HELPDESK__V1__WORK_RESULT__RESULT_FAILED) {
        char why[256];
        store_work_log_name(why, sizeof why, res->failed->message);
        hd_warn("event=work_failed ticket_id=%lld stage=%s worker=\"%s\" error=\"%s\"",
                (long long)res->ticket_id, hd_stage_name(res->stage), actor, why);
        if (live)
            store_dispatch_push(s->disp, lease_stage, item);
        store_work_send_ack(s, peer, req->id, res, false);
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
static size_t collect_work(store_svc *s, group_item *g)
{
    size_t n = 0;
    for (int i = 0; i < GROUP_MAX; i++) {
        hd_peer peer;
        HdRequest *req = NULL;
        hd_error_buf err;
        enum hd_recv_result r = hd_router_recv(s->work, &peer, &req, &err, ZMQ_DONTWAIT);
        if (r == HD_RECV_NONE)
            break;
        hd_metric_inc(s->m.work_in);
        if (r == HD_RECV_BAD) {
            hd_info("event=bad_request socket=work field=%s", err.field);
            store_work_reply_error(s, &peer, peer.request_id, &err);
            continue;
        }
        hd_metric_inc(store_metrics_request(&s->m, (int)req->body_case));
        switch (req->body_case) {
        case HELPDESK__V1__REQUEST__BODY_WORK_READY: store_work_on_ready(s, &peer, req); break;
        case HELPDESK__V1__REQUEST__BODY_HEARTBEAT: store_work_on_heartbeat(s, &peer, req); break;
        case HELPDESK__V1__REQUEST__BODY_WORK_RESULT:
            if (on_result(s, &peer, req, &g[n])) {
                g[n++].req = req;
                req = NULL;
            }
            break;
        default:
            hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body",
                         "the store's work socket takes work_ready, work_result or heartbeat");
            store_work_reply_error(s, &peer, req->id, &err);
            break;
        }
        hd_request_free(req);
    }
    return n;
}

/* One request inside the group's transaction, in its own savepoint. */
static void apply_item(store_svc *s, group_item *it, int64_t now_ms)
{
    if (store_db_request_begin(s->db) != 0) {
        it->rc = STORE_DB_ERROR;
        return;
    }
    if (it->work)
        it->rc = apply_db(s, it->req->work_result, &it->item, it->live, it->actor, &it->applied,
                          &it->evs);
    else
        store_api_handle(s->db, it->req, now_ms, &it->rep, &it->evs);
    const char *field, *why;
    if (it->work && it->rc == STORE_DB_ERROR && store_db_refusal(s->db, &field, &why)) {
        it->refused = true;
        snprintf(it->refused_field, sizeof it->refused_field, "%s", field);
        snprintf(it->refused_why, sizeof it->refused_why, "%s", why);
    }
    store_db_request_end(s->db);
}

/* After the group's COMMIT (committed) or its failure: publish, queue, reply. */
static void finish_api(store_svc *s, group_item *it, bool committed)
{
    if (!committed || it->rc == STORE_DB_ERROR) {
        store_events_clear(&it->evs);
        store_reply_db_error(&it->rep, NULL); /* the group failed */
    }
    publish_committed(s, &it->evs);
    if (it->rep.pb.body_case == HELPDESK__V1__REPLY__BODY_ERROR && it->rep.pb.error != NULL)
        hd_metric_inc(store_metrics_error(&s->m, it->rep.pb.error->code));
    if (hd_router_send(s->api, &it->peer, &it->rep.pb) != 0)
        hd_warn("event=reply_failed socket=api error=\"%s\"", zmq_strerror(errno));
    else
        hd_metric_inc(s->m.api_out);
    store_reply_clear(&it->rep);
}

/* A result the database refused for its data: the worker would send the same again at once, so
 * the ticket is held back for store.refused_retry_ms (long enough for an operator to fix the
 * rule or the schema, short enough that nothing waits for a restart) and the worker hears why. */
static void hold_back(store_svc *s, group_item *it)
{
    const HdWorkResult *res = it->req->work_result;
    Helpdesk__V1__Stage stage = it->live ? it->lease_stage : res->stage;
    store_dispatch_hold(s->disp, stage, it->item, hd_mono_ms() + s->refused_retry_ms);
    hd_error("event=result_refused_by_database ticket_id=%lld stage=%s worker=\"%s\" field=%s "
             "error=\"%s\" retry_in_ms=%lld", (long long)res->ticket_id,
             hd_stage_name(res->stage), it->actor, it->refused_field, it->refused_why,
             (long long)s->refused_retry_ms);
    hd_error_buf err;
    hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, it->refused_field,
                 "the database refused this result (%s); the ticket is dispatched again in %lld "
                 "ms", it->refused_why, (long long)s->refused_retry_ms);
    store_work_reply_error(s, &it->peer, it->req->id, &err);
}

static void finish_work(store_svc *s, group_item *it, bool committed)
{
    const HdWorkResult *res = it->req->work_result;
    if (committed && it->rc != STORE_DB_OK && it->refused) {
        store_events_clear(&it->evs);
        hold_back(s, it);
        return;
    }
    if (!committed || it->rc != STORE_DB_OK) {
        store_events_clear(&it->evs);
        if (it->live)
            store_dispatch_push_front(s->disp, it->lease_stage, it->item);
        hd_error_buf err;
        hd_error_set(&err, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "",
                     "the database did not answer; the ticket will be dispatched again");
        store_work_reply_error(s, &it->peer, it->req->id, &err);
        return;
    }
    /* Its lease had expired and it waits to be dispatched again: no need any more (an
     * escalation is settled, applied or stale). */
    bool settled = it->applied || res->stage == HELPDESK__V1__STAGE__STAGE_ESCALATE;
    if (settled && !it->live)
        store_dispatch_unqueue(s->disp, res->stage, it->item);
    publish_committed(s, &it->evs);
    /* debug: two lines per ticket cost CPU at thousands of tickets/s; its event is the record. */
    hd_debug("event=result ticket_id=%lld stage=%s worker=\"%s\" lease=%s applied=%s",
            (long long)res->ticket_id, hd_stage_name(res->stage), it->actor,
            it->live ? "live" : "unknown", it->applied ? "true" : "false");
    store_work_send_ack(s, &it->peer, it->req->id, res, it->applied);
}

/* A create with a sound contact, or a prioritized or routed result whose ticket no earlier
 * result of the batch names (a repeat is applied alone, after, and finds it moved on). */
static bool batchable(const group_item *g, size_t i, hd_error_buf *err)
{
    const HdRequest *req = g[i].req;
    if (!g[i].work)
        return req->body_case == HELPDESK__V1__REQUEST__BODY_CREATE_TICKETS &&
               req->create_tickets && store_check_contact(req->create_tickets->contact, err) == 0;
    const HdWorkResult *res = req->work_result;
    if (res->result_case != HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED &&
        res->result_case != HELPDESK__V1__WORK_RESULT__RESULT_ROUTED)
        return false;
    for (size_t j = 0; j < i; j++)
        if (g[j].batched && g[j].work && g[j].req->work_result->ticket_id == res->ticket_id)
            return false;
    return true;
}

/* The creates and stage results of the group in a few statements (store_db_batch). When the
 * batch fails, its requests are redone one by one like the rest, so the one the database
 * refuses gets its own error and the others still commit. */
static void apply_batch(store_group *grp, store_svc *s, size_t n, int64_t now_ms)
{
    group_item *g = grp->items;
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        hd_error_buf err;
        g[i].batched = batchable(g, i, &err);
        if (!g[i].batched)
            continue;
        store_batch_item *b = &grp->batch[nb];
        memset(b, 0, sizeof *b);
        b->contact = g[i].work ? NULL : g[i].req->create_tickets->contact;
        b->result = g[i].work ? g[i].req->work_result : NULL;
        b->actor = g[i].actor;
        b->evs = &g[i].evs;
        grp->of[nb++] = i;
    }
    if (nb == 0)
        return;
    if (store_db_batch(s->db, grp->batch, nb, now_ms) != STORE_DB_OK) {
        hd_warn("event=batch_failed requests=%zu action=one_by_one", nb);
        for (size_t k = 0; k < nb; k++)
            g[grp->of[k]].batched = false;
        return;
    }
    for (size_t k = 0; k < nb; k++) {
        group_item *it = &g[grp->of[k]];
        it->rc = STORE_DB_OK;
        if (it->work)
            it->applied = grp->batch[k].applied;
        else
            store_api_receipt(&it->rep, grp->batch[k].receipt, &it->evs, 0);
    }
}

static void finish(store_svc *s, group_item *it, bool committed)
{
    if (it->work)
        finish_work(s, it, committed);
    else
        finish_api(s, it, committed);
    hd_request_free(it->req);
    it->req = NULL;
}

/* Group commit: everything read from both sockets in this turn runs in ONE transaction (one
 * fsync), a savepoint per request so a failing one undoes only itself. Replies, events and
 * dispatch wait for the COMMIT; when it fails, nothing of the group happened and every
 * request hears ERROR_UNAVAILABLE (clients retry; idempotency keys make that safe). */
void store_group_serve(store_group *grp, store_svc *s, bool api, bool work)
{
    group_item *g = grp->items;
    size_t na = api ? collect_api(s, g) : 0;
    size_t n = na + (work ? collect_work(s, g + na) : 0);
    if (n == 0)
        return;
    hd_debug("event=group requests=%zu api=%zu", n, na);
    hd_metric_observe(s->m.group_size, (double)n);
    int64_t start_us = hd_metrics_now_us();
    bool began = store_db_group_begin(s->db) == 0;
    int64_t now_ms = hd_now_ms();
    if (began)
        apply_batch(grp, s, n, now_ms);
    for (size_t i = 0; i < n; i++) {
        if (g[i].batched)
            continue;
        if (began)
            apply_item(s, &g[i], now_ms);
        else
            g[i].rc = STORE_DB_ERROR;
    }
    bool committed = began && store_db_group_commit(s->db) == 0;
    hd_metric_observe_since(s->m.commit_seconds, start_us);
    store_svc_note_db(s);
    if (began && !committed)
        hd_warn("event=group_commit_failed requests=%zu", n);
    /* In seq order: the batch's creates, its results, then the requests done one by one. */
    for (size_t i = 0; i < n; i++)
        if (g[i].batched && !g[i].work)
            finish(s, &g[i], committed);
    for (size_t i = 0; i < n; i++)
        if (g[i].batched && g[i].req != NULL)
            finish(s, &g[i], committed);
    for (size_t i = 0; i < n; i++)
        if (g[i].req != NULL) /* the rest: finish() cleared the batch's */
            finish(s, &g[i], committed);
}

store_group *store_group_new(void)
{
    store_group *grp = calloc(1, sizeof *grp);
    if (grp == NULL)
        abort();
    return grp;
}

void store_group_destroy(store_group **grp)
{
    free(*grp);
    *grp = NULL;
}
