/* Batched writes of a group commit: the creates and the prioritized/routed results of one
 * group in a handful of statements whatever the group's size, instead of a few round trips
 * per request. Values go in as PostgreSQL array literals expanded with unnest(); statements
 * that do not depend on each other go out in one libpq pipeline. The store is the only
 * writer, so it reserves contact and ticket ids from their sequences in one call and assigns
 * event seq itself: no RETURNING per row. Everything runs under the savepoint hd_batch: when
 * a statement fails the batch is rolled back to it and the caller redoes its requests one by
 * one. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_arr.h"
#include "store_dbi.h"

#define FROM_MS(x) "to_timestamp(" x "::float8 / 1000)"
/* The ticket row of each id, found by its primary key one id at a time: an UPDATE ... FROM
 * joined on `t.id = u.id` is planned as a scan of the whole table when its plan was cached
 * while the table was small, and then stays that way as it grows. */
#define ROW_OF(id) "CROSS JOIN LATERAL (SELECT ctid AS row FROM tickets WHERE id = " id \
                   " OFFSET 0) x"

enum batch_stmt { B_BEGIN, B_SAVEPOINT, B_LOOKUP, B_RESERVE, B_CONTACTS, B_TICKETS, B_PRIORITIZE, B_ROUTE,
                  B_EVENTS, B_TICKETS_BY_ID, B_COUNT };

static const struct {
    const char *name;
    const char *sql;
} bstmts[B_COUNT] = {
    /* The group's, when the batch is its first statement (store_db_group_begin). */
    [B_BEGIN] = {"b_begin", "BEGIN"},
    /* Undone to when the batch fails; its requests are then redone one by one. */
    [B_SAVEPOINT] = {"b_savepoint", "SAVEPOINT hd_batch"},
    /* Contacts already taken among the keys, with their tickets in problem order. */
    [B_LOOKUP] = {"b_lookup",
                  "SELECT k.i, c.id, t.id FROM unnest($1::text[], $2::text[]) WITH ORDINALITY "
                  "AS k(source, external_id, i) CROSS JOIN LATERAL (SELECT id FROM contacts "
                  "WHERE source = k.source AND external_id = k.external_id OFFSET 0) c "
                  "LEFT JOIN LATERAL (SELECT id, problem_index FROM tickets "
                  "WHERE contact_id = c.id OFFSET 0) t ON true ORDER BY k.i, t.problem_index"},
    /* Reserves $1 contact ids and $2 ticket ids; returns the last of each. */
    [B_RESERVE] = {"b_reserve",
                   "SELECT setval(pg_get_serial_sequence('contacts', 'id'), "
                   "nextval(pg_get_serial_sequence('contacts', 'id')) + $1::int8 - 1), "
                   "setval(pg_get_serial_sequence('tickets', 'id'), "
                   "nextval(pg_get_serial_sequence('tickets', 'id')) + $2::int8 - 1)"},
    [B_CONTACTS] = {"b_contacts",
                    "INSERT INTO contacts (id, source, external_id, channel, agent, received_at, "
                    "customer_name, customer_email, customer_phone, customer_language, "
                    "organization, vip, account_number, contract_level, product, site, "
                    "contact_pb, created_at) SELECT u.id, u.source, u.external_id, u.channel, "
                    "u.agent, " FROM_MS("u.received") ", u.name, u.email, u.phone, u.lang, "
                    "u.org, u.vip, u.account, u.contract, u.product, u.site, u.pb, "
                    FROM_MS("$18") " FROM unnest($1::int8[], $2::text[], $3::text[], "
                    "$4::text[], $5::text[], $6::int8[], $7::text[], $8::text[], $9::text[], "
                    "$10::text[], $11::text[], $12::bool[], $13::text[], $14::text[], "
                    "$15::text[], $16::text[], $17::bytea[]) AS u(id, source, external_id, "
                    "channel, agent, received, name, email, phone, lang, org, vip, account, "
                    "contract, product, site, pb)"},
    [B_TICKETS] = {"b_tickets",
                   "INSERT INTO tickets (id, contact_id, problem_index, status, category, "
                   "summary, description, users_affected, urgency, impact, created_at, "
                   "updated_at) SELECT u.id, u.contact_id, u.problem_index, 'new', u.category, "
                   "u.summary, u.description, u.users, u.urgency, u.impact, " FROM_MS("$10")
                   ", " FROM_MS("$10") " FROM unnest($1::int8[], $2::int8[], $3::int4[], "
                   "$4::text[], $5::text[], $6::text[], $7::int4[], $8::int2[], $9::int2[]) "
                   "AS u(id, contact_id, problem_index, category, summary, description, users, "
                   "urgency, impact)"},
    [B_PRIORITIZE] = {"b_prioritize",
                      "UPDATE tickets t SET status = 'triaged', priority = u.priority, "
                      "priority_rule = u.rule, first_response_due = " FROM_MS("u.frd") ", "
                      "update_interval_ms = u.uim, resolution_due = " FROM_MS("u.rd") ", "
                      "tier2_escalation_due = " FROM_MS("u.t2") ", tier3_escalation_due = "
                      FROM_MS("u.t3") ", updated_at = " FROM_MS("$9") ", next_update_due = "
                      "CASE WHEN u.uim > 0 THEN t.created_at + u.uim * interval '1 millisecond' "
                      "END FROM unnest($1::int8[], $2::int2[], $3::text[], $4::int8[], "
                      "$5::int8[], $6::int8[], $7::int8[], $8::int8[]) AS u(id, priority, rule, "
                      "frd, uim, rd, t2, t3) " ROW_OF("u.id")
                      " WHERE t.ctid = x.row AND t.status || '' = 'new' "
                      "RETURNING t.id, t.queue, t.tier"},
    [B_ROUTE] = {"b_route",
                 "UPDATE tickets t SET status = 'queued', queue = u.queue, tier = u.tier, "
                 "assignee = u.assignee, route_rule = u.rule, updated_at = " FROM_MS("$6") " "
                 "FROM unnest($1::int8[], $2::text[], $3::int2[], $4::text[], $5::text[]) "
                 "AS u(id, queue, tier, assignee, rule) " ROW_OF("u.id")
                 " WHERE t.ctid = x.row AND t.status || '' = 'triaged' "
                 "RETURNING t.id, t.priority"},
    [B_EVENTS] = {"b_events",
                  "INSERT INTO ticket_events (seq, ticket_id, kind, actor, at, status, priority, "
                  "queue, tier, rule, text, reason, deadline, deadline_at, channel, recipient, "
                  "outcome, assignee, key, satisfied, direction, attempt, from_tier, subject) "
                  "SELECT u.seq, u.ticket_id, u.kind, u.actor, " FROM_MS("u.at") ", u.status, "
                  "u.priority, u.queue, u.tier, u.rule, u.text, u.reason, u.deadline, "
                  "u.deadline_at, u.channel, u.recipient, u.outcome, u.assignee, u.key, "
                  "u.satisfied, u.direction, u.attempt, u.from_tier, u.subject "
                  "FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::int8[], "
                  "$6::text[], $7::int2[], $8::text[], $9::int2[], $10::text[], $11::text[], "
                  "$12::text[], $13::text[], $14::int8[], $15::text[], $16::text[], "
                  "$17::text[], $18::text[], $19::text[], $20::int2[], $21::text[], "
                  "$22::int4[], $23::int2[], $24::text[]) AS u(seq, ticket_id, kind, actor, at, "
                  "status, priority, queue, tier, rule, text, reason, deadline, deadline_at, "
                  "channel, recipient, outcome, assignee, key, satisfied, direction, attempt, "
                  "from_tier, subject)"},
    /* Each ticket with its contact, for dispatch. */
    [B_TICKETS_BY_ID] = {"b_tickets_by_id",
                         "SELECT " TICKET_FIELDS "FROM unnest($1::int8[]) AS k(id) "
                         "CROSS JOIN LATERAL (SELECT * FROM tickets WHERE id = k.id OFFSET 0) t "
                         "CROSS JOIN LATERAL "
                         "(SELECT * FROM contacts WHERE id = t.contact_id OFFSET 0) c"},
};

/* Prepared once per connection, and PostgreSQL keeps the plan it made when the tables were
 * small (a fresh database: empty) until an ANALYZE, however large they grow. So no plan may
 * depend on the statistics: every row is found by LATERAL lookups with OFFSET 0, one index
 * probe per key (the UPDATEs then reach the row by its ctid), never by `id = ANY` or a join
 * the planner may turn into a scan of the whole table. The UPDATEs test the status with an
 * expression no index covers, `status || ''`, or the planner may read a whole backlog through
 * the status index. test_store_plans checks every statement on an empty database. */
int store_batch_prepare(store_db *db)
{
    for (int i = 0; i < B_COUNT; i++)
        if (store_prepare(db, bstmts[i].name, bstmts[i].sql) != 0)
            return -1;
    return 0;
}

static PGresult *brun(store_db *db, enum batch_stmt s, const store_params *p)
{
    return store_exec_prepared(db, bstmts[s].name, p);
}

/* ---- creates ---- */

static bool same_key(const HdContact *a, const HdContact *b)
{
    return strcmp(a->source, b->source) == 0 && strcmp(a->external_id, b->external_id) == 0;
}

/* first[i]: the earlier create of the batch with the same key as create i, else SIZE_MAX
 * (also for a result). */
static void find_repeats(const store_batch_item *v, size_t n, size_t *first)
{
    for (size_t i = 0; i < n; i++) {
        first[i] = SIZE_MAX;
        for (size_t j = 0; v[i].contact && j < i && first[i] == SIZE_MAX; j++)
            if (v[j].contact && first[j] == SIZE_MAX && same_key(v[j].contact, v[i].contact))
                first[i] = j;
    }
}

/* A create whose key no earlier create of the batch has. */
static bool primary(const store_batch_item *v, const size_t *first, size_t i)
{
    return v[i].contact && first[i] == SIZE_MAX;
}

/* The keys of the creates whose key is new to the batch, as the lookup's parameters. */
static void lookup_params(const store_batch_item *v, const size_t *who, size_t nkeys, store_arr *a,
                          store_params *p)
{
    for (size_t k = 0; k < nkeys; k++) {
        store_arr_text(&a[0], v[who[k]].contact->source);
        store_arr_text(&a[1], v[who[k]].contact->external_id);
    }
    store_arrs_params(a, 2, p);
}

/* Receipts (duplicate) for the keys taken before this batch. `who[k]` is the item of key
 * k + 1 in the lookup. */
static void take_lookup(const PGresult *r, store_batch_item *v, const size_t *who)
{
    int rows = PQntuples(r);
    for (int row = 0; row < rows;) {
        int64_t k = store_col_i64(r, row, 0);
        int end = row;
        while (end < rows && store_col_i64(r, end, 0) == k)
            end++;
        size_t nt = store_col_null(r, row, 2) ? 0 : (size_t)(end - row);
        HdContactReceipt *rc = store_receipt_new(store_col_i64(r, row, 1), nt, true);
        for (size_t t = 0; t < nt; t++)
            rc->ticket_ids[t] = store_col_i64(r, row + (int)t, 2);
        v[who[k - 1]].receipt = rc;
        row = end;
    }
}

/* Ids for the batch's contacts and tickets, reserved from the sequences in one call for every
 * create whose key is new to the batch. Those the lookup finds taken need none: their ids
 * stay unused, a gap like the one a rolled back insert leaves. */
typedef struct {
    size_t nc, nt;      /* reserved */
    int64_t cid, tid;   /* the next unused of each */
} id_block;

static void reserve_params(const store_batch_item *v, const size_t *who, size_t nkeys, id_block *d,
                           store_params *p)
{
    d->nc = nkeys;
    for (size_t k = 0; k < nkeys; k++)
        d->nt += v[who[k]].contact->n_problems;
    store_p_int(p, (int64_t)d->nc);
    store_p_int(p, (int64_t)d->nt);
}

static void take_reserved(const PGresult *r, id_block *d)
{
    d->cid = store_col_i64(r, 0, 0) - (int64_t)d->nc + 1;
    d->tid = store_col_i64(r, 0, 1) - (int64_t)d->nt + 1;
}

enum { C_ID, C_SOURCE, C_EXT, C_CHANNEL, C_AGENT, C_RECEIVED, C_NAME, C_EMAIL, C_PHONE, C_LANG,
       C_ORG, C_VIP, C_ACCOUNT, C_CONTRACT, C_PRODUCT, C_SITE, C_PB, C_NCOLS };

static void contact_row(store_arr *a, int64_t id, const HdContact *c, int64_t now_ms)
{
    const HdCustomer *cu = c->customer;
    const HdAccount *ac = c->account;
    store_arr_int(&a[C_ID], id);
    store_arr_text(&a[C_SOURCE], c->source);
    store_arr_text(&a[C_EXT], c->external_id);
    store_arr_text(&a[C_CHANNEL], hd_channel_name(c->channel));
    store_arr_text(&a[C_AGENT], c->agent ? c->agent : "");
    store_arr_int(&a[C_RECEIVED], c->received_at > 0 ? c->received_at : now_ms);
    store_arr_opt(&a[C_NAME], cu ? cu->name : NULL);
    store_arr_opt(&a[C_EMAIL], cu ? cu->email : NULL);
    store_arr_opt(&a[C_PHONE], cu ? cu->phone : NULL);
    store_arr_opt(&a[C_LANG], cu ? cu->language : NULL);
    store_arr_opt(&a[C_ORG], cu ? cu->organization : NULL);
    store_arr_text(&a[C_VIP], cu && cu->vip ? "true" : "false");
    store_arr_opt(&a[C_ACCOUNT], ac ? ac->account_number : NULL);
    store_arr_opt(&a[C_CONTRACT], ac ? ac->contract_level : NULL);
    store_arr_opt(&a[C_PRODUCT], ac ? ac->product : NULL);
    store_arr_opt(&a[C_SITE], c->location ? c->location->site : NULL);
    size_t len = protobuf_c_message_get_packed_size(&c->base);
    uint8_t *pb = malloc(len ? len : 1);
    if (pb == NULL)
        abort();
    protobuf_c_message_pack(&c->base, pb);
    store_arr_bytes(&a[C_PB], pb, len);
    free(pb);
}

enum { T_ID, T_CONTACT, T_INDEX, T_CATEGORY, T_SUMMARY, T_DESCRIPTION, T_USERS, T_URGENCY,
       T_IMPACT, T_NCOLS };

static void ticket_row(store_arr *a, int64_t id, int64_t contact_id, const HdContact *c, size_t i)
{
    const HdProblem *pr = c->problems[i];
    store_arr_int(&a[T_ID], id);
    store_arr_int(&a[T_CONTACT], contact_id);
    store_arr_int(&a[T_INDEX], (int64_t)i);
    store_arr_text(&a[T_CATEGORY], pr->category ? pr->category : "");
    store_arr_text(&a[T_SUMMARY], pr->summary ? pr->summary : "");
    store_arr_text(&a[T_DESCRIPTION], pr->description ? pr->description : "");
    store_arr_int(&a[T_USERS], pr->users_affected);
    store_arr_int(&a[T_URGENCY], pr->urgency);
    store_arr_int(&a[T_IMPACT], pr->impact);
}

/* The receipt and `created` events of a new contact with ids from *cid and *tid. */
static void make_new(store_batch_item *it, int64_t *cid, int64_t *tid, int64_t now_ms, store_arr *ca,
                     store_arr *ta)
{
    const HdContact *c = it->contact;
    int64_t contact_id = (*cid)++;
    it->receipt = store_receipt_new(contact_id, c->n_problems, false);
    contact_row(ca, contact_id, c, now_ms);
    for (size_t i = 0; i < c->n_problems; i++) {
        int64_t id = (*tid)++;
        it->receipt->ticket_ids[i] = id;
        ticket_row(ta, id, contact_id, c, i);
        char text[512];
        store_text_created(text, sizeof text, c, i);
        HdTicketEvent *e = store_event_new(id, HELPDESK__V1__EVENT_KIND__EVENT_CREATED, "intake",
                                           now_ms, HELPDESK__V1__STATUS__STATUS_NEW);
        e->text = store_strdup(text);
        store_events_push(it->evs, e);
    }
}

#define E_NCOLS 24

/* The writes of a batch that depend on nothing but the lookup: contacts, tickets and the two
 * stages' UPDATEs, sent in one pipeline. */
typedef struct {
    store_arr c[C_NCOLS], t[T_NCOLS], pr[8], ro[5], ev[E_NCOLS];
    size_t nc, npr, nro;
} writes;

static void writes_free(writes *w)
{
    store_arrs_free(w->c, C_NCOLS);
    store_arrs_free(w->t, T_NCOLS);
    store_arrs_free(w->pr, 8);
    store_arrs_free(w->ro, 5);
    store_arrs_free(w->ev, E_NCOLS);
}

/* Rows (and receipts, and `created` events) for the creates the lookup did not find. */
static void new_rows(store_batch_item *v, const size_t *first, size_t n, int64_t now_ms,
                     id_block *d, writes *w)
{
    for (size_t i = 0; i < n; i++)
        if (primary(v, first, i) && v[i].receipt == NULL) {
            make_new(&v[i], &d->cid, &d->tid, now_ms, w->c, w->t);
            w->nc++;
        }
}

/* A later request with a key seen earlier in the batch gets that one's tickets, as a repeat. */
static void copy_repeats(store_batch_item *v, const size_t *first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = first[i];
        if (j == SIZE_MAX)
            continue;
        const HdContactReceipt *f = v[j].receipt;
        v[i].receipt = store_receipt_new(f->contact_id, f->n_ticket_ids, true);
        memcpy(v[i].receipt->ticket_ids, f->ticket_ids, f->n_ticket_ids * sizeof *f->ticket_ids);
    }
}

/* ---- results ---- */

static store_batch_item *item_for(store_batch_item *v, size_t n, int64_t ticket_id,
                                  Helpdesk__V1__WorkResult__ResultCase kind)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].result && v[i].result->result_case == kind &&
            v[i].result->ticket_id == ticket_id)
            return &v[i];
    return NULL;
}

static void prioritize_row(store_arr *a, const HdWorkResult *res)
{
    const HdPrioritizeResult *pr = res->prioritized;
    const HdSlaDeadlines *s = pr->sla;
    store_arr_int(&a[0], res->ticket_id);
    store_arr_int(&a[1], pr->priority);
    store_arr_opt(&a[2], pr->rule);
    store_arr_int_opt(&a[3], s ? s->first_response_due : 0);
    store_arr_int_opt(&a[4], s ? s->update_interval_ms : 0);
    store_arr_int_opt(&a[5], s ? s->resolution_due : 0);
    store_arr_int_opt(&a[6], s ? s->tier2_escalation_due : 0);
    store_arr_int_opt(&a[7], s ? s->tier3_escalation_due : 0);
}

static void route_row(store_arr *a, const HdWorkResult *res)
{
    const HdRouteResult *ro = res->routed;
    store_arr_int(&a[0], res->ticket_id);
    store_arr_text(&a[1], ro->queue);
    store_arr_int(&a[2], ro->tier ? ro->tier : 1);
    store_arr_opt(&a[3], ro->assignee);
    store_arr_opt(&a[4], ro->rule);
}

/* The UPDATE rows of the prioritized and routed results. */
static void result_rows(const store_batch_item *v, size_t n, writes *w)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].result == NULL)
            continue;
        if (v[i].result->result_case == HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED) {
            prioritize_row(w->pr, v[i].result);
            w->npr++;
        } else {
            route_row(w->ro, v[i].result);
            w->nro++;
        }
    }
}

/* The rows an UPDATE returned are the results applied (their ticket was still in the
 * stage's status); each gets its event. */
static void take_applied(const PGresult *r, store_batch_item *v, size_t n, int64_t now_ms,
                         Helpdesk__V1__WorkResult__ResultCase kind)
{
    bool prio = kind == HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED;
    for (int row = 0; row < PQntuples(r); row++) {
        store_batch_item *it = item_for(v, n, store_col_i64(r, row, 0), kind);
        if (it == NULL || it->applied)
            continue; /* cannot happen: ids are distinct per stage */
        it->applied = true;
        HdTicketEvent *e =
            prio ? store_result_event(it->result, it->actor, now_ms,
                                      store_col_null(r, row, 1) ? "" : PQgetvalue(r, row, 1),
                                      store_col_i64(r, row, 2), 0)
                 : store_result_event(it->result, it->actor, now_ms, "", 0,
                                      store_col_i64(r, row, 1));
        store_events_push(it->evs, e);
    }
}

/* ---- events ---- */

/* The same columns, and the same NULLs, as store_insert_event. */
static void event_row(store_arr *a, const HdTicketEvent *e)
{
    store_arr_int(&a[0], e->seq);
    store_arr_int(&a[1], e->ticket_id);
    store_arr_text(&a[2], hd_event_kind_name(e->kind));
    store_arr_text(&a[3], e->actor);
    store_arr_int(&a[4], e->at);
    store_arr_text(&a[5], hd_status_name(e->status));
    store_arr_int_opt(&a[6], e->priority);
    store_arr_opt(&a[7], e->queue);
    store_arr_int_opt(&a[8], e->tier);
    store_arr_opt(&a[9], e->rule);
    store_arr_text(&a[10], e->text ? e->text : "");
    store_arr_text(&a[11], e->reason ? e->reason : "");
    store_arr_text(&a[12], e->deadline ? hd_deadline_name(e->deadline) : NULL);
    store_arr_int_opt(&a[13], e->deadline_at);
    store_arr_text(&a[14], e->channel ? e->channel : "");
    store_arr_text(&a[15], e->recipient ? e->recipient : "");
    store_arr_text(&a[16], e->outcome ? e->outcome : "");
    store_arr_text(&a[17], e->assignee ? e->assignee : "");
    store_arr_text(&a[18], e->key ? e->key : "");
    store_arr_int(&a[19], e->satisfied);
    store_arr_text(&a[20], e->direction ? e->direction : "");
    store_arr_int(&a[21], e->attempt);
    store_arr_int(&a[22], e->from_tier);
    store_arr_text(&a[23], e->subject ? e->subject : "");
}

/* Gives the new events of the creates (results == false) or of the results their seq in
 * request order, and adds them to a; how many. */
static size_t event_rows(store_db *db, store_batch_item *v, size_t n, bool results, store_arr *a)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if ((v[i].result != NULL) != results)
            continue;
        for (size_t k = v[i].evs_mark; k < v[i].evs->n; k++) {
            HdTicketEvent *e = v[i].evs->v[k];
            e->seq = ++db->last_seq;
            event_row(a, e);
            count++;
        }
    }
    return count;
}

/* Round trip 3, when results applied: their events. */
static int insert_result_events(store_db *db, store_batch_item *v, size_t n)
{
    store_arr a[E_NCOLS] = {{0}};
    PGresult *r = NULL;
    size_t count = event_rows(db, v, n, true, a);
    if (count > 0) {
        store_params p = {0};
        store_arrs_params(a, E_NCOLS, &p);
        r = brun(db, B_EVENTS, &p);
    }
    store_arrs_free(a, E_NCOLS);
    PQclear(r);
    return count == 0 || r ? 0 : -1;
}

/* ---- pipeline ---- */

#define PIPE_MAX 5

typedef struct {
    size_t n;
    enum batch_stmt s[PIPE_MAX];
    store_params p[PIPE_MAX];
    PGresult *r[PIPE_MAX];
} pipe;

static store_params *pipe_add(pipe *q, enum batch_stmt s)
{
    q->s[q->n] = s;
    memset(&q->p[q->n], 0, sizeof q->p[q->n]);
    return &q->p[q->n++];
}

static void pipe_clear(pipe *q)
{
    for (size_t i = 0; i < q->n; i++)
        PQclear(q->r[i]);
    q->n = 0;
}

static bool pipe_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* Reads each statement's result (until its NULL) and then the sync point; false when one
 * failed (logged; the ones after it are aborted by the server). */
static bool pipe_read(store_db *db, pipe *q, size_t sent)
{
    bool ok = sent == q->n;
    for (size_t i = 0; i < sent; i++) {
        PGresult *res;
        while ((res = PQgetResult(db->conn)) != NULL) {
            if (q->r[i] == NULL && pipe_ok(res)) {
                q->r[i] = res;
                continue;
            }
            if (ok && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
                store_fail(db, bstmts[q->s[i]].name, res);
            ok = false;
            PQclear(res);
        }
        ok = ok && q->r[i] != NULL;
    }
    PGresult *res;
    while ((res = PQgetResult(db->conn)) != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC)
        PQclear(res);
    PQclear(res);
    return ok;
}

/* Sends the queued statements in one pipeline: one round trip for all of them. 0 when all
 * succeeded (their results in q->r), else -1, logged. Inside the group's transaction the sync
 * commits nothing. */
static int pipe_run(store_db *db, pipe *q)
{
    memset(q->r, 0, sizeof q->r);
    if (db->broken || PQenterPipelineMode(db->conn) != 1) {
        if (!db->broken)
            store_fail(db, "pipeline", NULL);
        return -1;
    }
    size_t sent = 0;
    while (sent < q->n && PQsendQueryPrepared(db->conn, bstmts[q->s[sent]].name, q->p[sent].n,
                                              q->p[sent].v, q->p[sent].len, q->p[sent].fmt, 0))
        sent++;
    if (sent < q->n || PQpipelineSync(db->conn) != 1)
        store_fail(db, "pipeline", NULL);
    bool ok = pipe_read(db, q, sent);
    if (PQexitPipelineMode(db->conn) != 1) {
        store_fail(db, "pipeline", NULL);
        db->broken = true; /* its state is unknown: reconnect */
    }
    return ok && !db->broken ? 0 : -1;
}

/* ---- the batch ---- */

static void undo(store_db *db, store_batch_item *v, size_t n, int64_t seq)
{
    if (!db->broken)
        (void)store_exec_simple(db, "ROLLBACK TO SAVEPOINT hd_batch");
    db->last_seq = seq;
    for (size_t i = 0; i < n; i++) {
        store_events_truncate(v[i].evs, v[i].evs_mark);
        if (v[i].receipt)
            protobuf_c_message_free_unpacked(&v[i].receipt->base, NULL);
        v[i].receipt = NULL;
        v[i].applied = false;
    }
}

/* Round trip 1: the group's BEGIN, the savepoint, the lookup of the batch's keys and the
 * reservation of ids. */
static int start(store_db *db, store_batch_item *v, const size_t *who, size_t nkeys, id_block *d)
{
    pipe q = {0};
    store_arr keys[2] = {{0}};
    if (db->begin_pending)
        (void)pipe_add(&q, B_BEGIN);
    (void)pipe_add(&q, B_SAVEPOINT);
    if (nkeys > 0) {
        lookup_params(v, who, nkeys, keys, pipe_add(&q, B_LOOKUP));
        reserve_params(v, who, nkeys, d, pipe_add(&q, B_RESERVE));
    }
    int rc = pipe_run(db, &q);
    /* Once a transaction is open (even if a later statement failed), COMMIT must end it. */
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        db->begin_pending = false;
    if (rc == 0 && nkeys > 0) {
        take_lookup(q.r[q.n - 2], v, who);
        take_reserved(q.r[q.n - 1], d);
    }
    pipe_clear(&q);
    store_arrs_free(keys, 2);
    return rc;
}

/* Round trip 2: contacts, tickets and their `created` events, and the stages' UPDATEs. */
static int write_rows(store_db *db, store_batch_item *v, const size_t *first, size_t n,
                      int64_t now_ms, id_block *d)
{
    writes w = {0};
    pipe q = {0};
    int rc = 0;
    new_rows(v, first, n, now_ms, d, &w);
    result_rows(v, n, &w);
    if (w.nc > 0) {
        store_params *p = pipe_add(&q, B_CONTACTS);
        store_arrs_params(w.c, C_NCOLS, p);
        store_p_int(p, now_ms);
        p = pipe_add(&q, B_TICKETS);
        store_arrs_params(w.t, T_NCOLS, p);
        store_p_int(p, now_ms);
        (void)event_rows(db, v, n, false, w.ev);
        store_arrs_params(w.ev, E_NCOLS, pipe_add(&q, B_EVENTS));
    }
    size_t at_pr = q.n, at_ro = q.n + (w.npr > 0);
    if (w.npr > 0) {
        store_params *p = pipe_add(&q, B_PRIORITIZE);
        store_arrs_params(w.pr, 8, p);
        store_p_int(p, now_ms);
    }
    if (w.nro > 0) {
        store_params *p = pipe_add(&q, B_ROUTE);
        store_arrs_params(w.ro, 5, p);
        store_p_int(p, now_ms);
    }
    if (q.n > 0)
        rc = pipe_run(db, &q);
    if (rc == 0 && w.npr > 0)
        take_applied(q.r[at_pr], v, n, now_ms, HELPDESK__V1__WORK_RESULT__RESULT_PRIORITIZED);
    if (rc == 0 && w.nro > 0)
        take_applied(q.r[at_ro], v, n, now_ms, HELPDESK__V1__WORK_RESULT__RESULT_ROUTED);
    pipe_clear(&q);
    writes_free(&w);
    return rc;
}

/* Savepoint, lookup and ids; inserts and updates; then the results' events (their seq once
 * the UPDATEs told which results applied): 2 or 3 round trips. The creates' events come
 * first in seq order, then the results', each in request order. */
static int run_batch(store_db *db, store_batch_item *v, size_t n, int64_t now_ms)
{
    size_t *first = store_zalloc(n * sizeof *first);
    size_t *who = store_zalloc(n * sizeof *who), nkeys = 0;
    find_repeats(v, n, first);
    for (size_t i = 0; i < n; i++)
        if (primary(v, first, i))
            who[nkeys++] = i;
    id_block d = {0};
    int rc = start(db, v, who, nkeys, &d);
    if (rc == 0)
        rc = write_rows(db, v, first, n, now_ms, &d);
    if (rc == 0) {
        copy_repeats(v, first, n);
        rc = insert_result_events(db, v, n);
    }
    free(who);
    free(first);
    return rc;
}

enum store_db_rc store_db_batch(store_db *db, store_batch_item *v, size_t n, int64_t now_ms)
{
    int64_t seq = db->last_seq;
    for (size_t i = 0; i < n; i++) {
        v[i].evs_mark = v[i].evs->n;
        v[i].receipt = NULL;
        v[i].applied = false;
    }
    if (n == 0 || !db->in_group || db->in_request)
        return n == 0 ? STORE_DB_OK : STORE_DB_ERROR;
    if (run_batch(db, v, n, now_ms) != 0) {
        undo(db, v, n, seq);
        return STORE_DB_ERROR;
    }
    return STORE_DB_OK;
}

enum store_db_rc store_db_get_tickets(store_db *db, const int64_t *ids, size_t nids,
                                      HdTicket ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    store_arr a = {0};
    for (size_t i = 0; i < nids; i++)
        store_arr_int(&a, ids[i]);
    store_params p = {0};
    store_p_text(&p, store_arr_end(&a));
    PGresult *r = brun(db, B_TICKETS_BY_ID, &p);
    free(a.p);
    if (r == NULL)
        return STORE_DB_ERROR;
    *n = (size_t)PQntuples(r);
    *out = store_zalloc((*n ? *n : 1) * sizeof(HdTicket *));
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = store_ticket_from_row(r, (int)i);
    PQclear(r);
    return STORE_DB_OK;
}
