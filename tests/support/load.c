#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "hd/clock.h"
#include "hd/codec.h"
#include "hd/transport.h"

/* After ERROR_UNAVAILABLE (intake could not reach the store), wait this long before asking
 * again, so a store that is down is not hammered. */
#define UNAVAILABLE_BACKOFF_MS 250
/* How often the contacts in flight are scanned for ones that waited too long. */
#define SCAN_EVERY_MS 100
/* With a rate, new contacts go out in bursts this far apart. */
#define RATE_TICK_MS 100

typedef struct {
    void *sock;
    int inflight;
    int64_t last_rx_ms; /* last answer of any kind on this connection */
    int64_t opened_ms;
} load_conn;

struct ht_load {
    ht_env *env;
    ht_load_opts o;
    load_conn conn[HT_LOAD_MAX_CONNS];
    ht_load_contact *c;
    int64_t *due_ms; /* per contact: when to send again */
    int next;        /* the first contact never sent */
    int answered;    /* acknowledged or refused */
    int first_open;  /* every contact below it is answered */
    int rr;          /* the connection the next new contact tries first */
    int64_t last_scan_ms;
    int64_t start_ms; /* the first step, for the rate */
    ht_load_stats st;
};

void ht_load_external_id(const ht_load *l, int i, char *out, size_t len)
{
    snprintf(out, len, "%s-%d", l->o.source, i);
}

static int conn_open(ht_load *l, int k)
{
    load_conn *cn = &l->conn[k];
    cn->sock = hd_socket_new(l->env->zctx, ZMQ_DEALER, l->env->intake_ep, false);
    cn->opened_ms = cn->last_rx_ms = hd_mono_ms();
    return cn->sock ? 0 : -1;
}

ht_load *ht_load_new(ht_env *env, const ht_load_opts *o)
{
    ht_load *l = calloc(1, sizeof *l);
    if (l == NULL)
        abort();
    l->env = env;
    l->o = *o;
    if (l->o.conns < 1)
        l->o.conns = 1;
    if (l->o.conns > HT_LOAD_MAX_CONNS)
        l->o.conns = HT_LOAD_MAX_CONNS;
    if (l->o.window < 1)
        l->o.window = 1;
    l->c = calloc((size_t)o->contacts + 1, sizeof *l->c);
    l->due_ms = calloc((size_t)o->contacts + 1, sizeof *l->due_ms);
    if (l->c == NULL || l->due_ms == NULL)
        abort();
    for (int k = 0; k < l->o.conns; k++)
        if (conn_open(l, k) != 0) {
            ht_load_destroy(&l);
            return NULL;
        }
    return l;
}

void ht_load_destroy(ht_load **lp)
{
    if (lp == NULL || *lp == NULL)
        return;
    ht_load *l = *lp;
    for (int k = 0; k < l->o.conns; k++)
        hd_socket_close(&l->conn[k].sock);
    for (int i = 0; i < l->o.contacts; i++)
        free(l->c[i].tickets);
    free(l->c);
    free(l->due_ms);
    free(l);
    *lp = NULL;
}

/* Sends contact i on its connection. 0, or -1 when the connection cannot take it now. */
static int send_contact(ht_load *l, int i)
{
    char ext[96];
    ht_load_external_id(l, i, ext, sizeof ext);
    ht_contact ct;
    ht_contact_init(&ct, l->o.source, ext);
    if (l->o.fill)
        l->o.fill(&ct, i, l->o.fill_arg);
    else
        ht_contact_add(&ct, "network", "Load test problem", "");
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &ct.c;
    req.id = (uint64_t)i + 1;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    if (hd_dealer_send(l->conn[l->c[i].conn].sock, &req, ZMQ_DONTWAIT) != 0)
        return -1;
    int64_t now = hd_mono_ms();
    ht_load_contact *c = &l->c[i];
    if (c->attempts++ == 0)
        c->first_ms = now;
    else
        l->st.retries++;
    c->last_ms = now;
    l->due_ms[i] = now + l->o.timeout_ms;
    l->st.sent++;
    return 0;
}

static void fill_windows(ht_load *l, int64_t now)
{
    int limit = l->o.contacts;
    if (l->o.rate > 0) {
        /* in bursts, RATE_TICK_MS apart, as a busy channel would send them */
        int64_t ticks = (now - l->start_ms) / RATE_TICK_MS + 1;
        int64_t allowed = ticks * l->o.rate * RATE_TICK_MS / 1000;
        if (allowed < limit)
            limit = (int)allowed;
    }
    /* round robin over the connections that have room */
    for (int full = 0; l->next < limit && full < l->o.conns;) {
        int k = l->rr;
        l->rr = (l->rr + 1) % l->o.conns;
        ht_load_contact *c = &l->c[l->next];
        c->conn = k;
        if (l->conn[k].sock == NULL || l->conn[k].inflight >= l->o.window ||
            send_contact(l, l->next) != 0) {
            full++;
            continue;
        }
        full = 0;
        c->state = HT_LOAD_SENT;
        l->conn[k].inflight++;
        l->next++;
    }
}

/* A connection on which nothing came back since a request that timed out was sent may be stuck
 * on a dead peer's half-written message: open a fresh one, and send everything it had out
 * again. */
static void reconnect(ht_load *l, int k, int64_t now)
{
    hd_socket_close(&l->conn[k].sock);
    if (conn_open(l, k) != 0)
        return; /* tried again at the next scan */
    l->st.reconnects++;
    for (int i = 0; i < l->next; i++)
        if (l->c[i].state == HT_LOAD_SENT && l->c[i].conn == k)
            l->due_ms[i] = now; /* sent again just below */
}

static void retry_scan(ht_load *l, int64_t now)
{
    for (int k = 0; k < l->o.conns; k++)
        if (l->conn[k].sock == NULL)
            reconnect(l, k, now);
    for (int i = 0; i < l->next; i++) {
        const ht_load_contact *c = &l->c[i];
        if (c->state != HT_LOAD_SENT || now < l->due_ms[i])
            continue;
        const load_conn *cn = &l->conn[c->conn];
        if (now - c->last_ms >= l->o.timeout_ms) {
            l->st.timeouts++;
            if (cn->last_rx_ms < c->last_ms && cn->opened_ms < c->last_ms)
                reconnect(l, c->conn, now);
        }
        if (cn->sock != NULL)
            (void)send_contact(l, i); /* on failure: due still passed, tried at the next scan */
    }
}

static bool same_tickets(const ht_load_contact *c, const Helpdesk__V1__ContactReceipt *r)
{
    if (r->n_ticket_ids != c->ntickets || r->contact_id != c->contact_id)
        return false;
    for (size_t k = 0; k < c->ntickets; k++)
        if (r->ticket_ids[k] != c->tickets[k])
            return false;
    return true;
}

static void take_receipt(ht_load *l, ht_load_contact *c, const Helpdesk__V1__ContactReceipt *r)
{
    l->st.receipts++;
    if (r->duplicate)
        l->st.duplicates++;
    if (c->state == HT_LOAD_ACKED) {
        if (!c->mismatch && !same_tickets(c, r)) {
            c->mismatch = true;
            l->st.mismatches++;
        }
        return;
    }
    c->ack_ms = hd_mono_ms();
    c->contact_id = r->contact_id;
    c->ntickets = r->n_ticket_ids;
    c->tickets = calloc(c->ntickets + 1, sizeof *c->tickets);
    if (c->tickets == NULL)
        abort();
    memcpy(c->tickets, r->ticket_ids, c->ntickets * sizeof *c->tickets);
    l->st.tickets += (long)c->ntickets;
}

static void finish(ht_load *l, ht_load_contact *c, enum ht_load_state state)
{
    c->state = state;
    l->conn[c->conn].inflight--;
    l->answered++;
}

static void handle_reply(ht_load *l, int k, const HdReply *rep)
{
    l->conn[k].last_rx_ms = hd_mono_ms();
    if (rep->id == 0 || rep->id > (uint64_t)l->o.contacts)
        return;
    int i = (int)(rep->id - 1);
    ht_load_contact *c = &l->c[i];
    if (c->state == HT_LOAD_UNSENT)
        return;
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_RECEIPT) {
        bool first = c->state == HT_LOAD_SENT;
        take_receipt(l, c, rep->receipt);
        if (first) {
            finish(l, c, HT_LOAD_ACKED);
            l->st.acked++;
        }
        return;
    }
    if (c->state != HT_LOAD_SENT)
        return; /* a late answer to an attempt of a contact that is settled */
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR &&
        rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE) {
        l->st.unavailable++;
        int64_t soon = hd_mono_ms() + UNAVAILABLE_BACKOFF_MS;
        if (soon < l->due_ms[i])
            l->due_ms[i] = soon;
        return;
    }
    if (l->st.refused == 0)
        snprintf(l->st.first_refusal, sizeof l->st.first_refusal, "contact %d: %s", i,
                 rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR ? rep->error->message
                                                                   : "an unexpected reply");
    l->st.refused++;
    finish(l, c, HT_LOAD_REFUSED);
}

int ht_load_step(ht_load *l, int poll_ms)
{
    int64_t now = hd_mono_ms();
    if (l->start_ms == 0)
        l->start_ms = now;
    fill_windows(l, now);
    if (now - l->last_scan_ms >= SCAN_EVERY_MS) {
        retry_scan(l, now);
        l->last_scan_ms = now;
    }
    zmq_pollitem_t items[HT_LOAD_MAX_CONNS];
    int n = 0, which[HT_LOAD_MAX_CONNS];
    for (int k = 0; k < l->o.conns; k++)
        if (l->conn[k].sock != NULL) {
            items[n] = (zmq_pollitem_t){.socket = l->conn[k].sock, .events = ZMQ_POLLIN};
            which[n++] = k;
        }
    if (zmq_poll(items, n, poll_ms) < 0)
        return errno == EINTR ? 0 : -1;
    for (int j = 0; j < n; j++) {
        if (!(items[j].revents & ZMQ_POLLIN))
            continue;
        HdReply *rep;
        while ((rep = hd_dealer_recv(l->conn[which[j]].sock, ZMQ_DONTWAIT)) != NULL) {
            handle_reply(l, which[j], rep);
            hd_reply_free(rep);
        }
    }
    while (l->first_open < l->o.contacts && (l->c[l->first_open].state == HT_LOAD_ACKED ||
                                             l->c[l->first_open].state == HT_LOAD_REFUSED))
        l->first_open++;
    return 0;
}

int ht_load_sent(const ht_load *l)
{
    return l->next;
}

int ht_load_outstanding(const ht_load *l)
{
    return l->next - l->answered;
}

int ht_load_first_open(const ht_load *l)
{
    return l->first_open;
}

bool ht_load_done(const ht_load *l)
{
    return l->answered >= l->o.contacts;
}

const ht_load_stats *ht_load_get_stats(const ht_load *l)
{
    return &l->st;
}

const ht_load_contact *ht_load_get_contact(const ht_load *l, int i)
{
    return i >= 0 && i < l->o.contacts ? &l->c[i] : NULL;
}

void ht_load_end(ht_load *l)
{
    l->o.contacts = l->next;
}

typedef struct {
    const char *category, *summary, *description;
} problem_text;

static const problem_text problem_texts[] = {
    {"network", "الشبكة متوقفة في مركز البيانات", "لا يمكن الوصول إلى أي خادم منذ الصباح"},
    {"email", "ای میل سرور کام نہیں کر رہا", "صبح سے کوئی ای میل نہیں آئی"},
    {"printing", "Imprimante en panne au 2e étage", "Le bac à papier est coincé, « erreur 42 »"},
    {"hardware", "Laptop tidak bisa menyala", "Sudah dicoba dengan pengisi daya lain, tetap mati"},
};
static const char *const languages[] = {"ar", "ur", "fr", "id"};
static const char *const names[] = {"أمينة الحداد", "عمران خان", "Hélène Dupré", "Siti Rahma"};

int ht_load_problems_of(int i)
{
    return 1 + i % 3;
}

void ht_load_fill_multilingual(ht_contact *c, int i, void *arg)
{
    (void)arg;
    c->customer.language = (char *)languages[i % 4];
    c->customer.name = (char *)names[i % 4];
    for (int k = 0; k < ht_load_problems_of(i); k++) {
        const problem_text *t = &problem_texts[(i + k) % 4];
        ht_contact_add(c, t->category, t->summary, t->description);
    }
}

int ht_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double ht_percentile(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(p * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    return v[(k > n ? n : k) - 1];
}
