/* The notifier's benchmark (tests/bench/bench.sh runs it after the pipeline benchmark, against
 * the same durable PostgreSQL): how fast hd-notifier acknowledges customers.
 *
 * 1. hd-store and hd-intake start; BENCH_NOTIFY_CONTACTS contacts (20000) of 1-3 problems each
 *    are submitted through intake flat out (4 connections x 32 in flight), so the event log
 *    holds one `created` event per ticket and the notifier has a backlog of that many contacts.
 * 2. hd-notifier starts on its log channel (no SMTP, no webhook) at cursor 0. From its
 *    "event=ready" line until every contact has a sent ack/<contact> communication in the
 *    store (polled every 100 ms, at most BENCH_NOTIFY_DEADLINE_S, 300), acks/s is the number of
 *    contacts acknowledged over that time.
 * 3. Checked: no communication key recorded as sent twice; the services stop cleanly.
 * Prints one line and writes JSON to BENCH_NOTIFY_JSON (bench.sh: build/bench/notifier.json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "hd/clock.h"
#include "load.h"
#include "sinks.h"

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && v[0] ? strtol(v, NULL, 10) : def;
}

static void fill(ht_contact *c, int i, void *arg)
{
    (void)arg;
    static const char *const langs[] = {"en", "fr", "ar", "id", "ur"};
    c->customer.language = (char *)langs[i % 5];
    for (int k = 0; k <= i % 3; k++)
        ht_contact_add(c, "network", "Le réseau est en panne", "Depuis ce matin, aucun accès");
}

static int submit_all(ht_env *env, int contacts)
{
    ht_load_opts o = {.contacts = contacts, .conns = 4, .window = 32, .timeout_ms = 5000,
                      .source = "bench-notify", .fill = fill};
    ht_load *l = ht_load_new(env, &o);
    if (l == NULL)
        return -1;
    int64_t t0 = hd_mono_ms();
    while (!ht_load_done(l))
        if (ht_load_step(l, 50) != 0)
            break;
    const ht_load_stats *st = ht_load_get_stats(l);
    int rc = st->acked == contacts ? 0 : -1;
    printf("notifier bench: %ld contacts (%ld tickets) submitted in %.1f s\n", st->acked,
           st->tickets, (double)(hd_mono_ms() - t0) / 1000.0);
    ht_load_destroy(&l);
    return rc;
}

static long acks(ht_env *env)
{
    return ht_sql_long(env, "SELECT count(DISTINCT key) FROM communications "
                            "WHERE key LIKE 'ack/%' AND sent");
}

static void write_json(int contacts, long done, double secs, double rate, long twice)
{
    const char *json = getenv("BENCH_NOTIFY_JSON");
    FILE *f = json && json[0] ? fopen(json, "w") : NULL;
    if (f == NULL)
        return;
    fprintf(f,
            "{\"contacts\": %d, \"acked\": %ld, \"seconds\": %.3f, \"acks_per_s\": %.1f, "
            "\"sent_twice\": %ld}\n",
            contacts, done, secs, rate, twice);
    fclose(f);
}

int main(void)
{
    int contacts = (int)env_long("BENCH_NOTIFY_CONTACTS", 20000);
    long deadline_s = env_long("BENCH_NOTIFY_DEADLINE_S", 300);
    ht_env *env = ht_env_new("bench-notifier");
    char templates[512], extra[1024];
    if (ht_source_path("deploy/local/templates", templates, sizeof templates) != 0)
        return 1;
    snprintf(extra, sizeof extra, "notifier:\n  templates: \"%s\"\n", templates);
    ht_env_write_config(env, extra);
    ht_proc *store = NULL, *intake = NULL;
    if (ht_start_pipeline(env, &store, &intake, NULL, NULL) != 0 ||
        submit_all(env, contacts) != 0) {
        ht_env_destroy(&env);
        return 1;
    }
    int64_t t0 = hd_mono_ms();
    if (ht_start_ready(env, "hd-notifier", NULL) == NULL) {
        ht_env_destroy(&env);
        return 1;
    }
    int64_t ready = hd_mono_ms(), end = ready + deadline_s * 1000, half = 0;
    long done = 0;
    while ((done = acks(env)) < contacts && hd_mono_ms() < end) {
        if (half == 0 && done >= contacts / 2)
            half = hd_mono_ms();
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    double secs = (double)(hd_mono_ms() - ready) / 1000.0;
    long twice = ht_sql_long(env, "SELECT count(*) FROM (SELECT key FROM communications "
                                  "WHERE sent GROUP BY key HAVING count(*) > 1) x");
    double rate = secs > 0 ? (double)done / secs : 0;
    printf("notifier bench: %ld of %d contacts acknowledged in %.1f s after ready (start %.1f s)"
           " = %.0f acks/s; half of them after %.1f s; %ld keys sent twice\n",
           done, contacts, secs, (double)(ready - t0) / 1000.0, rate,
           half ? (double)(half - ready) / 1000.0 : secs, twice);
    write_json(contacts, done, secs, rate, twice);
    int bad = ht_stop_all(env);
    ht_env_destroy(&env);
    return done == contacts && twice == 0 && bad == 0 ? 0 : 1;
}
