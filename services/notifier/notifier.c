#include "notifier.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define K(x) HELPDESK__V1__EVENT_KIND__EVENT_##x

bool notif_event_wanted(const HdTicketEvent *ev)
{
    switch (ev->kind) {
    case K(CREATED):
    case K(UPDATE_DUE):
    case K(REPLY):
    case K(ESCALATED):
    case K(SLA_BREACH):
    case K(RESOLVED):
        return true;
    default:
        return false;
    }
}

bool notif_event_needs_contact(const HdTicketEvent *ev)
{
    return ev->kind == K(CREATED);
}

static const char *str_or(const char *s, const char *def)
{
    return s != NULL && s[0] != '\0' ? s : def;
}

/* A communication to the ticket's customer. */
static void to_customer(notif_comm *c, const HdTicket *t, const char *tmpl, const char *kind)
{
    memset(c, 0, sizeof *c);
    snprintf(c->tmpl, sizeof c->tmpl, "%s", tmpl);
    snprintf(c->kind, sizeof c->kind, "%s", kind);
    const HdCustomer *cu = t->customer;
    snprintf(c->to, sizeof c->to, "%s", cu ? str_or(cu->email, "") : "");
    snprintf(c->who, sizeof c->who, "customer:%s",
             cu ? str_or(cu->name, str_or(cu->phone, "unknown")) : "unknown");
}

/* An internal notice to `addr`, or to the team of `queue` when addr is empty. False when no one
 * can be told. */
static bool to_staff(notif_comm *c, const char *addr, const char *queue, const char *tmpl,
                     notif_team_fn team, void *team_ctx)
{
    memset(c, 0, sizeof *c);
    snprintf(c->tmpl, sizeof c->tmpl, "%s", tmpl);
    snprintf(c->kind, sizeof c->kind, "internal");
    c->internal = true;
    const char *team_addr = team != NULL ? team(queue, team_ctx) : NULL;
    const char *to = str_or(addr, str_or(team_addr, ""));
    snprintf(c->to, sizeof c->to, "%s", to);
    snprintf(c->who, sizeof c->who, "team:%s", str_or(queue, "unassigned"));
    return to[0] != '\0';
}

size_t notif_plan(const HdTicketEvent *ev, const HdTicket *t, notif_team_fn team, void *team_ctx,
                  notif_comm *out)
{
    long long seq = (long long)ev->seq, id = (long long)t->id;
    const char *queue = str_or(ev->queue, str_or(t->queue, ""));
    switch (ev->kind) {
    case K(CREATED):
        to_customer(&out[0], t, "ack", "ack");
        snprintf(out[0].key, sizeof out[0].key, "ack/%lld", (long long)t->contact_id);
        return 1;
    case K(UPDATE_DUE):
        to_customer(&out[0], t, "update", "update");
        snprintf(out[0].key, sizeof out[0].key, "update/%lld/%lld", id,
                 (long long)ev->deadline_at);
        return 1;
    case K(REPLY):
        to_customer(&out[0], t, "reply", "reply");
        snprintf(out[0].key, sizeof out[0].key, "reply/%lld", seq);
        return 1;
    case K(ESCALATED):
        to_customer(&out[0], t, "escalated", "escalation");
        snprintf(out[0].key, sizeof out[0].key, "escalated/%lld/customer", seq);
        /* The manager named by the event, else the team of the queue; without either the
         * notice still goes to the log so the escalation is visible somewhere. */
        (void)to_staff(&out[1], ev->recipient, queue, "escalated_internal", team, team_ctx);
        if (ev->recipient != NULL && ev->recipient[0] != '\0')
            snprintf(out[1].who, sizeof out[1].who, "manager:%s", ev->recipient);
        snprintf(out[1].key, sizeof out[1].key, "escalated/%lld/internal", seq);
        return 2;
    case K(SLA_BREACH):
        if (!to_staff(&out[0], NULL, queue, "breach_internal", team, team_ctx))
            return 0; /* the contract: only when the queue's team is configured */
        snprintf(out[0].key, sizeof out[0].key, "breach/%lld", seq);
        return 1;
    case K(RESOLVED):
        to_customer(&out[0], t, "resolved", "resolution");
        snprintf(out[0].key, sizeof out[0].key, "resolved/%lld", seq);
        return 1;
    default:
        return 0;
    }
}

const char *notif_channel_name(enum notif_channel c)
{
    switch (c) {
    case NOTIF_EMAIL:
        return "email";
    case NOTIF_WEBHOOK:
        return "webhook";
    default:
        return "log";
    }
}

size_t notif_channels(const notif_comm *c, bool smtp, const char *webhook_url,
                      notif_delivery out[2])
{
    size_t n = 0;
    memset(out, 0, 2 * sizeof *out);
    if (smtp && c->to[0] != '\0') {
        out[n].channel = NOTIF_EMAIL;
        snprintf(out[n].recipient, sizeof out[n].recipient, "%s", c->to);
    } else {
        out[n].channel = NOTIF_LOG;
        snprintf(out[n].recipient, sizeof out[n].recipient, "%s",
                 c->to[0] != '\0' ? c->to : c->who);
    }
    snprintf(out[n].key, sizeof out[n].key, "%s", c->key);
    n++;
    if (webhook_url != NULL && webhook_url[0] != '\0') {
        out[n].channel = NOTIF_WEBHOOK;
        snprintf(out[n].recipient, sizeof out[n].recipient, "%s", webhook_url);
        snprintf(out[n].key, sizeof out[n].key, "%s/webhook", c->key);
        n++;
    }
    return n;
}

int64_t notif_backoff_ms(int64_t initial_ms, int64_t max_ms, uint32_t attempt)
{
    if (initial_ms < 1)
        initial_ms = 1;
    int64_t d = initial_ms;
    for (uint32_t i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

typedef struct {
    const char *lang;
    const char *minute[2], *hour[2], *day[2]; /* singular, plural */
} units;

/* Arabic and Urdu count nouns have more forms than two; these are the forms a help desk letter
 * uses after a numeral written in digits. */
static const units UNITS[] = {
    {"en", {"minute", "minutes"}, {"hour", "hours"}, {"day", "days"}},
    {"fr", {"minute", "minutes"}, {"heure", "heures"}, {"jour", "jours"}},
    {"id", {"menit", "menit"}, {"jam", "jam"}, {"hari", "hari"}},
    {"ar", {"دقيقة", "دقيقة"}, {"ساعة", "ساعة"}, {"يوم", "يومًا"}},
    {"ur", {"منٹ", "منٹ"}, {"گھنٹہ", "گھنٹے"}, {"دن", "دن"}},
};

void notif_interval_text(const char *lang, int64_t ms, char *buf, size_t len)
{
    const units *u = &UNITS[0];
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
        if (lang != NULL && strcmp(UNITS[i].lang, lang) == 0)
            u = &UNITS[i];
    int64_t min = ms / 60000;
    if (min < 1)
        min = 1; /* test configurations use seconds; "1 minute" reads better than "0" */
    int64_t n = min;
    const char *const *w = u->minute;
    if (min % ((int64_t)24 * 60) == 0) {
        n = min / ((int64_t)24 * 60);
        w = u->day;
    } else if (min % 60 == 0) {
        n = min / 60;
        w = u->hour;
    }
    snprintf(buf, len, "%" PRId64 " %s", n, w[n == 1 ? 0 : 1]);
}

void notif_ticket_list(const int64_t *ids, size_t n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < len; i++) {
        int w = snprintf(buf + used, len - used, "%s#%lld", i ? ", " : "", (long long)ids[i]);
        if (w < 0 || (size_t)w >= len - used) {
            buf[used] = '\0'; /* no half numbers */
            break;
        }
        used += (size_t)w;
    }
}

/* satisfaction_url with every "{ticket}" replaced by the ticket id. */
static void satisfaction_link(const char *url, int64_t id, char *buf, size_t len)
{
    buf[0] = '\0';
    if (url == NULL || url[0] == '\0')
        return;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)id);
    size_t used = 0;
    for (const char *p = url; *p && used + 1 < len;) {
        const char *ins = strncmp(p, "{ticket}", 8) == 0 ? num : NULL;
        size_t n = ins ? strlen(num) : 1;
        if (used + n + 1 > len)
            break;
        memcpy(buf + used, ins ? ins : p, n);
        used += n;
        p += ins ? 8 : 1;
    }
    buf[used] = '\0';
}

static const char *event_message(const HdTicketEvent *ev)
{
    if (ev->kind == K(ESCALATED) || ev->kind == K(SLA_BREACH))
        return str_or(ev->reason, str_or(ev->text, hd_deadline_name(ev->deadline)));
    return str_or(ev->text, "");
}

void notif_vars_fill(notif_vars *v, const char *lang, const HdTicketEvent *ev, const HdTicket *t,
                     const int64_t *ids, size_t n_ids, const char *satisfaction_url)
{
    snprintf(v->ticket, sizeof v->ticket, "%lld", (long long)t->id);
    if (n_ids > 0)
        notif_ticket_list(ids, n_ids, v->tickets, sizeof v->tickets);
    else
        notif_ticket_list(&t->id, 1, v->tickets, sizeof v->tickets);
    Helpdesk__V1__Priority p = t->priority ? t->priority : ev->priority;
    if (p != HELPDESK__V1__PRIORITY__PRIORITY_UNSPECIFIED)
        snprintf(v->priority, sizeof v->priority, "%s", hd_priority_name(p));
    else
        v->priority[0] = '\0';
    uint32_t tier = ev->tier ? ev->tier : t->tier;
    if (tier)
        snprintf(v->tier, sizeof v->tier, "%u", tier);
    else
        v->tier[0] = '\0';
    int64_t every = t->sla ? t->sla->update_interval_ms : 0;
    if (every > 0)
        notif_interval_text(lang, every, v->interval, sizeof v->interval);
    else
        v->interval[0] = '\0';
    satisfaction_link(satisfaction_url, t->id, v->satisfaction, sizeof v->satisfaction);
    const HdCustomer *cu = t->customer;
    const char *solution = str_or(t->solution, ev->kind == K(RESOLVED) ? ev->text : "");
    size_t i = 0;
    v->v[i++] = (notif_var){"ticket", v->ticket};
    v->v[i++] = (notif_var){"tickets", v->tickets};
    v->v[i++] = (notif_var){"name", cu ? str_or(cu->name, "") : ""};
    v->v[i++] = (notif_var){"summary", t->problem ? str_or(t->problem->summary, "") : ""};
    v->v[i++] = (notif_var){"priority", v->priority};
    v->v[i++] = (notif_var){"queue", str_or(ev->queue, str_or(t->queue, ""))};
    v->v[i++] = (notif_var){"tier", v->tier};
    v->v[i++] = (notif_var){"solution", solution};
    v->v[i++] = (notif_var){"message", event_message(ev)};
    v->v[i++] = (notif_var){"interval", v->interval};
    v->v[i++] = (notif_var){"satisfaction", v->satisfaction};
}
