#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int intake_settings_load(const hd_config *cfg, intake_settings *s, char *err, size_t errlen)
{
    s->endpoint = hd_config_str(cfg, "intake.endpoint", HD_DEFAULT_INTAKE);
    s->store_api = hd_config_str(cfg, "store.api", HD_DEFAULT_STORE_API);
    int64_t max = 10, timeout = 5000;
    if (hd_config_int(cfg, "intake.max_problems", 1, 1000, &max, err, errlen) != 0 ||
        hd_config_int(cfg, "intake.store_timeout_ms", 1, 3600000, &timeout, err, errlen) != 0)
        return -1;
    s->max_problems = (int)max;
    s->store_timeout_ms = (int)timeout;
    return 0;
}

int intake_accept(HdRequest *req, int max_problems, int64_t now_ms, hd_error_buf *err)
{
    if (req->body_case != HELPDESK__V1__REQUEST__BODY_SUBMIT) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body",
                     "intake takes only submit requests; send the other requests to the store");
        return -1;
    }
    HdContact *c = req->submit ? req->submit->contact : NULL;
    if (intake_validate_contact(c, max_problems, err) != 0 || c == NULL)
        return -1;
    if (c->received_at == 0)
        c->received_at = now_ms;
    hd_message_drop_unknown(&c->base); /* forward only what this protocol version defines */
    return 0;
}

struct intake_pending {
    intake_call *slots; /* slot of id: id & (cap - 1) */
    bool *live;
    size_t cap;         /* a power of two */
    uint64_t head;      /* oldest id that may still be live */
    uint64_t next;      /* id of the next call */
};

intake_pending *intake_pending_new(uint64_t first_id)
{
    intake_pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        abort();
    p->cap = 64;
    p->slots = calloc(p->cap, sizeof *p->slots);
    p->live = calloc(p->cap, sizeof *p->live);
    if (p->slots == NULL || p->live == NULL)
        abort();
    p->head = p->next = first_id;
    return p;
}

void intake_pending_destroy(intake_pending **p)
{
    if (p == NULL || *p == NULL)
        return;
    free((*p)->slots);
    free((*p)->live);
    free(*p);
    *p = NULL;
}

static void grow(intake_pending *p)
{
    size_t cap = p->cap * 2;
    intake_call *slots = calloc(cap, sizeof *slots);
    bool *live = calloc(cap, sizeof *live);
    if (slots == NULL || live == NULL)
        abort();
    for (uint64_t id = p->head; id != p->next; id++) {
        slots[id & (cap - 1)] = p->slots[id & (p->cap - 1)];
        live[id & (cap - 1)] = p->live[id & (p->cap - 1)];
    }
    free(p->slots);
    free(p->live);
    p->slots = slots;
    p->live = live;
    p->cap = cap;
}

/* Moves head past calls already answered. */
static void advance(intake_pending *p)
{
    while (p->head != p->next && !p->live[p->head & (p->cap - 1)])
        p->head++;
}

intake_call *intake_pending_add(intake_pending *p, uint64_t client_id, const hd_peer *peer,
                                int64_t deadline, const HdContact *c)
{
    advance(p);
    if (p->next - p->head >= INTAKE_MAX_IN_FLIGHT)
        return NULL;
    if (p->next - p->head == p->cap)
        grow(p);
    uint64_t id = p->next++;
    intake_call *call = &p->slots[id & (p->cap - 1)];
    memset(call, 0, sizeof *call);
    call->store_id = id;
    call->client_id = client_id;
    call->peer = *peer;
    call->deadline = deadline;
    if (c != NULL) {
        snprintf(call->source, sizeof call->source, "%s", c->source ? c->source : "");
        snprintf(call->external_id, sizeof call->external_id, "%s",
                 c->external_id ? c->external_id : "");
    }
    p->live[id & (p->cap - 1)] = true;
    return call;
}

int intake_pending_take(intake_pending *p, uint64_t store_id, intake_call *out)
{
    /* Unsigned differences: ids wrap like sequence numbers. */
    if (store_id - p->head >= p->next - p->head || !p->live[store_id & (p->cap - 1)])
        return -1;
    *out = p->slots[store_id & (p->cap - 1)];
    p->live[store_id & (p->cap - 1)] = false;
    advance(p);
    return 0;
}

int intake_pending_expire(intake_pending *p, int64_t now, intake_call *out)
{
    advance(p);
    if (p->head == p->next || p->slots[p->head & (p->cap - 1)].deadline > now)
        return -1;
    return intake_pending_take(p, p->head, out);
}

int64_t intake_pending_next_deadline(intake_pending *p)
{
    advance(p);
    return p->head == p->next ? -1 : p->slots[p->head & (p->cap - 1)].deadline;
}

size_t intake_pending_count(const intake_pending *p)
{
    size_t n = 0;
    for (uint64_t id = p->head; id != p->next; id++)
        n += p->live[id & (p->cap - 1)];
    return n;
}

void intake_log_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 3) {
        if (cap)
            out[0] = '\0';
        return;
    }
    out[n++] = '"';
    for (; s && *s && n + 6 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7F) {
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
}
