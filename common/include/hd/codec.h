/* The one module that packs and unpacks protobuf messages, and builds error replies. */
#ifndef HD_CODEC_H
#define HD_CODEC_H

#include <stddef.h>
#include <zmq.h>

#include "hd/proto.h"

/* Unpack. Caller owns the result and frees it with the matching _free (NULL is fine).
 * NULL when the bytes are not a well-formed message of that type. */
HdRequest *hd_request_decode(const void *buf, size_t len);
HdReply *hd_reply_decode(const void *buf, size_t len);
HdTicketEvent *hd_event_decode(const void *buf, size_t len);
void hd_request_free(HdRequest *r);
void hd_reply_free(HdReply *r);
void hd_event_free(HdTicketEvent *e);

/* protobuf-c keeps no string lengths, so a string with a NUL byte would be silently cut short
 * on unpack. This scans the wire bytes of a well-formed Request for such strings. -1 with the
 * field's path (relative to the contact for submit and create_tickets, e.g.
 * "problems[1].summary") in `field`; 0 when every string is free of NUL bytes. */
__attribute__((warn_unused_result)) int hd_request_check_strings(const void *buf, size_t len,
                                                                 char *field, size_t cap);

/* Frees the unknown fields of an unpacked message and of every message inside it. A relay
 * (intake) calls it before re-packing what it forwards: protobuf-c keeps unknown fields and
 * re-packs some of them in a form its own decoder refuses (a field-0 tag, found by fuzzing). */
void hd_message_drop_unknown(ProtobufCMessage *m);

/* Pack into a fresh zmq message that the caller must send or close. 0, or -1 on failure. */
__attribute__((warn_unused_result)) int hd_request_pack(const HdRequest *r, zmq_msg_t *msg);
__attribute__((warn_unused_result)) int hd_reply_pack(const HdReply *r, zmq_msg_t *msg);
__attribute__((warn_unused_result)) int hd_event_pack(const HdTicketEvent *e, zmq_msg_t *msg);

/* An error reply with its own storage, so it can live on the stack. */
typedef struct {
    HdError pb;
    char field[128];
    char message[512];
} hd_error_buf;

void hd_error_set(hd_error_buf *e, Helpdesk__V1__ErrorCode code, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Makes `rep` an error reply carrying e (which must outlive rep). */
void hd_reply_set_error(HdReply *rep, hd_error_buf *e);

#endif
