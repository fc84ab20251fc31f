/* End to end: CurveZMQ on the store (api, work, events) and intake, keys made by `helpdesk
 * keygen`. A client with an allowed key works; one with an unknown key or no CURVE at all gets
 * no connection (its request times out) and the refusal is logged; the allowed client keeps
 * working while refused ones hammer the services; a bad key setting stops a service at start. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "sinks.h"
#include "hd/client.h"
#include "hd/clock.h"
#include "hd/transport.h"

#define OUT 65536
#define KEY (HD_CURVE_KEY_LEN + 1)
/* How long a refused client waits for an answer that must not come. */
#define REFUSED_WAIT_MS 1500

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *prio, *router;
    char keys[480], allowed[480];
    char store_pub[KEY], intake_pub[KEY], services_pub[KEY], operator_pub[KEY];
    char intruder_pub[KEY];
    char out[OUT], err[OUT];
    int contacts;
} fixture;

static void key_path(const fixture *f, char *out, size_t len, const char *file)
{
    snprintf(out, len, "%s/%s", f->keys, file);
}

/* The key pairs, the allow list (a folder of .pub files: the services and the operator, not
 * the intruder) and the curve section of the config. */
static int make_keys(fixture *f)
{
    ht_env *env = f->env;
    snprintf(f->keys, sizeof f->keys, "%s/keys", env->dir);
    snprintf(f->allowed, sizeof f->allowed, "%s/allowed", env->dir);
    if (ht_keygen(env, f->keys, "store", f->store_pub) != 0 ||
        ht_keygen(env, f->keys, "intake", f->intake_pub) != 0 ||
        ht_keygen(env, f->keys, "services", f->services_pub) != 0 ||
        ht_keygen(env, f->keys, "operator", f->operator_pub) != 0 ||
        ht_keygen(env, f->keys, "intruder", f->intruder_pub) != 0 || mkdir(f->allowed, 0700) != 0)
        return -1;
    char path[600], text[128];
    snprintf(path, sizeof path, "%s/services.pub", f->allowed);
    snprintf(text, sizeof text, "%s\n", f->services_pub);
    if (ht_write_file(path, text) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/operator.pub", f->allowed);
    snprintf(text, sizeof text, "# maya, operator\n%s\n", f->operator_pub);
    if (ht_write_file(path, text) != 0)
        return -1;
    ht_env_write_curve_config(env, f->keys, f->allowed);
    char op[600], sp[600], ip[600];
    key_path(f, op, sizeof op, "operator.key");
    key_path(f, sp, sizeof sp, "store.pub");
    key_path(f, ip, sizeof ip, "intake.pub");
    return ht_env_curve_clients(env, op, sp, ip);
}

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "curve");
    *state = f;
    if (make_keys(f) != 0)
        return -1;
    return ht_start_pipeline(f->env, &f->store, &f->intake, &f->prio, &f->router);
}

/* helpdesk --config CFG args... with extra environment; its exit code. */
static int cli(fixture *f, const char *const *extra_env, const char *const *args)
{
    const char *argv[32] = {"helpdesk", "--config", f->env->config};
    size_t n = 3;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return ht_run(f->env, argv, extra_env, f->out, sizeof f->out, f->err, sizeof f->err, 60000);
}

/* Submits one contact with two problems; its ticket ids go into ids. */
static void submit_two(fixture *f, int64_t ids[2])
{
    char ext[32];
    snprintf(ext, sizeof ext, "curve-%d", ++f->contacts);
    ht_contact x;
    ht_contact_init(&x, "e2e-curve", ext);
    ht_contact_add(&x, "network", "Le réseau est en panne", "depuis ce matin");
    ht_contact_add(&x, "printing", "Printer rusak", "kertas macet");
    HdReply *rep = ht_submit_ok(f->env, &x.c);
    assert_int_equal(rep->receipt->n_ticket_ids, 2);
    ids[0] = rep->receipt->ticket_ids[0];
    ids[1] = rep->receipt->ticket_ids[1];
    hd_reply_free(rep);
}

static void wait_log(ht_proc *p, const char *needle)
{
    if (!ht_wait_log(p, needle, 1, 10000))
        fail_msg("the log of %s never said \"%s\"", p->name, needle);
}

typedef struct {
    ht_proc *p;
    const char *a, *b;
} log_wait2;

static bool log_has_either(void *arg)
{
    const log_wait2 *w = arg;
    return ht_log_contains(w->p, w->a) || ht_log_contains(w->p, w->b);
}

/* A failed handshake of a plain client is logged one of two ways (which one is a race). */
static void wait_log_either(ht_proc *p, const char *a, const char *b)
{
    log_wait2 w = {p, a, b};
    if (!ht_wait_until(log_has_either, &w, 10000))
        fail_msg("the log of %s never said \"%s\" or \"%s\"", p->name, a, b);
}

/* A get_ticket from a fresh client with `curve` (NULL: plain) to endpoint: the answer, or NULL
 * when none came within wait_ms. */
static HdReply *probe(fixture *f, const char *endpoint, const hd_curve_opts *curve, int wait_ms)
{
    hd_client *c = hd_client_open(f->env->zctx, endpoint, curve);
    assert_non_null(c);
    HdGetTicket body = HELPDESK__V1__GET_TICKET__INIT;
    body.ticket_id = 1;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_TICKET;
    req.get_ticket = &body;
    HdReply *rep = hd_client_call(c, &req, wait_ms);
    hd_client_destroy(&c);
    return rep;
}

/* A client with `curve` (NULL: plain) gets no answer from endpoint. */
static void assert_refused(fixture *f, const char *endpoint, const hd_curve_opts *curve)
{
    HdReply *rep = probe(f, endpoint, curve, REFUSED_WAIT_MS);
    if (rep != NULL)
        fail_msg("%s answered a %s client", endpoint, curve ? "CURVE client with an unknown key"
                                                            : "plain");
}

/* CURVE options for a client with key pair `name` of the server whose public key is given. */
static hd_curve_opts opts_for(fixture *f, const char *name, const char *server_pub)
{
    hd_curve_opts o = {.enabled = true};
    char path[600], file[64], err[1024];
    snprintf(file, sizeof file, "%s.key", name);
    key_path(f, path, sizeof path, file);
    if (hd_curve_key_load(path, "key", o.secret_key, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(zmq_curve_public(o.public_key, o.secret_key), 0);
    snprintf(o.server_key, sizeof o.server_key, "%s", server_pub);
    return o;
}

static void test_services_run_with_curve(void **state)
{
    fixture *f = *state;
    assert_true(ht_log_contains(f->store, "curve=on"));
    assert_true(ht_log_contains(f->intake, "curve=on"));
    char want[128];
    snprintf(want, sizeof want, "public_key=%s", f->store_pub);
    assert_true(ht_log_contains(f->store, want));
    assert_true(ht_log_contains(f->store, "allowed_clients=2"));
    ht_pass(f->env);
}

static void test_allowed_client_submits_and_gets_its_tickets(void **state)
{
    fixture *f = *state;
    int64_t ids[2];
    submit_two(f, ids);
    /* Queued: the prioritizer and router, CURVE clients of the work socket, did their part. */
    assert_true(ht_wait_tickets_status(f->env, ids, 2, HELPDESK__V1__STATUS__STATUS_QUEUED, 20000));
    HdReply *rep = ht_get_ticket(f->env, ids[0]);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    ht_assert_bytes(rep->ticket->ticket->problem->summary, "Le réseau est en panne");
    hd_reply_free(rep);
    ht_pass(f->env);
}

typedef struct {
    ht_env *env;
    const char *sql;
} sql_wait;

static bool sql_positive(void *arg)
{
    const sql_wait *w = arg;
    return ht_sql_long(w->env, w->sql) > 0;
}

/* The escalation timer and the notifier, CURVE clients of the api and the events PUB: the
 * notifier records the acknowledgement of a new contact, and both commit their cursors. */
static void test_durable_consumers_with_curve(void **state)
{
    fixture *f = *state;
    char templates[512], tline[600];
    assert_int_equal(ht_source_path("deploy/local/templates", templates, sizeof templates), 0);
    snprintf(tline, sizeof tline, "HD_NOTIFIER_TEMPLATES=%s", templates);
    const char *env[] = {tline, "HD_NOTIFIER_COMMIT_MS=100", "HD_TIMER_COMMIT_MS=100", NULL};
    ht_proc *timer = ht_start_timer(f->env, env);
    ht_proc *notifier = ht_start_ready(f->env, "hd-notifier", env); /* ready: cursor read */
    assert_non_null(timer);
    assert_non_null(notifier);
    int64_t ids[2];
    submit_two(f, ids);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'communication'",
             (long long)ids[0]);
    sql_wait w = {f->env, sql};
    assert_true(ht_wait_until(sql_positive, &w, 20000));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM consumer_cursors WHERE consumer = 'escalation-timer' AND "
             "seq >= (SELECT max(seq) FROM ticket_events WHERE ticket_id = %lld)",
             (long long)ids[1]);
    assert_true(ht_wait_until(sql_positive, &w, 20000));
    assert_int_equal(ht_stop(timer, 10000), 0);
    assert_int_equal(ht_stop(notifier, 10000), 0);
    ht_pass(f->env);
}

static void test_cli_with_allowed_key(void **state)
{
    fixture *f = *state;
    char op[600];
    key_path(f, op, sizeof op, "operator.key");
    char key_env[700];
    snprintf(key_env, sizeof key_env, "HD_CURVE_CLIENT_SECRET_KEY_FILE=%s", op);
    const char *env[] = {key_env, NULL};
    const char *submit[] = {"submit",  "--source", "e2e-curve-cli", "--external-id", "c1",
                            "--name",  "Amira",    "--email",       "amira@example.com",
                            "--problem", "Le VPN ne répond plus", "--category", "network", NULL};
    assert_int_equal(cli(f, env, submit), 0);
    const char *list[] = {"list", "--limit", "5", NULL};
    assert_int_equal(cli(f, env, list), 0);
    /* watch: a CURVE SUB on the events socket plus catch-up over the api. */
    const char *watch[] = {"watch", "--from", "0", "--count", "2", NULL};
    assert_int_equal(cli(f, env, watch), 0);
    assert_non_null(strstr(f->out, "created"));
    ht_pass(f->env);
}

static void test_unknown_key_is_refused_and_logged(void **state)
{
    fixture *f = *state;
    hd_curve_opts to_store = opts_for(f, "intruder", f->store_pub);
    hd_curve_opts to_intake = opts_for(f, "intruder", f->intake_pub);
    assert_refused(f, f->env->api_ep, &to_store);
    assert_refused(f, f->env->intake_ep, &to_intake);
    char want[160];
    snprintf(want, sizeof want, "event=curve_refused socket=api peer=127.0.0.1 mechanism=CURVE "
                                "client_key=%s",
             f->intruder_pub);
    wait_log(f->store, want);
    snprintf(want, sizeof want, "socket=intake peer=127.0.0.1 mechanism=CURVE client_key=%s",
             f->intruder_pub);
    wait_log(f->intake, want);

    /* The CLI with the intruder's key: no answer, exit 3. */
    char path[600], key_env[700];
    key_path(f, path, sizeof path, "intruder.key");
    snprintf(key_env, sizeof key_env, "HD_CURVE_CLIENT_SECRET_KEY_FILE=%s", path);
    const char *env[] = {key_env, NULL};
    const char *list[] = {"--timeout", "1000", "list", NULL};
    assert_int_equal(cli(f, env, list), 3);

    /* A worker with the intruder's key is refused on the work socket. */
    ht_proc *p = ht_start(f->env, "hd-prioritizer", env);
    assert_non_null(p);
    wait_log(f->store, "event=curve_refused socket=work");
    assert_int_equal(ht_stop(p, 10000), 0);
    ht_pass(f->env);
}

static void test_plain_client_is_refused(void **state)
{
    fixture *f = *state;
    assert_refused(f, f->env->api_ep, NULL);
    assert_refused(f, f->env->intake_ep, NULL);
    /* It never reaches ZAP, and is logged all the same, with its address. */
    wait_log_either(f->store, "socket=api peer=127.0.0.1 mechanism=not_curve",
                    "socket=api peer=127.0.0.1 mechanism=unknown");
    wait_log_either(f->intake, "socket=intake peer=127.0.0.1 mechanism=not_curve",
                    "socket=intake peer=127.0.0.1 mechanism=unknown");
    const char *env[] = {"HD_CURVE_ENABLED=false", NULL};
    const char *list[] = {"--timeout", "1000", "list", NULL};
    assert_int_equal(cli(f, env, list), 3);

    /* Events: a plain SUB hears nothing, a CURVE SUB with an allowed key hears the next one. */
    hd_curve_opts mine = opts_for(f, "operator", f->store_pub);
    void *plain = hd_socket_open(f->env->zctx, ZMQ_SUB, f->env->events_ep, false, NULL);
    void *curve = hd_socket_open(f->env->zctx, ZMQ_SUB, f->env->events_ep, false, &mine);
    assert_non_null(plain);
    assert_non_null(curve);
    int64_t ids[2];
    HdTicketEvent *ev = NULL;
    /* A SUB joins late (slow joiner): submit until the CURVE one hears something. */
    for (int i = 0; i < 10 && ev == NULL; i++) {
        submit_two(f, ids);
        ev = ht_subscriber_recv_wait(curve, 1000);
    }
    assert_non_null(ev);
    hd_event_free(ev);
    assert_null(ht_subscriber_recv_wait(plain, 300));
    hd_socket_close(&plain);
    hd_socket_close(&curve);
    ht_pass(f->env);
}

/* A client with `curve` gets an answer (any: it was let in) from endpoint. */
static void assert_admitted(fixture *f, const char *endpoint, const hd_curve_opts *curve)
{
    HdReply *rep = probe(f, endpoint, curve, 10000);
    if (rep == NULL)
        fail_msg("%s did not answer a client whose key it lists", endpoint);
    hd_reply_free(rep);
}

/* Both servers re-read the allow list on SIGHUP and say so with `said` in their logs. */
static void reload_both(fixture *f, const char *said)
{
    assert_int_equal(kill(f->store->pid, SIGHUP), 0);
    assert_int_equal(kill(f->intake->pid, SIGHUP), 0);
    wait_log(f->store, said);
    wait_log(f->intake, said);
}

/* An operator adds a client's key without a restart: SIGHUP makes the servers read the list
 * again; taking the key off refuses it again; a broken list is refused and the old one kept. */
static void test_allow_list_reloads_on_sighup(void **state)
{
    fixture *f = *state;
    hd_curve_opts to_store = opts_for(f, "intruder", f->store_pub);
    hd_curve_opts to_intake = opts_for(f, "intruder", f->intake_pub);
    assert_refused(f, f->env->api_ep, &to_store);
    assert_refused(f, f->env->intake_ep, &to_intake);

    char path[600], text[128];
    snprintf(path, sizeof path, "%s/newcomer.pub", f->allowed);
    snprintf(text, sizeof text, "# an integrator, added by the operator\n%s\n", f->intruder_pub);
    assert_int_equal(ht_write_file(path, text), 0);
    reload_both(f, "event=curve_reloaded allowed_clients=3 before=2");
    assert_admitted(f, f->env->api_ep, &to_store);
    assert_admitted(f, f->env->intake_ep, &to_intake);

    assert_int_equal(unlink(path), 0);
    reload_both(f, "event=curve_reloaded allowed_clients=2 before=3");
    assert_refused(f, f->env->api_ep, &to_store);
    assert_refused(f, f->env->intake_ep, &to_intake);

    snprintf(path, sizeof path, "%s/typo.pub", f->allowed);
    assert_int_equal(ht_write_file(path, "not a key\n"), 0);
    reload_both(f, "event=curve_reload_refused");
    assert_true(ht_log_contains(f->store, "typo.pub: line 1"));
    int64_t ids[2];
    submit_two(f, ids); /* the services' keys are still listed */
    assert_true(ht_wait_tickets_status(f->env, ids, 2, HELPDESK__V1__STATUS__STATUS_QUEUED, 20000));
    assert_int_equal(unlink(path), 0);
    ht_pass(f->env);
}

/* Refused clients while the allowed one submits. libzmq does not reconnect a socket whose
 * handshake failed, so each hammer thread makes a fresh socket per attempt, as a client
 * retrying in a loop would: plain and intruder keys, intake and store api in turn. */
#define HAMMERS 2
#define HAMMER_CONTACTS ((size_t)20)

typedef struct {
    fixture *f;
    int id;
    hd_curve_opts bad_store, bad_intake;
    volatile bool stop; /* set by the test thread, read here */
    long failed, ok, attempts;
} hammer_state;

/* One refused attempt: connect, send, wait for the monitor to report the handshake. */
static void hammer_once(hammer_state *h, long n)
{
    int kind = (int)(n % 4);
    const char *ep = kind % 2 ? h->f->env->api_ep : h->f->env->intake_ep;
    const hd_curve_opts *o = kind < 2 ? NULL : (kind % 2 ? &h->bad_store : &h->bad_intake);
    void *s = zmq_socket(h->f->env->zctx, ZMQ_DEALER);
    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://curve-hammer-%d-%ld", h->id, n);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_socket_monitor(s, mon_ep,
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    void *mon = zmq_socket(h->f->env->zctx, ZMQ_PAIR);
    zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(mon, mon_ep);
    if (hd_curve_apply(s, o) == 0 && zmq_connect(s, ep) == 0) {
        (void)zmq_send(s, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        (void)zmq_send(s, "let me in", 9, ZMQ_DONTWAIT);
        zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 1000) == 1) {
            uint16_t event = 0;
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, mon, 0) >= 2)
                memcpy(&event, zmq_msg_data(&m), 2);
            zmq_msg_close(&m);
            hd_drain_frames(mon);
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                h->ok++;
            else
                h->failed++;
        }
    }
    h->attempts++;
    zmq_socket_monitor(s, NULL, 0);
    zmq_close(mon);
    zmq_close(s);
}

static void *hammer_main(void *arg)
{
    hammer_state *h = arg;
    for (long n = 0; !h->stop; n++)
        hammer_once(h, n);
    return NULL;
}

static void test_allowed_client_keeps_working_under_refused_hammering(void **state)
{
    fixture *f = *state;
    hammer_state hs[HAMMERS];
    pthread_t threads[HAMMERS];
    for (int i = 0; i < HAMMERS; i++) {
        hs[i] = (hammer_state){.f = f, .id = i};
        hs[i].bad_store = opts_for(f, "intruder", f->store_pub);
        hs[i].bad_intake = opts_for(f, "intruder", f->intake_pub);
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_main, &hs[i]), 0);
    }
    /* At least HAMMER_CONTACTS contacts and at least 3 s of hammering. */
    int64_t ids[HAMMER_CONTACTS * 2];
    int64_t worst = 0, start = hd_mono_ms();
    size_t n = 0;
    while (n < HAMMER_CONTACTS || hd_mono_ms() - start < 3000) {
        int64_t t0 = hd_mono_ms(), two[2];
        submit_two(f, two);
        if (n < HAMMER_CONTACTS)
            memcpy(ids + 2 * n, two, sizeof two);
        n++;
        int64_t took = hd_mono_ms() - t0;
        worst = took > worst ? took : worst;
    }
    int64_t elapsed = hd_mono_ms() - start;
    long failed = 0, ok = 0, attempts = 0;
    for (int i = 0; i < HAMMERS; i++) {
        hs[i].stop = true;
        pthread_join(threads[i], NULL);
        failed += hs[i].failed;
        ok += hs[i].ok;
        attempts += hs[i].attempts;
    }
    assert_true(ht_wait_tickets_status(f->env, ids, HAMMER_CONTACTS * 2,
                                       HELPDESK__V1__STATUS__STATUS_QUEUED, 30000));
    fprintf(stderr,
            "curve: %zu contacts acknowledged in %lld ms (slowest %lld ms) while %d threads made "
            "%ld refused connection attempts (%ld handshakes seen failing)\n",
            n, (long long)elapsed, (long long)worst, HAMMERS, attempts, failed);
    assert_int_equal(ok, 0);          /* not one refused client got in */
    assert_true(failed >= 20);        /* and they really kept trying */
    /* The refusals of one key are logged once per 10 s, not once per attempt. */
    char want[128];
    snprintf(want, sizeof want, "client_key=%s", f->intruder_pub);
    const char *log = NULL;
    size_t len = 0;
    char *text = ht_read_file(f->store->log, &len);
    assert_non_null(text);
    long lines = 0;
    for (log = strstr(text, want); log; log = strstr(log + 1, want))
        lines++;
    free(text);
    assert_true(lines <= 3);
    ht_pass(f->env);
}

/* A service started with one setting overridden must exit 1, naming the setting. */
static void assert_start_fails(fixture *f, const char *bin, const char *env_line,
                               const char *setting)
{
    const char *env[] = {env_line, NULL};
    ht_proc *p = ht_start(f->env, bin, env);
    assert_non_null(p);
    if (!ht_wait_exit(p, 20000)) {
        ht_kill9(p);
        fail_msg("%s kept running with %s", bin, env_line);
    }
    assert_true(WIFEXITED(p->status));
    assert_int_equal(WEXITSTATUS(p->status), 1);
    assert_false(ht_log_contains(p, "event=ready"));
    if (!ht_log_contains(p, setting))
        fail_msg("the log of %s does not name %s", bin, setting);
}

static void test_bad_key_settings_stop_startup(void **state)
{
    fixture *f = *state;
    char line[700], empty[600];
    snprintf(line, sizeof line, "HD_CURVE_STORE_SECRET_KEY_FILE=%s/missing.key", f->keys);
    assert_start_fails(f, "hd-store", line, "curve.store_secret_key_file");
    snprintf(empty, sizeof empty, "%s/nobody.txt", f->env->dir);
    assert_int_equal(ht_write_file(empty, "# nobody\n"), 0);
    snprintf(line, sizeof line, "HD_CURVE_ALLOWED_CLIENTS=%s", empty);
    assert_start_fails(f, "hd-intake", line, "curve.allowed_clients");
    snprintf(line, sizeof line, "HD_CURVE_CLIENT_SECRET_KEY_FILE=%s", empty);
    assert_start_fails(f, "hd-router", line, "curve.client_secret_key_file");
    assert_start_fails(f, "hd-escalation-timer", "HD_CURVE_ENABLED=perhaps", "curve.enabled");
    /* The notifier reads its templates first: give it the real ones. */
    char templates[512], tline[600];
    assert_int_equal(ht_source_path("deploy/local/templates", templates, sizeof templates), 0);
    snprintf(tline, sizeof tline, "HD_NOTIFIER_TEMPLATES=%s", templates);
    snprintf(line, sizeof line, "HD_CURVE_STORE_PUBLIC_KEY_FILE=%s", empty);
    const char *env[] = {tline, line, NULL};
    ht_proc *p = ht_start(f->env, "hd-notifier", env);
    assert_non_null(p);
    assert_true(ht_wait_exit(p, 20000));
    assert_true(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 1);
    assert_true(ht_log_contains(p, "curve.store_public_key_file"));
    ht_pass(f->env);
}

static void test_keygen_refuses_to_overwrite(void **state)
{
    fixture *f = *state;
    const char *args[] = {"keygen", "--out", f->keys, "--name", "store", NULL};
    assert_int_equal(cli(f, NULL, args), 1);
    assert_non_null(strstr(f->err, "exists"));
    char path[600], key[KEY], err[1024];
    key_path(f, path, sizeof path, "store.pub");
    assert_int_equal(hd_curve_key_load(path, "k", key, err, sizeof err), 0);
    assert_string_equal(key, f->store_pub); /* untouched */
    const char *bad[] = {"keygen", "--name", "../x", NULL};
    assert_int_equal(cli(f, NULL, bad), 2);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_services_run_with_curve),
        HT_TEST(test_allowed_client_submits_and_gets_its_tickets),
        HT_TEST(test_durable_consumers_with_curve),
        HT_TEST(test_cli_with_allowed_key),
        HT_TEST(test_unknown_key_is_refused_and_logged),
        HT_TEST(test_plain_client_is_refused),
        HT_TEST(test_allow_list_reloads_on_sighup),
        HT_TEST(test_allowed_client_keeps_working_under_refused_hammering),
        HT_TEST(test_bad_key_settings_stop_startup),
        HT_TEST(test_keygen_refuses_to_overwrite),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
