/* The statements of notify_lookup and record_communications: a handful per batch, whatever its
 * size, with the rows passed as array parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
#include "store_arr.h"
#include "store_dbi.h"
#include "store_notify.h"

/* Every ticket of the contacts of the tickets $1, by contact and id. */
#define SQL_CONTACTS                                                                           \
    "SELECT t.contact_id, t.id FROM tickets t WHERE t.contact_id IN "                          \
    "(SELECT contact_id FROM tickets WHERE id = ANY($1::int8[])) ORDER BY t.contact_id, t.id"

/* The status of each key of $1, in order: what get_communication answers for one. */
#define SQL_KEY_STATUS                                                                         \
    "SELECT k.key, count(c.id), coalesce(bool_or(c.sent), false), "                            \
    "coalesce(max(c.attempt), 0), coalesce(bool_or(c.final), false) "                          \
    "FROM unnest($1::text[]) WITH ORDINALITY AS k(key, ord) "                                  \
    "LEFT JOIN communications c ON c.key = k.key GROUP BY k.key, k.ord ORDER BY k.ord"

/* Inserts each attempt whose ticket exists, once per (key, attempt) (the first of repeats in
 * the batch), and answers per record, in order: ticket found, newly recorded, and the ticket's
 * columns for the event. */
#define SQL_INS_COMMS                                                                          \
    "WITH u AS (SELECT * FROM unnest($1::int8[], $2::text[], $3::int4[], $4::text[], "         \
    "$5::text[], $6::text[], $7::text[], $8::bool[], $9::text[], $10::bool[], $11::text[]) "   \
    "WITH ORDINALITY AS u(ticket_id, key, attempt, kind, channel, recipient, subject, sent, "   \
    "error, final, actor, ord)), "                                                             \
    "v AS (SELECT u.*, t.id IS NOT NULL AS found, t.status AS t_status, "                      \
    "t.priority AS t_priority, t.queue AS t_queue, t.tier AS t_tier, "                         \
    "t.assignee AS t_assignee, row_number() OVER (PARTITION BY u.key, u.attempt, "             \
    "t.id IS NULL ORDER BY u.ord) AS nth FROM u LEFT JOIN tickets t ON t.id = u.ticket_id), "  \
    "ins AS (INSERT INTO communications (ticket_id, key, attempt, kind, channel, recipient, "   \
    "subject, sent, error, final, actor, at) SELECT v.ticket_id, v.key, v.attempt, v.kind, "   \
    "v.channel, v.recipient, v.subject, v.sent, v.error, v.final, v.actor, " TS("$12") " "     \
    "FROM v WHERE v.found AND v.nth = 1 ORDER BY v.ord "                                       \
    "ON CONFLICT (key, attempt) DO NOTHING RETURNING key, attempt) "                           \
    "SELECT v.found, v.found AND v.nth = 1 AND ins.key IS NOT NULL, v.t_status, v.t_priority, " \
    "v.t_queue, v.t_tier, v.t_assignee FROM v LEFT JOIN ins ON ins.key = v.key "              \
    "AND ins.attempt = v.attempt ORDER BY v.ord"

/* The communication events of the new attempts, as store_insert_event would write them. */
#define SQL_INS_EVENTS                                                                         \
    "INSERT INTO ticket_events (seq, ticket_id, kind, actor, at, status, priority, queue, "    \
    "tier, rule, text, reason, deadline, deadline_at, channel, recipient, outcome, assignee, " \
    "key, satisfied, direction, attempt, from_tier, subject) "                                 \
    "SELECT u.seq, u.ticket_id, $17, u.actor, to_timestamp(u.at::float8 / 1000), u.status, "   \
    "u.priority, u.queue, u.tier, NULL, u.text, '', NULL, NULL, u.channel, u.recipient, "      \
    "u.outcome, u.assignee, u.key, 0, '', u.attempt, 0, u.subject "                           \
    "FROM unnest($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::int2[], "     \
    "$7::text[], $8::int2[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], " \
    "$14::text[], $15::int4[], $16::text[]) AS u(seq, ticket_id, actor, at, status, "         \
    "priority, queue, tier, text, channel, recipient, outcome, assignee, key, attempt, "       \
    "subject)"

/* ---- notify_lookup ---- */

static int by_id(const void *x, const void *y)
{
    int64_t a = (*(HdTicket *const *)x)->id, b = (*(HdTicket *const *)y)->id;
    return (a > b) - (a < b);
}

static PGresult *exec_ids(store_db *db, const char *what, const char *sql, const int64_t *ids,
                          size_t n)
{
    store_arr a = {0};
    for (size_t i = 0; i < n; i++)
        store_arr_int(&a, ids[i]);
    store_params p = {0};
    store_p_text(&p, store_arr_end(&a));
    PGresult *r = store_exec(db, what, sql, &p);
    free(a.p);
    return r;
}

static HdContactTickets *contact_new(int64_t contact_id)
{
    HdContactTickets *c = store_zalloc(sizeof *c);
    helpdesk__v1__contact_tickets__init(c);
    c->contact_id = contact_id;
    return c;
}

/* Rows (contact_id, id) by contact into out->contacts. */
static enum store_db_rc read_contacts(store_db *db, const int64_t *of, size_t n,
                                      HdNotifyContext *out)
{
    if (n == 0)
        return STORE_DB_OK;
    PGresult *r = exec_ids(db, "notify_contacts", SQL_CONTACTS, of, n);
    if (r == NULL)
        return STORE_DB_ERROR;
    size_t rows = (size_t)PQntuples(r);
    out->contacts = store_zalloc((rows ? rows : 1) * sizeof(HdContactTickets *));
    for (size_t i = 0; i < rows; i++) {
        int64_t contact = store_col_i64(r, (int)i, 0);
        HdContactTickets *c = out->n_contacts ? out->contacts[out->n_contacts - 1] : NULL;
        if (c == NULL || c->contact_id != contact) {
            c = contact_new(contact);
            c->ticket_ids = store_zalloc(rows * sizeof *c->ticket_ids);
            out->contacts[out->n_contacts++] = c;
        }
        c->ticket_ids[c->n_ticket_ids++] = store_col_i64(r, (int)i, 1);
    }
    PQclear(r);
    return STORE_DB_OK;
}

/* One status per key, in order. */
static HdCommunicationStatus **key_statuses(store_db *db, char *const *keys, size_t n)
{
    store_arr a = {0};
    for (size_t i = 0; i < n; i++)
        store_arr_str(&a, keys[i]);
    store_params p = {0};
    store_p_text(&p, store_arr_end(&a));
    PGresult *r = store_exec(db, "notify_key_status", SQL_KEY_STATUS, &p);
    free(a.p);
    if (r == NULL)
        return NULL;
    HdCommunicationStatus **v = store_zalloc((n ? n : 1) * sizeof(HdCommunicationStatus *));
    for (size_t i = 0; i < n; i++) {
        HdCommunicationStatus *c = store_zalloc(sizeof *c);
        helpdesk__v1__communication_status__init(c);
        c->key = store_strdup(keys[i]);
        if ((int)i < PQntuples(r)) {
            c->found = store_col_i64(r, (int)i, 1) > 0;
            c->sent = PQgetvalue(r, (int)i, 2)[0] == 't';
            c->attempts = (uint32_t)store_col_i64(r, (int)i, 3);
            c->final = PQgetvalue(r, (int)i, 4)[0] == 't';
        }
        v[i] = c;
    }
    PQclear(r);
    return v;
}

enum store_db_rc store_db_notify_lookup(store_db *db, const HdNotifyLookup *l,
                                        HdNotifyContext **out)
{
    *out = NULL;
    HdNotifyContext *c = store_zalloc(sizeof *c);
    helpdesk__v1__notify_context__init(c);
    enum store_db_rc rc = STORE_DB_OK;
    if (l->n_ticket_ids > 0) {
        rc = store_db_get_tickets(db, l->ticket_ids, l->n_ticket_ids, &c->tickets,
                                  &c->n_tickets);
        if (rc == STORE_DB_OK)
            qsort(c->tickets, c->n_tickets, sizeof(HdTicket *), by_id);
    }
    if (rc == STORE_DB_OK)
        rc = read_contacts(db, l->contacts_of, l->n_contacts_of, c);
    if (rc == STORE_DB_OK && l->n_keys > 0) {
        c->communications = key_statuses(db, l->keys, l->n_keys);
        c->n_communications = c->communications ? l->n_keys : 0;
        if (c->communications == NULL)
            rc = STORE_DB_ERROR;
    }
    if (rc != STORE_DB_OK) {
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return rc;
    }
    *out = c;
    return STORE_DB_OK;
}

/* ---- record_communications ---- */

enum { C_TICKET, C_KEY, C_ATTEMPT, C_KIND, C_CHANNEL, C_RECIPIENT, C_SUBJECT, C_SENT, C_ERROR,
       C_FINAL, C_ACTOR, C_N };

/* Inserts the attempts; the result has one row per record (see SQL_INS_COMMS). */
static PGresult *insert_comms(store_db *db, HdRecordCommunication *const *recs, size_t n,
                              int64_t now_ms)
{
    store_arr a[C_N] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const HdRecordCommunication *c = recs[i];
        store_arr_int(&a[C_TICKET], c->ticket_id);
        store_arr_str(&a[C_KEY], c->key);
        store_arr_int(&a[C_ATTEMPT], c->attempt);
        store_arr_str(&a[C_KIND], c->kind);
        store_arr_str(&a[C_CHANNEL], c->channel);
        store_arr_str(&a[C_RECIPIENT], c->recipient);
        store_arr_str(&a[C_SUBJECT], c->subject);
        store_arr_bool(&a[C_SENT], c->sent);
        store_arr_str(&a[C_ERROR], c->error);
        store_arr_bool(&a[C_FINAL], c->final);
        store_arr_str(&a[C_ACTOR], c->actor);
    }
    store_params p = {0};
    for (int k = 0; k < C_N; k++)
        store_p_text(&p, store_arr_end(&a[k]));
    store_p_int(&p, now_ms);
    PGresult *r = store_exec(db, "record_communications", SQL_INS_COMMS, &p);
    store_arrs_free(a, C_N);
    return r;
}

/* The event of a new attempt, like a single record_communication's. */
static HdTicketEvent *comm_event(const HdRecordCommunication *c, const PGresult *r, int row,
                                 int64_t now_ms)
{
    HdTicket t = HELPDESK__V1__TICKET__INIT;
    Helpdesk__V1__Status status = HELPDESK__V1__STATUS__STATUS_UNSPECIFIED;
    if (hd_status_parse(PQgetvalue(r, row, 2), &status) == 0)
        t.status = status;
    t.id = c->ticket_id;
    t.priority = (Helpdesk__V1__Priority)store_col_i64(r, row, 3);
    t.queue = PQgetvalue(r, row, 4);
    t.tier = (uint32_t)store_col_i64(r, row, 5);
    t.assignee = PQgetvalue(r, row, 6);
    return store_communication_event(&t, c, now_ms);
}

enum { E_SEQ, E_TICKET, E_ACTOR, E_AT, E_STATUS, E_PRIORITY, E_QUEUE, E_TIER, E_TEXT, E_CHANNEL,
       E_RECIPIENT, E_OUTCOME, E_ASSIGNEE, E_KEY, E_ATTEMPT, E_SUBJECT, E_N };

/* Gives evs->v[from..] their seq and inserts them in one statement. */
static int insert_events(store_db *db, store_events *evs, size_t from)
{
    if (from == evs->n)
        return 0;
    store_arr a[E_N] = {{0}};
    for (size_t i = from; i < evs->n; i++) {
        HdTicketEvent *e = evs->v[i];
        e->seq = ++db->last_seq;
        store_arr_int(&a[E_SEQ], e->seq);
        store_arr_int(&a[E_TICKET], e->ticket_id);
        store_arr_str(&a[E_ACTOR], e->actor);
        store_arr_int(&a[E_AT], e->at);
        store_arr_str(&a[E_STATUS], hd_status_name(e->status));
        store_arr_int_opt(&a[E_PRIORITY], e->priority);
        store_arr_text(&a[E_QUEUE], e->queue && e->queue[0] ? e->queue : NULL);
        store_arr_int_opt(&a[E_TIER], e->tier);
        store_arr_str(&a[E_TEXT], e->text);
        store_arr_str(&a[E_CHANNEL], e->channel);
        store_arr_str(&a[E_RECIPIENT], e->recipient);
        store_arr_str(&a[E_OUTCOME], e->outcome);
        store_arr_str(&a[E_ASSIGNEE], e->assignee);
        store_arr_str(&a[E_KEY], e->key);
        store_arr_int(&a[E_ATTEMPT], e->attempt);
        store_arr_str(&a[E_SUBJECT], e->subject);
    }
    store_params p = {0};
    for (int k = 0; k < E_N; k++)
        store_p_text(&p, store_arr_end(&a[k]));
    store_p_text(&p, hd_event_kind_name(HELPDESK__V1__EVENT_KIND__EVENT_COMMUNICATION));
    PGresult *r = store_exec(db, "communication_events", SQL_INS_EVENTS, &p);
    store_arrs_free(a, E_N);
    PQclear(r);
    return r ? 0 : -1;
}

/* The reply: each record's key status; found false where its ticket does not exist. */
static HdCommunicationList *statuses(store_db *db, HdRecordCommunication *const *recs, size_t n,
                                     const bool *found)
{
    char **keys = store_zalloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = recs[i]->key;
    HdCommunicationStatus **v = key_statuses(db, keys, n);
    free(keys);
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!found[i]) {
            v[i]->found = v[i]->sent = v[i]->final = false;
            v[i]->attempts = 0;
        }
    HdCommunicationList *l = store_zalloc(sizeof *l);
    helpdesk__v1__communication_list__init(l);
    l->communications = v;
    l->n_communications = n;
    return l;
}

enum store_db_rc store_db_record_communications(store_db *db, HdRecordCommunication *const *recs,
                                                size_t n, int64_t now_ms,
                                                HdCommunicationList **out, store_events *evs)
{
    *out = NULL;
    size_t mark = evs->n;
    if (store_tx_begin(db) != 0)
        return STORE_DB_ERROR;
    bool *found = store_zalloc(n * sizeof *found);
    PGresult *r = insert_comms(db, recs, n, now_ms);
    int rc = r != NULL && (size_t)PQntuples(r) == n ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        found[i] = PQgetvalue(r, (int)i, 0)[0] == 't';
        if (PQgetvalue(r, (int)i, 1)[0] == 't')
            store_events_push(evs, comm_event(recs[i], r, (int)i, now_ms));
    }
    PQclear(r);
    if (rc == 0)
        rc = insert_events(db, evs, mark);
    if (rc == 0)
        *out = statuses(db, recs, n, found);
    free(found);
    if (*out == NULL || store_tx_commit(db) != 0) {
        if (*out != NULL)
            protobuf_c_message_free_unpacked(&(*out)->base, NULL);
        *out = NULL;
        store_tx_rollback(db);
        store_events_truncate(evs, mark);
        return STORE_DB_ERROR;
    }
    return STORE_DB_OK;
}
