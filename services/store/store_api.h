/* The store's API requests (create_tickets, get_ticket, list_tickets, events_since, get_cursor,
 * commit_cursor): request in, reply and committed events out. No sockets here. */
#ifndef STORE_API_H
#define STORE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_db.h"

/* Fills `rep` (initialised by the caller with the request id) with the result or an error.
 * Events committed by the request are appended to evs, for publishing. */
void store_api_handle(store_db *db, const HdRequest *req, int64_t now_ms, store_reply *rep,
                      store_events *evs);

/* Makes rc (consumed) the reply to a create_tickets whose events are evs[mark..], and logs
 * the tickets made. */
void store_api_receipt(store_reply *rep, HdContactReceipt *rc, const store_events *evs,
                       size_t mark);

/* The error reply to a request whose statement failed: ERROR_INVALID_FIELD naming the column
 * or constraint when the database refused its data (store_db_refusal), else ERROR_UNAVAILABLE
 * (retry). db NULL: the group's transaction failed, always UNAVAILABLE. */
void store_reply_db_error(store_reply *rep, const store_db *db);

/* 0 when text field `field` (s) is valid UTF-8 and, if `required`, not empty; else -1 with
 * ERROR_INVALID_FIELD naming it in rep. */
int store_reply_check_text(store_reply *rep, const char *s, bool required, const char *field);

/* The issue-3 requests (act, next, search, sla_signal, record_communication,
 * get_communication), in store_api_flow.c. False when req is none of them. */
bool store_api_workflow(store_db *db, const HdRequest *req, int64_t now_ms, store_reply *rep,
                        store_events *evs);

#endif
