/* End to end: every service serves /healthz, /readyz and Prometheus /metrics on its own HTTP
 * port (HD_HTTP_LISTEN=127.0.0.1:0, the port read from its event=http_listening line).
 * Readiness follows the store: intake, the workers, the timer and the notifier answer 503 while
 * the store is dead and 200 again once it is back; the store answers 503 while PostgreSQL
 * refuses it and 200 after it reconnected, its /healthz staying 200 throughout. Then a real
 * Prometheus (Debian's /usr/bin/prometheus) scrapes all six every second and its query API
 * shows every target up and the contacts counted. Without prometheus installed the test fails:
 * `make test` installs it (deploy/local/deps.sh). */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "hd/clock.h"
#include "sinks.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define PROMTOOL "/usr/bin/promtool"
#define NSVC 6
enum { STORE, INTAKE, PRIO, ROUTER, TIMER, NOTIFIER };
static const char *const bins[NSVC] = {"hd-store",  "hd-intake",           "hd-prioritizer",
                                       "hd-router", "hd-escalation-timer", "hd-notifier"};
static const char *const names[NSVC] = {"store",  "intake",           "prioritizer",
                                        "router", "escalation-timer", "notifier"};

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *p[NSVC];
    int port[NSVC];
    char templates[600];
    const char *extra[3];
    int contacts; /* submitted so far */
    pid_t prometheus;
} fixture;

static ht_proc *start(fixture *f, int i)
{
    f->p[i] = ht_start_ready(f->env, bins[i], f->extra);
    f->port[i] = f->p[i] ? ht_http_port(f->p[i], 5000) : -1;
    return f->port[i] > 0 ? f->p[i] : NULL;
}

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "metrics");
    *state = f;
    char dir[512];
    if (ht_source_path("deploy/local/templates", dir, sizeof dir) != 0)
        return -1;
    snprintf(f->templates, sizeof f->templates, "HD_NOTIFIER_TEMPLATES=%s", dir);
    f->extra[0] = "HD_HTTP_LISTEN=127.0.0.1:0";
    f->extra[1] = f->templates;
    for (int i = 0; i < NSVC; i++)
        if (start(f, i) == NULL) {
            ht_dump_logs(f->env, 30);
            return -1;
        }
    return 0;
}

static void stop_prometheus(fixture *f)
{
    if (f->prometheus <= 0)
        return;
    kill(-f->prometheus, SIGTERM);
    int64_t deadline = hd_mono_ms() + 10000;
    int status;
    while (waitpid(f->prometheus, &status, WNOHANG) == 0) {
        if (hd_mono_ms() > deadline) {
            kill(-f->prometheus, SIGKILL);
            waitpid(f->prometheus, &status, 0);
            break;
        }
        struct timespec ts = {.tv_nsec = 20L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    f->prometheus = 0;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    if (f != NULL)
        stop_prometheus(f);
    return ht_fixture_teardown(state);
}

/* The value of one sample line ("name{labels}") in port's /metrics; -1 when absent. */
static double sample(int port, const char *series)
{
    static char body[1 << 20];
    if (ht_http_get(port, "/metrics", body, sizeof body, 3000) != 200)
        return -1;
    size_t n = strlen(series);
    for (const char *line = body; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    }
    return -1;
}

static bool wait_sample_at_least(int port, const char *series, double min, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    double v;
    while ((v = sample(port, series)) < min && hd_mono_ms() < deadline) {
        struct timespec ts = {.tv_nsec = 50L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (v < min)
        print_error("%s on port %d is %g, wanted at least %g\n", series, port, v, min);
    return v >= min;
}

/* Submits n contacts of two problems; waits until their tickets are queued. */
static void submit(fixture *f, int n)
{
    int64_t ids[64];
    size_t nids = 0;
    for (int i = 0; i < n; i++) {
        char ext[64];
        snprintf(ext, sizeof ext, "m-%d", f->contacts++);
        ht_contact ct;
        ht_contact_init(&ct, "e2e-metrics", ext);
        ht_contact_add(&ct, "network", "Le réseau est en panne", "");
        ht_contact_add(&ct, "printing", "الطابعة لا تعمل", "");
        HdReply *rep = ht_submit_ok(f->env, &ct.c);
        for (size_t k = 0; k < rep->receipt->n_ticket_ids && nids < 64; k++)
            ids[nids++] = rep->receipt->ticket_ids[k];
        hd_reply_free(rep);
    }
    assert_true(
        ht_wait_tickets_status(f->env, ids, nids, HELPDESK__V1__STATUS__STATUS_QUEUED, 20000));
}

/* Prometheus' own linter (promtool check metrics, from the same Debian package) accepts the
 * text: format, HELP and TYPE, counter and unit naming. */
static void assert_promtool_accepts(fixture *f, const char *service, const char *text)
{
    if (access(PROMTOOL, X_OK) != 0)
        fail_msg(PROMTOOL " is not installed: `make test` installs it (Debian package "
                          "prometheus)");
    char path[600], cmd[1400], out[4096], err[4096];
    snprintf(path, sizeof path, "%s/metrics-%s.txt", f->env->dir, service);
    assert_int_equal(ht_write_file(path, text), 0);
    snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < '%s'", path);
    const char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
    int rc = ht_run(f->env, argv, NULL, out, sizeof out, err, sizeof err, 30000);
    if (rc != 0)
        fail_msg("promtool check metrics refused the text of %s (exit %d): %s%s", service, rc, out,
                 err);
}

static void test_every_service_serves_health_readiness_and_metrics(void **state)
{
    fixture *f = *state;
    static char body[1 << 20];
    for (int i = 0; i < NSVC; i++) {
        int port = f->port[i];
        if (!ht_wait_http_status(port, "/readyz", 200, 15000))
            fail_msg("%s: /readyz is not 200", names[i]);
        assert_int_equal(ht_http_get(port, "/healthz", body, sizeof body, 3000), 200);
        assert_string_equal(body, "ok\n");
        assert_int_equal(ht_http_get(port, "/readyz", body, sizeof body, 3000), 200);
        assert_string_equal(body, "ready\n");
        assert_int_equal(ht_http_get(port, "/metrics", body, sizeof body, 3000), 200);
        char want[160];
        snprintf(want, sizeof want,
                 "# TYPE helpdesk_uptime_seconds gauge\n"
                 "helpdesk_uptime_seconds{service=\"%s\"} ",
                 names[i]);
        assert_non_null(strstr(body, want));
        snprintf(want, sizeof want, "helpdesk_ready{service=\"%s\"} 1\n", names[i]);
        assert_non_null(strstr(body, want));
        assert_non_null(strstr(body, "# TYPE helpdesk_messages_sent_total counter\n"));
        assert_int_equal(ht_http_get(port, "/nothing", body, sizeof body, 3000), 404);
    }
    submit(f, 5);
    for (int i = 0; i < NSVC; i++) {
        assert_int_equal(ht_http_get(f->port[i], "/metrics", body, sizeof body, 3000), 200);
        assert_promtool_accepts(f, names[i], body);
    }
    /* Every stage counted what it did. */
    assert_true(wait_sample_at_least(
        f->port[INTAKE], "helpdesk_intake_contacts_accepted_total{service=\"intake\"}", 5, 5000));
    assert_true(wait_sample_at_least(
        f->port[INTAKE], "helpdesk_intake_ack_latency_seconds_count{service=\"intake\"}", 5, 5000));
    assert_true(wait_sample_at_least(
        f->port[STORE], "helpdesk_store_requests_total{service=\"store\",type=\"create_tickets\"}",
        5, 5000));
    assert_true(wait_sample_at_least(
        f->port[STORE], "helpdesk_store_events_published_total{service=\"store\"}", 30, 5000));
    assert_true(wait_sample_at_least(
        f->port[PRIO],
        "helpdesk_worker_items_total{service=\"prioritizer\",outcome=\"prioritized\"}", 10, 5000));
    assert_true(wait_sample_at_least(
        f->port[ROUTER], "helpdesk_worker_items_total{service=\"router\",outcome=\"routed\"}", 10,
        5000));
    assert_true(wait_sample_at_least(
        f->port[TIMER], "helpdesk_timer_deadlines_held{service=\"escalation-timer\"}", 10, 10000));
    assert_true(wait_sample_at_least(
        f->port[NOTIFIER], "helpdesk_notifier_sent_total{service=\"notifier\",channel=\"log\"}", 5,
        10000));
    ht_pass(f->env);
}

static void test_readiness_follows_the_store(void **state)
{
    fixture *f = *state;
    ht_kill9(f->p[STORE]);
    for (int i = INTAKE; i < NSVC; i++) {
        if (!ht_wait_http_status(f->port[i], "/readyz", 503, 15000))
            fail_msg("%s: /readyz stayed 200 with the store dead", names[i]);
        /* alive all the same: the loop turns */
        assert_int_equal(ht_http_get(f->port[i], "/healthz", NULL, 0, 3000), 200);
    }
    char body[256];
    assert_int_equal(ht_http_get(f->port[INTAKE], "/readyz", body, sizeof body, 3000), 503);
    assert_string_equal(body, "not ready: no connection to the store\n");
    assert_non_null(start(f, STORE));
    for (int i = 0; i < NSVC; i++)
        if (!ht_wait_http_status(f->port[i], "/readyz", 200, 20000))
            fail_msg("%s: /readyz did not come back to 200 with the store", names[i]);
    submit(f, 1);
    ht_pass(f->env);
}

/* Runs one statement on the server's own database (HD_TEST_PG_URL): a database cannot refuse
 * connections to itself. 0 or -1 (printed). */
static int server_exec(const char *sql)
{
    PGconn *c = PQconnectdb(getenv("HD_TEST_PG_URL"));
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        print_error("SQL failed: %s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return rc;
}

static void test_store_is_not_ready_without_its_database(void **state)
{
    fixture *f = *state;
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", f->env->db_name);
    assert_int_equal(server_exec(sql), 0);
    assert_true(ht_sql_long(f->env, "SELECT count(pg_terminate_backend(pid)) FROM "
                                    "pg_stat_activity WHERE datname = current_database() AND "
                                    "pid <> pg_backend_pid()") >= 1);
    /* The store learns of it on its next statement. */
    HdReply *rep = ht_get_ticket(f->env, 1);
    hd_reply_free(rep);
    int port = f->port[STORE];
    bool down = ht_wait_http_status(port, "/readyz", 503, 10000);
    char body[256];
    int healthz = ht_http_get(port, "/healthz", NULL, 0, 3000);
    int readyz = ht_http_get(port, "/readyz", body, sizeof body, 3000);
    double connected = sample(port, "helpdesk_store_db_connected{service=\"store\"}");
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", f->env->db_name);
    assert_int_equal(server_exec(sql), 0);
    assert_true(down);
    assert_int_equal(healthz, 200);
    assert_int_equal(readyz, 503);
    assert_non_null(strstr(body, "PostgreSQL"));
    assert_true(connected == 0);
    assert_true(ht_wait_http_status(port, "/readyz", 200, 20000));
    assert_true(wait_sample_at_least(port, "helpdesk_store_db_reconnects_total{service=\"store\"}",
                                     1, 5000));
    submit(f, 1);
    ht_pass(f->env);
}

static void test_a_port_in_use_stops_the_service_naming_the_setting(void **state)
{
    fixture *f = *state;
    char listen[64];
    snprintf(listen, sizeof listen, "HD_HTTP_LISTEN=127.0.0.1:%d", f->port[STORE]);
    const char *const env[] = {listen, f->templates, NULL};
    for (int i = INTAKE; i < NSVC; i++) {
        ht_proc *p = ht_start(f->env, bins[i], env);
        assert_non_null(p);
        if (!ht_wait_exit(p, 10000))
            fail_msg("%s kept running on a port in use", names[i]);
        assert_true(WIFEXITED(p->status));
        assert_int_equal(WEXITSTATUS(p->status), 1);
        assert_true(ht_log_contains(p, "event=config_failed key=http.listen"));
    }
    ht_pass(f->env);
}

/* ---- a real Prometheus ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void write_prometheus_config(fixture *f, const char *path)
{
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                                "scrape_configs:\n  - job_name: helpdesk\n"
                                "    static_configs:\n      - targets:\n");
    for (int i = 0; i < NSVC; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "          - \"127.0.0.1:%d\"\n",
                              f->port[i]);
    assert_int_equal(ht_write_file(path, text), 0);
}

/* Starts prometheus in its own process group (so it is stopped whole), output in its log. */
static pid_t start_prometheus(fixture *f, int port)
{
    char config[600], data[600], listen[64], log[600];
    snprintf(config, sizeof config, "%s/prometheus.yml", f->env->dir);
    snprintf(data, sizeof data, "%s/prometheus-data", f->env->dir);
    snprintf(log, sizeof log, "%s/prometheus.log", f->env->dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    write_prometheus_config(f, config);
    char a1[700], a2[700], a3[100];
    snprintf(a1, sizeof a1, "--config.file=%s", config);
    snprintf(a2, sizeof a2, "--storage.tsdb.path=%s", data);
    snprintf(a3, sizeof a3, "--web.listen-address=%s", listen);
    char *argv[] = {PROMETHEUS, a1, a2, a3, "--log.level=warn", NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        FILE *out = freopen(log, "w", stdout);
        if (out == NULL || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execv(PROMETHEUS, argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* The value of an instant query with one result; -1 when it has none (yet). */
static double query(int port, const char *encoded)
{
    char path[512];
    static char body[1 << 16];
    snprintf(path, sizeof path, "/api/v1/query?query=%s", encoded);
    if (ht_http_get(port, path, body, sizeof body, 3000) != 200)
        return -1;
    const char *v = strstr(body, "\"value\":[");
    v = v ? strstr(v, ",\"") : NULL;
    return v ? strtod(v + 2, NULL) : -1;
}

static bool wait_query_at_least(int port, const char *encoded, double min, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    double v;
    while ((v = query(port, encoded)) < min && hd_mono_ms() < deadline) {
        struct timespec ts = {.tv_nsec = 200L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (v < min)
        print_error("prometheus: %s = %g, wanted at least %g\n", encoded, v, min);
    return v >= min;
}

static void test_prometheus_scrapes_every_service(void **state)
{
    fixture *f = *state;
    if (access(PROMETHEUS, X_OK) != 0)
        fail_msg(PROMETHEUS " is not installed: `make test` installs it (deploy/local/deps.sh "
                            "names the Debian package prometheus)");
    int port = free_port();
    f->prometheus = start_prometheus(f, port);
    submit(f, 3);
    /* count(up == 1): all six targets scraped successfully */
    assert_true(wait_query_at_least(port, "count(up%20%3D%3D%201)", NSVC, 60000));
    assert_true(wait_query_at_least(port, "sum(helpdesk_intake_contacts_accepted_total)",
                                    f->contacts, 30000));
    /* the store restarted in an earlier test: its counters began again there */
    assert_true(wait_query_at_least(
        port, "sum(helpdesk_store_requests_total%7Btype%3D%22create_tickets%22%7D)", 3, 30000));
    assert_true(wait_query_at_least(port, "count(helpdesk_ready%20%3D%3D%201)", NSVC, 30000));
    stop_prometheus(f);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_every_service_serves_health_readiness_and_metrics),
        HT_TEST(test_readiness_follows_the_store),
        HT_TEST(test_store_is_not_ready_without_its_database),
        HT_TEST(test_a_port_in_use_stops_the_service_naming_the_setting),
        HT_TEST(test_prometheus_scrapes_every_service),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
