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

/* Reads a base-128 varint at *pos. -1 when it runs past the end. */
static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Appends "name" or "name[i]" to the path, with a dot before it when the path is not empty. */
static void path_push(char *path, size_t cap, const ProtobufCFieldDescriptor *fd, unsigned index)
{
    size_t n = strlen(path);
    const char *dot = n ? "." : "";
    if (fd->label == PROTOBUF_C_LABEL_REPEATED)
        snprintf(path + n, cap - n, "%s%s[%u]", dot, fd->name, index);
    else
        snprintf(path + n, cap - n, "%s%s", dot, fd->name);
}

/* Walks one message's wire bytes; -1 with the path set at the first string holding a NUL. */
static int scan_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
                        char *path, size_t cap, int depth)
{
    unsigned seen[64] = {0}; /* occurrences per field, for repeated-field indexes */
    size_t pos = 0;
    size_t base = strlen(path);
    while (pos < len) {
        uint64_t key, n = 0;
        if (read_varint(p, len, &pos, &key) != 0)
            return 0;
        switch (key & 7) {
        case 0: if (read_varint(p, len, &pos, &n) != 0) return 0; continue;
        case 1: pos += 8; continue;
        case 5: pos += 4; continue;
        case 2: break;
        default: return 0; /* groups: protobuf-c would have refused the message */
        }
        if (read_varint(p, len, &pos, &n) != 0 || n > len - pos)
            return 0;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
        size_t at = pos;
        pos += n;
        if (fd == NULL)
            continue;
        size_t i = (size_t)(fd - d->fields);
        unsigned index = i < 64 ? seen[i]++ : 0;
        if (fd->type == PROTOBUF_C_TYPE_STRING && memchr(p + at, 0, n) != NULL) {
            path_push(path, cap, fd, index);
            return -1;
        }
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE && depth < 16) {
            path_push(path, cap, fd, index);
            if (scan_strings(fd->descriptor, p + at, n, path, cap, depth + 1) != 0)
                return -1;
            path[base] = '\0';
        }
    }
    return 0;
}

int hd_request_check_strings(const void *buf, size_t len, char *field, size_t cap)
{
    char path[256] = "";
    if (scan_strings(&helpdesk__v1__request__descriptor, buf, len, path, sizeof path, 0) == 0)
        return 0;
    const char *shown = path;
    static const char *const prefixes[] = {"submit.contact.", "create_tickets.contact."};
    for (size_t i = 0; i < 2; i++)
        if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
            shown = path + strlen(prefixes[i]);
    snprintf(field, cap, "%s", shown);
    return -1;
}

/* The sub-messages a field holds: one, or n of a repeated field; none for other types. */
static void drop_in_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return;
    char *base = (char *)m;
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        ProtobufCMessage *sub = *(ProtobufCMessage **)(void *)(base + f->offset);
        if (sub != NULL)
            hd_message_drop_unknown(sub);
        return;
    }
    size_t n = *(size_t *)(void *)(base + f->quantifier_offset);
    ProtobufCMessage **items = *(ProtobufCMessage ***)(void *)(base + f->offset);
    for (size_t i = 0; i < n; i++)
        if (items[i] != NULL)
            hd_message_drop_unknown(items[i]);
}

void hd_message_drop_unknown(ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        free(m->unknown_fields[i].data); /* unpack used the default allocator */
    free(m->unknown_fields);
    m->unknown_fields = NULL;
    m->n_unknown_fields = 0;
    for (unsigned i = 0; i < m->descriptor->n_fields; i++)
        drop_in_field(m, &m->descriptor->fields[i]);
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
