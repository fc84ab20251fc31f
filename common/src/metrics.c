#include "hd/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hd/clock.h"
#include "hd/log.h"
#include "hd/strbuf.h"
#include "hd/alloc.h"

const double hd_metrics_latency_buckets[12] = {0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
                                               0.1,   0.25,  0.5,   1,    2.5,   5};
const double hd_metrics_size_buckets[12] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

enum kind { COUNTER, GAUGE, HISTOGRAM };

struct hd_metric {
    enum kind kind;
    char *value;            /* the label's value, NULL without a label */
    _Atomic uint64_t count; /* counter */
    _Atomic int64_t gauge;
    size_t nbounds;
    double bounds[HD_METRICS_MAX_BUCKETS];                /* a copy: the family array may move */
    _Atomic uint64_t buckets[HD_METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative */
    _Atomic double sum;
};

typedef struct {
    enum kind kind;
    char *name, *help, *label;
    double bounds[HD_METRICS_MAX_BUCKETS];
    size_t nbounds;
    hd_metric **series;
    size_t n, cap;
} family;

struct hd_metrics {
    char *service;
    pthread_mutex_t lock; /* registration and rendering; never the updates */
    family *fams;
    size_t n, cap;
    int64_t start_ms;      /* wall clock, for helpdesk_process_start_time_seconds */
    int64_t start_mono_ms; /* for the uptime */
    _Atomic int64_t beat_ms;
    _Atomic bool ready;
    _Atomic(const char *) reason;
};

hd_metrics *hd_metrics_new(const char *service)
{
    hd_metrics *m = hd_xcalloc(1, sizeof *m);
    m->service = hd_xstrdup(service);
    pthread_mutex_init(&m->lock, NULL);
    m->start_ms = hd_now_ms();
    m->start_mono_ms = hd_mono_ms();
    atomic_init(&m->beat_ms, m->start_mono_ms);
    atomic_init(&m->ready, false);
    atomic_init(&m->reason, "starting");
    return m;
}

void hd_metrics_destroy(hd_metrics **m)
{
    if (m == NULL || *m == NULL)
        return;
    hd_metrics *r = *m;
    for (size_t i = 0; i < r->n; i++) {
        family *f = &r->fams[i];
        for (size_t j = 0; j < f->n; j++) {
            free(f->series[j]->value);
            free(f->series[j]);
        }
        free(f->series);
        free(f->name);
        free(f->help);
        free(f->label);
    }
    free(r->fams);
    free(r->service);
    pthread_mutex_destroy(&r->lock);
    free(r);
    *m = NULL;
}

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static family *find_family(hd_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->fams[i].name, name) == 0)
            return &m->fams[i];
    return NULL;
}

static family *add_family(hd_metrics *m, enum kind kind, const char *name, const char *help,
                          const char *label, const double *bounds, size_t nbounds)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->fams = realloc(m->fams, m->cap * sizeof *m->fams);
        if (m->fams == NULL)
            abort();
    }
    family *f = &m->fams[m->n++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->name = hd_xstrdup(name);
    f->help = hd_xstrdup(help);
    f->label = label ? hd_xstrdup(label) : NULL;
    f->nbounds = nbounds;
    if (nbounds > 0)
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    return f;
}

static bool family_matches(const family *f, enum kind kind, const char *label, const double *bounds,
                           size_t nbounds)
{
    return f->kind == kind && same_text(f->label, label) && f->nbounds == nbounds &&
           (nbounds == 0 || memcmp(f->bounds, bounds, nbounds * sizeof *bounds) == 0);
}

static hd_metric *family_series(family *f, const char *value)
{
    for (size_t i = 0; i < f->n; i++)
        if (same_text(f->series[i]->value, value))
            return f->series[i];
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4;
        f->series = realloc(f->series, f->cap * sizeof(hd_metric *));
        if (f->series == NULL)
            abort();
    }
    hd_metric *s = hd_xcalloc(1, sizeof *s);
    s->kind = f->kind;
    s->value = value ? hd_xstrdup(value) : NULL;
    s->nbounds = f->nbounds;
    memcpy(s->bounds, f->bounds, sizeof s->bounds);
    atomic_init(&s->sum, 0.0);
    f->series[f->n++] = s;
    return s;
}

static bool valid_bounds(const double *bounds, size_t n)
{
    if (n > HD_METRICS_MAX_BUCKETS || (n > 0 && bounds == NULL))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return false;
    return true;
}

static hd_metric *series(hd_metrics *m, enum kind kind, const char *name, const char *help,
                         const double *bounds, size_t nbounds, const char *label, const char *value)
{
    if (m == NULL) /* no registry: nothing is counted (a module run without one) */
        return NULL;
    if (name == NULL || (label == NULL) != (value == NULL) || !valid_bounds(bounds, nbounds)) {
        hd_error("event=metric_invalid name=%s", name ? name : "");
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    hd_metric *s = NULL;
    family *f = find_family(m, name);
    if (f == NULL)
        f = add_family(m, kind, name, help ? help : "", label, bounds, nbounds);
    if (family_matches(f, kind, label, bounds, nbounds))
        s = family_series(f, value);
    pthread_mutex_unlock(&m->lock);
    if (s == NULL)
        hd_error("event=metric_conflict name=%s reason=\"registered before with another kind, "
                 "label or buckets\"",
                 name);
    return s;
}

hd_metric *hd_metrics_counter(hd_metrics *m, const char *name, const char *help, const char *label,
                              const char *value)
{
    return series(m, COUNTER, name, help, NULL, 0, label, value);
}

hd_metric *hd_metrics_gauge(hd_metrics *m, const char *name, const char *help, const char *label,
                            const char *value)
{
    return series(m, GAUGE, name, help, NULL, 0, label, value);
}

hd_metric *hd_metrics_histogram(hd_metrics *m, const char *name, const char *help,
                                const double *bounds, size_t nbounds, const char *label,
                                const char *value)
{
    return series(m, HISTOGRAM, name, help, bounds, nbounds, label, value);
}

/* ---- updates: atomics only ---- */

void hd_metric_inc(hd_metric *c) { hd_metric_add(c, 1); }

void hd_metric_add(hd_metric *c, uint64_t n)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->count, n, memory_order_relaxed);
}

void hd_metric_set(hd_metric *g, int64_t v)
{
    if (g != NULL)
        atomic_store_explicit(&g->gauge, v, memory_order_relaxed);
}

void hd_metric_gauge_add(hd_metric *g, int64_t delta)
{
    if (g != NULL)
        atomic_fetch_add_explicit(&g->gauge, delta, memory_order_relaxed);
}

void hd_metric_observe(hd_metric *h, double v)
{
    if (h == NULL || h->kind != HISTOGRAM)
        return;
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    double old = atomic_load_explicit(&h->sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum, &old, old + v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void hd_metric_observe_since(hd_metric *h, int64_t start_us)
{
    if (h != NULL)
        hd_metric_observe(h, (double)(hd_metrics_now_us() - start_us) / 1e6);
}

int64_t hd_metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t hd_metric_value(const hd_metric *metric)
{
    if (metric == NULL)
        return 0;
    if (metric->kind == GAUGE)
        return atomic_load_explicit(&metric->gauge, memory_order_relaxed);
    return (int64_t)atomic_load_explicit(&metric->count, memory_order_relaxed);
}

/* ---- health ---- */

void hd_metrics_beat(hd_metrics *m)
{
    if (m != NULL)
        atomic_store_explicit(&m->beat_ms, hd_mono_ms(), memory_order_relaxed);
}

void hd_metrics_set_ready(hd_metrics *m, bool ready, const char *reason)
{
    if (m == NULL)
        return;
    /* The reason first, so a reader that sees "not ready" never sees an older reason. */
    atomic_store_explicit(&m->reason, reason ? reason : "", memory_order_release);
    atomic_store_explicit(&m->ready, ready, memory_order_release);
}

int64_t hd_metrics_beat_age_ms(const hd_metrics *m)
{
    int64_t age = hd_mono_ms() - atomic_load_explicit(&m->beat_ms, memory_order_relaxed);
    return age > 0 ? age : 0;
}

bool hd_metrics_ready(const hd_metrics *m, const char **reason)
{
    bool ready = atomic_load_explicit(&m->ready, memory_order_acquire);
    if (reason != NULL)
        *reason = atomic_load_explicit(&m->reason, memory_order_acquire);
    return ready;
}

/* ---- the exposition text ---- */

/* HELP text: backslash and line feed escaped. */
static void add_help(hd_strbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            hd_strbuf_str(b, "\\\\");
        else if (*s == '\n')
            hd_strbuf_str(b, "\\n");
        else
            hd_strbuf_add(b, s, 1);
    }
}

/* A label value: backslash, double quote and line feed escaped. */
static void add_label_value(hd_strbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '"')
            hd_strbuf_str(b, "\\\"");
        else if (*s == '\\' || *s == '\n')
            hd_strbuf_str(b, *s == '\\' ? "\\\\" : "\\n");
        else
            hd_strbuf_add(b, s, 1);
    }
}

/* The shortest text that reads back as the same double (Prometheus parses it with strtod). */
static void add_double(hd_strbuf *b, double v)
{
    char text[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v)
            break;
    }
    hd_strbuf_str(b, text);
}

/* {service="x",label="v"[,le="b"]} */
static void add_labels(hd_strbuf *b, const hd_metrics *m, const family *f, const hd_metric *s,
                       const char *le)
{
    hd_strbuf_str(b, "{service=\"");
    add_label_value(b, m->service);
    hd_strbuf_str(b, "\"");
    if (f != NULL && f->label != NULL) {
        hd_strbuf_fmt(b, ",%s=\"", f->label);
        add_label_value(b, s->value);
        hd_strbuf_str(b, "\"");
    }
    if (le != NULL)
        hd_strbuf_fmt(b, ",le=\"%s\"", le);
    hd_strbuf_str(b, "}");
}

static void add_header(hd_strbuf *b, const char *name, const char *help, const char *type)
{
    hd_strbuf_fmt(b, "# HELP %s ", name);
    add_help(b, help);
    hd_strbuf_fmt(b, "\n# TYPE %s %s\n", name, type);
}

static void add_histogram(hd_strbuf *b, const hd_metrics *m, const family *f, const hd_metric *s)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= s->nbounds; i++) {
        total += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        hd_strbuf le = {0};
        if (i < s->nbounds)
            add_double(&le, s->bounds[i]);
        else
            hd_strbuf_str(&le, "+Inf");
        hd_strbuf_fmt(b, "%s_bucket", f->name);
        add_labels(b, m, f, s, le.s);
        free(le.s);
        hd_strbuf_fmt(b, " %llu\n", (unsigned long long)total);
    }
    hd_strbuf_fmt(b, "%s_sum", f->name);
    add_labels(b, m, f, s, NULL);
    hd_strbuf_str(b, " ");
    add_double(b, atomic_load_explicit(&s->sum, memory_order_relaxed));
    hd_strbuf_str(b, "\n");
    hd_strbuf_fmt(b, "%s_count", f->name);
    add_labels(b, m, f, s, NULL);
    hd_strbuf_fmt(b, " %llu\n", (unsigned long long)total);
}

static void add_family_text(hd_strbuf *b, const hd_metrics *m, const family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    add_header(b, f->name, f->help, types[f->kind]);
    for (size_t i = 0; i < f->n; i++) {
        const hd_metric *s = f->series[i];
        if (f->kind == HISTOGRAM) {
            add_histogram(b, m, f, s);
            continue;
        }
        hd_strbuf_str(b, f->name);
        add_labels(b, m, f, s, NULL);
        if (f->kind == COUNTER)
            hd_strbuf_fmt(
                b, " %llu\n",
                (unsigned long long)atomic_load_explicit(&s->count, memory_order_relaxed));
        else
            hd_strbuf_fmt(b, " %lld\n",
                          (long long)atomic_load_explicit(&s->gauge, memory_order_relaxed));
    }
}

static void add_builtin(hd_strbuf *b, const hd_metrics *m, const char *name, const char *help,
                        double v)
{
    add_header(b, name, help, "gauge");
    hd_strbuf_str(b, name);
    add_labels(b, m, NULL, NULL, NULL);
    hd_strbuf_str(b, " ");
    add_double(b, v);
    hd_strbuf_str(b, "\n");
}

static void add_builtins(hd_strbuf *b, const hd_metrics *m)
{
    add_builtin(b, m, "helpdesk_uptime_seconds", "Seconds since the process started.",
                (double)(hd_mono_ms() - m->start_mono_ms) / 1000.0);
    add_builtin(b, m, "helpdesk_process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds.",
                (double)m->start_ms / 1000.0);
    add_builtin(b, m, "helpdesk_ready", "1 when the service can do its job (/readyz is 200).",
                hd_metrics_ready(m, NULL) ? 1 : 0);
    add_builtin(b, m, "helpdesk_loop_last_turn_seconds",
                "Seconds since the service loop last turned (/healthz fails when too long).",
                (double)hd_metrics_beat_age_ms(m) / 1000.0);
}

char *hd_metrics_render(hd_metrics *m, size_t *len)
{
    hd_strbuf b = {0};
    add_builtins(&b, m);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        add_family_text(&b, m, &m->fams[i]);
    pthread_mutex_unlock(&m->lock);
    if (len != NULL)
        *len = b.len;
    return b.s;
}
