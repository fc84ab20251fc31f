#include "hd/proto.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const priority_names[] = {"unknown", "P1", "P2", "P3", "P4"};
static const char *const priority_titles[] = {"unknown", "enterprise failure",
                                              "critical situation", "regular scheduled service",
                                              "planned event"};
static const char *const status_names[] = {"unknown",  "new",    "triaged",
                                           "queued",   "in_progress", "waiting_customer",
                                           "resolved", "closed", "reopened"};
static const char *const channel_names[] = {"unknown", "phone",   "email", "web",
                                            "chat",    "on_site", "api"};
static const char *const level_names[] = {"unknown", "low", "medium", "high", "critical"};
static const char *const event_names[] = {
    "unknown",  "created",  "triaged",    "queued",    "taken",          "assigned",
    "note",     "reply",    "contact_logged", "waiting", "resumed",       "resolved",
    "closed",   "reopened", "escalation_requested", "escalated",  "reprioritized",
    "sla_warning", "sla_breach", "update_due", "communication", "satisfaction"};
static const char *const stage_names[] = {"unknown", "prioritize", "route", "escalate"};
static const char *const error_names[] = {
    "none",     "bad_request", "invalid_field",  "not_found",          "conflict",
    "unavailable", "internal", "unknown_worker", "illegal_transition", "empty"};
static const char *const deadline_names[] = {"unknown",    "first_response", "update",
                                             "resolution", "tier2",          "tier3"};

#define NAME_OF(table, v)                                                                  \
    (((unsigned)(v) < sizeof(table) / sizeof((table)[0])) ? (table)[(unsigned)(v)] : "unknown")

const char *hd_priority_name(Helpdesk__V1__Priority p) { return NAME_OF(priority_names, p); }
const char *hd_priority_title(Helpdesk__V1__Priority p) { return NAME_OF(priority_titles, p); }
const char *hd_status_name(Helpdesk__V1__Status s) { return NAME_OF(status_names, s); }
const char *hd_channel_name(Helpdesk__V1__Channel c) { return NAME_OF(channel_names, c); }
const char *hd_level_name(Helpdesk__V1__Level l) { return NAME_OF(level_names, l); }
const char *hd_event_kind_name(Helpdesk__V1__EventKind k) { return NAME_OF(event_names, k); }
const char *hd_stage_name(Helpdesk__V1__Stage s) { return NAME_OF(stage_names, s); }
const char *hd_error_code_name(Helpdesk__V1__ErrorCode c) { return NAME_OF(error_names, c); }
const char *hd_deadline_name(Helpdesk__V1__Deadline d) { return NAME_OF(deadline_names, d); }

/* Index of s in table[1..n), or -1. Index 0 is the "unknown" placeholder, never a match. */
static int find_name(const char *const *table, int n, const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 1; i < n; i++)
        if (strcasecmp(table[i], s) == 0)
            return i;
    return -1;
}

int hd_priority_parse(const char *s, Helpdesk__V1__Priority *out)
{
    int i = find_name(priority_names, 5, s);
    if (i < 0 && s != NULL && s[0] >= '1' && s[0] <= '4' && s[1] == '\0')
        i = s[0] - '0';
    if (i < 0)
        return -1;
    *out = (Helpdesk__V1__Priority)i;
    return 0;
}

int hd_status_parse(const char *s, Helpdesk__V1__Status *out)
{
    int i = find_name(status_names, 9, s);
    if (i < 0)
        return -1;
    *out = (Helpdesk__V1__Status)i;
    return 0;
}

int hd_channel_parse(const char *s, Helpdesk__V1__Channel *out)
{
    int i = find_name(channel_names, 7, s);
    if (i < 0)
        return -1;
    *out = (Helpdesk__V1__Channel)i;
    return 0;
}

int hd_level_parse(const char *s, Helpdesk__V1__Level *out)
{
    int i = find_name(level_names, 5, s);
    if (i < 0)
        return -1;
    *out = (Helpdesk__V1__Level)i;
    return 0;
}

int hd_event_kind_parse(const char *s, Helpdesk__V1__EventKind *out)
{
    int i = find_name(event_names, (int)(sizeof event_names / sizeof event_names[0]), s);
    if (i < 0)
        return -1;
    *out = (Helpdesk__V1__EventKind)i;
    return 0;
}

int hd_deadline_parse(const char *s, Helpdesk__V1__Deadline *out)
{
    int i = find_name(deadline_names, (int)(sizeof deadline_names / sizeof deadline_names[0]), s);
    if (i < 0)
        return -1;
    *out = (Helpdesk__V1__Deadline)i;
    return 0;
}
