/* End to end: when intake's connection to the store goes away, the contacts the store held are
 * answered ERROR_UNAVAILABLE at once, not after intake.store_timeout_ms (20 s here). The store
 * is frozen (SIGSTOP) so it reads nothing, contacts are sent through intake on one DEALER, then
 * the store is killed (SIGKILL) or stopped cleanly (SIGTERM); every contact must be answered
 * within FAST_MS, exactly once. After a restart of the store the same contacts, retried with
 * their keys, get receipts and each ticket exists once (SQL). Also: the monitor plumbing of
 * hd/transport.h leaves no socket or descriptor behind across many sockets, and a refused
 * CurveZMQ handshake is not taken for a lost connection. */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "hd/clock.h"
#include "hd/curve.h"
#include "hd/transport.h"

/* Contacts held by the store in each test. */
#define HELD 20
/* intake.store_timeout_ms: far longer than any answer the tests accept. */
#define STORE_TIMEOUT_MS 20000
/* A contact the store held must be answered within this long of the store going away. */
#define FAST_MS 5000
#define SOURCE "e2e-storegone"
#define WAITING_SERIES "helpdesk_intake_waiting_calls{service=\"intake\"}"
#define UNAVAILABLE_SERIES "helpdesk_errors_total{service=\"intake\",kind=\"unavailable\"}"

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake;
    int port;      /* intake's HTTP port (/metrics) */
    void *client;  /* a DEALER to intake: many requests in flight at once */
    uint64_t next; /* the next request id on client */
} fixture;

static const char *const intake_env[] = {"HD_INTAKE_STORE_TIMEOUT_MS=20000",
                                         "HD_HTTP_LISTEN=127.0.0.1:0", NULL};

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "storegone");
    *state = f;
    f->store = ht_start_ready(f->env, "hd-store", NULL);
    f->intake = f->store ? ht_start_ready(f->env, "hd-intake", intake_env) : NULL;
    f->port = f->intake ? ht_http_port(f->intake, 5000) : -1;
    f->client = hd_socket_new(f->env->zctx, ZMQ_DEALER, f->env->intake_ep, false);
    f->next = 1;
    return f->port > 0 && f->client != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    if (f != NULL)
        hd_socket_close(&f->client);
    return ht_fixture_teardown(state);
}

/* Sends contact "<tag>-<i>" (two problems) on the fixture's DEALER; returns its request id. */
static uint64_t send_contact(fixture *f, const char *tag, int i)
{
    char ext[64];
    snprintf(ext, sizeof ext, "%s-%d", tag, i);
    ht_contact x;
    ht_contact_init(&x, SOURCE, ext);
    ht_contact_add(&x, "network", "الشبكة متوقفة منذ الصباح", "");
    ht_contact_add(&x, "printing", "Imprimante en panne", "kertas macet");
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &x.c;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.id = f->next++;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    assert_int_equal(hd_dealer_send(f->client, &req, 0), 0);
    return req.id;
}

/* The replies to requests first..first+HELD-1, one each: a reply to another id, or a second
 * reply to one of them, fails the test. Waits up to timeout_ms; returns the ms from `since`
 * to the last reply. */
static int64_t collect(fixture *f, uint64_t first, HdReply *got[HELD], int64_t since,
                       int timeout_ms)
{
    for (int i = 0; i < HELD; i++)
        got[i] = NULL;
    int64_t deadline = hd_mono_ms() + timeout_ms, last = since;
    for (int n = 0; n < HELD;) {
        int64_t left = deadline - hd_mono_ms();
        HdReply *rep = left > 0 ? ht_dealer_recv_wait(f->client, (int)left) : NULL;
        if (rep == NULL) {
            fail_msg("%d of %d requests answered within %d ms", n, HELD, timeout_ms);
            return -1;
        }
        if (rep->id < first || rep->id >= first + HELD || got[rep->id - first] != NULL)
            fail_msg("a reply to request %llu, which was not waiting for one",
                     (unsigned long long)rep->id);
        got[rep->id - first] = rep;
        last = hd_mono_ms();
        n++;
    }
    return last - since;
}

static void free_all(HdReply *got[HELD])
{
    for (int i = 0; i < HELD; i++)
        hd_reply_free(got[i]);
}

/* The value of one sample of intake's /metrics; -1 when absent or unreadable. */
static double sample(const fixture *f, const char *series)
{
    static char body[1 << 18];
    if (ht_http_get(f->port, "/metrics", body, sizeof body, 3000) != 200)
        return -1;
    size_t n = strlen(series);
    for (const char *line = body; line != NULL && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    }
    return -1;
}

static bool all_waiting(void *arg)
{
    return sample(arg, WAITING_SERIES) == HELD;
}

/* Freezes the store, sends HELD contacts "<tag>-<i>" and waits until intake has forwarded them
 * all (its waiting gauge); returns the first request id. */
static uint64_t hold_contacts(fixture *f, const char *tag)
{
    assert_int_equal(kill(f->store->pid, SIGSTOP), 0);
    uint64_t first = f->next;
    for (int i = 0; i < HELD; i++)
        send_contact(f, tag, i);
    if (!ht_wait_until(all_waiting, f, 10000))
        fail_msg("intake did not show %d calls waiting for the store (gauge %g)", HELD,
                 sample(f, WAITING_SERIES));
    return first;
}

/* One contact all the way, so the connection to the store is up before a test holds any. */
static void warm_up(fixture *f, const char *tag)
{
    uint64_t id = send_contact(f, tag, 999);
    HdReply *rep = ht_dealer_recv_wait(f->client, 20000);
    assert_non_null(rep);
    assert_int_equal(rep->id, id);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_RECEIPT);
    hd_reply_free(rep);
}

static long sql_count(fixture *f, const char *what, const char *tag)
{
    char sql[400];
    if (strcmp(what, "tickets") == 0)
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM tickets t JOIN contacts c ON c.id = t.contact_id "
                 "WHERE c.source = '%s' AND c.external_id LIKE '%s-%%'",
                 SOURCE, tag);
    else
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM contacts WHERE source = '%s' AND external_id LIKE '%s-%%'",
                 SOURCE, tag);
    return ht_sql_long(f->env, sql);
}

/* The store is back: the same contacts, retried with their keys, all get receipts of two
 * tickets, and each contact and ticket exists once (warm-up contact included: HELD + 1). */
static void retry_all(fixture *f, const char *tag)
{
    f->store = ht_start_ready(f->env, "hd-store", NULL);
    assert_non_null(f->store);
    uint64_t first = f->next;
    for (int i = 0; i < HELD; i++)
        send_contact(f, tag, i);
    HdReply *got[HELD];
    (void)collect(f, first, got, hd_mono_ms(), STORE_TIMEOUT_MS);
    for (int i = 0; i < HELD; i++) {
        if (got[i]->body_case != HELPDESK__V1__REPLY__BODY_RECEIPT)
            fail_msg("retry of %s-%d: reply body %d, not a receipt", tag, i, got[i]->body_case);
        assert_int_equal(got[i]->receipt->n_ticket_ids, 2);
    }
    free_all(got);
    assert_int_equal(sql_count(f, "contacts", tag), HELD + 1);
    assert_int_equal(sql_count(f, "tickets", tag), 2 * (HELD + 1));
}

/* Nothing more arrives on the client: no request was answered twice. */
static void assert_no_more_replies(fixture *f)
{
    HdReply *extra = ht_dealer_recv_wait(f->client, 1500);
    if (extra != NULL)
        fail_msg("an extra reply to request %llu", (unsigned long long)extra->id);
}

static void test_killed_store_answers_held_contacts_at_once(void **state)
{
    fixture *f = *state;
    warm_up(f, "kill");
    double unavailable_before = sample(f, UNAVAILABLE_SERIES); /* -1: none sent yet */
    if (unavailable_before < 0)
        unavailable_before = 0;
    uint64_t first = hold_contacts(f, "kill");
    int64_t t0 = hd_mono_ms();
    ht_kill9(f->store);
    HdReply *got[HELD];
    int64_t ms = collect(f, first, got, t0, STORE_TIMEOUT_MS - 2000);
    printf("store killed with %d contacts held: all answered in %lld ms "
           "(intake.store_timeout_ms %d)\n",
           HELD, (long long)ms, STORE_TIMEOUT_MS);
    for (int i = 0; i < HELD; i++) {
        ht_assert_error(got[i], HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "");
        assert_non_null(strstr(got[i]->error->message, "retry with the same source"));
    }
    free_all(got);
    if (ms >= FAST_MS)
        fail_msg("the held contacts were answered %lld ms after the kill, want < %d", (long long)ms,
                 FAST_MS);
    assert_int_equal(sql_count(f, "contacts", "kill"), 1); /* the frozen store made none */
    assert_true(sample(f, UNAVAILABLE_SERIES) >= unavailable_before + HELD);
    assert_int_equal(ht_log_count(f->intake, "event=store_disconnected"), 1);
    assert_true(ht_log_contains(f->intake, "answered_unavailable=20"));
    retry_all(f, "kill");
    assert_no_more_replies(f);
    ht_pass(f->env);
}

/* A store that stops cleanly (SIGTERM) with contacts it has not read: the same, at once. */
static void test_restarted_store_answers_held_contacts_at_once(void **state)
{
    fixture *f = *state;
    warm_up(f, "term");
    int events_before = ht_log_count(f->intake, "event=store_disconnected");
    uint64_t first = hold_contacts(f, "term");
    int64_t t0 = hd_mono_ms();
    assert_int_equal(kill(f->store->pid, SIGTERM), 0);
    assert_int_equal(kill(f->store->pid, SIGCONT), 0);
    HdReply *got[HELD];
    int64_t ms = collect(f, first, got, t0, STORE_TIMEOUT_MS - 2000);
    int unavailable = 0;
    for (int i = 0; i < HELD; i++) {
        if (got[i]->body_case == HELPDESK__V1__REPLY__BODY_RECEIPT)
            continue;
        ht_assert_error(got[i], HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "");
        unavailable++;
    }
    free_all(got);
    printf("store stopped (SIGTERM) with %d contacts held: %d answered unavailable, %d with "
           "a receipt, all in %lld ms\n",
           HELD, unavailable, HELD - unavailable, (long long)ms);
    if (ms >= FAST_MS)
        fail_msg("the held contacts were answered %lld ms after SIGTERM, want < %d", (long long)ms,
                 FAST_MS);
    assert_true(unavailable > 0); /* the store stops before it reads them */
    assert_true(ht_wait_exit(f->store, 10000));
    assert_true(WIFEXITED(f->store->status) && WEXITSTATUS(f->store->status) == 0);
    assert_int_equal(ht_log_count(f->intake, "event=store_disconnected"), events_before + 1);
    retry_all(f, "term");
    assert_no_more_replies(f);
    ht_pass(f->env);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e = d ? readdir(d) : NULL; e != NULL; e = readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* The next event of a monitor within timeout_ms; 0 when none came. */
static int monitor_wait(void *mon, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
    return zmq_poll(&it, 1, timeout_ms) == 1 ? hd_monitor_recv(mon, NULL) : 0;
}

typedef struct {
    int limit;
} fd_limit;

static bool fds_at_most(void *arg)
{
    return count_fds() <= ((fd_limit *)arg)->limit;
}

/* Many sockets, each with its monitor, made and closed as intake would replace its store
 * socket: every monitor reports its own socket's connection, and nothing stays behind (file
 * descriptors back to where they were; an inproc name still held would make opening fail). */
static void test_monitor_follows_its_socket(void **state)
{
    fixture *f = *state;
    void *ctx = f->env->zctx;
    int baseline = 0;
    for (int i = 0; i < 200; i++) {
        if (i == 10)
            baseline = count_fds();
        void *s = hd_socket_new(ctx, ZMQ_DEALER, f->env->intake_ep, false);
        assert_non_null(s);
        void *mon = hd_monitor_open(ctx, s, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED);
        assert_non_null(mon);
        if (i % 20 == 0)
            assert_int_equal(monitor_wait(mon, 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
        hd_monitor_close(s, &mon);
        assert_null(mon);
        hd_socket_close(&s);
    }
    hd_monitor_close(NULL, NULL); /* safe on nothing */
    fd_limit lim = {baseline + 2};
    if (!ht_wait_until(fds_at_most, &lim, 5000))
        fail_msg("%d file descriptors after 200 monitored sockets, %d after 10", count_fds(),
                 baseline);
    ht_pass(f->env);
}

/* Key pairs in env->dir/keys and a config with CURVE on whose allow list (env->dir/allowed)
 * holds only the "services" key; the test's clients use that key. */
static void curve_config(ht_env *env, char *keys, size_t cap)
{
    char pub[HD_CURVE_KEY_LEN + 1], allowed[480], path[600], text[128];
    snprintf(keys, cap, "%s/keys", env->dir);
    snprintf(allowed, sizeof allowed, "%s/allowed", env->dir);
    assert_int_equal(ht_keygen(env, keys, "store", pub), 0);
    assert_int_equal(ht_keygen(env, keys, "intake", pub), 0);
    assert_int_equal(ht_keygen(env, keys, "intruder", pub), 0);
    assert_int_equal(ht_keygen(env, keys, "services", pub), 0);
    assert_int_equal(mkdir(allowed, 0700), 0);
    snprintf(path, sizeof path, "%s/services.pub", allowed);
    snprintf(text, sizeof text, "%s\n", pub);
    assert_int_equal(ht_write_file(path, text), 0);
    ht_env_write_curve_config(env, keys, allowed);
    char key[600], store_pub[600], intake_pub[600];
    snprintf(key, sizeof key, "%s/services.key", keys);
    snprintf(store_pub, sizeof store_pub, "%s/store.pub", keys);
    snprintf(intake_pub, sizeof intake_pub, "%s/intake.pub", keys);
    assert_int_equal(ht_env_curve_clients(env, key, store_pub, intake_pub), 0);
}

/* Intake has the wrong public key for the store: the store cannot open intake's HELLO and
 * drops each connection in its CurveZMQ handshake, which the monitor reports as a disconnect
 * without a connection made before, again at every reconnect. That is no store going away with
 * calls: a contact waits out intake.store_timeout_ms (3 s here) and is answered "did not
 * answer", and intake logs no store_disconnected. (A key the store's ZAP handler refuses is
 * different: ZeroMQ 4.3 then gives the connection up, and intake answers at once that the store
 * cannot take requests.) */
static void test_failed_handshake_is_not_a_lost_connection(void **state)
{
    fixture *f = *state;
    ht_env *env = ht_env_new("storegone-curve");
    char keys[480];
    curve_config(env, keys, sizeof keys);
    char wrong[600];
    snprintf(wrong, sizeof wrong, "HD_CURVE_STORE_PUBLIC_KEY_FILE=%s/intruder.pub", keys);
    const char *const extra[] = {"HD_INTAKE_STORE_TIMEOUT_MS=3000", wrong, NULL};
    ht_proc *store = ht_start_ready(env, "hd-store", NULL);
    ht_proc *intake = store ? ht_start_ready(env, "hd-intake", extra) : NULL;
    assert_non_null(intake);
    ht_contact x;
    ht_contact_init(&x, SOURCE, "refused-1");
    ht_contact_add(&x, "network", "Jaringan mati", "");
    int64_t t0 = hd_mono_ms();
    HdReply *rep = ht_submit(env, &x.c);
    int64_t ms = hd_mono_ms() - t0;
    printf("intake with a wrong store key: contact answered after %lld ms\n", (long long)ms);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE, "");
    if (strstr(rep->error->message, "did not answer") == NULL || ms < 2500)
        fail_msg("answered after %lld ms: %s", (long long)ms, rep->error->message);
    hd_reply_free(rep);
    assert_false(ht_log_contains(intake, "event=store_disconnected"));
    assert_int_equal(ht_stop_all(env), 0);
    ht_env_destroy(&env);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_killed_store_answers_held_contacts_at_once),
        HT_TEST(test_restarted_store_answers_held_contacts_at_once),
        HT_TEST(test_monitor_follows_its_socket),
        HT_TEST(test_failed_handshake_is_not_a_lost_connection),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
