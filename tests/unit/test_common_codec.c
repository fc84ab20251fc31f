/* Codec: every message type survives pack/unpack byte-exact; garbage is rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hd/codec.h"

static const char *ar = "الشبكة متوقفة في مركز البيانات";
static const char *ur = "ہمارا سرور بند ہے";

static void test_request_round_trip(void **state)
{
    (void)state;
    HdCustomer cust = HELPDESK__V1__CUSTOMER__INIT;
    cust.name = (char *)ur;
    cust.email = "a@example.com";
    HdProblem p0 = HELPDESK__V1__PROBLEM__INIT, p1 = HELPDESK__V1__PROBLEM__INIT;
    p0.summary = (char *)ar;
    p0.users_affected = 250;
    p0.urgency = HELPDESK__V1__LEVEL__LEVEL_CRITICAL;
    p1.summary = "Imprimante en panne";
    HdProblem *probs[] = {&p0, &p1};
    HdContact c = HELPDESK__V1__CONTACT__INIT;
    c.source = "web";
    c.external_id = "x-1";
    c.customer = &cust;
    c.n_problems = 2;
    c.problems = probs;
    c.received_at = 1700000000123;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &c;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.id = 0xfedcba9876543210ULL;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;

    zmq_msg_t msg;
    assert_int_equal(hd_request_pack(&req, &msg), 0);
    HdRequest *back = hd_request_decode(zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    assert_non_null(back);
    assert_true(back->id == req.id);
    assert_int_equal(back->body_case, HELPDESK__V1__REQUEST__BODY_SUBMIT);
    HdContact *bc = back->submit->contact;
    assert_string_equal(bc->source, "web");
    assert_int_equal(bc->n_problems, 2);
    assert_memory_equal(bc->problems[0]->summary, ar, strlen(ar) + 1);
    assert_memory_equal(bc->customer->name, ur, strlen(ur) + 1);
    assert_int_equal(bc->problems[0]->users_affected, 250);
    assert_int_equal(bc->problems[0]->urgency, HELPDESK__V1__LEVEL__LEVEL_CRITICAL);
    assert_string_equal(bc->problems[1]->summary, "Imprimante en panne");
    assert_true(bc->received_at == 1700000000123);
    hd_request_free(back);
}

static void test_reply_and_event_round_trip(void **state)
{
    (void)state;
    int64_t ids[] = {7, 8, 9};
    HdContactReceipt r = HELPDESK__V1__CONTACT_RECEIPT__INIT;
    r.contact_id = 3;
    r.n_ticket_ids = 3;
    r.ticket_ids = ids;
    r.duplicate = 1;
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.id = 42;
    rep.body_case = HELPDESK__V1__REPLY__BODY_RECEIPT;
    rep.receipt = &r;
    zmq_msg_t msg;
    assert_int_equal(hd_reply_pack(&rep, &msg), 0);
    HdReply *back = hd_reply_decode(zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    assert_non_null(back);
    assert_int_equal(back->id, 42);
    assert_int_equal(back->body_case, HELPDESK__V1__REPLY__BODY_RECEIPT);
    assert_int_equal(back->receipt->n_ticket_ids, 3);
    assert_int_equal(back->receipt->ticket_ids[2], 9);
    assert_true(back->receipt->duplicate);
    hd_reply_free(back);

    HdTicketEvent ev = HELPDESK__V1__TICKET_EVENT__INIT;
    ev.seq = 12345;
    ev.ticket_id = 8;
    ev.kind = HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED;
    ev.actor = "prioritizer@box:1";
    ev.priority = HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE;
    ev.text = (char *)ar;
    assert_int_equal(hd_event_pack(&ev, &msg), 0);
    HdTicketEvent *eb = hd_event_decode(zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    assert_non_null(eb);
    assert_int_equal(eb->seq, 12345);
    assert_int_equal(eb->kind, HELPDESK__V1__EVENT_KIND__EVENT_TRIAGED);
    assert_string_equal(eb->actor, "prioritizer@box:1");
    assert_string_equal(eb->text, ar);
    hd_event_free(eb);
}

static void test_error_reply(void **state)
{
    (void)state;
    hd_error_buf e;
    hd_error_set(&e, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, "problems[1].summary",
                 "the summary is %d bytes; at most %d", 600, 512);
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.id = 5;
    hd_reply_set_error(&rep, &e);
    zmq_msg_t msg;
    assert_int_equal(hd_reply_pack(&rep, &msg), 0);
    HdReply *back = hd_reply_decode(zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    assert_non_null(back);
    assert_int_equal(back->body_case, HELPDESK__V1__REPLY__BODY_ERROR);
    assert_int_equal(back->error->code, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD);
    assert_string_equal(back->error->field, "problems[1].summary");
    assert_string_equal(back->error->message, "the summary is 600 bytes; at most 512");
    hd_reply_free(back);
    /* a long field name is cut, never overflowed */
    char longname[400];
    memset(longname, 'f', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    hd_error_set(&e, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, longname, "x");
    assert_int_equal(strlen(e.pb.field), sizeof e.field - 1);
}

static void test_garbage_is_rejected(void **state)
{
    (void)state;
    static const unsigned char junk1[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char junk2[] = {0x52, 0x10, 0x01}; /* field 10, length 16, 1 byte */
    static const unsigned char junk3[] = {0x08};             /* varint with no value */
    static const unsigned char junk4[] = {0x0f, 0x00};       /* wire type 7 does not exist */
    assert_null(hd_request_decode(junk1, sizeof junk1));
    assert_null(hd_request_decode(junk2, sizeof junk2));
    assert_null(hd_request_decode(junk3, sizeof junk3));
    assert_null(hd_request_decode(junk4, sizeof junk4));
    assert_null(hd_reply_decode(junk1, sizeof junk1));
    assert_null(hd_reply_decode(junk2, sizeof junk2));
    assert_null(hd_event_decode(junk1, sizeof junk1));
    assert_null(hd_event_decode(junk3, sizeof junk3));
    const char *text = "hello, this is not protobuf";
    HdRequest *r = hd_request_decode(text, strlen(text));
    if (r != NULL) /* bytes that happen to parse must not carry a body */
        assert_int_equal(r->body_case, HELPDESK__V1__REQUEST__BODY__NOT_SET);
    hd_request_free(r);
    hd_request_free(NULL);
    hd_reply_free(NULL);
    hd_event_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_reply_and_event_round_trip),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_garbage_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
