#!/usr/bin/env bash
# make bench: the pipeline benchmark (tests/bench/bench.c), then the escalation timer at a
# million open tickets (timer.sh) and the notifier from a backlog (tests/bench/notifier.c), each
# against a private, durable PostgreSQL (tests/bench/lib.sh). Everything started is stopped.
#   tests/bench/bench.sh BUILD_DIR      (make bench: tests/bench/bench.sh build/rel)
# Knobs: BENCH_CONTACTS (5000), BENCH_PROBLEMS, BENCH_CONNS, BENCH_WINDOW, BENCH_REPLICAS
# ("1,2,4"), BENCH_BATCH, BENCH_CREDIT, BENCH_DRAIN_S, BENCH_RATE (contacts/s, open loop; flat
# out when unset) (see tests/bench/bench.c); BENCH_TIMER=0 / BENCH_NOTIFY=0 skip those parts.
# Results: tables on stdout and BUILD_DIR/../bench/{results,timer,notifier}.json.
set -uo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup bench "${1:?usage: tests/bench/bench.sh BUILD_DIR}"
limit=${BENCH_TIMEOUT_S:-330}

export BENCH_JSON=$out/results.json
bench_run "$limit" "$build/tests/bench_bench"
rc=$?

# The escalation timer at a million open tickets (its own PostgreSQL): rebuild time, peak RSS,
# fire latency under load.
if [ "${BENCH_TIMER:-1}" != 0 ] && [ -x "$build/tests/bench_timer" ]; then
    "$repo/tests/bench/timer.sh" "$build" || rc=1
fi

# The notifier at a backlog of BENCH_NOTIFY_CONTACTS contacts (20000; its own database on the
# same PostgreSQL): acks/s on the log channel.
if [ "${BENCH_NOTIFY:-1}" != 0 ] && [ -x "$build/tests/bench_notifier" ]; then
    export BENCH_NOTIFY_JSON=$out/notifier.json
    bench_run "$limit" "$build/tests/bench_notifier" || rc=1
fi
exit $rc
