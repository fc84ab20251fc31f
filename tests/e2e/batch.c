/* End to end: the store's batched group commit keeps every per-request guarantee. Requests
 * that reach the store together run as one batch (one lookup of the idempotency keys, one
 * INSERT per table): the same key twice in one group gives the same tickets, a key taken
 * before gives its old tickets, and one request the database refuses gets its own error while
 * the others of its group commit (the batch is redone one by one). The store is paused with
 * SIGSTOP while the requests are sent, so they arrive in one loop turn. Real hd-store and
 * PostgreSQL. */
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
#include "hd/transport.h"

#define MAX_REQ 32

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store;
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "batch");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, NULL, NULL, NULL);
}

/* One create_tickets with one problem of this category and summary. */
static void send_contact(void *sock, uint64_t id, const char *ext, const char *category,
                         const char *summary)
{
    ht_contact ct;
    ht_contact_init(&ct, "e2e-batch", ext);
    ht_contact_add(&ct, category, summary, "sent in one group");
    HdCreateTickets c = HELPDESK__V1__CREATE_TICKETS__INIT;
    c.contact = &ct.c;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.id = id;
    req.body_case = HELPDESK__V1__REQUEST__BODY_CREATE_TICKETS;
    req.create_tickets = &c;
    assert_int_equal(hd_dealer_send(sock, &req, 0), 0);
}

static void send_create(void *sock, uint64_t id, const char *ext, const char *summary)
{
    send_contact(sock, id, ext, "network", summary);
}

/* Sends n creates (ext[i], summary[i]) while the store is stopped, so its next loop turn
 * reads them all, and collects the n replies by request id (1..n). */
static void create_in_one_group(fixture *f, size_t n, const char *const *ext,
                                const char *const *summary, HdReply **rep)
{
    void *sock = hd_socket_new(f->env->zctx, ZMQ_DEALER, f->env->api_ep, false);
    assert_non_null(sock);
    assert_int_equal(kill(f->store->pid, SIGSTOP), 0);
    for (size_t i = 0; i < n; i++)
        send_create(sock, i + 1, ext[i], summary[i]);
    assert_int_equal(kill(f->store->pid, SIGCONT), 0);
    memset(rep, 0, n * sizeof(HdReply *));
    for (size_t got = 0; got < n; got++) {
        HdReply *r = ht_dealer_recv_wait(sock, 10000);
        if (r == NULL) {
            fail_msg("only %zu of %zu replies from the store", got, n);
            return;
        }
        assert_true(r->id >= 1 && r->id <= n && rep[r->id - 1] == NULL);
        rep[r->id - 1] = r;
    }
    hd_socket_close(&sock);
}

static void free_replies(HdReply **rep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hd_reply_free(rep[i]);
}

static const HdContactReceipt *receipt_of(HdReply *rep)
{
    if (rep == NULL) {
        fail_msg("no reply");
        return NULL;
    }
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_RECEIPT)
        fail_msg("expected a receipt, got %s", rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR
                                                    ? rep->error->message
                                                    : "another reply");
    assert_int_equal(rep->receipt->n_ticket_ids, 1);
    return rep->receipt;
}

/* The event log has every seq from 1 to its newest exactly once. */
static void assert_seq_gapless(fixture *f)
{
    long max = ht_sql_long(f->env, "SELECT coalesce(max(seq), 0) FROM ticket_events");
    long count = ht_sql_long(f->env, "SELECT count(*) FROM ticket_events");
    long min = ht_sql_long(f->env, "SELECT coalesce(min(seq), 1) FROM ticket_events");
    assert_int_equal(min, 1);
    assert_int_equal(count, max);
}

static void test_repeated_keys_in_one_group(void **state)
{
    fixture *f = *state;
    /* "old" is taken before the group; in the group "a" comes twice, "old" again, "b" once */
    const char *first_ext[] = {"old"};
    const char *first_sum[] = {"taken before"};
    HdReply *before[1];
    create_in_one_group(f, 1, first_ext, first_sum, before);
    int64_t old_ticket = receipt_of(before[0])->ticket_ids[0];
    free_replies(before, 1);

    const char *ext[] = {"a", "old", "a", "b", "a"};
    const char *sum[] = {"first a", "old again", "second a", "only b", "third a"};
    HdReply *rep[5];
    create_in_one_group(f, 5, ext, sum, rep);
    const HdContactReceipt *a1 = receipt_of(rep[0]), *old = receipt_of(rep[1]),
                           *a2 = receipt_of(rep[2]), *b = receipt_of(rep[3]),
                           *a3 = receipt_of(rep[4]);
    assert_false(a1->duplicate);
    assert_true(a2->duplicate);
    assert_true(a3->duplicate);
    assert_int_equal(a2->ticket_ids[0], a1->ticket_ids[0]);
    assert_int_equal(a3->ticket_ids[0], a1->ticket_ids[0]);
    assert_int_equal(a2->contact_id, a1->contact_id);
    assert_true(old->duplicate);
    assert_int_equal(old->ticket_ids[0], old_ticket);
    assert_false(b->duplicate);
    assert_true(b->ticket_ids[0] != a1->ticket_ids[0]);
    /* the first request's problem was stored, once */
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM contacts WHERE external_id = 'a'"),
                     1);
    char *summary = ht_sql_text(f->env, "SELECT t.summary FROM tickets t JOIN contacts c ON "
                                        "c.id = t.contact_id WHERE c.external_id = 'a'");
    ht_assert_bytes(summary, "first a");
    free(summary);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets"), 3);
    assert_int_equal(ht_count_events(f->env, a1->ticket_ids[0], "created", NULL), 1);
    assert_seq_gapless(f);
    free_replies(rep, 5);
    ht_pass(f->env);
}

static void test_refused_request_fails_alone(void **state)
{
    fixture *f = *state;
    /* a rule the store does not know about: the database refuses this one summary */
    assert_int_equal(ht_sql_exec(f->env, "ALTER TABLE tickets ADD CONSTRAINT e2e_no_poison "
                                         "CHECK (summary <> 'poison')"),
                     0);
    long tickets_before = ht_sql_long(f->env, "SELECT count(*) FROM tickets");
    enum { N = 12, BAD = 5 };
    char names[N][16];
    const char *ext[N], *sum[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "poison-%d", i);
        ext[i] = names[i];
        sum[i] = i == BAD ? "poison" : "fine";
    }
    HdReply *rep[N];
    create_in_one_group(f, N, ext, sum, rep);
    for (int i = 0; i < N; i++) {
        if (i == BAD) {
            /* refused for its data, not "retry": the same request would fail again */
            ht_assert_error(rep[i], HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD,
                            "e2e_no_poison");
            assert_non_null(strstr(rep[i]->error->message, "e2e_no_poison"));
            continue;
        }
        const HdContactReceipt *r = receipt_of(rep[i]);
        assert_false(r->duplicate);
        assert_int_equal(ht_count_events(f->env, r->ticket_ids[0], "created", NULL), 1);
    }
    /* the batch was tried, failed, and redone one by one */
    assert_true(ht_log_contains(f->store, "event=batch_failed"));
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets"), tickets_before + N - 1);
    assert_int_equal(
        ht_sql_long(f->env, "SELECT count(*) FROM contacts WHERE external_id = 'poison-5'"), 0);
    assert_seq_gapless(f);
    free_replies(rep, N);
    /* once the database accepts it, the same key goes through */
    assert_int_equal(ht_sql_exec(f->env, "ALTER TABLE tickets DROP CONSTRAINT e2e_no_poison"), 0);
    const char *again_ext[] = {"poison-5"};
    const char *again_sum[] = {"poison"};
    HdReply *again[1];
    create_in_one_group(f, 1, again_ext, again_sum, again);
    assert_false(receipt_of(again[0])->duplicate);
    free_replies(again, 1);
    assert_seq_gapless(f);
    ht_pass(f->env);
}

/* /metrics of the store on *port says one ticket is held back. */
static bool held_back_one(void *port)
{
    char metrics[65536];
    return ht_http_get(*(int *)port, "/metrics", metrics, sizeof metrics, 2000) == 200 &&
           strstr(metrics, "\nhelpdesk_store_held_back{service=\"store\"} 1\n") != NULL;
}

/* A routing result the database refuses (a rule the store does not know: no ticket may go to
 * the messaging queue) is not dispatched again at once: the router hears why, the ticket waits
 * as triaged for store.refused_retry_ms, and once the database accepts it the next try routes
 * it, without a restart. */
static void test_refused_result_is_held_back(void **state)
{
    fixture *f = *state;
    enum { RETRY_MS = 2500 };
    assert_int_equal(ht_stop(f->store, 10000), 0);
    char retry[64];
    snprintf(retry, sizeof retry, "HD_STORE_REFUSED_RETRY_MS=%d", RETRY_MS);
    f->store = ht_start_ready(f->env, "hd-store",
                              (const char *const[]){retry, "HD_HTTP_LISTEN=127.0.0.1:0", NULL});
    assert_non_null(f->store);
    int port = ht_http_port(f->store, 10000);
    assert_true(port > 0);
    assert_int_equal(ht_sql_exec(f->env, "ALTER TABLE tickets ADD CONSTRAINT e2e_no_messaging "
                                         "CHECK (queue IS DISTINCT FROM 'messaging')"),
                     0);
    ht_proc *prio = ht_start_ready(f->env, "hd-prioritizer", NULL);
    ht_proc *router = ht_start_ready(f->env, "hd-router", NULL);
    assert_non_null(prio);
    assert_non_null(router);
    void *sock = hd_socket_new(f->env->zctx, ZMQ_DEALER, f->env->api_ep, false);
    assert_non_null(sock);
    send_contact(sock, 1, "parked-mail", "email", "Courriel bloqué : la boîte est pleine");
    send_contact(sock, 2, "parked-net", "network", "Koneksi putus di lantai 3");
    int64_t id[2];
    for (int i = 0; i < 2; i++) {
        HdReply *r = ht_dealer_recv_wait(sock, 10000);
        assert_non_null(r);
        id[r->id - 1] = receipt_of(r)->ticket_ids[0];
        hd_reply_free(r);
    }
    hd_socket_close(&sock);
    assert_true(ht_wait_tickets_status(f->env, &id[1], 1, HELPDESK__V1__STATUS__STATUS_QUEUED,
                                       20000));
    char needle[96];
    snprintf(needle, sizeof needle, "event=result_refused_by_database ticket_id=%lld",
             (long long)id[0]);
    assert_true(ht_wait_log(f->store, needle, 1, 10000));
    assert_true(ht_log_contains(f->store, "field=e2e_no_messaging"));
    assert_true(ht_wait_log(router, "field=e2e_no_messaging", 1, 10000));
    /* Dispatched again at once, it would be refused again within milliseconds; held back, the
     * second try comes after RETRY_MS. */
    int64_t first = hd_mono_ms();
    assert_false(ht_wait_log(f->store, needle, 2, RETRY_MS / 2));
    assert_true(ht_wait_log(f->store, needle, 2, 10000));
    assert_true(hd_mono_ms() - first >= RETRY_MS / 2);
    assert_true(ht_wait_tickets_status(f->env, &id[0], 1, HELPDESK__V1__STATUS__STATUS_TRIAGED,
                                       1000));
    assert_true(ht_wait_until(held_back_one, &port, 5000)); /* the gauge follows each turn */

    /* The operator drops the rule: the next try goes through. */
    assert_int_equal(ht_sql_exec(f->env, "ALTER TABLE tickets DROP CONSTRAINT e2e_no_messaging"),
                     0);
    assert_true(ht_wait_tickets_status(f->env, &id[0], 1, HELPDESK__V1__STATUS__STATUS_QUEUED,
                                       RETRY_MS + 10000));
    assert_true(ht_log_contains(f->store, "event=refused_retry tickets=1"));
    assert_int_equal(ht_count_events(f->env, id[0], "queued", NULL), 1);
    assert_int_equal(ht_stop(prio, 10000), 0);
    assert_int_equal(ht_stop(router, 10000), 0);
    assert_seq_gapless(f);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_repeated_keys_in_one_group),
        HT_TEST(test_refused_request_fails_alone),
        HT_TEST(test_refused_result_is_held_back),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
