#include "store_dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stages are indexed by their enum value; index 0 (unspecified) is never used. */
#define STAGES 4

/* A ring buffer of ticket ids: push and pop at both ends. */
typedef struct {
    int64_t *v;
    size_t cap;
    size_t head;
    size_t n;
} id_deque;

typedef struct {
    store_worker_key key;
    Helpdesk__V1__Stage stage; /* the last one it announced credit for */
    int64_t credit[STAGES];    /* per stage: a router serves route and escalate */
    char name[128];
    int64_t last_seen;
} worker;

/* An item kept out of its queue until `due` (store_dispatch_hold). */
typedef struct {
    int64_t id;
    int64_t due;
    Helpdesk__V1__Stage stage;
} held_item;

struct store_dispatch {
    int64_t lease_ms;
    int64_t silence_ms;
    int64_t next_lease_id;
    id_deque queue[STAGES];
    held_item *held;
    size_t n_held, cap_held;
    worker *workers;
    size_t n_workers, cap_workers;
    size_t rr; /* round-robin position among workers */
    store_lease *leases;
    size_t n_leases, cap_leases;
};

static void *grow(void *p, size_t *cap, size_t elem)
{
    *cap = *cap ? *cap * 2 : 16;
    p = realloc(p, *cap * elem);
    if (p == NULL)
        abort();
    return p;
}

static void deque_reserve(id_deque *q)
{
    if (q->n < q->cap)
        return;
    size_t old = q->cap, cap = old ? old * 2 : 64;
    int64_t *v = malloc(cap * sizeof *v);
    if (v == NULL)
        abort();
    for (size_t i = 0; old && i < q->n; i++)
        v[i] = q->v[(q->head + i) % old];
    free(q->v);
    q->v = v;
    q->cap = cap;
    q->head = 0;
}

static void deque_push_back(id_deque *q, int64_t id)
{
    deque_reserve(q);
    q->v[(q->head + q->n) % q->cap] = id;
    q->n++;
}

static void deque_push_front(id_deque *q, int64_t id)
{
    deque_reserve(q);
    q->head = (q->head + q->cap - 1) % q->cap;
    q->v[q->head] = id;
    q->n++;
}

static int64_t deque_pop_front(id_deque *q)
{
    int64_t id = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return id;
}

/* Linear, but only used for results whose lease had expired, which are rare. */
static bool deque_remove(id_deque *q, int64_t id)
{
    for (size_t i = 0; i < q->n; i++) {
        if (q->v[(q->head + i) % q->cap] != id)
            continue;
        for (size_t j = i; j + 1 < q->n; j++)
            q->v[(q->head + j) % q->cap] = q->v[(q->head + j + 1) % q->cap];
        q->n--;
        return true;
    }
    return false;
}

static bool stage_ok(Helpdesk__V1__Stage s)
{
    return s == HELPDESK__V1__STAGE__STAGE_PRIORITIZE || s == HELPDESK__V1__STAGE__STAGE_ROUTE ||
           s == HELPDESK__V1__STAGE__STAGE_ESCALATE;
}

store_dispatch *store_dispatch_new(int64_t lease_ms, int64_t silence_ms, int64_t first_lease_id)
{
    store_dispatch *d = calloc(1, sizeof *d);
    if (d == NULL)
        abort();
    d->lease_ms = lease_ms;
    d->silence_ms = silence_ms;
    d->next_lease_id = first_lease_id > 0 ? first_lease_id : 1;
    return d;
}

void store_dispatch_destroy(store_dispatch **d)
{
    if (d == NULL || *d == NULL)
        return;
    for (int s = 0; s < STAGES; s++)
        free((*d)->queue[s].v);
    free((*d)->workers);
    free((*d)->leases);
    free((*d)->held);
    free(*d);
    *d = NULL;
}

void store_dispatch_push(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t ticket_id)
{
    if (stage_ok(stage))
        deque_push_back(&d->queue[stage], ticket_id);
}

void store_dispatch_push_front(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t ticket_id)
{
    if (stage_ok(stage))
        deque_push_front(&d->queue[stage], ticket_id);
}

static bool unhold(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t id)
{
    for (size_t i = 0; i < d->n_held; i++)
        if (d->held[i].stage == stage && d->held[i].id == id) {
            d->held[i] = d->held[--d->n_held];
            return true;
        }
    return false;
}

bool store_dispatch_unqueue(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t ticket_id)
{
    return stage_ok(stage) && (deque_remove(&d->queue[stage], ticket_id) ||
                               unhold(d, stage, ticket_id));
}

void store_dispatch_hold(store_dispatch *d, Helpdesk__V1__Stage stage, int64_t id, int64_t due)
{
    if (!stage_ok(stage))
        return;
    (void)deque_remove(&d->queue[stage], id);
    (void)unhold(d, stage, id);
    if (d->n_held == d->cap_held)
        d->held = grow(d->held, &d->cap_held, sizeof *d->held);
    d->held[d->n_held++] = (held_item){.id = id, .due = due, .stage = stage};
}

size_t store_dispatch_release(store_dispatch *d, int64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_held;) {
        if (d->held[i].due > now) {
            i++;
            continue;
        }
        deque_push_back(&d->queue[d->held[i].stage], d->held[i].id);
        d->held[i] = d->held[--d->n_held];
        n++;
    }
    return n;
}

size_t store_dispatch_held(const store_dispatch *d)
{
    return d->n_held;
}

size_t store_dispatch_queued(const store_dispatch *d, Helpdesk__V1__Stage stage)
{
    return stage_ok(stage) ? d->queue[stage].n : 0;
}

void store_dispatch_clear_queues(store_dispatch *d)
{
    for (int s = 0; s < STAGES; s++)
        d->queue[s].n = d->queue[s].head = 0;
    d->n_held = 0;
}

bool store_dispatch_is_leased(const store_dispatch *d, int64_t ticket_id)
{
    for (size_t i = 0; i < d->n_leases; i++)
        if (d->leases[i].ticket_id == ticket_id)
            return true;
    return false;
}

bool store_dispatch_stage_leased(const store_dispatch *d, Helpdesk__V1__Stage stage, int64_t id)
{
    for (size_t i = 0; i < d->n_leases; i++)
        if (d->leases[i].ticket_id == id && d->leases[i].stage == stage)
            return true;
    return false;
}

size_t store_dispatch_leases(const store_dispatch *d)
{
    return d->n_leases;
}

static worker *find_worker(const store_dispatch *d, const store_worker_key *w)
{
    for (size_t i = 0; i < d->n_workers; i++)
        if (d->workers[i].key.len == w->len && memcmp(d->workers[i].key.id, w->id, w->len) == 0)
            return &d->workers[i];
    return NULL;
}

int store_dispatch_ready(store_dispatch *d, const store_worker_key *w, Helpdesk__V1__Stage stage,
                         uint32_t credit, const char *name, int64_t now)
{
    if (!stage_ok(stage))
        return -1;
    worker *wk = find_worker(d, w);
    int is_new = wk == NULL;
    if (wk == NULL) {
        if (d->n_workers == d->cap_workers)
            d->workers = grow(d->workers, &d->cap_workers, sizeof *d->workers);
        wk = &d->workers[d->n_workers++];
        memset(wk, 0, sizeof *wk);
        wk->key = *w;
    }
    wk->stage = stage;
    wk->credit[stage] += credit;
    wk->last_seen = now;
    snprintf(wk->name, sizeof wk->name, "%s", name && name[0] ? name : "(unnamed)");
    return is_new;
}

bool store_dispatch_seen(store_dispatch *d, const store_worker_key *w, int64_t now)
{
    worker *wk = find_worker(d, w);
    if (wk)
        wk->last_seen = now;
    return wk != NULL;
}

const char *store_dispatch_worker_name(const store_dispatch *d, const store_worker_key *w)
{
    const worker *wk = find_worker(d, w);
    return wk ? wk->name : NULL;
}

int64_t store_dispatch_credit(const store_dispatch *d, const store_worker_key *w)
{
    const worker *wk = find_worker(d, w);
    if (wk == NULL)
        return -1;
    int64_t sum = 0;
    for (int s = 0; s < STAGES; s++)
        sum += wk->credit[s];
    return sum;
}

size_t store_dispatch_workers(const store_dispatch *d)
{
    return d->n_workers;
}

static void remove_worker_at(store_dispatch *d, size_t i)
{
    d->workers[i] = d->workers[--d->n_workers];
}

void store_dispatch_forget(store_dispatch *d, const store_worker_key *w)
{
    worker *wk = find_worker(d, w);
    if (wk)
        remove_worker_at(d, (size_t)(wk - d->workers));
}

/* A stage the worker has credit for and items waiting in; 0 when none. */
static int worker_stage(const store_dispatch *d, const worker *wk)
{
    for (int s = 1; s < STAGES; s++)
        if (wk->credit[s] > 0 && d->queue[s].n > 0)
            return s;
    return 0;
}

/* The index of the next worker (round robin from d->rr) that can take an item; -1 if none. */
static long next_worker(const store_dispatch *d)
{
    for (size_t k = 0; k < d->n_workers; k++) {
        size_t i = (d->rr + k) % d->n_workers;
        if (worker_stage(d, &d->workers[i]) != 0)
            return (long)i;
    }
    return -1;
}

bool store_dispatch_pending(const store_dispatch *d)
{
    return next_worker(d) >= 0;
}

bool store_dispatch_next(store_dispatch *d, int64_t now, store_lease *out)
{
    long i = next_worker(d);
    if (i < 0)
        return false;
    worker *wk = &d->workers[i];
    int stage = worker_stage(d, wk);
    d->rr = (size_t)i + 1;
    wk->credit[stage]--;
    if (d->n_leases == d->cap_leases)
        d->leases = grow(d->leases, &d->cap_leases, sizeof *d->leases);
    store_lease *l = &d->leases[d->n_leases++];
    l->lease_id = d->next_lease_id++;
    l->ticket_id = deque_pop_front(&d->queue[stage]);
    l->stage = (Helpdesk__V1__Stage)stage;
    l->worker = wk->key;
    l->expires_at = now + d->lease_ms;
    *out = *l;
    return true;
}

static store_lease *find_lease(const store_dispatch *d, int64_t lease_id)
{
    for (size_t i = 0; i < d->n_leases; i++)
        if (d->leases[i].lease_id == lease_id)
            return &d->leases[i];
    return NULL;
}

static void remove_lease(store_dispatch *d, store_lease *l)
{
    *l = d->leases[--d->n_leases];
}

void store_dispatch_cancel(store_dispatch *d, int64_t lease_id, bool requeue, bool give_credit)
{
    store_lease *l = find_lease(d, lease_id);
    if (l == NULL)
        return;
    if (requeue)
        deque_push_front(&d->queue[l->stage], l->ticket_id);
    worker *wk = give_credit ? find_worker(d, &l->worker) : NULL;
    if (wk)
        wk->credit[l->stage]++;
    remove_lease(d, l);
}

bool store_dispatch_lease_item(const store_dispatch *d, int64_t lease_id, int64_t *item,
                               Helpdesk__V1__Stage *stage)
{
    const store_lease *l = find_lease(d, lease_id);
    if (l == NULL)
        return false;
    *item = l->ticket_id;
    *stage = l->stage;
    return true;
}

bool store_dispatch_result(store_dispatch *d, const store_worker_key *from, int64_t lease_id,
                           int64_t ticket_id, int64_t now, Helpdesk__V1__Stage *stage)
{
    return store_dispatch_result_for(d, from, lease_id, ticket_id,
                                     HELPDESK__V1__STAGE__STAGE_UNSPECIFIED, now, stage);
}

bool store_dispatch_result_for(store_dispatch *d, const store_worker_key *from, int64_t lease_id,
                               int64_t item, Helpdesk__V1__Stage result_stage, int64_t now,
                               Helpdesk__V1__Stage *stage)
{
    worker *wk = find_worker(d, from);
    store_lease *l = find_lease(d, lease_id);
    bool live = l != NULL && l->ticket_id == item;
    if (wk) {
        int s = live ? (int)l->stage : stage_ok(result_stage) ? (int)result_stage : (int)wk->stage;
        wk->credit[s]++;
        wk->last_seen = now;
    }
    if (!live)
        return false;
    if (stage)
        *stage = l->stage;
    remove_lease(d, l);
    return true;
}

static int by_lease_id_desc(const void *a, const void *b)
{
    int64_t x = ((const store_lease *)a)->lease_id, y = ((const store_lease *)b)->lease_id;
    return (x < y) - (x > y);
}

size_t store_dispatch_expire(store_dispatch *d, int64_t now, store_lease *out, size_t max)
{
    size_t n = 0, cap = 0;
    store_lease *gone = NULL;
    for (size_t i = 0; i < d->n_leases;) {
        if (d->leases[i].expires_at > now) {
            i++;
            continue;
        }
        if (n == cap)
            gone = grow(gone, &cap, sizeof *gone);
        gone[n++] = d->leases[i];
        remove_lease(d, &d->leases[i]);
    }
    if (n == 0)
        return 0;
    /* Newest first, each to the front: the oldest lease ends up first in line. */
    qsort(gone, n, sizeof *gone, by_lease_id_desc);
    for (size_t i = 0; i < n; i++) {
        deque_push_front(&d->queue[gone[i].stage], gone[i].ticket_id);
        if (n - 1 - i < max)
            out[n - 1 - i] = gone[i];
    }
    free(gone);
    return n;
}

size_t store_dispatch_forget_silent(store_dispatch *d, int64_t now, char (*names)[128],
                                    size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_workers;) {
        if (now - d->workers[i].last_seen < d->silence_ms) {
            i++;
            continue;
        }
        if (n < max)
            snprintf(names[n], sizeof names[n], "%s", d->workers[i].name);
        n++;
        remove_worker_at(d, i);
    }
    return n;
}

int64_t store_dispatch_deadline(const store_dispatch *d)
{
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < d->n_leases; i++)
        if (d->leases[i].expires_at < t)
            t = d->leases[i].expires_at;
    for (size_t i = 0; i < d->n_workers; i++)
        if (d->workers[i].last_seen + d->silence_ms < t)
            t = d->workers[i].last_seen + d->silence_ms;
    for (size_t i = 0; i < d->n_held; i++)
        if (d->held[i].due < t)
            t = d->held[i].due;
    return t;
}
