/* ZeroMQ sockets and the framing every request socket uses: a DEALER (or REQ) client sends
 * [""][Request] and gets [""][Reply]; a ROUTER sees [identity][""][Request]. */
#ifndef HD_TRANSPORT_H
#define HD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "hd/codec.h"
#include "hd/curve.h"

/* Largest message a socket accepts; a bigger one makes ZeroMQ drop that peer's connection. */
#define HD_MAX_MESSAGE_BYTES (4L * 1024 * 1024)

/* A socket with linger, message size limit, heartbeats and a connect timeout (a peer that
 * vanished without closing is dropped within seconds and connected to again; transport.c) and
 * (ROUTER) mandatory routing set, bound or connected to `endpoint`. NULL on failure, with the
 * reason logged. */
void *hd_socket_new(void *ctx, int type, const char *endpoint, bool bind);
/* hd_socket_new with CurveZMQ options set before it binds or connects (NULL or off: none). */
void *hd_socket_open(void *ctx, int type, const char *endpoint, bool bind,
                     const hd_curve_opts *curve);
/* Closes *sock with a short linger and sets it to NULL; safe on NULL. */
void hd_socket_close(void **sock);

/* Watches the connections of `sock`: returns a PAIR socket, for the caller to poll, on which
 * ZeroMQ reports the `events` (a mask of ZMQ_EVENT_*) of sock; NULL on failure (logged). The
 * monitor belongs to sock: stop it with hd_monitor_close while sock is still open. */
void *hd_monitor_open(void *ctx, void *sock, int events);
/* The next event waiting on a monitor (a ZMQ_EVENT_* value), or 0 when none is there. With
 * `detail`, also its value (an errno, a ZMQ_PROTOCOL_ERROR_*, ...) and the peer's endpoint
 * ("tcp://10.0.0.5:41234" for a connection a bound socket accepted), NUL-terminated. */
typedef struct {
    uint32_t value;
    char endpoint[128];
} hd_monitor_event;
int hd_monitor_recv(void *monitor, hd_monitor_event *detail);
/* Stops watching sock (NULL: already closed) and closes *monitor, setting it to NULL; safe on
 * NULL. Call it before closing sock, so nothing of the monitor outlives the socket. */
void hd_monitor_close(void *sock, void **monitor);

/* Who sent a request on a ROUTER socket, kept by value so replies can be sent later. */
typedef struct {
    unsigned char id[256];
    size_t id_len;
    bool delimited; /* the request had an empty delimiter frame, so the reply gets one too */
    uint64_t request_id; /* the request's id, also for a bad request (0 when undecodable) */
} hd_peer;

enum hd_recv_result {
    HD_RECV_NONE = -1,   /* nothing to read (EAGAIN), or the socket is closing */
    HD_RECV_BAD = 0,     /* a malformed message; *err says why: reply with it */
    HD_RECV_OK = 1,      /* *req is set; caller frees it with hd_request_free */
};

/* Reads one message from a ROUTER. flags: 0 or ZMQ_DONTWAIT. */
enum hd_recv_result hd_router_recv(void *router, hd_peer *peer, HdRequest **req,
                                   hd_error_buf *err, int flags);
/* Sends a reply to `peer`. 0, or -1 (peer gone, or high-water mark reached). */
int hd_router_send(void *router, const hd_peer *peer, const HdReply *rep);
/* Builds and sends an error reply with request id `id`. */
int hd_router_send_error(void *router, const hd_peer *peer, uint64_t id, hd_error_buf *err);

/* DEALER side: sends [""][req]. 0 or -1 (errno set). */
int hd_dealer_send(void *dealer, const HdRequest *req, int flags);
/* DEALER side: reads [""][Reply]. NULL with errno EAGAIN when nothing is there, EPROTO when
 * the message was not a Reply. Caller frees with hd_reply_free. */
HdReply *hd_dealer_recv(void *dealer, int flags);

/* Publishes [topic][event]. 0 or -1. */
int hd_publish_event(void *pub, const HdTicketEvent *ev);
/* Reads one [topic][event] from a SUB. NULL with errno as for hd_dealer_recv. */
HdTicketEvent *hd_subscriber_recv(void *sub, int flags);

/* Reads and discards the remaining frames of a multipart message. */
void hd_drain_frames(void *sock);

#endif
