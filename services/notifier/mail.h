/* Outgoing messages: the RFC 5322 email (MIME headers, RFC 2047 subject, UTF-8 body), the
 * webhook's JSON document, and the libcurl multi sender that delivers both without ever
 * blocking the service loop. */
#ifndef NOTIF_MAIL_H
#define NOTIF_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/* The subject as a header value: unchanged when it is printable ASCII, else RFC 2047 encoded
 * words (=?UTF-8?B?...?=) that never split a character, folded with CRLF SP. Line breaks in
 * the input become spaces (no header injection). Caller frees. */
char *notif_mail_subject(const char *subject);

/* The bare address of "Name <a@b>" or "a@b" into buf; -1 when it holds no '@'. */
int notif_mail_address(const char *from, char *buf, size_t len);

typedef struct {
    const char *from;       /* "Help Desk <helpdesk@example.com>" or a bare address */
    const char *to;         /* a bare address */
    const char *subject;    /* UTF-8 */
    const char *body;       /* UTF-8, LF or CRLF line ends */
    const char *key;        /* the communication key, also in Message-ID */
    const char *language;   /* Content-Language, may be empty */
    int64_t ticket_id;
    int64_t date_ms;        /* Date header, ms since the epoch */
} notif_mail;

/* The whole message with CRLF line ends: From, To, Subject, Date, Message-ID, MIME-Version,
 * Content-Type text/plain; charset=UTF-8, Content-Transfer-Encoding 8bit (base64 when a line
 * is longer than RFC 5322 allows), a blank line and the body. Caller frees. */
char *notif_mail_build(const notif_mail *m);

/* What the webhook receives for one communication. */
typedef struct {
    const char *key, *kind, *event_kind, *audience, *recipient, *language, *subject, *body;
    int64_t ticket_id, event_seq, at;
    const int64_t *tickets;
    size_t n_tickets;
    uint32_t attempt;
} notif_webhook_doc;

/* {"key":..., "kind":..., "ticket_id":..., "tickets":[...], ...} as UTF-8 JSON. Caller frees. */
char *notif_webhook_json(const notif_webhook_doc *d);

/* Appends `s` as a JSON string (with quotes) to the buffer *out of length *len (realloc'd). */
void notif_json_string(char **out, size_t *len, const char *s);

/* --- the sender --- */
typedef struct notif_sender notif_sender;

/* Called once per transfer when it ends: ok, or the reason it failed. */
typedef void (*notif_done_fn)(uint64_t id, bool ok, const char *error, void *ctx);

/* NULL when libcurl cannot start. Every transfer gets these timeouts. */
notif_sender *notif_sender_new(long connect_timeout_ms, long total_timeout_ms);
/* Aborts transfers still running (their callbacks are not called). Safe twice. */
void notif_sender_destroy(notif_sender **s);

/* Starts sending `message` (consumed, freed by the sender) to `to` over SMTP at `url`.
 * Transfer `id` ends with one call of the done callback from notif_sender_run. */
__attribute__((warn_unused_result)) int notif_sender_email(notif_sender *s, uint64_t id,
                                                           const char *url, const char *from,
                                                           const char *to, char *message);
/* Starts an HTTP POST of `json` (consumed) to `url`; any status >= 300 is a failure. */
__attribute__((warn_unused_result)) int notif_sender_webhook(notif_sender *s, uint64_t id,
                                                             const char *url, char *json);

/* Transfers in flight. */
size_t notif_sender_active(const notif_sender *s);
/* Adds the sockets libcurl waits on to items[] (at most cap); returns how many. */
size_t notif_sender_pollitems(notif_sender *s, zmq_pollitem_t *items, size_t cap);
/* How long the loop may sleep before calling notif_sender_run (ms; -1: no transfer). */
long notif_sender_timeout(notif_sender *s);
/* Moves every transfer on as far as it can go without waiting, and reports the ended ones. */
void notif_sender_run(notif_sender *s, notif_done_fn done, void *ctx);

#endif
