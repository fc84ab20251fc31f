/* A small registry of Prometheus metrics and of the service's health, shared between the
 * service's loop (which updates) and the HTTP thread (which reads, hd/http.h).
 *
 * Series are registered at start (or lazily, under the registry's lock) and then updated with
 * C11 atomics only: no lock and no formatting on the hot path. Every function that takes an
 * hd_metric accepts NULL and then does nothing, so code that is also run without a registry
 * (unit tests of a module) needs no checks.
 *
 * Names are full Prometheus names starting with "helpdesk_" (counters end in "_total"); every
 * sample carries service="<service>" and, for a family registered with a label, that one label.
 * The text is exposition format 0.0.4, families in the order they were first registered. */
#ifndef HD_METRICS_H
#define HD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hd_metrics hd_metrics;
typedef struct hd_metric hd_metric; /* one series: a counter, a gauge or a histogram */

/* `service` is copied. Caller owns the result; aborts on out-of-memory. */
hd_metrics *hd_metrics_new(const char *service);
/* Safe on NULL and twice; sets *m to NULL. Every hd_metric of it is gone too. */
void hd_metrics_destroy(hd_metrics **m);

/* The series of family `name` with label `label`="value" (both NULL: no label), made on first
 * use; the same arguments give the same series; NULL (quietly) when m is NULL. A family keeps its kind, help, label name and
 * buckets from its first registration: NULL (and an error logged) for a conflicting one. */
hd_metric *hd_metrics_counter(hd_metrics *m, const char *name, const char *help, const char *label,
                              const char *value);
hd_metric *hd_metrics_gauge(hd_metrics *m, const char *name, const char *help, const char *label,
                            const char *value);
/* `bounds`: the upper bounds of the buckets, increasing, at most HD_METRICS_MAX_BUCKETS (the
 * +Inf bucket is implied); copied. */
#define HD_METRICS_MAX_BUCKETS 24
hd_metric *hd_metrics_histogram(hd_metrics *m, const char *name, const char *help,
                                const double *bounds, size_t nbounds, const char *label,
                                const char *value);

/* Buckets for latencies in seconds: 1 ms to 5 s. */
extern const double hd_metrics_latency_buckets[12];
/* Buckets for sizes (items in a batch): 1 to 5000. */
extern const double hd_metrics_size_buckets[12];

void hd_metric_inc(hd_metric *counter);
void hd_metric_add(hd_metric *counter, uint64_t n);
void hd_metric_set(hd_metric *gauge, int64_t v);
void hd_metric_gauge_add(hd_metric *gauge, int64_t delta);
void hd_metric_observe(hd_metric *histogram, double v);
/* Observes the seconds since `start_us` (hd_metrics_now_us) in a histogram. */
void hd_metric_observe_since(hd_metric *histogram, int64_t start_us);
/* CLOCK_MONOTONIC microseconds, for latencies. */
int64_t hd_metrics_now_us(void);

/* The value of a counter or gauge (for tests and logs); 0 for NULL. */
int64_t hd_metric_value(const hd_metric *metric);

/* ---- health ---- */

/* The service loop turned now: /healthz fails when it has not for stale_ms. */
void hd_metrics_beat(hd_metrics *m);
/* Whether the service can do its job, and if not why: `reason` must be a string literal (it is
 * read by the HTTP thread later). Starts not ready ("starting"). */
void hd_metrics_set_ready(hd_metrics *m, bool ready, const char *reason);
/* The age of the last beat in ms (0 right after a beat). */
int64_t hd_metrics_beat_age_ms(const hd_metrics *m);
/* True when ready; otherwise *reason (may be NULL) says why. */
bool hd_metrics_ready(const hd_metrics *m, const char **reason);

/* The whole exposition text, with the built-in series first (helpdesk_uptime_seconds,
 * helpdesk_process_start_time_seconds, helpdesk_ready, helpdesk_loop_last_turn_seconds).
 * NUL-terminated; caller frees. */
char *hd_metrics_render(hd_metrics *m, size_t *len);

#endif
