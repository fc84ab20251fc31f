#include "mail.h"

#include "hd/strbuf.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "hd/utf8.h"

/* RFC 5322 2.1.1: a line is at most 998 characters plus CRLF. */
#define MAX_LINE 998
/* 39 bytes of UTF-8 become 52 characters of base64: with "=?UTF-8?B?" and "?=" an encoded word
 * stays well inside the 75 characters RFC 2047 allows, and a folded line inside 78. */
#define WORD_BYTES 39

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b_base64(hd_strbuf *b, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {B64[(v >> 18) & 63], B64[(v >> 12) & 63],
                     (char)(i + 1 < n ? B64[(v >> 6) & 63] : '='),
                     (char)(i + 2 < n ? B64[v & 63] : '=')};
        hd_strbuf_add(b, q, 4);
    }
}

/* Length of the UTF-8 sequence that starts with byte c (1 for anything unexpected). */
static size_t seq_len(unsigned char c)
{
    if (c >= 0xF0)
        return 4;
    if (c >= 0xE0)
        return 3;
    if (c >= 0xC0)
        return 2;
    return 1;
}

char *notif_mail_subject(const char *subject)
{
    /* One line, no control characters: a subject must never end the header block. */
    hd_strbuf clean = {0};
    hd_strbuf_add(&clean, "", 0);
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)subject; *p; p++) {
        char c = (char)*p;
        if (*p < 0x20 || *p == 0x7F)
            c = ' ';
        else if (*p >= 0x80)
            ascii = false;
        hd_strbuf_add(&clean, &c, 1);
    }
    if (ascii && clean.len <= 900)
        return clean.s;
    hd_strbuf out = {0};
    hd_strbuf_add(&out, "", 0);
    const unsigned char *p = (const unsigned char *)clean.s;
    size_t i = 0;
    while (i < clean.len) {
        size_t n = 0;
        while (i + n < clean.len) {
            size_t l = seq_len(p[i + n]);
            if (n + l > WORD_BYTES)
                break;
            n += l;
        }
        if (n == 0)
            n = clean.len - i < WORD_BYTES ? clean.len - i : WORD_BYTES; /* broken input */
        if (out.len > 0)
            hd_strbuf_str(&out, "\r\n ");
        hd_strbuf_str(&out, "=?UTF-8?B?");
        b_base64(&out, p + i, n);
        hd_strbuf_str(&out, "?=");
        i += n;
    }
    free(clean.s);
    return out.s;
}

int notif_mail_address(const char *from, char *out, size_t len)
{
    const char *lt = strrchr(from, '<');
    const char *start = lt ? lt + 1 : from;
    size_t n = lt ? strcspn(start, ">") : strlen(start);
    while (n > 0 && (*start == ' ' || *start == '\t')) {
        start++;
        n--;
    }
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= len || memchr(start, '@', n) == NULL)
        return -1;
    memcpy(out, start, n);
    out[n] = '\0';
    return 0;
}

static void date_header(hd_strbuf *b, int64_t ms)
{
    static const char *const DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    hd_strbuf_fmt(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", DAYS[tm.tm_wday], tm.tm_mday,
          MONTHS[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Message-ID: stable for a communication, so a retried attempt is recognisably the same
 * message. The key's "/" and anything unusual become ".". */
static void message_id(hd_strbuf *b, const notif_mail *m)
{
    char addr[256], local[160];
    const char *domain = "helpdesk.invalid";
    if (notif_mail_address(m->from, addr, sizeof addr) == 0)
        domain = strrchr(addr, '@') + 1;
    size_t n = 0;
    for (const char *p = m->key ? m->key : ""; *p && n < sizeof local - 1; p++) {
        unsigned char c = (unsigned char)*p;
        local[n++] = (char)((c < 0x80 && (c == '-' || c == '_' || (c >= '0' && c <= '9') ||
                                          ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
                                ? c
                                : '.');
    }
    local[n] = '\0';
    hd_strbuf_fmt(b, "Message-ID: <helpdesk.%s.%lld@%s>\r\n", local, (long long)m->ticket_id, domain);
}

static bool body_fits_8bit(const char *body)
{
    size_t line = 0;
    for (const char *p = body; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            line = 0;
            continue;
        }
        if (++line > MAX_LINE - 2)
            return false;
    }
    return hd_utf8_valid(body, strlen(body));
}

/* The body with CRLF line ends, ending with CRLF. */
static void body_crlf(hd_strbuf *b, const char *body)
{
    size_t start = b->len;
    for (const char *p = body; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            hd_strbuf_add(b, "\r\n", 2);
        else
            hd_strbuf_add(b, p, 1);
    }
    if (b->len == start || b->s[b->len - 1] != '\n')
        hd_strbuf_add(b, "\r\n", 2);
}

char *notif_mail_build(const notif_mail *m)
{
    hd_strbuf b = {0};
    hd_strbuf_add(&b, "", 0);
    char *subject = notif_mail_subject(m->subject ? m->subject : "");
    hd_strbuf_fmt(&b, "From: %s\r\n", m->from);
    hd_strbuf_fmt(&b, "To: %s\r\n", m->to);
    hd_strbuf_str(&b, "Subject: ");
    hd_strbuf_str(&b, subject);
    hd_strbuf_str(&b, "\r\n");
    free(subject);
    date_header(&b, m->date_ms);
    message_id(&b, m);
    hd_strbuf_str(&b, "MIME-Version: 1.0\r\n");
    hd_strbuf_str(&b, "Content-Type: text/plain; charset=UTF-8\r\n");
    if (m->language && m->language[0])
        hd_strbuf_fmt(&b, "Content-Language: %s\r\n", m->language);
    if (m->key && m->key[0])
        hd_strbuf_fmt(&b, "X-Helpdesk-Key: %s\r\n", m->key);
    hd_strbuf_fmt(&b, "X-Helpdesk-Ticket: %lld\r\n", (long long)m->ticket_id);
    const char *body = m->body ? m->body : "";
    if (body_fits_8bit(body)) {
        hd_strbuf_str(&b, "Content-Transfer-Encoding: 8bit\r\n\r\n");
        body_crlf(&b, body);
    } else {
        hd_strbuf_str(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
        hd_strbuf crlf = {0};
        hd_strbuf_add(&crlf, "", 0);
        body_crlf(&crlf, body);
        hd_strbuf enc = {0};
        hd_strbuf_add(&enc, "", 0);
        b_base64(&enc, (const unsigned char *)crlf.s, crlf.len);
        for (size_t i = 0; i < enc.len; i += 76) {
            hd_strbuf_add(&b, enc.s + i, enc.len - i < 76 ? enc.len - i : 76);
            hd_strbuf_add(&b, "\r\n", 2);
        }
        free(crlf.s);
        free(enc.s);
    }
    return b.s;
}

void notif_json_string(char **out, size_t *len, const char *s)
{
    hd_strbuf b = {.s = *out, .len = *len, .cap = *out ? *len + 1 : 0};
    hd_strbuf_add(&b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"':
            hd_strbuf_str(&b, "\\\"");
            break;
        case '\\':
            hd_strbuf_str(&b, "\\\\");
            break;
        case '\n':
            hd_strbuf_str(&b, "\\n");
            break;
        case '\r':
            hd_strbuf_str(&b, "\\r");
            break;
        case '\t':
            hd_strbuf_str(&b, "\\t");
            break;
        default:
            if (*p < 0x20)
                hd_strbuf_fmt(&b, "\\u%04x", *p);
            else
                hd_strbuf_add(&b, (const char *)p, 1); /* UTF-8 goes through as is */
        }
    }
    hd_strbuf_add(&b, "\"", 1);
    *out = b.s;
    *len = b.len;
}

static void json_field(hd_strbuf *b, const char *name, const char *value)
{
    hd_strbuf_fmt(b, "%s\"%s\":", b->len > 1 ? "," : "", name);
    notif_json_string(&b->s, &b->len, value);
    b->cap = b->len + 1; /* notif_json_string grew it; be conservative about its capacity */
}

char *notif_webhook_json(const notif_webhook_doc *d)
{
    hd_strbuf b = {0};
    hd_strbuf_add(&b, "{", 1);
    json_field(&b, "key", d->key);
    json_field(&b, "kind", d->kind);
    json_field(&b, "event_kind", d->event_kind);
    hd_strbuf_fmt(&b, ",\"ticket_id\":%lld,\"event_seq\":%lld,\"at\":%lld,\"attempt\":%u",
          (long long)d->ticket_id, (long long)d->event_seq, (long long)d->at, d->attempt);
    hd_strbuf_str(&b, ",\"tickets\":[");
    for (size_t i = 0; i < d->n_tickets; i++)
        hd_strbuf_fmt(&b, "%s%lld", i ? "," : "", (long long)d->tickets[i]);
    hd_strbuf_str(&b, "]");
    json_field(&b, "audience", d->audience);
    json_field(&b, "recipient", d->recipient);
    json_field(&b, "language", d->language);
    json_field(&b, "subject", d->subject);
    json_field(&b, "body", d->body);
    hd_strbuf_str(&b, "}");
    return b.s;
}

/* --- the sender --- */

typedef struct transfer {
    uint64_t id;
    CURL *easy;
    char *data; /* the message or JSON document */
    size_t len, sent;
    struct curl_slist *list; /* recipients or headers */
    bool http;
    char err[CURL_ERROR_SIZE];
    struct transfer *next;
} transfer;

struct notif_sender {
    CURLM *multi;
    long connect_ms, total_ms;
    transfer *head;
    size_t active;
};

notif_sender *notif_sender_new(long connect_timeout_ms, long total_timeout_ms)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    notif_sender *s = calloc(1, sizeof *s);
    if (s == NULL)
        abort();
    s->multi = curl_multi_init();
    s->connect_ms = connect_timeout_ms;
    s->total_ms = total_timeout_ms;
    if (s->multi == NULL) {
        free(s);
        curl_global_cleanup();
        return NULL;
    }
    return s;
}

static void transfer_free(notif_sender *s, transfer *t)
{
    curl_multi_remove_handle(s->multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->list);
    free(t->data);
    free(t);
}

void notif_sender_destroy(notif_sender **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    notif_sender *s = *sp;
    while (s->head) {
        transfer *t = s->head;
        s->head = t->next;
        transfer_free(s, t);
    }
    curl_multi_cleanup(s->multi);
    free(s);
    curl_global_cleanup();
    *sp = NULL;
}

static size_t read_cb(char *out, size_t size, size_t nmemb, void *arg)
{
    transfer *t = arg;
    size_t n = size * nmemb;
    if (n > t->len - t->sent)
        n = t->len - t->sent;
    memcpy(out, t->data + t->sent, n);
    t->sent += n;
    return n;
}

static size_t discard_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    (void)arg;
    return size * nmemb;
}

static transfer *transfer_new(notif_sender *s, uint64_t id, const char *url, char *data)
{
    transfer *t = calloc(1, sizeof *t);
    if (t == NULL)
        abort();
    t->id = id;
    t->data = data;
    t->len = strlen(data);
    t->easy = curl_easy_init();
    if (t->easy == NULL) {
        free(t->data);
        free(t);
        return NULL;
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, s->total_ms);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->err);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard_cb);
    return t;
}

static int transfer_start(notif_sender *s, transfer *t)
{
    if (curl_multi_add_handle(s->multi, t->easy) != CURLM_OK) {
        curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->list);
        free(t->data);
        free(t);
        return -1;
    }
    t->next = s->head;
    s->head = t;
    s->active++;
    return 0;
}

int notif_sender_email(notif_sender *s, uint64_t id, const char *url, const char *from,
                       const char *to, char *message)
{
    char env_from[320], rcpt[320];
    if (notif_mail_address(from, env_from, sizeof env_from - 2) != 0 ||
        notif_mail_address(to, rcpt, sizeof rcpt - 2) != 0) {
        free(message);
        return -1;
    }
    transfer *t = transfer_new(s, id, url, message);
    if (t == NULL)
        return -1;
    char angle[330];
    snprintf(angle, sizeof angle, "<%s>", env_from);
    curl_easy_setopt(t->easy, CURLOPT_MAIL_FROM, angle);
    snprintf(angle, sizeof angle, "<%s>", rcpt);
    t->list = curl_slist_append(NULL, angle);
    curl_easy_setopt(t->easy, CURLOPT_MAIL_RCPT, t->list);
    curl_easy_setopt(t->easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(t->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->len);
    curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(t->easy, CURLOPT_READDATA, t);
    return transfer_start(s, t);
}

int notif_sender_webhook(notif_sender *s, uint64_t id, const char *url, char *json)
{
    transfer *t = transfer_new(s, id, url, json);
    if (t == NULL)
        return -1;
    t->http = true;
    t->list = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->list);
    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->data);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->len);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    return transfer_start(s, t);
}

size_t notif_sender_active(const notif_sender *s)
{
    return s->active;
}

size_t notif_sender_pollitems(notif_sender *s, zmq_pollitem_t *items, size_t cap)
{
    fd_set r, w, e;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&e);
    int maxfd = -1;
    if (s->active == 0 || curl_multi_fdset(s->multi, &r, &w, &e, &maxfd) != CURLM_OK)
        return 0;
    size_t n = 0;
    for (int fd = 0; fd <= maxfd && n < cap; fd++) {
        short ev = (short)((FD_ISSET(fd, &r) ? ZMQ_POLLIN : 0) |
                           (FD_ISSET(fd, &w) ? ZMQ_POLLOUT : 0) |
                           (FD_ISSET(fd, &e) ? ZMQ_POLLERR : 0));
        if (ev)
            items[n++] = (zmq_pollitem_t){.socket = NULL, .fd = fd, .events = ev};
    }
    return n;
}

long notif_sender_timeout(notif_sender *s)
{
    if (s->active == 0)
        return -1;
    long ms = -1;
    if (curl_multi_timeout(s->multi, &ms) != CURLM_OK)
        return 100;
    /* -1 with transfers running means libcurl has no timer set (e.g. resolving); look again
     * soon rather than sleeping until the next event. */
    return ms < 0 ? 100 : ms;
}

static void finish(notif_sender *s, CURLMsg *msg, notif_done_fn done, void *ctx)
{
    transfer *t = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    if (t == NULL)
        return;
    char why[CURL_ERROR_SIZE + 64] = "";
    bool ok = msg->data.result == CURLE_OK;
    if (!ok) {
        snprintf(why, sizeof why, "%s", t->err[0] ? t->err : curl_easy_strerror(msg->data.result));
    } else if (t->http) {
        long code = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code >= 300) {
            ok = false;
            snprintf(why, sizeof why, "HTTP status %ld", code);
        }
    }
    for (transfer **pp = &s->head; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    s->active--;
    uint64_t id = t->id;
    transfer_free(s, t);
    done(id, ok, why, ctx);
}

void notif_sender_run(notif_sender *s, notif_done_fn done, void *ctx)
{
    if (s->active == 0)
        return;
    int running = 0;
    (void)curl_multi_perform(s->multi, &running);
    int left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE)
            finish(s, msg, done, ctx);
}
