/* The work socket and dispatch: work_ready, heartbeats and acks, sending leased work items
 * (pump), expiring leases and silent workers, loading the queues from the database. */
#ifndef STORE_WORK_H
#define STORE_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/metrics.h"
#include "hd/transport.h"
#include "store_db.h"
#include "store_dispatch.h"

/* The series the group commit and the work socket update (hd/metrics.h): main.c registers
 * them; each may be NULL. Arrays are indexed by Request body case and by ErrorCode. */
#define STORE_METRICS_BODIES 64
#define STORE_METRICS_ERRORS 16
typedef struct {
    hd_metric *api_in, *api_out, *work_in, *work_out, *published;
    hd_metric *group_size, *commit_seconds;
    hd_metric *requests[STORE_METRICS_BODIES];
    hd_metric *errors[STORE_METRICS_ERRORS];
} store_metrics;

/* The counter of a request type or an error code; NULL when out of range (none counted). */
hd_metric *store_metrics_request(const store_metrics *m, int body_case);
hd_metric *store_metrics_error(const store_metrics *m, int code);

/* The handles the loop shares with the group commit and dispatch; main.c owns them all. */
typedef struct {
    store_db *db;
    store_dispatch *disp;
    void *api;            /* ROUTER */
    void *work;           /* ROUTER */
    void *pub;            /* PUB */
    int64_t lease_ms;
    int64_t refused_retry_ms; /* a result the database refused: its ticket waits this long */
    int64_t reconnect_at; /* mono ms; 0 when the database is fine */
    int64_t backoff_ms;
    store_metrics m;
} store_svc;

/* Schedules a reconnect when the database connection broke. */
void store_svc_note_db(store_svc *s);

/* A worker-supplied name, made safe for a key="value" log line. */
void store_work_log_name(char *out, size_t len, const char *name);
void store_work_key_of(const hd_peer *peer, store_worker_key *k);
void store_work_reply_error(store_svc *s, const hd_peer *peer, uint64_t id, hd_error_buf *err);
void store_work_send_ack(store_svc *s, const hd_peer *peer, uint64_t id, const HdWorkResult *res,
                         bool applied);

/* work_ready has no reply unless it is wrong. */
void store_work_on_ready(store_svc *s, const hd_peer *peer, const HdRequest *req);
void store_work_on_heartbeat(store_svc *s, const hd_peer *peer, const HdRequest *req);

/* Fills the dispatch queues from the database (at start and after a reconnect). */
__attribute__((warn_unused_result)) int store_work_load_queues(store_svc *s);
/* Sends up to a batch of work items to workers with credit. */
void store_work_pump(store_svc *s);
/* Expires leases (re-queued) and forgets silent workers, logging them. */
void store_work_expire(store_svc *s, int64_t now);

#endif
