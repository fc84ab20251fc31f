/* SLA signals, escalation requests and results, communications and solution search. Each
 * change is one transaction with its events; repeats are caught by UNIQUE constraints. */
#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
#include "store_dbi.h"

#define SQL_INS_SIGNAL                                                                         \
    "INSERT INTO sla_signals (ticket_id, deadline, deadline_at, breach, actor) "              \
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1"

#define SQL_INS_COMM                                                                           \
    "INSERT INTO communications (ticket_id, key, attempt, kind, channel, recipient, subject, " \
    "sent, error, final, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "   \
    TS("$12") ") ON CONFLICT (key, attempt) DO NOTHING RETURNING id"

#define SQL_COMM_STATUS                                                                        \
    "SELECT count(*), coalesce(bool_or(sent), false), coalesce(max(attempt), 0), "            \
    "coalesce(bool_or(final), false) FROM communications WHERE key = $1"

#define SQL_PENDING_ESC "SELECT id FROM escalations WHERE done_at IS NULL ORDER BY id"

#define ESC_COLS "id, ticket_id, from_tier, to_tier, reason, deadline FROM escalations "

#define SQL_GET_ESC "SELECT " ESC_COLS "WHERE id = $1 AND done_at IS NULL"
#define SQL_LOCK_ESC "SELECT " ESC_COLS "WHERE id = $1 AND done_at IS NULL FOR UPDATE"
#define SQL_LOCK_OLDEST_ESC                                                                    \
    "SELECT " ESC_COLS "WHERE ticket_id = $1 AND done_at IS NULL ORDER BY id LIMIT 1 "         \
    "FOR UPDATE"
#define SQL_ESC_DONE "UPDATE escalations SET done_at = " TS("$2") " WHERE id = $1"

/* The query: any word of the text ($1), or of ticket $2's summary and description. */
#define SQL_SEARCH                                                                             \
    "WITH src AS (SELECT coalesce($1::text, (SELECT summary || ' ' || description "           \
    "FROM tickets WHERE id = $2), '') AS txt), "                                              \
    "q AS (SELECT hd_tsquery_or(plainto_tsquery('simple'::regconfig, w.lexeme)) AS q "         \
    "FROM src, unnest(to_tsvector('simple'::regconfig, src.txt)) AS w) "                       \
    "SELECT " TICKET_FIELDS ", ts_rank(" SEARCH_DOC ", q.q) AS rank " TICKET_FROM ", q "       \
    "WHERE q.q IS NOT NULL AND t.status IN ('resolved', 'closed') AND t.id <> $2 "             \
    "AND " SEARCH_DOC " @@ q.q ORDER BY rank DESC, t.id DESC LIMIT $3"

/* ---- SLA signals ---- */

static int record_signal(store_db *db, const HdSlaSignal *s, bool *fresh)
{
    store_params p = {0};
    store_p_int(&p, s->ticket_id);
    store_p_text(&p, hd_deadline_name(s->deadline));
    store_p_int(&p, s->deadline_at);
    store_p_bool(&p, s->breach);
    store_p_text(&p, s->actor ? s->actor : "");
    PGresult *r = store_exec(db, "insert_signal", SQL_INS_SIGNAL, &p);
    if (r == NULL)
        return -1;
    *fresh = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

/* In the open transaction with the ticket locked: decide, record, write. */
static enum store_db_rc signal_locked(store_db *db, HdTicket *t, const HdSlaSignal *s,
                                      int64_t now_ms, bool *applied, store_events *evs)
{
    store_outcome o = {0};
    bool fresh = false;
    if (!store_apply_signal(t, s, now_ms, &o)) {
        store_outcome_clear(&o);
        return STORE_DB_NOT_FOUND; /* not relevant: nothing changes */
    }
    int rc = record_signal(db, s, &fresh);
    if (rc == 0 && !fresh) { /* a repeat */
        store_outcome_clear(&o);
        return STORE_DB_NOT_FOUND;
    }
    if (rc == 0)
        rc = store_write_ticket(db, t, now_ms);
    if (rc == 0)
        rc = store_write_outcome(db, &o, now_ms, evs);
    store_outcome_clear(&o);
    if (rc == 0)
        rc = store_tx_commit(db);
    *applied = rc == 0;
    return rc == 0 ? STORE_DB_OK : STORE_DB_ERROR;
}

enum store_db_rc store_db_sla_signal(store_db *db, const HdSlaSignal *s, int64_t now_ms,
                                     bool *applied, store_events *evs)
{
    *applied = false;
    size_t mark = evs->n, mark_esc = evs->n_esc;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    HdTicket *t = NULL;
    enum store_db_rc rc = store_lock_ticket(db, s->ticket_id, &t);
    if (rc == STORE_DB_OK)
        rc = signal_locked(db, t, s, now_ms, applied, evs);
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    if (rc != STORE_DB_OK) {
        store_tx_rollback(db);
        store_events_truncate(evs, mark);
        evs->n_esc = mark_esc;
    }
    return rc == STORE_DB_NOT_FOUND ? STORE_DB_OK : rc;
}

/* ---- communications ---- */

enum store_db_rc store_db_get_communication(store_db *db, const char *key,
                                            HdCommunicationStatus **out)
{
    *out = NULL;
    store_params p = {0};
    store_p_text(&p, key);
    PGresult *r = store_exec(db, "communication_status", SQL_COMM_STATUS, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    HdCommunicationStatus *c = store_zalloc(sizeof *c);
    helpdesk__v1__communication_status__init(c);
    c->key = store_strdup(key);
    c->found = store_col_i64(r, 0, 0) > 0;
    c->sent = PQgetvalue(r, 0, 1)[0] == 't';
    c->attempts = (uint32_t)store_col_i64(r, 0, 2);
    c->final = PQgetvalue(r, 0, 3)[0] == 't';
    PQclear(r);
    *out = c;
    return STORE_DB_OK;
}

static int insert_communication(store_db *db, const HdRecordCommunication *c, int64_t now_ms,
                                bool *fresh)
{
    store_params p = {0};
    store_p_int(&p, c->ticket_id);
    store_p_text(&p, c->key);
    store_p_int(&p, c->attempt);
    store_p_text(&p, c->kind ? c->kind : "");
    store_p_text(&p, c->channel ? c->channel : "");
    store_p_text(&p, c->recipient ? c->recipient : "");
    store_p_text(&p, c->subject ? c->subject : "");
    store_p_bool(&p, c->sent);
    store_p_text(&p, c->error ? c->error : "");
    store_p_bool(&p, c->final);
    store_p_text(&p, c->actor ? c->actor : "");
    store_p_int(&p, now_ms);
    PGresult *r = store_exec(db, "insert_communication", SQL_INS_COMM, &p);
    if (r == NULL)
        return -1;
    *fresh = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

HdTicketEvent *store_communication_event(const HdTicket *t, const HdRecordCommunication *c,
                                        int64_t now_ms)
{
    const char *actor = c->actor && c->actor[0] ? c->actor : "notifier";
    HdTicketEvent *e = store_event_for(t, HELPDESK__V1__EVENT_KIND__EVENT_COMMUNICATION, actor,
                                       now_ms);
    char outcome[512];
    if (c->sent)
        snprintf(outcome, sizeof outcome, "sent");
    else
        snprintf(outcome, sizeof outcome, "failed: %s",
                 c->error && c->error[0] ? c->error : "unknown error");
    store_set_str(&e->outcome, outcome);
    store_set_str(&e->channel, c->channel);
    store_set_str(&e->recipient, c->recipient);
    store_set_str(&e->subject, c->subject);
    store_set_str(&e->key, c->key);
    store_set_str(&e->text, c->kind);
    e->attempt = c->attempt;
    return e;
}

/* Inserts the attempt and its event in the open transaction (ticket locked). */
static int record_locked(store_db *db, const HdTicket *t, const HdRecordCommunication *c,
                         int64_t now_ms, store_events *evs)
{
    bool fresh = false;
    if (insert_communication(db, c, now_ms, &fresh) != 0)
        return -1;
    if (!fresh)
        return 0; /* a repeat changes nothing */
    HdTicketEvent *e = store_communication_event(t, c, now_ms);
    store_events_push(evs, e);
    return store_insert_event(db, e);
}

enum store_db_rc store_db_record_communication(store_db *db, const HdRecordCommunication *c,
                                               int64_t now_ms, HdCommunicationStatus **out,
                                               store_events *evs)
{
    *out = NULL;
    size_t mark = evs->n;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    HdTicket *t = NULL;
    enum store_db_rc rc = store_lock_ticket(db, c->ticket_id, &t);
    if (rc == STORE_DB_OK && (record_locked(db, t, c, now_ms, evs) != 0 ||
                              store_tx_commit(db) != 0))
        rc = STORE_DB_ERROR;
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    if (rc != STORE_DB_OK) {
        store_tx_rollback(db);
        store_events_truncate(evs, mark);
        return rc;
    }
    return store_db_get_communication(db, c->key, out);
}

/* ---- escalations ---- */

enum store_db_rc store_db_pending_escalations(store_db *db, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    store_params p = {0};
    PGresult *r = store_exec(db, "pending_escalations", SQL_PENDING_ESC, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    *n = (size_t)PQntuples(r);
    *ids = store_zalloc((*n ? *n : 1) * sizeof **ids);
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = store_col_i64(r, (int)i, 0);
    PQclear(r);
    return STORE_DB_OK;
}

static HdEscalationRequest *escalation_from_row(const PGresult *r, int64_t *id,
                                                int64_t *ticket_id)
{
    HdEscalationRequest *e = store_zalloc(sizeof *e);
    helpdesk__v1__escalation_request__init(e);
    *id = store_col_i64(r, 0, 0);
    *ticket_id = store_col_i64(r, 0, 1);
    e->from_tier = (uint32_t)store_col_i64(r, 0, 2);
    e->to_tier = (uint32_t)store_col_i64(r, 0, 3);
    e->reason = store_col_str(r, 0, 4);
    Helpdesk__V1__Deadline d = HELPDESK__V1__DEADLINE__DEADLINE_UNSPECIFIED;
    if (!store_col_null(r, 0, 5) && hd_deadline_parse(PQgetvalue(r, 0, 5), &d) == 0)
        e->deadline = d;
    return e;
}

/* One escalation row by `sql` with parameter x; NOT_FOUND when none. */
static enum store_db_rc read_escalation(store_db *db, const char *sql, int64_t x, int64_t *id,
                                        int64_t *ticket_id, HdEscalationRequest **out)
{
    *out = NULL;
    store_params p = {0};
    store_p_int(&p, x);
    PGresult *r = store_exec(db, "escalation", sql, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    enum store_db_rc rc = STORE_DB_NOT_FOUND;
    if (PQntuples(r) == 1) {
        *out = escalation_from_row(r, id, ticket_id);
        rc = STORE_DB_OK;
    }
    PQclear(r);
    return rc;
}

enum store_db_rc store_db_get_escalation(store_db *db, int64_t id, HdTicket **ticket,
                                         HdEscalationRequest **req)
{
    *ticket = NULL;
    int64_t eid = 0, tid = 0;
    enum store_db_rc rc = read_escalation(db, SQL_GET_ESC, id, &eid, &tid, req);
    if (rc != STORE_DB_OK)
        return rc;
    HdTicketDetail *d = NULL;
    rc = store_db_get_ticket(db, tid, false, &d);
    if (rc == STORE_DB_OK) {
        *ticket = d->ticket;
        d->ticket = NULL;
        protobuf_c_message_free_unpacked(&d->base, NULL);
    } else {
        protobuf_c_message_free_unpacked(&(*req)->base, NULL);
        *req = NULL;
    }
    return rc;
}

static int mark_done(store_db *db, int64_t id, int64_t now_ms)
{
    store_params p = {0};
    store_p_int(&p, id);
    store_p_int(&p, now_ms);
    PGresult *r = store_exec(db, "escalation_done", SQL_ESC_DONE, &p);
    PQclear(r);
    return r ? 0 : -1;
}

/* With the escalation locked: lock the ticket, decide, write, mark done, commit. */
static int escalate_locked(store_db *db, int64_t esc_id, const HdEscalationRequest *req,
                           int64_t ticket_id, const HdWorkResult *r, const char *actor,
                           int64_t now_ms, bool *applied, store_events *evs)
{
    HdTicket *t = NULL;
    enum store_db_rc rc = store_lock_ticket(db, ticket_id, &t);
    int ok = rc == STORE_DB_ERROR ? -1 : 0;
    store_outcome o = {0};
    if (rc == STORE_DB_OK && store_apply_escalation(t, req, r->escalated, actor, now_ms, &o)) {
        ok = store_write_ticket(db, t, now_ms);
        if (ok == 0)
            ok = store_write_outcome(db, &o, now_ms, evs);
        *applied = ok == 0;
    }
    store_outcome_clear(&o);
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    if (ok == 0)
        ok = mark_done(db, esc_id, now_ms);
    if (ok == 0)
        ok = store_tx_commit(db);
    if (ok != 0)
        *applied = false;
    return ok;
}

enum store_db_rc store_db_apply_escalation(store_db *db, int64_t id, const HdWorkResult *r,
                                           const char *actor, int64_t now_ms, bool *applied,
                                           int64_t *done_id, store_events *evs)
{
    *applied = false;
    *done_id = 0;
    size_t mark = evs->n, mark_esc = evs->n_esc;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    int64_t eid = 0, tid = 0;
    HdEscalationRequest *req = NULL;
    enum store_db_rc rc = id > 0 ? read_escalation(db, SQL_LOCK_ESC, id, &eid, &tid, &req)
                                 : read_escalation(db, SQL_LOCK_OLDEST_ESC, r->ticket_id, &eid,
                                                   &tid, &req);
    if (rc == STORE_DB_OK && tid != r->ticket_id)
        rc = STORE_DB_NOT_FOUND; /* the lease named another ticket's escalation */
    if (rc == STORE_DB_OK &&
        escalate_locked(db, eid, req, tid, r, actor, now_ms, applied, evs) != 0)
        rc = STORE_DB_ERROR;
    if (req)
        protobuf_c_message_free_unpacked(&req->base, NULL);
    if (rc == STORE_DB_OK) {
        *done_id = eid;
        return STORE_DB_OK;
    }
    store_tx_rollback(db);
    store_events_truncate(evs, mark);
    evs->n_esc = mark_esc;
    return rc == STORE_DB_NOT_FOUND ? STORE_DB_OK : rc; /* already done: applied = false */
}

/* ---- search ---- */

enum store_db_rc store_db_search(store_db *db, const char *text, int64_t similar_to,
                                 uint32_t limit, HdSearchResults **out)
{
    *out = NULL;
    store_params p = {0};
    store_p_opt(&p, text);
    store_p_int(&p, similar_to);
    store_p_int(&p, limit);
    PGresult *r = store_exec(db, "search", SQL_SEARCH, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    HdSearchResults *s = store_zalloc(sizeof *s);
    helpdesk__v1__search_results__init(s);
    s->n_hits = (size_t)PQntuples(r);
    s->hits = s->n_hits ? store_zalloc(s->n_hits * sizeof(HdSearchHit *)) : NULL;
    for (size_t i = 0; i < s->n_hits; i++) {
        HdSearchHit *h = store_zalloc(sizeof *h);
        helpdesk__v1__search_hit__init(h);
        h->ticket = store_ticket_from_row(r, (int)i);
        h->rank = strtof(PQgetvalue(r, (int)i, TICKET_NCOLS), NULL);
        s->hits[i] = h;
    }
    PQclear(r);
    *out = s;
    return STORE_DB_OK;
}
