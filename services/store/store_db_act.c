/* Technician actions and next: lock the ticket row, decide with store_apply_action, write the
 * row, events and escalation requests back, all in one transaction. */
#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
#include "store_dbi.h"

#define SQL_LOCK "SELECT " TICKET_COLS "WHERE t.id = $1 FOR UPDATE OF t"

#define SQL_WRITE                                                                              \
    "UPDATE tickets SET status = $2, priority = $3, queue = $4, tier = $5, assignee = $6, "   \
    "first_response_at = " TS("$7") ", next_update_due = " TS("$8") ", paused_at = " TS("$9")  \
    ", resolved_at = " TS("$10") ", closed_at = " TS("$11") ", solution = $12, "               \
    "satisfaction = $13, first_response_due = " TS("$14") ", update_interval_ms = $15, "      \
    "resolution_due = " TS("$16") ", tier2_escalation_due = " TS("$17") ", "                   \
    "tier3_escalation_due = " TS("$18") ", updated_at = " TS("$19") " WHERE id = $1"

#define SQL_INS_ESC                                                                            \
    "INSERT INTO escalations (ticket_id, from_tier, to_tier, reason, deadline, requested_at) " \
    "VALUES ($1, $2, $3, $4, $5, " TS("$6") ") RETURNING id"

#define SQL_NEXT                                                                               \
    "SELECT id FROM tickets WHERE queue = $1 AND status IN ('queued', 'reopened') "            \
    "ORDER BY priority NULLS LAST, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"

void store_db_set_sla(store_db *db, const hd_sla *sla)
{
    db->sla = *sla;
    db->has_sla = true;
}

enum store_db_rc store_lock_ticket(store_db *db, int64_t id, HdTicket **out)
{
    *out = NULL;
    store_params p = {0};
    store_p_int(&p, id);
    PGresult *r = store_exec(db, "lock_ticket", SQL_LOCK, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    enum store_db_rc rc = STORE_DB_NOT_FOUND;
    if (PQntuples(r) == 1) {
        *out = store_ticket_from_row(r, 0);
        rc = STORE_DB_OK;
    }
    PQclear(r);
    return rc;
}

int store_write_ticket(store_db *db, const HdTicket *t, int64_t now_ms)
{
    const HdSlaDeadlines *s = t->sla;
    store_params p = {0};
    store_p_int(&p, t->id);
    store_p_text(&p, hd_status_name(t->status));
    store_p_int_opt(&p, t->priority);
    store_p_opt(&p, t->queue);
    store_p_int_opt(&p, t->tier);
    store_p_opt(&p, t->assignee);
    store_p_int_opt(&p, t->first_response_at);
    store_p_int_opt(&p, t->next_update_due);
    store_p_int_opt(&p, t->paused_at);
    store_p_int_opt(&p, t->resolved_at);
    store_p_int_opt(&p, t->closed_at);
    store_p_text(&p, t->solution ? t->solution : "");
    store_p_int(&p, t->satisfaction);
    store_p_int_opt(&p, s ? s->first_response_due : 0);
    store_p_int_opt(&p, s ? s->update_interval_ms : 0);
    store_p_int_opt(&p, s ? s->resolution_due : 0);
    store_p_int_opt(&p, s ? s->tier2_escalation_due : 0);
    store_p_int_opt(&p, s ? s->tier3_escalation_due : 0);
    store_p_int(&p, now_ms);
    PGresult *r = store_exec(db, "write_ticket", SQL_WRITE, &p);
    PQclear(r);
    return r ? 0 : -1;
}

static int insert_escalation(store_db *db, int64_t ticket_id, const store_outcome *o,
                             int64_t now_ms, int64_t *id)
{
    store_params p = {0};
    store_p_int(&p, ticket_id);
    store_p_int(&p, o->from_tier);
    store_p_int(&p, o->to_tier);
    store_p_text(&p, o->reason);
    store_p_text(&p, o->deadline ? hd_deadline_name(o->deadline) : NULL);
    store_p_int(&p, now_ms);
    PGresult *r = store_exec(db, "insert_escalation", SQL_INS_ESC, &p);
    if (r == NULL)
        return -1;
    *id = store_col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* Moves the outcome's events to evs (inserted, seq assigned) and inserts its escalation. On
 * failure the moved events stay in evs for the caller's store_events_truncate. */
int store_write_outcome(store_db *db, store_outcome *o, int64_t now_ms, store_events *evs)
{
    int64_t ticket_id = o->evs.n ? o->evs.v[0]->ticket_id : 0;
    int rc = 0;
    for (size_t i = 0; i < o->evs.n; i++) {
        store_events_push(evs, o->evs.v[i]);
        if (rc == 0 && store_insert_event(db, o->evs.v[i]) != 0)
            rc = -1;
    }
    o->evs.n = 0; /* owned by evs now */
    if (rc == 0 && o->escalate) {
        int64_t id = 0;
        if (insert_escalation(db, ticket_id, o, now_ms, &id) != 0)
            return -1;
        store_events_push_escalation(evs, id);
    }
    return rc;
}

static HdTicketDetail *detail_of(HdTicket *t, const store_events *evs, size_t mark)
{
    HdTicketDetail *d = store_zalloc(sizeof *d);
    helpdesk__v1__ticket_detail__init(d);
    d->ticket = t;
    d->n_history = evs->n - mark;
    d->history = d->n_history ? store_zalloc(d->n_history * sizeof(HdTicketEvent *)) : NULL;
    for (size_t i = 0; i < d->n_history; i++)
        d->history[i] = store_event_dup(evs->v[mark + i]);
    return d;
}

/* The action on a ticket already locked in the open transaction; commits on success. */
static enum store_db_rc act_locked(store_db *db, HdTicket *t, const HdTicketAction *a,
                                   int64_t now_ms, store_events *evs, hd_error_buf *err)
{
    store_outcome o = {0};
    if (store_apply_action(t, a, db->has_sla ? &db->sla : NULL, now_ms, &o, err) != 0)
        return STORE_DB_REFUSED;
    int rc = store_write_ticket(db, t, now_ms);
    if (rc == 0)
        rc = store_write_outcome(db, &o, now_ms, evs);
    store_outcome_clear(&o);
    if (rc == 0)
        rc = store_tx_commit(db);
    return rc == 0 ? STORE_DB_OK : STORE_DB_ERROR;
}

/* Locks ticket id and applies a; the common part of act and next. */
static enum store_db_rc act_on(store_db *db, int64_t id, const HdTicketAction *a, int64_t now_ms,
                               HdTicketDetail **out, store_events *evs, hd_error_buf *err)
{
    size_t mark = evs->n, mark_esc = evs->n_esc;
    HdTicket *t = NULL;
    enum store_db_rc rc = store_lock_ticket(db, id, &t);
    if (rc == STORE_DB_OK)
        rc = act_locked(db, t, a, now_ms, evs, err);
    if (rc != STORE_DB_OK) {
        store_tx_rollback(db);
        store_events_truncate(evs, mark);
        evs->n_esc = mark_esc;
        if (t)
            protobuf_c_message_free_unpacked(&t->base, NULL);
        return rc;
    }
    *out = detail_of(t, evs, mark);
    return STORE_DB_OK;
}

enum store_db_rc store_db_act(store_db *db, const HdTicketAction *a, int64_t now_ms,
                              HdTicketDetail **out, store_events *evs, hd_error_buf *err)
{
    *out = NULL;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    return act_on(db, a->ticket_id, a, now_ms, out, evs, err);
}

enum store_db_rc store_db_next(store_db *db, const char *queue, const char *agent, int64_t now_ms,
                               HdTicketDetail **out, store_events *evs)
{
    *out = NULL;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    store_params p = {0};
    store_p_text(&p, queue);
    PGresult *r = store_exec(db, "next", SQL_NEXT, &p);
    if (r == NULL || PQntuples(r) == 0) {
        PQclear(r);
        store_tx_rollback(db);
        return r ? STORE_DB_NOT_FOUND : STORE_DB_ERROR;
    }
    int64_t id = store_col_i64(r, 0, 0);
    PQclear(r);
    HdTake take = HELPDESK__V1__TAKE__INIT;
    HdTicketAction a = HELPDESK__V1__TICKET_ACTION__INIT;
    a.ticket_id = id;
    a.actor = (char *)agent;
    a.action_case = HELPDESK__V1__TICKET_ACTION__ACTION_TAKE;
    a.take = &take;
    hd_error_buf err;
    enum store_db_rc rc = act_on(db, id, &a, now_ms, out, evs, &err);
    if (rc == STORE_DB_REFUSED) { /* cannot happen: the row is locked in a takeable status */
        hd_error("event=next_refused ticket_id=%lld error=\"%s\"", (long long)id, err.message);
        rc = STORE_DB_ERROR;
    }
    return rc;
}
