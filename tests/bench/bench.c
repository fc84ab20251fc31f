/* The benchmark's load generator (make bench; tests/bench/bench.sh sets up PostgreSQL and the
 * environment the harness reads). For 1, 2 and 4 replicas of prioritizer and router it starts a
 * fresh pipeline on a fresh database, submits BENCH_CONTACTS contacts flat out over the real
 * protocol (several DEALER connections to intake, a window of requests in flight on each, unique
 * source/external_id, the same key again on timeout or ERROR_UNAVAILABLE), waits until every
 * ticket is queued, and measures. Then the PostgreSQL baseline: the same rows (contact, tickets,
 * created events) written with COPY in transactions of BENCH_BATCH contacts. Prints a table and
 * writes JSON to BENCH_JSON.
 *
 * Flat out by default: each connection keeps BENCH_WINDOW requests in flight. With BENCH_RATE
 * (contacts/s) the load is open loop instead: contact i is due at start + i / rate whatever
 * the answers, round robin over the connections, and its ack latency counts from when it was
 * due, so a stall shows up in the latency instead of slowing the generator down.
 *
 * Knobs (environment): BENCH_CONTACTS (5000), BENCH_PROBLEMS per contact (2), BENCH_CONNS (4),
 * BENCH_WINDOW per connection (64: at 32 the acked rate is the window over the ack latency,
 * 128 / ~21 ms, below what the store sustains), BENCH_TIMEOUT_MS before a retry (5000), BENCH_DRAIN_S to
 * wait for queued (90), BENCH_REPLICAS ("1,2,4"), BENCH_BATCH (500), BENCH_CREDIT (128),
 * BENCH_RATE (0: flat out). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
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

#define MAX_CONNS 64
#define MAX_REPLICA_RUNS 8
#define MAX_SVC 8

typedef struct {
    int contacts, problems, conns, window, timeout_ms, drain_s, batch, credit;
    int rate; /* contacts/s, open loop; 0: flat out */
    int replicas[MAX_REPLICA_RUNS];
    int nreplicas;
} bench_opts;

/* One contact of a run: when it was first sent and acknowledged, its tickets. */
typedef struct {
    int64_t first_wall_ms; /* client wall clock at first send, for contact -> queued */
    int64_t first_ns, last_ns, ack_ns;
    int state; /* 0 unsent, 1 in flight, 2 acknowledged, 3 refused */
    int conn;
    int64_t *tickets;
    size_t ntickets;
} bench_contact;

typedef struct {
    char name[32];
    long hwm_kb;
} bench_rss;

typedef struct {
    int replicas;
    long contacts_acked, contacts_failed, retries, tickets_acked, tickets_queued;
    double load_s, contacts_s, tickets_ack_s, tickets_e2e_s, e2e_s;
    double ack_p50, ack_p99, ack_max, q_p50, q_p99, q_max;
    bool complete;
    bench_rss rss[MAX_SVC];
    int nrss;
} bench_result;

typedef struct {
    long tickets;
    double seconds, tickets_s;
} bench_baseline;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    int n = atoi(v);
    return n > 0 ? n : def;
}

static void opts_load(bench_opts *o)
{
    o->contacts = env_int("BENCH_CONTACTS", 5000);
    o->problems = env_int("BENCH_PROBLEMS", 2);
    o->conns = env_int("BENCH_CONNS", 4);
    if (o->conns > MAX_CONNS)
        o->conns = MAX_CONNS;
    o->window = env_int("BENCH_WINDOW", 64);
    o->timeout_ms = env_int("BENCH_TIMEOUT_MS", 5000);
    o->drain_s = env_int("BENCH_DRAIN_S", 90);
    o->batch = env_int("BENCH_BATCH", 500);
    o->credit = env_int("BENCH_CREDIT", 128); /* the services' default */
    o->rate = env_int("BENCH_RATE", 0);
    if (o->problems > 10)
        o->problems = 10; /* intake.max_problems */
    const char *r = getenv("BENCH_REPLICAS");
    if (r == NULL || *r == '\0')
        r = "1,2,4";
    o->nreplicas = 0;
    char *copy = strdup(r), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && o->nreplicas < MAX_REPLICA_RUNS;
         t = strtok_r(NULL, ",", &save))
        if (atoi(t) > 0)
            o->replicas[o->nreplicas++] = atoi(t);
    free(copy);
}

/* Peak RSS per service name, the largest of its replicas. */
static void collect_rss(ht_env *env, bench_result *res)
{
    res->nrss = 0;
    for (int i = 0; i < env->nprocs; i++) {
        ht_proc *p = &env->procs[i];
        if (!ht_alive(p))
            continue;
        long kb = ht_proc_status_kb(p->pid, "VmHWM:");
        const char *name = strncmp(p->name, "hd-", 3) == 0 ? p->name + 3 : p->name;
        int k = 0;
        while (k < res->nrss && strcmp(res->rss[k].name, name) != 0)
            k++;
        if (k == res->nrss) {
            if (res->nrss == MAX_SVC)
                continue;
            snprintf(res->rss[k].name, sizeof res->rss[k].name, "%s", name);
            res->rss[k].hwm_kb = 0;
            res->nrss++;
        }
        if (kb > res->rss[k].hwm_kb)
            res->rss[k].hwm_kb = kb;
    }
}

static const char *const categories[] = {"network", "email", "printing", "hardware"};

static int send_contact(void *sock, int run, int i, int problems)
{
    char ext[48];
    snprintf(ext, sizeof ext, "r%d-c%d", run, i);
    ht_contact ct;
    ht_contact_init(&ct, "bench", ext);
    ct.c.agent = "bench";
    for (int k = 0; k < problems; k++)
        ht_contact_add(&ct, categories[k % 4], "Benchmark problem summary",
                       "Generated by the benchmark load generator");
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &ct.c;
    req.id = (uint64_t)i + 1;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    return hd_dealer_send(sock, &req, ZMQ_DONTWAIT);
}

typedef struct {
    const bench_opts *o;
    int run;
    void *socks[MAX_CONNS];
    int inflight[MAX_CONNS];
    bench_contact *c;
    int next, done;
    long retries, failed, tickets;
    int64_t last_scan_ns;
    int64_t start_ns; /* rate mode: contact i is due at start_ns + i * 1e9 / rate */
} load_state;

static void handle_reply(load_state *s, int conn, HdReply *rep)
{
    if (rep->id == 0 || rep->id > (uint64_t)s->o->contacts)
        return;
    bench_contact *c = &s->c[rep->id - 1];
    if (c->state != 1)
        return; /* a late answer to a retried request */
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_RECEIPT) {
        c->state = 2;
        c->ack_ns = mono_ns();
        c->ntickets = rep->receipt->n_ticket_ids;
        c->tickets = calloc(c->ntickets ? c->ntickets : 1, sizeof *c->tickets);
        for (size_t k = 0; k < c->ntickets; k++)
            c->tickets[k] = rep->receipt->ticket_ids[k];
        s->tickets += (long)c->ntickets;
    } else if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR &&
               rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE) {
        c->last_ns = 0; /* retried by the next scan */
        return;
    } else {
        c->state = 3;
        s->failed++;
        if (s->failed <= 3)
            fprintf(stderr, "bench: contact %" PRIu64 " refused: %s\n", rep->id,
                    rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR ? rep->error->message
                                                                      : "unexpected reply");
    }
    s->done++;
    s->inflight[c->conn]--;
    (void)conn;
}

/* Re-sends, with the same key, what has waited longer than the timeout. */
static void retry_scan(load_state *s, int64_t now)
{
    int64_t limit = (int64_t)s->o->timeout_ms * 1000000;
    for (int i = 0; i < s->next; i++) {
        bench_contact *c = &s->c[i];
        if (c->state != 1 || now - c->last_ns < limit)
            continue;
        if (send_contact(s->socks[c->conn], s->run, i, s->o->problems) == 0) {
            c->last_ns = now;
            s->retries++;
        }
    }
}

static int64_t due_ns(const load_state *s, int i)
{
    return s->start_ns + (int64_t)((double)i * 1e9 / s->o->rate);
}

/* Rate mode: sends every contact whose time has come, round robin, whatever is in flight. */
static void fill_rate(load_state *s, int64_t now)
{
    while (s->next < s->o->contacts && due_ns(s, s->next) <= now) {
        bench_contact *c = &s->c[s->next];
        int k = s->next % s->o->conns;
        c->first_wall_ms = hd_now_ms();
        c->first_ns = due_ns(s, s->next);
        c->last_ns = now;
        c->conn = k;
        if (send_contact(s->socks[k], s->run, s->next, s->o->problems) != 0)
            break; /* its pipe is full: try again next turn; the latency keeps counting */
        c->state = 1;
        s->inflight[k]++;
        s->next++;
    }
}

static void fill_windows(load_state *s)
{
    for (int k = 0; k < s->o->conns && s->next < s->o->contacts; k++)
        while (s->inflight[k] < s->o->window && s->next < s->o->contacts) {
            bench_contact *c = &s->c[s->next];
            c->first_wall_ms = hd_now_ms();
            c->first_ns = c->last_ns = mono_ns();
            c->conn = k;
            if (send_contact(s->socks[k], s->run, s->next, s->o->problems) != 0)
                break;
            c->state = 1;
            s->inflight[k]++;
            s->next++;
        }
}

/* Submits every contact; false when the deadline passed first. */
static bool load_run(ht_env *env, load_state *s, int64_t deadline_ns)
{
    for (int k = 0; k < s->o->conns; k++) {
        s->socks[k] = hd_socket_new(env->zctx, ZMQ_DEALER, env->intake_ep, false);
        if (s->socks[k] == NULL)
            return false;
    }
    zmq_pollitem_t items[MAX_CONNS];
    s->start_ns = mono_ns();
    while (s->done < s->o->contacts) {
        int64_t now = mono_ns();
        if (now > deadline_ns)
            return false;
        if (s->o->rate > 0)
            fill_rate(s, now);
        else
            fill_windows(s);
        if (now - s->last_scan_ns > 100000000) {
            retry_scan(s, now);
            s->last_scan_ns = now;
        }
        for (int k = 0; k < s->o->conns; k++)
            items[k] = (zmq_pollitem_t){.socket = s->socks[k], .events = ZMQ_POLLIN};
        if (zmq_poll(items, s->o->conns, s->o->rate > 0 ? 1 : 20) < 0 && errno != EINTR)
            return false;
        for (int k = 0; k < s->o->conns; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            HdReply *rep;
            while ((rep = hd_dealer_recv(s->socks[k], ZMQ_DONTWAIT)) != NULL) {
                handle_reply(s, k, rep);
                hd_reply_free(rep);
            }
        }
    }
    return true;
}

static void load_close(load_state *s)
{
    for (int k = 0; k < s->o->conns; k++)
        hd_socket_close(&s->socks[k]);
}

/* By the status index, not a scan of the whole event log: the poll runs during the
 * measurement on the same cores. Tickets only move on from queued when a technician acts. */
static long queued_count(ht_env *env)
{
    return ht_sql_long(env, "SELECT count(*) FROM tickets WHERE status = 'queued'");
}

/* Ack latencies from the contacts; contact -> queued from the client's first send and the
 * queued events' `at` (same host clock). */
static void measure(ht_env *env, load_state *s, bench_result *res, int64_t start_wall_ms)
{
    const bench_opts *o = s->o;
    double *lat = malloc(sizeof(double) * (size_t)o->contacts);
    size_t n = 0;
    for (int i = 0; i < o->contacts; i++)
        if (s->c[i].state == 2)
            lat[n++] = (double)(s->c[i].ack_ns - s->c[i].first_ns) / 1e6;
    qsort(lat, n, sizeof *lat, ht_cmp_double);
    res->ack_p50 = ht_percentile(lat, n, 0.50);
    res->ack_p99 = ht_percentile(lat, n, 0.99);
    res->ack_max = n ? lat[n - 1] : 0;
    free(lat);

    PGresult *r = PQexec(env->pg, "SELECT ticket_id, (extract(epoch FROM at) * 1000)::int8 "
                                  "FROM ticket_events WHERE kind = 'queued'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench: %s", PQerrorMessage(env->pg));
        PQclear(r);
        return;
    }
    int rows = PQntuples(r);
    int64_t max_id = 0;
    for (int i = 0; i < rows; i++) {
        int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (id > max_id)
            max_id = id;
    }
    int64_t *qat = calloc((size_t)max_id + 1, sizeof *qat);
    int64_t last_at = 0;
    for (int i = 0; i < rows; i++) {
        int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        int64_t at = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        qat[id] = at;
        if (at > last_at)
            last_at = at;
    }
    PQclear(r);
    double *q = malloc(sizeof(double) * (size_t)(rows > 0 ? rows : 1));
    size_t m = 0;
    for (int i = 0; i < o->contacts; i++)
        for (size_t k = 0; k < s->c[i].ntickets; k++) {
            int64_t id = s->c[i].tickets[k];
            if (id > 0 && id <= max_id && qat[id] && m < (size_t)rows)
                q[m++] = (double)(qat[id] - s->c[i].first_wall_ms);
        }
    qsort(q, m, sizeof *q, ht_cmp_double);
    res->q_p50 = ht_percentile(q, m, 0.50);
    res->q_p99 = ht_percentile(q, m, 0.99);
    res->q_max = m ? q[m - 1] : 0;
    free(q);
    free(qat);
    res->tickets_queued = rows;
    res->e2e_s = (double)(last_at - start_wall_ms) / 1000.0;
    if (res->e2e_s > 0)
        res->tickets_e2e_s = (double)rows / res->e2e_s;
}

static void env_stop(ht_env **env)
{
    int bad = ht_stop_all(*env);
    if (bad)
        fprintf(stderr, "bench: %d service(s) did not stop cleanly; logs in %s\n", bad,
                (*env)->dir);
    ht_env_destroy(env);
}

static int start_pipeline(ht_env *env, const bench_opts *o, int replicas)
{
    char credit_p[48], credit_r[48];
    snprintf(credit_p, sizeof credit_p, "HD_PRIORITIZER_CREDIT=%d", o->credit);
    snprintf(credit_r, sizeof credit_r, "HD_ROUTER_CREDIT=%d", o->credit);
    /* production-like timings instead of the harness's short test ones */
    const char *extra[] = {"HD_STORE_LEASE_MS=10000", "HD_STORE_HEARTBEAT_MS=1000",
                           "HD_WORKER_HEARTBEAT_MS=1000", credit_p, credit_r,
                           "HD_INTAKE_STORE_TIMEOUT_MS=5000", NULL};
    if (ht_write_test_rules(env) != 0)
        return -1;
    if (ht_start_ready(env, "hd-store", extra) == NULL ||
        ht_start_ready(env, "hd-intake", extra) == NULL)
        return -1;
    for (int i = 0; i < replicas; i++)
        if (ht_start_ready(env, "hd-prioritizer", extra) == NULL ||
            ht_start_ready(env, "hd-router", extra) == NULL)
            return -1;
    return 0;
}

static int bench_pipeline(const bench_opts *o, int run, int replicas, bench_result *res)
{
    memset(res, 0, sizeof *res);
    res->replicas = replicas;
    char name[32];
    snprintf(name, sizeof name, "bench%d", replicas);
    ht_env *env = ht_env_new(name);
    if (start_pipeline(env, o, replicas) != 0) {
        ht_dump_logs(env, 20);
        env_stop(&env);
        return -1;
    }
    load_state s = {.o = o, .run = run};
    s.c = calloc((size_t)o->contacts, sizeof *s.c);
    int64_t start_ns = mono_ns(), start_wall = hd_now_ms();
    bool ok = load_run(env, &s, start_ns + (int64_t)120 * 1000000000);
    int64_t acked_ns = mono_ns();
    load_close(&s);
    res->load_s = (double)(acked_ns - start_ns) / 1e9;
    res->contacts_acked = s.done - s.failed;
    res->contacts_failed = s.failed;
    res->retries = s.retries;
    res->tickets_acked = s.tickets;
    res->contacts_s = (double)res->contacts_acked / res->load_s;
    res->tickets_ack_s = (double)res->tickets_acked / res->load_s;
    if (!ok)
        fprintf(stderr, "bench: only %d of %d contacts answered in 120 s\n", s.done,
                o->contacts);
    /* wait until every acknowledged ticket is queued */
    int64_t drain_deadline = mono_ns() + (int64_t)o->drain_s * 1000000000;
    long q = 0;
    while ((q = queued_count(env)) >= 0 && q < s.tickets && mono_ns() < drain_deadline)
        usleep(200000); /* the times come from the events, not from this poll */
    res->complete = ok && q == s.tickets;
    if (!res->complete)
        fprintf(stderr, "bench: %ld of %ld tickets queued after %d s\n", q, s.tickets,
                o->drain_s);
    collect_rss(env, res);
    measure(env, &s, res, start_wall);
    for (int i = 0; i < o->contacts; i++)
        free(s.c[i].tickets);
    free(s.c);
    env_stop(&env);
    return 0;
}

/* ---------------------------------------------------------------- PostgreSQL baseline */

static int pg_ok(PGconn *pg, PGresult *r, ExecStatusType want, const char *what)
{
    int rc = PQresultStatus(r) == want ? 0 : -1;
    if (rc)
        fprintf(stderr, "bench: baseline %s: %s", what, PQerrorMessage(pg));
    PQclear(r);
    return rc;
}

static int copy_buf(PGconn *pg, const char *sql, const char *buf, size_t len)
{
    if (pg_ok(pg, PQexec(pg, sql), PGRES_COPY_IN, sql) != 0)
        return -1;
    if (PQputCopyData(pg, buf, (int)len) != 1 || PQputCopyEnd(pg, NULL) != 1)
        return -1;
    return pg_ok(pg, PQgetResult(pg), PGRES_COMMAND_OK, "copy end");
}

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0) + 64;
        b->p = realloc(b->p, b->cap);
    }
}

/* The packed Contact as COPY text bytea (\\x hex), like the store keeps it. */
static void sb_contact_pb(sbuf *b, const HdContact *c)
{
    size_t n = helpdesk__v1__contact__get_packed_size(c);
    uint8_t *buf = malloc(n ? n : 1);
    helpdesk__v1__contact__pack(c, buf);
    sb_printf(b, "\\\\x");
    for (size_t i = 0; i < n; i++)
        sb_printf(b, "%02x", buf[i]);
    free(buf);
}

static int baseline_batch(PGconn *pg, const bench_opts *o, int from, int to, int64_t *ticket_id,
                          int64_t *seq)
{
    sbuf cb = {0}, tb = {0}, eb = {0};
    char ts[32] = "2026-01-01 00:00:00+00";
    for (int i = from; i < to; i++) {
        char ext[48];
        snprintf(ext, sizeof ext, "base-c%d", i);
        ht_contact ct;
        ht_contact_init(&ct, "bench", ext);
        ct.c.agent = "bench";
        for (int k = 0; k < o->problems; k++)
            ht_contact_add(&ct, categories[k % 4], "Benchmark problem summary",
                           "Generated by the benchmark load generator");
        sb_printf(&cb,
                  "%d\tbench\t%s\tweb\tbench\t%s\t%s\t%s\t%s\t%s\t%s\tf\t%s\t%s\t%s\t%s\t", i + 1,
                  ext, ts, ct.customer.name, ct.customer.email, ct.customer.phone,
                  ct.customer.language, ct.customer.organization, ct.account.account_number,
                  ct.account.contract_level, ct.account.product, ct.location.site);
        sb_contact_pb(&cb, &ct.c);
        sb_printf(&cb, "\n");
        for (int k = 0; k < o->problems; k++) {
            int64_t t = ++*ticket_id;
            sb_printf(&tb, "%" PRId64 "\t%d\t%d\tnew\t%s\t%s\t%s\n", t, i + 1, k,
                      categories[k % 4], "Benchmark problem summary",
                      "Generated by the benchmark load generator");
            sb_printf(&eb, "%" PRId64 "\t%" PRId64 "\tcreated\tintake\t%s\tnew\t%s\n", ++*seq, t,
                      ts, "contact by web, agent bench");
        }
    }
    int rc = pg_ok(pg, PQexec(pg, "BEGIN"), PGRES_COMMAND_OK, "BEGIN");
    if (rc == 0)
        rc = copy_buf(pg,
                      "COPY contacts (id, source, external_id, channel, agent, received_at, "
                      "customer_name, customer_email, customer_phone, customer_language, "
                      "organization, vip, account_number, contract_level, product, site, "
                      "contact_pb) FROM STDIN",
                      cb.p, cb.len);
    if (rc == 0)
        rc = copy_buf(pg,
                      "COPY tickets (id, contact_id, problem_index, status, category, summary, "
                      "description) FROM STDIN",
                      tb.p, tb.len);
    if (rc == 0)
        rc = copy_buf(pg,
                      "COPY ticket_events (seq, ticket_id, kind, actor, at, status, text) "
                      "FROM STDIN",
                      eb.p, eb.len);
    if (rc == 0)
        rc = pg_ok(pg, PQexec(pg, "COMMIT"), PGRES_COMMAND_OK, "COMMIT");
    free(cb.p);
    free(tb.p);
    free(eb.p);
    return rc;
}

/* The same rows the store writes for a contact, straight into PostgreSQL with COPY in
 * transactions of o->batch contacts, on a database the store migrated. */
static int baseline_run(const bench_opts *o, bench_baseline *res)
{
    memset(res, 0, sizeof *res);
    ht_env *env = ht_env_new("benchbase");
    ht_proc *store = ht_start_ready(env, "hd-store", NULL); /* for the schema */
    if (store == NULL) {
        env_stop(&env);
        return -1;
    }
    ht_stop(store, 10000);
    int64_t tid = 0, seq = 0, t0 = mono_ns();
    int rc = 0;
    for (int i = 0; i < o->contacts && rc == 0; i += o->batch) {
        int to = i + o->batch < o->contacts ? i + o->batch : o->contacts;
        rc = baseline_batch(env->pg, o, i, to, &tid, &seq);
    }
    res->seconds = (double)(mono_ns() - t0) / 1e9;
    res->tickets = rc == 0 ? tid : 0;
    res->tickets_s = res->seconds > 0 ? (double)res->tickets / res->seconds : 0;
    env_stop(&env);
    return rc;
}

/* ---------------------------------------------------------------- output */

static long rss_of(const bench_result *r, const char *name)
{
    for (int i = 0; i < r->nrss; i++)
        if (strcmp(r->rss[i].name, name) == 0)
            return r->rss[i].hwm_kb;
    return -1;
}

static const char *const svc_names[] = {"store", "intake", "prioritizer", "router"};

static void print_table(const bench_opts *o, const bench_result *r, int n, const bench_baseline *b)
{
    char load[96];
    if (o->rate > 0)
        snprintf(load, sizeof load, "open loop at %d contacts/s over %d connections", o->rate,
                 o->conns);
    else
        snprintf(load, sizeof load, "%d connections x %d in flight", o->conns, o->window);
    printf("\nhelpdesk benchmark: %d contacts x %d problems, %s, credit %d, durable PostgreSQL "
           "(fsync on, synchronous_commit on), %ld cores\n\n",
           o->contacts, o->problems, load, o->credit, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-8s %9s %9s %9s %8s %8s %8s %9s %9s %7s %6s %8s %8s %8s %8s\n", "replicas",
           "contact/s", "ackTkt/s", "e2eTkt/s", "ack p50", "ack p99", "ack max", "queue p50",
           "queue p99", "retries", "done", "rss st", "rss in", "rss pr", "rss ro");
    printf("%-8s %9s %9s %9s %8s %8s %8s %9s %9s %7s %6s %8s %8s %8s %8s\n", "", "", "", "",
           "ms", "ms", "ms", "ms", "ms", "", "", "MB", "MB", "MB", "MB");
    for (int i = 0; i < n; i++) {
        printf("%-8d %9.0f %9.0f %9.0f %8.1f %8.1f %8.1f %9.0f %9.0f %7ld %6s", r[i].replicas,
               r[i].contacts_s, r[i].tickets_ack_s, r[i].tickets_e2e_s, r[i].ack_p50,
               r[i].ack_p99, r[i].ack_max, r[i].q_p50, r[i].q_p99, r[i].retries,
               r[i].complete ? "yes" : "NO");
        for (int k = 0; k < 4; k++)
            printf(" %8.1f", (double)rss_of(&r[i], svc_names[k]) / 1024.0);
        printf("\n");
    }
    printf("\nPostgreSQL baseline (COPY, %d contacts per transaction): %ld tickets in %.2f s = "
           "%.0f tickets/s\n",
           o->batch, b->tickets, b->seconds, b->tickets_s);
    for (int i = 0; i < n; i++)
        if (b->tickets_s > 0)
            printf("ratio store/baseline at %d replica(s): acknowledged %.3f, end to end %.3f\n",
                   r[i].replicas, r[i].tickets_ack_s / b->tickets_s,
                   r[i].tickets_e2e_s / b->tickets_s);
    fflush(stdout);
}

static int write_json(const char *path, const bench_opts *o, const bench_result *r, int n,
                      const bench_baseline *b)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    fprintf(f,
            "{\n  \"host\": \"%s\",\n  \"cores\": %ld,\n  \"unix_time\": %lld,\n"
            "  \"contacts\": %d,\n  \"problems_per_contact\": %d,\n  \"connections\": %d,\n"
            "  \"window\": %d,\n  \"credit\": %d,\n  \"rate_contacts_per_s\": %d,\n"
            "  \"durable\": true,\n  \"runs\": [\n",
            host, sysconf(_SC_NPROCESSORS_ONLN), (long long)time(NULL), o->contacts, o->problems,
            o->conns, o->window, o->credit, o->rate);
    for (int i = 0; i < n; i++) {
        fprintf(f,
                "    {\"replicas\": %d, \"complete\": %s, \"contacts_acked\": %ld, "
                "\"contacts_failed\": %ld, \"retries\": %ld, \"tickets_acked\": %ld, "
                "\"tickets_queued\": %ld, \"load_s\": %.3f, \"e2e_s\": %.3f, "
                "\"contacts_per_s\": %.1f, \"tickets_acked_per_s\": %.1f, "
                "\"tickets_e2e_per_s\": %.1f, \"ack_ms\": {\"p50\": %.2f, \"p99\": %.2f, "
                "\"max\": %.2f}, \"contact_to_queued_ms\": {\"p50\": %.1f, \"p99\": %.1f, "
                "\"max\": %.1f}, \"peak_rss_kb\": {",
                r[i].replicas, r[i].complete ? "true" : "false", r[i].contacts_acked,
                r[i].contacts_failed, r[i].retries, r[i].tickets_acked, r[i].tickets_queued,
                r[i].load_s, r[i].e2e_s, r[i].contacts_s, r[i].tickets_ack_s, r[i].tickets_e2e_s,
                r[i].ack_p50, r[i].ack_p99, r[i].ack_max, r[i].q_p50, r[i].q_p99, r[i].q_max);
        for (int k = 0; k < r[i].nrss; k++)
            fprintf(f, "%s\"%s\": %ld", k ? ", " : "", r[i].rss[k].name, r[i].rss[k].hwm_kb);
        fprintf(f, "}, \"ratio_acked_to_baseline\": %.4f, \"ratio_e2e_to_baseline\": %.4f}%s\n",
                b->tickets_s > 0 ? r[i].tickets_ack_s / b->tickets_s : 0,
                b->tickets_s > 0 ? r[i].tickets_e2e_s / b->tickets_s : 0, i + 1 < n ? "," : "");
    }
    fprintf(f,
            "  ],\n  \"baseline\": {\"method\": \"COPY\", \"batch_contacts\": %d, \"tickets\": "
            "%ld, \"seconds\": %.3f, \"tickets_per_s\": %.1f}\n}\n",
            o->batch, b->tickets, b->seconds, b->tickets_s);
    return fclose(f) == 0 ? 0 : -1;
}

int main(void)
{
    bench_opts o;
    opts_load(&o);
    bench_result res[MAX_REPLICA_RUNS];
    int n = 0, failed = 0;
    for (int i = 0; i < o.nreplicas; i++) {
        fprintf(stderr, "bench: %d contacts, %d replica(s) of prioritizer and router ...\n",
                o.contacts, o.replicas[i]);
        if (bench_pipeline(&o, i, o.replicas[i], &res[n]) == 0) {
            if (!res[n].complete)
                failed++;
            n++;
        } else {
            failed++;
        }
    }
    fprintf(stderr, "bench: PostgreSQL baseline ...\n");
    bench_baseline b;
    if (baseline_run(&o, &b) != 0)
        failed++;
    print_table(&o, res, n, &b);
    const char *json = getenv("BENCH_JSON");
    if (json && *json) {
        if (write_json(json, &o, res, n, &b) != 0) {
            fprintf(stderr, "bench: cannot write %s\n", json);
            failed++;
        } else {
            printf("results: %s\n", json);
        }
    }
    return failed ? 1 : 0;
}
