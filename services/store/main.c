/* hd-store: the sole owner of PostgreSQL. One zmq_poll loop over the api ROUTER, the work
 * ROUTER and the signalfd; events go out on the PUB socket only after their COMMIT.
 *
 *   hd-store [--config FILE]      (database_url or HD_DATABASE_URL is required) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd/clock.h"
#include "hd/config.h"
#include "hd/curve.h"
#include "hd/http.h"
#include "hd/log.h"
#include "hd/metrics.h"
#include "hd/signals.h"
#include "hd/transport.h"
#include "store.h"
#include "store_db.h"
#include "store_dispatch.h"
#include "store_group.h"
#include "store_work.h"

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
/* /healthz fails when the loop has not turned for this long (at least 10 s, else three of its
 * longest sleeps). */
#define STALE_MIN_MS 10000
#define STAGE_SLOTS 4 /* Stage values 0..3 */

typedef struct {
    const char *api;
    const char *work;
    const char *events;
    const char *database_url;
    int64_t lease_ms;
    int64_t heartbeat_ms;
    int64_t refused_retry_ms;
    hd_sla sla;
} settings;

typedef struct {
    settings set;
    void *ctx;
    int sigfd;
    store_svc s; /* db, dispatch, sockets, reconnect state: shared with the modules */
    bool stop;
    store_group *group;
    hd_curve_opts curve; /* the three sockets' CurveZMQ server keys, or off */
    hd_zap *zap;
    hd_metrics *reg;
    hd_http *http;
    hd_metric *queued[STAGE_SLOTS]; /* by stage: prioritize, route, escalate (index = stage) */
    hd_metric *leases, *held, *workers, *reconnects, *db_up, *last_seq;
} app;

/* The series the group commit and the work socket update (store_metrics). */
static void obs_init_svc(app *a)
{
    store_metrics *m = &a->s.m;
    const char *in = "Messages read, by socket (api: requests; work: from workers).";
    const char *out = "Messages sent, by socket (api: replies; work: items, acks, errors).";
    m->api_in = hd_metrics_counter(a->reg, "helpdesk_messages_received_total", in, "socket", "api");
    m->work_in = hd_metrics_counter(a->reg, "helpdesk_messages_received_total", in, "socket",
                                    "work");
    m->api_out = hd_metrics_counter(a->reg, "helpdesk_messages_sent_total", out, "socket", "api");
    m->work_out = hd_metrics_counter(a->reg, "helpdesk_messages_sent_total", out, "socket", "work");
    m->published = hd_metrics_counter(a->reg, "helpdesk_store_events_published_total",
                                      "Events published on the PUB socket after their commit.",
                                      NULL, NULL);
    m->group_size = hd_metrics_histogram(a->reg, "helpdesk_store_group_size",
                                         "Requests in one group commit (one transaction).",
                                         hd_metrics_size_buckets, 12, NULL, NULL);
    m->commit_seconds = hd_metrics_histogram(
        a->reg, "helpdesk_store_group_commit_seconds",
        "From BEGIN to the end of COMMIT of one group.", hd_metrics_latency_buckets, 12, NULL,
        NULL);
    const ProtobufCMessageDescriptor *d = &helpdesk__v1__request__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->id < STORE_METRICS_BODIES)
            m->requests[f->id] = hd_metrics_counter(a->reg, "helpdesk_store_requests_total",
                                                    "Requests read, by type.", "type", f->name);
    }
    const ProtobufCEnumDescriptor *e = &helpdesk__v1__error_code__descriptor;
    for (unsigned i = 0; i < e->n_values; i++) {
        int code = e->values[i].value;
        if (code > 0 && code < STORE_METRICS_ERRORS)
            m->errors[code] = hd_metrics_counter(
                a->reg, "helpdesk_errors_total", "Error replies sent, by error code.", "kind",
                hd_error_code_name((Helpdesk__V1__ErrorCode)code));
    }
}

static void obs_init(app *a)
{
    obs_init_svc(a);
    static const Helpdesk__V1__Stage stages[] = {HELPDESK__V1__STAGE__STAGE_PRIORITIZE,
                                                 HELPDESK__V1__STAGE__STAGE_ROUTE,
                                                 HELPDESK__V1__STAGE__STAGE_ESCALATE};
    for (size_t i = 0; i < sizeof stages / sizeof *stages; i++)
        a->queued[stages[i]] = hd_metrics_gauge(
            a->reg, "helpdesk_store_queue_depth",
            "Items waiting for dispatch to a worker, by stage.", "stage",
            hd_stage_name(stages[i]));
    a->leases = hd_metrics_gauge(a->reg, "helpdesk_store_leases_outstanding",
                                 "Work items dispatched and not yet answered.", NULL, NULL);
    a->held = hd_metrics_gauge(a->reg, "helpdesk_store_held_back",
                               "Tickets whose stage result the database refused, waiting "
                               "store.refused_retry_ms to be dispatched again.", NULL, NULL);
    a->workers = hd_metrics_gauge(a->reg, "helpdesk_store_workers",
                                  "Workers known to the store (announced and heartbeating).",
                                  NULL, NULL);
    a->reconnects = hd_metrics_counter(a->reg, "helpdesk_store_db_reconnects_total",
                                       "Reconnections to PostgreSQL after the connection broke.",
                                       NULL, NULL);
    a->db_up = hd_metrics_gauge(a->reg, "helpdesk_store_db_connected",
                                "1 while the connection to PostgreSQL works.", NULL, NULL);
    a->last_seq = hd_metrics_gauge(a->reg, "helpdesk_store_last_event_seq",
                                   "The seq of the newest committed event.", NULL, NULL);
}

/* Once per loop turn: the heartbeat, readiness and the gauges (plain reads, no I/O). */
static void obs_update(app *a)
{
    hd_metrics_beat(a->reg);
    for (size_t i = 0; i < STAGE_SLOTS; i++)
        if (a->queued[i] != NULL)
            hd_metric_set(a->queued[i],
                          (int64_t)store_dispatch_queued(a->s.disp, (Helpdesk__V1__Stage)i));
    hd_metric_set(a->leases, (int64_t)store_dispatch_leases(a->s.disp));
    hd_metric_set(a->held, (int64_t)store_dispatch_held(a->s.disp));
    hd_metric_set(a->workers, (int64_t)store_dispatch_workers(a->s.disp));
    bool up = !store_db_broken(a->s.db);
    hd_metric_set(a->db_up, up);
    hd_metric_set(a->last_seq, store_db_last_seq(a->s.db));
    hd_metrics_set_ready(a->reg, up, up ? NULL : "no connection to PostgreSQL (reconnecting)");
}

static int load_settings(const hd_config *cfg, settings *s, char *err, size_t errlen)
{
    s->api = hd_config_str(cfg, "store.api", HD_DEFAULT_STORE_API);
    s->work = hd_config_str(cfg, "store.work", HD_DEFAULT_STORE_WORK);
    s->events = hd_config_str(cfg, "store.events", HD_DEFAULT_STORE_EVENTS);
    s->database_url = hd_config_str(cfg, "database_url", NULL);
    s->lease_ms = 10000;
    s->heartbeat_ms = 1000;
    s->refused_retry_ms = 60000;
    if (hd_config_int(cfg, "store.lease_ms", 10, 86400000, &s->lease_ms, err, errlen) != 0 ||
        hd_config_int(cfg, "store.heartbeat_ms", 10, 600000, &s->heartbeat_ms, err, errlen) != 0 ||
        hd_config_int(cfg, "store.refused_retry_ms", 100, 86400000, &s->refused_retry_ms, err,
                      errlen) != 0 ||
        hd_sla_from_config(&s->sla, cfg, err, errlen) != 0)
        return -1;
    if (s->database_url == NULL || s->database_url[0] == '\0') {
        snprintf(err, errlen,
                 "database_url is not set: put it in the config file or set HD_DATABASE_URL, "
                 "e.g. postgresql://postgres@127.0.0.1:5432/postgres");
        return -1;
    }
    return 0;
}

static void housekeeping(app *a)
{
    int64_t now = hd_mono_ms();
    store_work_expire(&a->s, now);
    size_t back = store_dispatch_release(a->s.disp, now);
    if (back > 0)
        hd_info("event=refused_retry tickets=%zu note=\"dispatched again after the database "
                "refused their result\"", back);
    if (a->s.reconnect_at != 0 && now >= a->s.reconnect_at) {
        if (store_db_reconnect(a->s.db) == 0 && store_work_load_queues(&a->s) == 0) {
            hd_metric_inc(a->reconnects);
            a->s.reconnect_at = 0;
            a->s.backoff_ms = RECONNECT_MIN_MS;
        } else {
            a->s.backoff_ms = a->s.backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS
                                                                     : a->s.backoff_ms * 2;
            a->s.reconnect_at = now + a->s.backoff_ms;
        }
    }
}

static long poll_timeout(const app *a)
{
    if (!store_db_broken(a->s.db) && store_dispatch_pending(a->s.disp))
        return 0;
    int64_t now = hd_mono_ms();
    int64_t next = store_dispatch_deadline(a->s.disp);
    if (a->s.reconnect_at != 0 && a->s.reconnect_at < next)
        next = a->s.reconnect_at;
    int64_t t = next - now;
    if (t > a->set.heartbeat_ms)
        t = a->set.heartbeat_ms;
    return t < 0 ? 0 : (long)t;
}

static void take_signals(app *a)
{
    int sig;
    while ((sig = hd_signals_take(a->sigfd)) != 0) {
        if (sig == SIGHUP) { /* the CurveZMQ allow list: keys added or removed */
            char err[512];
            if (a->zap == NULL)
                hd_info("event=sighup note=\"curve is off: nothing to reload\"");
            else
                (void)hd_zap_reload(a->zap, err, sizeof err);
            continue;
        }
        hd_info("event=stopping signal=%d", sig);
        a->stop = true;
    }
}

static int run(app *a)
{
    while (!a->stop) {
        obs_update(a);
        zmq_pollitem_t items[3] = {
            {.socket = a->s.api, .events = ZMQ_POLLIN},
            {.socket = a->s.work, .events = ZMQ_POLLIN},
            {.socket = NULL, .fd = a->sigfd, .events = ZMQ_POLLIN},
        };
        if (zmq_poll(items, 3, poll_timeout(a)) < 0) {
            if (errno == EINTR)
                continue;
            hd_error("event=poll_failed error=\"%s\"", zmq_strerror(errno));
            return -1;
        }
        if (items[2].revents & ZMQ_POLLIN)
            take_signals(a);
        if (a->stop)
            break;
        store_group_serve(a->group, &a->s, items[0].revents & ZMQ_POLLIN,
                          items[1].revents & ZMQ_POLLIN);
        housekeeping(a);
        store_work_pump(&a->s);
    }
    return 0;
}

static int open_sockets(app *a, const hd_config *cfg)
{
    a->ctx = zmq_ctx_new();
    if (a->ctx == NULL)
        return -1;
    char err[512];
    if (hd_curve_server_start(cfg, "store", a->ctx, &a->curve, &a->zap, err, sizeof err) != 0) {
        hd_log_clean(err);
        hd_error("event=config_failed error=\"%s\"", err);
        return -1;
    }
    a->s.api = hd_curve_bind(a->ctx, ZMQ_ROUTER, a->set.api, &a->curve, "api");
    a->s.work = hd_curve_bind(a->ctx, ZMQ_ROUTER, a->set.work, &a->curve, "work");
    a->s.pub = hd_curve_bind(a->ctx, ZMQ_PUB, a->set.events, &a->curve, "events");
    return a->s.api && a->s.work && a->s.pub ? 0 : -1;
}

static void close_all(app *a)
{
    hd_socket_close(&a->s.api);
    hd_socket_close(&a->s.work);
    hd_socket_close(&a->s.pub);
    hd_zap_stop(&a->zap);
    if (a->ctx)
        zmq_ctx_term(a->ctx);
    a->ctx = NULL;
    store_dispatch_destroy(&a->s.disp);
    store_db_destroy(&a->s.db);
    store_group_destroy(&a->group);
    hd_http_stop(&a->http);
    hd_metrics_destroy(&a->reg);
}

int main(int argc, char **argv)
{
    hd_log_init("store");
    int exit_code;
    hd_config *cfg = hd_config_from_args(argc, argv, "hd-store", &exit_code);
    if (cfg == NULL)
        return exit_code;
    app a = {.sigfd = -1, .s.backoff_ms = RECONNECT_MIN_MS};
    a.sigfd = hd_signals_open(); /* before zmq_ctx_new: its threads inherit the mask */
    char err[512];
    if (a.sigfd < 0 || load_settings(cfg, &a.set, err, sizeof err) != 0) {
        hd_error("event=config_failed error=\"%s\"", a.sigfd < 0 ? "signalfd failed" : err);
        hd_config_destroy(&cfg);
        return 1;
    }
    /* The HTTP port first, so /healthz answers while migrations run. */
    a.reg = hd_metrics_new("store");
    int64_t stale_ms = 3 * a.set.heartbeat_ms > STALE_MIN_MS ? 3 * a.set.heartbeat_ms
                                                              : STALE_MIN_MS;
    if (hd_http_from_config(cfg, a.reg, stale_ms, &a.http) != 0) {
        hd_metrics_destroy(&a.reg);
        hd_config_destroy(&cfg);
        return 1;
    }
    hd_metrics_set_ready(a.reg, false, "connecting to PostgreSQL and migrating");
    a.s.db = store_db_open(a.set.database_url, err, sizeof err);
    if (a.s.db == NULL) {
        hd_error("event=db_failed error=\"%s\"", err);
        hd_http_stop(&a.http);
        hd_metrics_destroy(&a.reg);
        hd_config_destroy(&cfg);
        return 1;
    }
    obs_init(&a);
    store_db_set_sla(a.s.db, &a.set.sla);
    a.s.lease_ms = a.set.lease_ms;
    a.s.refused_retry_ms = a.set.refused_retry_ms;
    a.group = store_group_new();
    a.s.disp = store_dispatch_new(a.set.lease_ms, 3 * a.set.heartbeat_ms, hd_now_ms() * 1000);
    int rc = 1;
    if (open_sockets(&a, cfg) == 0 && store_work_load_queues(&a.s) == 0) {
        hd_info("event=ready api=%s work=%s events=%s last_seq=%lld lease_ms=%lld curve=%s",
                a.set.api, a.set.work, a.set.events, (long long)store_db_last_seq(a.s.db),
                (long long)a.set.lease_ms, a.curve.enabled ? "on" : "off");
        rc = run(&a) == 0 ? 0 : 1;
    }
    close_all(&a);
    hd_config_destroy(&cfg);
    close(a.sigfd);
    hd_info("event=stopped");
    return rc;
}
