/* The store prepares its statements once per connection, and PostgreSQL keeps the plan it made
 * for a prepared statement until an ANALYZE of its tables, however large they grow. On a fresh
 * database that plan was made for empty tables, where reading the whole table looks cheapest:
 * a store that does so turns slower with every ticket (the benchmark saw 8-13 ms per dispatch
 * at 20,000 tickets, and acks 60-80 ms at half rate). This test opens the store's connection on
 * an empty database, asks PostgreSQL for each prepared statement's generic plan (the one it
 * keeps) and refuses a sequential scan of a table that grows with the tickets; then again after
 * an ANALYZE of small tables (200 tickets), the plan autovacuum's first ANALYZE would leave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "../../services/store/store_dbi.h"

/* Tables with a row per contact, ticket, event or message. */
static const char *const growing[] = {"tickets", "contacts", "ticket_events", "communications",
                                      "escalations", "sla_signals", NULL};

typedef struct {
    char server[512];
    char db[64];
    char url[640];
    store_db *store;
} plans_fixture;

static PGresult *exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    return r;
}

/* The server URL with its database replaced by `db`. */
static void url_with_db(const char *server, const char *db, char *out, size_t len)
{
    const char *host = strstr(server, "://");
    host = host ? host + 3 : server;
    const char *slash = strchr(host, '/');
    const char *query = strchr(host, '?');
    size_t base = slash ? (size_t)(slash - server) : query ? (size_t)(query - server)
                                                           : strlen(server);
    snprintf(out, len, "%.*s/%s%s", (int)base, server, db, query ? query : "");
}

static void admin(const plans_fixture *f, const char *verb)
{
    PGconn *c = PQconnectdb(f->server);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", f->server, PQerrorMessage(c));
    char sql[160];
    snprintf(sql, sizeof sql, "%s DATABASE %s", verb, f->db);
    PQclear(exec_ok(c, sql));
    PQfinish(c);
}

static int setup(void **state)
{
    const char *server = getenv("HD_TEST_PG_URL");
    if (server == NULL || server[0] == '\0') {
        fprintf(stderr, "test_store_plans: HD_TEST_PG_URL is not set (tests/run.sh sets it)\n");
        return -1;
    }
    plans_fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->server, sizeof f->server, "%s", server);
    snprintf(f->db, sizeof f->db, "hd_plans_%d", (int)getpid());
    admin(f, "CREATE");
    url_with_db(f->server, f->db, f->url, sizeof f->url);
    char err[512];
    f->store = store_db_open(f->url, err, sizeof err);
    if (f->store == NULL) {
        fprintf(stderr, "test_store_plans: %s\n", err);
        admin(f, "DROP");
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    plans_fixture *f = *state;
    store_db_destroy(&f->store);
    admin(f, "DROP");
    free(f);
    return 0;
}

static bool scans_growing_table(const char *plan, char *table, size_t len)
{
    for (int i = 0; growing[i]; i++) {
        char needle[80];
        snprintf(needle, sizeof needle, "Seq Scan on %s ", growing[i]);
        if (strstr(plan, needle)) {
            snprintf(table, len, "%s", growing[i]);
            return true;
        }
    }
    return false;
}

/* The generic plan of prepared statement `name` with `nparams` parameters, as one text. */
static char *generic_plan(PGconn *c, const char *name, int nparams)
{
    char sql[1024];
    int at = snprintf(sql, sizeof sql, "EXPLAIN EXECUTE %s", name);
    for (int i = 0; i < nparams; i++)
        at += snprintf(sql + at, sizeof sql - (size_t)at, "%sNULL", i ? ", " : "(");
    if (nparams > 0)
        snprintf(sql + at, sizeof sql - (size_t)at, ")");
    PGresult *r = exec_ok(c, sql);
    size_t total = 1;
    for (int row = 0; row < PQntuples(r); row++)
        total += strlen(PQgetvalue(r, row, 0)) + 1;
    char *plan = calloc(1, total);
    assert_non_null(plan);
    for (int row = 0; row < PQntuples(r); row++) {
        strcat(plan, PQgetvalue(r, row, 0));
        strcat(plan, "\n");
    }
    PQclear(r);
    return plan;
}

/* Every prepared statement's generic plan: none reads a growing table whole. */
static void assert_no_whole_table_reads(PGconn *c)
{
    PQclear(exec_ok(c, "SET plan_cache_mode = force_generic_plan"));
    PGresult *r = exec_ok(c, "SELECT name, cardinality(parameter_types) FROM "
                             "pg_prepared_statements ORDER BY name");
    int n = PQntuples(r);
    assert_true(n >= 20); /* the store's statements are there: this is its own session */
    int bad = 0;
    for (int row = 0; row < n; row++) {
        const char *name = PQgetvalue(r, row, 0);
        char *plan = generic_plan(c, name, atoi(PQgetvalue(r, row, 1)));
        char table[64];
        if (scans_growing_table(plan, table, sizeof table)) {
            fprintf(stderr, "statement %s reads all of %s:\n%s\n", name, table, plan);
            bad++;
        }
        free(plan);
    }
    PQclear(r);
    PQclear(exec_ok(c, "RESET plan_cache_mode"));
    assert_int_equal(bad, 0);
}

static void no_statement_reads_a_growing_table_whole(void **state)
{
    plans_fixture *f = *state;
    assert_no_whole_table_reads(f->store->conn);
}

/* Small tables, analysed: a whole-table read now looks cheaper than an index to the planner. */
static void nor_after_an_analyze_of_small_tables(void **state)
{
    plans_fixture *f = *state;
    PGconn *c = f->store->conn;
    PQclear(exec_ok(c, "INSERT INTO contacts (id, source, external_id, channel, received_at, "
                       "contact_pb, created_at) SELECT g, 'plans', 'c' || g, 'web', now(), "
                       "'\\x00', now() FROM generate_series(1, 100) g"));
    PQclear(exec_ok(c, "INSERT INTO tickets (id, contact_id, problem_index, status) "
                       "SELECT g, (g + 1) / 2, g % 2, 'new' FROM generate_series(1, 200) g"));
    PQclear(exec_ok(c, "INSERT INTO ticket_events (seq, ticket_id, kind, actor, at, status) "
                       "SELECT g, g, 'created', 'intake', now(), 'new' "
                       "FROM generate_series(1, 200) g"));
    PQclear(exec_ok(c, "ANALYZE contacts, tickets, ticket_events"));
    assert_no_whole_table_reads(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_statement_reads_a_growing_table_whole),
        cmocka_unit_test(nor_after_an_analyze_of_small_tables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
