#include "checks.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h and stdint.h, which it needs */

#include "hd/clock.h"

static long sql_long(ht_env *env, const char *sql)
{
    long v = ht_sql_long(env, sql);
    if (v < 0)
        fail_msg("SQL failed: %s", sql);
    return v;
}

typedef struct {
    ht_env *env;
    long want;
} count_wait;

static bool all_queued(void *arg)
{
    count_wait *w = arg;
    return ht_sql_long(w->env, "SELECT count(*) FROM tickets WHERE status = 'queued'") >= w->want;
}

void ht_check_all_queued(ht_env *env, long tickets, int timeout_ms)
{
    count_wait w = {env, tickets};
    int64_t t0 = hd_mono_ms();
    if (!ht_wait_until(all_queued, &w, timeout_ms))
        fail_msg("%ld of %ld tickets queued after %d s",
                 ht_sql_long(env, "SELECT count(*) FROM tickets WHERE status = 'queued'"), tickets,
                 timeout_ms / 1000);
    printf("queued: all %ld tickets, the last %.1f s after the last acknowledgement\n", tickets,
           (double)(hd_mono_ms() - t0) / 1000.0);
}

/* The load's number of a contact from its external_id "<source>-<i>"; -1 when not one. */
static int contact_number(const char *ext, const char *source)
{
    size_t prefix = strlen(source);
    if (strncmp(ext, source, prefix) != 0 || ext[prefix] != '-')
        return -1;
    char *end = NULL;
    long i = strtol(ext + prefix + 1, &end, 10);
    return end != NULL && *end == '\0' && i >= 0 && i < 100000000 ? (int)i : -1;
}

/* Compares one row (external_id, contact id, problem index, ticket id) with the receipt. */
static void check_row(const ht_load *l, PGresult *r, int row, const char *source, int contacts,
                      int *seen)
{
    const char *ext = PQgetvalue(r, row, 0);
    int i = contact_number(ext, source);
    const ht_load_contact *c = i < contacts ? ht_load_get_contact(l, i) : NULL;
    if (c == NULL) {
        fail_msg("a contact the test never sent: %s", ext);
        return; /* not reached: fail_msg ends the test */
    }
    long long cid = strtoll(PQgetvalue(r, row, 1), NULL, 10);
    int k = (int)strtol(PQgetvalue(r, row, 2), NULL, 10);
    long long tid = strtoll(PQgetvalue(r, row, 3), NULL, 10);
    if (cid != c->contact_id)
        fail_msg("%s is contact %lld in the store but the receipt said %lld", ext, cid,
                 (long long)c->contact_id);
    if (k != seen[i] || (size_t)k >= c->ntickets || c->tickets[k] != tid)
        fail_msg("%s: the store has ticket %lld as problem %d; the receipt named %zu tickets "
                 "(problem %d: %lld)",
                 ext, tid, k, c->ntickets, k,
                 (size_t)k < c->ntickets ? (long long)c->tickets[k] : -1LL);
    seen[i]++;
}

void ht_check_receipts(ht_env *env, const ht_load *l, const char *source, int contacts,
                       ht_problems_fn problems_of)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT c.external_id, c.id, t.problem_index, t.id FROM contacts c "
             "JOIN tickets t ON t.contact_id = c.id WHERE c.source = '%s' "
             "ORDER BY c.id, t.problem_index",
             source);
    PGresult *r = PQexec(env->pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("SQL failed: %s", PQerrorMessage(env->pg));
    int *seen = calloc((size_t)contacts + 1, sizeof *seen);
    assert_non_null(seen);
    for (int row = 0; row < PQntuples(r); row++)
        check_row(l, r, row, source, contacts, seen);
    PQclear(r);
    for (int i = 0; i < contacts; i++) {
        size_t got = ht_load_get_contact(l, i)->ntickets;
        if (seen[i] != problems_of(i) || got != (size_t)problems_of(i))
            fail_msg("%s-%d: %d problems sent, %d tickets in the store, %zu in the receipt", source,
                     i, problems_of(i), seen[i], got);
    }
    free(seen);
    printf("receipts: all %d contacts in the store with exactly the tickets their receipts "
           "named\n",
           contacts);
}

void ht_check_events(ht_env *env, long tickets)
{
    assert_int_equal(sql_long(env, "SELECT count(*) FROM tickets"), tickets);
    assert_int_equal(sql_long(env, "SELECT count(*) FROM tickets WHERE status <> 'queued'"), 0);
    long bad = sql_long(env, "SELECT count(*) FROM (SELECT t.id FROM tickets t "
                             "LEFT JOIN ticket_events e ON e.ticket_id = t.id GROUP BY t.id "
                             "HAVING count(*) FILTER (WHERE e.kind = 'created') <> 1 OR "
                             "count(*) FILTER (WHERE e.kind = 'triaged') <> 1 OR "
                             "count(*) FILTER (WHERE e.kind = 'queued') <> 1) x");
    if (bad != 0)
        fail_msg("%ld tickets do not have exactly one created, triaged and queued event", bad);
    /* one statement, so the notifier's own events arriving meanwhile cannot skew it */
    PGresult *r = PQexec(env->pg, "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), "
                                  "count(*), count(DISTINCT seq) FROM ticket_events");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("SQL failed: %s", PQerrorMessage(env->pg));
    long min = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    long max = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    long count = strtol(PQgetvalue(r, 0, 2), NULL, 10);
    long distinct = strtol(PQgetvalue(r, 0, 3), NULL, 10);
    PQclear(r);
    if (min != 1 || max != count || distinct != count)
        fail_msg("the event sequence has a gap: min %ld max %ld count %ld distinct %ld", min, max,
                 count, distinct);
    printf("events: seq 1..%ld without a gap, %ld tickets each created, triaged and queued "
           "once\n",
           max, tickets);
}

void ht_check_load_survived(ht_env *env, ht_load *l, const char *source, int contacts,
                            int queued_ms, long notifier_floor, int consumer_ms)
{
    const ht_load_stats *st = ht_load_get_stats(l);
    if (st->refused != 0)
        fail_msg("%ld contacts were refused; first: %s", st->refused, st->first_refusal);
    if (st->mismatches != 0)
        fail_msg("%ld contacts got receipts naming different tickets", st->mismatches);
    assert_int_equal(st->acked, contacts);
    ht_check_all_queued(env, st->tickets, queued_ms);
    ht_check_receipts(env, l, source, contacts, ht_load_problems_of);
    ht_check_events(env, st->tickets);
    ht_check_consumers(env, notifier_floor, contacts, consumer_ms);
}

long ht_consumer_cursor(ht_env *env, const char *consumer)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT seq FROM consumer_cursors WHERE consumer = '%s'), 0)",
             consumer);
    return ht_sql_long(env, sql);
}

typedef struct {
    ht_env *env;
    const char *consumer;
    long seq;
} cursor_wait;

static bool cursor_reached(void *arg)
{
    cursor_wait *w = arg;
    return ht_consumer_cursor(w->env, w->consumer) >= w->seq;
}

static long acks_sent(ht_env *env)
{
    return ht_sql_long(env, "SELECT count(DISTINCT key) FROM communications "
                            "WHERE key LIKE 'ack/%' AND sent");
}

static bool all_acked(void *arg)
{
    count_wait *w = arg;
    return acks_sent(w->env) >= w->want;
}

/* Every customer has exactly one acknowledgement recorded as sent, and it names every ticket
 * of the contact (the subject carries {{tickets}}: "#12, #13"); no key was sent twice. */
static void check_acks(ht_env *env, long contacts, int timeout_ms)
{
    int64_t t0 = hd_mono_ms();
    long at_start = acks_sent(env);
    count_wait w = {env, contacts};
    if (!ht_wait_until(all_acked, &w, timeout_ms))
        fail_msg("%ld of %ld customers acknowledged after %d s", acks_sent(env), contacts,
                 timeout_ms / 1000);
    long bad = sql_long(env, "SELECT count(*) FROM contacts c WHERE (SELECT count(*) FROM "
                             "communications m WHERE m.key = 'ack/' || c.id AND m.sent) <> 1 OR "
                             "EXISTS (SELECT 1 FROM tickets t JOIN communications m ON m.key = "
                             "'ack/' || c.id AND m.sent WHERE t.contact_id = c.id AND "
                             "m.subject !~ ('#' || t.id || '([^0-9]|$)'))");
    if (bad != 0)
        fail_msg("%ld customers do not have exactly one acknowledgement naming all their "
                 "tickets",
                 bad);
    long twice = sql_long(env, "SELECT count(*) FROM (SELECT key FROM communications WHERE sent "
                               "GROUP BY key HAVING count(*) > 1) x");
    if (twice != 0)
        fail_msg("%ld communications were sent more than once", twice);
    printf("notifier: all %ld customers acknowledged once, naming all their tickets (%ld of "
           "them when this check began, the rest within %.1f s)\n",
           contacts, at_start, (double)(hd_mono_ms() - t0) / 1000.0);
}

void ht_check_consumers(ht_env *env, long notifier_floor, long contacts, int timeout_ms)
{
    int64_t t0 = hd_mono_ms();
    cursor_wait w = {env, "escalation-timer", 0};
    w.seq = sql_long(env, "SELECT coalesce(max(seq), 0) FROM ticket_events "
                          "WHERE kind <> 'communication'");
    if (!ht_wait_until(cursor_reached, &w, timeout_ms))
        fail_msg("the escalation timer's cursor is at %ld, not at the log's end %ld, after %d s",
                 ht_consumer_cursor(env, w.consumer), w.seq, timeout_ms / 1000);
    printf("escalation-timer: caught up to seq %ld in %.1f s\n", w.seq,
           (double)(hd_mono_ms() - t0) / 1000.0);
    w.consumer = "notifier";
    w.seq = notifier_floor + 1;
    if (!ht_wait_until(cursor_reached, &w, timeout_ms))
        fail_msg("the notifier's cursor stayed at %ld, where it was stopped or cut off",
                 ht_consumer_cursor(env, "notifier"));
    check_acks(env, contacts, timeout_ms);
}
