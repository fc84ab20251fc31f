#include "format.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EV(x) HELPDESK__V1__EVENT_KIND__EVENT_##x

/* --- times --- */

void cli_time_iso(int64_t ms, bool millis, char *buf, size_t len)
{
    if (ms <= 0) {
        snprintf(buf, len, "-");
        return;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char frac[8] = "";
    if (millis)
        snprintf(frac, sizeof frac, ".%03d", (int)(ms % 1000));
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void cli_time_near(int64_t ms, int64_t ref, char *buf, size_t len)
{
    const int64_t day = 86400000;
    cli_time_iso(ms, false, buf, len);
    char *t = strchr(buf, 'T');
    if (ms > 0 && ref > 0 && ms / day == ref / day && t)
        memmove(buf, t + 1, strlen(t + 1) + 1);
}

void cli_duration(int64_t ms, char *buf, size_t len)
{
    int64_t m = ms / 60000, d = m / 1440, h = (m / 60) % 24;
    m %= 60;
    if (ms <= 0)
        snprintf(buf, len, "-");
    else if (d > 0)
        snprintf(buf, len, h ? "%" PRId64 "d %" PRId64 "h" : "%" PRId64 "d", d, h);
    else if (h > 0)
        snprintf(buf, len, m ? "%" PRId64 "h %" PRId64 "m" : "%" PRId64 "h", h, m);
    else if (ms >= 60000)
        snprintf(buf, len, "%" PRId64 "m", m);
    else /* short test configurations */
        snprintf(buf, len, "%" PRId64 "s", (ms + 999) / 1000);
}

/* --- text helpers --- */

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* Writes text for a terminal: control characters (escape sequences a customer might have
 * typed) become '?', newlines become `newline`; UTF-8 passes through untouched. */
static void put_text(FILE *out, const char *s, const char *newline)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            fputs(newline, out);
        else if (c < 0x20 || c == 0x7F)
            fputc(c == '\t' ? ' ' : '?', out);
        else
            fputc(c, out);
    }
}

/* Prints at most `max` code points of s on one line, with "…" when cut. */
static void put_short(FILE *out, const char *s, size_t max)
{
    if (s == NULL)
        return;
    size_t len = strlen(s), i = 0, points = 0;
    while (i < len && points < max) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        points++;
    }
    char buf[1024];
    if (i >= sizeof buf)
        i = sizeof buf - 1;
    memcpy(buf, s, i);
    buf[i] = '\0';
    put_text(out, buf, " ");
    if (i < len)
        fputs("…", out);
}

/* "  label          value" when value is set. */
static void row(FILE *out, const char *label, const char *value)
{
    if (empty(value))
        return;
    fprintf(out, "  %-14s ", label);
    put_text(out, value, "\n                 ");
    fputc('\n', out);
}

static void row_time(FILE *out, const char *label, int64_t ms)
{
    char buf[40];
    if (ms <= 0)
        return;
    cli_time_iso(ms, false, buf, sizeof buf);
    row(out, label, buf);
}

static const char *satisfaction_name(int32_t s)
{
    return s == 1 ? "satisfied" : s == 2 ? "not satisfied" : NULL;
}

/* --- the string fields of the sub-messages, for text and JSON alike --- */

typedef struct {
    const char *label; /* text */
    const char *key;   /* JSON */
    size_t offset;     /* of a char * in the message */
} str_field;

#define F(type, label, member)                                                                     \
    {                                                                                              \
        label, #member, offsetof(type, member)                                                     \
    }

static const str_field customer_fields[] = {
    F(HdCustomer, "customer", name),
    F(HdCustomer, "email", email),
    F(HdCustomer, "phone", phone),
    F(HdCustomer, "language", language),
    F(HdCustomer, "organization", organization),
};
static const str_field account_fields[] = {
    F(HdAccount, "account", account_number),
    F(HdAccount, "contract", contract_level),
    F(HdAccount, "licence", licence),
    F(HdAccount, "product", product),
    F(HdAccount, "model", model),
    F(HdAccount, "serial", serial_number),
};
static const str_field location_fields[] = {
    F(HdLocation, "site", site),       F(HdLocation, "building", building),
    F(HdLocation, "floor", floor),     F(HdLocation, "room", room),
    F(HdLocation, "address", address), F(HdLocation, "city", city),
    F(HdLocation, "country", country),
};
static const str_field problem_fields[] = {
    F(HdProblem, "summary", summary),
    F(HdProblem, "category", category),
    F(HdProblem, "description", description),
};

/* The string fields of an event that JSON carries as they are. */
static const str_field event_fields[] = {
    F(HdTicketEvent, "", actor),     F(HdTicketEvent, "", queue),
    F(HdTicketEvent, "", rule),      F(HdTicketEvent, "", text),
    F(HdTicketEvent, "", reason),    F(HdTicketEvent, "", channel),
    F(HdTicketEvent, "", recipient), F(HdTicketEvent, "", outcome),
    F(HdTicketEvent, "", assignee),  F(HdTicketEvent, "", key),
    F(HdTicketEvent, "", direction), F(HdTicketEvent, "", subject),
};

/* Times of a ticket, for JSON: an int64 of milliseconds each. */
typedef struct {
    const char *key;
    size_t offset;
} time_field;

#define T(member)                                                                                  \
    {                                                                                              \
#member, offsetof(HdTicket, member)                                                        \
    }

static const time_field ticket_times[] = {
    T(created_at), T(updated_at),  T(first_response_at), T(next_update_due),
    T(paused_at),  T(resolved_at), T(closed_at),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *field_of(const void *msg, const str_field *f)
{
    return *(char *const *)((const char *)msg + f->offset);
}

static void rows(FILE *out, const void *msg, const str_field *fields, size_t n)
{
    for (size_t i = 0; msg && i < n; i++)
        row(out, fields[i].label, field_of(msg, &fields[i]));
}

/* --- ticket --- */

static void print_customer(FILE *out, const HdCustomer *c)
{
    if (c == NULL)
        return;
    rows(out, c, customer_fields, N(customer_fields));
    if (c->vip)
        row(out, "vip", "yes");
    for (size_t i = 0; i < c->n_attributes; i++) {
        fprintf(out, "  %-14s ", "attribute");
        put_text(out, c->attributes[i]->key, " ");
        fputs(" = ", out);
        put_text(out, c->attributes[i]->value, " ");
        fputc('\n', out);
    }
}

static void print_problem(FILE *out, const HdProblem *p)
{
    if (p == NULL)
        return;
    rows(out, p, problem_fields, N(problem_fields));
    char buf[64];
    if (p->users_affected) {
        snprintf(buf, sizeof buf, "%" PRIu32, p->users_affected);
        row(out, "users affected", buf);
    }
    if (p->urgency)
        row(out, "urgency", hd_level_name(p->urgency));
    if (p->impact)
        row(out, "impact", hd_level_name(p->impact));
}

/* The deadlines and where the clock stands. */
static void print_sla(FILE *out, const HdTicket *t)
{
    const HdSlaDeadlines *s = t->sla;
    char buf[128], a[40], b[40];
    if (s && s->resolution_due != 0) {
        cli_time_iso(s->first_response_due, false, b, sizeof b);
        cli_time_iso(t->first_response_at, false, a, sizeof a);
        if (t->first_response_at)
            snprintf(buf, sizeof buf, "%s (due %s)", a, b);
        else
            snprintf(buf, sizeof buf, "not yet, due %s", b);
        row(out, "first response", buf);
        cli_duration(s->update_interval_ms, buf, sizeof buf);
        row(out, "update every", buf);
    } else {
        row_time(out, "first response", t->first_response_at);
    }
    row_time(out, "next update", t->next_update_due);
    if (s && s->resolution_due != 0) {
        row_time(out, "resolution", s->resolution_due);
        row_time(out, "tier 2 after", s->tier2_escalation_due);
        row_time(out, "tier 3 after", s->tier3_escalation_due);
    }
    if (t->paused_at) {
        cli_time_iso(t->paused_at, false, a, sizeof a);
        snprintf(buf, sizeof buf, "since %s (waiting for the customer)", a);
        row(out, "clock paused", buf);
    }
}

/* "ticket 31  in_progress  P1 enterprise failure" */
static void print_header(FILE *out, const HdTicket *t)
{
    fprintf(out, "ticket %" PRId64 "  %s", t->id, hd_status_name(t->status));
    if (t->priority)
        fprintf(out, "  %s %s", hd_priority_name(t->priority), hd_priority_title(t->priority));
    fputc('\n', out);
}

static void print_queue(FILE *out, const HdTicket *t)
{
    char buf[128];
    if (!empty(t->queue)) {
        snprintf(buf, sizeof buf, "%s, tier %" PRIu32, t->queue, t->tier);
        row(out, "queue", buf);
    }
    row(out, "assignee", t->assignee);
}

static void print_outcome(FILE *out, const HdTicket *t)
{
    row_time(out, "resolved", t->resolved_at);
    row_time(out, "closed", t->closed_at);
    row(out, "solution", t->solution);
    row(out, "satisfaction", satisfaction_name(t->satisfaction));
}

static void print_history(FILE *out, const HdTicketDetail *d)
{
    for (size_t i = 0; i < d->n_history; i++) {
        fputs("  ", out);
        cli_print_history_line(out, d->history[i]);
    }
}

void cli_print_ticket(FILE *out, const HdTicketDetail *d)
{
    const HdTicket *t = d->ticket;
    if (t == NULL)
        return;
    char buf[128];
    print_header(out, t);
    print_queue(out, t);
    snprintf(buf, sizeof buf, "%" PRId64 " (problem %" PRIu32 ")", t->contact_id,
             t->problem_index + 1);
    row(out, "contact", buf);
    row(out, "channel", hd_channel_name(t->channel));
    snprintf(buf, sizeof buf, "%s / %s", t->source ? t->source : "",
             t->external_id ? t->external_id : "");
    row(out, "source / id", buf);
    row_time(out, "created", t->created_at);
    row_time(out, "updated", t->updated_at);
    print_problem(out, t->problem);
    print_customer(out, t->customer);
    rows(out, t->account, account_fields, N(account_fields));
    rows(out, t->location, location_fields, N(location_fields));
    row(out, "priority rule", t->priority_rule);
    row(out, "route rule", t->route_rule);
    print_sla(out, t);
    print_outcome(out, t);
    fputs("history\n", out);
    print_history(out, d);
}

void cli_print_action(FILE *out, const HdTicketDetail *d)
{
    if (d->ticket == NULL)
        return;
    print_header(out, d->ticket);
    print_queue(out, d->ticket);
    print_history(out, d);
}

void cli_print_receipt(FILE *out, const HdContactReceipt *r)
{
    fprintf(out, "contact %" PRId64 ": ticket%s", r->contact_id, r->n_ticket_ids == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_ticket_ids; i++)
        fprintf(out, " %" PRId64, r->ticket_ids[i]);
    fprintf(out, "%s\n", r->duplicate ? " (already received)" : "");
}

/* --- events --- */

/* ": text" when there is text. */
static void put_colon(FILE *out, const char *s)
{
    if (empty(s))
        return;
    fputs(": ", out);
    put_text(out, s, " ");
}

/* The events of issue 2 and any kind this CLI does not know: their own text, or the state. */
static void describe_state(FILE *out, const HdTicketEvent *e)
{
    if (!empty(e->text)) {
        put_text(out, e->text, " ");
        return;
    }
    fprintf(out, "status %s", hd_status_name(e->status));
    if (e->priority)
        fprintf(out, ", %s", hd_priority_name(e->priority));
    if (!empty(e->queue))
        fprintf(out, ", queue %s tier %" PRIu32, e->queue, e->tier);
    if (!empty(e->rule))
        fprintf(out, ", rule %s", e->rule);
}

/* "resolution due 10:00:00Z" */
static void describe_deadline(FILE *out, const HdTicketEvent *e)
{
    char when[40];
    cli_time_near(e->deadline_at, e->at, when, sizeof when);
    fprintf(out, "%s due %s", hd_deadline_name(e->deadline), when);
}

/* "tier 1 -> 2 queue network-l2 by rule x: reason", or "tier 3 -> manager m@x ..." */
static void describe_escalated(FILE *out, const HdTicketEvent *e)
{
    fprintf(out, "tier %" PRIu32 " -> ", e->from_tier);
    if (!empty(e->recipient)) {
        fputs("manager ", out);
        put_text(out, e->recipient, " ");
    } else {
        fprintf(out, "%" PRIu32 " queue ", e->tier);
        put_text(out, empty(e->queue) ? "-" : e->queue, " ");
    }
    if (!empty(e->rule)) {
        fputs(" by rule ", out);
        put_text(out, e->rule, " ");
    }
    put_colon(out, e->reason);
}

/* "email to a@b.c: sent (attempt 1), subject: ..." */
static void describe_communication(FILE *out, const HdTicketEvent *e)
{
    put_text(out, empty(e->channel) ? "?" : e->channel, " ");
    fputs(" to ", out);
    put_text(out, empty(e->recipient) ? "?" : e->recipient, " ");
    put_colon(out, empty(e->outcome) ? "?" : e->outcome);
    fprintf(out, " (attempt %" PRIu32 ")", e->attempt);
    if (!empty(e->subject)) {
        fputs(", subject", out);
        put_colon(out, e->subject);
    }
}

static void describe_request(FILE *out, const HdTicketEvent *e)
{
    fprintf(out, "from tier %" PRIu32, e->from_tier);
    if (e->deadline) {
        fputs(", ", out);
        describe_deadline(out, e);
    }
    put_colon(out, e->reason);
}

static void describe_contact(FILE *out, const HdTicketEvent *e)
{
    put_text(out, empty(e->direction) ? "?" : e->direction, " ");
    fputc(' ', out);
    put_text(out, empty(e->channel) ? "?" : e->channel, " ");
    put_colon(out, e->text);
}

/* What the event did, after the dash; nothing when it carries nothing to say. */
static void describe(FILE *out, const HdTicketEvent *e)
{
    const char *why = empty(e->reason) ? e->text : e->reason;
    switch (e->kind) {
    case EV(TAKEN):
    case EV(ASSIGNED):
        fputs("assignee ", out);
        put_text(out, empty(e->assignee) ? "-" : e->assignee, " ");
        break;
    case EV(NOTE): put_text(out, e->text, " "); break;
    case EV(REPLY):
        fputs("to the customer", out);
        put_colon(out, e->text);
        break;
    case EV(CONTACT_LOGGED): describe_contact(out, e); break;
    case EV(WAITING):
    case EV(RESUMED):
    case EV(CLOSED):
    case EV(REOPENED): put_text(out, why, " "); break;
    case EV(RESOLVED):
        fputs("solution", out);
        put_colon(out, e->text);
        break;
    case EV(ESCALATION_REQUESTED): describe_request(out, e); break;
    case EV(ESCALATED): describe_escalated(out, e); break;
    case EV(REPRIORITIZED):
        fprintf(out, "to %s", hd_priority_name(e->priority));
        put_colon(out, e->reason);
        break;
    case EV(SLA_WARNING):
    case EV(SLA_BREACH):
    case EV(UPDATE_DUE): describe_deadline(out, e); break;
    case EV(COMMUNICATION): describe_communication(out, e); break;
    case EV(SATISFACTION):
        fputs(satisfaction_name(e->satisfied) ? satisfaction_name(e->satisfied) : "no answer", out);
        put_colon(out, e->text);
        break;
    default: describe_state(out, e); break;
    }
}

/* "  — what it did", or nothing. */
static void put_description(FILE *out, const HdTicketEvent *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m == NULL)
        abort();
    describe(m, e);
    fclose(m);
    if (len > 0)
        fprintf(out, "  — %s", text);
    free(text);
}

static void put_event(FILE *out, const HdTicketEvent *e, bool with_seq)
{
    char when[40];
    cli_time_iso(e->at, false, when, sizeof when);
    fputs(when, out);
    if (with_seq)
        fprintf(out, "  #%" PRId64 "  ticket %" PRId64, e->seq, e->ticket_id);
    fprintf(out, "  %s  by ", hd_event_kind_name(e->kind));
    put_text(out, empty(e->actor) ? "?" : e->actor, " ");
    put_description(out, e);
    fputc('\n', out);
}

void cli_print_history_line(FILE *out, const HdTicketEvent *e)
{
    put_event(out, e, false);
}

void cli_print_event_line(FILE *out, const HdTicketEvent *e)
{
    put_event(out, e, true);
}

/* --- lists --- */

static void list_row(FILE *out, const HdTicket *t)
{
    char tier[16] = "-";
    if (t->tier)
        snprintf(tier, sizeof tier, "%" PRIu32, t->tier);
    fprintf(out, "%-8" PRId64 " %-16s %-4s %-20s %-4s ", t->id, hd_status_name(t->status),
            t->priority ? hd_priority_name(t->priority) : "-", empty(t->queue) ? "-" : t->queue,
            tier);
    put_short(out, t->problem ? t->problem->summary : "", 60);
    fputc('\n', out);
}

void cli_print_list(FILE *out, const HdTicketList *l)
{
    fprintf(out, "%-8s %-16s %-4s %-20s %-4s %s\n", "ID", "STATUS", "PRIO", "QUEUE", "TIER",
            "SUMMARY");
    for (size_t i = 0; i < l->n_tickets; i++)
        list_row(out, l->tickets[i]);
    if (l->n_tickets == 0)
        fputs("(no tickets)\n", out);
}

void cli_print_hits(FILE *out, const HdSearchResults *r)
{
    for (size_t i = 0; i < r->n_hits; i++) {
        const HdTicket *t = r->hits[i]->ticket;
        if (t == NULL)
            continue;
        fprintf(out, "%-8" PRId64 " %-9s rank %.3f  ", t->id, hd_status_name(t->status),
                (double)r->hits[i]->rank);
        put_short(out, t->problem ? t->problem->summary : "", 70);
        fputs("\n         solution: ", out);
        put_text(out, empty(t->solution) ? "-" : t->solution, "\n                   ");
        fputc('\n', out);
    }
    if (r->n_hits == 0)
        fputs("(no resolved ticket matches)\n", out);
}

/* --- JSON --- */

static void kstr_opt(cli_json *j, const char *key, const char *s)
{
    cli_json_kstr(j, key, s ? s : "");
}

static void ktime(cli_json *j, const char *key, int64_t ms)
{
    cli_json_key(j, key);
    if (ms <= 0) {
        cli_json_null(j);
        return;
    }
    char buf[40];
    cli_time_iso(ms, true, buf, sizeof buf);
    cli_json_string(j, buf);
}

static void kenum(cli_json *j, const char *key, int value, const char *name)
{
    cli_json_key(j, key);
    if (value == 0)
        cli_json_null(j);
    else
        cli_json_string(j, name);
}

static void json_strings(cli_json *j, const void *msg, const str_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kstr_opt(j, fields[i].key, field_of(msg, &fields[i]));
}

/* "key": {fields...} or null; `more` adds what the table does not cover. */
static void json_fields(cli_json *j, const char *key, const void *msg, const str_field *fields,
                        size_t n, void (*more)(cli_json *, const void *))
{
    cli_json_key(j, key);
    if (msg == NULL) {
        cli_json_null(j);
        return;
    }
    cli_json_begin_object(j);
    json_strings(j, msg, fields, n);
    if (more)
        more(j, msg);
    cli_json_end_object(j);
}

void cli_json_receipt(cli_json *j, const HdContactReceipt *r, const char *source,
                      const char *external_id)
{
    cli_json_begin_object(j);
    cli_json_kint(j, "contact_id", r->contact_id);
    cli_json_key(j, "ticket_ids");
    cli_json_begin_array(j);
    for (size_t i = 0; i < r->n_ticket_ids; i++)
        cli_json_int(j, r->ticket_ids[i]);
    cli_json_end_array(j);
    cli_json_kbool(j, "duplicate", r->duplicate);
    kstr_opt(j, "source", source);
    kstr_opt(j, "external_id", external_id);
    cli_json_end_object(j);
}

static void json_customer_more(cli_json *j, const void *msg)
{
    const HdCustomer *c = msg;
    cli_json_kbool(j, "vip", c->vip);
    /* An array, not an object: keys may repeat and their order may matter. */
    cli_json_key(j, "attributes");
    cli_json_begin_array(j);
    for (size_t i = 0; i < c->n_attributes; i++) {
        cli_json_begin_object(j);
        kstr_opt(j, "key", c->attributes[i]->key);
        kstr_opt(j, "value", c->attributes[i]->value);
        cli_json_end_object(j);
    }
    cli_json_end_array(j);
}

static void json_problem_more(cli_json *j, const void *msg)
{
    const HdProblem *p = msg;
    cli_json_kint(j, "users_affected", p->users_affected);
    kenum(j, "urgency", p->urgency, hd_level_name(p->urgency));
    kenum(j, "impact", p->impact, hd_level_name(p->impact));
}

static void json_sla(cli_json *j, const HdSlaDeadlines *s)
{
    cli_json_key(j, "sla");
    if (s == NULL || s->resolution_due == 0) {
        cli_json_null(j);
        return;
    }
    cli_json_begin_object(j);
    ktime(j, "first_response_due", s->first_response_due);
    cli_json_kint(j, "update_interval_ms", s->update_interval_ms);
    ktime(j, "resolution_due", s->resolution_due);
    ktime(j, "tier2_escalation_due", s->tier2_escalation_due);
    ktime(j, "tier3_escalation_due", s->tier3_escalation_due);
    cli_json_end_object(j);
}

/* satisfaction: "satisfied", "not_satisfied" or null */
static void ksatisfaction(cli_json *j, const char *key, int32_t s)
{
    kenum(j, key, s == 1 || s == 2, s == 1 ? "satisfied" : "not_satisfied");
}

void cli_json_ticket(cli_json *j, const HdTicket *t)
{
    cli_json_begin_object(j);
    cli_json_kint(j, "id", t->id);
    cli_json_kint(j, "contact_id", t->contact_id);
    cli_json_kint(j, "problem_index", t->problem_index);
    cli_json_kstr(j, "status", hd_status_name(t->status));
    kenum(j, "priority", t->priority, hd_priority_name(t->priority));
    kenum(j, "priority_title", t->priority, hd_priority_title(t->priority));
    kstr_opt(j, "queue", t->queue);
    cli_json_kint(j, "tier", t->tier);
    kstr_opt(j, "assignee", t->assignee);
    kenum(j, "channel", t->channel, hd_channel_name(t->channel));
    kstr_opt(j, "source", t->source);
    kstr_opt(j, "external_id", t->external_id);
    json_fields(j, "customer", t->customer, customer_fields, N(customer_fields),
                json_customer_more);
    json_fields(j, "account", t->account, account_fields, N(account_fields), NULL);
    json_fields(j, "location", t->location, location_fields, N(location_fields), NULL);
    json_fields(j, "problem", t->problem, problem_fields, N(problem_fields), json_problem_more);
    kstr_opt(j, "priority_rule", t->priority_rule);
    kstr_opt(j, "route_rule", t->route_rule);
    json_sla(j, t->sla);
    for (size_t i = 0; i < N(ticket_times); i++)
        ktime(j, ticket_times[i].key, *(const int64_t *)((const char *)t + ticket_times[i].offset));
    kstr_opt(j, "solution", t->solution);
    ksatisfaction(j, "satisfaction", t->satisfaction);
    cli_json_end_object(j);
}

void cli_json_event(cli_json *j, const HdTicketEvent *e)
{
    cli_json_begin_object(j);
    cli_json_kint(j, "seq", e->seq);
    cli_json_kint(j, "ticket_id", e->ticket_id);
    cli_json_kstr(j, "kind", hd_event_kind_name(e->kind));
    ktime(j, "at", e->at);
    kenum(j, "status", e->status, hd_status_name(e->status));
    kenum(j, "priority", e->priority, hd_priority_name(e->priority));
    cli_json_kint(j, "tier", e->tier);
    cli_json_kint(j, "from_tier", e->from_tier);
    json_strings(j, e, event_fields, N(event_fields));
    kenum(j, "deadline", e->deadline, hd_deadline_name(e->deadline));
    ktime(j, "deadline_at", e->deadline_at);
    ksatisfaction(j, "satisfied", e->satisfied);
    cli_json_kint(j, "attempt", e->attempt);
    cli_json_end_object(j);
}

void cli_json_detail(cli_json *j, const HdTicketDetail *d)
{
    cli_json_begin_object(j);
    cli_json_key(j, "ticket");
    if (d->ticket)
        cli_json_ticket(j, d->ticket);
    else
        cli_json_null(j);
    cli_json_key(j, "history");
    cli_json_begin_array(j);
    for (size_t i = 0; i < d->n_history; i++)
        cli_json_event(j, d->history[i]);
    cli_json_end_array(j);
    cli_json_end_object(j);
}

void cli_json_list(cli_json *j, const HdTicketList *l)
{
    cli_json_begin_array(j);
    for (size_t i = 0; i < l->n_tickets; i++)
        cli_json_ticket(j, l->tickets[i]);
    cli_json_end_array(j);
}

void cli_json_hits(cli_json *j, const HdSearchResults *r)
{
    cli_json_begin_array(j);
    for (size_t i = 0; i < r->n_hits; i++) {
        cli_json_begin_object(j);
        cli_json_key(j, "rank");
        cli_json_double(j, r->hits[i]->rank);
        cli_json_key(j, "ticket");
        if (r->hits[i]->ticket)
            cli_json_ticket(j, r->hits[i]->ticket);
        else
            cli_json_null(j);
        cli_json_end_object(j);
    }
    cli_json_end_array(j);
}

/* --- the entry points --- */

static void print_json(FILE *out, const cli_json *j)
{
    fputs(cli_json_text(j), out);
    fputc('\n', out);
    fflush(out);
}

static void json_reply(cli_json *j, enum cli_output kind, const HdReply *rep)
{
    switch (kind) {
    case CLI_OUT_TICKET:
    case CLI_OUT_ACTION: cli_json_detail(j, rep->ticket); break;
    case CLI_OUT_LIST: cli_json_list(j, rep->tickets); break;
    case CLI_OUT_HITS: cli_json_hits(j, rep->results); break;
    case CLI_OUT_RECEIPT: cli_json_receipt(j, rep->receipt, NULL, NULL); break;
    default: cli_json_null(j); break;
    }
}

static void text_reply(FILE *out, enum cli_output kind, const HdReply *rep)
{
    switch (kind) {
    case CLI_OUT_TICKET: cli_print_ticket(out, rep->ticket); break;
    case CLI_OUT_ACTION: cli_print_action(out, rep->ticket); break;
    case CLI_OUT_LIST: cli_print_list(out, rep->tickets); break;
    case CLI_OUT_HITS: cli_print_hits(out, rep->results); break;
    case CLI_OUT_RECEIPT: cli_print_receipt(out, rep->receipt); break;
    default: break;
    }
}

void cli_output(FILE *out, bool json, enum cli_output kind, const HdReply *rep)
{
    if (!json) {
        text_reply(out, kind, rep);
        fflush(out);
        return;
    }
    cli_json *j = cli_json_new();
    json_reply(j, kind, rep);
    print_json(out, j);
    cli_json_destroy(&j);
}

void cli_output_receipt(FILE *out, bool json, const HdContactReceipt *r, const char *source,
                        const char *external_id)
{
    if (!json) {
        cli_print_receipt(out, r);
        return;
    }
    cli_json *j = cli_json_new();
    cli_json_receipt(j, r, source, external_id);
    print_json(out, j);
    cli_json_destroy(&j);
}

void cli_output_event(FILE *out, cli_json *j, const HdTicketEvent *e)
{
    if (j == NULL) {
        cli_print_event_line(out, e);
        fflush(out);
        return;
    }
    cli_json_clear(j);
    cli_json_event(j, e);
    print_json(out, j);
}
