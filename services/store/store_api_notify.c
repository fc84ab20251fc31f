/* The notify_lookup and record_communications requests of the store's api socket: check them
 * (every error names the offending element, e.g. records[3].key), run them, fill the reply. */
#include <stdio.h>
#include <string.h>

#include "hd/log.h"
#include "store_api.h"
#include "store_notify.h"

#define INVALID HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD

static int check_ids(const int64_t *ids, size_t n, const char *name, store_reply *rep)
{
    if (n > STORE_NOTIFY_MAX_IDS) {
        store_reply_error(rep, INVALID, name, "%s lists %zu tickets; ask for at most %d at a time",
                          name, n, STORE_NOTIFY_MAX_IDS);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] <= 0) {
            char field[48];
            snprintf(field, sizeof field, "%s[%zu]", name, i);
            store_reply_error(rep, INVALID, field, "%s is %lld, not a ticket id", field,
                              (long long)ids[i]);
            return -1;
        }
    return 0;
}

static void notify_lookup(store_db *db, const HdNotifyLookup *l, store_reply *rep)
{
    static const HdNotifyLookup none = HELPDESK__V1__NOTIFY_LOOKUP__INIT;
    if (l == NULL)
        l = &none;
    if (check_ids(l->ticket_ids, l->n_ticket_ids, "ticket_ids", rep) != 0 ||
        check_ids(l->contacts_of, l->n_contacts_of, "contacts_of", rep) != 0)
        return;
    if (l->n_keys > STORE_NOTIFY_MAX_KEYS) {
        store_reply_error(rep, INVALID, "keys", "keys lists %zu keys; ask for at most %d at a time",
                          l->n_keys, STORE_NOTIFY_MAX_KEYS);
        return;
    }
    for (size_t i = 0; i < l->n_keys; i++) {
        char field[32];
        snprintf(field, sizeof field, "keys[%zu]", i);
        if (store_reply_check_text(rep, l->keys[i], true, field) != 0)
            return;
    }
    HdNotifyContext *out = NULL;
    if (store_db_notify_lookup(db, l, &out) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_NOTIFY_CONTEXT;
    rep->pb.notify_context = out;
}

static int check_record(const HdRecordCommunication *c, size_t i, store_reply *rep)
{
    char field[48];
    snprintf(field, sizeof field, "records[%zu].ticket_id", i);
    if (c->ticket_id <= 0) {
        store_reply_error(rep, INVALID, field, "%s must name a ticket", field);
        return -1;
    }
    snprintf(field, sizeof field, "records[%zu].key", i);
    if (store_reply_check_text(rep, c->key, true, field) != 0)
        return -1;
    if (c->attempt == 0 || c->attempt > INT32_MAX) {
        snprintf(field, sizeof field, "records[%zu].attempt", i);
        store_reply_error(rep, INVALID, field, "%s counts from 1", field);
        return -1;
    }
    const char *opt[] = {c->kind, c->channel, c->recipient, c->subject, c->error, c->actor};
    const char *names[] = {"kind", "channel", "recipient", "subject", "error", "actor"};
    for (size_t k = 0; k < 6; k++) {
        snprintf(field, sizeof field, "records[%zu].%s", i, names[k]);
        if (store_reply_check_text(rep, opt[k], false, field) != 0)
            return -1;
    }
    return 0;
}

static void record_communications(store_db *db, const HdRecordCommunications *r, int64_t now_ms,
                                  store_reply *rep, store_events *evs)
{
    size_t n = r ? r->n_records : 0;
    if (n == 0 || n > STORE_NOTIFY_MAX_RECORDS) {
        store_reply_error(rep, INVALID, "records", "records must hold 1 to %d communications",
                          STORE_NOTIFY_MAX_RECORDS);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (r->records[i] == NULL) {
            store_reply_error(rep, INVALID, "records", "records[%zu] is empty", i);
            return;
        }
        if (check_record(r->records[i], i, rep) != 0)
            return;
    }
    HdCommunicationList *out = NULL;
    if (store_db_record_communications(db, r->records, n, now_ms, &out, evs) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    hd_debug("event=communications_recorded records=%zu", n);
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_COMMUNICATIONS;
    rep->pb.communications = out;
}

bool store_api_notify(store_db *db, const HdRequest *req, int64_t now_ms, store_reply *rep,
                      store_events *evs)
{
    switch (req->body_case) {
    case HELPDESK__V1__REQUEST__BODY_NOTIFY_LOOKUP:
        notify_lookup(db, req->notify_lookup, rep);
        return true;
    case HELPDESK__V1__REQUEST__BODY_RECORD_COMMUNICATIONS:
        record_communications(db, req->record_communications, now_ms, rep, evs);
        return true;
    default: return false;
    }
}
