/* Intake's decisions, without sockets: which requests go on to the store, and the table of
 * calls waiting for the store's answer. */
#ifndef INTAKE_H
#define INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "hd/codec.h"
#include "hd/config.h"
#include "hd/transport.h"
#include "validate.h"

typedef struct {
    const char *endpoint;  /* intake.endpoint (points into the config or a literal) */
    const char *store_api; /* store.api */
    int max_problems;      /* intake.max_problems */
    int store_timeout_ms;  /* intake.store_timeout_ms */
} intake_settings;

/* Reads the settings from cfg (environment first); -1 with "key: reason" in err. */
__attribute__((warn_unused_result)) int intake_settings_load(const hd_config *cfg,
                                                             intake_settings *s, char *err,
                                                             size_t errlen);

/* Checks a client's request: a submit body with a valid contact. Sets contact.received_at to
 * now_ms when the client left it 0. 0 when the contact may go to the store; -1 with err filled
 * (ERROR_BAD_REQUEST field "body", or ERROR_INVALID_FIELD naming the field). */
__attribute__((warn_unused_result)) int intake_accept(HdRequest *req, int max_problems,
                                                      int64_t now_ms, hd_error_buf *err);

/* A client's submit that waits for the store. */
typedef struct {
    uint64_t store_id;  /* the id of intake's own request to the store */
    uint64_t client_id; /* the client's request id, echoed in the reply to it */
    hd_peer peer;
    int64_t deadline; /* CLOCK_MONOTONIC ms */
    char source[INTAKE_SOURCE_MAX + 1];
    char external_id[INTAKE_EXTERNAL_ID_MAX + 1];
} intake_call;

/* More calls than this waiting at once and intake answers "busy" instead of growing. */
#define INTAKE_MAX_IN_FLIGHT 65536

/* Calls in flight, by store request id. Deadlines must be added in increasing order (one
 * timeout for all), which makes the table a ring: adding, taking and expiring are O(1). */
typedef struct intake_pending intake_pending;

/* first_id: the id the first call gets; distinct per run, so a late answer to a previous
 * run's request is never taken for one of ours. */
intake_pending *intake_pending_new(uint64_t first_id);
void intake_pending_destroy(intake_pending **p);
/* Records a call and returns it, with store_id set; NULL when INTAKE_MAX_IN_FLIGHT are
 * waiting. The pointer is valid until the next call on the table. */
intake_call *intake_pending_add(intake_pending *p, uint64_t client_id, const hd_peer *peer,
                                int64_t deadline, const HdContact *c);
/* Removes the call with this store id into *out: 0, or -1 when unknown (expired, answered). */
int intake_pending_take(intake_pending *p, uint64_t store_id, intake_call *out);
/* Removes the oldest call whose deadline is <= now into *out: 0, or -1 when none. */
int intake_pending_expire(intake_pending *p, int64_t now, intake_call *out);
/* The earliest deadline, or -1 when nothing waits. */
int64_t intake_pending_next_deadline(intake_pending *p);
size_t intake_pending_count(const intake_pending *p);

/* Copies s into out as a double-quoted log value: quotes, backslashes and control bytes
 * escaped, cut to fit. */
void intake_log_quote(char *out, size_t cap, const char *s);

#endif
