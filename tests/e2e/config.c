/* End-to-end: configuration checks and reloads over real processes and a real PostgreSQL.
 * - every service refuses to start (exit 1) on a bad setting of its own, naming the key and the
 *   file:line or the environment variable; a shared file's other sections do not bother it;
 * - the notifier reloads its templates on SIGHUP: the next message uses the new text, a broken
 *   set is refused and the old one kept;
 * - reloads under load: 2,000 tickets flow while the prioritizer, the router and the notifier
 *   get SIGHUP 20 times; every ticket is triaged and queued exactly once, and every customer
 *   acknowledged exactly once. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "hd/clock.h"
#include "load.h"
#include "sinks.h"

#define RELOADS 20
#define LOAD_CONTACTS 1000 /* two problems each: 2,000 tickets */
#define LOAD_RATE 250      /* contacts/s: the load lasts 4 s, the reloads 3 s */
#define RELOAD_EVERY_MS 150
#define SOURCE "reload"

typedef struct {
    ht_env *env; /* first: the harness's fixture helpers use it */
    ht_proc *store, *intake, *prio, *router, *notifier;
    char templates[600]; /* this test's copy of deploy/local/templates */
    char ack[700];       /* its en/ack.txt */
} fixture;

/* ---------------------------------------------------------------- helpers */

static void wait_log(const ht_proc *p, const char *needle, int count)
{
    if (!ht_wait_log(p, needle, count, 15000))
        fail_msg("%s logged \"%s\" %d times, not %d", p->name, needle,
                 ht_log_count(p, needle), count);
}

/* Submits one contact with one problem; its ticket id. */
static int64_t submit_one(fixture *f, const char *external_id)
{
    ht_contact x;
    ht_contact_init(&x, "config-test", external_id);
    x.customer.language = "en";
    ht_contact_add(&x, "printing", "Printer jams on every page", "Third floor printer.");
    HdReply *rep = ht_submit_ok(f->env, &x.c);
    int64_t id = rep->receipt->ticket_ids[0];
    hd_reply_free(rep);
    return id;
}

/* Waits until the number one SQL query gives reaches `want`. */
typedef struct {
    ht_env *env;
    const char *sql;
    long want;
} sql_wait;

static bool sql_reached(void *arg)
{
    const sql_wait *w = arg;
    return ht_sql_long(w->env, w->sql) >= w->want;
}

static bool wait_sql(ht_env *env, const char *sql, long want, int timeout_ms)
{
    sql_wait w = {env, sql, want};
    return ht_wait_until(sql_reached, &w, timeout_ms);
}

/* The subject of the acknowledgement the notifier sent for this ticket (caller frees). */
static char *ack_subject(fixture *f, int64_t ticket)
{
    char where[160], sql[256];
    snprintf(where, sizeof where,
             "FROM communications WHERE ticket_id = %lld AND kind = 'ack' AND sent",
             (long long)ticket);
    snprintf(sql, sizeof sql, "SELECT count(*) %s", where);
    if (!wait_sql(f->env, sql, 1, 15000))
        fail_msg("no acknowledgement recorded for ticket %lld", (long long)ticket);
    snprintf(sql, sizeof sql, "SELECT subject %s", where);
    char *s = ht_sql_text(f->env, sql);
    assert_non_null(s);
    return s;
}

static void assert_prefix(const char *got, const char *want)
{
    if (strncmp(got, want, strlen(want)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", got, want);
}

/* ---------------------------------------------------------------- setup */

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "config");
    *state = f;
    char src[512], out[256], err[1024];
    if (ht_source_path("deploy/local/templates", src, sizeof src) != 0)
        return -1;
    snprintf(f->templates, sizeof f->templates, "%s/templates", f->env->dir);
    snprintf(f->ack, sizeof f->ack, "%s/en/ack.txt", f->templates);
    const char *cp[] = {"/bin/cp", "-r", src, f->templates, NULL};
    if (ht_run(f->env, cp, NULL, out, sizeof out, err, sizeof err, 10000) != 0) {
        fprintf(stderr, "cp: %s\n", err);
        return -1;
    }
    char extra[1024];
    snprintf(extra, sizeof extra, "notifier:\n  templates: \"%s\"\n  commit_ms: 200\n",
             f->templates);
    ht_env_write_config(f->env, extra);
    if (ht_start_pipeline(f->env, &f->store, &f->intake, &f->prio, &f->router) != 0)
        return -1;
    f->notifier = ht_start_ready(f->env, "hd-notifier", NULL);
    return f->notifier ? 0 : -1;
}

/* ---------------------------------------------------------------- bad settings */

typedef struct {
    const char *bin;
    const char *yaml; /* the file; the bad line is line 2 */
    const char *key;
} bad_setting;

/* Runs bin with this config file (and environment); exit code, stderr in err. */
static int run_with(fixture *f, const char *bin, const char *yaml, const char *const *env,
                    bool check_only, char *err, size_t errlen)
{
    char path[600], out[512];
    snprintf(path, sizeof path, "%s/bad-%s.yaml", f->env->dir, bin);
    assert_int_equal(ht_write_file(path, yaml), 0);
    const char *argv[] = {bin, "--config", path, check_only ? "--check-config" : NULL, NULL};
    return ht_run(f->env, argv, env, out, sizeof out, err, errlen, 20000);
}

static void assert_refused(const char *err, const char *key, const char *source)
{
    char want[256];
    snprintf(want, sizeof want, "event=config_invalid key=%s source=\"", key);
    const char *line = strstr(err, want);
    if (line == NULL || strstr(line, source) == NULL)
        fail_msg("expected a line naming %s at %s; stderr: %s", key, source, err);
}

/* The CLI holds its config to the same check: `helpdesk list` exits 2 (a usage error) and says
 * `want` on stderr. */
static void cli_refuses(fixture *f, const char *yaml, const char *want)
{
    char path[600], out[512], err[4096];
    snprintf(path, sizeof path, "%s/bad-cli.yaml", f->env->dir);
    assert_int_equal(ht_write_file(path, yaml), 0);
    const char *list[] = {"helpdesk", "--config", path, "list", NULL};
    int code = ht_run(f->env, list, NULL, out, sizeof out, err, sizeof err, 20000);
    if (code != 2 || strstr(err, want) == NULL)
        fail_msg("helpdesk list exited %d, stderr \"%s\"; wanted 2 and \"%s\"", code, err, want);
}

static void test_bad_settings_stop_each_service(void **state)
{
    fixture *f = *state;
    static const bad_setting bad[] = {
        {"hd-store", "store:\n  leas_ms: 5000\n", "store.leas_ms"},
        {"hd-intake", "intake:\n  max_problems: ten\n", "intake.max_problems"},
        {"hd-prioritizer", "prioritizer:\n  credit: 0\n", "prioritizer.credit"},
        {"hd-router", "router:\n  rules: [a.yaml]\n", "router.rules"},
        {"hd-escalation-timer", "timer:\n  commit_ms: -1\n", "timer.commit_ms"},
        {"hd-notifier", "notifier:\n  retry: {initial_ms: 5, max_attempt: 3}\n",
         "notifier.retry.max_attempt"},
    };
    char err[8192];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        /* not --check-config: the service itself, started as for real, refuses */
        int code = run_with(f, bad[i].bin, bad[i].yaml, NULL, false, err, sizeof err);
        if (code != 1)
            fail_msg("%s exited %d on %s; stderr: %s", bad[i].bin, code, bad[i].key, err);
        char source[640];
        snprintf(source, sizeof source, "%s/bad-%s.yaml:2\"", f->env->dir, bad[i].bin);
        assert_refused(err, bad[i].key, source);
    }
    /* the environment: the variable is named */
    const char *env[] = {"HD_STORE_LEASE_MS=abc", NULL};
    assert_int_equal(run_with(f, "hd-store", "store: {}\n", env, false, err, sizeof err), 1);
    assert_refused(err, "store.lease_ms", "HD_STORE_LEASE_MS\"");
    const char *typo[] = {"HD_ROUTER_CREDITS=4", NULL};
    assert_int_equal(run_with(f, "hd-router", "router: {}\n", typo, false, err, sizeof err), 1);
    assert_refused(err, "HD_ROUTER_CREDITS", "HD_ROUTER_CREDITS\"");
    /* a section of nobody stops everyone; another service's section stops nobody else */
    assert_int_equal(run_with(f, "hd-intake", "x: 1\nstroe: {}\n", NULL, true, err, sizeof err),
                     1);
    assert_refused(err, "x", ":1\"");
    assert_int_equal(run_with(f, "hd-intake", "store:\n  leas_ms: 5\nnotifier: {x: 1}\n", NULL,
                              true, err, sizeof err),
                     0);
    cli_refuses(f, "curve:\n  enabled: maybe\n", "helpdesk: config: curve.enabled (");
    cli_refuses(f, "stroe:\n  api: tcp://127.0.0.1:1\n", "helpdesk: config: stroe (");
    /* the shipped example files pass for their services */
    static const char *const names[] = {"store",  "intake",           "prioritizer",
                                        "router", "escalation-timer", "notifier"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char bin[64], rel[128], path[600], out[256];
        snprintf(bin, sizeof bin, "hd-%s", names[i]);
        snprintf(rel, sizeof rel, "deploy/local/config/%s.yaml", names[i]);
        assert_int_equal(ht_source_path(rel, path, sizeof path), 0);
        const char *argv[] = {bin, "--config", path, "--check-config", NULL};
        int code = ht_run(f->env, argv, NULL, out, sizeof out, err, sizeof err, 20000);
        if (code != 0)
            fail_msg("%s --check-config %s exited %d: %s", bin, rel, code, err);
    }
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- the notifier's templates */

static void test_notifier_reloads_templates(void **state)
{
    fixture *f = *state;
    char *s = ack_subject(f, submit_one(f, "tmpl-1"));
    assert_prefix(s, "We received your request - ticket ");
    free(s);

    assert_int_equal(ht_write_file(f->ack, "Subject: Reloaded v2 - ticket {{tickets}}\n\n"
                                           "Dear {{name}}, we have it.\n"),
                     0);
    assert_int_equal(kill(f->notifier->pid, SIGHUP), 0);
    wait_log(f->notifier, "event=templates_loaded", 1);
    int64_t t2 = submit_one(f, "tmpl-2");
    s = ack_subject(f, t2);
    char want[64];
    snprintf(want, sizeof want, "Reloaded v2 - ticket #%lld", (long long)t2);
    assert_string_equal(s, want);
    free(s);

    /* a broken set (no subject line) is refused, and the old one stays in use */
    assert_int_equal(ht_write_file(f->ack, "Dear {{name}}, no subject line here.\n"), 0);
    assert_int_equal(kill(f->notifier->pid, SIGHUP), 0);
    wait_log(f->notifier, "event=templates_invalid", 1);
    assert_true(ht_log_contains(f->notifier, "en/ack.txt: the first line must be"));
    assert_true(ht_alive(f->notifier));
    s = ack_subject(f, submit_one(f, "tmpl-3"));
    assert_prefix(s, "Reloaded v2 - ticket ");
    free(s);
    assert_int_equal(ht_log_count(f->notifier, "event=templates_loaded"), 1);
    /* mended: the next reload takes it (and the load test below expects it) */
    assert_int_equal(ht_write_file(f->ack, "Subject: Reloaded v3 - ticket {{tickets}}\n\n"
                                           "Dear {{name}}, we have it.\n"),
                     0);
    assert_int_equal(kill(f->notifier->pid, SIGHUP), 0);
    wait_log(f->notifier, "event=templates_loaded", 2);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- reloads under load */

static void fill_two(ht_contact *c, int i, void *arg)
{
    (void)arg;
    (void)i;
    c->customer.language = "en";
    ht_contact_add(c, "network", "The VPN drops every few minutes", "Since this morning.");
    ht_contact_add(c, "printing", "The printer prints blank pages", "Second floor.");
}

/* The communications of the load's contacts. */
#define LOAD_COMMS                                                                             \
    "FROM communications m JOIN tickets t ON t.id = m.ticket_id JOIN contacts c ON c.id = "  \
    "t.contact_id WHERE c.source = '" SOURCE "' AND m.kind = 'ack'"

/* Every ticket of the load has exactly one event of this kind. */
static void assert_once(fixture *f, const char *kind, long tickets)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT t.id FROM tickets t JOIN contacts c ON c.id = "
             "t.contact_id LEFT JOIN ticket_events e ON e.ticket_id = t.id AND e.kind = '%s' "
             "WHERE c.source = '" SOURCE "' GROUP BY t.id HAVING count(e.seq) = 1) x",
             kind);
    long once = ht_sql_long(f->env, sql);
    if (once != tickets)
        fail_msg("%ld of %ld tickets have exactly one %s event", once, tickets, kind);
}

static void test_reloads_under_load_drop_and_repeat_nothing(void **state)
{
    fixture *f = *state;
    int prio0 = ht_log_count(f->prio, "event=rules_loaded");
    int router0 = ht_log_count(f->router, "event=rules_loaded");
    int tmpl0 = ht_log_count(f->notifier, "event=templates_loaded");
    ht_load_opts o = {.contacts = LOAD_CONTACTS,
                      .conns = 4,
                      .window = 16,
                      .timeout_ms = 5000,
                      .rate = LOAD_RATE,
                      .source = SOURCE,
                      .fill = fill_two};
    ht_load *l = ht_load_new(f->env, &o);
    assert_non_null(l);
    int reloads = 0, sent_at_last = 0;
    int64_t next = hd_mono_ms() + RELOAD_EVERY_MS, deadline = hd_mono_ms() + 60000;
    while (!ht_load_done(l) && hd_mono_ms() < deadline) {
        assert_int_equal(ht_load_step(l, 10), 0);
        if (reloads < RELOADS && hd_mono_ms() >= next) {
            assert_int_equal(kill(f->prio->pid, SIGHUP), 0);
            assert_int_equal(kill(f->router->pid, SIGHUP), 0);
            assert_int_equal(kill(f->notifier->pid, SIGHUP), 0);
            reloads++;
            sent_at_last = ht_load_sent(l);
            next = hd_mono_ms() + RELOAD_EVERY_MS;
        }
    }
    const ht_load_stats *st = ht_load_get_stats(l);
    if (!ht_load_done(l) || st->refused != 0 || st->mismatches != 0)
        fail_msg("load: %ld acked, %ld refused (%s), %ld mismatches", st->acked, st->refused,
                 st->first_refusal, st->mismatches);
    long tickets = st->tickets;
    ht_load_destroy(&l);
    assert_int_equal(reloads, RELOADS);
    /* the reloads came while contacts were still arriving, so work was in flight */
    if (sent_at_last >= LOAD_CONTACTS)
        fail_msg("the last reload came after all %d contacts were sent", LOAD_CONTACTS);
    assert_int_equal(tickets, 2 * LOAD_CONTACTS);

    if (!wait_sql(f->env,
                  "SELECT count(*) FROM tickets t JOIN contacts c ON c.id = t.contact_id "
                  "WHERE c.source = '" SOURCE "' AND t.status = 'queued'",
                  tickets, 120000))
        fail_msg("not every ticket was queued");
    wait_log(f->prio, "event=rules_loaded", prio0 + RELOADS);
    wait_log(f->router, "event=rules_loaded", router0 + RELOADS);
    wait_log(f->notifier, "event=templates_loaded", tmpl0 + RELOADS);
    assert_false(ht_log_contains(f->prio, "event=rules_invalid"));
    assert_false(ht_log_contains(f->router, "event=rules_invalid"));
    assert_once(f, "created", tickets);
    assert_once(f, "triaged", tickets);
    assert_once(f, "queued", tickets);
    /* one acknowledgement per contact, sent once, with the templates of test 2 (v3) */
    if (!wait_sql(f->env, "SELECT count(DISTINCT m.key) " LOAD_COMMS " AND m.sent",
                  LOAD_CONTACTS, 60000))
        fail_msg("not every contact was acknowledged");
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) " LOAD_COMMS " AND m.sent"),
                     LOAD_CONTACTS);
    assert_int_equal(
        ht_sql_long(f->env, "SELECT count(*) " LOAD_COMMS " AND m.subject NOT LIKE 'Reloaded v3%'"),
        0);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_bad_settings_stop_each_service),
        HT_TEST(test_notifier_reloads_templates),
        HT_TEST(test_reloads_under_load_drop_and_repeat_nothing),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
