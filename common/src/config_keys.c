/* The table of every setting: key, type, range, default and who reads it. hd_config_check
 * validates a service's config against it at start, and the README's configuration table is
 * checked against it (tests/unit/test_common_config.c), so a new setting goes here first.
 * The ranges are those the services pass to hd_config_int. */
#include <string.h>

#include "hd/config.h"

#define STORE HD_SVC_STORE
#define INTAKE HD_SVC_INTAKE
#define PRIO HD_SVC_PRIORITIZER
#define ROUTER HD_SVC_ROUTER
#define TIMER HD_SVC_TIMER
#define NOTIFIER HD_SVC_NOTIFIER
#define CLI HD_SVC_CLI
#define WORKERS (PRIO | ROUTER)
#define SERVICES (STORE | INTAKE | WORKERS | TIMER | NOTIFIER)
/* Every client of the store's api socket, and of its event PUB. */
#define API_CLIENTS (INTAKE | TIMER | NOTIFIER | CLI)
#define STORE_CLIENTS (INTAKE | WORKERS | TIMER | NOTIFIER | CLI)

#define TEXT(k, d, who) {k, HD_CONFIG_TEXT, 0, 0, d, who}
#define INT(k, lo, hi, d, who) {k, HD_CONFIG_INT, lo, hi, d, who}
#define BOOL(k, d, who) {k, HD_CONFIG_BOOL, 0, 0, d, who}
/* Up to ten years: a larger value is a typo, and it keeps ms sums far from overflow (sla.c). */
#define SLA(p, f, u, r, t2, t3)                                                                \
    INT("sla." p ".first_response", 1, 315360000, f, STORE | PRIO),                           \
        INT("sla." p ".update_interval", 1, 315360000, u, STORE | PRIO),                       \
        INT("sla." p ".resolution", 1, 315360000, r, STORE | PRIO),                            \
        INT("sla." p ".tier2_after", 1, 315360000, t2, STORE | PRIO),                          \
        INT("sla." p ".tier3_after", 1, 315360000, t3, STORE | PRIO)

static const hd_config_key keys[] = {
    TEXT("database_url", NULL, STORE),
    TEXT("intake.endpoint", HD_DEFAULT_INTAKE, INTAKE | CLI),
    INT("intake.max_problems", 1, 1000, "10", INTAKE),
    INT("intake.store_timeout_ms", 1, 3600000, "5000", INTAKE),
    TEXT("store.api", HD_DEFAULT_STORE_API, STORE | API_CLIENTS),
    TEXT("store.work", HD_DEFAULT_STORE_WORK, STORE | WORKERS),
    TEXT("store.events", HD_DEFAULT_STORE_EVENTS, STORE | TIMER | NOTIFIER | CLI),
    INT("store.lease_ms", 10, 86400000, "10000", STORE),
    INT("store.heartbeat_ms", 10, 600000, "1000", STORE),
    INT("store.refused_retry_ms", 100, 86400000, "60000", STORE),
    TEXT("prioritizer.rules", NULL, PRIO),
    INT("prioritizer.credit", 1, 10000, "128", PRIO),
    TEXT("router.rules", NULL, ROUTER),
    INT("router.credit", 1, 10000, "128", ROUTER),
    INT("worker.heartbeat_ms", 10, 600000, "1000", WORKERS),
    INT("timer.warning_percent", 0, 99, "80", TIMER),
    INT("timer.commit_ms", 10, 3600000, "1000", TIMER),
    INT("timer.tick_ms", 10, 60000, "1000", TIMER),
    INT("timer.store_timeout_ms", 100, 60000, "3000", TIMER),
    TEXT("notifier.templates", "deploy/local/templates", NOTIFIER),
    TEXT("notifier.smtp.url", "", NOTIFIER),
    TEXT("notifier.smtp.from", "Help Desk <helpdesk@localhost>", NOTIFIER),
    TEXT("notifier.webhook.url", "", NOTIFIER),
    TEXT("notifier.satisfaction_url", "", NOTIFIER),
    TEXT("notifier.staff_language", "en", NOTIFIER),
    TEXT("notifier.teams.*.email", NULL, NOTIFIER),
    INT("notifier.retry.initial_ms", 1, 3600000, "500", NOTIFIER),
    INT("notifier.retry.max_ms", 1, 86400000, "30000", NOTIFIER),
    INT("notifier.retry.max_attempts", 1, 100, "6", NOTIFIER),
    INT("notifier.store_timeout_ms", 100, 60000, "3000", NOTIFIER),
    INT("notifier.commit_ms", 10, 600000, "1000", NOTIFIER),
    INT("notifier.connect_timeout_ms", 100, 600000, "5000", NOTIFIER),
    INT("notifier.timeout_ms", 100, 3600000, "20000", NOTIFIER),
    BOOL("curve.enabled", "false", SERVICES | CLI),
    TEXT("curve.store_secret_key_file", NULL, STORE),
    TEXT("curve.intake_secret_key_file", NULL, INTAKE),
    TEXT("curve.allowed_clients", NULL, STORE | INTAKE),
    TEXT("curve.store_public_key_file", NULL, STORE_CLIENTS),
    TEXT("curve.intake_public_key_file", NULL, CLI),
    TEXT("curve.client_secret_key_file", NULL, STORE_CLIENTS),
    TEXT("http.listen", "", SERVICES),
    SLA("P1", "900", "1800", "14400", "1800", "7200"),
    SLA("P2", "3600", "7200", "28800", "7200", "18000"),
    SLA("P3", "28800", "86400", "432000", "172800", "345600"),
    SLA("P4", "172800", "604800", "1209600", "604800", "1036800"),
};

/* A section named after a service belongs to it; the shared ones to every reader. */
static const hd_config_section sections[] = {
    {"database_url", STORE}, {"intake", INTAKE},         {"store", STORE},
    {"prioritizer", PRIO},   {"router", ROUTER},         {"worker", WORKERS},
    {"timer", TIMER},        {"notifier", NOTIFIER},     {"sla", STORE | PRIO},
    {"curve", SERVICES},     {"http", SERVICES},
};

const hd_config_key *hd_config_keys(size_t *n)
{
    *n = sizeof keys / sizeof *keys;
    return keys;
}

const hd_config_section *hd_config_sections(size_t *n)
{
    *n = sizeof sections / sizeof *sections;
    return sections;
}

unsigned hd_config_service(const char *program)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"hd-store", STORE},       {"hd-intake", INTAKE},
        {"hd-prioritizer", PRIO},  {"hd-router", ROUTER},
        {"hd-escalation-timer", TIMER}, {"hd-notifier", NOTIFIER},
        {"helpdesk", CLI},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(program, names[i].name) == 0)
            return names[i].bit;
    return 0;
}
