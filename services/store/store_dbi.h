/* Inside the store's database layer only (store_db*.c): the connection struct, statement
 * parameters, column readers and the transaction/event helpers the operation modules share.
 * Nothing outside store_db*.c includes this. */
#ifndef STORE_DBI_H
#define STORE_DBI_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "store_db.h"

/* Epoch milliseconds <-> timestamptz, in SQL. */
#define TS(p) "to_timestamp(" p "::float8 / 1000)"
#define MS(c) "(extract(epoch FROM " c ") * 1000)::int8"

/* The ticket's columns in the order store_ticket_from_row reads them; 0..26 are the issue-2
 * columns, 27..33 the clocks and outcome of v2. */
#define TICKET_FIELDS                                                                         \
    "t.id, t.contact_id, t.problem_index, t.status, t.priority, t.queue, t.tier, t.assignee, " \
    "c.channel, c.source, c.external_id, c.contact_pb, t.priority_rule, t.route_rule, "       \
    MS("t.first_response_due") ", t.update_interval_ms, " MS("t.resolution_due") ", "         \
    MS("t.tier2_escalation_due") ", " MS("t.tier3_escalation_due") ", " MS("t.created_at")    \
    ", " MS("t.updated_at") ", t.category, t.summary, t.description, t.users_affected, "      \
    "t.urgency, t.impact, " MS("t.first_response_at") ", " MS("t.next_update_due") ", "       \
    MS("t.paused_at") ", " MS("t.resolved_at") ", " MS("t.closed_at") ", t.solution, "        \
    "t.satisfaction "
#define TICKET_FROM "FROM tickets t JOIN contacts c ON c.id = t.contact_id "
#define TICKET_COLS TICKET_FIELDS TICKET_FROM
#define TICKET_NCOLS 34

/* The full-text document of a ticket; the same expression as the GIN index of migration 2. */
#define SEARCH_DOC                                                                             \
    "to_tsvector('simple'::regconfig, t.summary || ' ' || t.description || ' ' || t.solution)"

struct store_db {
    PGconn *conn;
    int64_t last_seq;
    int64_t seq_at_begin; /* restored when a transaction rolls back */
    int64_t seq_at_group; /* restored when a group's COMMIT fails */
    bool in_group;        /* inside store_db_group_begin..commit: tx calls are savepoints */
    bool in_request;      /* inside store_db_request_begin..end */
    bool sp_pending;      /* a finished request's savepoint, released with the next one's */
    bool begin_pending;   /* the group's BEGIN rides with its first statement */
    bool broken;
    /* The last statement the database refused for its data (store_db_refusal). */
    char refused_field[64];
    char refused_why[256];
    bool has_sla;
    hd_sla sla; /* for re-prioritization; set by store_db_set_sla */
};

#define MAX_PARAMS 32

typedef struct {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
} store_params;

void store_p_text(store_params *p, const char *s);
/* "" becomes NULL. */
void store_p_opt(store_params *p, const char *s);
void store_p_int(store_params *p, int64_t x);
/* 0 becomes NULL. */
void store_p_int_opt(store_params *p, int64_t x);
void store_p_bytes(store_params *p, const void *b, size_t len);
void store_p_bool(store_params *p, bool b);

/* Runs an unprepared statement; NULL (logged, broken noted) on failure. Caller PQclears. */
PGresult *store_exec(store_db *db, const char *what, const char *sql, const store_params *p);
/* Runs the statement prepared as `name`; NULL (logged, broken noted) on failure. */
PGresult *store_exec_prepared(store_db *db, const char *name, const store_params *p);
/* A statement without parameters; 0 or -1 (logged, broken noted). */
int store_exec_simple(store_db *db, const char *sql);
/* Logs a failed statement (r may be NULL: the connection's error) and notes a lost
 * connection. */
void store_fail(store_db *db, const char *what, const PGresult *r);
/* PQprepare; 0 or -1 (logged). */
int store_prepare(store_db *db, const char *name, const char *sql);
/* Prepares the batch statements of store_db_batch.c. 0 or -1. */
int store_batch_prepare(store_db *db);

__attribute__((warn_unused_result)) int store_tx_begin(store_db *db);
__attribute__((warn_unused_result)) int store_tx_commit(store_db *db);
void store_tx_rollback(store_db *db);

bool store_col_null(const PGresult *r, int row, int col);
int64_t store_col_i64(const PGresult *r, int row, int col);
char *store_col_str(const PGresult *r, int row, int col);
void *store_zalloc(size_t n);
/* A receipt of contact_id with room for n ticket ids; `duplicate`: the contact was there. */
HdContactReceipt *store_receipt_new(int64_t contact_id, size_t n, bool duplicate);

HdTicket *store_ticket_from_row(const PGresult *r, int row);
/* The five SLA columns (first response, update interval, resolution, tier 2, tier 3) from
 * column `col` on; NULL when all are unset, as before triage. */
HdSlaDeadlines *store_sla_from_row(const PGresult *r, int row, int col);
HdTicketEvent *store_event_from_row(const PGresult *r, int row);
HdTicketEvent *store_event_new(int64_t ticket_id, Helpdesk__V1__EventKind kind, const char *actor,
                               int64_t at, Helpdesk__V1__Status status);
/* Gives the event the next seq and inserts it; the caller's transaction owns both. */
__attribute__((warn_unused_result)) int store_insert_event(store_db *db, HdTicketEvent *e);
/* Frees the events pushed since `mark` (their transaction did not commit). */
void store_events_truncate(store_events *evs, size_t mark);
/* The event of an applied prioritized or routed result; queue and tier (prioritized) or
 * priority (routed) come from the ticket row. */
HdTicketEvent *store_result_event(const HdWorkResult *res, const char *actor, int64_t now_ms,
                                  const char *queue, int64_t tier, int64_t priority);

/* The ticket, locked FOR UPDATE in the caller's transaction. */
__attribute__((warn_unused_result)) enum store_db_rc store_lock_ticket(store_db *db, int64_t id,
                                                                       HdTicket **out);
/* Writes back every field an action or signal may change (status, priority, queue, tier,
 * assignee, clocks, deadlines, solution, satisfaction). */
__attribute__((warn_unused_result)) int store_write_ticket(store_db *db, const HdTicket *t,
                                                           int64_t now_ms);
/* Inserts the events (seq assigned) and the escalation requests a decision made. */
__attribute__((warn_unused_result)) int store_write_outcome(store_db *db, store_outcome *o,
                                                            int64_t now_ms, store_events *evs);

#endif
