#include "format.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "hd/utf8.h"

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
    else
        snprintf(buf, len, "%" PRId64 "m", m ? m : 1);
}

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

void cli_print_receipt(FILE *out, const HdContactReceipt *r)
{
    fprintf(out, "contact %" PRId64 ": ticket%s", r->contact_id, r->n_ticket_ids == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_ticket_ids; i++)
        fprintf(out, " %" PRId64, r->ticket_ids[i]);
    fprintf(out, "%s\n", r->duplicate ? " (already received)" : "");
}

/* "  label        value" when value is set. */
static void row(FILE *out, const char *label, const char *value)
{
    if (empty(value))
        return;
    fprintf(out, "  %-14s ", label);
    put_text(out, value, "\n                 ");
    fputc('\n', out);
}

static void print_customer(FILE *out, const HdCustomer *c)
{
    if (c == NULL)
        return;
    row(out, "customer", c->name);
    row(out, "email", c->email);
    row(out, "phone", c->phone);
    row(out, "language", c->language);
    row(out, "organization", c->organization);
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

static void print_account(FILE *out, const HdAccount *a)
{
    if (a == NULL)
        return;
    row(out, "account", a->account_number);
    row(out, "contract", a->contract_level);
    row(out, "licence", a->licence);
    row(out, "product", a->product);
    row(out, "model", a->model);
    row(out, "serial", a->serial_number);
}

static void print_location(FILE *out, const HdLocation *l)
{
    if (l == NULL)
        return;
    row(out, "site", l->site);
    row(out, "building", l->building);
    row(out, "floor", l->floor);
    row(out, "room", l->room);
    row(out, "address", l->address);
    row(out, "city", l->city);
    row(out, "country", l->country);
}

static void print_problem(FILE *out, const HdProblem *p)
{
    if (p == NULL)
        return;
    row(out, "summary", p->summary);
    row(out, "category", p->category);
    row(out, "description", p->description);
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

static void print_sla(FILE *out, const HdSlaDeadlines *s)
{
    if (s == NULL || s->resolution_due == 0)
        return;
    char buf[64];
    cli_time_iso(s->first_response_due, false, buf, sizeof buf);
    row(out, "first response", buf);
    cli_duration(s->update_interval_ms, buf, sizeof buf);
    row(out, "update every", buf);
    cli_time_iso(s->resolution_due, false, buf, sizeof buf);
    row(out, "resolution", buf);
    cli_time_iso(s->tier2_escalation_due, false, buf, sizeof buf);
    row(out, "tier 2 after", buf);
    cli_time_iso(s->tier3_escalation_due, false, buf, sizeof buf);
    row(out, "tier 3 after", buf);
}

void cli_print_ticket(FILE *out, const HdTicketDetail *d)
{
    const HdTicket *t = d->ticket;
    if (t == NULL)
        return;
    char buf[128], when[40];
    fprintf(out, "ticket %" PRId64 "  %s", t->id, hd_status_name(t->status));
    if (t->priority)
        fprintf(out, "  %s %s", hd_priority_name(t->priority), hd_priority_title(t->priority));
    fputc('\n', out);
    if (!empty(t->queue)) {
        snprintf(buf, sizeof buf, "%s, tier %" PRIu32, t->queue, t->tier);
        row(out, "queue", buf);
    }
    row(out, "assignee", t->assignee);
    snprintf(buf, sizeof buf, "%" PRId64 " (problem %" PRIu32 ")", t->contact_id,
             t->problem_index + 1);
    row(out, "contact", buf);
    row(out, "channel", hd_channel_name(t->channel));
    snprintf(buf, sizeof buf, "%s / %s", t->source ? t->source : "",
             t->external_id ? t->external_id : "");
    row(out, "source / id", buf);
    cli_time_iso(t->created_at, false, when, sizeof when);
    row(out, "created", when);
    cli_time_iso(t->updated_at, false, when, sizeof when);
    row(out, "updated", when);
    print_problem(out, t->problem);
    print_customer(out, t->customer);
    print_account(out, t->account);
    print_location(out, t->location);
    row(out, "priority rule", t->priority_rule);
    row(out, "route rule", t->route_rule);
    print_sla(out, t->sla);
    fputs("history\n", out);
    for (size_t i = 0; i < d->n_history; i++) {
        fputs("  ", out);
        cli_print_history_line(out, d->history[i]);
    }
}

/* What an event did, for events that carry no sentence of their own. */
static void put_event_text(FILE *out, const HdTicketEvent *e)
{
    if (!empty(e->text)) {
        fputs("  — ", out);
        put_text(out, e->text, " ");
        return;
    }
    fprintf(out, "  — status %s", hd_status_name(e->status));
    if (e->priority)
        fprintf(out, ", %s", hd_priority_name(e->priority));
    if (!empty(e->queue))
        fprintf(out, ", queue %s tier %" PRIu32, e->queue, e->tier);
    if (!empty(e->rule))
        fprintf(out, ", rule %s", e->rule);
}

void cli_print_history_line(FILE *out, const HdTicketEvent *e)
{
    char when[40];
    cli_time_iso(e->at, false, when, sizeof when);
    fprintf(out, "%s  %s  by ", when, hd_event_kind_name(e->kind));
    put_text(out, empty(e->actor) ? "?" : e->actor, " ");
    put_event_text(out, e);
    fputc('\n', out);
}

void cli_print_event_line(FILE *out, const HdTicketEvent *e)
{
    char when[40];
    cli_time_iso(e->at, false, when, sizeof when);
    fprintf(out, "%s  #%" PRId64 "  ticket %" PRId64 "  %s  by ", when, e->seq, e->ticket_id,
            hd_event_kind_name(e->kind));
    put_text(out, empty(e->actor) ? "?" : e->actor, " ");
    put_event_text(out, e);
    fputc('\n', out);
}

void cli_print_list(FILE *out, const HdTicketList *l)
{
    fprintf(out, "%-8s %-16s %-4s %-20s %-4s %s\n", "ID", "STATUS", "PRIO", "QUEUE", "TIER",
            "SUMMARY");
    for (size_t i = 0; i < l->n_tickets; i++) {
        const HdTicket *t = l->tickets[i];
        char tier[16] = "-";
        if (t->tier)
            snprintf(tier, sizeof tier, "%" PRIu32, t->tier);
        fprintf(out, "%-8" PRId64 " %-16s %-4s %-20s %-4s ", t->id, hd_status_name(t->status),
                t->priority ? hd_priority_name(t->priority) : "-",
                empty(t->queue) ? "-" : t->queue, tier);
        put_short(out, t->problem ? t->problem->summary : "", 60);
        fputc('\n', out);
    }
    if (l->n_tickets == 0)
        fputs("(no tickets)\n", out);
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

static void json_customer(cli_json *j, const HdCustomer *c)
{
    cli_json_key(j, "customer");
    if (c == NULL) {
        cli_json_null(j);
        return;
    }
    cli_json_begin_object(j);
    kstr_opt(j, "name", c->name);
    kstr_opt(j, "email", c->email);
    kstr_opt(j, "phone", c->phone);
    kstr_opt(j, "language", c->language);
    kstr_opt(j, "organization", c->organization);
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
    cli_json_end_object(j);
}

static void json_account(cli_json *j, const HdAccount *a)
{
    cli_json_key(j, "account");
    if (a == NULL) {
        cli_json_null(j);
        return;
    }
    cli_json_begin_object(j);
    kstr_opt(j, "account_number", a->account_number);
    kstr_opt(j, "contract_level", a->contract_level);
    kstr_opt(j, "licence", a->licence);
    kstr_opt(j, "product", a->product);
    kstr_opt(j, "model", a->model);
    kstr_opt(j, "serial_number", a->serial_number);
    cli_json_end_object(j);
}

static void json_location(cli_json *j, const HdLocation *l)
{
    cli_json_key(j, "location");
    if (l == NULL) {
        cli_json_null(j);
        return;
    }
    cli_json_begin_object(j);
    kstr_opt(j, "site", l->site);
    kstr_opt(j, "building", l->building);
    kstr_opt(j, "floor", l->floor);
    kstr_opt(j, "room", l->room);
    kstr_opt(j, "address", l->address);
    kstr_opt(j, "city", l->city);
    kstr_opt(j, "country", l->country);
    cli_json_end_object(j);
}

static void json_problem(cli_json *j, const HdProblem *p)
{
    cli_json_key(j, "problem");
    if (p == NULL) {
        cli_json_null(j);
        return;
    }
    cli_json_begin_object(j);
    kstr_opt(j, "summary", p->summary);
    kstr_opt(j, "category", p->category);
    kstr_opt(j, "description", p->description);
    cli_json_kint(j, "users_affected", p->users_affected);
    kenum(j, "urgency", p->urgency, hd_level_name(p->urgency));
    kenum(j, "impact", p->impact, hd_level_name(p->impact));
    cli_json_end_object(j);
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
    json_customer(j, t->customer);
    json_account(j, t->account);
    json_location(j, t->location);
    json_problem(j, t->problem);
    kstr_opt(j, "priority_rule", t->priority_rule);
    kstr_opt(j, "route_rule", t->route_rule);
    json_sla(j, t->sla);
    ktime(j, "created_at", t->created_at);
    ktime(j, "updated_at", t->updated_at);
    cli_json_end_object(j);
}

void cli_json_event(cli_json *j, const HdTicketEvent *e)
{
    cli_json_begin_object(j);
    cli_json_kint(j, "seq", e->seq);
    cli_json_kint(j, "ticket_id", e->ticket_id);
    cli_json_kstr(j, "kind", hd_event_kind_name(e->kind));
    kstr_opt(j, "actor", e->actor);
    ktime(j, "at", e->at);
    kenum(j, "status", e->status, hd_status_name(e->status));
    kenum(j, "priority", e->priority, hd_priority_name(e->priority));
    kstr_opt(j, "queue", e->queue);
    cli_json_kint(j, "tier", e->tier);
    kstr_opt(j, "rule", e->rule);
    kstr_opt(j, "text", e->text);
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
