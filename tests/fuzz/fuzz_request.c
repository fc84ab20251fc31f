/* libFuzzer target: bytes as they arrive in a request frame. Everything a service does with
 * them before any socket or database is involved: the NUL scan, the decoders, intake's
 * validation and the store's own re-checks of what it writes. The validators get whatever the
 * decoder accepted, body kind included, because a bug in one must not depend on the service a
 * frame was sent to. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hd/codec.h"
#include "intake.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_store(const HdRequest *req, hd_error_buf *err)
{
    switch (req->body_case) {
    case HELPDESK__V1__REQUEST__BODY_CREATE_TICKETS:
        (void)store_check_contact(req->create_tickets ? req->create_tickets->contact : NULL, err);
        break;
    case HELPDESK__V1__REQUEST__BODY_SUBMIT:
        /* The store sees the contact intake forwarded: the same checks must hold on it. */
        (void)store_check_contact(req->submit ? req->submit->contact : NULL, err);
        break;
    case HELPDESK__V1__REQUEST__BODY_WORK_RESULT:
        if (req->work_result != NULL)
            (void)store_check_result(req->work_result, err);
        break;
    case HELPDESK__V1__REQUEST__BODY_ACT:
        if (req->act != NULL)
            (void)store_check_action(req->act, err);
        break;
    case HELPDESK__V1__REQUEST__BODY_SLA_SIGNAL:
        if (req->sla_signal != NULL)
            (void)store_check_signal(req->sla_signal, err);
        break;
    default:
        break;
    }
}

/* A decoded request packs again (intake re-packs the contact it forwards), and the packed
 * bytes are decoded again. Not an assertion that they decode: protobuf-c keeps unknown fields,
 * and takes a field number 0 with an over-long tag ("81 00") as one, but packs it back as
 * "00"-style tag that its own decoder refuses (tests/fuzz/findings/). */
static void check_roundtrip(const HdRequest *req)
{
    zmq_msg_t msg;
    if (hd_request_pack(req, &msg) != 0)
        return;
    hd_request_free(hd_request_decode(zmq_msg_data(&msg), zmq_msg_size(&msg)));
    zmq_msg_close(&msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char field[128];
    hd_error_buf err;

    int nul_free = hd_request_check_strings(data, size, field, sizeof field) == 0;

    /* Replies and events arrive on the client and subscriber sockets. */
    hd_reply_free(hd_reply_decode(data, size));
    hd_event_free(hd_event_decode(data, size));

    HdRequest *req = hd_request_decode(data, size);
    if (req == NULL)
        return 0;
    check_roundtrip(req);
    check_store(req, &err);
    if (req->body_case == HELPDESK__V1__REQUEST__BODY_SUBMIT && req->submit != NULL &&
        req->submit->contact != NULL) {
        char quoted[256];
        intake_log_quote(quoted, sizeof quoted, req->submit->contact->source);
        intake_log_quote(quoted, sizeof quoted, req->submit->contact->external_id);
    }
    /* Last: intake_accept may set received_at. What intake accepts (after the NUL scan its
     * loop does first) the store must accept too, or the client gets an error for a contact
     * intake called valid. */
    if (nul_free && intake_accept(req, 10, INT64_C(1700000000000), &err) == 0 &&
        store_check_contact(req->submit->contact, &err) != 0) {
        fprintf(stderr, "intake accepted a contact the store refuses: field=%s message=%s\n",
                err.field, err.message);
        __builtin_trap();
    }
    hd_request_free(req);
    return 0;
}
