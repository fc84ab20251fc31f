/* Real receivers for the notifier's end-to-end tests: an SMTP server (python3 aiosmtpd, from
 * Debian's python3-aiosmtpd, tests/support/smtp_sink.py) and an HTTP receiver (python3
 * http.server, tests/support/http_sink.py), each on a loopback port picked here, writing what
 * they receive into a folder of their own. Readiness is a TCP connect that succeeds, never a
 * sleep. */
#ifndef HD_TEST_SINKS_H
#define HD_TEST_SINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

typedef enum { HT_SINK_SMTP, HT_SINK_HTTP } ht_sink_kind;

typedef struct {
    ht_sink_kind kind;
    pid_t pid;          /* 0 when not running */
    int port;
    char dir[520];      /* what it received: msg-N.eml + msg-N.txt, or post-N.json */
    char log[560];      /* its stdout and stderr */
    char url[128];      /* smtp://127.0.0.1:PORT or http://127.0.0.1:PORT/hook */
} ht_sink;

/* Starts a sink named `name` (unique in the environment) and waits until it accepts TCP
 * connections. 0, or -1 after printing why. */
int ht_sink_start(ht_env *env, ht_sink *s, ht_sink_kind kind, const char *name);
/* SIGTERM, then SIGKILL after a while; safe to call twice. Returns its exit code (0 is clean),
 * -1 when it had to be killed or was not running. */
int ht_sink_stop(ht_sink *s);

/* A loopback port on which nothing listens (picked free, then left closed). */
int ht_closed_port(void);

/* A path inside the source tree (tests/support/..., deploy/local/templates), found from the
 * current folder or from HD_TEST_BIN (BUILD/bin inside the tree). 0 or -1. */
int ht_source_path(const char *rel, char *out, size_t len);

/* One message the SMTP sink received (decoded by python's email module). */
typedef struct {
    int n;                  /* its number at the sink, in order of arrival */
    char rcpt[256];         /* envelope recipients */
    char key[192];          /* X-Helpdesk-Key */
    char subject[1024];     /* RFC 2047 decoded */
    char content_type[160];
    char transfer_encoding[64];
    int64_t received_ms;    /* wall clock ms at the sink */
    char *body;             /* decoded body (owned) */
    char *raw;              /* the raw message as received (owned) */
} ht_mail;

/* Every message received so far, in order of arrival. Returns the count (0 when none), *out
 * allocated (free with ht_mails_free). */
size_t ht_smtp_mails(const ht_sink *s, ht_mail **out);
void ht_mails_free(ht_mail **mails, size_t n);
/* How many messages with this X-Helpdesk-Key the sink has. */
size_t ht_smtp_count_key(const ht_sink *s, const char *key);

/* Every POST body received so far, in order of arrival (NUL-terminated strings; free with
 * ht_posts_free). Returns the count. */
size_t ht_http_posts(const ht_sink *s, char ***out);
void ht_posts_free(char ***posts, size_t n);
/* How many POST bodies hold the JSON member "key":"<key>" exactly. */
size_t ht_http_count_key(const ht_sink *s, const char *key);
/* The value of string member `name` of a flat JSON document (the notifier's webhook document),
 * with \" \\ \n \t \/ and \uXXXX (BMP) escapes decoded, into out. false when absent. */
bool ht_json_str(const char *json, const char *name, char *out, size_t len);
/* The value of integer member `name`; false when absent. */
bool ht_json_int(const char *json, const char *name, int64_t *v);

#endif
