#include "store_db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
#include "store_dbi.h"
#include "store_migrations.h"

/* Any fixed number both hd-stores agree on: serialises migrations between them. */
#define MIGRATION_LOCK_KEY "7212001"

#define EVENT_COLS                                                                            \
    "seq, ticket_id, kind, actor, " MS("at") ", status, priority, queue, tier, rule, text, "   \
    "reason, deadline, deadline_at, channel, recipient, outcome, assignee, key, satisfied, "   \
    "direction, attempt, from_tier, subject FROM ticket_events "

/* Not prepared: a plan made once for every combination of filters reads the whole table (and
 * sorts it) for each page; planned with the request's own filters it takes the index that
 * fits them (test_store_plans). */
#define SQL_LIST                                                                               \
    "SELECT " TICKET_COLS "WHERE ($1::text IS NULL OR t.queue = $1) "                          \
    "AND ($2::text IS NULL OR t.status = $2) "                                                 \
    "AND ($3::smallint IS NULL OR t.priority = $3) "                                           \
    "AND t.id > $4 AND (NOT $6::bool OR t.status NOT IN ('resolved', 'closed')) "              \
    "AND ($7::int8 IS NULL OR t.contact_id = $7) "                                             \
    "AND ($8::text IS NULL OR t.assignee = $8) "                                               \
    "ORDER BY t.id LIMIT $5"

enum stmt {
    S_INS_CONTACT,
    S_SEL_CONTACT,
    S_CONTACT_TICKETS,
    S_INS_TICKET,
    S_INS_EVENT,
    S_SEL_TICKET,
    S_HISTORY,
    S_EVENTS,
    S_GET_CURSOR,
    S_COMMIT_CURSOR,
    S_PRIORITIZE,
    S_ROUTE,
    S_IDS_BY_STATUS,
    S_MAX_SEQ,
    S_COUNT
};

static const struct {
    const char *name;
    const char *sql;
} stmts[S_COUNT] = {
    [S_INS_CONTACT] = {"ins_contact",
                       "INSERT INTO contacts (source, external_id, channel, agent, received_at, "
                       "customer_name, customer_email, customer_phone, customer_language, "
                       "organization, vip, account_number, contract_level, product, site, "
                       "contact_pb, created_at) VALUES ($1, $2, $3, $4, " TS("$5") ", $6, $7, "
                       "$8, $9, $10, $11, $12, $13, $14, $15, $16, " TS("$17") ") "
                       "ON CONFLICT (source, external_id) DO NOTHING RETURNING id"},
    [S_SEL_CONTACT] = {"sel_contact",
                       "SELECT id FROM contacts WHERE source = $1 AND external_id = $2"},
    [S_CONTACT_TICKETS] = {"contact_tickets",
                           "SELECT id FROM tickets WHERE contact_id = $1 ORDER BY problem_index"},
    [S_INS_TICKET] = {"ins_ticket",
                      "INSERT INTO tickets (contact_id, problem_index, status, category, summary, "
                      "description, users_affected, urgency, impact, created_at, updated_at) "
                      "VALUES ($1, $2, 'new', $3, $4, $5, $6, $7, $8, " TS("$9") ", " TS("$9") ") "
                      "RETURNING id"},
    [S_INS_EVENT] = {"ins_event",
                     "INSERT INTO ticket_events (seq, ticket_id, kind, actor, at, status, "
                     "priority, queue, tier, rule, text, reason, deadline, deadline_at, channel, "
                     "recipient, outcome, assignee, key, satisfied, direction, attempt, "
                     "from_tier, subject) VALUES ($1, $2, $3, $4, " TS("$5") ", $6, $7, $8, $9, "
                     "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, "
                     "$24)"},
    [S_SEL_TICKET] = {"sel_ticket", "SELECT " TICKET_COLS "WHERE t.id = $1"},
    [S_HISTORY] = {"history", "SELECT " EVENT_COLS "WHERE ticket_id = $1 ORDER BY seq"},
    [S_EVENTS] = {"events_since", "SELECT " EVENT_COLS "WHERE seq > $1 ORDER BY seq LIMIT $2"},
    [S_GET_CURSOR] = {"get_cursor", "SELECT seq FROM consumer_cursors WHERE consumer = $1"},
    [S_COMMIT_CURSOR] = {"commit_cursor",
                         "INSERT INTO consumer_cursors (consumer, seq, updated_at) "
                         "VALUES ($1, $2, now()) ON CONFLICT (consumer) DO UPDATE "
                         "SET seq = GREATEST(consumer_cursors.seq, EXCLUDED.seq), "
                         "updated_at = now() RETURNING seq"},
    [S_PRIORITIZE] = {"prioritize",
                      "UPDATE tickets SET status = 'triaged', priority = $2, priority_rule = $3, "
                      "first_response_due = " TS("$4") ", update_interval_ms = $5, "
                      "resolution_due = " TS("$6") ", tier2_escalation_due = " TS("$7") ", "
                      "tier3_escalation_due = " TS("$8") ", updated_at = " TS("$9") ", "
                      "next_update_due = CASE WHEN $5::int8 > 0 THEN created_at + "
                      "$5::int8 * interval '1 millisecond' END "
                      "WHERE id = $1 AND status = 'new' RETURNING queue, tier"},
    [S_ROUTE] = {"route",
                 "UPDATE tickets SET status = 'queued', queue = $2, tier = $3, assignee = $4, "
                 "route_rule = $5, updated_at = " TS("$6") " "
                 "WHERE id = $1 AND status = 'triaged' RETURNING priority"},
    [S_IDS_BY_STATUS] = {"ids_by_status", "SELECT id FROM tickets WHERE status = $1 ORDER BY id"},
    [S_MAX_SEQ] = {"max_seq", "SELECT coalesce(max(seq), 0) FROM ticket_events"},
};

/* ---- parameters ---- */


void store_p_text(store_params *p, const char *s)
{
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

/* "" becomes NULL: unset optional fields stay NULL in the table. */
void store_p_opt(store_params *p, const char *s)
{
    store_p_text(p, s && s[0] ? s : NULL);
}

void store_p_int(store_params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)x);
    store_p_text(p, p->num[p->n]);
}

/* 0 becomes NULL. */
void store_p_int_opt(store_params *p, int64_t x)
{
    if (x)
        store_p_int(p, x);
    else
        store_p_text(p, NULL);
}

void store_p_bool(store_params *p, bool b)
{
    store_p_text(p, b ? "true" : "false");
}

void store_p_bytes(store_params *p, const void *b, size_t len)
{
    p->v[p->n] = b;
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

/* ---- execution ---- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Server messages span lines and quote names; a log value must be one quoted line. */
static void oneline(char *s)
{
    for (; *s; s++) {
        if (*s == '\n' || *s == '\t' || *s == '\r')
            *s = ' ';
        else if (*s == '"')
            *s = '\'';
    }
}

/* Data exceptions (class 22) and the constraints a retry cannot satisfy: not null, foreign
 * key, check. A unique violation is not one: a retry finds the row that won. */
static bool refused_for_data(const char *state)
{
    return state && (strncmp(state, "22", 2) == 0 || strcmp(state, "23502") == 0 ||
                     strcmp(state, "23503") == 0 || strcmp(state, "23514") == 0);
}

static void note_refusal(store_db *db, const PGresult *r)
{
    const char *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
    const char *con = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    snprintf(db->refused_field, sizeof db->refused_field, "%s", col ? col : con ? con : "");
    snprintf(db->refused_why, sizeof db->refused_why, "%s", msg && msg[0] ? msg : "refused");
    oneline(db->refused_why);
}

/* Logs a failed statement on one line and notes whether the connection is gone, or whether
 * the database refused the request's data. */
static void db_fail(store_db *db, const char *what, const PGresult *r)
{
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char line[512];
    snprintf(line, sizeof line, "%s", msg && msg[0] ? msg : "no message");
    oneline(line);
    if (PQstatus(db->conn) != CONNECTION_OK)
        db->broken = true;
    else if (r && refused_for_data(state))
        note_refusal(db, r);
    hd_error("event=db_error statement=%s sqlstate=%s connection=%s error=\"%s\"", what,
             state ? state : "-", db->broken ? "lost" : "ok", line);
}

bool store_db_refusal(const store_db *db, const char **field, const char **why)
{
    *field = db->refused_field;
    *why = db->refused_why;
    return db->refused_why[0] != '\0';
}

static void forget_refusal(store_db *db)
{
    db->refused_field[0] = '\0';
    db->refused_why[0] = '\0';
}

static PGresult *run(store_db *db, enum stmt s, const store_params *p)
{
    if (db->broken) /* logged when it broke; the loop is reconnecting */
        return NULL;
    PGresult *r = PQexecPrepared(db->conn, stmts[s].name, p->n, p->v, p->len, p->fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    db_fail(db, stmts[s].name, r);
    PQclear(r);
    return NULL;
}

void store_fail(store_db *db, const char *what, const PGresult *r)
{
    db_fail(db, what, r);
}

/* A statement prepared under `name` (store_prepare); NULL (logged, broken noted) on failure. */
PGresult *store_exec_prepared(store_db *db, const char *name, const store_params *p)
{
    if (db->broken)
        return NULL;
    PGresult *r = PQexecPrepared(db->conn, name, p->n, p->v, p->len, p->fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    db_fail(db, name, r);
    PQclear(r);
    return NULL;
}

int store_prepare(store_db *db, const char *name, const char *sql)
{
    PGresult *r = PQprepare(db->conn, name, sql, 0, NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        db_fail(db, name, r);
    PQclear(r);
    return rc;
}

PGresult *store_exec(store_db *db, const char *what, const char *sql, const store_params *p)
{
    if (db->broken)
        return NULL;
    PGresult *r = PQexecParams(db->conn, sql, p->n, NULL, p->v, p->len, p->fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    db_fail(db, what, r);
    PQclear(r);
    return NULL;
}

/* A statement without parameters; -1 on failure. `tag`, when given, must match the command
 * status (COMMIT of an aborted transaction "succeeds" with ROLLBACK). */
static int simple(store_db *db, const char *sql, const char *tag)
{
    if (db->broken)
        return -1;
    PGresult *r = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (ok && tag && strcmp(PQcmdStatus(r), tag) != 0)
        ok = 0;
    if (!ok)
        db_fail(db, sql, r);
    PQclear(r);
    return ok ? 0 : -1;
}

/* A statement without parameters (SAVEPOINT, ROLLBACK TO ...); 0 or -1 (logged). */
int store_exec_simple(store_db *db, const char *sql)
{
    return simple(db, sql, NULL);
}

/* Inside a group the request's savepoint (store_db_request_begin) is its transaction:
 * BEGIN and COMMIT are no-ops there, ROLLBACK goes back to the savepoint. */
int store_tx_begin(store_db *db)
{
    if (db->in_group)
        return db->broken || !db->in_request ? -1 : 0;
    forget_refusal(db);
    db->seq_at_begin = db->last_seq;
    return simple(db, "BEGIN", NULL);
}

int store_tx_commit(store_db *db)
{
    if (db->in_group)
        return db->broken ? -1 : 0;
    if (simple(db, "COMMIT", "COMMIT") == 0)
        return 0;
    db->last_seq = db->seq_at_begin;
    return -1;
}

void store_tx_rollback(store_db *db)
{
    if (db->in_group) {
        if (db->in_request)
            (void)simple(db, "ROLLBACK TO SAVEPOINT hd_request", NULL);
        db->last_seq = db->seq_at_begin;
        return;
    }
    if (!db->broken && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        (void)simple(db, "ROLLBACK", NULL);
    db->last_seq = db->seq_at_begin;
}

/* No round trip of its own: BEGIN goes out with the group's first statement (the batch's
 * pipeline or the first request's savepoint). */
int store_db_group_begin(store_db *db)
{
    forget_refusal(db);
    db->seq_at_group = db->seq_at_begin = db->last_seq;
    db->sp_pending = false;
    if (db->broken)
        return -1;
    db->in_group = true;
    db->begin_pending = true;
    return 0;
}

int store_db_request_begin(store_db *db)
{
    if (!db->in_group || db->in_request)
        return -1;
    forget_refusal(db);
    db->seq_at_begin = db->last_seq;
    /* One round trip instead of two: the previous request's RELEASE (or the group's BEGIN)
     * rides with this one. */
    const char *sql = db->begin_pending ? "BEGIN; SAVEPOINT hd_request"
                      : db->sp_pending  ? "RELEASE SAVEPOINT hd_request; SAVEPOINT hd_request"
                                        : "SAVEPOINT hd_request";
    db->sp_pending = false;
    int rc = simple(db, sql, NULL);
    /* Once a transaction is open (even if the savepoint failed), COMMIT must end it. */
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        db->begin_pending = false;
    if (rc != 0)
        return -1;
    db->in_request = true;
    return 0;
}

/* A statement that failed outside the request's own rollback (a read, commit_cursor) left
 * the group's transaction aborted: undo just this request so the others can still commit. */
void store_db_request_end(store_db *db)
{
    if (!db->in_request)
        return;
    db->in_request = false;
    if (db->broken)
        return;
    if (PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
        (void)simple(db, "ROLLBACK TO SAVEPOINT hd_request", NULL);
        db->last_seq = db->seq_at_begin;
    }
    db->sp_pending = true; /* COMMIT releases the last one */
}

int store_db_group_commit(store_db *db)
{
    int rc = -1;
    if (db->in_group && db->begin_pending) { /* nothing ran: nothing to commit */
        db->in_group = false;
        db->begin_pending = false;
        return 0;
    }
    if (db->in_group) {
        db->in_group = false;
        db->in_request = false;
        db->sp_pending = false;
        rc = simple(db, "COMMIT", "COMMIT");
        if (rc != 0 && !db->broken && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
            (void)simple(db, "ROLLBACK", NULL);
    }
    if (rc != 0)
        db->last_seq = db->seq_at_group;
    return rc;
}

/* ---- columns to protobuf ---- */

bool store_col_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

int64_t store_col_i64(const PGresult *r, int row, int col)
{
    return store_col_null(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

char *store_col_str(const PGresult *r, int row, int col)
{
    return store_strdup(store_col_null(r, row, col) ? "" : PQgetvalue(r, row, col));
}

void *store_zalloc(size_t n)
{
    void *p = calloc(1, n);
    if (p == NULL)
        abort();
    return p;
}

HdTicketEvent *store_event_from_row(const PGresult *r, int row)
{
    HdTicketEvent *e = store_zalloc(sizeof *e);
    helpdesk__v1__ticket_event__init(e);
    Helpdesk__V1__Status status = HELPDESK__V1__STATUS__STATUS_UNSPECIFIED;
    e->seq = store_col_i64(r, row, 0);
    e->ticket_id = store_col_i64(r, row, 1);
    e->kind = store_event_kind_parse(PQgetvalue(r, row, 2));
    e->actor = store_col_str(r, row, 3);
    e->at = store_col_i64(r, row, 4);
    if (hd_status_parse(PQgetvalue(r, row, 5), &status) == 0)
        e->status = status;
    e->priority = (Helpdesk__V1__Priority)store_col_i64(r, row, 6);
    e->queue = store_col_str(r, row, 7);
    e->tier = (uint32_t)store_col_i64(r, row, 8);
    e->rule = store_col_str(r, row, 9);
    e->text = store_col_str(r, row, 10);
    e->reason = store_col_str(r, row, 11);
    Helpdesk__V1__Deadline dl = HELPDESK__V1__DEADLINE__DEADLINE_UNSPECIFIED;
    if (!store_col_null(r, row, 12) && hd_deadline_parse(PQgetvalue(r, row, 12), &dl) == 0)
        e->deadline = dl;
    e->deadline_at = store_col_i64(r, row, 13);
    e->channel = store_col_str(r, row, 14);
    e->recipient = store_col_str(r, row, 15);
    e->outcome = store_col_str(r, row, 16);
    e->assignee = store_col_str(r, row, 17);
    e->key = store_col_str(r, row, 18);
    e->satisfied = (int32_t)store_col_i64(r, row, 19);
    e->direction = store_col_str(r, row, 20);
    e->attempt = (uint32_t)store_col_i64(r, row, 21);
    e->from_tier = (uint32_t)store_col_i64(r, row, 22);
    e->subject = store_col_str(r, row, 23);
    return e;
}

/* Customer, account and location come from the packed contact, so they round-trip whole. */
static void ticket_take_contact(HdTicket *t, const char *escaped)
{
    size_t len = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)escaped, &len);
    HdContact *c = raw ? helpdesk__v1__contact__unpack(NULL, len, raw) : NULL;
    PQfreemem(raw);
    if (c == NULL) {
        hd_warn("event=contact_unreadable ticket_id=%lld", (long long)t->id);
        return;
    }
    t->customer = c->customer;
    t->account = c->account;
    t->location = c->location;
    c->customer = NULL;
    c->account = NULL;
    c->location = NULL;
    protobuf_c_message_free_unpacked(&c->base, NULL);
}

/* The five SLA columns starting at column `col`; NULL when all are unset (before triage). */
HdSlaDeadlines *store_sla_from_row(const PGresult *r, int row, int col)
{
    int64_t v[5];
    for (int i = 0; i < 5; i++)
        v[i] = store_col_i64(r, row, col + i);
    if (!v[0] && !v[1] && !v[2] && !v[3] && !v[4])
        return NULL;
    HdSlaDeadlines *s = store_zalloc(sizeof *s);
    helpdesk__v1__sla_deadlines__init(s);
    s->first_response_due = v[0];
    s->update_interval_ms = v[1];
    s->resolution_due = v[2];
    s->tier2_escalation_due = v[3];
    s->tier3_escalation_due = v[4];
    return s;
}

static HdProblem *problem_from_row(const PGresult *r, int row)
{
    HdProblem *p = store_zalloc(sizeof *p);
    helpdesk__v1__problem__init(p);
    p->category = store_col_str(r, row, 21);
    p->summary = store_col_str(r, row, 22);
    p->description = store_col_str(r, row, 23);
    p->users_affected = (uint32_t)store_col_i64(r, row, 24);
    p->urgency = (Helpdesk__V1__Level)store_col_i64(r, row, 25);
    p->impact = (Helpdesk__V1__Level)store_col_i64(r, row, 26);
    return p;
}

HdTicket *store_ticket_from_row(const PGresult *r, int row)
{
    HdTicket *t = store_zalloc(sizeof *t);
    helpdesk__v1__ticket__init(t);
    Helpdesk__V1__Status status = HELPDESK__V1__STATUS__STATUS_UNSPECIFIED;
    Helpdesk__V1__Channel channel = HELPDESK__V1__CHANNEL__CHANNEL_UNSPECIFIED;
    t->id = store_col_i64(r, row, 0);
    t->contact_id = store_col_i64(r, row, 1);
    t->problem_index = (uint32_t)store_col_i64(r, row, 2);
    if (hd_status_parse(PQgetvalue(r, row, 3), &status) == 0)
        t->status = status;
    t->priority = (Helpdesk__V1__Priority)store_col_i64(r, row, 4);
    t->queue = store_col_str(r, row, 5);
    t->tier = (uint32_t)store_col_i64(r, row, 6);
    t->assignee = store_col_str(r, row, 7);
    if (hd_channel_parse(PQgetvalue(r, row, 8), &channel) == 0)
        t->channel = channel;
    t->source = store_col_str(r, row, 9);
    t->external_id = store_col_str(r, row, 10);
    ticket_take_contact(t, PQgetvalue(r, row, 11));
    t->priority_rule = store_col_str(r, row, 12);
    t->route_rule = store_col_str(r, row, 13);
    t->sla = store_sla_from_row(r, row, 14);
    t->created_at = store_col_i64(r, row, 19);
    t->updated_at = store_col_i64(r, row, 20);
    t->problem = problem_from_row(r, row);
    t->first_response_at = store_col_i64(r, row, 27);
    t->next_update_due = store_col_i64(r, row, 28);
    t->paused_at = store_col_i64(r, row, 29);
    t->resolved_at = store_col_i64(r, row, 30);
    t->closed_at = store_col_i64(r, row, 31);
    t->solution = store_col_str(r, row, 32);
    t->satisfaction = (int32_t)store_col_i64(r, row, 33);
    return t;
}

HdTicketEvent *store_event_new(int64_t ticket_id, Helpdesk__V1__EventKind kind,
                                const char *actor, int64_t at, Helpdesk__V1__Status status)
{
    HdTicketEvent *e = store_zalloc(sizeof *e);
    helpdesk__v1__ticket_event__init(e);
    e->ticket_id = ticket_id;
    e->kind = kind;
    e->actor = store_strdup(actor);
    e->at = at;
    e->status = status;
    return e;
}

/* Gives the event the next seq and inserts it; the caller's transaction owns both. */
int store_insert_event(store_db *db, HdTicketEvent *e)
{
    e->seq = ++db->last_seq;
    store_params p = {0};
    store_p_int(&p, e->seq);
    store_p_int(&p, e->ticket_id);
    store_p_text(&p, hd_event_kind_name(e->kind));
    store_p_text(&p, e->actor);
    store_p_int(&p, e->at);
    store_p_text(&p, hd_status_name(e->status));
    store_p_int_opt(&p, e->priority);
    store_p_opt(&p, e->queue);
    store_p_int_opt(&p, e->tier);
    store_p_opt(&p, e->rule);
    store_p_text(&p, e->text ? e->text : "");
    store_p_text(&p, e->reason ? e->reason : "");
    store_p_text(&p, e->deadline ? hd_deadline_name(e->deadline) : NULL);
    store_p_int_opt(&p, e->deadline_at);
    store_p_text(&p, e->channel ? e->channel : "");
    store_p_text(&p, e->recipient ? e->recipient : "");
    store_p_text(&p, e->outcome ? e->outcome : "");
    store_p_text(&p, e->assignee ? e->assignee : "");
    store_p_text(&p, e->key ? e->key : "");
    store_p_int(&p, e->satisfied);
    store_p_text(&p, e->direction ? e->direction : "");
    store_p_int(&p, e->attempt);
    store_p_int(&p, e->from_tier);
    store_p_text(&p, e->subject ? e->subject : "");
    PGresult *r = run(db, S_INS_EVENT, &p);
    PQclear(r);
    return r ? 0 : -1;
}

/* ---- connection, migrations, statements ---- */

/* The session's settings, then its statements. A prepared statement keeps the plan PostgreSQL
 * made with the statistics of its moment: on a fresh database, or after an ANALYZE of a table
 * still small, reading a whole table looks cheapest, and the plan stays while the table grows
 * (until the next ANALYZE, a minute or more later under autovacuum). Every statement of the store
 * finds its rows by a key, so its session never reads a table whole when an index can do
 * (enable_seqscan off only makes that the planner's last resort); test_store_plans holds the
 * plans to it on empty and on small analysed tables. */
static int prepare_all(store_db *db)
{
    if (simple(db, "SET enable_seqscan = off", NULL) != 0 || store_batch_prepare(db) != 0)
        return -1;
    for (int i = 0; i < S_COUNT; i++) {
        PGresult *r = PQprepare(db->conn, stmts[i].name, stmts[i].sql, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            db_fail(db, stmts[i].name, r);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

static int load_seq(store_db *db)
{
    store_params p = {0};
    PGresult *r = run(db, S_MAX_SEQ, &p);
    if (r == NULL)
        return -1;
    db->last_seq = db->seq_at_begin = store_col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static bool migration_done(store_db *db, int version, int *failed)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *vals[1] = {v};
    PGresult *r = PQexecParams(db->conn, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                               NULL, vals, NULL, NULL, 0);
    *failed = PQresultStatus(r) != PGRES_TUPLES_OK;
    if (*failed)
        db_fail(db, "schema_migrations", r);
    bool done = !*failed && PQntuples(r) > 0;
    PQclear(r);
    return done;
}

static int apply_migration(store_db *db, const store_migration *m)
{
    char v[16];
    snprintf(v, sizeof v, "%d", m->version);
    const char *vals[1] = {v};
    if (simple(db, "BEGIN", NULL) != 0)
        return -1;
    if (simple(db, m->sql, NULL) != 0)
        goto fail;
    PGresult *r = PQexecParams(db->conn, "INSERT INTO schema_migrations (version) VALUES ($1)",
                               1, NULL, vals, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        db_fail(db, "schema_migrations", r);
    PQclear(r);
    if (!ok || simple(db, "COMMIT", "COMMIT") != 0)
        goto fail;
    hd_info("event=migration_applied version=%d name=\"%s\"", m->version, m->name);
    return 0;
fail:
    (void)simple(db, "ROLLBACK", NULL);
    return -1;
}

/* Under a session advisory lock, so two stores starting at once apply each version once. */
static int migrate(store_db *db)
{
    if (simple(db, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", NULL) != 0)
        return -1;
    int rc = simple(db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                    "applied_at timestamptz NOT NULL DEFAULT now())",
                    NULL);
    for (size_t i = 0; rc == 0 && i < store_migrations_count; i++) {
        int failed = 0;
        if (!migration_done(db, store_migrations[i].version, &failed) && !failed)
            rc = apply_migration(db, &store_migrations[i]);
        if (failed)
            rc = -1;
    }
    if (simple(db, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", NULL) != 0)
        rc = -1;
    return rc;
}

static PGconn *connect_db(const char *url)
{
    /* The URL comes last so its own settings win over these defaults. */
    const char *keys[] = {"application_name", "client_encoding", "connect_timeout", "dbname",
                          NULL};
    const char *vals[] = {"hd-store", "UTF8", "5", url, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn)
        PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

store_db *store_db_open(const char *url, char *err, size_t errlen)
{
    store_db *db = store_zalloc(sizeof *db);
    db->conn = connect_db(url);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
                 db->conn ? PQerrorMessage(db->conn) : "out of memory");
        oneline(err);
        store_db_destroy(&db);
        return NULL;
    }
    const char *enc = PQparameterStatus(db->conn, "server_encoding");
    if (enc == NULL || strcmp(enc, "UTF8") != 0) {
        snprintf(err, errlen,
                 "the database's server_encoding is %s, but tickets hold text in every script: "
                 "create the database with ENCODING 'UTF8'",
                 enc ? enc : "unknown");
        store_db_destroy(&db);
        return NULL;
    }
    if (migrate(db) != 0 || prepare_all(db) != 0 || load_seq(db) != 0) {
        snprintf(err, errlen, "cannot set up the schema: %s", PQerrorMessage(db->conn));
        oneline(err);
        store_db_destroy(&db);
        return NULL;
    }
    return db;
}

void store_db_destroy(store_db **db)
{
    if (db == NULL || *db == NULL)
        return;
    if ((*db)->conn)
        PQfinish((*db)->conn);
    free(*db);
    *db = NULL;
}

bool store_db_broken(const store_db *db)
{
    return db->broken;
}

int store_db_reconnect(store_db *db)
{
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char line[256];
        snprintf(line, sizeof line, "%s", PQerrorMessage(db->conn));
        oneline(line);
        hd_warn("event=db_reconnect_failed error=\"%s\"", line);
        db->broken = true;
        return -1;
    }
    db->broken = false;
    if (prepare_all(db) != 0 || load_seq(db) != 0) {
        db->broken = true;
        return -1;
    }
    hd_info("event=db_reconnected last_seq=%lld", (long long)db->last_seq);
    return 0;
}

int64_t store_db_last_seq(const store_db *db)
{
    return db->last_seq;
}

/* ---- operations ---- */

HdContactReceipt *store_receipt_new(int64_t contact_id, size_t n, bool duplicate)
{
    HdContactReceipt *rc = store_zalloc(sizeof *rc);
    helpdesk__v1__contact_receipt__init(rc);
    rc->contact_id = contact_id;
    rc->duplicate = duplicate;
    rc->n_ticket_ids = n;
    rc->ticket_ids = store_zalloc((n ? n : 1) * sizeof *rc->ticket_ids);
    return rc;
}

/* The receipt of a contact taken before: its ticket ids in problem order. */
static enum store_db_rc read_receipt(store_db *db, const HdContact *c, HdContactReceipt **out)
{
    store_params p = {0};
    store_p_text(&p, c->source);
    store_p_text(&p, c->external_id);
    PGresult *r = run(db, S_SEL_CONTACT, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    if (PQntuples(r) == 0) { /* cannot happen after a conflict; answer "retry" anyway */
        PQclear(r);
        hd_error("event=duplicate_contact_missing source=\"%s\"", c->source);
        return STORE_DB_ERROR;
    }
    int64_t contact_id = store_col_i64(r, 0, 0);
    PQclear(r);
    store_params q = {0};
    store_p_int(&q, contact_id);
    r = run(db, S_CONTACT_TICKETS, &q);
    if (r == NULL)
        return STORE_DB_ERROR;
    HdContactReceipt *rc = store_receipt_new(contact_id, (size_t)PQntuples(r), true);
    for (int i = 0; i < PQntuples(r); i++)
        rc->ticket_ids[i] = store_col_i64(r, i, 0);
    PQclear(r);
    *out = rc;
    return STORE_DB_OK;
}

static PGresult *insert_contact(store_db *db, const HdContact *c, int64_t now_ms)
{
    size_t len = protobuf_c_message_get_packed_size(&c->base);
    uint8_t *pb = malloc(len ? len : 1);
    if (pb == NULL)
        abort();
    protobuf_c_message_pack(&c->base, pb);
    const HdCustomer *cu = c->customer;
    const HdAccount *ac = c->account;
    store_params p = {0};
    store_p_text(&p, c->source);
    store_p_text(&p, c->external_id);
    store_p_text(&p, hd_channel_name(c->channel));
    store_p_text(&p, c->agent ? c->agent : "");
    store_p_int(&p, c->received_at > 0 ? c->received_at : now_ms);
    store_p_opt(&p, cu ? cu->name : NULL);
    store_p_opt(&p, cu ? cu->email : NULL);
    store_p_opt(&p, cu ? cu->phone : NULL);
    store_p_opt(&p, cu ? cu->language : NULL);
    store_p_opt(&p, cu ? cu->organization : NULL);
    store_p_text(&p, cu && cu->vip ? "true" : "false");
    store_p_opt(&p, ac ? ac->account_number : NULL);
    store_p_opt(&p, ac ? ac->contract_level : NULL);
    store_p_opt(&p, ac ? ac->product : NULL);
    store_p_opt(&p, c->location ? c->location->site : NULL);
    store_p_bytes(&p, pb, len);
    store_p_int(&p, now_ms);
    PGresult *r = run(db, S_INS_CONTACT, &p);
    free(pb);
    return r;
}

static int insert_ticket(store_db *db, const HdContact *c, int64_t contact_id, size_t i,
                         int64_t now_ms, int64_t *id)
{
    const HdProblem *pr = c->problems[i];
    store_params p = {0};
    store_p_int(&p, contact_id);
    store_p_int(&p, (int64_t)i);
    store_p_text(&p, pr->category ? pr->category : "");
    store_p_text(&p, pr->summary ? pr->summary : "");
    store_p_text(&p, pr->description ? pr->description : "");
    store_p_int(&p, pr->users_affected);
    store_p_int(&p, pr->urgency);
    store_p_int(&p, pr->impact);
    store_p_int(&p, now_ms);
    PGresult *r = run(db, S_INS_TICKET, &p);
    if (r == NULL)
        return -1;
    *id = store_col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* Frees the events pushed since `mark` (their transaction did not commit). */
void store_events_truncate(store_events *evs, size_t mark)
{
    for (size_t i = mark; i < evs->n; i++)
        protobuf_c_message_free_unpacked(&evs->v[i]->base, NULL);
    evs->n = mark;
}

static int create_one(store_db *db, const HdContact *c, int64_t contact_id, size_t i,
                      int64_t now_ms, int64_t *id, store_events *evs)
{
    if (insert_ticket(db, c, contact_id, i, now_ms, id) != 0)
        return -1;
    char text[512];
    store_text_created(text, sizeof text, c, i);
    HdTicketEvent *e = store_event_new(*id, HELPDESK__V1__EVENT_KIND__EVENT_CREATED, "intake", now_ms,
                                 HELPDESK__V1__STATUS__STATUS_NEW);
    e->text = store_strdup(text);
    store_events_push(evs, e);
    return store_insert_event(db, e);
}

enum store_db_rc store_db_create_tickets(store_db *db, const HdContact *c, int64_t now_ms,
                                         HdContactReceipt **out, store_events *evs)
{
    *out = NULL;
    size_t mark = evs->n;
    HdContactReceipt *rc = NULL;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    PGresult *r = insert_contact(db, c, now_ms);
    if (r == NULL)
        goto fail;
    if (PQntuples(r) == 0) { /* ON CONFLICT DO NOTHING: this contact was taken before */
        PQclear(r);
        enum store_db_rc res = read_receipt(db, c, out);
        store_tx_rollback(db);
        return res;
    }
    int64_t contact_id = store_col_i64(r, 0, 0);
    PQclear(r);
    rc = store_receipt_new(contact_id, c->n_problems, false);
    for (size_t i = 0; i < c->n_problems; i++)
        if (create_one(db, c, contact_id, i, now_ms, &rc->ticket_ids[i], evs) != 0)
            goto fail;
    if (store_tx_commit(db) != 0)
        goto fail;
    *out = rc;
    return STORE_DB_OK;
fail:
    store_tx_rollback(db);
    store_events_truncate(evs, mark);
    if (rc)
        protobuf_c_message_free_unpacked(&rc->base, NULL);
    return STORE_DB_ERROR;
}

static enum store_db_rc read_history(store_db *db, HdTicketDetail *d)
{
    store_params p = {0};
    store_p_int(&p, d->ticket->id);
    PGresult *r = run(db, S_HISTORY, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    size_t n = (size_t)PQntuples(r);
    d->n_history = n;
    d->history = n ? store_zalloc(n * sizeof(HdTicketEvent *)) : NULL;
    for (size_t i = 0; i < n; i++)
        d->history[i] = store_event_from_row(r, (int)i);
    PQclear(r);
    return STORE_DB_OK;
}

enum store_db_rc store_db_get_ticket(store_db *db, int64_t id, bool history, HdTicketDetail **out)
{
    *out = NULL;
    store_params p = {0};
    store_p_int(&p, id);
    PGresult *r = run(db, S_SEL_TICKET, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return STORE_DB_NOT_FOUND;
    }
    HdTicketDetail *d = store_zalloc(sizeof *d);
    helpdesk__v1__ticket_detail__init(d);
    d->ticket = store_ticket_from_row(r, 0);
    PQclear(r);
    if (history && read_history(db, d) != STORE_DB_OK) {
        protobuf_c_message_free_unpacked(&d->base, NULL);
        return STORE_DB_ERROR;
    }
    *out = d;
    return STORE_DB_OK;
}

enum store_db_rc store_db_list_tickets(store_db *db, const HdListTickets *f, uint32_t limit,
                                       HdTicketList **out)
{
    *out = NULL;
    store_params p = {0};
    store_p_opt(&p, f->queue);
    store_p_text(&p, f->status ? hd_status_name(f->status) : NULL);
    store_p_int_opt(&p, f->priority);
    store_p_int(&p, f->after_id);
    store_p_int(&p, limit);
    store_p_bool(&p, f->open_only);
    store_p_int_opt(&p, f->contact_id);
    store_p_opt(&p, f->assignee);
    PGresult *r = store_exec(db, "list_tickets", SQL_LIST, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    HdTicketList *l = store_zalloc(sizeof *l);
    helpdesk__v1__ticket_list__init(l);
    l->n_tickets = (size_t)PQntuples(r);
    l->tickets = l->n_tickets ? store_zalloc(l->n_tickets * sizeof(HdTicket *)) : NULL;
    for (size_t i = 0; i < l->n_tickets; i++)
        l->tickets[i] = store_ticket_from_row(r, (int)i);
    PQclear(r);
    *out = l;
    return STORE_DB_OK;
}

enum store_db_rc store_db_events_since(store_db *db, int64_t after_seq, uint32_t limit,
                                       HdEventBatch **out)
{
    *out = NULL;
    store_params p = {0};
    store_p_int(&p, after_seq);
    store_p_int(&p, limit);
    PGresult *r = run(db, S_EVENTS, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    HdEventBatch *b = store_zalloc(sizeof *b);
    helpdesk__v1__event_batch__init(b);
    b->n_events = (size_t)PQntuples(r);
    b->events = b->n_events ? store_zalloc(b->n_events * sizeof(HdTicketEvent *)) : NULL;
    for (size_t i = 0; i < b->n_events; i++)
        b->events[i] = store_event_from_row(r, (int)i);
    b->last_seq = db->last_seq;
    PQclear(r);
    *out = b;
    return STORE_DB_OK;
}

enum store_db_rc store_db_get_cursor(store_db *db, const char *consumer, int64_t *seq)
{
    store_params p = {0};
    store_p_text(&p, consumer);
    PGresult *r = run(db, S_GET_CURSOR, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    *seq = PQntuples(r) ? store_col_i64(r, 0, 0) : 0;
    PQclear(r);
    return STORE_DB_OK;
}

enum store_db_rc store_db_commit_cursor(store_db *db, const char *consumer, int64_t seq,
                                        int64_t *out)
{
    store_params p = {0};
    store_p_text(&p, consumer);
    store_p_int(&p, seq);
    PGresult *r = run(db, S_COMMIT_CURSOR, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    *out = store_col_i64(r, 0, 0);
    PQclear(r);
    return STORE_DB_OK;
}

/* The UPDATE of a prioritized result; NULL on error, no rows when the ticket moved on. */
static PGresult *update_prioritized(store_db *db, int64_t id, const HdPrioritizeResult *pr,
                                    int64_t now_ms)
{
    const HdSlaDeadlines *s = pr->sla;
    store_params p = {0};
    store_p_int(&p, id);
    store_p_int(&p, pr->priority);
    store_p_opt(&p, pr->rule);
    store_p_int_opt(&p, s ? s->first_response_due : 0);
    store_p_int_opt(&p, s ? s->update_interval_ms : 0);
    store_p_int_opt(&p, s ? s->resolution_due : 0);
    store_p_int_opt(&p, s ? s->tier2_escalation_due : 0);
    store_p_int_opt(&p, s ? s->tier3_escalation_due : 0);
    store_p_int(&p, now_ms);
    return run(db, S_PRIORITIZE, &p);
}

static PGresult *update_routed(store_db *db, int64_t id, const HdRouteResult *ro, int64_t now_ms)
{
    store_params p = {0};
    store_p_int(&p, id);
    store_p_text(&p, ro->queue);
    store_p_int(&p, ro->tier ? ro->tier : 1);
    store_p_opt(&p, ro->assignee);
    store_p_opt(&p, ro->rule);
    store_p_int(&p, now_ms);
    return run(db, S_ROUTE, &p);
}

/* The event for an applied result: from the result, and from the row the UPDATE returned
 * the ticket's queue and tier (prioritized) or priority (routed). */
HdTicketEvent *store_result_event(const HdWorkResult *res, const char *actor, int64_t now_ms,
                                  const char *queue, int64_t tier, int64_t priority)
{
    char text[512];
    HdTicketEvent *e;
    if (res->result_case == HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED) {
        e = store_event_new(res->ticket_id, HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED, actor, now_ms,
                            HELPDESK__V1__STATUS__STATUS_TRIAGED);
        e->priority = res->prioritized->priority;
        e->queue = store_strdup(queue);
        e->tier = (uint32_t)tier;
        e->rule = store_strdup(res->prioritized->rule);
        store_text_triaged(text, sizeof text, res->prioritized);
    } else {
        const HdRouteResult *ro = res->routed;
        e = store_event_new(res->ticket_id, HELPDESK__V1__EVENT_KIND__EVENT_QUEUED, actor, now_ms,
                            HELPDESK__V1__STATUS__STATUS_QUEUED);
        e->priority = (Helpdesk__V1__Priority)priority;
        e->queue = store_strdup(ro->queue);
        e->tier = ro->tier ? ro->tier : 1;
        e->rule = store_strdup(ro->rule);
        store_text_queued(text, sizeof text, ro);
    }
    e->text = store_strdup(text);
    return e;
}

static HdTicketEvent *result_event(const HdWorkResult *res, const PGresult *r, const char *actor,
                                   int64_t now_ms)
{
    if (res->result_case == HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED)
        return store_result_event(res, actor, now_ms,
                                  store_col_null(r, 0, 0) ? "" : PQgetvalue(r, 0, 0),
                                  store_col_i64(r, 0, 1), 0);
    return store_result_event(res, actor, now_ms, "", 0, store_col_i64(r, 0, 0));
}

enum store_db_rc store_db_apply_result(store_db *db, const HdWorkResult *res, const char *actor,
                                       int64_t now_ms, bool *applied, store_events *evs)
{
    *applied = false;
    if (res->result_case != HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED &&
        res->result_case != HELPDESK__V1__WORK_RESULT__RESULT_ROUTED)
        return STORE_DB_OK;
    size_t mark = evs->n;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    PGresult *r = res->result_case == HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED
                      ? update_prioritized(db, res->ticket_id, res->prioritized, now_ms)
                      : update_routed(db, res->ticket_id, res->routed, now_ms);
    if (r == NULL)
        goto fail;
    if (PQntuples(r) == 0) { /* moved on already, or no such ticket: nothing changes */
        PQclear(r);
        store_tx_rollback(db);
        return STORE_DB_OK;
    }
    HdTicketEvent *e = result_event(res, r, actor, now_ms);
    PQclear(r);
    store_events_push(evs, e);
    if (store_insert_event(db, e) != 0 || store_tx_commit(db) != 0)
        goto fail;
    *applied = true;
    return STORE_DB_OK;
fail:
    store_tx_rollback(db);
    store_events_truncate(evs, mark);
    return STORE_DB_ERROR;
}

enum store_db_rc store_db_ticket_ids(store_db *db, Helpdesk__V1__Status status, int64_t **ids,
                                     size_t *n)
{
    *ids = NULL;
    *n = 0;
    store_params p = {0};
    store_p_text(&p, hd_status_name(status));
    PGresult *r = run(db, S_IDS_BY_STATUS, &p);
    if (r == NULL)
        return STORE_DB_ERROR;
    *n = (size_t)PQntuples(r);
    *ids = store_zalloc((*n ? *n : 1) * sizeof **ids);
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = store_col_i64(r, (int)i, 0);
    PQclear(r);
    return STORE_DB_OK;
}
