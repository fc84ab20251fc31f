#include "hd/transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hd/log.h"

/* ZMTP heartbeats on every connection. A peer that vanished without a FIN or RST (a cable
 * pulled, a host cut off from the network) leaves a TCP connection that looks open; whatever is
 * written into it is retransmitted with a backoff that doubles, so after a 30 s cut a connection
 * from intake to the store stayed silent for about 24 s more once the cable was back
 * (tests/e2e/multihost.c). With a PING every HEARTBEAT_IVL_MS and no answer for
 * HEARTBEAT_TIMEOUT_MS, ZeroMQ drops such a connection and a connecting socket reconnects; each
 * connect attempt gives up after CONNECT_TIMEOUT_MS and starts afresh, rather than wait out
 * TCP's doubling SYN retries, so a peer that is back is reached within about that long. */
#define HEARTBEAT_IVL_MS 1000
#define HEARTBEAT_TIMEOUT_MS 3000
#define CONNECT_TIMEOUT_MS 2000

static void set_liveness(void *s)
{
    int ivl = HEARTBEAT_IVL_MS, timeout = HEARTBEAT_TIMEOUT_MS, connect_ms = CONNECT_TIMEOUT_MS;
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_CONNECT_TIMEOUT, &connect_ms, sizeof connect_ms);
}

void *hd_socket_new(void *ctx, int type, const char *endpoint, bool bind)
{
    return hd_socket_open(ctx, type, endpoint, bind, NULL);
}

void *hd_socket_open(void *ctx, int type, const char *endpoint, bool bind,
                     const hd_curve_opts *curve)
{
    void *s = zmq_socket(ctx, type);
    if (s == NULL) {
        hd_error("event=socket_failed endpoint=%s error=\"%s\"", endpoint, zmq_strerror(errno));
        return NULL;
    }
    int linger = 500;
    int64_t max = HD_MAX_MESSAGE_BYTES;
    int one = 1;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    set_liveness(s);
    if (type == ZMQ_ROUTER)
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (hd_curve_apply(s, curve) != 0) {
        hd_error("event=curve_failed endpoint=%s error=\"%s\"", endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    int rc = bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint);
    if (rc != 0) {
        hd_error("event=%s_failed endpoint=%s error=\"%s\"", bind ? "bind" : "connect", endpoint,
                 zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

void hd_socket_close(void **sock)
{
    if (sock == NULL || *sock == NULL)
        return;
    int linger = 500;
    zmq_setsockopt(*sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(*sock);
    *sock = NULL;
}

/* Each monitor needs an inproc name of its own; a closed monitor's name is released by
 * ZeroMQ's reaper a little later, so a name still taken is skipped rather than waited for. */
static int monitor_bind(void *sock, int events, char *ep, size_t cap)
{
    for (int n = 0; n < 64; n++) {
        snprintf(ep, cap, "inproc://hd-monitor-%p-%d", sock, n);
        if (zmq_socket_monitor(sock, ep, events) == 0)
            return 0;
        if (errno != EADDRINUSE)
            return -1;
    }
    return -1;
}

void *hd_monitor_open(void *ctx, void *sock, int events)
{
    char ep[96];
    if (monitor_bind(sock, events, ep, sizeof ep) != 0) {
        hd_error("event=monitor_failed error=\"%s\"", zmq_strerror(errno));
        return NULL;
    }
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    int zero = 0;
    if (mon == NULL || zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(mon, ep) != 0) {
        hd_error("event=monitor_failed error=\"%s\"", zmq_strerror(errno));
        hd_monitor_close(sock, &mon);
        return NULL;
    }
    return mon;
}

int hd_monitor_recv(void *monitor, hd_monitor_event *detail)
{
    zmq_msg_t m; /* [event (2 bytes) value (4)][endpoint] */
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&m) >= sizeof event)
        memcpy(&event, zmq_msg_data(&m), sizeof event);
    if (detail != NULL) {
        memset(detail, 0, sizeof *detail);
        if (zmq_msg_size(&m) >= 6)
            memcpy(&detail->value, (const char *)zmq_msg_data(&m) + 2, sizeof detail->value);
        if (zmq_msg_more(&m)) {
            size_t cap = sizeof detail->endpoint - 1;
            int n = zmq_recv(monitor, detail->endpoint, cap, 0); /* the length, even if cut */
            detail->endpoint[n < 0 ? 0 : (size_t)n > cap ? cap : (size_t)n] = '\0';
        }
    }
    zmq_msg_close(&m);
    hd_drain_frames(monitor);
    return event;
}

void hd_monitor_close(void *sock, void **monitor)
{
    if (sock != NULL)
        (void)zmq_socket_monitor(sock, NULL, 0);
    if (monitor != NULL && *monitor != NULL) {
        zmq_close(*monitor);
        *monitor = NULL;
    }
}

static bool has_more(void *sock)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
    return more != 0;
}

void hd_drain_frames(void *sock)
{
    while (has_more(sock)) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, 0);
        zmq_msg_close(&m);
    }
}

/* Receives one frame into a fresh message. -1 on failure, message closed. */
static int recv_frame(void *sock, zmq_msg_t *m, int flags)
{
    zmq_msg_init(m);
    if (zmq_msg_recv(m, sock, flags) < 0) {
        zmq_msg_close(m);
        return -1;
    }
    return 0;
}

/* After the identity: [""][body] or [body]. Anything else is malformed. */
static enum hd_recv_result read_body(void *router, hd_peer *peer, HdRequest **req,
                                     hd_error_buf *err)
{
    zmq_msg_t m;
    if (!has_more(router) || recv_frame(router, &m, 0) != 0) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "frames",
                     "the message has no body frame: send [\"\"][Request]");
        return HD_RECV_BAD;
    }
    if (zmq_msg_size(&m) == 0 && has_more(router)) {
        peer->delimited = true;
        zmq_msg_close(&m);
        if (recv_frame(router, &m, 0) != 0)
            return HD_RECV_NONE;
    }
    if (has_more(router)) {
        zmq_msg_close(&m);
        hd_drain_frames(router);
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "frames",
                     "too many frames: send one Request frame after an empty delimiter");
        return HD_RECV_BAD;
    }
    *req = hd_request_decode(zmq_msg_data(&m), zmq_msg_size(&m));
    if (*req == NULL) {
        zmq_msg_close(&m);
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "request",
                     "the frame is not a helpdesk.v1.Request protobuf message");
        return HD_RECV_BAD;
    }
    peer->request_id = (*req)->id;
    char field[128];
    int nul = hd_request_check_strings(zmq_msg_data(&m), zmq_msg_size(&m), field, sizeof field);
    zmq_msg_close(&m);
    if (nul != 0) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD, field,
                     "%s contains a NUL byte, which text may not hold", field);
        return HD_RECV_BAD;
    }
    if ((*req)->body_case == HELPDESK__V1__REQUEST__BODY__NOT_SET) {
        hd_error_set(err, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST, "body",
                     "the Request has no body, or one this server does not know");
        return HD_RECV_BAD;
    }
    return HD_RECV_OK;
}

enum hd_recv_result hd_router_recv(void *router, hd_peer *peer, HdRequest **req,
                                   hd_error_buf *err, int flags)
{
    *req = NULL;
    peer->delimited = false;
    peer->request_id = 0;
    zmq_msg_t id;
    if (recv_frame(router, &id, flags) != 0)
        return HD_RECV_NONE;
    peer->id_len = zmq_msg_size(&id);
    if (peer->id_len > sizeof peer->id)
        peer->id_len = sizeof peer->id;
    memcpy(peer->id, zmq_msg_data(&id), peer->id_len);
    zmq_msg_close(&id);
    enum hd_recv_result r = read_body(router, peer, req, err);
    if (r == HD_RECV_BAD) {
        hd_request_free(*req);
        *req = NULL;
    }
    return r;
}

int hd_router_send(void *router, const hd_peer *peer, const HdReply *rep)
{
    zmq_msg_t body;
    if (hd_reply_pack(rep, &body) != 0)
        return -1;
    if (zmq_send(router, peer->id, peer->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        goto fail;
    if (peer->delimited && zmq_send(router, "", 0, ZMQ_SNDMORE) < 0)
        goto fail;
    if (zmq_msg_send(&body, router, 0) < 0)
        goto fail;
    return 0;
fail:
    zmq_msg_close(&body);
    return -1;
}

int hd_router_send_error(void *router, const hd_peer *peer, uint64_t id, hd_error_buf *err)
{
    HdReply rep = HELPDESK__V1__REPLY__INIT;
    rep.id = id;
    hd_reply_set_error(&rep, err);
    return hd_router_send(router, peer, &rep);
}

int hd_dealer_send(void *dealer, const HdRequest *req, int flags)
{
    zmq_msg_t body;
    if (hd_request_pack(req, &body) != 0)
        return -1;
    if (zmq_send(dealer, "", 0, ZMQ_SNDMORE | flags) < 0 || zmq_msg_send(&body, dealer, flags) < 0) {
        int saved = errno;
        zmq_msg_close(&body);
        errno = saved;
        return -1;
    }
    return 0;
}

/* Reads [""][body] or [topic][body]; returns the body frame, or -1. */
static int recv_two_frames(void *sock, zmq_msg_t *body, int flags)
{
    zmq_msg_t head;
    if (recv_frame(sock, &head, flags) != 0)
        return -1;
    zmq_msg_close(&head);
    if (!has_more(sock) || recv_frame(sock, body, 0) != 0) {
        errno = EPROTO;
        return -1;
    }
    if (has_more(sock)) {
        zmq_msg_close(body);
        hd_drain_frames(sock);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

HdReply *hd_dealer_recv(void *dealer, int flags)
{
    zmq_msg_t body;
    if (recv_two_frames(dealer, &body, flags) != 0)
        return NULL;
    HdReply *rep = hd_reply_decode(zmq_msg_data(&body), zmq_msg_size(&body));
    zmq_msg_close(&body);
    if (rep == NULL)
        errno = EPROTO;
    return rep;
}

int hd_publish_event(void *pub, const HdTicketEvent *ev)
{
    zmq_msg_t body;
    if (hd_event_pack(ev, &body) != 0)
        return -1;
    const char *topic = hd_event_kind_name(ev->kind);
    if (zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, pub, 0) < 0) {
        zmq_msg_close(&body);
        return -1;
    }
    return 0;
}

HdTicketEvent *hd_subscriber_recv(void *sub, int flags)
{
    zmq_msg_t body;
    if (recv_two_frames(sub, &body, flags) != 0)
        return NULL;
    HdTicketEvent *ev = hd_event_decode(zmq_msg_data(&body), zmq_msg_size(&body));
    zmq_msg_close(&body);
    if (ev == NULL)
        errno = EPROTO;
    return ev;
}
