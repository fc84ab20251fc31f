/* The two queries of list_clocks. The deadlines go through the same MS() conversion as a whole
 * ticket's, so a deadline_at the timer sends back matches the store's to the millisecond. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
#include "store_clocks.h"
#include "store_dbi.h"

#define CLOCK_COLS                                                                             \
    "t.id, t.status, t.priority, t.tier, " MS("t.first_response_due") ", "                    \
    "t.update_interval_ms, " MS("t.resolution_due") ", " MS("t.tier2_escalation_due") ", "     \
    MS("t.tier3_escalation_due") ", " MS("t.created_at") ", " MS("t.first_response_at") ", "   \
    MS("t.next_update_due") ", " MS("t.paused_at") " FROM tickets t "

/* Keyset paging over the primary key; the filter is what timer_plan calls a running clock. */
#define SQL_CLOCKS_PAGE                                                                        \
    "SELECT " CLOCK_COLS "WHERE t.id > $1 AND t.paused_at IS NULL "                            \
    "AND t.status IN ('triaged', 'queued', 'in_progress', 'reopened') ORDER BY t.id LIMIT $2"
#define SQL_CLOCKS_IDS "SELECT " CLOCK_COLS "WHERE t.id = ANY($1::int8[]) ORDER BY t.id"
/* Only the signals of the ticket's current deadlines (and manual escalation requests, which
 * name none): a ticket open for months owes hundreds of past updates, none of which matters. */
#define SQL_SIGNALS                                                                            \
    "SELECT e.seq, e.ticket_id, e.kind, " MS("e.at") ", e.deadline, e.deadline_at "            \
    "FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "                               \
    "WHERE e.ticket_id = ANY($1::int8[]) AND e.kind IN ('sla_warning', 'sla_breach', "         \
    "'update_due', 'escalation_requested') AND (coalesce(e.deadline_at, 0) = 0 OR "            \
    "e.deadline_at IN (" MS("t.first_response_due") ", " MS("t.next_update_due") ", "         \
    MS("t.resolution_due") ", " MS("t.tier2_escalation_due") ", "                              \
    MS("t.tier3_escalation_due") ")) ORDER BY e.ticket_id, e.seq"

static HdTicket *clock_from_row(const PGresult *r, int row)
{
    HdTicket *t = store_zalloc(sizeof *t);
    helpdesk__v1__ticket__init(t);
    Helpdesk__V1__Status status = HELPDESK__V1__STATUS__STATUS_UNSPECIFIED;
    t->id = store_col_i64(r, row, 0);
    if (hd_status_parse(PQgetvalue(r, row, 1), &status) == 0)
        t->status = status;
    t->priority = (Helpdesk__V1__Priority)store_col_i64(r, row, 2);
    t->tier = (uint32_t)store_col_i64(r, row, 3);
    t->sla = store_sla_from_row(r, row, 4); /* like a whole ticket: none before triage */
    t->created_at = store_col_i64(r, row, 9);
    t->first_response_at = store_col_i64(r, row, 10);
    t->next_update_due = store_col_i64(r, row, 11);
    t->paused_at = store_col_i64(r, row, 12);
    return t;
}

static HdTicketEvent *signal_from_row(const PGresult *r, int row)
{
    HdTicketEvent *e = store_zalloc(sizeof *e);
    helpdesk__v1__ticket_event__init(e);
    e->seq = store_col_i64(r, row, 0);
    e->ticket_id = store_col_i64(r, row, 1);
    e->kind = store_event_kind_parse(PQgetvalue(r, row, 2));
    e->at = store_col_i64(r, row, 3);
    Helpdesk__V1__Deadline dl = HELPDESK__V1__DEADLINE__DEADLINE_UNSPECIFIED;
    if (!store_col_null(r, row, 4) && hd_deadline_parse(PQgetvalue(r, row, 4), &dl) == 0)
        e->deadline = dl;
    e->deadline_at = store_col_i64(r, row, 5);
    return e;
}

/* "{1,2,3}": an int8[] parameter in text form. Caller frees. */
static char *id_array(const int64_t *ids, size_t n)
{
    size_t cap = 3 + n * 21, len = 0;
    char *s = store_zalloc(cap);
    s[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? "," : "", (long long)ids[i]);
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

static enum store_db_rc read_signals(store_db *db, HdClockList *l)
{
    int64_t *ids = store_zalloc((l->n_tickets ? l->n_tickets : 1) * sizeof *ids);
    for (size_t i = 0; i < l->n_tickets; i++)
        ids[i] = l->tickets[i]->id;
    char *arr = id_array(ids, l->n_tickets);
    free(ids);
    store_params p = {0};
    store_p_text(&p, arr);
    PGresult *r = store_exec(db, "clock_signals", SQL_SIGNALS, &p);
    free(arr);
    if (r == NULL)
        return STORE_DB_ERROR;
    l->n_signals = (size_t)PQntuples(r);
    l->signals = l->n_signals ? store_zalloc(l->n_signals * sizeof(HdTicketEvent *)) : NULL;
    for (size_t i = 0; i < l->n_signals; i++)
        l->signals[i] = signal_from_row(r, (int)i);
    PQclear(r);
    return STORE_DB_OK;
}

enum store_db_rc store_db_list_clocks(store_db *db, int64_t after_id, uint32_t limit,
                                      const int64_t *ids, size_t nids, bool with_signals,
                                      HdClockList **out)
{
    *out = NULL;
    store_params p = {0};
    char *arr = NULL;
    PGresult *r;
    if (nids > 0) {
        arr = id_array(ids, nids);
        store_p_text(&p, arr);
        r = store_exec(db, "clocks_by_id", SQL_CLOCKS_IDS, &p);
    } else {
        store_p_int(&p, after_id);
        store_p_int(&p, limit);
        r = store_exec(db, "clocks_page", SQL_CLOCKS_PAGE, &p);
    }
    free(arr);
    if (r == NULL)
        return STORE_DB_ERROR;
    HdClockList *l = store_zalloc(sizeof *l);
    helpdesk__v1__clock_list__init(l);
    l->n_tickets = (size_t)PQntuples(r);
    l->tickets = l->n_tickets ? store_zalloc(l->n_tickets * sizeof(HdTicket *)) : NULL;
    for (size_t i = 0; i < l->n_tickets; i++)
        l->tickets[i] = clock_from_row(r, (int)i);
    PQclear(r);
    if (with_signals && l->n_tickets > 0 && read_signals(db, l) != STORE_DB_OK) {
        protobuf_c_message_free_unpacked(&l->base, NULL);
        return STORE_DB_ERROR;
    }
    *out = l;
    return STORE_DB_OK;
}
