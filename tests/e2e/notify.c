/* End to end: the notifier's customer communication reaches real receivers. A real SMTP server
 * (python3 aiosmtpd) and a local HTTP receiver (python3 http.server) on loopback ports; real
 * hd-store, hd-intake, hd-prioritizer, hd-router, hd-escalation-timer, hd-notifier and
 * PostgreSQL. P3 promises an update every 2 s here; everything else keeps the harness's long SLAs,
 * so the only clock that runs during the test is that one.
 *
 * Tolerances: an update email arrives within 1500 ms after its deadline, consecutive ones
 * 2000 ms +- 800 ms apart (the timer ticks every 50 ms; the rest is the store, the notifier and
 * SMTP on a loaded machine under the sanitizers). */
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
#include "hd/clock.h"
#include "sinks.h"

#define UPDATE_INTERVAL_MS 2000
#define UPDATE_LATE_MS 1500
#define UPDATE_SPACING_TOLERANCE_MS 800
#define WAIT_MS 15000
#define SATISFACTION_URL "https://support.example.com/satisfaction?ticket={ticket}"

/* Every service of the main environment gets the short update interval of P3 (the prioritizer
 * sets the SLA; the store recomputes with the same table). */
static const char *const short_sla[] = {"HD_SLA_P3_UPDATE_INTERVAL=2", NULL};

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake, *prio, *router, *timer, *notifier;
    ht_sink smtp, http;
    int64_t ack_ticket; /* a queued ticket of the first test, for a reply later */
    /* the second environment, whose mail server is unreachable */
    ht_env *down;
    ht_sink down_http;
} fixture;

/* ---------------------------------------------------------------- setup */

/* The notifier's part of the config; smtp_url and webhook_url may be anything. */
static void write_notifier_config(ht_env *env, const char *smtp_url, const char *webhook_url,
                                  int retry_initial_ms, int retry_max_ms, int max_attempts)
{
    char templates[512], extra[2048];
    if (ht_source_path("deploy/local/templates", templates, sizeof templates) != 0)
        fail_msg("no templates folder");
    /* commit_ms: the cursor moves only at a clean stop, so the kill -9 below makes the restart
     * read the whole log again, every communication already sent included. */
    snprintf(extra, sizeof extra,
             "notifier:\n"
             "  smtp:\n    url: \"%s\"\n    from: \"Help Desk <helpdesk@example.com>\"\n"
             "  webhook:\n    url: \"%s\"\n"
             "  templates: \"%s\"\n"
             "  satisfaction_url: \"" SATISFACTION_URL "\"\n"
             "  commit_ms: 600000\n"
             "  retry:\n    initial_ms: %d\n    max_ms: %d\n    max_attempts: %d\n"
             "  connect_timeout_ms: 1000\n  timeout_ms: 5000\n"
             "timer:\n  tick_ms: 50\n  commit_ms: 200\n",
             smtp_url, webhook_url, templates, retry_initial_ms, retry_max_ms, max_attempts);
    ht_env_write_config(env, extra);
}

static int start_services(ht_env *env, ht_proc **store, ht_proc **intake, ht_proc **prio,
                          ht_proc **router, ht_proc **timer, ht_proc **notifier)
{
    static const char *const bins[] = {"hd-store",  "hd-intake",           "hd-prioritizer",
                                       "hd-router", "hd-escalation-timer", "hd-notifier"};
    ht_proc **slots[] = {store, intake, prio, router, timer, notifier};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        if (slots[i] == NULL)
            continue;
        *slots[i] = ht_start_ready(env, bins[i], short_sla);
        if (*slots[i] == NULL) {
            ht_dump_logs(env, 40);
            return -1;
        }
    }
    return 0;
}

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "notify");
    *state = f;
    if (ht_sink_start(f->env, &f->smtp, HT_SINK_SMTP, "smtp-sink") != 0 ||
        ht_sink_start(f->env, &f->http, HT_SINK_HTTP, "http-sink") != 0)
        return -1;
    write_notifier_config(f->env, f->smtp.url, f->http.url, 200, 1000, 3);
    return start_services(f->env, &f->store, &f->intake, &f->prio, &f->router, &f->timer,
                          &f->notifier);
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    if (f != NULL) {
        ht_env_destroy(&f->down);
        (void)ht_sink_stop(&f->down_http);
        ht_env_destroy(&f->env); /* services first: nothing sends to a stopped sink */
        (void)ht_sink_stop(&f->smtp);
        (void)ht_sink_stop(&f->http);
        free(f);
    }
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static HdReply *act(ht_env *env, HdTicketAction *a)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_ACT;
    req.act = a;
    HdReply *rep = ht_store_call(env, &req);
    if (rep == NULL)
        fail_msg("the store did not answer an action on ticket %lld", (long long)a->ticket_id);
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR)
        fail_msg("action %d on ticket %lld refused: %s (%s)", a->action_case,
                 (long long)a->ticket_id, rep->error->message, rep->error->field);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    return rep;
}

static void take(ht_env *env, int64_t id, const char *actor)
{
    Helpdesk__V1__Take t = HELPDESK__V1__TAKE__INIT;
    HdTicketAction a = HELPDESK__V1__TICKET_ACTION__INIT;
    a.ticket_id = id;
    a.actor = (char *)actor;
    a.action_case = HELPDESK__V1__TICKET_ACTION__ACTION_TAKE;
    a.take = &t;
    hd_reply_free(act(env, &a));
}

/* The seq of the event of `kind` the action made. */
static int64_t made_event(const HdReply *rep, Helpdesk__V1__EventKind kind)
{
    for (size_t i = 0; i < rep->ticket->n_history; i++)
        if (rep->ticket->history[i]->kind == kind)
            return rep->ticket->history[i]->seq;
    fail_msg("the action made no %s event", hd_event_kind_name(kind));
    return 0;
}

static int64_t resolve(ht_env *env, int64_t id, const char *actor, const char *solution)
{
    Helpdesk__V1__Resolve r = HELPDESK__V1__RESOLVE__INIT;
    r.solution = (char *)solution;
    HdTicketAction a = HELPDESK__V1__TICKET_ACTION__INIT;
    a.ticket_id = id;
    a.actor = (char *)actor;
    a.action_case = HELPDESK__V1__TICKET_ACTION__ACTION_RESOLVE;
    a.resolve = &r;
    HdReply *rep = act(env, &a);
    int64_t seq = made_event(rep, HELPDESK__V1__EVENT_KIND__EVENT_RESOLVED);
    hd_reply_free(rep);
    return seq;
}

static int64_t reply(ht_env *env, int64_t id, const char *actor, const char *text)
{
    Helpdesk__V1__CustomerMessage m = HELPDESK__V1__CUSTOMER_MESSAGE__INIT;
    m.text = (char *)text;
    HdTicketAction a = HELPDESK__V1__TICKET_ACTION__INIT;
    a.ticket_id = id;
    a.actor = (char *)actor;
    a.action_case = HELPDESK__V1__TICKET_ACTION__ACTION_REPLY;
    a.reply = &m;
    HdReply *rep = act(env, &a);
    int64_t seq = made_event(rep, HELPDESK__V1__EVENT_KIND__EVENT_REPLY);
    hd_reply_free(rep);
    return seq;
}

static HdReply *ticket_ok(ht_env *env, int64_t id)
{
    HdReply *rep = ht_get_ticket(env, id);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    return rep;
}

static HdReply *communication(ht_env *env, const char *key)
{
    HdGetCommunication g = HELPDESK__V1__GET_COMMUNICATION__INIT;
    g.key = (char *)key;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_COMMUNICATION;
    req.get_communication = &g;
    HdReply *rep = ht_store_call(env, &req);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_COMMUNICATION);
    return rep;
}

/* The communication event of `key` (and attempt, 0: any) in the ticket's history, or NULL. */
static const HdTicketEvent *comm_event(const HdReply *rep, const char *key, uint32_t attempt)
{
    for (size_t i = 0; i < rep->ticket->n_history; i++) {
        const HdTicketEvent *e = rep->ticket->history[i];
        if (e->kind == HELPDESK__V1__EVENT_KIND__EVENT_COMMUNICATION && e->key &&
            strcmp(e->key, key) == 0 && (attempt == 0 || e->attempt == attempt))
            return e;
    }
    return NULL;
}

/* Asserts one recorded, sent communication of `key` on ticket `id` over `channel`. */
static void assert_recorded_sent(ht_env *env, int64_t id, const char *key, const char *channel,
                                 const char *recipient)
{
    HdReply *rep = ticket_ok(env, id);
    const HdTicketEvent *e = comm_event(rep, key, 0);
    if (e == NULL)
        fail_msg("no communication event with key %s in the history of ticket %lld", key,
                 (long long)id);
    assert_string_equal(e->channel, channel);
    assert_string_equal(e->recipient, recipient);
    assert_string_equal(e->outcome, "sent");
    assert_int_equal(e->attempt, 1);
    assert_true(e->at > 0);
    hd_reply_free(rep);
}

typedef struct {
    ht_env *env;
    const ht_sink *sink;
    const char *key;
    int64_t id;
    size_t want;
} key_wait;

static bool mail_arrived(void *arg)
{
    const key_wait *w = arg;
    return ht_smtp_count_key(w->sink, w->key) >= w->want;
}

static bool post_arrived(void *arg)
{
    const key_wait *w = arg;
    return ht_http_count_key(w->sink, w->key) >= w->want;
}

static bool recorded(void *arg)
{
    const key_wait *w = arg;
    HdReply *rep = ht_get_ticket(w->env, w->id);
    bool ok = rep && rep->body_case == HELPDESK__V1__REPLY__BODY_TICKET &&
              comm_event(rep, w->key, 0) != NULL;
    hd_reply_free(rep);
    return ok;
}

/* Waits for the email of `key` at the SMTP sink and returns a copy of it (first of that key). */
static ht_mail wait_mail(fixture *f, const char *key)
{
    key_wait w = {.sink = &f->smtp, .key = key, .want = 1};
    if (!ht_wait_until(mail_arrived, &w, WAIT_MS))
        fail_msg("no email with key %s reached the SMTP server within %d ms", key, WAIT_MS);
    ht_mail *m;
    size_t n = ht_smtp_mails(&f->smtp, &m);
    ht_mail out = {0};
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].key, key) == 0) {
            out = m[i];
            m[i].body = m[i].raw = NULL; /* moved out */
            break;
        }
    ht_mails_free(&m, n);
    return out;
}

static void mail_free(ht_mail *m)
{
    free(m->body);
    free(m->raw);
    m->body = m->raw = NULL;
}

static void wait_post(const ht_sink *s, const char *key)
{
    key_wait w = {.sink = s, .key = key, .want = 1};
    if (!ht_wait_until(post_arrived, &w, WAIT_MS))
        fail_msg("no webhook POST with key %s within %d ms", key, WAIT_MS);
}

static void wait_recorded(ht_env *env, int64_t id, const char *key)
{
    key_wait w = {.env = env, .key = key, .id = id};
    if (!ht_wait_until(recorded, &w, WAIT_MS))
        fail_msg("the communication %s was not recorded on ticket %lld", key, (long long)id);
}

static void assert_contains(const char *hay, const char *needle, const char *what)
{
    if (hay == NULL || strstr(hay, needle) == NULL)
        fail_msg("%s does not contain \"%s\":\n%s", what, needle, hay ? hay : "(null)");
}

/* A contact of `n` problems that the test rules leave at P4 (no short clock). */
static HdReply *submit_p4(fixture *f, ht_contact *ct, const char *ext, const char *lang,
                          const char *name, const char *email, int n)
{
    ht_contact_init(ct, "e2e-notify", ext);
    ct->customer.language = (char *)lang;
    ct->customer.name = (char *)name;
    ct->customer.email = (char *)email;
    static const char *const summaries[] = {"Le logiciel de paie plante", "Clavier défectueux",
                                            "Écran noir au démarrage"};
    for (int i = 0; i < n; i++)
        ht_contact_add(ct, i % 2 ? "hardware" : "software", summaries[i % 3], "depuis hier");
    HdReply *rep = ht_submit_ok(f->env, &ct->c);
    if (!ht_wait_tickets_status(f->env, rep->receipt->ticket_ids, rep->receipt->n_ticket_ids,
                                HELPDESK__V1__STATUS__STATUS_QUEUED, WAIT_MS))
        fail_msg("the tickets of %s did not reach queued", ext);
    return rep;
}

/* ---------------------------------------------------------------- 1. acknowledgement */

static void test_ack_email_in_arabic_lists_both_tickets(void **state)
{
    fixture *f = *state;
    static const char name[] = "أمينة حدّاد";
    ht_contact ct;
    ht_contact_init(&ct, "e2e-notify", "ack-ar-1");
    ct.customer.language = "ar-EG"; /* the tag's language picks the template */
    ct.customer.name = (char *)name;
    ct.customer.email = "amina@example.com";
    ht_contact_add(&ct, "software", "برنامج المحاسبة لا يفتح", "يظهر خطأ عند التشغيل");
    ht_contact_add(&ct, "hardware", "الطابعة لا تطبع", "الورق عالق");
    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    const HdContactReceipt *r = rep->receipt;
    assert_int_equal(r->n_ticket_ids, 2);
    f->ack_ticket = r->ticket_ids[0];
    char key[64], t0[32], t1[32];
    snprintf(key, sizeof key, "ack/%lld", (long long)r->contact_id);
    snprintf(t0, sizeof t0, "#%lld", (long long)r->ticket_ids[0]);
    snprintf(t1, sizeof t1, "#%lld", (long long)r->ticket_ids[1]);

    ht_mail m = wait_mail(f, key);
    assert_string_equal(m.rcpt, "amina@example.com");
    /* one acknowledgement for the contact, naming both tickets, in Arabic */
    assert_contains(m.subject, t0, "the subject");
    assert_contains(m.subject, t1, "the subject");
    assert_contains(m.subject, "تم استلام طلبك", "the subject");
    assert_contains(m.body, "شكرًا لتواصلك مع مكتب الدعم الفني", "the body");
    assert_contains(m.body, name, "the body");
    assert_contains(m.body, t0, "the body");
    assert_contains(m.body, t1, "the body");
    /* proper MIME: the non-ASCII subject RFC 2047 encoded, UTF-8 declared */
    assert_contains(m.raw, "Subject: =?UTF-8?", "the raw message");
    assert_contains(m.raw, "MIME-Version: 1.0", "the raw message");
    assert_contains(m.raw, "Date: ", "the raw message");
    assert_contains(m.raw, "Message-ID: <", "the raw message");
    assert_contains(m.content_type, "text/plain", "Content-Type");
    assert_contains(m.content_type, "UTF-8", "Content-Type");
    assert_true(strcmp(m.transfer_encoding, "8bit") == 0 ||
                strcmp(m.transfer_encoding, "base64") == 0);
    mail_free(&m);

    /* recorded on the ticket: channel, recipient, outcome */
    int64_t owner = 0;
    for (size_t i = 0; i < 2 && owner == 0; i++) {
        key_wait w = {.env = f->env, .key = key, .id = r->ticket_ids[i]};
        if (ht_wait_until(recorded, &w, i == 0 ? WAIT_MS : 10))
            owner = r->ticket_ids[i];
    }
    if (owner == 0)
        fail_msg("the acknowledgement %s is in neither ticket's history", key);
    assert_recorded_sent(f->env, owner, key, "email", "amina@example.com");
    /* one acknowledgement, not one per ticket (the final check of the kill test counts again
     * once the notifier has stopped) */
    assert_int_equal(ht_smtp_count_key(&f->smtp, key), 1);
    hd_reply_free(rep);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- 2. webhook */

static void test_webhook_posts_json_with_the_ticket(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    HdReply *rep = submit_p4(f, &ct, "webhook-1", "en", "Webster Hook", "web@example.com", 1);
    int64_t id = rep->receipt->ticket_ids[0];
    char key[64];
    snprintf(key, sizeof key, "ack/%lld/webhook", (long long)rep->receipt->contact_id);
    wait_post(&f->http, key);

    char **posts;
    size_t n = ht_http_posts(&f->http, &posts);
    const char *doc = NULL;
    char s[1024];
    for (size_t i = 0; i < n && doc == NULL; i++)
        if (ht_json_str(posts[i], "key", s, sizeof s) && strcmp(s, key) == 0)
            doc = posts[i];
    assert_non_null(doc);
    int64_t v = 0;
    assert_true(ht_json_int(doc, "ticket_id", &v));
    assert_int_equal(v, id);
    assert_true(ht_json_str(doc, "kind", s, sizeof s));
    assert_string_equal(s, "ack");
    assert_true(ht_json_str(doc, "subject", s, sizeof s));
    char want[32];
    snprintf(want, sizeof want, "#%lld", (long long)id);
    assert_contains(s, want, "the webhook subject");
    assert_true(ht_json_str(doc, "body", s, sizeof s));
    assert_contains(s, "Webster Hook", "the webhook body");
    ht_posts_free(&posts, n);
    wait_recorded(f->env, id, key);
    assert_recorded_sent(f->env, id, key, "webhook", f->http.url);
    hd_reply_free(rep);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- 3. periodic updates */

typedef struct {
    const ht_sink *sink;
    char prefix[64];
    size_t want;
} prefix_wait;

static size_t mails_with_prefix(const ht_sink *s, const char *prefix, ht_mail **out)
{
    ht_mail *m;
    size_t n = ht_smtp_mails(s, &m), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(m[i].key, prefix, strlen(prefix)) == 0) {
            ht_mail t = m[k];
            m[k++] = m[i];
            m[i] = t;
        }
    }
    for (size_t i = k; i < n; i++) {
        free(m[i].body);
        free(m[i].raw);
    }
    *out = m;
    return k;
}

static bool updates_arrived(void *arg)
{
    const prefix_wait *w = arg;
    ht_mail *m;
    size_t n = mails_with_prefix(w->sink, w->prefix, &m);
    ht_mails_free(&m, n);
    return n >= w->want;
}

static void test_periodic_updates_arrive_at_the_promised_interval(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    ht_contact_init(&ct, "e2e-notify", "updates-fr-1");
    ct.customer.language = "fr-CA";
    ct.customer.name = "Chloé Martin";
    ct.customer.email = "chloe@example.com";
    ht_contact_add(&ct, "printing", "Imprimante en panne", "bourrage papier"); /* -> P3 */
    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    int64_t id = rep->receipt->ticket_ids[0];
    hd_reply_free(rep);

    prefix_wait w = {.sink = &f->smtp, .want = 2};
    snprintf(w.prefix, sizeof w.prefix, "update/%lld/", (long long)id);
    if (!ht_wait_until(updates_arrived, &w, 3 * UPDATE_INTERVAL_MS + 6000))
        fail_msg("fewer than 2 update emails for ticket %lld", (long long)id);
    /* stop the clock before checking: a resolved ticket gets no more updates */
    take(f->env, id, "tech-paris");
    int64_t resolved_seq = resolve(f->env, id, "tech-paris", "Rouleau d'entraînement remplacé.");

    HdReply *t = ticket_ok(f->env, id);
    const HdTicket *tk = t->ticket->ticket;
    assert_int_equal(tk->priority, HELPDESK__V1__PRIORITY__PRIORITY_P3_REGULAR_SERVICE);
    assert_int_equal(tk->sla->update_interval_ms, UPDATE_INTERVAL_MS);
    ht_mail *m;
    size_t n = mails_with_prefix(&f->smtp, w.prefix, &m);
    assert_true(n >= 2);
    int64_t prev_deadline = 0, prev_arrival = 0;
    for (size_t i = 0; i < n; i++) {
        /* the key names the deadline; the history has the update_due event of that deadline
         * and the communication recorded */
        int64_t deadline = strtoll(m[i].key + strlen(w.prefix), NULL, 10);
        assert_int_equal((deadline - tk->created_at) % UPDATE_INTERVAL_MS, 0);
        const HdTicketEvent *due = NULL;
        for (size_t k = 0; k < t->ticket->n_history; k++) {
            const HdTicketEvent *e = t->ticket->history[k];
            if (e->kind == HELPDESK__V1__EVENT_KIND__EVENT_UPDATE_DUE &&
                e->deadline_at == deadline)
                due = e;
        }
        if (due == NULL)
            fail_msg("no update_due event for deadline %lld", (long long)deadline);
        const HdTicketEvent *c = comm_event(t, m[i].key, 0);
        if (c == NULL)
            fail_msg("update %s not recorded in the history", m[i].key);
        assert_string_equal(c->channel, "email");
        assert_string_equal(c->recipient, "chloe@example.com");
        assert_string_equal(c->outcome, "sent");
        assert_true(c->seq > due->seq);
        /* on time */
        int64_t late = m[i].received_ms - deadline;
        if (late < 0 || late > UPDATE_LATE_MS)
            fail_msg("update %zu arrived %lld ms after its deadline (allowed 0..%d)", i,
                     (long long)late, UPDATE_LATE_MS);
        if (i > 0) {
            assert_int_equal(deadline - prev_deadline, UPDATE_INTERVAL_MS);
            int64_t gap = m[i].received_ms - prev_arrival;
            if (gap < UPDATE_INTERVAL_MS - UPDATE_SPACING_TOLERANCE_MS ||
                gap > UPDATE_INTERVAL_MS + UPDATE_SPACING_TOLERANCE_MS)
                fail_msg("updates %zu and %zu arrived %lld ms apart (promised %d +- %d)", i - 1,
                         i, (long long)gap, UPDATE_INTERVAL_MS, UPDATE_SPACING_TOLERANCE_MS);
        }
        /* in French, for the customer */
        assert_string_equal(m[i].rcpt, "chloe@example.com");
        assert_contains(m[i].subject, "Point sur votre ticket", "the update subject");
        assert_contains(m[i].body, "Voici le point régulier", "the update body");
        prev_deadline = deadline;
        prev_arrival = m[i].received_ms;
    }
    ht_mails_free(&m, n);
    hd_reply_free(t);
    /* the resolution goes out too; waiting for it (and its webhook copy) leaves nothing of
     * this ticket in flight */
    char key[64];
    snprintf(key, sizeof key, "resolved/%lld", (long long)resolved_seq);
    ht_mail r = wait_mail(f, key);
    mail_free(&r);
    snprintf(key, sizeof key, "resolved/%lld/webhook", (long long)resolved_seq);
    wait_post(&f->http, key);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- 6. resolution */

static void test_resolution_carries_solution_and_satisfaction_request(void **state)
{
    fixture *f = *state;
    ht_contact ct;
    HdReply *rep = submit_p4(f, &ct, "resolve-en-1", "en-GB", "Ruth Solver", "ruth@example.com", 1);
    int64_t id = rep->receipt->ticket_ids[0];
    hd_reply_free(rep);
    static const char solution[] = "Reinstalled the payroll client and cleared its cache.";
    take(f->env, id, "tech-1");
    int64_t seq = resolve(f->env, id, "tech-1", solution);

    char key[64], url[160], want[32];
    snprintf(key, sizeof key, "resolved/%lld", (long long)seq);
    snprintf(url, sizeof url, "https://support.example.com/satisfaction?ticket=%lld",
             (long long)id);
    snprintf(want, sizeof want, "#%lld", (long long)id);
    ht_mail m = wait_mail(f, key);
    assert_string_equal(m.rcpt, "ruth@example.com");
    assert_contains(m.subject, want, "the subject");
    assert_contains(m.subject, "resolved", "the subject");
    assert_contains(m.body, solution, "the body");
    assert_contains(m.body, "reply to this message with the word SOLVED", "the body");
    assert_contains(m.body, "NOT SOLVED", "the body");
    assert_contains(m.body, url, "the body");
    mail_free(&m);
    wait_recorded(f->env, id, key);
    assert_recorded_sent(f->env, id, key, "email", "ruth@example.com");
    snprintf(key, sizeof key, "resolved/%lld/webhook", (long long)seq);
    wait_post(&f->http, key);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- 5. kill -9 and restart */

/* Nothing left in flight: every email/webhook the store records as sent is at its sink and
 * nothing else, no communication unfinished, and it stayed so for a while. */
typedef struct {
    fixture *f;
    int64_t since;
} idle_wait;

static bool settled_now(fixture *f)
{
    long emails = ht_sql_long(f->env, "SELECT count(DISTINCT key) FROM communications "
                                      "WHERE sent AND channel = 'email'");
    long hooks = ht_sql_long(f->env, "SELECT count(DISTINCT key) FROM communications "
                                     "WHERE sent AND channel = 'webhook'");
    long open = ht_sql_long(f->env, "SELECT count(*) FROM (SELECT key FROM communications "
                                    "GROUP BY key HAVING NOT bool_or(sent) "
                                    "AND NOT bool_or(final)) x");
    ht_mail *m;
    size_t nm = ht_smtp_mails(&f->smtp, &m);
    ht_mails_free(&m, nm);
    char **p;
    size_t np = ht_http_posts(&f->http, &p);
    ht_posts_free(&p, np);
    return open == 0 && emails == (long)nm && hooks == (long)np;
}

static bool idle(void *arg)
{
    idle_wait *w = arg;
    if (!settled_now(w->f)) {
        w->since = 0;
        return false;
    }
    if (w->since == 0)
        w->since = hd_mono_ms();
    return hd_mono_ms() - w->since >= 500;
}

static void wait_idle(fixture *f)
{
    idle_wait w = {.f = f};
    if (!ht_wait_until(idle, &w, WAIT_MS))
        fail_msg("the notifier did not settle: sinks and recorded communications disagree");
}

static void wait_both(fixture *f, const char *key)
{
    char hook[200];
    ht_mail m = wait_mail(f, key);
    mail_free(&m);
    snprintf(hook, sizeof hook, "%s/webhook", key);
    wait_post(&f->http, hook);
}

static void test_notifier_killed_and_restarted_sends_each_once(void **state)
{
    fixture *f = *state;
    wait_idle(f);
    ht_kill9(f->notifier);
    /* its cursor stayed behind (commit_ms is long): the restart reads again the events whose
     * messages went out already */
    long sent_max_seq = ht_sql_long(f->env, "SELECT coalesce(max(seq), 0) FROM ticket_events "
                                            "WHERE kind = 'communication'");
    long cursor = ht_sql_long(f->env, "SELECT coalesce((SELECT seq FROM consumer_cursors "
                                      "WHERE consumer = 'notifier'), 0)");
    assert_true(sent_max_seq > 0);
    assert_true(cursor < sent_max_seq);

    /* work arrives while it is down: two contacts and a technician's reply */
    ht_contact a, b;
    HdReply *ra = submit_p4(f, &a, "while-down-1", "fr", "Henri Dupont", "henri@example.com", 2);
    HdReply *rb = submit_p4(f, &b, "while-down-2", "id", "Siti Rahma", "siti@example.com", 1);
    int64_t reply_seq = reply(f->env, f->ack_ticket, "tech-ar", "أعدنا تشغيل الخادم.");

    f->notifier = ht_start_ready(f->env, "hd-notifier", short_sla);
    assert_non_null(f->notifier);
    char key[64];
    snprintf(key, sizeof key, "ack/%lld", (long long)ra->receipt->contact_id);
    wait_both(f, key);
    snprintf(key, sizeof key, "ack/%lld", (long long)rb->receipt->contact_id);
    wait_both(f, key);
    snprintf(key, sizeof key, "reply/%lld", (long long)reply_seq);
    wait_both(f, key);
    ht_mail m = wait_mail(f, key);
    assert_contains(m.body, "أعدنا تشغيل الخادم.", "the reply body");
    assert_string_equal(m.rcpt, "amina@example.com");
    mail_free(&m);
    wait_idle(f);
    /* stopped cleanly, nothing more can arrive: now count */
    assert_int_equal(ht_stop(f->notifier, 10000), 0);

    ht_mail *mails;
    size_t nm = ht_smtp_mails(&f->smtp, &mails);
    for (size_t i = 0; i < nm; i++) {
        assert_true(mails[i].key[0] != '\0');
        for (size_t k = i + 1; k < nm; k++)
            if (strcmp(mails[i].key, mails[k].key) == 0)
                fail_msg("email %s delivered twice (messages %d and %d)", mails[i].key,
                         mails[i].n, mails[k].n);
        char sql[400];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM communications WHERE sent AND key = '%s'", mails[i].key);
        if (ht_sql_long(f->env, sql) != 1)
            fail_msg("email %s reached the server but is not recorded sent once", mails[i].key);
    }
    char **posts;
    size_t np = ht_http_posts(&f->http, &posts);
    char (*keys)[192] = calloc(np ? np : 1, sizeof *keys);
    assert_non_null(keys);
    for (size_t i = 0; i < np; i++) {
        assert_true(ht_json_str(posts[i], "key", keys[i], sizeof keys[i]));
        for (size_t k = 0; k < i; k++)
            if (strcmp(keys[i], keys[k]) == 0)
                fail_msg("webhook %s delivered twice", keys[i]);
    }
    /* nothing missing: every contact acknowledged once by email and once by webhook, and the
     * store's record of sent messages matches the sinks */
    long contacts = ht_sql_long(f->env, "SELECT count(*) FROM contacts");
    long acked = 0;
    for (long k = 0; k < contacts; k++) {
        char sql[120];
        snprintf(sql, sizeof sql, "SELECT id FROM contacts ORDER BY id OFFSET %ld LIMIT 1", k);
        long c = ht_sql_long(f->env, sql);
        snprintf(key, sizeof key, "ack/%ld", c);
        size_t e = 0;
        for (size_t i = 0; i < nm; i++)
            e += strcmp(mails[i].key, key) == 0;
        snprintf(key, sizeof key, "ack/%ld/webhook", c);
        size_t h = 0;
        for (size_t i = 0; i < np; i++)
            h += strcmp(keys[i], key) == 0;
        if (e != 1 || h != 1)
            fail_msg("contact %ld: %zu acknowledgement emails, %zu webhooks (want 1 and 1)", c, e,
                     h);
        acked++;
    }
    assert_int_equal(acked, contacts);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(DISTINCT key) FROM communications "
                                         "WHERE sent AND channel = 'email'"),
                     (long)nm);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(DISTINCT key) FROM communications "
                                         "WHERE sent AND channel = 'webhook'"),
                     (long)np);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM (SELECT key FROM communications "
                                         "WHERE sent GROUP BY key HAVING count(*) > 1) x"),
                     0);
    free(keys);
    ht_posts_free(&posts, np);
    ht_mails_free(&mails, nm);
    hd_reply_free(ra);
    hd_reply_free(rb);
    ht_pass(f->env);
}

/* ---------------------------------------------------------------- 4. unreachable SMTP */

static int down_teardown(void **state)
{
    fixture *f = *state;
    if (f->env->in_test && f->down != NULL) {
        fprintf(stderr, "harness: the unreachable-SMTP environment's logs follow\n");
        ht_dump_logs(f->down, 30);
    }
    return ht_fixture_test_teardown(state);
}

typedef struct {
    ht_env *env;
    const char *key;
    uint32_t attempts;
    bool final;
} comm_wait;

static bool comm_reached(void *arg)
{
    comm_wait *w = arg;
    HdGetCommunication g = HELPDESK__V1__GET_COMMUNICATION__INIT;
    g.key = (char *)w->key;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_COMMUNICATION;
    req.get_communication = &g;
    HdReply *rep = ht_store_call(w->env, &req);
    bool ok = rep && rep->body_case == HELPDESK__V1__REPLY__BODY_COMMUNICATION &&
              rep->communication->found && rep->communication->attempts >= w->attempts &&
              (!w->final || rep->communication->final);
    hd_reply_free(rep);
    return ok;
}

/* ---------------------------------------------------------------- the batched requests */

static HdReply *lookup_call(ht_env *env, Helpdesk__V1__NotifyLookup *l)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_NOTIFY_LOOKUP;
    req.notify_lookup = l;
    HdReply *rep = ht_store_call(env, &req);
    assert_non_null(rep);
    return rep;
}

static HdReply *records_call(ht_env *env, HdRecordCommunication **recs, size_t n)
{
    Helpdesk__V1__RecordCommunications r = HELPDESK__V1__RECORD_COMMUNICATIONS__INIT;
    r.records = recs;
    r.n_records = n;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_RECORD_COMMUNICATIONS;
    req.record_communications = &r;
    HdReply *rep = ht_store_call(env, &req);
    assert_non_null(rep);
    return rep;
}

static void record_init(HdRecordCommunication *r, int64_t ticket, const char *key,
                        uint32_t attempt, bool sent)
{
    helpdesk__v1__record_communication__init(r);
    r->ticket_id = ticket;
    r->key = (char *)key;
    r->attempt = attempt;
    r->sent = sent;
    r->kind = (char *)"ack";
    r->channel = (char *)"log";
    r->recipient = (char *)"customer:Amira";
    r->subject = (char *)"تم استلام طلبك « #1 »";
    r->error = (char *)(sent ? "" : "connection \"refused\" \\ later");
    r->actor = (char *)"e2e";
}

static size_t comm_events(ht_env *env, int64_t ticket, const char *key)
{
    HdReply *t = ticket_ok(env, ticket);
    size_t n = 0;
    for (uint32_t a = 1; a <= 4; a++)
        n += comm_event(t, key, a) != NULL;
    hd_reply_free(t);
    return n;
}

/* notify_lookup answers a page's tickets, contacts and key statuses in one request;
 * record_communications records many attempts once each, with their events, and answers a
 * missing ticket per record; bad input names the element. */
static void test_batched_lookup_and_record(void **state)
{
    fixture *f = *state;
    ht_contact c;
    ht_contact_init(&c, "e2e-notify", "batch-1");
    ht_contact_add(&c, "network", "Réseau en panne", "depuis ce matin");
    ht_contact_add(&c, "printing", "طابعة معطلة", "الطابق الثاني");
    HdReply *rc = ht_submit_ok(f->env, &c.c);
    int64_t t1 = rc->receipt->ticket_ids[0], t2 = rc->receipt->ticket_ids[1];
    int64_t ids[] = {t2, 999999999, t1}, of[] = {t2};
    char *keys[] = {(char *)"e2e-batch/none", (char *)"e2e-batch/1"};
    Helpdesk__V1__NotifyLookup l = HELPDESK__V1__NOTIFY_LOOKUP__INIT;
    l.ticket_ids = ids;
    l.n_ticket_ids = 3;
    l.contacts_of = of;
    l.n_contacts_of = 1;
    l.keys = keys;
    l.n_keys = 2;
    HdReply *rep = lookup_call(f->env, &l);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_NOTIFY_CONTEXT);
    const Helpdesk__V1__NotifyContext *ctx = rep->notify_context;
    assert_int_equal(ctx->n_tickets, 2); /* by id; the unknown one left out */
    assert_int_equal(ctx->tickets[0]->id, t1);
    assert_int_equal(ctx->tickets[1]->id, t2);
    assert_string_equal(ctx->tickets[1]->problem->summary, "طابعة معطلة");
    assert_int_equal(ctx->n_contacts, 1);
    assert_int_equal(ctx->contacts[0]->contact_id, rc->receipt->contact_id);
    assert_int_equal(ctx->contacts[0]->n_ticket_ids, 2);
    assert_int_equal(ctx->contacts[0]->ticket_ids[0], t1);
    assert_int_equal(ctx->contacts[0]->ticket_ids[1], t2);
    assert_int_equal(ctx->n_communications, 2);
    assert_string_equal(ctx->communications[1]->key, "e2e-batch/1");
    assert_false(ctx->communications[0]->found);
    assert_false(ctx->communications[1]->found);
    hd_reply_free(rep);

    /* attempt 1 failed, attempt 2 sent, attempt 2 again in the same batch, a missing ticket */
    HdRecordCommunication r[4], *pr[4] = {&r[0], &r[1], &r[2], &r[3]};
    record_init(&r[0], t1, "e2e-batch/1", 1, false);
    record_init(&r[1], t1, "e2e-batch/1", 2, true);
    record_init(&r[2], t1, "e2e-batch/1", 2, true);
    record_init(&r[3], 999999999, "e2e-batch/2", 1, true);
    for (int round = 0; round < 2; round++) { /* the second time: a repeat changes nothing */
        rep = records_call(f->env, pr, 4);
        assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_COMMUNICATIONS);
        assert_int_equal(rep->communications->n_communications, 4);
        for (int i = 0; i < 3; i++) {
            const HdCommunicationStatus *s = rep->communications->communications[i];
            assert_true(s->found);
            assert_true(s->sent);
            assert_int_equal(s->attempts, 2);
        }
        assert_false(rep->communications->communications[3]->found);
        hd_reply_free(rep);
        assert_int_equal(comm_events(f->env, t1, "e2e-batch/1"), 2);
    }
    HdReply *t = ticket_ok(f->env, t1);
    const HdTicketEvent *e = comm_event(t, "e2e-batch/1", 1);
    assert_non_null(e);
    assert_string_equal(e->outcome, "failed: connection \"refused\" \\ later");
    assert_string_equal(e->subject, "تم استلام طلبك « #1 »");
    assert_string_equal(e->actor, "e2e");
    hd_reply_free(t);
    HdReply *g = communication(f->env, "e2e-batch/2");
    assert_false(g->communication->found);
    hd_reply_free(g);

    /* bad input: the reply names the element */
    int64_t bad_ids[] = {t1, -3};
    Helpdesk__V1__NotifyLookup bad = HELPDESK__V1__NOTIFY_LOOKUP__INIT;
    bad.ticket_ids = bad_ids;
    bad.n_ticket_ids = 2;
    rep = lookup_call(f->env, &bad);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "ticket_ids[1]");
    hd_reply_free(rep);
    char *bad_keys[] = {(char *)"ok", (char *)""};
    bad.n_ticket_ids = 0;
    bad.keys = bad_keys;
    bad.n_keys = 2;
    rep = lookup_call(f->env, &bad);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "keys[1]");
    hd_reply_free(rep);
    rep = records_call(f->env, NULL, 0);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "records");
    hd_reply_free(rep);
    r[1].attempt = 0;
    rep = records_call(f->env, pr, 2);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "records[1].attempt");
    hd_reply_free(rep);
    hd_reply_free(rc);
    ht_pass(f->env);
}

#define DOWN_INITIAL_MS 800
#define DOWN_MAX_MS 1600
#define DOWN_ATTEMPTS 3

static void test_unreachable_smtp_retries_and_does_not_block(void **state)
{
    fixture *f = *state;
    f->down = ht_env_new("notify-down");
    assert_int_equal(ht_write_test_rules(f->down), 0);
    assert_int_equal(ht_sink_start(f->down, &f->down_http, HT_SINK_HTTP, "down-http"), 0);
    char smtp[64];
    snprintf(smtp, sizeof smtp, "smtp://127.0.0.1:%d", ht_closed_port());
    write_notifier_config(f->down, smtp, f->down_http.url, DOWN_INITIAL_MS, DOWN_MAX_MS,
                          DOWN_ATTEMPTS);
    ht_proc *store, *intake, *prio, *router, *notifier;
    assert_int_equal(start_services(f->down, &store, &intake, &prio, &router, NULL, &notifier), 0);

    ht_contact x, y;
    ht_contact_init(&x, "e2e-down", "x-1");
    ht_contact_add(&x, "software", "Payroll crashes", "since Monday");
    HdReply *rx = ht_submit_ok(f->down, &x.c);
    int64_t xid = rx->receipt->ticket_ids[0];
    char xkey[64], ykey[64];
    snprintf(xkey, sizeof xkey, "ack/%lld", (long long)rx->receipt->contact_id);
    comm_wait w = {.env = f->down, .key = xkey, .attempts = 1};
    if (!ht_wait_until(comm_reached, &w, WAIT_MS))
        fail_msg("no failed attempt recorded for %s", xkey);

    /* while X's email waits for its retries, Y's webhook goes out */
    ht_contact_init(&y, "e2e-down", "y-1");
    ht_contact_add(&y, "hardware", "Keyboard broken", "coffee");
    HdReply *ry = ht_submit_ok(f->down, &y.c);
    snprintf(ykey, sizeof ykey, "ack/%lld/webhook", (long long)ry->receipt->contact_id);
    wait_post(&f->down_http, ykey);
    HdReply *cx = communication(f->down, xkey);
    if (cx->communication->final || cx->communication->sent)
        fail_msg("X's email already finished (attempts %u) when Y's webhook arrived: the test "
                 "could not tell a stuck notifier from a free one",
                 cx->communication->attempts);
    assert_true(cx->communication->attempts < DOWN_ATTEMPTS);
    hd_reply_free(cx);

    /* X: retried with backoff, then given up, every attempt recorded */
    w.attempts = DOWN_ATTEMPTS;
    w.final = true;
    if (!ht_wait_until(comm_reached, &w, WAIT_MS))
        fail_msg("%s did not reach its final failure after %d attempts", xkey, DOWN_ATTEMPTS);
    cx = communication(f->down, xkey);
    assert_false(cx->communication->sent);
    assert_true(cx->communication->final);
    assert_int_equal(cx->communication->attempts, DOWN_ATTEMPTS);
    hd_reply_free(cx);
    HdReply *t = ticket_ok(f->down, xid);
    int64_t prev_at = 0;
    for (uint32_t a = 1; a <= DOWN_ATTEMPTS; a++) {
        const HdTicketEvent *e = comm_event(t, xkey, a);
        if (e == NULL)
            fail_msg("attempt %u of %s is not in the history", a, xkey);
        assert_string_equal(e->channel, "email");
        assert_string_equal(e->recipient, "customer@example.com");
        if (strncmp(e->outcome, "failed: ", 8) != 0 || strlen(e->outcome) <= 8)
            fail_msg("attempt %u outcome \"%s\", want \"failed: <why>\"", a, e->outcome);
        if (a > 1) {
            /* backoff: initial * 2^(a-2), minus a little for clock granularity */
            int64_t want = (int64_t)DOWN_INITIAL_MS << (a - 2);
            if (want > DOWN_MAX_MS)
                want = DOWN_MAX_MS;
            if (e->at - prev_at < want - 100)
                fail_msg("attempt %u came %lld ms after the previous one; backoff is %lld ms", a,
                         (long long)(e->at - prev_at), (long long)want);
        }
        prev_at = e->at;
    }
    assert_null(comm_event(t, xkey, DOWN_ATTEMPTS + 1));
    hd_reply_free(t);
    /* X's webhook copy went out once, unaffected by the mail server */
    snprintf(xkey, sizeof xkey, "ack/%lld/webhook", (long long)rx->receipt->contact_id);
    wait_post(&f->down_http, xkey);
    assert_int_equal(ht_http_count_key(&f->down_http, xkey), 1);
    assert_int_equal(ht_http_count_key(&f->down_http, ykey), 1);

    hd_reply_free(rx);
    hd_reply_free(ry);
    assert_int_equal(ht_stop_all(f->down), 0);
    ht_env_destroy(&f->down);
    assert_int_equal(ht_sink_stop(&f->down_http), 0);
    ht_pass(f->env);
}

static void test_sinks_stop_cleanly(void **state)
{
    fixture *f = *state;
    assert_int_equal(ht_stop_all(f->env), 0); /* services first */
    assert_int_equal(ht_sink_stop(&f->smtp), 0);
    assert_int_equal(ht_sink_stop(&f->http), 0);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_ack_email_in_arabic_lists_both_tickets),
        HT_TEST(test_webhook_posts_json_with_the_ticket),
        HT_TEST(test_periodic_updates_arrive_at_the_promised_interval),
        HT_TEST(test_resolution_carries_solution_and_satisfaction_request),
        HT_TEST(test_notifier_killed_and_restarted_sends_each_once),
        HT_TEST(test_batched_lookup_and_record),
        cmocka_unit_test_setup_teardown(test_unreachable_smtp_retries_and_does_not_block,
                                        ht_fixture_test_setup, down_teardown),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
        HT_TEST(test_sinks_stop_cleanly),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
