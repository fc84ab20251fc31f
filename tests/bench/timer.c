/* The escalation timer's benchmark (tests/bench/timer.sh sets up a durable PostgreSQL and the
 * environment the harness reads; make bench runs it after the pipeline benchmark).
 *
 * 1. The store migrates a fresh database; then BENCH_TIMER_TICKETS open tickets (queued, tier 1,
 *    P1..P4 with the design's default SLA targets, created within the last minute, so no
 *    deadline of theirs comes due during the run) are written straight into PostgreSQL with
 *    INSERT ... SELECT over generate_series: contacts (with their packed Contact), tickets and
 *    the created/triaged/queued events the store would have written, sequences moved on, then
 *    VACUUM (ANALYZE): a restart meets rows long committed, not a bulk load's first reading
 *    (which sets every row's hint bits and writes the whole table back).
 * 2. The store starts on it; then the timer. Rebuild time is from the timer's spawn to its
 *    "event=rebuilt" log line; RSS is its VmHWM with every ticket held.
 * 3. Load: intake, prioritizer and router start with short SLA targets for P4 (what the test
 *    rules give every benchmark problem): first response BENCH_TIMER_FIRST_S, tier 2 after
 *    BENCH_TIMER_TIER2_S. Contacts are submitted at BENCH_TIMER_RATE a second for
 *    BENCH_TIMER_LOAD_S seconds, so their first response warning (80 %) and breach and their
 *    tier 2 escalation come due spread over the run, while tickets keep flowing.
 * 4. Fire latency, observed from outside: each sla_warning, sla_breach and
 *    escalation_requested event of those tickets, its `at` (the store's clock when it took the
 *    signal) minus when it was due (deadline_at, or for a warning deadline_at minus the lead the
 *    timer computes). Signals that never came are counted as missed.
 * 5. A restart: SIGTERM, start again, rebuild time again (now with the load's tickets too).
 * Prints a table and writes JSON to BENCH_TIMER_JSON. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <zmq.h>

#include "harness.h"
#include "hd/clock.h"
#include "hd/codec.h"
#include "hd/transport.h"
#include "load.h"

#define WARNING_PERCENT 80

typedef struct {
    long tickets;
    int rate, load_s, problems, first_s, tier2_s, rebuild_limit_s;
} timer_opts;

typedef struct {
    double load_db_s;          /* writing the preloaded rows */
    double rebuild_s, restart_s;
    long rebuilt_tickets, restarted_tickets;
    long hwm_rebuilt_kb, hwm_end_kb, rss_end_kb;
    long contacts_sent, contacts_acked, load_tickets;
    long expected, fired, missed;
    double p50, p99, max, mean;
    bool ok;
} timer_result;

static int64_t mono_ms(void)
{
    return hd_mono_ms();
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? (int)strtol(v, NULL, 10) : def;
}

static void opts_load(timer_opts *o)
{
    o->tickets = env_int("BENCH_TIMER_TICKETS", 1000000);
    o->rate = env_int("BENCH_TIMER_RATE", 40);
    o->load_s = env_int("BENCH_TIMER_LOAD_S", 15);
    o->problems = env_int("BENCH_TIMER_PROBLEMS", 2);
    o->first_s = env_int("BENCH_TIMER_FIRST_S", 6);
    o->tier2_s = env_int("BENCH_TIMER_TIER2_S", 9);
    o->rebuild_limit_s = env_int("BENCH_TIMER_REBUILD_LIMIT_S", 240);
    if (o->tickets < 2)
        o->tickets = 2;
    if (o->problems < 1 || o->problems > HT_MAX_PROBLEMS)
        o->problems = 2;
}

/* ---------------------------------------------------------------- preloading */

static int sql(ht_env *env, const char *what, const char *text)
{
    PGresult *r = PQexec(env->pg, text);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "bench_timer: %s: %s", what, PQerrorMessage(env->pg));
    PQclear(r);
    return rc;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

#define EXT_PLACEHOLDER "EXTERNALID0000" /* 14 bytes, replaced by lpad(id, 14, '0') */

/* The contacts: the packed Contact of each is the template's bytes around its external_id. */
static int preload_contacts(ht_env *env, long ncontacts, int problems)
{
    ht_contact ct;
    ht_contact_init(&ct, "bench-timer", EXT_PLACEHOLDER);
    ct.c.agent = "bench";
    for (int k = 0; k < problems; k++)
        ht_contact_add(&ct, "hardware", "Timer benchmark problem",
                       "Preloaded by the escalation timer benchmark");
    size_t n = helpdesk__v1__contact__get_packed_size(&ct.c);
    uint8_t *pb = malloc(n);
    helpdesk__v1__contact__pack(&ct.c, pb);
    uint8_t *at = memmem(pb, n, EXT_PLACEHOLDER, strlen(EXT_PLACEHOLDER));
    if (at == NULL) {
        free(pb);
        return -1;
    }
    size_t pre = (size_t)(at - pb), post = n - pre - strlen(EXT_PLACEHOLDER);
    char *pre_hex = malloc(2 * pre + 1), *post_hex = malloc(2 * post + 1);
    hex(pre_hex, pb, pre);
    hex(post_hex, at + strlen(EXT_PLACEHOLDER), post);
    size_t len = 2 * n + 4096;
    char *q = malloc(len);
    snprintf(q, len,
             "INSERT INTO contacts (id, source, external_id, channel, agent, received_at, "
             "customer_name, customer_email, customer_phone, customer_language, organization, "
             "vip, account_number, contract_level, product, site, contact_pb, created_at) "
             "SELECT g, 'bench-timer', lpad(g::text, 14, '0'), 'web', 'bench', now(), "
             "'%s', '%s', '%s', '%s', '%s', false, '%s', '%s', '%s', '%s', "
             "decode('%s', 'hex') || convert_to(lpad(g::text, 14, '0'), 'UTF8') || "
             "decode('%s', 'hex'), now() FROM generate_series(1, %ld) g",
             ct.customer.name, ct.customer.email, ct.customer.phone, ct.customer.language,
             ct.customer.organization, ct.account.account_number, ct.account.contract_level,
             ct.account.product, ct.location.site, pre_hex, post_hex, ncontacts);
    int rc = sql(env, "insert contacts", q);
    free(q);
    free(pre_hex);
    free(post_hex);
    free(pb);
    return rc;
}

/* The design's default SLA targets in seconds: first response, update, resolution, tier 2,
 * tier 3, per priority. */
#define SLA_VALUES                                                                         \
    "(VALUES (1, 900, 1800, 14400, 1800, 7200), (2, 3600, 7200, 28800, 7200, 18000), "     \
    "(3, 28800, 86400, 432000, 172800, 345600), (4, 172800, 604800, 1209600, 604800, "     \
    "1036800)) AS sla(p, fr, ui, res, t2, t3)"

static int preload(ht_env *env, const timer_opts *o, int problems)
{
    long ncontacts = (o->tickets + problems - 1) / problems;
    char q[4096];
    if (sql(env, "settings", "SET synchronous_commit = off") != 0 ||
        preload_contacts(env, ncontacts, problems) != 0)
        return -1;
    snprintf(q, sizeof q,
             "INSERT INTO tickets (id, contact_id, problem_index, status, priority, queue, tier, "
             "category, summary, description, priority_rule, route_rule, first_response_due, "
             "update_interval_ms, resolution_due, tier2_escalation_due, tier3_escalation_due, "
             "created_at, updated_at, next_update_due) "
             "SELECT g, (g - 1) / %d + 1, (g - 1) %% %d, 'queued', s.p, 'service-desk', 1, "
             "'hardware', 'Timer benchmark problem', 'Preloaded by the escalation timer "
             "benchmark', 'bench-p' || s.p, 'bench-default', s.c + sla.fr * interval '1 s', "
             "sla.ui * 1000, s.c + sla.res * interval '1 s', s.c + sla.t2 * interval '1 s', "
             "s.c + sla.t3 * interval '1 s', s.c, s.c, s.c + sla.ui * interval '1 s' "
             "FROM (SELECT g, 1 + g %% 4 AS p, now() - (g %% 60) * interval '1 s' AS c "
             "FROM generate_series(1, %ld) g) s JOIN " SLA_VALUES " USING (p)",
             problems, problems, o->tickets);
    if (sql(env, "insert tickets", q) != 0)
        return -1;
    if (sql(env, "insert events",
            "INSERT INTO ticket_events (seq, ticket_id, kind, actor, at, status, priority, "
            "queue, tier, rule, text) "
            "SELECT 3 * (t.id - 1) + k, t.id, (ARRAY['created', 'triaged', 'queued'])[k], "
            "(ARRAY['intake', 'prioritizer/bench', 'router/bench'])[k], t.created_at, "
            "(ARRAY['new', 'triaged', 'queued'])[k], CASE WHEN k > 1 THEN t.priority END, "
            "CASE WHEN k = 3 THEN t.queue END, CASE WHEN k = 3 THEN t.tier END, "
            "CASE k WHEN 2 THEN t.priority_rule WHEN 3 THEN t.route_rule END, "
            "CASE k WHEN 1 THEN 'contact by web, agent bench' ELSE '' END "
            "FROM tickets t CROSS JOIN generate_series(1, 3) k") != 0)
        return -1;
    return sql(env, "sequences",
               "SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts)), "
               "setval('tickets_id_seq', (SELECT max(id) FROM tickets))") != 0 ||
                   sql(env, "vacuum", "VACUUM (ANALYZE)") != 0
               ? -1
               : 0;
}

/* ---------------------------------------------------------------- the timer */

/* Waits for "event=rebuilt" in the timer's log; its tickets= count, or -1 on timeout/exit. */
static long wait_rebuilt(ht_proc *p, int timeout_s)
{
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    while (mono_ms() < deadline && ht_alive(p)) {
        size_t len = 0;
        char *log = ht_read_file(p->log, &len);
        const char *at = log ? strstr(log, "event=rebuilt") : NULL;
        long n = -1;
        if (at && strstr(at, "tickets="))
            n = strtol(strstr(at, "tickets=") + 8, NULL, 10);
        free(log);
        if (n >= 0)
            return n;
        usleep(10000);
    }
    return -1;
}

static ht_proc *start_timer(ht_env *env, const timer_opts *o, double *secs, long *count)
{
    int64_t t0 = mono_ms();
    ht_proc *p = ht_start(env, "hd-escalation-timer", NULL);
    if (p == NULL)
        return NULL;
    *count = wait_rebuilt(p, o->rebuild_limit_s);
    *secs = (double)(mono_ms() - t0) / 1000.0;
    if (*count < 0)
        fprintf(stderr, "bench_timer: the timer did not rebuild within %d s\n",
                o->rebuild_limit_s);
    return p;
}

/* ---------------------------------------------------------------- load */

static int send_contact(void *sock, int i, int problems)
{
    char ext[48];
    snprintf(ext, sizeof ext, "timer-load-%d", i);
    ht_contact ct;
    ht_contact_init(&ct, "bench-timer-load", ext);
    ct.c.agent = "bench";
    for (int k = 0; k < problems; k++)
        ht_contact_add(&ct, "hardware", "Timer benchmark load", "A ticket whose clocks run out");
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &ct.c;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.id = (uint64_t)i + 1;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    return hd_dealer_send(sock, &req, ZMQ_DONTWAIT);
}

static void drain_replies(void *sock, timer_result *res, long timeout_ms)
{
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return;
    HdReply *rep;
    while ((rep = hd_dealer_recv(sock, ZMQ_DONTWAIT)) != NULL) {
        if (rep->body_case == HELPDESK__V1__REPLY__BODY_RECEIPT) {
            res->contacts_acked++;
            res->load_tickets += (long)rep->receipt->n_ticket_ids;
        }
        hd_reply_free(rep);
    }
}

/* Submits at o->rate contacts a second for o->load_s seconds, sampling the timer's RSS. */
static void run_load(ht_env *env, const timer_opts *o, ht_proc *timer, timer_result *res)
{
    void *sock = hd_socket_new(env->zctx, ZMQ_DEALER, env->intake_ep, false);
    if (sock == NULL)
        return;
    int64_t t0 = mono_ms(), end = t0 + (int64_t)o->load_s * 1000;
    int total = o->rate * o->load_s, sent = 0;
    while (mono_ms() < end || (res->contacts_acked < sent && mono_ms() < end + 10000)) {
        long due = (long)((mono_ms() - t0) * o->rate / 1000);
        while (sent < total && sent < due && send_contact(sock, sent, o->problems) == 0)
            sent++;
        drain_replies(sock, res, 5);
        long hwm = ht_proc_status_kb(timer->pid, "VmHWM:");
        if (hwm > res->hwm_end_kb)
            res->hwm_end_kb = hwm;
    }
    res->contacts_sent = sent;
    hd_socket_close(&sock);
}

/* ---------------------------------------------------------------- measuring */

/* The signals the load's tickets should get: first response warning and breach, tier 2. */
static long expected_signals(ht_env *env, long first_load_id)
{
    char q[512];
    snprintf(q, sizeof q,
             "SELECT 3 * count(*) FROM tickets WHERE id >= %ld AND first_response_due IS NOT NULL",
             first_load_id);
    return ht_sql_long(env, q);
}

/* How late each signal of the load's tickets was taken by the store. */
static void measure(ht_env *env, long first_load_id, timer_result *res)
{
    char q[1024];
    snprintf(q, sizeof q,
             "SELECT e.kind, e.deadline_at, "
             "(extract(epoch FROM e.at) * 1000)::int8, "
             "(extract(epoch FROM t.created_at) * 1000)::int8 "
             "FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
             "WHERE e.ticket_id >= %ld AND e.deadline_at > 0 AND e.kind IN "
             "('sla_warning', 'sla_breach', 'escalation_requested')",
             first_load_id);
    PGresult *r = PQexec(env->pg, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_timer: measure: %s", PQerrorMessage(env->pg));
        PQclear(r);
        return;
    }
    size_t n = (size_t)PQntuples(r);
    double *late = malloc(sizeof(double) * (n ? n : 1)), sum = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t at = strtoll(PQgetvalue(r, (int)i, 2), NULL, 10);
        int64_t dl = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
        int64_t created = strtoll(PQgetvalue(r, (int)i, 3), NULL, 10);
        int64_t due = dl;
        if (strcmp(PQgetvalue(r, (int)i, 0), "sla_warning") == 0) {
            int64_t span = dl - created;
            due = dl - (span - span * WARNING_PERCENT / 100);
        }
        late[i] = (double)(at - due);
        sum += late[i];
    }
    PQclear(r);
    qsort(late, n, sizeof *late, ht_cmp_double);
    res->fired = (long)n;
    res->p50 = ht_percentile(late, n, 0.50);
    res->p99 = ht_percentile(late, n, 0.99);
    res->max = n ? late[n - 1] : 0;
    res->mean = n ? sum / (double)n : 0;
    free(late);
    res->expected = expected_signals(env, first_load_id);
    res->missed = res->expected > res->fired ? res->expected - res->fired : 0;
}

/* ---------------------------------------------------------------- the run */

static int start_workers(ht_env *env, const timer_opts *o)
{
    char first[64], tier2[64];
    snprintf(first, sizeof first, "HD_SLA_P4_FIRST_RESPONSE=%d", o->first_s);
    snprintf(tier2, sizeof tier2, "HD_SLA_P4_TIER2_AFTER=%d", o->tier2_s);
    const char *extra[] = {first,
                           tier2,
                           "HD_SLA_P4_UPDATE_INTERVAL=3600",
                           "HD_SLA_P4_RESOLUTION=7200",
                           "HD_SLA_P4_TIER3_AFTER=7200",
                           "HD_STORE_LEASE_MS=10000",
                           "HD_INTAKE_STORE_TIMEOUT_MS=5000",
                           NULL};
    return ht_start_ready(env, "hd-intake", extra) != NULL &&
                   ht_start_ready(env, "hd-prioritizer", extra) != NULL &&
                   ht_start_ready(env, "hd-router", extra) != NULL
               ? 0
               : -1;
}

/* Everything after the environment exists; the caller stops what it started. */
static int run(ht_env *env, const timer_opts *o, timer_result *res)
{
    if (ht_write_test_rules(env) != 0)
        return -1;
    ht_proc *store = ht_start_ready(env, "hd-store", NULL); /* migrates */
    if (store == NULL || ht_stop(store, 10000) != 0)
        return -1;
    fprintf(stderr, "bench_timer: writing %ld open tickets ...\n", o->tickets);
    int64_t t0 = mono_ms();
    if (preload(env, o, o->problems) != 0)
        return -1;
    res->load_db_s = (double)(mono_ms() - t0) / 1000.0;
    long first_load_id = ht_sql_long(env, "SELECT max(id) + 1 FROM tickets");
    const char *store_env[] = {"HD_STORE_LEASE_MS=10000", NULL};
    if (ht_start_ready(env, "hd-store", store_env) == NULL)
        return -1;
    fprintf(stderr, "bench_timer: starting the timer ...\n");
    ht_proc *timer = start_timer(env, o, &res->rebuild_s, &res->rebuilt_tickets);
    if (timer == NULL || res->rebuilt_tickets < 0)
        return -1;
    res->hwm_rebuilt_kb = ht_proc_status_kb(timer->pid, "VmHWM:");
    if (start_workers(env, o) != 0)
        return -1;
    fprintf(stderr, "bench_timer: load for %d s ...\n", o->load_s);
    run_load(env, o, timer, res);
    /* every deadline of the load has passed, plus time for the signals to be taken */
    int64_t settle = mono_ms() + (int64_t)(o->tier2_s + 3) * 1000;
    while (mono_ms() < settle) {
        long hwm = ht_proc_status_kb(timer->pid, "VmHWM:");
        if (hwm > res->hwm_end_kb)
            res->hwm_end_kb = hwm;
        usleep(200000);
    }
    res->rss_end_kb = ht_proc_status_kb(timer->pid, "VmRSS:");
    measure(env, first_load_id, res);
    fprintf(stderr, "bench_timer: restarting the timer ...\n");
    if (ht_stop(timer, 10000) != 0)
        fprintf(stderr, "bench_timer: the timer did not stop cleanly\n");
    ht_proc *again = start_timer(env, o, &res->restart_s, &res->restarted_tickets);
    return again != NULL && res->restarted_tickets >= 0 ? 0 : -1;
}

static int bench(const timer_opts *o, timer_result *res)
{
    memset(res, 0, sizeof *res);
    ht_env *env = ht_env_new("benchtimer");
    res->ok = run(env, o, res) == 0;
    int bad = ht_stop_all(env);
    if (bad)
        fprintf(stderr, "bench_timer: %d service(s) did not stop cleanly; logs in %s\n", bad,
                env->dir);
    if (!res->ok)
        ht_dump_logs(env, 20);
    ht_env_destroy(&env);
    return res->ok && bad == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- output */

static void print_table(const timer_opts *o, const timer_result *r)
{
    printf("\nescalation timer benchmark: %ld open tickets preloaded (%.1f s to write), load %d "
           "contacts/s x %d problems for %d s, durable PostgreSQL, %ld cores\n\n",
           o->tickets, r->load_db_s, o->rate, o->problems, o->load_s,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-34s %12s %10s\n", "measure", "value", "target");
    printf("%-34s %12.2f %10s\n", "rebuild at start (s)", r->rebuild_s, "< 10");
    printf("%-34s %12ld %10s\n", "  tickets listed", r->rebuilt_tickets, "");
    printf("%-34s %12.2f %10s\n", "rebuild at restart (s)", r->restart_s, "< 10");
    printf("%-34s %12.1f %10s\n", "peak RSS after rebuild (MB)", (double)r->hwm_rebuilt_kb / 1024.0,
           "< 200");
    printf("%-34s %12.1f %10s\n", "peak RSS end of load (MB)", (double)r->hwm_end_kb / 1024.0, "< 200");
    printf("%-34s %12.1f %10s\n", "RSS end of load (MB)", (double)r->rss_end_kb / 1024.0, "");
    printf("%-34s %12ld %10s\n", "load contacts acked", r->contacts_acked, "");
    printf("%-34s %12ld %10s\n", "load tickets", r->load_tickets, "");
    printf("%-34s %12ld %10s\n", "signals expected", r->expected, "");
    printf("%-34s %12ld %10s\n", "signals fired", r->fired, "");
    printf("%-34s %12ld %10s\n", "signals missed", r->missed, "0");
    printf("%-34s %12.1f %10s\n", "fire late p50 (ms)", r->p50, "");
    printf("%-34s %12.1f %10s\n", "fire late p99 (ms)", r->p99, "< 100");
    printf("%-34s %12.1f %10s\n", "fire late max (ms)", r->max, "");
    printf("%-34s %12.1f %10s\n", "fire late mean (ms)", r->mean, "");
    fflush(stdout);
}

static int write_json(const char *path, const timer_opts *o, const timer_result *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "{\n  \"unix_time\": %lld,\n  \"cores\": %ld,\n  \"durable\": true,\n"
            "  \"tickets\": %ld,\n  \"preload_s\": %.2f,\n"
            "  \"load\": {\"contacts_per_s\": %d, \"problems\": %d, \"seconds\": %d, "
            "\"contacts_acked\": %ld, \"tickets\": %ld},\n"
            "  \"rebuild_s\": %.3f,\n  \"rebuilt_tickets\": %ld,\n  \"restart_rebuild_s\": %.3f,\n"
            "  \"restart_tickets\": %ld,\n"
            "  \"peak_rss_kb\": {\"after_rebuild\": %ld, \"end_of_load\": %ld},\n"
            "  \"rss_end_kb\": %ld,\n"
            "  \"signals\": {\"expected\": %ld, \"fired\": %ld, \"missed\": %ld},\n"
            "  \"fire_late_ms\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"mean\": %.1f},\n"
            "  \"targets\": {\"rebuild_s\": 10, \"peak_rss_mb\": 200, \"fire_late_p99_ms\": 100}\n"
            "}\n",
            (long long)time(NULL), sysconf(_SC_NPROCESSORS_ONLN), o->tickets, r->load_db_s,
            o->rate, o->problems, o->load_s, r->contacts_acked, r->load_tickets, r->rebuild_s,
            r->rebuilt_tickets, r->restart_s, r->restarted_tickets, r->hwm_rebuilt_kb,
            r->hwm_end_kb, r->rss_end_kb, r->expected, r->fired, r->missed, r->p50, r->p99,
            r->max, r->mean);
    return fclose(f) == 0 ? 0 : -1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    timer_opts o;
    opts_load(&o);
    timer_result r;
    int rc = bench(&o, &r);
    if (rc != 0)
        fprintf(stderr, "bench_timer: the run did not complete\n");
    print_table(&o, &r);
    const char *json = getenv("BENCH_TIMER_JSON");
    if (json && *json) {
        if (write_json(json, &o, &r) != 0) {
            fprintf(stderr, "bench_timer: cannot write %s\n", json);
            rc = -1;
        } else {
            printf("results: %s\n", json);
        }
    }
    return rc == 0 ? 0 : 1;
}
