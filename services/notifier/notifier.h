/* The notifier's decisions, as plain functions over protobuf structs: which communications an
 * event calls for, over which channels each goes, the placeholder values of its template, and
 * the retry schedule. No sockets, no network here. */
#ifndef NOTIF_NOTIFIER_H
#define NOTIF_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/proto.h"
#include "template.h"

/* Where internal notices go: a queue's team address (notifier.teams.<queue>.email). Returns
 * the address or NULL when none is configured. */
typedef const char *(*notif_team_fn)(const char *queue, void *ctx);

/* What one event asks to be told, to whom. */
typedef struct {
    char key[128];       /* the idempotency key, e.g. "ack/12", "reply/345" */
    char tmpl[24];       /* template kind: ack, update, reply, escalated, ... */
    char kind[16];       /* RecordCommunication.kind: ack, update, reply, escalation,
                            resolution, internal */
    bool internal;       /* for staff, not the customer (always English-or-tag-less) */
    char to[256];        /* email address; empty: none known */
    char who[128];       /* recipient for the log channel when there is no address */
} notif_comm;

#define NOTIF_MAX_COMMS 2

/* Event kinds the notifier acts on. */
bool notif_event_wanted(const HdTicketEvent *ev);
/* True when the decision needs the contact's other tickets (created: one ack per contact). */
bool notif_event_needs_contact(const HdTicketEvent *ev);

/* The communications `ev` calls for, for ticket `t` (the ticket after the event). Fills out[]
 * (at most NOTIF_MAX_COMMS) and returns how many; 0 for an event that needs none. */
size_t notif_plan(const HdTicketEvent *ev, const HdTicket *t, notif_team_fn team, void *team_ctx,
                  notif_comm *out);

/* One delivery of a communication over one channel. */
enum notif_channel { NOTIF_EMAIL, NOTIF_WEBHOOK, NOTIF_LOG };
const char *notif_channel_name(enum notif_channel c);

typedef struct {
    enum notif_channel channel;
    char key[160];       /* the communication's key; the webhook copy adds "/webhook" */
    char recipient[256]; /* address, webhook URL, or the log channel's "who" */
} notif_delivery;

/* The channels for `c`: email when SMTP is configured and an address is known, else the log
 * line; plus a webhook copy of everything when a webhook is configured. Returns the count
 * (1 or 2). */
size_t notif_channels(const notif_comm *c, bool smtp, const char *webhook_url,
                      notif_delivery out[2]);

/* Delay in ms before attempt `attempt` + 1, after attempt `attempt` (>= 1) failed:
 * initial * 2^(attempt-1), capped at max. */
int64_t notif_backoff_ms(int64_t initial_ms, int64_t max_ms, uint32_t attempt);

/* "30 minutes", "2 heures", "24 jam", ... in the language `lang` (a template folder name). */
void notif_interval_text(const char *lang, int64_t ms, char *buf, size_t len);

/* "#12" or "#12, #13, #14" into buf, for {{tickets}}. The event's own ticket comes first only
 * by id order; ids are listed as given. */
void notif_ticket_list(const int64_t *ids, size_t n, char *buf, size_t len);

/* Placeholder values for a communication, with storage of their own; v[] points into it and
 * into the event and ticket, which must outlive it. */
#define NOTIF_N_VARS 11
typedef struct {
    char ticket[24], tickets[1024], priority[64], tier[12], interval[64], satisfaction[1024];
    notif_var v[NOTIF_N_VARS];
} notif_vars;

/* Fills every placeholder: {{ticket}} {{tickets}} (contact_ids, or just this ticket when
 * n_ids is 0) {{name}} {{summary}} {{priority}} {{queue}} {{tier}} {{solution}} {{message}}
 * {{interval}} {{satisfaction}} (satisfaction_url with {ticket} replaced; empty when unset). */
void notif_vars_fill(notif_vars *v, const char *lang, const HdTicketEvent *ev, const HdTicket *t,
                     const int64_t *ids, size_t n_ids, const char *satisfaction_url);

#endif
