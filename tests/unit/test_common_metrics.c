/* hd/metrics.h and hd/http.h: the exposition text exactly (HELP and TYPE lines, the service
 * label, one optional label with escaping, cumulative histogram buckets with +Inf, _sum and
 * _count), conflicting registrations refused, updates from another thread, and the HTTP port
 * over a real socket: /healthz (failing when the loop stops beating), /readyz with its reason,
 * /metrics, 404 and 405. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h and stdint.h, which it needs */

#include "hd/clock.h"
#include "hd/http.h"
#include "hd/log.h"
#include "hd/metrics.h"

/* The text after the built-in series, which hold times. */
static const char *after_builtins(const char *text)
{
    const char *p = strstr(text, "# HELP helpdesk_test");
    assert_non_null(p);
    return p;
}

static void test_counters_gauges_and_labels_exactly(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("store");
    hd_metric *in = hd_metrics_counter(m, "helpdesk_test_messages_total", "Messages \\ read.\nAll.",
                                       "socket", "api");
    hd_metric *work =
        hd_metrics_counter(m, "helpdesk_test_messages_total", "ignored", "socket", "wo\"rk\\\n");
    hd_metric *depth = hd_metrics_gauge(m, "helpdesk_test_depth", "Items waiting.", NULL, NULL);
    assert_ptr_equal(hd_metrics_counter(m, "helpdesk_test_messages_total", "", "socket", "api"),
                     in);
    hd_metric_add(in, 41);
    hd_metric_inc(in);
    hd_metric_inc(work);
    hd_metric_set(depth, 7);
    hd_metric_gauge_add(depth, -9);
    size_t len = 0;
    char *text = hd_metrics_render(m, &len);
    assert_int_equal(len, strlen(text));
    assert_string_equal(
        after_builtins(text),
        "# HELP helpdesk_test_messages_total Messages \\\\ read.\\nAll.\n"
        "# TYPE helpdesk_test_messages_total counter\n"
        "helpdesk_test_messages_total{service=\"store\",socket=\"api\"} 42\n"
        "helpdesk_test_messages_total{service=\"store\",socket=\"wo\\\"rk\\\\\\n\"} 1\n"
        "# HELP helpdesk_test_depth Items waiting.\n"
        "# TYPE helpdesk_test_depth gauge\n"
        "helpdesk_test_depth{service=\"store\"} -2\n");
    assert_int_equal(hd_metric_value(in), 42);
    assert_int_equal(hd_metric_value(depth), -2);
    free(text);
    hd_metrics_destroy(&m);
    hd_metrics_destroy(&m);
    assert_null(m);
}

static void test_histogram_buckets_are_cumulative_with_inf_sum_and_count(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("intake");
    static const double bounds[] = {0.005, 0.1, 2.5};
    hd_metric *h =
        hd_metrics_histogram(m, "helpdesk_test_seconds", "Latency.", bounds, 3, NULL, NULL);
    hd_metric_observe(h, 0.001);
    hd_metric_observe(h, 0.005); /* on the bound: counted in it (le) */
    hd_metric_observe(h, 0.05);
    hd_metric_observe(h, 100);
    char *text = hd_metrics_render(m, NULL);
    assert_string_equal(after_builtins(text),
                        "# HELP helpdesk_test_seconds Latency.\n"
                        "# TYPE helpdesk_test_seconds histogram\n"
                        "helpdesk_test_seconds_bucket{service=\"intake\",le=\"0.005\"} 2\n"
                        "helpdesk_test_seconds_bucket{service=\"intake\",le=\"0.1\"} 3\n"
                        "helpdesk_test_seconds_bucket{service=\"intake\",le=\"2.5\"} 3\n"
                        "helpdesk_test_seconds_bucket{service=\"intake\",le=\"+Inf\"} 4\n"
                        "helpdesk_test_seconds_sum{service=\"intake\"} 100.056\n"
                        "helpdesk_test_seconds_count{service=\"intake\"} 4\n");
    free(text);
    hd_metrics_destroy(&m);
}

static void test_labelled_histogram_and_builtins(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("router");
    hd_metric *h = hd_metrics_histogram(m, "helpdesk_test_size", "Sizes.", hd_metrics_size_buckets,
                                        12, "stage", "route");
    hd_metric_observe(h, 3);
    char *text = hd_metrics_render(m, NULL);
    assert_non_null(strstr(text, "helpdesk_test_size_bucket{service=\"router\",stage=\"route\","
                                 "le=\"2\"} 0\n"));
    assert_non_null(strstr(text, "helpdesk_test_size_bucket{service=\"router\",stage=\"route\","
                                 "le=\"5\"} 1\n"));
    assert_non_null(strstr(text, "helpdesk_test_size_bucket{service=\"router\",stage=\"route\","
                                 "le=\"5000\"} 1\n"));
    assert_non_null(strstr(text, "# TYPE helpdesk_uptime_seconds gauge\n"
                                 "helpdesk_uptime_seconds{service=\"router\"} "));
    assert_non_null(strstr(text, "helpdesk_ready{service=\"router\"} 0\n"));
    hd_metrics_set_ready(m, true, NULL);
    free(text);
    text = hd_metrics_render(m, NULL);
    assert_non_null(strstr(text, "helpdesk_ready{service=\"router\"} 1\n"));
    free(text);
    hd_metrics_destroy(&m);
}

static void test_a_conflicting_registration_is_refused(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("x");
    assert_non_null(hd_metrics_counter(m, "helpdesk_test_a_total", "A.", NULL, NULL));
    assert_null(hd_metrics_gauge(m, "helpdesk_test_a_total", "A.", NULL, NULL));
    assert_null(hd_metrics_counter(m, "helpdesk_test_a_total", "A.", "kind", "x"));
    assert_null(hd_metrics_counter(m, "helpdesk_test_b_total", "B.", "kind", NULL));
    static const double down[] = {2, 1};
    assert_null(hd_metrics_histogram(m, "helpdesk_test_c", "C.", down, 2, NULL, NULL));
    assert_null(hd_metrics_counter(NULL, "helpdesk_test_a_total", "A.", NULL, NULL));
    /* NULL series are no-ops */
    hd_metric_inc(NULL);
    hd_metric_set(NULL, 1);
    hd_metric_observe(NULL, 1);
    assert_int_equal(hd_metric_value(NULL), 0);
    hd_metrics_destroy(&m);
}

typedef struct {
    hd_metric *c, *h;
} pair;

static void *hammer(void *arg)
{
    pair *p = arg;
    for (int i = 0; i < 100000; i++) {
        hd_metric_inc(p->c);
        hd_metric_observe(p->h, 0.5);
    }
    return NULL;
}

static void test_updates_from_threads_are_not_lost(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("x");
    pair p = {hd_metrics_counter(m, "helpdesk_test_n_total", "N.", NULL, NULL),
              hd_metrics_histogram(m, "helpdesk_test_h", "H.", hd_metrics_latency_buckets, 12, NULL,
                                   NULL)};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &p), 0);
    for (int i = 0; i < 4; i++) {
        char *text = hd_metrics_render(m, NULL); /* reading while they write */
        free(text);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(hd_metric_value(p.c), 400000);
    char *text = hd_metrics_render(m, NULL);
    assert_non_null(strstr(text, "helpdesk_test_h_count{service=\"x\"} 400000\n"));
    assert_non_null(strstr(text, "helpdesk_test_h_sum{service=\"x\"} 200000\n"));
    free(text);
    hd_metrics_destroy(&m);
}

/* ---- the HTTP port ---- */

/* GET path on 127.0.0.1:port with a plain socket: the status code, the body in body. */
static int http_get(int port, const char *method, const char *path, char *body, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    static char resp[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    close(fd);
    assert_memory_equal(resp, "HTTP/1.1 ", 9);
    int status = (int)strtol(resp + 9, NULL, 10);
    const char *start = strstr(resp, "\r\n\r\n");
    snprintf(body, cap, "%s", start ? start + 4 : "");
    return status;
}

static void test_http_serves_health_readiness_and_metrics(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("intake");
    hd_metric *c = hd_metrics_counter(m, "helpdesk_test_calls_total", "Calls.", NULL, NULL);
    hd_metric_add(c, 5);
    char err[256];
    hd_http *h = hd_http_start("127.0.0.1:0", m, 60000, err, sizeof err);
    assert_non_null(h);
    int port = hd_http_port(h);
    assert_true(port > 0);
    char body[65536];
    assert_int_equal(http_get(port, "GET", "/healthz", body, sizeof body), 200);
    assert_string_equal(body, "ok\n");
    assert_int_equal(http_get(port, "GET", "/readyz", body, sizeof body), 503);
    assert_string_equal(body, "not ready: starting\n");
    hd_metrics_set_ready(m, false, "the store does not answer");
    assert_int_equal(http_get(port, "GET", "/readyz", body, sizeof body), 503);
    assert_string_equal(body, "not ready: the store does not answer\n");
    hd_metrics_set_ready(m, true, NULL);
    assert_int_equal(http_get(port, "GET", "/readyz", body, sizeof body), 200);
    assert_int_equal(http_get(port, "GET", "/metrics", body, sizeof body), 200);
    assert_non_null(strstr(body, "helpdesk_test_calls_total{service=\"intake\"} 5\n"));
    assert_non_null(strstr(body, "helpdesk_ready{service=\"intake\"} 1\n"));
    assert_int_equal(http_get(port, "GET", "/nothing", body, sizeof body), 404);
    assert_int_equal(http_get(port, "POST", "/metrics", body, sizeof body), 405);
    hd_http_stop(&h);
    hd_http_stop(&h);
    assert_null(h);
    hd_metrics_destroy(&m);
}

static void test_healthz_fails_when_the_loop_stops_beating(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("store");
    char err[256], body[1024];
    hd_http *h = hd_http_start("127.0.0.1:0", m, 100, err, sizeof err);
    assert_non_null(h);
    int port = hd_http_port(h);
    hd_metrics_beat(m);
    assert_int_equal(http_get(port, "GET", "/healthz", body, sizeof body), 200);
    int64_t deadline = hd_mono_ms() + 5000;
    int status = 200;
    while (status == 200 && hd_mono_ms() < deadline) {
        struct timespec ts = {.tv_nsec = 20L * 1000 * 1000};
        nanosleep(&ts, NULL); /* the loop "hangs": no beat */
        status = http_get(port, "GET", "/healthz", body, sizeof body);
    }
    assert_int_equal(status, 503);
    assert_non_null(strstr(body, "has not turned for"));
    hd_metrics_beat(m);
    assert_int_equal(http_get(port, "GET", "/healthz", body, sizeof body), 200);
    hd_http_stop(&h);
    hd_metrics_destroy(&m);
}

static void test_a_bad_listen_address_is_refused(void **state)
{
    (void)state;
    hd_metrics *m = hd_metrics_new("x");
    char err[256];
    assert_null(hd_http_start("8080", m, 1000, err, sizeof err));
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_null(hd_http_start("127.0.0.1:", m, 1000, err, sizeof err));
    assert_null(hd_http_start("no.such.host.invalid:80", m, 1000, err, sizeof err));
    /* a port in use */
    hd_http *first = hd_http_start("127.0.0.1:0", m, 1000, err, sizeof err);
    assert_non_null(first);
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", hd_http_port(first));
    assert_null(hd_http_start(taken, m, 1000, err, sizeof err));
    assert_non_null(strstr(err, "cannot listen"));
    hd_http_stop(&first);
    hd_metrics_destroy(&m);
}

int main(void)
{
    hd_log_init("test");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_gauges_and_labels_exactly),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_with_inf_sum_and_count),
        cmocka_unit_test(test_labelled_histogram_and_builtins),
        cmocka_unit_test(test_a_conflicting_registration_is_refused),
        cmocka_unit_test(test_updates_from_threads_are_not_lost),
        cmocka_unit_test(test_http_serves_health_readiness_and_metrics),
        cmocka_unit_test(test_healthz_fails_when_the_loop_stops_beating),
        cmocka_unit_test(test_a_bad_listen_address_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
