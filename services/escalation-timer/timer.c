#include "timer.h"

#include <stdlib.h>
#include <string.h>
#include "hd/alloc.h"

_Static_assert(sizeof(timer_entry) == 24, "timer_entry must stay compact");

int64_t timer_entry_due(const timer_entry *e)
{
    return e->deadline_at - (int64_t)e->lead_ms;
}

/* ---- planning ------------------------------------------------------------------------------- */

typedef Helpdesk__V1__Deadline deadline_t;
#define D_FIRST HELPDESK__V1__DEADLINE__DEADLINE_FIRST_RESPONSE
#define D_UPDATE HELPDESK__V1__DEADLINE__DEADLINE_UPDATE
#define D_RESOLUTION HELPDESK__V1__DEADLINE__DEADLINE_RESOLUTION
#define D_TIER2 HELPDESK__V1__DEADLINE__DEADLINE_TIER2
#define D_TIER3 HELPDESK__V1__DEADLINE__DEADLINE_TIER3

/* True when the ticket's clocks run: triaged and not finished or paused. */
static bool clock_runs(const HdTicket *t)
{
    switch (t->status) {
    case HELPDESK__V1__STATUS__STATUS_TRIAGED:
    case HELPDESK__V1__STATUS__STATUS_QUEUED:
    case HELPDESK__V1__STATUS__STATUS_IN_PROGRESS:
    case HELPDESK__V1__STATUS__STATUS_REOPENED:
        return t->paused_at == 0 && t->sla != NULL;
    default:
        return false;
    }
}

/* True when the history already records this signal. */
static bool recorded(HdTicketEvent *const *history, size_t n, deadline_t d, int64_t at,
                     bool breach)
{
    for (size_t i = 0; i < n; i++) {
        const HdTicketEvent *ev = history[i];
        if (ev == NULL || ev->deadline != d)
            continue;
        switch (ev->kind) {
        case HELPDESK__V1__EVENT_KIND__EVENT_SLA_WARNING:
            if (!breach && ev->deadline_at == at)
                return true;
            break;
        case HELPDESK__V1__EVENT_KIND__EVENT_SLA_BREACH:
        case HELPDESK__V1__EVENT_KIND__EVENT_UPDATE_DUE:
            if (breach && ev->deadline_at == at)
                return true;
            break;
        case HELPDESK__V1__EVENT_KIND__EVENT_ESCALATION_REQUESTED:
            if (breach && (ev->deadline_at == 0 || ev->deadline_at == at))
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

typedef struct {
    HdTicketEvent *const *history;
    size_t nhistory;
    int warning_percent;
    int64_t now;
    int64_t start; /* created_at: where the warning's way starts */
    timer_entry *out;
    size_t n;
} planner;

static void add(planner *p, deadline_t d, int64_t at, uint32_t lead, bool breach)
{
    timer_entry *e = &p->out[p->n++];
    memset(e, 0, sizeof *e);
    e->deadline_at = at;
    e->lead_ms = lead;
    e->deadline = (uint8_t)d;
    e->breach = breach ? 1 : 0;
}

/* A deadline with a warning: the warning when it is still useful, else the breach. */
static void plan_warned(planner *p, deadline_t d, int64_t at)
{
    if (at <= 0 || recorded(p->history, p->nhistory, d, at, true))
        return;
    int64_t span = at - p->start;
    bool warn = p->warning_percent > 0 && p->start > 0 && span > 0 && p->now < at &&
                !recorded(p->history, p->nhistory, d, at, false);
    if (!warn) {
        add(p, d, at, 0, true);
        return;
    }
    int64_t lead = span - span * p->warning_percent / 100;
    /* A lead beyond 49 days does not fit: the warning comes that much before the deadline. */
    if (lead > (int64_t)UINT32_MAX)
        lead = UINT32_MAX;
    add(p, d, at, lead > 0 ? (uint32_t)lead : 0, lead <= 0);
}

static void plan_at(planner *p, deadline_t d, int64_t at)
{
    if (at > 0 && !recorded(p->history, p->nhistory, d, at, true))
        add(p, d, at, 0, true);
}

size_t timer_plan(const HdTicket *t, HdTicketEvent *const *history, size_t nhistory,
                  int warning_percent, int64_t now, timer_entry *out)
{
    if (!clock_runs(t))
        return 0;
    planner p = {.history = history,
                 .nhistory = history ? nhistory : 0,
                 .warning_percent = warning_percent,
                 .now = now,
                 .start = t->created_at,
                 .out = out};
    const HdSlaDeadlines *s = t->sla;
    if (t->first_response_at == 0)
        plan_warned(&p, D_FIRST, s->first_response_due);
    plan_at(&p, D_UPDATE, t->next_update_due);
    plan_warned(&p, D_RESOLUTION, s->resolution_due);
    if (t->tier < 2)
        plan_at(&p, D_TIER2, s->tier2_escalation_due);
    /* Tier 3 waits for tier 2: the store applies an escalation only from the tier it was asked
     * from, so a 1 -> 3 request racing the 1 -> 2 one would be dropped as stale and lost. Once
     * the ticket is at tier 2 (an event, so a re-plan) a passed tier 3 deadline fires at once. */
    if (t->tier == 2 || (t->tier < 2 && s->tier2_escalation_due == 0))
        plan_at(&p, D_TIER3, s->tier3_escalation_due);
    for (size_t i = 0; i < p.n; i++)
        out[i].ticket_id = t->id;
    return p.n;
}

bool timer_followup(const timer_entry *fired, timer_entry *next)
{
    if (fired->breach)
        return false;
    *next = *fired;
    next->lead_ms = 0;
    next->breach = 1;
    return true;
}

/* ---- the queue ------------------------------------------------------------------------------ */

typedef struct {
    int64_t id; /* 0: free */
    uint32_t plan; /* fingerprint of the entries last set (plan_print); 0: changed since */
    uint16_t version;
    uint8_t live; /* entries of this version still in the heap */
} slot;

_Static_assert(sizeof(slot) == 16, "a slot must stay 16 bytes");

struct timer_queue {
    timer_entry *heap;
    size_t size, cap;
    slot *slots; /* open addressing, linear probing; cap a power of two */
    size_t nslots, used;
    size_t live;    /* sum of slots' live */
    size_t tickets; /* slots with live > 0 */
};

timer_queue *timer_queue_new(void)
{
    timer_queue *q = hd_xcalloc(1, sizeof *q);
    q->nslots = 64;
    q->slots = hd_xcalloc(q->nslots, sizeof *q->slots);
    return q;
}

void timer_queue_destroy(timer_queue **q)
{
    if (q == NULL || *q == NULL)
        return;
    free((*q)->heap);
    free((*q)->slots);
    free(*q);
    *q = NULL;
}

static size_t hash_id(int64_t id, size_t nslots)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (nslots - 1);
}

static slot *find(const timer_queue *q, int64_t id)
{
    for (size_t i = hash_id(id, q->nslots);; i = (i + 1) & (q->nslots - 1)) {
        if (q->slots[i].id == id)
            return &q->slots[i];
        if (q->slots[i].id == 0)
            return NULL;
    }
}

static slot *insert_slot(slot *slots, size_t nslots, int64_t id)
{
    size_t i = hash_id(id, nslots);
    while (slots[i].id != 0 && slots[i].id != id)
        i = (i + 1) & (nslots - 1);
    slots[i].id = id;
    return &slots[i];
}

/* A fresh table of `nslots` holding the tickets with live entries: the others have no entry
 * left in the heap once it is compacted, so forgetting them is safe. */
static void rehash(timer_queue *q, size_t nslots)
{
    slot *fresh = hd_xcalloc(nslots, sizeof *fresh);
    size_t used = 0;
    for (size_t i = 0; i < q->nslots; i++) {
        if (q->slots[i].id == 0 || q->slots[i].live == 0)
            continue;
        *insert_slot(fresh, nslots, q->slots[i].id) = q->slots[i];
        used++;
    }
    free(q->slots);
    q->slots = fresh;
    q->nslots = nslots;
    q->used = used;
}

static slot *find_or_add(timer_queue *q, int64_t id)
{
    slot *s = find(q, id);
    if (s != NULL)
        return s;
    if ((q->used + 1) * 2 > q->nslots) {
        /* Keeping the dead slots would be wrong while stale entries of theirs are in the heap:
         * grow keeps them all. */
        slot *fresh = hd_xcalloc(q->nslots * 2, sizeof *fresh);
        for (size_t i = 0; i < q->nslots; i++)
            if (q->slots[i].id != 0)
                *insert_slot(fresh, q->nslots * 2, q->slots[i].id) = q->slots[i];
        free(q->slots);
        q->slots = fresh;
        q->nslots *= 2;
    }
    q->used++;
    s = insert_slot(q->slots, q->nslots, id);
    s->version = 0;
    s->live = 0;
    s->plan = 0;
    return s;
}

static bool before(const timer_entry *a, const timer_entry *b)
{
    int64_t da = timer_entry_due(a), db = timer_entry_due(b);
    return da != db ? da < db : a->ticket_id < b->ticket_id;
}

static void sift_up(timer_queue *q, size_t i)
{
    timer_entry e = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
}

static void sift_down(timer_queue *q, size_t i)
{
    timer_entry e = q->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->size)
            break;
        if (child + 1 < q->size && before(&q->heap[child + 1], &q->heap[child]))
            child++;
        if (!before(&q->heap[child], &e))
            break;
        q->heap[i] = q->heap[child];
        i = child;
    }
    q->heap[i] = e;
}

static void heap_push(timer_queue *q, const timer_entry *e)
{
    if (q->size == q->cap) {
        /* by half: what is allocated stays near what is held */
        q->cap = q->cap ? q->cap + q->cap / 2 : 256;
        q->heap = hd_xrealloc(q->heap, q->cap, sizeof *q->heap);
    }
    q->heap[q->size++] = *e;
    sift_up(q, q->size - 1);
}

static void heap_pop(timer_queue *q)
{
    q->heap[0] = q->heap[--q->size];
    if (q->size > 0)
        sift_down(q, 0);
}

static bool is_live(const timer_queue *q, const timer_entry *e)
{
    const slot *s = find(q, e->ticket_id);
    return s != NULL && s->version == e->version && s->live > 0;
}

/* Drops every stale entry once they are half as many as the live ones, so memory follows the
 * live count: at most 1.5 entries held per live one (a million tickets re-planned at once stay
 * near 150 MB instead of doubling). */
static void maybe_compact(timer_queue *q)
{
    if (q->size < 1024 || q->size <= q->live + q->live / 2)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < q->size; i++)
        if (is_live(q, &q->heap[i]))
            q->heap[kept++] = q->heap[i];
    q->size = kept;
    for (size_t i = q->size / 2; i-- > 0;)
        sift_down(q, i);
    /* Forget the tickets without entries only when they crowd the table: a fresh table next to
     * the old one costs its size again in memory, for the moment of the copy. */
    if (q->used > 4 * (q->tickets + 1024)) {
        size_t nslots = 64;
        while (nslots < 2 * (q->tickets + 1))
            nslots *= 2;
        rehash(q, nslots);
    }
    if (q->cap > 1024 && q->size < q->cap / 4) {
        q->cap /= 2;
        q->heap = hd_xrealloc(q->heap, q->cap, sizeof *q->heap);
    }
}

/* FNV-1a over what makes each entry fire (never 0, which means "changed"). */
static uint32_t plan_print(const timer_entry *entries, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        const timer_entry *e = &entries[i];
        uint64_t v[3] = {(uint64_t)e->deadline_at, e->lead_ms,
                         (uint64_t)e->deadline << 8 | e->breach};
        for (int k = 0; k < 3; k++)
            for (int b = 0; b < 64; b += 8) {
                h ^= (uint32_t)(v[k] >> b) & 0xffu;
                h *= 16777619u;
            }
    }
    return h ? h : 1;
}

void timer_queue_set(timer_queue *q, int64_t ticket_id, const timer_entry *entries, size_t n)
{
    slot *s = find(q, ticket_id);
    if (s == NULL && n == 0)
        return; /* nothing known, nothing to stop */
    uint32_t print = n > 0 ? plan_print(entries, n) : 0;
    /* The same plan, none of it fired or added to since: the heap already holds exactly these
     * entries. Most events (notes, replies, communications) change no deadline, and keeping
     * their tickets' entries makes no stale ones. */
    if (s != NULL && n > 0 && s->live == n && s->plan == print)
        return;
    if (s == NULL)
        s = find_or_add(q, ticket_id);
    q->live -= s->live;
    if (s->live > 0)
        q->tickets--;
    s->version++;
    s->live = 0;
    uint16_t version = s->version;
    for (size_t i = 0; i < n; i++) {
        timer_entry e = entries[i];
        e.ticket_id = ticket_id;
        e.version = version;
        heap_push(q, &e);
    }
    s = find(q, ticket_id); /* heap_push does not move slots, but stay safe */
    s->live = (uint8_t)n;
    s->plan = print;
    q->live += n;
    if (n > 0)
        q->tickets++;
    maybe_compact(q);
}

void timer_queue_add(timer_queue *q, const timer_entry *e)
{
    slot *s = find(q, e->ticket_id);
    if (s == NULL || s->version != e->version || s->live == UINT8_MAX)
        return;
    if (s->live == 0)
        q->tickets++;
    s->live++;
    s->plan = 0;
    q->live++;
    heap_push(q, e);
}

/* Pops stale entries off the top. */
static void skip_stale(timer_queue *q)
{
    while (q->size > 0 && !is_live(q, &q->heap[0]))
        heap_pop(q);
}

int64_t timer_queue_next_due(timer_queue *q)
{
    skip_stale(q);
    return q->size > 0 ? timer_entry_due(&q->heap[0]) : INT64_MAX;
}

bool timer_queue_pop_due(timer_queue *q, int64_t now, timer_entry *out)
{
    skip_stale(q);
    if (q->size == 0 || timer_entry_due(&q->heap[0]) > now)
        return false;
    *out = q->heap[0];
    heap_pop(q);
    slot *s = find(q, out->ticket_id);
    s->live--;
    s->plan = 0;
    q->live--;
    if (s->live == 0)
        q->tickets--;
    return true;
}

size_t timer_queue_live(const timer_queue *q)
{
    return q->live;
}

size_t timer_queue_size(const timer_queue *q)
{
    return q->size;
}

size_t timer_queue_tickets(const timer_queue *q)
{
    return q->tickets;
}

size_t timer_queue_bytes(const timer_queue *q)
{
    return sizeof *q + q->cap * sizeof *q->heap + q->nslots * sizeof *q->slots;
}
