/* Checks over the store's database after a load (tests/support/load.c) went through the whole
 * pipeline while things failed around it: nothing lost, nothing made or sent twice. Shared by
 * the fault test and the multi-host test. Each one fails the running cmocka test with what is
 * wrong, and prints one line of what it found when all is well. */
#ifndef HD_TEST_CHECKS_H
#define HD_TEST_CHECKS_H

#include <stdint.h>

#include "harness.h"
#include "load.h"

/* How many problems contact i of the load had. */
typedef int (*ht_problems_fn)(int i);

/* Polls until at least `tickets` tickets are queued, failing after timeout_ms; prints how long
 * the last ones took. */
void ht_check_all_queued(ht_env *env, long tickets, int timeout_ms);
/* The first `contacts` contacts of the load (source `source`) are in the store with exactly the
 * tickets their receipts named, one per problem, in problem order, and no contact of that source
 * is there that the load did not send. */
void ht_check_receipts(ht_env *env, const ht_load *l, const char *source, int contacts,
                       ht_problems_fn problems_of);
/* The store holds exactly `tickets` tickets, every one queued with exactly one created, triaged
 * and queued event, and the event sequence is 1..max without a gap. */
void ht_check_events(ht_env *env, long tickets);
/* The durable consumers resumed: the escalation timer's cursor reaches the end of the log (its
 * own events aside), the notifier's passes `notifier_floor` (where it was when it was stopped or
 * cut off), and every one of the `contacts` customers has exactly one acknowledgement recorded as
 * sent, naming every ticket of the contact; no communication was sent twice. Each wait is at
 * most timeout_ms. */
void ht_check_consumers(ht_env *env, long notifier_floor, long contacts, int timeout_ms);
/* All of the above after a load of `contacts` contacts (source `source`) that faults were made
 * around: no contact refused or answered with other tickets, every one acknowledged, every
 * ticket queued within queued_ms, receipts, events, and the consumers past notifier_floor within
 * consumer_ms. */
void ht_check_load_survived(ht_env *env, ht_load *l, const char *source, int contacts,
                            int queued_ms, long notifier_floor, int consumer_ms);
/* The cursor a consumer committed in the store (0 when none), -1 on error. */
long ht_consumer_cursor(ht_env *env, const char *consumer);

#endif
