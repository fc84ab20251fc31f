/* The list_clocks request of the store's api socket: check it, run it, fill the reply. */
#include <stdio.h>

#include "store_api.h"
#include "store_clocks.h"

#define INVALID HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD

static void list_clocks(store_db *db, const HdListClocks *l, store_reply *rep)
{
    static const HdListClocks none = HELPDESK__V1__LIST_CLOCKS__INIT;
    if (l == NULL)
        l = &none;
    if (l->after_id < 0) {
        store_reply_error(rep, INVALID, "after_id", "after_id must be 0 or a ticket id, not %lld",
                          (long long)l->after_id);
        return;
    }
    if (l->limit > STORE_CLOCKS_MAX) {
        store_reply_error(rep, INVALID, "limit", "limit %u is above the most a page holds (%d)",
                          (unsigned)l->limit, STORE_CLOCKS_MAX);
        return;
    }
    if (l->n_ticket_ids > STORE_CLOCKS_MAX_IDS) {
        store_reply_error(rep, INVALID, "ticket_ids",
                          "ticket_ids lists %zu tickets; ask for at most %d at a time",
                          l->n_ticket_ids, STORE_CLOCKS_MAX_IDS);
        return;
    }
    for (size_t i = 0; i < l->n_ticket_ids; i++)
        if (l->ticket_ids[i] <= 0) {
            char field[40];
            snprintf(field, sizeof field, "ticket_ids[%zu]", i);
            store_reply_error(rep, INVALID, field, "%s is %lld, not a ticket id", field,
                              (long long)l->ticket_ids[i]);
            return;
        }
    HdClockList *out = NULL;
    uint32_t limit = l->limit ? l->limit : STORE_CLOCKS_DEFAULT;
    if (store_db_list_clocks(db, l->after_id, limit, l->ticket_ids, l->n_ticket_ids,
                             l->with_signals, &out) != STORE_DB_OK) {
        store_reply_db_error(rep, db);
        return;
    }
    rep->pb.body_case = HELPDESK__V1__REPLY__BODY_CLOCKS;
    rep->pb.clocks = out;
}

bool store_api_clocks(store_db *db, const HdRequest *req, store_reply *rep)
{
    if (req->body_case != HELPDESK__V1__REQUEST__BODY_LIST_CLOCKS)
        return false;
    list_clocks(db, req->list_clocks, rep);
    return true;
}
