/* How the CLI shows tickets, events and receipts: text for people, JSON for scripts. */
#ifndef CLI_FORMAT_H
#define CLI_FORMAT_H

#include <stdbool.h>
#include <stdio.h>

#include "hd/proto.h"
#include "json.h"

/* "2026-11-23T10:00:01Z" (with ".123" before the Z when millis); "-" for 0. */
void cli_time_iso(int64_t ms, bool millis, char *buf, size_t len);
/* A duration in ms as "30m", "2h", "1d 12h". */
void cli_duration(int64_t ms, char *buf, size_t len);

/* Text. */
void cli_print_receipt(FILE *out, const HdContactReceipt *r);
void cli_print_ticket(FILE *out, const HdTicketDetail *d);
/* One history line: "2026-11-23T10:00:01Z  created  by intake  — text". */
void cli_print_history_line(FILE *out, const HdTicketEvent *e);
/* One watch line: time, #seq, ticket, kind, actor, text. */
void cli_print_event_line(FILE *out, const HdTicketEvent *e);
void cli_print_list(FILE *out, const HdTicketList *l);

/* JSON values (appended to j). */
void cli_json_receipt(cli_json *j, const HdContactReceipt *r, const char *source,
                      const char *external_id);
void cli_json_ticket(cli_json *j, const HdTicket *t);
void cli_json_event(cli_json *j, const HdTicketEvent *e);
void cli_json_detail(cli_json *j, const HdTicketDetail *d);
void cli_json_list(cli_json *j, const HdTicketList *l);

#endif
