/* CurveZMQ on the help desk's sockets (RFC 26) and the ZAP handler (RFC 27) that admits only the
 * client keys the operator listed. Off unless `curve.enabled` is true; then every socket of the
 * store (api, work, events) and intake's endpoint is a CURVE server, and everything connecting
 * to them is a CURVE client with its own key pair and the server's public key.
 *
 * Keys are Z85 text (40 characters) in files written by `helpdesk keygen`: NAME.pub holds the
 * public key, NAME.key (mode 0600) the secret key; a line starting with '#' is a comment. A
 * server or client only needs its secret key file: the public key is derived from it.
 *
 * Settings (each also HD_CURVE_... in the environment, like every key):
 *   curve.enabled                  true|false (default false)
 *   curve.store_secret_key_file    hd-store's key pair
 *   curve.intake_secret_key_file   hd-intake's key pair (as the front door)
 *   curve.store_public_key_file    clients of the store: intake, workers, timer, notifier, CLI
 *   curve.intake_public_key_file   clients of intake: the CLI, other systems
 *   curve.client_secret_key_file   this process's key pair as a client
 *   curve.allowed_clients          servers: a file of public keys, one a line, or a directory
 *                                  whose *.pub files each hold one */
#ifndef HD_CURVE_H
#define HD_CURVE_H

#include <stdbool.h>
#include <stddef.h>

#include "hd/config.h"

#define HD_CURVE_KEY_LEN 40 /* a key in Z85 text; 32 bytes once decoded */

struct hd_zap;

/* The CURVE options of one socket. A zeroed value (enabled false) makes a plain socket. */
typedef struct hd_curve_opts {
    bool enabled;
    bool server;
    struct hd_zap *zap; /* servers: the handler that logs the socket's failed handshakes */
    char domain[16]; /* servers: the ZAP domain, naming the socket in the refusal log ("api") */
    char public_key[HD_CURVE_KEY_LEN + 1];
    char secret_key[HD_CURVE_KEY_LEN + 1];
    char server_key[HD_CURVE_KEY_LEN + 1]; /* clients: the server's public key */
} hd_curve_opts;

/* Sets o's options on a socket that has not bound or connected yet (nothing when o is NULL or
 * off). 0, or -1 with errno set. */
__attribute__((warn_unused_result)) int hd_curve_apply(void *sock, const hd_curve_opts *o);

/* Reads the one key in the key file at `path` into key (NUL-terminated). -1 with "setting:
 * path: reason" in err when the file is missing, unreadable, or holds no valid key or more
 * than one. */
__attribute__((warn_unused_result)) int hd_curve_key_load(const char *path, const char *setting,
                                                          char key[HD_CURVE_KEY_LEN + 1],
                                                          char *err, size_t errlen);

/* curve.enabled as a boolean (true/false, yes/no, on/off, 1/0). -1 with the reason in err. */
__attribute__((warn_unused_result)) int hd_curve_enabled(const hd_config *cfg, bool *on,
                                                         char *err, size_t errlen);

/* The options of a client of `server` ("store" or "intake"): off when curve is off; else this
 * process's key pair from curve.client_secret_key_file and the server's public key from
 * curve.<server>_public_key_file. -1 with the setting named in err. */
__attribute__((warn_unused_result)) int hd_curve_client_config(const hd_config *cfg,
                                                               const char *server,
                                                               hd_curve_opts *out, char *err,
                                                               size_t errlen);

/* The client public keys a server admits. */
typedef struct hd_curve_allow hd_curve_allow;

/* Loads `path`: a file of Z85 public keys, one a line ('#' comments and blank lines skipped),
 * or a directory, every *.pub file of which holds one key. NULL with "setting: path[:line]:
 * reason" in err when anything is wrong or no key is listed. Caller owns the result. */
hd_curve_allow *hd_curve_allow_load(const char *path, const char *setting, char *err,
                                    size_t errlen);
size_t hd_curve_allow_count(const hd_curve_allow *a);
/* Whether the 32-byte public key is listed. */
bool hd_curve_allow_has(const hd_curve_allow *a, const unsigned char key[32]);
void hd_curve_allow_destroy(hd_curve_allow **a);

/* The ZAP handler of one ZeroMQ context: a thread that owns a REP socket bound to
 * inproc://zeromq.zap.01, answers 200 for a CURVE client whose key is allowed and 400 for any
 * other, logging the refusal as
 *   event=curve_refused socket=<domain> peer=<ip> mechanism=CURVE client_key=<z85>
 * One line per refused connection attempt (libzmq does not retry a failed handshake on the same
 * socket), except that a client retrying in a loop is logged at most every 10 s per key, socket
 * and peer, the next line saying held_back=N. A client without CURVE fails the handshake before
 * ZAP is asked; hd_zap_watch logs those. */
typedef struct hd_zap hd_zap;

/* Starts the handler on ctx; it must run before any CURVE server socket of ctx binds. Takes
 * *allow (set to NULL). NULL on failure, logged. */
hd_zap *hd_zap_start(void *ctx, hd_curve_allow **allow);
/* Stops the thread and closes its sockets; before zmq_ctx_term. Safe on NULL and twice. */
void hd_zap_stop(hd_zap **z);
/* Logs the failed handshakes of server socket `sock` of ctx (a client without CurveZMQ never
 * reaches ZAP) as event=curve_refused socket=<name> peer=<ip> mechanism=not_curve, with the
 * same limit per peer as ZAP's refusals. hd_curve_bind calls it; nothing on NULL. */
void hd_zap_watch(hd_zap *z, void *ctx, void *sock, const char *name);
/* SIGHUP: reads curve.allowed_clients again (the file or folder hd_curve_server_start read)
 * and admits exactly its keys from the next handshake on. Connections made before stay: ZAP is
 * asked only when a connection starts, so to cut a removed client off at once, restart the
 * server. A list that does not load is refused (logged, -1 with the reason in err) and the old
 * one stays. 0 on NULL (curve off). */
int hd_zap_reload(hd_zap *z, char *err, size_t errlen);

/* A server's setup: off (and *zap NULL) when curve is off; else the key pair from
 * curve.<server>_secret_key_file, the allow list from curve.allowed_clients, and the ZAP
 * handler started on ctx. -1 with the setting named in err. */
__attribute__((warn_unused_result)) int hd_curve_server_start(const hd_config *cfg,
                                                              const char *server, void *ctx,
                                                              hd_curve_opts *out, hd_zap **zap,
                                                              char *err, size_t errlen);

/* hd_socket_open bound to `endpoint` as the server `server` (which may be off), the socket
 * named `name` in the refusal log. NULL on failure, logged. */
void *hd_curve_bind(void *ctx, int type, const char *endpoint, const hd_curve_opts *server,
                    const char *name);

/* Whether `name` can name key files: 1 to 64 letters, digits, '.', '_', '-', not starting with
 * '.' or '-'. */
bool hd_curve_key_name_ok(const char *name);

/* Writes a new key pair as dir/name.pub and dir/name.key (0600), making dir (0700) when it
 * is missing; never overwrites either file. The public key goes into public_key. -1 with the
 * reason in err. */
__attribute__((warn_unused_result)) int hd_curve_keygen(const char *dir, const char *name,
                                                        char public_key[HD_CURVE_KEY_LEN + 1],
                                                        char *err, size_t errlen);

#endif
