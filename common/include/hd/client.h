/* A blocking request/reply client over a DEALER socket, for the CLI, tests and the benchmark.
 * One request at a time; each reply is matched to its request by id. */
#ifndef HD_CLIENT_H
#define HD_CLIENT_H

#include "hd/codec.h"
#include "hd/curve.h"

typedef struct hd_client hd_client;

/* Connects to `endpoint` (connection happens in the background). NULL on failure.
 * `ctx` may be NULL: the client then owns a context of its own. */
hd_client *hd_client_new(void *ctx, const char *endpoint);
/* hd_client_new as a CurveZMQ client (curve copied; NULL or off: plain). */
hd_client *hd_client_open(void *ctx, const char *endpoint, const hd_curve_opts *curve);
/* Safe on NULL and twice; sets *c to NULL. */
void hd_client_destroy(hd_client **c);

/* Sets req->id, sends, and waits up to timeout_ms for the reply with that id. Returns the reply
 * (caller frees with hd_reply_free), or NULL with errno ETIMEDOUT after which the socket is
 * replaced, so a late reply can never be taken for the next request's. */
HdReply *hd_client_call(hd_client *c, HdRequest *req, int timeout_ms);

/* hd_client_call, retried up to `attempts` times on timeout. Safe for requests that are
 * idempotent (every store and intake request is, given the same idempotency key). */
HdReply *hd_client_call_retry(hd_client *c, HdRequest *req, int timeout_ms, int attempts);

#endif
