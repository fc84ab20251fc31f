#include "hd/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hd/clock.h"
#include "hd/transport.h"

struct hd_client {
    void *ctx;
    bool own_ctx;
    void *sock;
    char *endpoint;
    uint64_t next_id;
    hd_curve_opts curve; /* for every socket, also those made after a timeout */
};

hd_client *hd_client_new(void *ctx, const char *endpoint)
{
    return hd_client_open(ctx, endpoint, NULL);
}

hd_client *hd_client_open(void *ctx, const char *endpoint, const hd_curve_opts *curve)
{
    hd_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        abort();
    if (curve != NULL)
        c->curve = *curve;
    c->own_ctx = ctx == NULL;
    c->ctx = ctx ? ctx : zmq_ctx_new();
    c->endpoint = strdup(endpoint);
    c->next_id = (uint64_t)hd_now_ms() << 16; /* distinct from a previous run's ids */
    c->sock = hd_socket_open(c->ctx, ZMQ_DEALER, endpoint, false, &c->curve);
    if (c->sock == NULL || c->endpoint == NULL) {
        hd_client_destroy(&c);
        return NULL;
    }
    return c;
}

void hd_client_destroy(hd_client **c)
{
    if (c == NULL || *c == NULL)
        return;
    hd_socket_close(&(*c)->sock);
    if ((*c)->own_ctx)
        zmq_ctx_term((*c)->ctx);
    free((*c)->endpoint);
    free(*c);
    *c = NULL;
}

static void reconnect(hd_client *c)
{
    int zero = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(c->sock);
    c->sock = hd_socket_open(c->ctx, ZMQ_DEALER, c->endpoint, false, &c->curve);
}

HdReply *hd_client_call(hd_client *c, HdRequest *req, int timeout_ms)
{
    if (c->sock == NULL)
        reconnect(c);
    if (c->sock == NULL) {
        errno = ENOTCONN;
        return NULL;
    }
    req->id = ++c->next_id;
    int64_t deadline = hd_mono_ms() + timeout_ms;
    if (hd_dealer_send(c->sock, req, 0) != 0)
        return NULL;
    for (;;) {
        int64_t left = deadline - hd_mono_ms();
        zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLIN};
        int rc = left > 0 ? zmq_poll(&item, 1, (long)left) : 0;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            reconnect(c);
            errno = ETIMEDOUT;
            return NULL;
        }
        HdReply *rep = hd_dealer_recv(c->sock, ZMQ_DONTWAIT);
        if (rep && rep->id == req->id)
            return rep;
        hd_reply_free(rep); /* a stale or malformed reply: keep waiting */
    }
}

HdReply *hd_client_call_retry(hd_client *c, HdRequest *req, int timeout_ms, int attempts)
{
    for (int i = 0; i < attempts; i++) {
        HdReply *rep = hd_client_call(c, req, timeout_ms);
        if (rep)
            return rep;
    }
    return NULL;
}
