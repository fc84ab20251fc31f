/* A load generator for end-to-end tests: several DEALER connections to intake, a window of
 * submissions in flight on each, one unique key (source, external_id) per contact. A contact
 * that gets no answer within the timeout, or ERROR_UNAVAILABLE, is sent again with the SAME key,
 * until it is acknowledged (a receipt) or refused (any other error). Replies are matched by
 * request id (the contact's number + 1), so a late answer to an earlier attempt is harmless; a
 * second receipt for a contact must name the same tickets as the first, and a contact whose
 * receipts disagree is counted in `mismatches`.
 *
 * The caller drives it: ht_load_step in a loop, doing whatever else it wants (killing services)
 * between steps, until ht_load_done. */
#ifndef HD_TEST_LOAD_H
#define HD_TEST_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* Fills contact i (already initialised with its key) with 1..HT_MAX_PROBLEMS problems. */
typedef void (*ht_load_fill_fn)(ht_contact *c, int i, void *arg);

/* A fill for long loads: contact i gets ht_load_problems_of(i) problems (1-3) and a customer
 * writing Arabic, Urdu, French or Indonesian, in turn. */
void ht_load_fill_multilingual(ht_contact *c, int i, void *arg);
int ht_load_problems_of(int i);

/* For qsort of doubles, ascending. */
int ht_cmp_double(const void *a, const void *b);
/* Nearest-rank percentile p (0..1) of a sorted array; 0 when empty. */
double ht_percentile(const double *v, size_t n, double p);

typedef struct {
    int contacts;
    int conns;            /* DEALER connections to intake, at most HT_LOAD_MAX_CONNS */
    int window;           /* submissions in flight per connection */
    int timeout_ms;       /* unanswered this long: sent again */
    int rate;             /* new contacts per second, sent in bursts 100 ms apart; 0: flat out */
    const char *source;   /* the key is (source, "<source>-<i>") */
    ht_load_fill_fn fill; /* NULL: one problem */
    void *fill_arg;
} ht_load_opts;

#define HT_LOAD_MAX_CONNS 32

enum ht_load_state { HT_LOAD_UNSENT, HT_LOAD_SENT, HT_LOAD_ACKED, HT_LOAD_REFUSED };

/* One contact as the client saw it. Times are hd_mono_ms. */
typedef struct {
    enum ht_load_state state;
    int conn;
    int attempts; /* sends, the first included */
    int64_t first_ms, last_ms, ack_ms;
    int64_t contact_id;
    int64_t *tickets; /* from the first receipt */
    size_t ntickets;
    bool mismatch; /* a later receipt named other tickets */
} ht_load_contact;

typedef struct {
    long sent;           /* every send, retries included */
    long retries;        /* sends after the first, for any reason */
    long timeouts;       /* retries because nothing came back in time */
    long unavailable;    /* ERROR_UNAVAILABLE answers */
    long acked, refused; /* contacts */
    long receipts;       /* every receipt, repeats included */
    long duplicates;     /* receipts with `duplicate` set */
    long mismatches;     /* contacts whose receipts disagree */
    long reconnects;     /* connections closed and opened again after a silence */
    long tickets;        /* tickets of acknowledged contacts */
    char first_refusal[256];
} ht_load_stats;

typedef struct ht_load ht_load;

/* Opens the connections to env's intake. NULL when a socket cannot be made. Caller destroys. */
ht_load *ht_load_new(ht_env *env, const ht_load_opts *o);
void ht_load_destroy(ht_load **l);
/* One turn: fills the windows, sends again what waited too long, waits up to poll_ms for
 * answers and handles every one that is there. 0, or -1 when zmq_poll fails. */
int ht_load_step(ht_load *l, int poll_ms);
/* How many contacts have been sent (the first `n` in order). */
int ht_load_sent(const ht_load *l);
/* How many contacts are out: sent and not answered yet. */
int ht_load_outstanding(const ht_load *l);
/* The lowest-numbered contact not yet acknowledged or refused; `contacts` when none. */
int ht_load_first_open(const ht_load *l);
/* Every contact is acknowledged or refused. */
bool ht_load_done(const ht_load *l);
const ht_load_stats *ht_load_get_stats(const ht_load *l);
const ht_load_contact *ht_load_get_contact(const ht_load *l, int i);
/* The external_id of contact i ("<source>-<i>") into out. */
void ht_load_external_id(const ht_load *l, int i, char *out, size_t len);

/* From now on no new contact is sent: the load is done once the contacts already sent are
 * answered, and ht_load_sent is its final size. For a test that runs the load until its faults
 * are over rather than for a fixed count. */
void ht_load_end(ht_load *l);

#endif
