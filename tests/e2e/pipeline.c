/* End to end: a contact with three problems in Arabic, Urdu and French becomes three tickets,
 * each prioritized and routed by its rule, text byte-exact, with the whole history; a repeated
 * submission makes nothing new. Real hd-store, hd-intake, hd-prioritizer, hd-router and
 * PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *prio, *router;
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "pipeline");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, &f->intake, &f->prio, &f->router);
}

static bool all_queued(fixture *f, const int64_t *ids, size_t n)
{
    return ht_wait_tickets_status(f->env, ids, n, HELPDESK__V1__STATUS__STATUS_QUEUED, 20000);
}

typedef struct {
    const char *category, *summary, *description;
    Helpdesk__V1__Priority priority;
    int p;
    const char *priority_rule, *queue, *route_rule, *assignee;
    uint32_t tier;
} expectation;

static void check_ticket(fixture *f, const HdContactReceipt *r, size_t i, const expectation *x,
                         const char *customer_name)
{
    HdReply *rep = ht_get_ticket(f->env, r->ticket_ids[i]);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    const HdTicket *t = rep->ticket->ticket;
    assert_non_null(t);
    assert_int_equal(t->id, r->ticket_ids[i]);
    assert_int_equal(t->contact_id, r->contact_id);
    assert_int_equal(t->problem_index, i);
    assert_int_equal(t->status, HELPDESK__V1__STATUS__STATUS_QUEUED);
    assert_int_equal(t->channel, HELPDESK__V1__CHANNEL__CHANNEL_WEB);
    /* text byte-exact, whatever the script */
    assert_non_null(t->problem);
    ht_assert_bytes(t->problem->summary, x->summary);
    ht_assert_bytes(t->problem->description, x->description);
    ht_assert_bytes(t->problem->category, x->category);
    assert_non_null(t->customer);
    ht_assert_bytes(t->customer->name, customer_name);
    assert_string_equal(t->customer->email, "customer@example.com");
    assert_string_equal(t->customer->language, "ar");
    /* free-form customer attributes come back in order, byte-exact */
    assert_int_equal(t->customer->n_attributes, 2);
    ht_assert_bytes(t->customer->attributes[0]->key, "kantor");
    ht_assert_bytes(t->customer->attributes[0]->value, "Jakarta Selatan, lantai 3");
    ht_assert_bytes(t->customer->attributes[1]->key, "العقد");
    ht_assert_bytes(t->customer->attributes[1]->value, "ذهبي ٢٠٢٦");
    assert_non_null(t->account); /* account and location travel with every ticket */
    assert_string_equal(t->account->account_number, "AC-1");
    assert_string_equal(t->account->serial_number, "SN-1");
    assert_non_null(t->location);
    assert_string_equal(t->location->city, "Paris");
    assert_string_equal(t->source, "e2e-web");
    assert_string_equal(t->external_id, "three-languages-1");
    assert_true(t->updated_at >= t->created_at);
    /* priority, by the expected rule, with the configured SLA counted from created_at */
    assert_int_equal(t->priority, x->priority);
    assert_string_equal(t->priority_rule, x->priority_rule);
    assert_true(t->created_at > 0);
    assert_non_null(t->sla);
    int64_t c = t->created_at;
    assert_int_equal(t->sla->first_response_due, c + ht_sla_seconds(x->p, 0) * 1000);
    assert_int_equal(t->sla->update_interval_ms, ht_sla_seconds(x->p, 1) * 1000);
    assert_int_equal(t->sla->resolution_due, c + ht_sla_seconds(x->p, 2) * 1000);
    assert_int_equal(t->sla->tier2_escalation_due, c + ht_sla_seconds(x->p, 3) * 1000);
    assert_int_equal(t->sla->tier3_escalation_due, c + ht_sla_seconds(x->p, 4) * 1000);
    /* routing, by the expected rule */
    assert_string_equal(t->queue, x->queue);
    assert_int_equal(t->tier, x->tier);
    assert_string_equal(t->route_rule, x->route_rule);
    assert_string_equal(t->assignee ? t->assignee : "", x->assignee);
    /* history: created -> triaged -> queued, in seq order, with the actors */
    const HdTicketDetail *d = rep->ticket;
    assert_int_equal(d->n_history, 3);
    const HdTicketEvent *e0 = d->history[0], *e1 = d->history[1], *e2 = d->history[2];
    assert_int_equal(e0->kind, HELPDESK__V1__EVENT_KIND__EVENT_CREATED);
    assert_int_equal(e1->kind, HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED);
    assert_int_equal(e2->kind, HELPDESK__V1__EVENT_KIND__EVENT_QUEUED);
    assert_true(e0->seq > 0 && e0->seq < e1->seq && e1->seq < e2->seq);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(d->history[k]->ticket_id, t->id);
    assert_string_equal(e0->actor, "intake");
    assert_int_equal(e0->status, HELPDESK__V1__STATUS__STATUS_NEW);
    assert_non_null(strstr(e0->text, "web")); /* the channel and the agent are documented */
    assert_non_null(strstr(e0->text, "e2e-test"));
    assert_true(ht_actor_is(e1->actor, "prioritizer", f->prio->pid));
    assert_int_equal(e1->status, HELPDESK__V1__STATUS__STATUS_TRIAGED);
    assert_int_equal(e1->priority, x->priority);
    assert_string_equal(e1->rule, x->priority_rule);
    assert_true(ht_actor_is(e2->actor, "router", f->router->pid));
    assert_int_equal(e2->status, HELPDESK__V1__STATUS__STATUS_QUEUED);
    assert_string_equal(e2->queue, x->queue);
    assert_int_equal(e2->tier, x->tier);
    assert_string_equal(e2->rule, x->route_rule);
    assert_true(e0->at <= e1->at && e1->at <= e2->at);
    hd_reply_free(rep);
}

static void test_three_languages_become_three_routed_tickets(void **state)
{
    fixture *f = *state;
    /* Arabic, Urdu and French, with a right-to-left mark and a combining shadda kept as sent */
    static const char customer[] = "أمينة حدّاد";
    static const expectation x[3] = {
        {"network", "الشبكة متوقفة في مركز البيانات",
         "\u200fلا يمكن لأي موظف الوصول إلى الخوادم منذ الساعة التاسعة صباحًا.",
         HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE, 1, "ar-network-down",
         "network-ops", "network-p1", "", 2},
        {"email", "ای میل سرور کام نہیں کر رہا",
         "ہمارے دفتر میں کسی کو بھی ای میل موصول نہیں ہو رہی۔",
         HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION, 2, "ur-email-broken",
         "messaging", "email", "imran", 1},
        {"printing", "Imprimante en panne au 2e étage",
         "L'imprimante du 2e étage affiche « erreur 0x5F » depuis ce matin ; déjà redémarrée.",
         HELPDESK__V1__PRIORITY__PRIORITY_P3_REGULAR_SERVICE, 3, "fr-printer", "site-paris",
         "printers-paris", "", 1},
    };
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "three-languages-1");
    ct.customer.name = (char *)customer;
    ct.customer.language = "ar";
    HdAttribute attr[2] = {HELPDESK__V1__ATTRIBUTE__INIT, HELPDESK__V1__ATTRIBUTE__INIT};
    attr[0].key = "kantor";
    attr[0].value = "Jakarta Selatan, lantai 3";
    attr[1].key = "العقد";
    attr[1].value = "ذهبي ٢٠٢٦";
    HdAttribute *attrs[2] = {&attr[0], &attr[1]};
    ct.customer.attributes = attrs;
    ct.customer.n_attributes = 2;
    for (size_t i = 0; i < 3; i++)
        ht_contact_add(&ct, x[i].category, x[i].summary, x[i].description);
    ct.problem[0].users_affected = 250;
    long contacts_before = ht_sql_long(f->env, "SELECT count(*) FROM contacts");

    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    const HdContactReceipt *r = rep->receipt;
    assert_false(r->duplicate);
    assert_true(r->contact_id > 0);
    assert_int_equal(r->n_ticket_ids, 3);
    assert_true(r->ticket_ids[0] < r->ticket_ids[1] && r->ticket_ids[1] < r->ticket_ids[2]);
    /* acknowledged after commit: the rows are there now */
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM contacts"), contacts_before + 1);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tickets WHERE contact_id = %lld",
             (long long)r->contact_id);
    assert_int_equal(ht_sql_long(f->env, sql), 3);

    if (!all_queued(f, r->ticket_ids, 3))
        fail_msg("the three tickets did not all reach queued within 20 s");
    for (size_t i = 0; i < 3; i++)
        check_ticket(f, r, i, &x[i], customer);

    /* the database itself holds the same bytes, not only what the store hands back */
    for (size_t i = 0; i < 3; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT summary || '|' || description FROM tickets WHERE id = %lld",
                 (long long)r->ticket_ids[i]);
        char *got = ht_sql_text(f->env, sql);
        char want[1024];
        snprintf(want, sizeof want, "%s|%s", x[i].summary, x[i].description);
        ht_assert_bytes(got, want);
        free(got);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
             "WHERE t.contact_id = %lld",
             (long long)r->contact_id);
    assert_int_equal(ht_sql_long(f->env, sql), 9);
    hd_reply_free(rep);
    ht_pass(f->env);
}

static void test_repeated_submission_makes_no_new_ticket(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    ht_contact_init(&ct, "e2e-web", "repeat-1");
    ht_contact_add(&ct, "printing", "Imprimante en panne", "bourrage papier");
    ht_contact_add(&ct, "network", "Wi-Fi lent", "salle B");
    HdReply *first = ht_submit_ok(f->env, &ct.c);
    assert_false(first->receipt->duplicate);
    assert_int_equal(first->receipt->n_ticket_ids, 2);
    assert_true(all_queued(f, first->receipt->ticket_ids, 2));

    long contacts = ht_sql_long(f->env, "SELECT count(*) FROM contacts");
    long tickets = ht_sql_long(f->env, "SELECT count(*) FROM tickets");
    long events = ht_sql_long(f->env, "SELECT count(*) FROM ticket_events");
    assert_true(contacts > 0 && tickets > 0 && events > 0);

    /* the same key again, even with different content (a client retrying) */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt == 1)
            ht_contact_add(&ct, "other", "a third problem the retry added", "");
        HdReply *again = ht_submit_ok(f->env, &ct.c);
        assert_true(again->receipt->duplicate);
        assert_int_equal(again->receipt->contact_id, first->receipt->contact_id);
        assert_int_equal(again->receipt->n_ticket_ids, 2);
        assert_int_equal(again->receipt->ticket_ids[0], first->receipt->ticket_ids[0]);
        assert_int_equal(again->receipt->ticket_ids[1], first->receipt->ticket_ids[1]);
        hd_reply_free(again);
    }
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM contacts"), contacts);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets"), tickets);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM ticket_events"), events);

    /* the same external id from another source is another contact */
    ht_contact other;
    ht_contact_init(&other, "e2e-phone", "repeat-1");
    ht_contact_add(&other, "printing", "Printer di lantai dua rusak", "kertas macet");
    HdReply *rep = ht_submit_ok(f->env, &other.c);
    assert_false(rep->receipt->duplicate);
    assert_true(rep->receipt->contact_id != first->receipt->contact_id);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM contacts"), contacts + 1);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets"), tickets + 1);
    hd_reply_free(rep);
    hd_reply_free(first);
    ht_pass(f->env);
}

static void test_unknown_ticket_is_not_found(void **state)
{
    fixture *f = *state;
    HdReply *rep = ht_get_ticket(f->env, 987654321);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_ERROR);
    assert_int_equal(rep->error->code, HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND);
    hd_reply_free(rep);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_three_languages_become_three_routed_tickets),
        HT_TEST(test_repeated_submission_makes_no_new_ticket),
        HT_TEST(test_unknown_ticket_is_not_found),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
