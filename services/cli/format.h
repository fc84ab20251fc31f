/* The one output module of the CLI: how tickets, events, lists, search hits and receipts are
 * shown, as text for people or JSON for scripts. Text from the store is written as given
 * (UTF-8 kept), with control characters made harmless for a terminal. */
#ifndef CLI_FORMAT_H
#define CLI_FORMAT_H

#include <stdbool.h>
#include <stdio.h>

#include "hd/proto.h"
#include "json.h"

/* What a command's answer is shown as. */
enum cli_output {
    CLI_OUT_NONE,
    CLI_OUT_RECEIPT, /* receipt: "contact 12: tickets 31 32" */
    CLI_OUT_TICKET,  /* ticket: the whole ticket and its history */
    CLI_OUT_ACTION,  /* ticket: its new state and the events the action made */
    CLI_OUT_LIST,    /* tickets: a table */
    CLI_OUT_HITS,    /* results: tickets with their solutions, best first */
};

/* Prints the answer `rep` (whose body matches `kind`) to out, as JSON when `json`. */
void cli_output(FILE *out, bool json, enum cli_output kind, const HdReply *rep);
/* A receipt, with the idempotency key the client used (in the JSON). */
void cli_output_receipt(FILE *out, bool json, const HdContactReceipt *r, const char *source,
                        const char *external_id);
/* One event of `watch`: a line of text, or one JSON document per line when j is not NULL
 * (j is cleared and reused). Flushes. */
void cli_output_event(FILE *out, cli_json *j, const HdTicketEvent *e);

/* "2026-11-23T10:00:01Z" (with ".123" before the Z when millis); "-" for 0. */
void cli_time_iso(int64_t ms, bool millis, char *buf, size_t len);
/* Like cli_time_iso without millis, but only "10:00:00Z" when on the same UTC day as ref. */
void cli_time_near(int64_t ms, int64_t ref, char *buf, size_t len);
/* A duration in ms as "30m", "2h", "1d 12h"; under a minute "3s". */
void cli_duration(int64_t ms, char *buf, size_t len);

/* Text. */
void cli_print_receipt(FILE *out, const HdContactReceipt *r);
void cli_print_ticket(FILE *out, const HdTicketDetail *d);
/* The ticket's new state and the events an action made. */
void cli_print_action(FILE *out, const HdTicketDetail *d);
/* One history line: "2026-11-23T10:00:01Z  created  by intake  — text"; what follows the
 * dash says what the event did, from its fields (e.g. "resolution due 10:00:00Z",
 * "email to a@b.c: sent (attempt 1)", "tier 1 -> 2 queue network-l2 by rule x: reason"). */
void cli_print_history_line(FILE *out, const HdTicketEvent *e);
/* One watch line: time, #seq, ticket, kind, actor, what it did. */
void cli_print_event_line(FILE *out, const HdTicketEvent *e);
void cli_print_list(FILE *out, const HdTicketList *l);
void cli_print_hits(FILE *out, const HdSearchResults *r);

/* JSON values (appended to j). */
void cli_json_receipt(cli_json *j, const HdContactReceipt *r, const char *source,
                      const char *external_id);
void cli_json_ticket(cli_json *j, const HdTicket *t);
void cli_json_event(cli_json *j, const HdTicketEvent *e);
void cli_json_detail(cli_json *j, const HdTicketDetail *d);
void cli_json_list(cli_json *j, const HdTicketList *l);
void cli_json_hits(cli_json *j, const HdSearchResults *r);

#endif
