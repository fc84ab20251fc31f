/* End to end: the technician workflow over the store api and the real `helpdesk` command. next
 * takes the highest-priority, then oldest ticket of a queue, and two technicians asking at once
 * never get the same one; every action is an event with its actor and time; an illegal
 * transition is refused and changes nothing; search and similar find resolved tickets by French,
 * Arabic and Urdu words with their solutions, best first; a customer not satisfied reopens the
 * ticket. Real hd-store, hd-intake, hd-prioritizer, hd-router and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "harness.h"
#include "hd/clock.h"
#include "hd/transport.h"

#define OUT 65536

/* Priority by a keyword, queue by category: each test has a queue of its own, so next in one
 * test never sees another test's tickets. */
static const char priority_rules[] =
    "rules:\n"
    "  - {name: wf-p1, when: {keywords: [wfp1]}, priority: P1}\n"
    "  - {name: wf-p2, when: {keywords: [wfp2]}, priority: P2}\n"
    "  - {name: wf-p3, when: {keywords: [wfp3]}, priority: P3}\n"
    "default: P4\n";

static const char routing_rules[] =
    "rules:\n"
    "  - {name: wf-order, when: {category: [wf-order]}, queue: wf-order, tier: 1}\n"
    "  - {name: wf-race, when: {category: [wf-race]}, queue: wf-race, tier: 1}\n"
    "  - {name: wf-life, when: {category: [wf-life]}, queue: wf-life, tier: 1}\n"
    "  - {name: wf-search, when: {category: [wf-search]}, queue: wf-search, tier: 1}\n"
    "  - {name: wf-sat, when: {category: [wf-sat]}, queue: wf-sat, tier: 1}\n"
    "  - {name: wf-cli, when: {category: [wf-cli]}, queue: wf-cli, tier: 1}\n"
    "default: {queue: wf-desk, tier: 1}\n";

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *prio, *router;
    char out[OUT], err[OUT];
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "workflow");
    *state = f;
    if (ht_write_rules(f->env, priority_rules, routing_rules) != 0)
        return -1;
    return ht_start_pipeline(f->env, &f->store, &f->intake, &f->prio, &f->router);
}

/* ---------------------------------------------------------------- helpers */

/* Submits one contact (source e2e-wf, external id `ext`) with n problems of `category`; the
 * ticket ids go to ids; waits until they are all queued. */
static void submit_queued(fixture *f, const char *ext, const char *category,
                          const char *const *summaries, const char *const *descriptions,
                          size_t n, int64_t *ids)
{
    ht_contact ct;
    ht_contact_init(&ct, "e2e-wf", ext);
    for (size_t i = 0; i < n; i++)
        ht_contact_add(&ct, category, summaries[i], descriptions ? descriptions[i] : "");
    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    assert_int_equal(rep->receipt->n_ticket_ids, n);
    for (size_t i = 0; i < n; i++)
        ids[i] = rep->receipt->ticket_ids[i];
    hd_reply_free(rep);
    if (!ht_wait_tickets_status(f->env, ids, n, HELPDESK__V1__STATUS__STATUS_QUEUED, 20000))
        fail_msg("the tickets of %s did not all reach queued within 20 s", ext);
}

static int64_t submit_one(fixture *f, const char *ext, const char *category, const char *summary,
                          const char *description)
{
    int64_t id = 0;
    const char *const s[] = {summary}, *const d[] = {description};
    submit_queued(f, ext, category, s, d, 1, &id);
    return id;
}

static HdReply *get_ok(fixture *f, int64_t id)
{
    HdReply *rep = ht_get_ticket(f->env, id);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    assert_non_null(rep->ticket->ticket);
    return rep;
}

/* A TicketAction with all its possible bodies in one place. */
typedef struct {
    HdTicketAction a;
    Helpdesk__V1__Take take;
    Helpdesk__V1__Note note;
    Helpdesk__V1__CustomerMessage reply;
    Helpdesk__V1__ContactLog log;
    Helpdesk__V1__Wait wait;
    Helpdesk__V1__Resolve resolve;
    Helpdesk__V1__Close close;
    Helpdesk__V1__Reopen reopen;
    Helpdesk__V1__Satisfaction sat;
} action;

static HdTicketAction *act_init(action *x, int64_t id, const char *actor)
{
    memset(x, 0, sizeof *x);
    helpdesk__v1__ticket_action__init(&x->a);
    helpdesk__v1__take__init(&x->take);
    helpdesk__v1__note__init(&x->note);
    helpdesk__v1__customer_message__init(&x->reply);
    helpdesk__v1__contact_log__init(&x->log);
    helpdesk__v1__wait__init(&x->wait);
    helpdesk__v1__resolve__init(&x->resolve);
    helpdesk__v1__close__init(&x->close);
    helpdesk__v1__reopen__init(&x->reopen);
    helpdesk__v1__satisfaction__init(&x->sat);
    x->a.ticket_id = id;
    x->a.actor = (char *)actor;
    return &x->a;
}

#define AC(name) HELPDESK__V1__TICKET_ACTION__ACTION_##name
#define EK(name) HELPDESK__V1__EVENT_KIND__EVENT_##name
#define ST(name) HELPDESK__V1__STATUS__STATUS_##name

static HdReply *do_take(fixture *f, int64_t id, const char *actor)
{
    action x;
    act_init(&x, id, actor)->action_case = AC(TAKE);
    x.a.take = &x.take;
    return ht_act_ok(f->env, &x.a);
}

static HdReply *do_resolve(fixture *f, int64_t id, const char *actor, const char *solution)
{
    action x;
    act_init(&x, id, actor)->action_case = AC(RESOLVE);
    x.resolve.solution = (char *)solution;
    x.a.resolve = &x.resolve;
    return ht_act_ok(f->env, &x.a);
}

static HdReply *do_close(fixture *f, int64_t id, const char *actor)
{
    action x;
    act_init(&x, id, actor)->action_case = AC(CLOSE);
    x.a.close = &x.close;
    return ht_act_ok(f->env, &x.a);
}

/* The action's reply holds exactly the events it made: these kinds, by this actor, now. */
static void assert_made(const HdReply *rep, const char *actor, int64_t t0, size_t n,
                        const Helpdesk__V1__EventKind *kinds)
{
    const HdTicketDetail *d = rep->ticket;
    if (d->n_history != n)
        fail_msg("the action made %zu events, want %zu (first: %s)", d->n_history, n,
                 d->n_history ? hd_event_kind_name(d->history[0]->kind) : "none");
    int64_t now = hd_now_ms();
    for (size_t i = 0; i < n; i++) {
        const HdTicketEvent *e = d->history[i];
        if (e->kind != kinds[i])
            fail_msg("event %zu is %s, want %s", i, hd_event_kind_name(e->kind),
                     hd_event_kind_name(kinds[i]));
        assert_string_equal(e->actor, actor);
        assert_int_equal(e->ticket_id, d->ticket->id);
        assert_true(e->at >= t0 && e->at <= now);
        if (i + 1 == n) /* the status after the event; the last one's is the ticket's */
            assert_int_equal(e->status, d->ticket->status);
    }
}

static void assert_made1(const HdReply *rep, const char *actor, int64_t t0,
                         Helpdesk__V1__EventKind kind)
{
    assert_made(rep, actor, t0, 1, &kind);
}

/* ---------------------------------------------------------------- next */

static void test_next_takes_highest_priority_then_oldest(void **state)
{
    fixture *f = *state;
    /* created one after the other: P4, P2 (older), P2 (newer), P3, P1 (newest) */
    const char *summaries[] = {"planned move of the office", "wfp2 server slow (older)",
                               "wfp2 server slow (newer)", "wfp3 mouse broken",
                               "wfp1 whole site down"};
    int64_t ids[5];
    for (size_t i = 0; i < 5; i++) {
        char ext[32];
        snprintf(ext, sizeof ext, "order-%zu", i);
        ids[i] = submit_one(f, ext, "wf-order", summaries[i], "");
    }
    const size_t want[5] = {4, 1, 2, 3, 0};
    const Helpdesk__V1__Priority prio[5] = {
        HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE,
        HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION,
        HELPDESK__V1__PRIORITY__PRIORITY_P2_CRITICAL_SITUATION,
        HELPDESK__V1__PRIORITY__PRIORITY_P3_REGULAR_SERVICE,
        HELPDESK__V1__PRIORITY__PRIORITY_P4_PLANNED_EVENT};
    for (size_t k = 0; k < 5; k++) {
        int64_t t0 = hd_now_ms();
        HdReply *rep = ht_next(f->env, "wf-order", "ana");
        assert_non_null(rep);
        if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR)
            fail_msg("next %zu refused: %s", k, rep->error->message);
        assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
        const HdTicket *t = rep->ticket->ticket;
        if (t->id != ids[want[k]])
            fail_msg("next %zu gave ticket %lld (%s), want %lld (%s)", k, (long long)t->id,
                     t->problem ? t->problem->summary : "?", (long long)ids[want[k]],
                     summaries[want[k]]);
        assert_int_equal(t->priority, prio[k]);
        assert_int_equal(t->status, ST(IN_PROGRESS));
        assert_string_equal(t->assignee, "ana");
        assert_made1(rep, "ana", t0, EK(TAKEN));
        hd_reply_free(rep);
    }
    /* nothing left: ERROR_EMPTY naming the queue, and nothing changed */
    int64_t last = ht_last_seq(f->env);
    HdReply *rep = ht_next(f->env, "wf-order", "ana");
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_ERROR);
    assert_int_equal(rep->error->code, HELPDESK__V1__ERROR_CODE__ERROR_EMPTY);
    assert_non_null(strstr(rep->error->message, "wf-order"));
    hd_reply_free(rep);
    assert_int_equal(ht_last_seq(f->env), last);
    ht_pass(f->env);
}

/* Two technicians, two client sockets, asking at the same moment, round after round. */
static void test_concurrent_nexts_never_get_the_same_ticket(void **state)
{
    fixture *f = *state;
    enum { N = 9 };
    const char *summaries[N];
    for (size_t i = 0; i < N; i++)
        summaries[i] = i % 3 == 0 ? "wfp2 race" : "race";
    int64_t ids[N];
    submit_queued(f, "race-1", "wf-race", summaries, NULL, N, ids);

    const char *agents[2] = {"tech-a", "tech-b"};
    void *sock[2];
    for (int s = 0; s < 2; s++) {
        sock[s] = hd_socket_new(f->env->zctx, ZMQ_DEALER, f->env->api_ep, false);
        assert_non_null(sock[s]);
    }
    int64_t got[2 * N + 4];
    const char *who[2 * N + 4];
    size_t ngot = 0;
    int empties = 0;
    for (int round = 0; round < N + 2 && empties < 2; round++) {
        HdNextTicket n[2];
        HdRequest req[2];
        for (int s = 0; s < 2; s++) { /* both requests are in flight before either reply */
            helpdesk__v1__next_ticket__init(&n[s]);
            helpdesk__v1__request__init(&req[s]);
            n[s].queue = "wf-race";
            n[s].agent = (char *)agents[s];
            req[s].id = (uint64_t)(round * 2 + s + 1);
            req[s].body_case = HELPDESK__V1__REQUEST__BODY_NEXT;
            req[s].next = &n[s];
            assert_int_equal(hd_dealer_send(sock[s], &req[s], 0), 0);
        }
        empties = 0;
        for (int s = 0; s < 2; s++) {
            HdReply *rep = ht_dealer_recv_wait(sock[s], 10000);
            assert_non_null(rep);
            assert_int_equal(rep->id, req[s].id);
            if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR) {
                assert_int_equal(rep->error->code, HELPDESK__V1__ERROR_CODE__ERROR_EMPTY);
                empties++;
            } else {
                assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
                assert_string_equal(rep->ticket->ticket->assignee, agents[s]);
                got[ngot] = rep->ticket->ticket->id;
                who[ngot++] = agents[s];
            }
            hd_reply_free(rep);
        }
    }
    for (int s = 0; s < 2; s++)
        hd_socket_close(&sock[s]);
    assert_int_equal(empties, 2);
    assert_int_equal(ngot, N); /* every ticket handed out once ... */
    for (size_t i = 0; i < ngot; i++)
        for (size_t j = i + 1; j < ngot; j++)
            if (got[i] == got[j])
                fail_msg("ticket %lld was given to %s and to %s", (long long)got[i], who[i],
                         who[j]);
    for (size_t i = 0; i < N; i++) { /* ... and taken once, by whoever got it */
        bool found = false;
        for (size_t j = 0; j < ngot; j++)
            found = found || got[j] == ids[i];
        assert_true(found);
        assert_int_equal(ht_count_events(f->env, ids[i], "taken", NULL), 1);
    }
    for (size_t j = 0; j < ngot; j++) {
        char where[80];
        snprintf(where, sizeof where, "actor = '%s'", who[j]);
        assert_int_equal(ht_count_events(f->env, got[j], "taken", where), 1);
    }
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- lifecycle */

static void test_every_action_is_in_the_history(void **state)
{
    fixture *f = *state;
    int64_t id = submit_one(f, "life-1", "wf-life", "Le VPN coupe toutes les dix minutes",
                            "depuis la mise à jour de lundi");
    const char *lea = "Léa Martin"; /* a technician's name, not ASCII */
    int64_t t_start = hd_now_ms();
    HdReply *rep = ht_next(f->env, "wf-life", lea);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    assert_int_equal(rep->ticket->ticket->id, id);
    assert_made1(rep, lea, t_start, EK(TAKEN));
    assert_int_equal(rep->ticket->ticket->first_response_at, 0);
    hd_reply_free(rep);

    action x;
    int64_t t0 = hd_now_ms();
    act_init(&x, id, lea)->action_case = AC(NOTE);
    x.note.text = "câble réseau vérifié, RAS";
    x.a.note = &x.note;
    rep = ht_act_ok(f->env, &x.a);
    assert_made1(rep, lea, t0, EK(NOTE));
    assert_string_equal(rep->ticket->history[0]->text, "câble réseau vérifié, RAS");
    assert_int_equal(rep->ticket->ticket->status, ST(IN_PROGRESS));
    hd_reply_free(rep);

    t0 = hd_now_ms();
    act_init(&x, id, lea)->action_case = AC(REPLY);
    x.reply.text = "Bonjour, nous analysons le problème de VPN.";
    x.a.reply = &x.reply;
    rep = ht_act_ok(f->env, &x.a);
    assert_made1(rep, lea, t0, EK(REPLY));
    assert_string_equal(rep->ticket->history[0]->text,
                        "Bonjour, nous analysons le problème de VPN.");
    int64_t first_response = rep->ticket->ticket->first_response_at;
    assert_true(first_response >= t0); /* the first reply is the first response */
    hd_reply_free(rep);

    t0 = hd_now_ms();
    act_init(&x, id, lea)->action_case = AC(LOG_CONTACT);
    x.log.direction = "outbound";
    x.log.channel = HELPDESK__V1__CHANNEL__CHANNEL_PHONE;
    x.log.summary = "appelé le client : redémarrage du poste demandé";
    x.a.log_contact = &x.log;
    rep = ht_act_ok(f->env, &x.a);
    assert_made1(rep, lea, t0, EK(CONTACT_LOGGED));
    assert_string_equal(rep->ticket->history[0]->direction, "outbound");
    assert_string_equal(rep->ticket->history[0]->channel, "phone");
    assert_int_equal(rep->ticket->ticket->first_response_at, first_response); /* not moved */
    hd_reply_free(rep);

    t0 = hd_now_ms();
    act_init(&x, id, lea)->action_case = AC(WAIT);
    x.wait.reason = "en attente des journaux du client";
    x.a.wait = &x.wait;
    rep = ht_act_ok(f->env, &x.a);
    assert_made1(rep, lea, t0, EK(WAITING));
    assert_int_equal(rep->ticket->ticket->status, ST(WAITING_CUSTOMER));
    assert_true(rep->ticket->ticket->paused_at >= t0);
    assert_string_equal(rep->ticket->history[0]->reason, "en attente des journaux du client");
    hd_reply_free(rep);

    /* the customer sends the logs: an inbound contact resumes the ticket */
    t0 = hd_now_ms();
    act_init(&x, id, lea)->action_case = AC(LOG_CONTACT);
    x.log.direction = "inbound";
    x.log.channel = HELPDESK__V1__CHANNEL__CHANNEL_EMAIL;
    x.log.summary = "journaux reçus par courriel";
    x.a.log_contact = &x.log;
    rep = ht_act_ok(f->env, &x.a);
    const Helpdesk__V1__EventKind resumed[] = {EK(CONTACT_LOGGED), EK(RESUMED)};
    assert_made(rep, lea, t0, 2, resumed);
    assert_int_equal(rep->ticket->ticket->status, ST(IN_PROGRESS));
    assert_int_equal(rep->ticket->ticket->paused_at, 0);
    assert_string_equal(rep->ticket->history[0]->direction, "inbound");
    hd_reply_free(rep);

    t0 = hd_now_ms();
    rep = do_resolve(f, id, lea, "Mise à jour du client VPN en version 5.2");
    assert_made1(rep, lea, t0, EK(RESOLVED));
    assert_int_equal(rep->ticket->ticket->status, ST(RESOLVED));
    assert_true(rep->ticket->ticket->resolved_at >= t0);
    assert_string_equal(rep->ticket->ticket->solution, "Mise à jour du client VPN en version 5.2");
    hd_reply_free(rep);

    t0 = hd_now_ms();
    rep = do_close(f, id, lea);
    assert_made1(rep, lea, t0, EK(CLOSED));
    assert_int_equal(rep->ticket->ticket->status, ST(CLOSED));
    assert_true(rep->ticket->ticket->closed_at >= t0);
    hd_reply_free(rep);

    /* illegal: resolve a closed ticket. Refused, naming the status; nothing changes. */
    HdReply *before = get_ok(f, id);
    int64_t last = ht_last_seq(f->env);
    long rows = ht_count_events(f->env, id, "resolved", NULL);
    act_init(&x, id, lea)->action_case = AC(RESOLVE);
    x.resolve.solution = "une autre solution";
    x.a.resolve = &x.resolve;
    rep = ht_act(f->env, &x.a);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_ILLEGAL_TRANSITION, "status");
    if (strstr(rep->error->message, "closed") == NULL)
        fail_msg("the refusal does not name the status: %s", rep->error->message);
    hd_reply_free(rep);
    HdReply *after = get_ok(f, id);
    assert_int_equal(ht_last_seq(f->env), last);
    assert_int_equal(ht_count_events(f->env, id, "resolved", NULL), rows);
    assert_int_equal(after->ticket->n_history, before->ticket->n_history);
    assert_int_equal(after->ticket->ticket->status, ST(CLOSED));
    assert_int_equal(after->ticket->ticket->updated_at, before->ticket->ticket->updated_at);
    assert_int_equal(after->ticket->ticket->resolved_at, before->ticket->ticket->resolved_at);
    assert_string_equal(after->ticket->ticket->solution, before->ticket->ticket->solution);
    hd_reply_free(after);
    hd_reply_free(before);

    t0 = hd_now_ms();
    act_init(&x, id, "Karim")->action_case = AC(REOPEN);
    x.reopen.reason = "le problème est revenu";
    x.a.reopen = &x.reopen;
    rep = ht_act_ok(f->env, &x.a);
    assert_made1(rep, "Karim", t0, EK(REOPENED));
    assert_int_equal(rep->ticket->ticket->status, ST(REOPENED));
    assert_int_equal(rep->ticket->ticket->resolved_at, 0);
    assert_int_equal(rep->ticket->ticket->closed_at, 0);
    assert_string_equal(rep->ticket->history[0]->reason, "le problème est revenu");
    hd_reply_free(rep);
    int64_t t_end = hd_now_ms();

    /* the whole history, in seq order, each event with its actor and time */
    static const Helpdesk__V1__EventKind kinds[] = {
        EK(CREATED),  EK(TRIAGED),        EK(QUEUED),  EK(TAKEN),    EK(NOTE),
        EK(REPLY),    EK(CONTACT_LOGGED), EK(WAITING), EK(CONTACT_LOGGED), EK(RESUMED),
        EK(RESOLVED), EK(CLOSED),         EK(REOPENED)};
    const size_t nk = sizeof kinds / sizeof kinds[0];
    rep = get_ok(f, id);
    const HdTicketDetail *d = rep->ticket;
    if (d->n_history != nk) {
        for (size_t i = 0; i < d->n_history; i++)
            fprintf(stderr, "  %lld %s %s\n", (long long)d->history[i]->seq,
                    hd_event_kind_name(d->history[i]->kind), d->history[i]->actor);
        fail_msg("history has %zu events, want %zu", d->n_history, nk);
    }
    for (size_t i = 0; i < nk; i++) {
        const HdTicketEvent *e = d->history[i];
        if (e->kind != kinds[i])
            fail_msg("history[%zu] is %s, want %s", i, hd_event_kind_name(e->kind),
                     hd_event_kind_name(kinds[i]));
        assert_true(e->actor != NULL && e->actor[0] != '\0');
        if (i >= 3)
            assert_string_equal(e->actor, i == nk - 1 ? "Karim" : lea);
        if (i > 0) {
            assert_true(e->seq > d->history[i - 1]->seq);
            assert_true(e->at >= d->history[i - 1]->at);
        }
        if (i >= 3)
            assert_true(e->at >= t_start && e->at <= t_end);
    }
    hd_reply_free(rep);

    /* reopened goes back to its queue: next takes it again */
    rep = ht_next(f->env, "wf-life", "Karim");
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    assert_int_equal(rep->ticket->ticket->id, id);
    assert_string_equal(rep->ticket->ticket->assignee, "Karim");
    hd_reply_free(rep);
    ht_pass(f->env);
}

static void test_not_satisfied_reopens(void **state)
{
    fixture *f = *state;
    const char *s[] = {"Imprimante hors ligne", "Clavier sans fil muet"};
    int64_t ids[2];
    submit_queued(f, "sat-1", "wf-sat", s, NULL, 2, ids);
    for (size_t i = 0; i < 2; i++) {
        hd_reply_free(do_take(f, ids[i], "nadia"));
        hd_reply_free(do_resolve(f, ids[i], "nadia", "pilote réinstallé"));
    }
    /* satisfied: recorded, stays resolved */
    action x;
    int64_t t0 = hd_now_ms();
    act_init(&x, ids[1], "customer")->action_case = AC(SATISFACTION);
    x.sat.satisfied = true;
    x.sat.comment = "merci !";
    x.a.satisfaction = &x.sat;
    HdReply *rep = ht_act_ok(f->env, &x.a);
    assert_made1(rep, "customer", t0, EK(SATISFACTION));
    assert_int_equal(rep->ticket->history[0]->satisfied, 1);
    assert_int_equal(rep->ticket->ticket->satisfaction, 1);
    assert_int_equal(rep->ticket->ticket->status, ST(RESOLVED));
    hd_reply_free(rep);

    /* not satisfied: recorded and reopened, back in its queue */
    t0 = hd_now_ms();
    act_init(&x, ids[0], "customer")->action_case = AC(SATISFACTION);
    x.sat.satisfied = false;
    x.sat.comment = "toujours hors ligne";
    x.a.satisfaction = &x.sat;
    rep = ht_act_ok(f->env, &x.a);
    const Helpdesk__V1__EventKind kinds[] = {EK(SATISFACTION), EK(REOPENED)};
    assert_made(rep, "customer", t0, 2, kinds);
    assert_int_equal(rep->ticket->history[0]->satisfied, 2);
    assert_string_equal(rep->ticket->history[0]->text, "toujours hors ligne");
    assert_string_equal(rep->ticket->history[1]->reason, "customer not satisfied");
    assert_int_equal(rep->ticket->ticket->satisfaction, 2);
    assert_int_equal(rep->ticket->ticket->status, ST(REOPENED));
    assert_int_equal(rep->ticket->ticket->resolved_at, 0);
    hd_reply_free(rep);
    HdReply *t = get_ok(f, ids[0]);
    assert_int_equal(t->ticket->ticket->satisfaction, 2);
    assert_int_equal(t->ticket->ticket->status, ST(REOPENED));
    hd_reply_free(t);
    assert_int_equal(ht_count_events(f->env, ids[0], "satisfaction", "satisfied = 2"), 1);
    rep = ht_next(f->env, "wf-sat", "nadia");
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    assert_int_equal(rep->ticket->ticket->id, ids[0]);
    hd_reply_free(rep);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- search and similar */

static const char fr_summary[] = "Imprimante bloquée : bourrage papier";
static const char fr_desc[] = "L'imprimante du couloir signale un bourrage papier à chaque tirage";
static const char fr_solution[] = "Retirer le papier coincé et nettoyer le rouleau d'entraînement";
static const char ar_summary[] = "الطابعة لا تطبع";
static const char ar_desc[] = "الطابعة في الطابق الثاني متوقفة منذ الصباح";
static const char ar_solution[] = "تم تغيير خرطوشة الحبر";
static const char ur_summary[] = "ای میل سرور کام نہیں کر رہا";
static const char ur_desc[] = "دفتر میں کسی کو ای میل موصول نہیں ہو رہی";
static const char ur_solution[] = "میل سرور دوبارہ شروع کیا گیا";

/* Index of ticket id in the hits, -1 when absent; checks the hits are best first and carry
 * their solutions. */
static int hit_index(const HdReply *rep, int64_t id)
{
    assert_non_null(rep);
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR)
        fail_msg("search refused: %s field=%s: %s", hd_error_code_name(rep->error->code),
                 rep->error->field, rep->error->message);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_RESULTS);
    const HdSearchResults *r = rep->results;
    int found = -1;
    for (size_t i = 0; i < r->n_hits; i++) {
        assert_non_null(r->hits[i]->ticket);
        Helpdesk__V1__Status s = r->hits[i]->ticket->status;
        assert_true(s == ST(RESOLVED) || s == ST(CLOSED)); /* only solved problems */
        if (i > 0 && r->hits[i]->rank > r->hits[i - 1]->rank)
            fail_msg("hit %zu ranks %g above hit %zu (%g): not best first", i,
                     (double)r->hits[i]->rank, i - 1, (double)r->hits[i - 1]->rank);
        if (r->hits[i]->ticket->id == id && found < 0)
            found = (int)i;
    }
    return found;
}

static void expect_first(const HdReply *rep, int64_t id, const char *solution, const char *what)
{
    int i = hit_index(rep, id);
    if (i != 0)
        fail_msg("%s: ticket %lld is hit %d of %zu, want the first", what, (long long)id, i,
                 rep->results->n_hits);
    ht_assert_bytes(rep->results->hits[0]->ticket->solution, solution);
    assert_true(rep->results->hits[0]->rank > 0);
}

static void test_search_and_similar_find_solutions_in_any_language(void **state)
{
    fixture *f = *state;
    const char *s[] = {fr_summary, "Imprimante réseau lente", ar_summary, ur_summary,
                       "Imprimante : bourrage papier encore"};
    const char *d[] = {fr_desc, "les impressions partent avec dix minutes de retard", ar_desc,
                       ur_desc, "bourrage papier dans le bac 2 de l'imprimante"};
    int64_t ids[5];
    submit_queued(f, "search-1", "wf-search", s, d, 5, ids);
    const char *sol[] = {fr_solution, "Redémarrage du spouleur d'impression", ar_solution,
                         ur_solution};
    for (size_t i = 0; i < 4; i++) {
        hd_reply_free(do_take(f, ids[i], "omar"));
        hd_reply_free(do_resolve(f, ids[i], "omar", sol[i]));
    }
    hd_reply_free(do_close(f, ids[3], "omar")); /* closed tickets are searched too */
    hd_reply_free(do_take(f, ids[4], "omar"));  /* the open one is never a hit */

    /* French words: the paper-jam ticket first (it has every word, often); the slow printer
     * only shares "imprimante", so if it is there at all it comes after. */
    HdReply *rep = ht_search(f->env, "bourrage papier imprimante", 0, 10);
    expect_first(rep, ids[0], fr_solution, "search French");
    int slow = hit_index(rep, ids[1]);
    assert_true(slow == -1 || slow > 0);
    assert_int_equal(hit_index(rep, ids[4]), -1);
    ht_assert_bytes(rep->results->hits[0]->ticket->problem->summary, fr_summary);
    hd_reply_free(rep);

    rep = ht_search(f->env, "imprimante", 0, 10);
    assert_true(hit_index(rep, ids[0]) >= 0 && hit_index(rep, ids[1]) >= 0);
    hd_reply_free(rep);

    /* Arabic and Urdu words */
    rep = ht_search(f->env, "الطابعة", 0, 10);
    expect_first(rep, ids[2], ar_solution, "search Arabic");
    hd_reply_free(rep);
    rep = ht_search(f->env, "سرور", 0, 10);
    expect_first(rep, ids[3], ur_solution, "search Urdu");
    assert_int_equal(rep->results->hits[0]->ticket->status, ST(CLOSED));
    hd_reply_free(rep);

    /* similar to the open paper-jam ticket: the solved paper jam first */
    rep = ht_search(f->env, NULL, ids[4], 10);
    expect_first(rep, ids[0], fr_solution, "similar to an open ticket");
    hd_reply_free(rep);
    /* similar to a solved ticket: never itself */
    rep = ht_search(f->env, NULL, ids[0], 10);
    assert_int_equal(hit_index(rep, ids[0]), -1);
    hd_reply_free(rep);
    rep = ht_search(f->env, NULL, ids[2], 10);
    assert_int_equal(hit_index(rep, ids[2]), -1);
    hd_reply_free(rep);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- the real `helpdesk` */

/* helpdesk --config CFG args...; fails with what it said when the exit code is not `want`. */
static void cli(fixture *f, int want, const char *const *args)
{
    const char *argv[64] = {"helpdesk", "--config", f->env->config};
    size_t n = 3;
    for (size_t i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int code = ht_run(f->env, argv, NULL, f->out, sizeof f->out, f->err, sizeof f->err, 30000);
    if (code != want) {
        fprintf(stderr, "helpdesk");
        for (size_t i = 1; argv[i]; i++)
            fprintf(stderr, " '%s'", argv[i]);
        fprintf(stderr, "\nstdout:\n%s\nstderr:\n%s\n", f->out, f->err);
        fail_msg("helpdesk exited with %d, want %d", code, want);
    }
}

static void test_cli_workflow(void **state)
{
    fixture *f = *state;
    const char *s[] = {"wfp1 Serveur de fichiers inaccessible", "Souris sans fil"};
    int64_t ids[2];
    submit_queued(f, "cli-1", "wf-cli", s, NULL, 2, ids);
    char id0[32];
    snprintf(id0, sizeof id0, "%lld", (long long)ids[0]);

    int64_t t0 = hd_now_ms();
    cli(f, 0, (const char *[]){"next", "--queue", "wf-cli", "--agent", "sami", NULL});
    assert_non_null(strstr(f->out, id0)); /* the P1 one */
    cli(f, 0, (const char *[]){"note", id0, "partage SMB redémarré", "--agent", "sami", NULL});
    cli(f, 0,
        (const char *[]){"log-contact", id0, "--direction", "outbound", "--channel", "on_site",
                         "--summary", "visite sur site", "--agent", "sami", NULL});
    cli(f, 0, (const char *[]){"wait", id0, "--reason", "attente du client", "--agent", "sami",
                               NULL});
    cli(f, 0,
        (const char *[]){"resolve", id0, "--solution", "Service SMB relancé sur le serveur",
                         "--agent", "sami", NULL});
    cli(f, 0, (const char *[]){"close", id0, "--agent", "sami", NULL});
    /* refused: exit 1, naming the status, nothing changed */
    int64_t last = ht_last_seq(f->env);
    cli(f, 1, (const char *[]){"resolve", id0, "--solution", "encore", "--agent", "sami", NULL});
    if (strstr(f->err, "closed") == NULL && strstr(f->out, "closed") == NULL)
        fail_msg("the refusal does not name the status:\n%s%s", f->out, f->err);
    assert_int_equal(ht_last_seq(f->env), last);
    cli(f, 0, (const char *[]){"confirm", id0, "--not-satisfied", "--comment", "toujours en panne",
                               "--agent", "client", NULL});
    cli(f, 0, (const char *[]){"show", id0, NULL});
    assert_non_null(strstr(f->out, "reopened"));

    /* what the command did is in the store, with actor and time */
    static const Helpdesk__V1__EventKind kinds[] = {
        EK(TAKEN), EK(NOTE), EK(CONTACT_LOGGED), EK(WAITING), EK(RESOLVED), EK(CLOSED),
        EK(SATISFACTION), EK(REOPENED)};
    HdReply *rep = get_ok(f, ids[0]);
    const HdTicketDetail *d = rep->ticket;
    assert_int_equal(d->n_history, 3 + sizeof kinds / sizeof kinds[0]);
    int64_t now = hd_now_ms();
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const HdTicketEvent *e = d->history[3 + i];
        if (e->kind != kinds[i])
            fail_msg("history[%zu] is %s, want %s", 3 + i, hd_event_kind_name(e->kind),
                     hd_event_kind_name(kinds[i]));
        assert_string_equal(e->actor, i < 6 ? "sami" : "client");
        assert_true(e->at >= t0 && e->at <= now);
    }
    assert_string_equal(d->history[4]->text, "partage SMB redémarré");
    assert_string_equal(d->history[5]->channel, "on_site");
    assert_int_equal(d->ticket->status, ST(REOPENED));
    assert_int_equal(d->ticket->satisfaction, 2);
    hd_reply_free(rep);

    /* search through the command: a resolved ticket with its solution */
    char id1[32];
    snprintf(id1, sizeof id1, "%lld", (long long)ids[1]);
    cli(f, 0, (const char *[]){"take", id1, "--agent", "sami", NULL});
    cli(f, 0, (const char *[]){"resolve", id1, "--solution", "Piles remplacées dans la souris",
                               "--agent", "sami", NULL});
    cli(f, 0, (const char *[]){"search", "souris", NULL});
    assert_non_null(strstr(f->out, id1));
    assert_non_null(strstr(f->out, "Piles remplacées dans la souris"));
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_next_takes_highest_priority_then_oldest),
        HT_TEST(test_concurrent_nexts_never_get_the_same_ticket),
        HT_TEST(test_every_action_is_in_the_history),
        HT_TEST(test_not_satisfied_reopens),
        HT_TEST(test_search_and_similar_find_solutions_in_any_language),
        HT_TEST(test_cli_workflow),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
