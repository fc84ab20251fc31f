/* End to end, faults under load (issue 4, item 4). The whole pipeline runs (store, intake, two
 * prioritizers, two routers, the escalation timer, the notifier on its log channel) while a load
 * generator (tests/support/load.c) submits FAULT_CONTACTS contacts of 1-3 problems in French,
 * Arabic, Urdu and Indonesian over several connections, sending a contact again with the same
 * key when it gets no answer or ERROR_UNAVAILABLE. While it runs, one fault after another, each
 * right after a burst of contacts went out, once enough contacts have been acknowledged since
 * the previous one settled: kill -9 of intake, a prioritizer, the store, a router (the workers
 * frozen for a moment first, so they die holding leases), the timer and the notifier, each
 * restarted at once, and a restart of PostgreSQL itself (tests/run.sh says
 * where it is: HD_TEST_PG_DIR). The load does not pause for a fault: the service is restarted
 * and waited for between the generator's turns.
 *
 * Afterwards every contact must be acknowledged, and SQL over the store's database must show:
 * every acknowledged contact has exactly the tickets its receipt named, one per problem and none
 * twice; every ticket reached `queued` with exactly one created, triaged and queued event; the
 * event sequence is 1..max without a gap; the timer caught up with the log, the notifier moved
 * on from where it was killed and every customer has exactly one acknowledgement naming all
 * the contact's tickets (none sent twice); and no service wrote a
 * sanitizer report or failed to stop on SIGTERM. The test prints what each fault cost (kill to
 * ready, to work, to settled) and the retries it caused. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
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
#include "hd/clock.h"
#include "load.h"
#include "sinks.h"

extern char **environ;

#define FAULT_CONTACTS 20000
#define FAULT_SOURCE "e2e-faults"
#define LOAD_CONNS 8
#define LOAD_WINDOW 24
/* Flat out, the pipeline takes 20,000 contacts in a few seconds, less than the faults need to
 * play out; at this rate the load lasts about 40 s and every fault meets a steady stream. */
#define LOAD_RATE 500
/* The client's patience, a little longer than intake's own wait for the store, so a store that
 * is away is answered by intake (ERROR_UNAVAILABLE) before the client gives up on intake. */
#define CLIENT_TIMEOUT_MS 2500
#define INTAKE_STORE_TIMEOUT "HD_INTAKE_STORE_TIMEOUT_MS=2000"
#define FIRST_FAULT_AT 1000 /* acknowledged contacts before the first fault */
#define FAULT_SPACING 1500  /* and after one settled, before the next */
/* A fault strikes right after a burst, when at least this many contacts are out. */
#define FAULT_MIN_OUTSTANDING 20
/* A worker is frozen (SIGSTOP) this long before its SIGKILL: the store hands it its credit in
 * that time, so it surely dies holding leases (the workers are often idle between bursts). Well
 * under the lease (1500 ms) and the 3 missed heartbeats (900 ms) after which the store would
 * take the work back by itself. */
#define FREEZE_MS 300
#define LOAD_DEADLINE_MS 200000
#define QUEUED_DEADLINE_MS 90000
#define CATCH_UP_DEADLINE_MS 90000
#define READY_DEADLINE_MS 30000
#define RECOVER_DEADLINE_MS 60000

/* The harness's P1 deadlines are minutes long, which this test can outlast; the timer's SLA
 * signals are not what it is about, so every deadline is hours away. */
static const char *const service_env[] = {
    "HD_SLA_P1_FIRST_RESPONSE=36000",
    "HD_SLA_P1_UPDATE_INTERVAL=36000",
    "HD_SLA_P1_RESOLUTION=72000",
    "HD_SLA_P1_TIER2_AFTER=72000",
    "HD_SLA_P1_TIER3_AFTER=80000",
    INTAKE_STORE_TIMEOUT,
    NULL,
};

enum {
    SVC_STORE,
    SVC_INTAKE,
    SVC_PRIO,
    SVC_PRIO2,
    SVC_ROUTER,
    SVC_ROUTER2,
    SVC_TIMER,
    SVC_NOTIFIER,
    SVC_COUNT
};

static const char *const svc_bins[SVC_COUNT] = {
    "hd-store",  "hd-intake", "hd-prioritizer",      "hd-prioritizer",
    "hd-router", "hd-router", "hd-escalation-timer", "hd-notifier",
};

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *svc[SVC_COUNT];
    ht_load *load; /* destroyed by the teardown too: its sockets would hold the context open */
    long notifier_cursor_at_kill;
} fixture;

/* ---------------------------------------------------------------- faults */

#define SVC_POSTGRES (-1)

enum fault_phase { FAULT_ARMED, FAULT_FROZEN, FAULT_RESTARTING, FAULT_RECOVERING, FAULT_DONE };

/* One fault and what it cost. Times are hd_mono_ms. "Working": the restarted process logged
 * `marker` (it did its job once more); "settled": every contact sent before the service was
 * ready again is answered, so the retries it caused are all counted. */
typedef struct {
    const char *name;
    const char *marker;
    const char *backlog_sql; /* a worker: its stage's tickets, waiting or on lease */
    long backlog;            /* that count when it was killed */
    long at_acked;           /* acknowledged contacts when it struck */
    long retries_before;     /* the generator's retries then */
    long retries;            /* from the strike to settled */
    int64_t frozen_ms, kill_ms, ready_ms, working_ms, settled_ms;
    int svc; /* SVC_* or SVC_POSTGRES */
    enum fault_phase phase;
    int sent_at_ready;
    int outstanding; /* contacts out when it struck */
    pid_t cmd;       /* PostgreSQL: the pg.sh stop or start running now */
    int cmd_step;    /* 0 stopping, 1 starting */
} fault;

static fault faults[] = {
    {.svc = SVC_INTAKE, .name = "intake", .marker = "event=contact"},
    {.svc = SVC_PRIO,
     .name = "prioritizer",
     .marker = "event=decided",
     .backlog_sql = "SELECT count(*) FROM tickets WHERE status = 'new'"},
    {.svc = SVC_STORE, .name = "store", .marker = "event=ticket_created"},
    {.svc = SVC_ROUTER,
     .name = "router",
     .marker = "event=decided",
     .backlog_sql = "SELECT count(*) FROM tickets WHERE status = 'triaged'"},
    {.svc = SVC_POSTGRES, .name = "postgresql"},
    {.svc = SVC_TIMER, .name = "escalation-timer", .marker = "event=rebuilt"},
    {.svc = SVC_NOTIFIER, .name = "notifier", .marker = "event=sent"},
};
#define NFAULTS (sizeof faults / sizeof faults[0])

/* Starts deploy/local/pg.sh ACTION DIR [PORT] in the background, its output in the env's
 * folder. The pid, or -1. */
static pid_t pg_script(ht_env *env, const char *action, const char *port)
{
    static char script[600];
    if (script[0] == '\0' && ht_source_path("deploy/local/pg.sh", script, sizeof script) != 0)
        return -1;
    const char *dir = getenv("HD_TEST_PG_DIR");
    char log[600];
    snprintf(log, sizeof log, "%s/pg-%s.log", env->dir, action);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {script, (char *)action, (char *)dir, (char *)port, NULL};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, script, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

/* The port of the test cluster, from HD_TEST_PG_URL (postgresql://user@host:PORT/db). */
static void pg_port(char *out, size_t len)
{
    const char *url = getenv("HD_TEST_PG_URL");
    if (url == NULL)
        url = "";
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *slash = strchr(host, '/');
    const char *colon = NULL;
    for (const char *p = host; *p && p != slash; p++)
        if (*p == ':')
            colon = p;
    snprintf(out, len, "%.*s", colon ? (int)strcspn(colon + 1, "/?") : 0, colon ? colon + 1 : "");
}

/* The PostgreSQL fault, one pg.sh at a time; true once the server is back. */
static bool pg_fault_tick(ht_env *env, fault *ft)
{
    int status;
    pid_t r = waitpid(ft->cmd, &status, WNOHANG);
    if (r == 0)
        return false;
    if (r != ft->cmd || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("deploy/local/pg.sh %s failed (log in %s)", ft->cmd_step ? "start" : "stop",
                 env->dir);
    if (ft->cmd_step == 1) {
        PQreset(env->pg); /* the test's own connection went down with the server */
        return true;
    }
    char port[16];
    pg_port(port, sizeof port);
    ft->cmd_step = 1;
    ft->cmd = pg_script(env, "start", port);
    if (ft->cmd < 0)
        fail_msg("cannot run deploy/local/pg.sh start");
    return false;
}

static void fault_strike(fixture *f, fault *ft, const ht_load *l)
{
    const ht_load_stats *st = ht_load_get_stats(l);
    ft->kill_ms = hd_mono_ms();
    ft->outstanding = ht_load_outstanding(l);
    ft->at_acked = st->acked;
    ft->retries_before = st->retries;
    if (ft->svc == SVC_NOTIFIER)
        f->notifier_cursor_at_kill = ht_consumer_cursor(f->env, "notifier");
    if (ft->svc == SVC_POSTGRES) {
        ft->cmd_step = 0;
        ft->cmd = pg_script(f->env, "stop", "");
        if (ft->cmd < 0)
            fail_msg("cannot run deploy/local/pg.sh stop");
    } else {
        ht_kill9(f->svc[ft->svc]);
        f->svc[ft->svc] = ht_start(f->env, svc_bins[ft->svc], service_env);
        assert_non_null(f->svc[ft->svc]);
    }
    ft->phase = FAULT_RESTARTING;
}

static bool fault_ready(fixture *f, fault *ft)
{
    if (ft->svc == SVC_POSTGRES)
        return pg_fault_tick(f->env, ft);
    ht_proc *p = f->svc[ft->svc];
    if (!ht_alive(p))
        fail_msg("%s exited after its restart (log %s)", ft->name, p->log);
    return ht_log_contains(p, "event=ready");
}

/* Moves the running fault on: restarting -> ready -> working and settled -> done. */
static void fault_tick(fixture *f, fault *ft, const ht_load *l)
{
    int64_t now = hd_mono_ms();
    if (ft->phase == FAULT_RESTARTING) {
        if (!fault_ready(f, ft)) {
            if (now - ft->kill_ms > READY_DEADLINE_MS)
                fail_msg("%s was not ready %d ms after the fault", ft->name, READY_DEADLINE_MS);
            return;
        }
        ft->ready_ms = now;
        ft->sent_at_ready = ht_load_sent(l);
        ft->phase = FAULT_RECOVERING;
    }
    if (ft->phase != FAULT_RECOVERING)
        return;
    if (ft->working_ms == 0 && (ft->marker == NULL || ht_log_contains(f->svc[ft->svc], ft->marker)))
        ft->working_ms = now;
    if (ft->settled_ms == 0 && ht_load_first_open(l) >= ft->sent_at_ready) {
        ft->settled_ms = now;
        ft->retries = ht_load_get_stats(l)->retries - ft->retries_before;
    }
    if (ft->working_ms != 0 && ft->settled_ms != 0)
        ft->phase = FAULT_DONE;
    else if (now - ft->kill_ms > RECOVER_DEADLINE_MS)
        fail_msg("%s did not recover in %d ms: %s", ft->name, RECOVER_DEADLINE_MS,
                 ft->working_ms ? "contacts sent before it was back are still unanswered"
                                : "the restarted process did no work");
}

/* ---------------------------------------------------------------- the load */


static void print_faults(void)
{
    printf("%-17s %8s %6s %7s %12s %12s %12s %8s\n", "fault", "at acked", "out", "backlog",
           "kill->ready", "kill->work", "kill->settle", "retries");
    for (size_t i = 0; i < NFAULTS; i++) {
        const fault *ft = &faults[i];
        printf("%-17s %8ld %6d %7ld %9lld ms %9lld ms %9lld ms %8ld\n", ft->name, ft->at_acked,
               ft->outstanding, ft->backlog, (long long)(ft->ready_ms - ft->kill_ms),
               (long long)(ft->working_ms - ft->kill_ms), (long long)(ft->settled_ms - ft->kill_ms),
               ft->retries);
    }
}

static void print_stats(const ht_load_stats *st, int64_t ms)
{
    printf("load: %ld contacts acknowledged (%ld tickets) in %.1f s = %.0f contacts/s; "
           "%ld sent, %ld retries (%ld after a timeout, %ld unavailable answers), %ld "
           "reconnects, %ld receipts (%ld duplicate), %ld refused, %ld mismatched\n",
           st->acked, st->tickets, (double)ms / 1000.0, (double)st->acked * 1000.0 / (double)ms,
           st->sent, st->retries, st->timeouts, st->unavailable, st->reconnects, st->receipts,
           st->duplicates, st->refused, st->mismatches);
}

/* Runs the load to the end, striking the faults on the way: each one once FAULT_SPACING more
 * contacts are acknowledged after the previous one settled. */
static void run_load_with_faults(fixture *f, ht_load *l)
{
    int64_t start = hd_mono_ms();
    size_t next = 0;
    long due = FIRST_FAULT_AT;
    while (!ht_load_done(l) || (next < NFAULTS && faults[next].phase != FAULT_ARMED)) {
        if (hd_mono_ms() - start > LOAD_DEADLINE_MS) {
            print_stats(ht_load_get_stats(l), hd_mono_ms() - start);
            fail_msg("the load did not finish in %d s", LOAD_DEADLINE_MS / 1000);
        }
        if (ht_load_step(l, 10) != 0)
            fail_msg("zmq_poll failed: %s", strerror(errno));
        const ht_load_stats *st = ht_load_get_stats(l);
        if (next >= NFAULTS)
            continue;
        fault *ft = &faults[next];
        if (ft->phase == FAULT_ARMED) {
            if (st->acked < due || ht_load_outstanding(l) < FAULT_MIN_OUTSTANDING)
                continue;
            if (ft->backlog_sql == NULL) {
                fault_strike(f, ft, l);
            } else {
                kill(f->svc[ft->svc]->pid, SIGSTOP);
                ft->frozen_ms = hd_mono_ms();
                ft->phase = FAULT_FROZEN;
            }
            continue;
        }
        if (ft->phase == FAULT_FROZEN) {
            if (hd_mono_ms() - ft->frozen_ms >= FREEZE_MS) {
                ft->backlog = ht_sql_long(f->env, ft->backlog_sql);
                fault_strike(f, ft, l);
            }
            continue;
        }
        fault_tick(f, ft, l);
        if (ft->phase == FAULT_DONE) {
            due = st->acked + FAULT_SPACING;
            next++;
        }
    }
    const ht_load_stats *st = ht_load_get_stats(l);
    print_stats(st, hd_mono_ms() - start);
    print_faults();
    if (next < NFAULTS)
        fail_msg("the load ended before fault %zu (%s) could strike: %ld contacts are too few",
                 next, faults[next].name, st->acked);
}

/* ---------------------------------------------------------------- the test */

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "faults");
    *state = f;
    if (getenv("HD_TEST_PG_DIR") == NULL) {
        fprintf(stderr, "faults: HD_TEST_PG_DIR is not set: run through tests/run.sh\n");
        return -1;
    }
    char templates[512], extra[1024];
    if (ht_source_path("deploy/local/templates", templates, sizeof templates) != 0)
        return -1;
    snprintf(extra, sizeof extra, "notifier:\n  templates: \"%s\"\n", templates);
    ht_env_write_config(f->env, extra);
    for (int i = 0; i < SVC_COUNT; i++) {
        f->svc[i] = ht_start_ready(f->env, svc_bins[i], service_env);
        if (f->svc[i] == NULL) {
            ht_dump_logs(f->env, 40);
            return -1;
        }
    }
    return 0;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    if (f != NULL)
        ht_load_destroy(&f->load);
    return ht_fixture_teardown(state);
}

static void test_faults_under_load_lose_and_repeat_nothing(void **state)
{
    fixture *f = *state;
    int64_t t0 = hd_mono_ms();
    ht_load_opts o = {.contacts = FAULT_CONTACTS,
                      .conns = LOAD_CONNS,
                      .window = LOAD_WINDOW,
                      .timeout_ms = CLIENT_TIMEOUT_MS,
                      .rate = LOAD_RATE,
                      .source = FAULT_SOURCE,
                      .fill = ht_load_fill_multilingual};
    ht_load *l = f->load = ht_load_new(f->env, &o);
    assert_non_null(l);
    run_load_with_faults(f, l);
    assert_int_equal(PQstatus(f->env->pg), CONNECTION_OK);

    /* the notifier moves on from where it was killed */
    ht_check_load_survived(f->env, l, FAULT_SOURCE, FAULT_CONTACTS, QUEUED_DEADLINE_MS,
                           f->notifier_cursor_at_kill, CATCH_UP_DEADLINE_MS);
    printf("total: %.1f s\n", (double)(hd_mono_ms() - t0) / 1000.0);
    ht_load_destroy(&f->load);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_faults_under_load_lose_and_repeat_nothing),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
