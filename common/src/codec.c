#include "hd/codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

HdRequest *hd_request_decode(const void *buf, size_t len)
{
    return helpdesk__v1__request__unpack(NULL, len, (const uint8_t *)buf);
}

HdReply *hd_reply_decode(const void *buf, size_t len)
{
    return helpdesk__v1__reply__unpack(NULL, len, (const uint8_t *)buf);
}

HdTicketEvent *hd_event_decode(const void *buf, size_t len)
{
    return helpdesk__v1__ticket_event__unpack(NULL, len, (const uint8_t *)buf);
}

void hd_request_free(HdRequest *r)
{
    if (r)
        helpdesk__v1__request__free_unpacked(r, NULL);
}

void hd_reply_free(HdReply *r)
{
    if (r)
        helpdesk__v1__reply__free_unpacked(r, NULL);
}

void hd_event_free(HdTicketEvent *e)
{
    if (e)
        helpdesk__v1__ticket_event__free_unpacked(e, NULL);
}

static void free_buffer(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Packs any protobuf-c message into a zmq message that takes ownership of the buffer. */
static int pack_message(const ProtobufCMessage *m, zmq_msg_t *msg)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        abort();
    protobuf_c_message_pack(m, buf);
    if (zmq_msg_init_data(msg, buf, len, free_buffer, NULL) != 0) {
        free(buf);
        return -1;
    }
    return 0;
}

int hd_request_pack(const HdRequest *r, zmq_msg_t *msg)
{
    return pack_message(&r->base, msg);
}

int hd_reply_pack(const HdReply *r, zmq_msg_t *msg)
{
    return pack_message(&r->base, msg);
}

int hd_event_pack(const HdTicketEvent *e, zmq_msg_t *msg)
{
    return pack_message(&e->base, msg);
}

void hd_error_set(hd_error_buf *e, Helpdesk__V1__ErrorCode code, const char *field,
                  const char *fmt, ...)
{
    helpdesk__v1__error__init(&e->pb);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->pb.code = code;
    e->pb.field = e->field;
    e->pb.message = e->message;
}

void hd_reply_set_error(HdReply *rep, hd_error_buf *e)
{
    rep->body_case = HELPDESK__V1__REPLY__BODY_ERROR;
    rep->error = &e->pb;
}
