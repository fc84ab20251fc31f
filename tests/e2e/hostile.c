/* End to end: hostile input at the frame level. Wrong frame counts, empty frames, a 100 MB frame,
 * unknown message types, a client that connects and never reads, and SQL injection strings in
 * every text field: none of them crashes, blocks or slows the other clients; every bad request
 * that can be answered gets an error reply; injected text is stored as text. Real hd-store,
 * hd-intake and PostgreSQL. */
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
#include "hd/transport.h"

/* How long a well-formed submit from an innocent client may take while the hostile one is at
 * work (a healthy one takes a few milliseconds, even under the sanitizers). */
#define QUICK_MS 2000

typedef struct {
    ht_env *env; /* first: the harness's group fixture helpers find it there */
    ht_proc *store, *intake;
    int next;    /* numbers innocent contacts and monitor addresses */
} fixture;

static int group_setup(void **state)
{
    fixture *f = ht_fixture_new(sizeof *f, "hostile");
    *state = f;
    return ht_start_pipeline(f->env, &f->store, &f->intake, NULL, NULL);
}

/* An innocent client's well-formed submit succeeds within QUICK_MS; returns its time. */
static int64_t innocent_submit(fixture *f)
{
    char ext[64];
    snprintf(ext, sizeof ext, "innocent-%d", ++f->next);
    ht_contact ct;
    ht_contact_init(&ct, "e2e-innocent", ext);
    ht_contact_add(&ct, "network", "Le réseau est en panne", "depuis ce matin");
    int64_t t0 = hd_mono_ms();
    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    int64_t took = hd_mono_ms() - t0;
    assert_int_equal(rep->receipt->n_ticket_ids, 1);
    assert_false(rep->receipt->duplicate);
    hd_reply_free(rep);
    if (took > QUICK_MS)
        fail_msg("an innocent submit took %lld ms (limit %d ms)", (long long)took, QUICK_MS);
    return took;
}

static void assert_services_alive(fixture *f)
{
    assert_true(ht_alive(f->store));
    assert_true(ht_alive(f->intake));
}

static long count_contacts(fixture *f)
{
    return ht_sql_long(f->env, "SELECT count(*) FROM contacts");
}

/* A packed submit Request for a valid contact (caller closes msg). */
static void pack_submit(zmq_msg_t *msg, const char *source, const char *ext, uint64_t id)
{
    ht_contact ct;
    ht_contact_init(&ct, source, ext);
    ht_contact_add(&ct, "network", "down", "");
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &ct.c;
    req.id = id;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    assert_int_equal(hd_request_pack(&req, msg), 0);
}

/* Sends the frames on a fresh DEALER and reads one whole reply message of any framing: the
 * service answers [""][Reply] to a delimited request and [Reply] to one without the delimiter.
 * The Reply is the last frame; every frame before it must be empty. NULL on no answer. */
static HdReply *raw_call(fixture *f, const char *endpoint, int n, const void *const *frames,
                         const size_t *lens, int timeout_ms)
{
    void *s = hd_socket_new(f->env->zctx, ZMQ_DEALER, endpoint, false);
    assert_non_null(s);
    for (int i = 0; i < n; i++)
        assert_true(zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    HdReply *rep = NULL;
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) == 1) {
        bool prefix_empty = true;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            assert_true(zmq_msg_recv(&m, s, 0) >= 0);
            if (!zmq_msg_more(&m)) {
                rep = hd_reply_decode(zmq_msg_data(&m), zmq_msg_size(&m));
                zmq_msg_close(&m);
                break;
            }
            prefix_empty = prefix_empty && zmq_msg_size(&m) == 0;
            zmq_msg_close(&m);
        }
        if (!prefix_empty) {
            hd_reply_free(rep);
            rep = NULL;
        }
    }
    hd_socket_close(&s);
    return rep;
}

static void raw_expect(fixture *f, const char *endpoint, int n, const void *const *frames,
                       const size_t *lens, const char *field)
{
    HdReply *rep = raw_call(f, endpoint, n, frames, lens, 5000);
    if (rep == NULL)
        fail_msg("no reply from %s to a %d-frame message (expected BAD_REQUEST \"%s\")", endpoint,
                 n, field);
    ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, field);
    hd_reply_free(rep);
}

/* Every malformed framing we can think of, to one endpoint; `req` is a valid Request. */
static void bad_frames_to(fixture *f, const char *ep, const void *req, size_t rlen)
{
    /* 3 and 5 frames after the identity, with and without the delimiter */
    const void *three[] = {"", req, "extra"};
    size_t three_l[] = {0, rlen, 5};
    raw_expect(f, ep, 3, three, three_l, "frames");
    const void *five[] = {"", req, "a", "b", "c"};
    size_t five_l[] = {0, rlen, 1, 1, 1};
    raw_expect(f, ep, 5, five, five_l, "frames");
    const void *three_nodelim[] = {req, "", ""};
    size_t three_nodelim_l[] = {rlen, 0, 0};
    raw_expect(f, ep, 3, three_nodelim, three_nodelim_l, "frames");
    const void *empties[] = {"", "", "", "", ""};
    size_t empties_l[] = {0, 0, 0, 0, 0};
    raw_expect(f, ep, 5, empties, empties_l, "frames");
    raw_expect(f, ep, 3, empties, empties_l, "frames");
    /* an empty body after the delimiter: a Request with no body */
    raw_expect(f, ep, 2, empties, empties_l, "body");
    /* a lone empty frame: taken as the body, which is empty */
    raw_expect(f, ep, 1, empties, empties_l, "body");
    /* a junk body */
    static const char junk[] = "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
    const void *bad[] = {"", junk};
    size_t bad_l[] = {0, sizeof junk - 1};
    raw_expect(f, ep, 2, bad, bad_l, "request");
}

static void test_wrong_frame_counts_and_empty_frames(void **state)
{
    fixture *f = *state;
    long before = count_contacts(f);
    assert_true(before >= 0);
    zmq_msg_t msg;
    pack_submit(&msg, "e2e-hostile", "frames-1", 42);
    bad_frames_to(f, f->env->intake_ep, zmq_msg_data(&msg), zmq_msg_size(&msg));
    innocent_submit(f);
    zmq_msg_close(&msg);

    /* the store's api socket: a valid get_ticket inside the wrong framing */
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdGetTicket g = HELPDESK__V1__GET_TICKET__INIT;
    g.ticket_id = 1;
    req.id = 43;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_TICKET;
    req.get_ticket = &g;
    assert_int_equal(hd_request_pack(&req, &msg), 0);
    bad_frames_to(f, f->env->api_ep, zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    innocent_submit(f);
    /* the submit inside the 3- and 5-frame messages stored nothing: only the two innocents */
    assert_int_equal(count_contacts(f), before + 2);
    assert_services_alive(f);
    ht_pass(f->env);
}


/* True when the monitor reports the peer dropped the connection within timeout_ms. */
static bool wait_disconnected(void *mon, int timeout_ms)
{
    int64_t end = hd_mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - hd_mono_ms());
        zmq_pollitem_t item = {mon, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, left) != 1)
            return false;
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, mon, 0) >= 2);
        uint16_t event;
        memcpy(&event, zmq_msg_data(&m), sizeof event);
        zmq_msg_close(&m);
        hd_drain_frames(mon);
        if (event == ZMQ_EVENT_DISCONNECTED)
            return true;
    }
}

/* Sends [""][100 MB] on a fresh DEALER to `ep`; the message is built in place, no copy kept.
 * *mon gets a PAIR socket reporting that DEALER's disconnections. */
static void send_huge(fixture *f, const char *ep, void **sock, void **mon)
{
    const size_t huge = 100u * 1024 * 1024;
    void *s = zmq_socket(f->env->zctx, ZMQ_DEALER);
    assert_non_null(s);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://hostile-monitor-%d", ++f->next);
    assert_int_equal(zmq_socket_monitor(s, addr, ZMQ_EVENT_DISCONNECTED), 0);
    *mon = zmq_socket(f->env->zctx, ZMQ_PAIR);
    assert_non_null(*mon);
    zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(*mon, addr), 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    zmq_msg_t m;
    assert_int_equal(zmq_msg_init_size(&m, huge), 0);
    /* A valid-looking start (field 10, submit) so only the size is wrong. */
    memset(zmq_msg_data(&m), 'x', huge);
    ((unsigned char *)zmq_msg_data(&m))[0] = 0x52;
    assert_true(zmq_send(s, "", 0, ZMQ_SNDMORE) == 0);
    if (zmq_msg_send(&m, s, 0) < 0) {
        zmq_msg_close(&m);
        fail_msg("could not queue the 100 MB message: %s", zmq_strerror(zmq_errno()));
    }
    *sock = s; /* ZeroMQ owns the message now; it is freed when sent or when s closes */
}

static void test_huge_frame(void **state)
{
    fixture *f = *state;
    const char *eps[] = {f->env->intake_ep, f->env->api_ep};
    for (int i = 0; i < 2; i++) {
        void *s = NULL, *mon = NULL;
        send_huge(f, eps[i], &s, &mon);
        /* While the 100 MB are in flight (and refused), other clients are served quickly. */
        for (int k = 0; k < 3; k++)
            innocent_submit(f);
        HdReply *g = ht_get_ticket(f->env, 1);
        assert_non_null(g);
        assert_int_equal(g->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
        hd_reply_free(g);
        /* ZeroMQ drops the connection at the size header: no reply, a disconnection */
        if (!wait_disconnected(mon, 5000))
            fail_msg("%s did not drop the connection that sent 100 MB", eps[i]);
        HdReply *rep = ht_dealer_recv_wait(s, 100);
        assert_null(rep);
        zmq_close(s);
        zmq_close(mon);
    }
    /* neither service ever held the message: their peak memory stayed well under 100 MB */
    long ikb = ht_proc_status_kb(f->intake->pid, "VmHWM:"), skb = ht_proc_status_kb(f->store->pid, "VmHWM:");
    print_message("peak RSS after the 100 MB frames: intake %ld kB, store %ld kB\n", ikb, skb);
    assert_true(ikb > 0 && skb > 0);
    if (ikb > 80L * 1024 || skb > 80L * 1024)
        fail_msg("peak RSS intake %ld kB, store %ld kB: a 100 MB frame was buffered", ikb, skb);
    innocent_submit(f);
    assert_services_alive(f);
    assert_false(ht_log_has_sanitizer_report(f->intake));
    assert_false(ht_log_has_sanitizer_report(f->store));
    ht_pass(f->env);
}

/* A Reply of some kind, packed, sent as if it were a Request: an error reply must come back. */
static void reply_as_request(fixture *f, const char *ep, HdReply *r)
{
    zmq_msg_t msg;
    assert_int_equal(hd_reply_pack(r, &msg), 0);
    const void *frames[] = {"", zmq_msg_data(&msg)};
    size_t lens[] = {0, zmq_msg_size(&msg)};
    HdReply *rep = raw_call(f, ep, 2, frames, lens, 5000);
    zmq_msg_close(&msg);
    if (rep == NULL)
        fail_msg("no reply from %s to a Reply (body %d) sent as a request", ep, (int)r->body_case);
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_ERROR)
        fail_msg("%s answered a Reply (body %d) sent as a request with body %d, not an error", ep,
                 (int)r->body_case, (int)rep->body_case);
    assert_true(rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST ||
                rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD);
    assert_true(rep->error->message != NULL && strlen(rep->error->message) > 10);
    hd_reply_free(rep);
}

static void test_unknown_message_types(void **state)
{
    fixture *f = *state;
    long before = count_contacts(f);
    /* A Request with only an unknown field: id 7, then field 99 (varint 1), field 200 (bytes). */
    static const unsigned char unknown[] = {0x08, 0x07, 0x98, 0x06, 0x01,
                                            0xc2, 0x0c, 0x03, 'a',  'b', 'c'};
    const void *frames[] = {"", unknown};
    size_t lens[] = {0, sizeof unknown};
    const char *eps[] = {f->env->intake_ep, f->env->api_ep};
    for (int i = 0; i < 2; i++) {
        HdReply *rep = raw_call(f, eps[i], 2, frames, lens, 5000);
        ht_assert_error(rep, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body");
        assert_int_equal(rep->id, 7); /* the request's id is echoed even so */
        hd_reply_free(rep);
    }

    /* Replies of several kinds sent as requests. */
    HdReply r = HELPDESK__V1__REPLY__INIT;
    r.id = 9;
    hd_error_buf e;
    hd_error_set(&e, HELPDESK__V1__ERROR_CODE__ERROR_NOT_FOUND, "ticket_id", "no such ticket");
    hd_reply_set_error(&r, &e);
    reply_as_request(f, f->env->intake_ep, &r);
    reply_as_request(f, f->env->api_ep, &r);

    int64_t ids[] = {1, 2, 3};
    HdContactReceipt rc = HELPDESK__V1__CONTACT_RECEIPT__INIT;
    rc.contact_id = 5;
    rc.n_ticket_ids = 3;
    rc.ticket_ids = ids;
    rc.duplicate = true;
    r = (HdReply)HELPDESK__V1__REPLY__INIT;
    r.id = 10;
    r.body_case = HELPDESK__V1__REPLY__BODY_RECEIPT;
    r.receipt = &rc;
    reply_as_request(f, f->env->intake_ep, &r);
    reply_as_request(f, f->env->api_ep, &r);

    HdCursor cur = HELPDESK__V1__CURSOR__INIT;
    cur.consumer = "hostile";
    cur.seq = 3;
    r = (HdReply)HELPDESK__V1__REPLY__INIT;
    r.id = 11;
    r.body_case = HELPDESK__V1__REPLY__BODY_CURSOR;
    r.cursor = &cur;
    reply_as_request(f, f->env->intake_ep, &r); /* decodes as get_cursor: not intake's body */

    HdHeartbeat hb = HELPDESK__V1__HEARTBEAT__INIT;
    hb.worker = "hostile@nowhere:1";
    r = (HdReply)HELPDESK__V1__REPLY__INIT;
    r.id = 12;
    r.body_case = HELPDESK__V1__REPLY__BODY_HEARTBEAT;
    r.heartbeat = &hb;
    reply_as_request(f, f->env->intake_ep, &r);
    reply_as_request(f, f->env->api_ep, &r);

    innocent_submit(f);
    assert_int_equal(count_contacts(f), before + 1);
    assert_services_alive(f);
    ht_pass(f->env);
}

/* A socket that reads as little as ZeroMQ and the kernel allow. */
static void *lazy_socket(fixture *f, int type, const char *ep)
{
    void *s = zmq_socket(f->env->zctx, type);
    assert_non_null(s);
    int one = 1, zero = 0, small = 4096, sndtimeo = 5000;
    zmq_setsockopt(s, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof small);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

typedef struct {
    fixture *f;
    long want;
} count_arg;

static bool hostile_contacts_stored(void *arg)
{
    count_arg *a = arg;
    return ht_sql_long(a->f->env, "SELECT count(*) FROM contacts WHERE source = 'e2e-lazy'") >=
           a->want;
}


static bool intake_dropped_replies(void *arg)
{
    fixture *f = arg;
    return ht_log_contains(f->intake, "event=reply_failed");
}

/* Waits for a created event of ticket `id` on `sub`; false when none comes within timeout_ms. */
static bool wait_created(void *sub, int64_t id, int timeout_ms)
{
    int64_t end = hd_mono_ms() + timeout_ms;
    while (hd_mono_ms() < end) {
        HdTicketEvent *ev = ht_subscriber_recv_wait(sub, (int)(end - hd_mono_ms()) + 1);
        bool hit = ev && ev->ticket_id == id && ev->kind == HELPDESK__V1__EVENT_KIND__EVENT_CREATED;
        hd_event_free(ev);
        if (hit)
            return true;
    }
    return false;
}

/* A contact submitted on the harness client; returns its one ticket id. */
static int64_t submit_probe(fixture *f)
{
    char ext[64];
    snprintf(ext, sizeof ext, "probe-%d", ++f->next);
    ht_contact ct;
    ht_contact_init(&ct, "e2e-innocent", ext);
    ht_contact_add(&ct, "network", "probe", "");
    HdReply *rep = ht_submit_ok(f->env, &ct.c);
    int64_t id = rep->receipt->ticket_ids[0];
    hd_reply_free(rep);
    return id;
}

static void test_client_that_never_reads(void **state)
{
    fixture *f = *state;
    enum { VALID = 150, BAD = 40000, INNOCENT = 20 };
    /* an attentive subscriber, to show the PUB still delivers to those who read */
    void *good_sub = hd_socket_new(f->env->zctx, ZMQ_SUB, f->env->events_ep, false);
    assert_non_null(good_sub);
    bool joined = false;
    for (int i = 0; i < 10 && !joined; i++)
        joined = wait_created(good_sub, submit_probe(f), 500);
    assert_true(joined);

    void *lazy_sub = lazy_socket(f, ZMQ_SUB, f->env->events_ep);
    void *lazy = lazy_socket(f, ZMQ_DEALER, f->env->intake_ep);
    /* Many requests, no reply ever read: valid submits (their replies and events pile up) and
     * bad ones (cheap for the service, but each earns an error reply of ~150 bytes). */
    for (int i = 0; i < VALID + BAD; i++) {
        zmq_msg_t msg;
        if (i % (BAD / VALID + 1) == 0 && i / (BAD / VALID + 1) < VALID) {
            char ext[64];
            snprintf(ext, sizeof ext, "lazy-%d", i);
            pack_submit(&msg, "e2e-lazy", ext, (uint64_t)i);
        } else {
            zmq_msg_init(&msg); /* empty body: BAD_REQUEST "body" */
        }
        if (zmq_send(lazy, "", 0, ZMQ_SNDMORE) < 0 || zmq_msg_send(&msg, lazy, 0) < 0) {
            zmq_msg_close(&msg);
            fail_msg("intake stopped taking requests after %d: %s", i, zmq_strerror(zmq_errno()));
        }
    }
    /* meanwhile, every innocent submit succeeds quickly */
    int64_t worst = 0;
    for (int i = 0; i < INNOCENT; i++) {
        int64_t took = innocent_submit(f);
        if (took > worst)
            worst = took;
    }
    print_message("innocent submits during the lazy client's flood: worst %lld ms\n",
                  (long long)worst);
    /* the flood did reach the high-water mark towards the lazy client: intake dropped replies
     * to it rather than wait for it */
    assert_true(ht_wait_until(intake_dropped_replies, f, 10000));
    /* ...and logged that once a second, with a count, not ~40,000 times */
    int lines = ht_log_count(f->intake, "event=reply_failed");
    assert_in_range(lines, 1, 30);
    /* the lazy client's valid contacts were all taken, though it read no reply */
    count_arg a = {f, VALID};
    assert_true(ht_wait_until(hostile_contacts_stored, &a, 15000));
    /* the attentive subscriber still hears events, in time */
    assert_true(wait_created(good_sub, submit_probe(f), 5000));
    zmq_close(lazy);
    zmq_close(lazy_sub);
    hd_socket_close(&good_sub);
    innocent_submit(f);
    assert_services_alive(f);
    ht_pass(f->env);
}

static const char *const injections[] = {
    "'; DROP TABLE tickets; --",
    "Robert'); DELETE FROM contacts;--",
    "$1",
    "$1::text); DROP TABLE ticket_events; --",
    "\\x00'); DROP TABLE contacts; --",
    "\\0\\' OR '1'='1",
    "E'\\\\x27'; TRUNCATE tickets CASCADE; --",
    "$$; DROP TABLE tickets; $$",
    "1; SELECT pg_sleep(30); --",
    "%s%n%x\\n\" ` \\\\ ;--",
};
#define N_INJECTIONS (sizeof injections / sizeof injections[0])

/* Every text field of the contact set to s (intake_rules: only where intake's validation allows
 * such characters; the email is then a valid address holding quotes and a $1). */
static void inject_contact(ht_contact *ct, const char *s, bool intake_rules)
{
    ht_contact_init(ct, s, s);
    if (intake_rules) {
        ct->c.source = "e2e-inject';DROP/**/TABLE/**/tickets;--";
        ct->customer.email = "robert'--$1@example.com";
    } else {
        ct->customer.email = (char *)s;
        ct->customer.phone = (char *)s;
        ct->customer.language = (char *)s;
    }
    ct->c.agent = (char *)s;
    ct->customer.name = (char *)s;
    ct->customer.organization = (char *)s;
    HdAccount *ac = &ct->account;
    ac->account_number = ac->contract_level = ac->licence = ac->product = ac->model =
        ac->serial_number = (char *)s;
    HdLocation *l = &ct->location;
    l->site = l->building = l->floor = l->room = l->address = l->city = l->country = (char *)s;
    ht_contact_add(ct, s, s, s);
}

/* The stored ticket gives back every field byte-exact. */
static void check_injected(fixture *f, int64_t id, const ht_contact *ct)
{
    HdReply *rep = ht_get_ticket(f->env, id);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    const HdTicket *t = rep->ticket->ticket;
    assert_non_null(t);
    assert_non_null(t->customer);
    assert_non_null(t->account);
    assert_non_null(t->location);
    assert_non_null(t->problem);
    ht_assert_bytes(t->source, ct->c.source);
    ht_assert_bytes(t->external_id, ct->c.external_id);
    const HdCustomer *cu = t->customer, *wc = &ct->customer;
    ht_assert_bytes(cu->name, wc->name);
    ht_assert_bytes(cu->email, wc->email);
    ht_assert_bytes(cu->phone, wc->phone);
    ht_assert_bytes(cu->language, wc->language);
    ht_assert_bytes(cu->organization, wc->organization);
    const HdAccount *a = t->account, *wa = &ct->account;
    ht_assert_bytes(a->account_number, wa->account_number);
    ht_assert_bytes(a->contract_level, wa->contract_level);
    ht_assert_bytes(a->licence, wa->licence);
    ht_assert_bytes(a->product, wa->product);
    ht_assert_bytes(a->model, wa->model);
    ht_assert_bytes(a->serial_number, wa->serial_number);
    const HdLocation *l = t->location, *wl = &ct->location;
    ht_assert_bytes(l->site, wl->site);
    ht_assert_bytes(l->building, wl->building);
    ht_assert_bytes(l->floor, wl->floor);
    ht_assert_bytes(l->room, wl->room);
    ht_assert_bytes(l->address, wl->address);
    ht_assert_bytes(l->city, wl->city);
    ht_assert_bytes(l->country, wl->country);
    ht_assert_bytes(t->problem->category, ct->problem[0].category);
    ht_assert_bytes(t->problem->summary, ct->problem[0].summary);
    ht_assert_bytes(t->problem->description, ct->problem[0].description);
    /* the agent is kept in the contact row and told in the created event's text */
    assert_true(rep->ticket->n_history >= 1);
    const char *text = rep->ticket->history[0]->text;
    if (text == NULL || strstr(text, ct->c.agent) == NULL)
        fail_msg("the created event's text \"%s\" does not hold the agent \"%s\"",
                 text ? text : "(null)", ct->c.agent);
    hd_reply_free(rep);
}

static void test_sql_injection_stored_as_text(void **state)
{
    fixture *f = *state;
    long contacts = count_contacts(f);
    long tickets = ht_sql_long(f->env, "SELECT count(*) FROM tickets");
    long events = ht_sql_long(f->env, "SELECT count(*) FROM ticket_events");
    assert_true(contacts >= 0 && tickets >= 0 && events >= 0);
    int64_t t0 = hd_mono_ms();
    for (size_t i = 0; i < N_INJECTIONS; i++) {
        /* straight into the store: every text field, unvalidated beyond UTF-8 */
        ht_contact ct;
        inject_contact(&ct, injections[i], false);
        HdRequest req = HELPDESK__V1__REQUEST__INIT;
        HdCreateTickets c = HELPDESK__V1__CREATE_TICKETS__INIT;
        c.contact = &ct.c;
        req.body_case = HELPDESK__V1__REQUEST__BODY_CREATE_TICKETS;
        req.create_tickets = &c;
        HdReply *rep = ht_store_call(f->env, &req);
        assert_non_null(rep);
        if (rep->body_case != HELPDESK__V1__REPLY__BODY_RECEIPT)
            fail_msg("the store refused \"%s\": %s", injections[i],
                     rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR ? rep->error->message : "?");
        assert_false(rep->receipt->duplicate);
        assert_int_equal(rep->receipt->n_ticket_ids, 1);
        check_injected(f, rep->receipt->ticket_ids[0], &ct);
        hd_reply_free(rep);

        /* through intake: every field its validation lets such text into */
        char ext[160];
        snprintf(ext, sizeof ext, "%s#intake", injections[i]);
        inject_contact(&ct, injections[i], true);
        ct.c.external_id = ext;
        rep = ht_submit_ok(f->env, &ct.c);
        assert_int_equal(rep->receipt->n_ticket_ids, 1);
        check_injected(f, rep->receipt->ticket_ids[0], &ct);
        hd_reply_free(rep);
    }
    /* no statement was cut short by pg_sleep or the like */
    assert_true(hd_mono_ms() - t0 < 15000);
    /* the tables are all there and hold exactly what was added */
    long n = (long)N_INJECTIONS * 2;
    assert_int_equal(count_contacts(f), contacts + n);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM tickets"), tickets + n);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM ticket_events"), events + n);
    assert_int_equal(ht_sql_long(f->env, "SELECT count(*) FROM contacts WHERE agent = "
                                         "'Robert''); DELETE FROM contacts;--'"),
                     2);
    innocent_submit(f);
    ht_pass(f->env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HT_TEST(test_wrong_frame_counts_and_empty_frames),
        HT_TEST(test_huge_frame),
        HT_TEST(test_unknown_message_types),
        HT_TEST(test_client_that_never_reads),
        HT_TEST(test_sql_injection_stored_as_text),
        HT_TEST_SERVICES_EXIT_CLEANLY(ht_fixture_test_setup, ht_fixture_test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, ht_fixture_teardown);
}
