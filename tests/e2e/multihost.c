/* End to end across hosts (issue 5, item 6). Each host is a network namespace with its own
 * address, joined to the others by a private bridge, as machines on one switch
 * (tests/support/netns.sh builds them and removes them whatever happens to this test):
 *
 *   store      10.231.0.2   hd-store (PostgreSQL on the same host: its Unix socket)
 *   intake     10.231.0.3   hd-intake
 *   workers    10.231.0.4   hd-prioritizer, hd-router
 *   consumers  10.231.0.5   hd-escalation-timer, hd-notifier
 *   client     10.231.0.6   this test's load generator (tests/support/load.c)
 *
 * Every service binds or connects on those addresses. The root namespace has no address on
 * the bridge, so nothing reaches a host except over it. While the load runs (contacts of 1-3
 * problems, each sent again with the same key when unanswered), one host after another has its
 * cable pulled (its veth port on the bridge set down: no FIN, no RST, its packets just vanish)
 * for CUT_MS, then put back: the workers (their leases expire, the work waits), intake (the
 * clients retry), the store, and the consumers. For each cut the test checks that it bit (work
 * waited, no receipt or ticket got through) and measures from the cable's return until the
 * pipeline worked again: a receipt, a stage result, every contact sent before the return
 * answered, every ticket made before it queued, both consumers past the log's end at the return.
 * It also prints whether intake's TCP connection to the store outlived the cut (by `ss`).
 *
 * Afterwards SQL over the store's database must show what the fault test demands: every
 * contact acknowledged with exactly the tickets its receipt named, none made twice, every
 * ticket queued with one created, triaged and queued event, the event seq without a gap, the
 * timer caught up, every customer acknowledged exactly once; and every service stops cleanly.
 * Needs root: it fails (does not skip) otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "checks.h"
#include "harness.h"
#include "hd/client.h"
#include "hd/clock.h"
#include "load.h"
#include "sinks.h"

#define MH_SOURCE "e2e-multihost"
#define MAX_CONTACTS 40000
#define LOAD_CONNS 4
#define LOAD_WINDOW 32
#define LOAD_RATE 150
/* The client's patience, a little longer than intake's own wait for the store, so a store that
 * is cut off is answered by intake (ERROR_UNAVAILABLE) before the client gives up on intake. */
#define CLIENT_TIMEOUT_MS 2500
#define INTAKE_STORE_TIMEOUT "HD_INTAKE_STORE_TIMEOUT_MS=2000"
/* Longer than a lease (1500 ms), three worker heartbeats (900 ms), intake's wait for the store
 * and the client's patience: every one of them runs out while the cable is out.
 * HD_TEST_MH_CUT_MS changes it (for longer cuts by hand). */
#define CUT_MS 4000
static int cut_ms = CUT_MS;
/* The store's cut lasts this much longer: ZeroMQ's heartbeat (a PING a second, 3 s without an
 * answer: common/src/transport.c) surely gives up on intake's connection to the store in the
 * cut, and the test checks that intake connected again rather than waited for TCP. */
#define STORE_CUT_EXTRA_MS 2000
#define FIRST_CUT_AT 600 /* contacts acknowledged before the first cut */
#define STEADY_MS 1000   /* steady load between one recovery and the next cut */
#define RECOVER_DEADLINE_MS 40000
#define READY_DEADLINE_MS 30000
#define GUARD_DEADLINE_MS 30000
#define QUEUED_DEADLINE_MS 60000
#define CONSUMER_DEADLINE_MS 60000
#define SQL_EVERY_MS 100
#define IP_BIN "/usr/sbin/ip"

enum { H_STORE, H_INTAKE, H_WORKERS, H_CONSUMERS, H_CLIENT, NHOSTS };
static const char *const host_names[NHOSTS] = {"store", "intake", "workers", "consumers", "client"};

enum { SVC_STORE, SVC_INTAKE, SVC_PRIO, SVC_ROUTER, SVC_TIMER, SVC_NOTIFIER, SVC_COUNT };
static const char *const svc_bins[SVC_COUNT] = {
    "hd-store", "hd-intake", "hd-prioritizer", "hd-router", "hd-escalation-timer", "hd-notifier"};
static const int svc_host[SVC_COUNT] = {H_STORE,   H_INTAKE,    H_WORKERS,
                                        H_WORKERS, H_CONSUMERS, H_CONSUMERS};

/* Every deadline hours away: the SLA signals are not what this test is about. */
static const char *const service_env[] = {
    "HD_SLA_P1_FIRST_RESPONSE=36000",
    "HD_SLA_P1_UPDATE_INTERVAL=36000",
    "HD_SLA_P1_RESOLUTION=72000",
    "HD_SLA_P1_TIER2_AFTER=72000",
    "HD_SLA_P1_TIER3_AFTER=80000",
    INTAKE_STORE_TIMEOUT,
    NULL,
};

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *svc[SVC_COUNT];
    ht_load *load;
    pid_t guard;   /* tests/support/netns.sh hold */
    int guard_in;  /* its standard input: closing it removes the hosts */
    int guard_out; /* its standard output: "ready TAG", "removed TAG" */
    char tag[32];
    long notifier_floor; /* the notifier's cursor when its host was cut off */
} fixture;

/* ---------------------------------------------------------------- hosts */

static void host_ns(const fixture *f, int host, char *out, size_t len)
{
    snprintf(out, len, "hd%s-%s", f->tag, host_names[host]);
}

static void host_addr(int host, char *out, size_t len)
{
    snprintf(out, len, "10.231.0.%d", host + 2);
}

/* Reads the guard's output up to `want` ("ready " or "removed "), waiting up to timeout_ms;
 * the rest of that line goes into rest. 0, or -1 when it does not come. */
static int guard_expect(fixture *f, const char *want, char *rest, size_t len, int timeout_ms)
{
    static char buf[4096];
    static size_t used;
    int64_t deadline = hd_mono_ms() + timeout_ms;
    for (;;) {
        buf[used] = '\0';
        char *at = strstr(buf, want);
        char *eol = at ? strchr(at, '\n') : NULL;
        if (eol != NULL) {
            snprintf(rest, len, "%.*s", (int)(eol - at - (long)strlen(want)), at + strlen(want));
            used = 0;
            return 0;
        }
        int left = (int)(deadline - hd_mono_ms());
        struct pollfd p = {.fd = f->guard_out, .events = POLLIN};
        if (left <= 0 || used + 1 >= sizeof buf || poll(&p, 1, left) <= 0)
            return -1;
        ssize_t n = read(f->guard_out, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            return -1;
        used += (size_t)n;
    }
}

/* Starts tests/support/netns.sh hold HOST... in a session of its own (tests/run.sh kills this
 * test's process group at the end; the guard must outlive that to clean up) with a pipe as its
 * standard input, which the kernel closes when this process ends however it ends. */
static int guard_start(fixture *f)
{
    char script[600];
    if (ht_source_path("tests/support/netns.sh", script, sizeof script) != 0)
        return -1;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        dup2(in[0], 0);
        dup2(out[1], 1);
        char *argv[NHOSTS + 4] = {"/bin/bash", script, "hold"};
        for (int h = 0; h < NHOSTS; h++)
            argv[3 + h] = (char *)host_names[h];
        argv[3 + NHOSTS] = NULL;
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->guard = pid;
    f->guard_in = in[1];
    f->guard_out = out[0];
    if (guard_expect(f, "ready ", f->tag, sizeof f->tag, GUARD_DEADLINE_MS) != 0) {
        fprintf(stderr, "multihost: tests/support/netns.sh did not build the hosts\n");
        return -1;
    }
    return 0;
}

/* Closes the guard's input, so it removes every host, and checks that it did. 0 or -1. */
static int guard_stop(fixture *f)
{
    if (f->guard <= 0)
        return 0;
    close(f->guard_in);
    char rest[64];
    int rc = guard_expect(f, "removed ", rest, sizeof rest, GUARD_DEADLINE_MS);
    int status = 0;
    if (rc != 0)
        kill(f->guard, SIGTERM);
    while (waitpid(f->guard, &status, 0) < 0 && errno == EINTR) {
    }
    close(f->guard_out);
    f->guard = 0;
    if (rc != 0)
        fprintf(stderr, "multihost: tests/support/netns.sh did not say it removed the hosts\n");
    return rc;
}

/* Runs `ip ARGS...` in the root namespace; true when it exits 0. */
static bool ip_cmd(fixture *f, const char *const *args)
{
    const char *argv[12] = {IP_BIN};
    int n = 1;
    for (; args[n - 1] != NULL && n < 11; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char out[2048], err[2048];
    int rc = ht_run(f->env, argv, NULL, out, sizeof out, err, sizeof err, 10000);
    if (rc != 0)
        fprintf(stderr, "multihost: ip %s %s %s: exit %d: %s\n", args[0], args[1],
                args[2] ? args[2] : "", rc, err);
    return rc == 0;
}

/* The host's cable: its veth port on the bridge, up or down. */
static void set_cable(fixture *f, int host, bool up)
{
    char veth[48];
    snprintf(veth, sizeof veth, "hd%sv%d", f->tag, host);
    const char *args[] = {"link", "set", veth, up ? "up" : "down", NULL};
    if (!ip_cmd(f, args))
        fail_msg("cannot set %s %s", veth, up ? "up" : "down");
}

/* Opens a network namespace by name; the fd, or -1. */
static int ns_open(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* The test's own clients (env->zctx, env->intake, env->api; the load uses env->zctx) live on
 * the client host. ZeroMQ opens its TCP connections in its I/O threads, which start with the
 * context's first socket and stay in the network namespace of the thread that made it; so the
 * context is made with this thread in the client's namespace, which it then leaves again (its
 * SQL connection and the `ip` commands stay in the root namespace). 0 or -1. */
static int clients_on_client_host(fixture *f)
{
    ht_env *env = f->env;
    char ns[64];
    host_ns(f, H_CLIENT, ns, sizeof ns);
    int root = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int client = ns_open(ns);
    if (root < 0 || client < 0) {
        fprintf(stderr, "multihost: cannot open the namespaces: %s\n", strerror(errno));
        return -1;
    }
    hd_client *c = env->intake;
    hd_client_destroy(&c);
    c = env->api;
    hd_client_destroy(&c);
    zmq_ctx_term(env->zctx);
    int rc = setns(client, CLONE_NEWNET);
    if (rc == 0) {
        env->zctx = zmq_ctx_new();
        env->intake = hd_client_new(env->zctx, env->intake_ep);
        env->api = hd_client_new(env->zctx, env->api_ep);
        rc = setns(root, CLONE_NEWNET);
    }
    close(root);
    close(client);
    if (rc != 0 || env->intake == NULL || env->api == NULL) {
        fprintf(stderr, "multihost: cannot make the clients on the client host: %s\n",
                strerror(errno));
        return -1;
    }
    return 0;
}

/* The config every host shares: the hosts' addresses; the store reaches PostgreSQL, on its own
 * host, by its Unix socket (tests/run.sh's cluster: HD_TEST_PG_DIR). */
static int write_config(fixture *f)
{
    ht_env *env = f->env;
    const char *pgdir = getenv("HD_TEST_PG_DIR");
    const char *url = getenv("HD_TEST_PG_URL");
    const char *colon = url ? strrchr(url, ':') : NULL;
    if (pgdir == NULL || colon == NULL) {
        fprintf(stderr, "multihost: HD_TEST_PG_DIR or HD_TEST_PG_URL is not set: run through "
                        "tests/run.sh\n");
        return -1;
    }
    int port = (int)strtol(colon + 1, NULL, 10);
    snprintf(env->db_url, sizeof env->db_url, "host=%s port=%d user=postgres dbname=%s", pgdir,
             port, env->db_name);
    char store[32], intake[32];
    host_addr(H_STORE, store, sizeof store);
    host_addr(H_INTAKE, intake, sizeof intake);
    snprintf(env->intake_ep, sizeof env->intake_ep, "tcp://%s:5550", intake);
    snprintf(env->api_ep, sizeof env->api_ep, "tcp://%s:5551", store);
    snprintf(env->work_ep, sizeof env->work_ep, "tcp://%s:5552", store);
    snprintf(env->events_ep, sizeof env->events_ep, "tcp://%s:5553", store);
    char templates[512], extra[1024];
    if (ht_source_path("deploy/local/templates", templates, sizeof templates) != 0)
        return -1;
    snprintf(extra, sizeof extra, "notifier:\n  templates: \"%s\"\n", templates);
    ht_env_write_config(env, extra);
    return 0;
}

static ht_proc *start_service(fixture *f, int svc)
{
    char ns[64];
    host_ns(f, svc_host[svc], ns, sizeof ns);
    const char *wrap[] = {IP_BIN, "netns", "exec", ns, NULL};
    ht_proc *p = ht_start_wrapped(f->env, wrap, svc_bins[svc], service_env);
    if (p == NULL || !ht_wait_ready(f->env, p, READY_DEADLINE_MS)) {
        fprintf(stderr, "multihost: %s did not get ready on host %s\n", svc_bins[svc], ns);
        return NULL;
    }
    return p;
}

/* ---------------------------------------------------------------- cuts */

enum cut_phase { CUT_WAITING, CUT_OUT, CUT_RECOVERING, CUT_DONE };

/* One host cut off and put back, and what it cost. Times are hd_mono_ms. */
typedef struct {
    int host;
    enum cut_phase phase;
    int64_t out_ms, back_ms;
    /* after the cable came back: the client's next receipt; the next stage result applied;
     * every contact sent before the return answered; every ticket made before it queued; both
     * consumers' cursors past the log's end at the return */
    int64_t ack_ms, work_ms, answered_ms, drained_ms, consumers_ms;
    int64_t next_sql_ms;
    long acked_at_out, acked_1s_in, acked_at_back; /* receipts the client had */
    long unavailable_at_out, unavailable_at_back, timeouts_at_out, timeouts_at_back;
    long retries_at_out, retries;          /* retries from the cut until all were answered */
    long contacts_1s_in, contacts_at_back; /* contacts in the store */
    long waiting_at_back;                  /* tickets not queued when the cable came back */
    long queued_at_back;                   /* queued events then */
    long last_ticket_at_back, seq_at_back;
    long notifier_1s_in, notifier_at_back; /* the notifier's cursor */
    int sent_at_back;
    bool second_in; /* the readings one second into the cut are taken */
    /* the TCP connections from intake to the store (local port and peer, by ss) before the
     * cut and after the recovery: the same ones when they outlived the cut */
    char conns_before[512], conns_after[512];
} cut;

static cut cuts[] = {
    {.host = H_WORKERS},
    {.host = H_INTAKE},
    {.host = H_STORE},
    {.host = H_CONSUMERS},
};
#define NCUTS (sizeof cuts / sizeof cuts[0])

static int cut_length(const cut *c)
{
    return cut_ms + (c->host == H_STORE ? STORE_CUT_EXTRA_MS : 0);
}

static long sql(fixture *f, const char *q)
{
    long v = ht_sql_long(f->env, q);
    if (v < 0)
        fail_msg("SQL failed: %s", q);
    return v;
}

static long queued_events(fixture *f)
{
    return sql(f, "SELECT count(*) FROM ticket_events WHERE kind = 'queued'");
}

/* Intake's established TCP connections to the store's API port, as `ss` lists them. */
static void intake_store_conns(fixture *f, char *out, size_t len)
{
    char ns[64];
    host_ns(f, H_INTAKE, ns, sizeof ns);
    const char *argv[] = {
        IP_BIN, "netns", "exec", ns, "ss", "-Htn", "state", "established", "( dport = :5551 )",
        NULL};
    char err[512];
    if (ht_run(f->env, argv, NULL, out, len, err, sizeof err, 10000) != 0)
        snprintf(out, len, "(ss failed: %s)", err);
}

static void cut_out(fixture *f, cut *c, const ht_load_stats *st)
{
    if (c->host == H_CONSUMERS)
        f->notifier_floor = ht_consumer_cursor(f->env, "notifier");
    c->acked_at_out = st->acked;
    c->unavailable_at_out = st->unavailable;
    c->timeouts_at_out = st->timeouts;
    c->retries_at_out = st->retries;
    intake_store_conns(f, c->conns_before, sizeof c->conns_before);
    set_cable(f, c->host, false);
    c->out_ms = hd_mono_ms();
    c->phase = CUT_OUT;
}

static void cut_back(fixture *f, cut *c, const ht_load *l)
{
    const ht_load_stats *st = ht_load_get_stats(l);
    c->acked_at_back = st->acked;
    c->unavailable_at_back = st->unavailable;
    c->timeouts_at_back = st->timeouts;
    c->contacts_at_back = sql(f, "SELECT count(*) FROM contacts");
    c->waiting_at_back = sql(f, "SELECT count(*) FROM tickets WHERE status <> 'queued'");
    c->queued_at_back = queued_events(f);
    c->last_ticket_at_back = sql(f, "SELECT coalesce(max(id), 0) FROM tickets");
    c->seq_at_back = sql(f, "SELECT coalesce(max(seq), 0) FROM ticket_events");
    c->sent_at_back = ht_load_sent(l);
    c->notifier_at_back = ht_consumer_cursor(f->env, "notifier");
    set_cable(f, c->host, true);
    c->back_ms = hd_mono_ms();
    c->phase = CUT_RECOVERING;
}

/* The cut must have bitten: without its host the pipeline could not do that host's part. */
static void check_cut_bit(const cut *c)
{
    switch (c->host) {
    case H_WORKERS:
        if (c->waiting_at_back < 100)
            fail_msg("workers cut off for %d ms, yet only %ld tickets waited", cut_length(c),
                     c->waiting_at_back);
        break;
    case H_INTAKE:
        if (c->acked_at_back != c->acked_1s_in || c->timeouts_at_back == c->timeouts_at_out)
            fail_msg("intake cut off, yet the client got %ld receipts and %ld timeouts",
                     c->acked_at_back - c->acked_1s_in, c->timeouts_at_back - c->timeouts_at_out);
        break;
    case H_STORE:
        if (c->contacts_at_back != c->contacts_1s_in ||
            c->unavailable_at_back == c->unavailable_at_out)
            fail_msg("store cut off, yet %ld contacts were stored and intake answered "
                     "unavailable %ld times",
                     c->contacts_at_back - c->contacts_1s_in,
                     c->unavailable_at_back - c->unavailable_at_out);
        break;
    case H_CONSUMERS:
        if (c->notifier_at_back != c->notifier_1s_in)
            fail_msg("consumers cut off, yet the notifier's cursor moved from %ld to %ld",
                     c->notifier_1s_in, c->notifier_at_back);
        break;
    default:
        break;
    }
}

static bool consumers_past(fixture *f, long seq)
{
    return ht_consumer_cursor(f->env, "notifier") >= seq &&
           ht_consumer_cursor(f->env, "escalation-timer") >= seq;
}

/* Takes the readings that show the pipeline working again, SQL at most every SQL_EVERY_MS. */
static void cut_watch(fixture *f, cut *c, const ht_load *l, int64_t now)
{
    const ht_load_stats *st = ht_load_get_stats(l);
    if (c->ack_ms == 0 && st->acked > c->acked_at_back)
        c->ack_ms = now;
    if (c->answered_ms == 0 && ht_load_first_open(l) >= c->sent_at_back) {
        c->answered_ms = now;
        c->retries = st->retries - c->retries_at_out;
    }
    if (now < c->next_sql_ms)
        return;
    c->next_sql_ms = now + SQL_EVERY_MS;
    if (c->work_ms == 0 && queued_events(f) > c->queued_at_back)
        c->work_ms = now;
    if (c->drained_ms == 0) {
        char q[160];
        snprintf(q, sizeof q, "SELECT count(*) FROM tickets WHERE id <= %ld AND status <> 'queued'",
                 c->last_ticket_at_back);
        if (sql(f, q) == 0)
            c->drained_ms = now;
    }
    if (c->consumers_ms == 0 && consumers_past(f, c->seq_at_back))
        c->consumers_ms = now;
}

/* Moves the current cut on; true when it is done. */
static bool cut_tick(fixture *f, cut *c, const ht_load *l)
{
    int64_t now = hd_mono_ms();
    if (c->phase == CUT_OUT) {
        if (!c->second_in && now - c->out_ms >= 1000) {
            c->acked_1s_in = ht_load_get_stats(l)->acked;
            c->contacts_1s_in = sql(f, "SELECT count(*) FROM contacts");
            c->notifier_1s_in = ht_consumer_cursor(f->env, "notifier");
            c->second_in = true;
        }
        if (now - c->out_ms >= cut_length(c)) {
            cut_back(f, c, l);
            check_cut_bit(c);
        }
        return false;
    }
    cut_watch(f, c, l, now);
    if (c->ack_ms && c->work_ms && c->answered_ms && c->drained_ms && c->consumers_ms) {
        intake_store_conns(f, c->conns_after, sizeof c->conns_after);
        if (c->host == H_STORE &&
            (c->conns_after[0] == '\0' || strcmp(c->conns_before, c->conns_after) == 0))
            fail_msg("intake did not give up its connection to the store, cut off for %d ms, "
                     "and connect again (heartbeats); before:\n%safter:\n%s",
                     cut_length(c), c->conns_before, c->conns_after);
        c->phase = CUT_DONE;
        return true;
    }
    if (now - c->back_ms > RECOVER_DEADLINE_MS)
        fail_msg("%s: the pipeline did not recover %d s after the cable came back (receipt %s, "
                 "stage result %s, contacts %s, tickets %s, consumers %s)",
                 host_names[c->host], RECOVER_DEADLINE_MS / 1000, c->ack_ms ? "yes" : "no",
                 c->work_ms ? "yes" : "no", c->answered_ms ? "answered" : "not all answered",
                 c->drained_ms ? "queued" : "not all queued",
                 c->consumers_ms ? "caught up" : "behind");
    return false;
}

static long long since_back(const cut *c, int64_t t)
{
    return (long long)(t - c->back_ms);
}

static void print_cuts(void)
{
    printf("after the cable came back, ms until: the next receipt, stage result, every contact "
           "sent before answered, every ticket made before queued, both consumers past the "
           "log's end then\n");
    printf("%-10s %7s %8s %8s %8s %8s %8s %9s %8s %s\n", "host cut", "out ms", "waiting", "receipt",
           "work", "answered", "drained", "consumers", "retries", "intake->store TCP");
    for (size_t i = 0; i < NCUTS; i++) {
        const cut *c = &cuts[i];
        bool same = strcmp(c->conns_before, c->conns_after) == 0 && c->conns_before[0] != '\0';
        printf("%-10s %7lld %8ld %8lld %8lld %8lld %8lld %9lld %8ld %s\n", host_names[c->host],
               (long long)(c->back_ms - c->out_ms), c->waiting_at_back, since_back(c, c->ack_ms),
               since_back(c, c->work_ms), since_back(c, c->answered_ms),
               since_back(c, c->drained_ms), since_back(c, c->consumers_ms), c->retries,
               same ? "same connection" : "reconnected");
    }
}

/* ---------------------------------------------------------------- the load */


static void print_stats(const ht_load_stats *st, int64_t ms)
{
    printf("load: %ld contacts acknowledged (%ld tickets) in %.1f s; %ld sent, %ld retries (%ld "
           "after a timeout, %ld unavailable answers), %ld reconnects, %ld receipts (%ld "
           "duplicate), %ld refused, %ld mismatched\n",
           st->acked, st->tickets, (double)ms / 1000.0, st->sent, st->retries, st->timeouts,
           st->unavailable, st->reconnects, st->receipts, st->duplicates, st->refused,
           st->mismatches);
}

/* Runs the load, cutting one host after another once the previous cut is over and the load
 * has been steady for STEADY_MS; then sends no new contacts and waits for every answer. */
static void run_load_with_cuts(fixture *f, ht_load *l)
{
    int64_t start = hd_mono_ms(), steady_since = 0;
    int64_t load_deadline =
        30000 + STORE_CUT_EXTRA_MS + (int64_t)NCUTS * (cut_ms + RECOVER_DEADLINE_MS);
    size_t next = 0;
    while (!ht_load_done(l)) {
        int64_t now = hd_mono_ms();
        if (now - start > load_deadline) {
            print_stats(ht_load_get_stats(l), now - start);
            fail_msg("the load did not finish in %lld s", (long long)load_deadline / 1000);
        }
        if (ht_load_step(l, 10) != 0)
            fail_msg("zmq_poll failed: %s", strerror(errno));
        if (next >= NCUTS)
            continue;
        cut *c = &cuts[next];
        const ht_load_stats *st = ht_load_get_stats(l);
        if (c->phase == CUT_WAITING) {
            if (st->acked >= FIRST_CUT_AT && now - steady_since >= STEADY_MS)
                cut_out(f, c, st);
        } else if (cut_tick(f, c, l)) {
            steady_since = hd_mono_ms();
            if (++next == NCUTS)
                ht_load_end(l);
        }
        if (ht_load_sent(l) >= MAX_CONTACTS)
            fail_msg("%d contacts sent and the cuts are not over", MAX_CONTACTS);
    }
    print_stats(ht_load_get_stats(l), hd_mono_ms() - start);
    print_cuts();
}

/* The client's connections to intake come from the client host's address: the load really
 * crosses the bridge. */
static void check_client_path(fixture *f)
{
    char ns[64], client[32];
    host_ns(f, H_INTAKE, ns, sizeof ns);
    host_addr(H_CLIENT, client, sizeof client);
    const char *argv[] = {
        IP_BIN, "netns", "exec", ns, "ss", "-Htn", "state", "established", "( sport = :5550 )",
        NULL};
    char out[8192], err[1024];
    int rc = ht_run(f->env, argv, NULL, out, sizeof out, err, sizeof err, 10000);
    if (rc != 0 || strstr(out, client) == NULL)
        fail_msg("intake has no connection from the client host %s (ss exit %d):\n%s%s", client, rc,
                 out, err);
}

/* Which services noticed a silent peer and opened a fresh connection themselves. */
static void print_reconnects(const fixture *f)
{
    for (int s = 0; s < SVC_COUNT; s++) {
        char *text = ht_read_file(f->svc[s]->log, NULL);
        int n = 0;
        for (const char *p = text; p && (p = strstr(p, "event=reconnect")) != NULL; p++)
            n++;
        printf("%s: %d reconnects of its own\n", svc_bins[s], n);
        free(text);
    }
}

/* ---------------------------------------------------------------- the test */

static int group_setup(void **state)
{
    *state = NULL;
    if (geteuid() != 0) {
        fprintf(stderr,
                "multihost: must run as root (it makes network namespaces, veth pairs "
                "and a bridge with ip); it runs as uid %d. Run make test as root, as CI "
                "does.\n",
                (int)geteuid());
        return -1;
    }
    const char *cut_env = getenv("HD_TEST_MH_CUT_MS");
    long want = cut_env != NULL ? strtol(cut_env, NULL, 10) : 0;
    if (want >= 1000 && want <= 600000)
        cut_ms = (int)want;
    fixture *f = ht_fixture_new(sizeof *f, "multihost");
    *state = f;
    if (guard_start(f) != 0 || write_config(f) != 0)
        return -1;
    for (int s = 0; s < SVC_COUNT; s++) {
        f->svc[s] = start_service(f, s);
        if (f->svc[s] == NULL) {
            ht_dump_logs(f->env, 40);
            return -1;
        }
    }
    return clients_on_client_host(f);
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL)
        return 0;
    ht_load_destroy(&f->load);
    for (int h = 0; h < NHOSTS && f->guard > 0; h++) {
        char veth[48];
        snprintf(veth, sizeof veth, "hd%sv%d", f->tag, h);
        const char *args[] = {"link", "set", veth, "up", NULL};
        (void)ip_cmd(f, args); /* a failed test may have left a cable out */
    }
    fixture guard = *f; /* the teardown frees f; the hosts go once the services are stopped */
    ht_fixture_teardown(state);
    if (guard.guard <= 0)
        return -1;
    return guard_stop(&guard);
}

static void test_hosts_cut_off_and_back_lose_nothing(void **state)
{
    fixture *f = *state;
    int64_t t0 = hd_mono_ms();
    ht_load_opts o = {.contacts = MAX_CONTACTS,
                      .conns = LOAD_CONNS,
                      .window = LOAD_WINDOW,
                      .timeout_ms = CLIENT_TIMEOUT_MS,
                      .rate = LOAD_RATE,
                      .source = MH_SOURCE,
                      .fill = ht_load_fill_multilingual};
    ht_load *l = f->load = ht_load_new(f->env, &o);
    assert_non_null(l);
    run_load_with_cuts(f, l);
    check_client_path(f);

    ht_check_load_survived(f->env, l, MH_SOURCE, ht_load_sent(l), QUEUED_DEADLINE_MS,
                           f->notifier_floor, CONSUMER_DEADLINE_MS);
    print_reconnects(f);
    printf("total: %.1f s\n", (double)(hd_mono_ms() - t0) / 1000.0);
    ht_load_destroy(&f->load);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_hosts_cut_off_and_back_lose_nothing),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
