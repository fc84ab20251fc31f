#include "hd/curve.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "hd/clock.h"
#include "hd/log.h"
#include "hd/transport.h"

/* Key files and allow lists are a few lines; anything bigger is not one. */
#define MAX_KEY_FILE 65536
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* Frames of a ZAP request: version, id, domain, address, identity, mechanism, credentials. */
#define ZAP_FRAMES 7
/* A refused key is logged at once, then at most this often while it keeps trying. */
#define REFUSAL_LOG_MS 10000
#define REFUSAL_SLOTS 16
/* Server sockets whose failed handshakes the handler's thread logs (hd_zap_watch). */
#define WATCH_MAX 8
#define WATCH_EVENTS (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

/* ---- socket options ------------------------------------------------------------------------ */

int hd_curve_apply(void *sock, const hd_curve_opts *o)
{
    if (o == NULL || !o->enabled)
        return 0;
    if (o->server) {
        int one = 1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, o->secret_key, HD_CURVE_KEY_LEN) != 0 ||
            zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, o->domain, strlen(o->domain)) != 0)
            return -1;
        return 0;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, o->server_key, HD_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, o->public_key, HD_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, o->secret_key, HD_CURVE_KEY_LEN) != 0)
        return -1;
    return 0;
}

/* ---- key text ------------------------------------------------------------------------------ */

/* Whether s[0..len) is a Z85 key; decoded into bin when it is. */
static bool z85_key(const char *s, size_t len, unsigned char bin[32])
{
    if (len != HD_CURVE_KEY_LEN)
        return false;
    char text[HD_CURVE_KEY_LEN + 1];
    memcpy(text, s, len);
    text[len] = '\0';
    return zmq_z85_decode(bin, text) != NULL;
}

/* Reads a small text file, NUL-terminated (caller frees). NULL with the reason in err. */
static char *read_small(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_KEY_FILE + 1);
    if (buf == NULL)
        abort();
    size_t n = fread(buf, 1, MAX_KEY_FILE + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || n > MAX_KEY_FILE) {
        snprintf(err, errlen, "%s", failed ? "cannot read it" : "too big for a key file");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

enum line_kind { LINE_SKIP, LINE_KEY, LINE_BAD };

/* One line: a key (optionally followed by a "# comment"), a comment, blank, or bad. */
static enum line_kind parse_line(const char *line, size_t len, unsigned char key[32])
{
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        len--;
    while (len > 0 && isspace((unsigned char)*line)) {
        line++;
        len--;
    }
    size_t tok = 0;
    while (tok < len && !isspace((unsigned char)line[tok]))
        tok++;
    size_t rest = tok;
    while (rest < len && isspace((unsigned char)line[rest]))
        rest++;
    /* '#' is also a Z85 character: a well-formed key wins over a comment. */
    if (z85_key(line, tok, key) && (rest == len || line[rest] == '#'))
        return LINE_KEY;
    if (len == 0 || line[0] == '#')
        return LINE_SKIP;
    return LINE_BAD;
}

typedef int (*key_fn)(const unsigned char key[32], void *arg);

/* Calls fn for every key line of text. -1 with "line N: reason" in err on a bad line. */
static int each_key(const char *text, key_fn fn, void *arg, char *err, size_t errlen)
{
    int lineno = 0;
    for (const char *p = text; *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        lineno++;
        unsigned char key[32];
        enum line_kind k = parse_line(p, len, key);
        if (k == LINE_BAD) {
            snprintf(err, errlen,
                     "line %d: not a key: expected 40 Z85 characters as written by helpdesk "
                     "keygen ('#' starts a comment)",
                     lineno);
            return -1;
        }
        if (k == LINE_KEY && fn(key, arg) != 0) {
            snprintf(err, errlen, "line %d: a key file holds one key", lineno);
            return -1;
        }
        p = end ? end + 1 : p + len;
    }
    return 0;
}

typedef struct {
    unsigned char key[32];
    int found;
} one_key;

static int take_one(const unsigned char key[32], void *arg)
{
    one_key *k = arg;
    if (k->found++ > 0)
        return -1;
    memcpy(k->key, key, 32);
    return 0;
}

/* The one key of the key file at path, decoded. -1 with the reason (no path) in why. */
static int read_key(const char *path, unsigned char key[32], char *why, size_t len)
{
    char *text = read_small(path, why, len);
    one_key k = {.found = 0};
    int rc = text ? each_key(text, take_one, &k, why, len) : -1;
    free(text);
    if (rc == 0 && k.found == 0) {
        snprintf(why, len, "holds no key");
        rc = -1;
    }
    if (rc == 0)
        memcpy(key, k.key, 32);
    return rc;
}

int hd_curve_key_load(const char *path, const char *setting, char key[HD_CURVE_KEY_LEN + 1],
                      char *err, size_t errlen)
{
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen,
                 "%s: not set: give the path of a key file (helpdesk keygen writes them)",
                 setting);
        return -1;
    }
    char why[256];
    unsigned char bin[32];
    if (read_key(path, bin, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s: %s", setting, path, why);
        return -1;
    }
    zmq_z85_encode(key, bin, 32);
    return 0;
}

/* ---- settings ------------------------------------------------------------------------------ */

/* Whether v is one of the words. */
static bool word_in(const char *v, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v, words[i]) == 0)
            return true;
    return false;
}

int hd_curve_enabled(const hd_config *cfg, bool *on, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0", ""};
    const char *v = hd_config_str(cfg, "curve.enabled", "false");
    *on = word_in(v, yes, sizeof yes / sizeof *yes);
    if (*on || word_in(v, no, sizeof no / sizeof *no))
        return 0;
    snprintf(err, errlen, "curve.enabled: \"%s\" is not true or false", v);
    return -1;
}

/* A secret key from the file at setting `key`, and its public key. A file others can read is
 * used but reported: a mounted secret is often 0644 and refusing it would only stop the
 * service. */
static int load_pair(const hd_config *cfg, const char *key, hd_curve_opts *o, char *err,
                     size_t errlen)
{
    const char *path = hd_config_str(cfg, key, NULL);
    if (hd_curve_key_load(path, key, o->secret_key, err, errlen) != 0)
        return -1;
    if (zmq_curve_public(o->public_key, o->secret_key) != 0) {
        snprintf(err, errlen, "%s: %s: cannot derive the public key: %s", key, path,
                 zmq_strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        hd_warn("event=curve_key_exposed setting=%s path=%s mode=%04o note=\"a secret key "
                "should be readable by its owner only: chmod 600\"",
                key, path, (unsigned)(st.st_mode & 07777));
    return 0;
}

/* Clears *out and reads curve.enabled: 1 on (the caller goes on to fill out), 0 off, -1 with
 * the reason in err. `key` gets the setting curve.<server>_<what>_key_file. */
static int curve_wanted(const hd_config *cfg, const char *server, const char *what,
                        hd_curve_opts *out, char key[64], char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(key, 64, "curve.%s_%s_key_file", server, what);
    bool on;
    if (hd_curve_enabled(cfg, &on, err, errlen) != 0)
        return -1;
    return on ? 1 : 0;
}

int hd_curve_client_config(const hd_config *cfg, const char *server, hd_curve_opts *out,
                           char *err, size_t errlen)
{
    char key[64];
    int on = curve_wanted(cfg, server, "public", out, key, err, errlen);
    if (on <= 0)
        return on;
    if (load_pair(cfg, "curve.client_secret_key_file", out, err, errlen) != 0 ||
        hd_curve_key_load(hd_config_str(cfg, key, NULL), key, out->server_key, err, errlen) != 0)
        return -1;
    out->enabled = true;
    return 0;
}

/* ---- allow list ---------------------------------------------------------------------------- */

struct hd_curve_allow {
    unsigned char (*keys)[32];
    size_t n, cap;
};

static int allow_add(const unsigned char key[32], void *arg)
{
    hd_curve_allow *a = arg;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->keys = realloc(a->keys, a->cap * sizeof *a->keys);
        if (a->keys == NULL)
            abort();
    }
    memcpy(a->keys[a->n++], key, 32);
    return 0;
}

static int allow_file(hd_curve_allow *a, const char *path, char *err, size_t errlen)
{
    char why[256];
    char *text = read_small(path, why, sizeof why);
    int rc = text ? each_key(text, allow_add, a, why, sizeof why) : -1;
    free(text);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

static bool ends_with_pub(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && name[0] != '.' && strcmp(name + n - 4, ".pub") == 0;
}

/* Every *.pub file of the directory, each a key file of one key. */
static int allow_dir(hd_curve_allow *a, const char *path, char *err, size_t errlen)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    const struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!ends_with_pub(e->d_name))
            continue;
        char file[1024], why[256];
        unsigned char key[32];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        rc = read_key(file, key, why, sizeof why);
        if (rc == 0)
            (void)allow_add(key, a);
        else
            snprintf(err, errlen, "%s: %s", file, why);
    }
    closedir(d);
    return rc;
}

static int compare_keys(const void *x, const void *y)
{
    return memcmp(x, y, 32);
}

hd_curve_allow *hd_curve_allow_load(const char *path, const char *setting, char *err,
                                    size_t errlen)
{
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "%s: not set: give a file of allowed client public keys, or a "
                              "directory of their .pub files",
                 setting);
        return NULL;
    }
    hd_curve_allow *a = calloc(1, sizeof *a);
    if (a == NULL)
        abort();
    struct stat st;
    char why[1400]; /* "dir/file.pub: reason" */
    int rc;
    if (stat(path, &st) != 0) {
        snprintf(why, sizeof why, "%s: %s", path, strerror(errno));
        rc = -1;
    } else {
        rc = S_ISDIR(st.st_mode) ? allow_dir(a, path, why, sizeof why)
                                 : allow_file(a, path, why, sizeof why);
    }
    if (rc == 0 && a->n == 0) {
        snprintf(why, sizeof why, "%s: lists no key, so no client could connect", path);
        rc = -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", setting, why);
        hd_curve_allow_destroy(&a);
        return NULL;
    }
    qsort(a->keys, a->n, sizeof *a->keys, compare_keys);
    return a;
}

size_t hd_curve_allow_count(const hd_curve_allow *a)
{
    return a ? a->n : 0;
}

bool hd_curve_allow_has(const hd_curve_allow *a, const unsigned char key[32])
{
    return a && a->n > 0 && bsearch(key, a->keys, a->n, sizeof *a->keys, compare_keys) != NULL;
}

void hd_curve_allow_destroy(hd_curve_allow **a)
{
    if (a == NULL || *a == NULL)
        return;
    free((*a)->keys);
    free(*a);
    *a = NULL;
}

/* ---- ZAP handler --------------------------------------------------------------------------- */

/* Refusals are counted per key, socket and peer address. */
typedef struct {
    unsigned char key[32];
    char domain[32], peer[64];
} refusal_id;

typedef struct {
    refusal_id id;
    bool used;
    int64_t next_ms; /* monotonic: the next refusal of this key logged */
    long held_back;
} refusal_slot;

struct hd_zap {
    pthread_t thread;
    void *rep;      /* the thread's: the ZAP endpoint */
    void *stop_in;  /* the thread's end of the stop pipe */
    void *stop_out; /* the caller's end */
    pthread_mutex_t lock; /* allow: swapped by hd_zap_reload while the thread reads it */
    hd_curve_allow *allow;
    char source[4096];    /* where allow was read from, for hd_zap_reload */
    refusal_slot recent[REFUSAL_SLOTS]; /* the thread's */
    /* The thread's: PAIRs reading the monitor of each watched server socket, and its name. */
    void *watch[WATCH_MAX];
    char watch_name[WATCH_MAX][16];
    size_t nwatch;
};

/* What the caller sends the thread over the stop pipe: stop, or watch a socket's monitor. */
typedef struct {
    bool stop;
    void *pair; /* connected to the monitor; the thread owns it from here */
    char name[16];
} zap_command;

/* Whether to log this refusal now; *held_back says how many were skipped before it. */
static bool refusal_due(hd_zap *z, const refusal_id *id, long *held_back)
{
    int64_t now = hd_mono_ms();
    refusal_slot *slot = NULL;
    for (size_t i = 0; i < REFUSAL_SLOTS && slot == NULL; i++)
        if (z->recent[i].used && memcmp(&z->recent[i].id, id, sizeof *id) == 0)
            slot = &z->recent[i];
    if (slot != NULL && now < slot->next_ms) {
        slot->held_back++;
        return false;
    }
    if (slot == NULL) { /* a new key takes the slot logged longest ago */
        slot = &z->recent[0];
        for (size_t i = 1; i < REFUSAL_SLOTS; i++)
            if (!z->recent[i].used || z->recent[i].next_ms < slot->next_ms)
                slot = &z->recent[i];
        if (slot->used && slot->next_ms > now)
            slot = &z->recent[0]; /* all busy: reuse one, losing its count */
        *slot = (refusal_slot){.used = true, .id = *id};
    }
    *held_back = slot->held_back;
    slot->held_back = 0;
    slot->next_ms = now + REFUSAL_LOG_MS;
    return true;
}

static bool frame_is(zmq_msg_t *m, const char *text)
{
    size_t n = strlen(text);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), text, n) == 0;
}

/* A frame's text for the log, with anything but printable ASCII replaced. */
static void frame_text(zmq_msg_t *m, char *out, size_t cap)
{
    size_t n = zmq_msg_size(m) < cap - 1 ? zmq_msg_size(m) : cap - 1;
    const unsigned char *p = zmq_msg_data(m);
    for (size_t i = 0; i < n; i++) {
        bool shown = p[i] > 32 && p[i] < 127 && p[i] != '"';
        out[i] = '?';
        if (shown)
            out[i] = (char)p[i];
    }
    out[n] = '\0';
}

static void log_refusal(hd_zap *z, zmq_msg_t *f)
{
    refusal_id id;
    memset(&id, 0, sizeof id); /* compared with memcmp: no stray bytes */
    char mech[16], key[HD_CURVE_KEY_LEN + 1] = "-";
    frame_text(&f[2], id.domain, sizeof id.domain);
    frame_text(&f[3], id.peer, sizeof id.peer);
    frame_text(&f[5], mech, sizeof mech);
    if (zmq_msg_size(&f[6]) == 32) {
        memcpy(id.key, zmq_msg_data(&f[6]), 32);
        zmq_z85_encode(key, id.key, 32);
    }
    long held = 0;
    if (!refusal_due(z, &id, &held))
        return;
    char extra[48] = "";
    if (held > 0)
        snprintf(extra, sizeof extra, " held_back=%ld", held);
    hd_warn("event=curve_refused socket=%s peer=%s mechanism=%s client_key=%s%s", id.domain,
            id.peer, mech, key, extra);
}

/* The peer's address without scheme and port, as ZAP gives it: "tcp://10.0.0.5:41234" ->
 * "10.0.0.5". */
static void peer_address(const char *endpoint, char *out, size_t cap)
{
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    const char *colon = strrchr(host, ':');
    size_t n = colon ? (size_t)(colon - host) : strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') { /* [::1] */
        host++;
        n -= 2;
    }
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), host);
}

/* A failed handshake on watched socket i: a client without CurveZMQ (or not ZMTP at all), which
 * never reaches ZAP. Logged like a ZAP refusal, with the same per-peer limit. */
static void on_watch(hd_zap *z, size_t i)
{
    hd_monitor_event d;
    int event;
    while ((event = hd_monitor_recv(z->watch[i], &d)) != 0) {
        uint32_t value = d.value;
        refusal_id id;
        memset(&id, 0, sizeof id);
        peer_address(d.endpoint, id.peer, sizeof id.peer);
        hd_log_clean(id.peer);
        snprintf(id.domain, sizeof id.domain, "%s", z->watch_name[i]);
        long held = 0;
        /* A plain client is seen either way: its greeting names another mechanism, or it hangs
         * up first on seeing ours (NO_DETAIL with the errno, EPIPE or ECONNRESET). */
        bool plain = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                     value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH;
        char why[96];
        if (plain)
            snprintf(why, sizeof why, "the client does not use CurveZMQ");
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            snprintf(why, sizeof why, "the client hung up in the handshake: %s",
                     strerror((int)value));
        else
            snprintf(why, sizeof why, "protocol error 0x%x in the handshake", value);
        char extra[48] = "";
        bool due = refusal_due(z, &id, &held);
        if (held > 0)
            snprintf(extra, sizeof extra, " held_back=%ld", held);
        if (due)
            hd_warn("event=curve_refused socket=%s peer=%s mechanism=%s reason=\"%s\"%s",
                    id.domain, id.peer, plain ? "not_curve" : "unknown", why, extra);
    }
}

static int send_frame(void *sock, const void *data, size_t len, bool more)
{
    return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

static bool allowed(hd_zap *z, const unsigned char key[32])
{
    pthread_mutex_lock(&z->lock);
    bool ok = hd_curve_allow_has(z->allow, key);
    pthread_mutex_unlock(&z->lock);
    return ok;
}

/* Answers one request (RFC 27): 200 with the key as user id, or 400. */
static void zap_answer(hd_zap *z, zmq_msg_t *f, size_t n)
{
    bool ok = n == ZAP_FRAMES && frame_is(&f[0], "1.0") && frame_is(&f[5], "CURVE") &&
              zmq_msg_size(&f[6]) == 32 && allowed(z, zmq_msg_data(&f[6]));
    char user[HD_CURVE_KEY_LEN + 1] = "";
    if (ok)
        zmq_z85_encode(user, zmq_msg_data(&f[6]), 32);
    else if (n == ZAP_FRAMES)
        log_refusal(z, f);
    else
        hd_warn("event=curve_refused reason=\"malformed ZAP request\" frames=%zu", n);
    const void *id = n > 1 ? zmq_msg_data(&f[1]) : "";
    size_t id_len = n > 1 ? zmq_msg_size(&f[1]) : 0;
    const char *status = ok ? "200" : "400";
    const char *text = ok ? "OK" : "client key not allowed";
    if (send_frame(z->rep, "1.0", 3, true) != 0 || send_frame(z->rep, id, id_len, true) != 0 ||
        send_frame(z->rep, status, 3, true) != 0 ||
        send_frame(z->rep, text, strlen(text), true) != 0 ||
        send_frame(z->rep, user, strlen(user), true) != 0 || send_frame(z->rep, "", 0, false) != 0)
        hd_warn("event=zap_reply_failed error=\"%s\"", zmq_strerror(errno));
}

/* Reads one request (frames beyond ZAP_FRAMES are counted, not kept) and answers it. */
static void zap_serve(hd_zap *z)
{
    zmq_msg_t f[ZAP_FRAMES];
    size_t n = 0, seen = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->rep, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        seen++;
        if (n < ZAP_FRAMES)
            f[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (seen > 0 && !more)
        zap_answer(z, f, seen == n ? n : 0);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* A command from the caller; false when it says stop. */
static bool on_command(hd_zap *z)
{
    zap_command c;
    if (zmq_recv(z->stop_in, &c, sizeof c, 0) != (int)sizeof c || c.stop)
        return false;
    if (z->nwatch < WATCH_MAX) {
        z->watch[z->nwatch] = c.pair;
        memcpy(z->watch_name[z->nwatch], c.name, sizeof c.name);
        z->nwatch++;
    } else {
        zmq_close(c.pair);
    }
    return true;
}

static void *zap_main(void *arg)
{
    hd_zap *z = arg;
    for (bool run = true; run;) {
        zmq_pollitem_t items[2 + WATCH_MAX] = {{.socket = z->rep, .events = ZMQ_POLLIN},
                                               {.socket = z->stop_in, .events = ZMQ_POLLIN}};
        for (size_t i = 0; i < z->nwatch; i++)
            items[2 + i] = (zmq_pollitem_t){.socket = z->watch[i], .events = ZMQ_POLLIN};
        if (zmq_poll(items, 2 + (int)z->nwatch, -1) < 0) {
            if (errno == EINTR)
                continue;
            break; /* ETERM: the context is going away */
        }
        if (items[0].revents & ZMQ_POLLIN)
            zap_serve(z);
        for (size_t i = 0; i < z->nwatch; i++)
            if (items[2 + i].revents & ZMQ_POLLIN)
                on_watch(z, i);
        if (items[1].revents & ZMQ_POLLIN)
            run = on_command(z);
    }
    for (size_t i = 0; i < z->nwatch; i++)
        zmq_close(z->watch[i]);
    zmq_close(z->rep);
    zmq_close(z->stop_in);
    return NULL;
}


static void *zap_socket(void *ctx, int type, const char *endpoint, bool bind)
{
    void *s = zmq_socket(ctx, type);
    if (s == NULL)
        return NULL;
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if ((bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)) != 0) {
        int e = errno;
        zmq_close(s);
        errno = e;
        return NULL;
    }
    return s;
}

void hd_zap_watch(hd_zap *z, void *ctx, void *sock, const char *name)
{
    if (z == NULL)
        return;
    zap_command c = {.stop = false};
    snprintf(c.name, sizeof c.name, "%s", name);
    /* Connected here, before the handshakes start, so no event is lost; the thread owns it
     * once it has the command (the pipe is the memory barrier a socket's move needs). */
    if ((c.pair = hd_monitor_open(ctx, sock, WATCH_EVENTS)) == NULL ||
        zmq_send(z->stop_out, &c, sizeof c, 0) != (int)sizeof c) {
        hd_warn("event=curve_watch_failed socket=%s error=\"%s\"", name, zmq_strerror(errno));
        hd_monitor_close(sock, &c.pair);
    }
}

hd_zap *hd_zap_start(void *ctx, hd_curve_allow **allow)
{
    hd_zap *z = calloc(1, sizeof *z);
    if (z == NULL)
        abort();
    z->allow = *allow;
    *allow = NULL;
    pthread_mutex_init(&z->lock, NULL);
    char stop[64];
    snprintf(stop, sizeof stop, "inproc://hd-zap-stop-%p", (void *)z);
    /* Bound here, before returning, so no server socket can accept a client unchecked. */
    z->rep = zap_socket(ctx, ZMQ_REP, ZAP_ENDPOINT, true);
    z->stop_in = z->rep ? zap_socket(ctx, ZMQ_PAIR, stop, true) : NULL;
    z->stop_out = z->stop_in ? zap_socket(ctx, ZMQ_PAIR, stop, false) : NULL;
    if (z->stop_out == NULL || pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        hd_error("event=zap_failed error=\"%s\"", zmq_strerror(errno));
        if (z->rep)
            zmq_close(z->rep);
        if (z->stop_in)
            zmq_close(z->stop_in);
        if (z->stop_out)
            zmq_close(z->stop_out);
        hd_curve_allow_destroy(&z->allow);
        pthread_mutex_destroy(&z->lock);
        free(z);
        return NULL;
    }
    hd_info("event=curve_on allowed_clients=%zu", hd_curve_allow_count(z->allow));
    return z;
}

void hd_zap_stop(hd_zap **zp)
{
    if (zp == NULL || *zp == NULL)
        return;
    hd_zap *z = *zp;
    zap_command stop = {.stop = true};
    if (zmq_send(z->stop_out, &stop, sizeof stop, 0) < 0)
        hd_warn("event=zap_stop_failed error=\"%s\"", zmq_strerror(errno));
    pthread_join(z->thread, NULL);
    zmq_close(z->stop_out);
    hd_curve_allow_destroy(&z->allow);
    pthread_mutex_destroy(&z->lock);
    free(z);
    *zp = NULL;
}

int hd_zap_reload(hd_zap *z, char *err, size_t errlen)
{
    if (z == NULL)
        return 0;
    hd_curve_allow *fresh = hd_curve_allow_load(z->source, "curve.allowed_clients", err, errlen);
    if (fresh == NULL) {
        hd_log_clean(err);
        hd_warn("event=curve_reload_refused error=\"%s\" note=\"the previous list stays\"", err);
        return -1;
    }
    size_t was = 0, now = hd_curve_allow_count(fresh);
    pthread_mutex_lock(&z->lock);
    hd_curve_allow *old = z->allow;
    z->allow = fresh;
    pthread_mutex_unlock(&z->lock);
    was = hd_curve_allow_count(old);
    hd_curve_allow_destroy(&old);
    hd_info("event=curve_reloaded allowed_clients=%zu before=%zu", now, was);
    return 0;
}

int hd_curve_server_start(const hd_config *cfg, const char *server, void *ctx,
                          hd_curve_opts *out, hd_zap **zap, char *err, size_t errlen)
{
    *zap = NULL;
    char key[64];
    int on = curve_wanted(cfg, server, "secret", out, key, err, errlen);
    if (on <= 0)
        return on;
    if (load_pair(cfg, key, out, err, errlen) != 0)
        return -1;
    const char *source = hd_config_str(cfg, "curve.allowed_clients", NULL);
    hd_curve_allow *allow = hd_curve_allow_load(source, "curve.allowed_clients", err, errlen);
    if (allow == NULL)
        return -1;
    if ((*zap = hd_zap_start(ctx, &allow)) == NULL) {
        snprintf(err, errlen, "curve: the ZAP handler could not start (see the line before)");
        return -1;
    }
    snprintf((*zap)->source, sizeof (*zap)->source, "%s", source);
    out->zap = *zap;
    out->enabled = true;
    out->server = true;
    hd_info("event=curve_server server=%s public_key=%s", server, out->public_key);
    return 0;
}

void *hd_curve_bind(void *ctx, int type, const char *endpoint, const hd_curve_opts *server,
                    const char *name)
{
    hd_curve_opts o = *server;
    snprintf(o.domain, sizeof o.domain, "%s", name);
    void *sock = hd_socket_open(ctx, type, endpoint, true, &o);
    if (sock != NULL && o.enabled)
        hd_zap_watch(o.zap, ctx, sock, name);
    return sock;
}

/* ---- keygen -------------------------------------------------------------------------------- */

bool hd_curve_key_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && strchr("._-", name[i]) == NULL)
            return false;
    return true;
}

/* Creates path with `text` and mode, failing when it exists. 0, or -1 with the reason in err. */
static int write_new(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (!ok)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (close(fd) != 0 && ok) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        ok = false;
    }
    if (!ok)
        unlink(path);
    return ok ? 0 : -1;
}

int hd_curve_keygen(const char *dir, const char *name, char public_key[HD_CURVE_KEY_LEN + 1],
                    char *err, size_t errlen)
{
    if (!hd_curve_key_name_ok(name)) {
        snprintf(err, errlen, "--name: \"%s\" must be 1 to 64 letters, digits, '.', '_' or '-', "
                              "not starting with '.' or '-'",
                 name);
        return -1;
    }
    char pub[4096], sec[4096], text[512];
    snprintf(pub, sizeof pub, "%s/%s.pub", dir, name);
    snprintf(sec, sizeof sec, "%s/%s.key", dir, name);
    const char *files[2] = {sec, pub};
    for (int i = 0; i < 2; i++) {
        if (access(files[i], F_OK) == 0) {
            snprintf(err, errlen,
                     "%s: exists: keys are never overwritten; remove it or choose another --name",
                     files[i]);
            return -1;
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "--out: %s: %s", dir, strerror(errno));
        return -1;
    }
    char secret[HD_CURVE_KEY_LEN + 1];
    if (zmq_curve_keypair(public_key, secret) != 0) {
        snprintf(err, errlen, "cannot make a key pair: %s", zmq_strerror(errno));
        return -1;
    }
    snprintf(text, sizeof text,
             "# helpdesk CurveZMQ secret key \"%s\": keep it private; its public key is in %s.pub\n"
             "%s\n",
             name, name, secret);
    if (write_new(sec, text, 0600, err, errlen) != 0)
        return -1;
    snprintf(text, sizeof text,
             "# helpdesk CurveZMQ public key \"%s\": list it in curve.allowed_clients, or give "
             "it to clients as a server key\n%s\n",
             name, public_key);
    if (write_new(pub, text, 0644, err, errlen) != 0) {
        unlink(sec);
        return -1;
    }
    return 0;
}
