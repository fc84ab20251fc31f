#!/usr/bin/env bash
# make bench: the benchmark against a private, durable PostgreSQL (fsync on, synchronous_commit
# on) on a free loopback port in a temp folder. Everything it starts is stopped on exit.
#   tests/bench/bench.sh BUILD_DIR      (make bench: tests/bench/bench.sh build/rel)
# Knobs: BENCH_CONTACTS (5000), BENCH_PROBLEMS, BENCH_CONNS, BENCH_WINDOW, BENCH_REPLICAS
# ("1,2,4"), BENCH_BATCH, BENCH_CREDIT, BENCH_DRAIN_S, BENCH_RATE (contacts/s, open loop; flat
# out when unset) (see tests/bench/bench.c). Results:
# a table on stdout and BUILD_DIR/../bench/results.json (build/bench/results.json).
set -uo pipefail

build=${1:?usage: tests/bench/bench.sh BUILD_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd) || { echo "bench.sh: no build folder $1" >&2; exit 1; }
limit=${BENCH_TIMEOUT_S:-330}

tmp=$(mktemp -d /tmp/hd-bench.XXXXXX)
pgdir=$tmp/pg
child=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$child" ]; then
        kill -TERM -- "-$child" 2>/dev/null
        sleep 1
        kill -KILL -- "-$child" 2>/dev/null
    fi
    "$repo/deploy/local/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HD_PG_FSYNC=on HD_PG_SYNC=on   # durable: what a real deployment pays for a commit
if ! url=$("$repo/deploy/local/pg.sh" start "$pgdir" "$port"); then
    echo "bench.sh: PostgreSQL did not start" >&2
    exit 1
fi

out=$(dirname "$build")/bench
mkdir -p "$out" "$tmp/work"
export HD_TEST_PG_URL=$url HD_TEST_BIN=$build/bin HD_TEST_TMP=$tmp/work
export BENCH_JSON=$out/results.json
# HD_LOG_LEVEL stays info: the harness waits for the services' "event=ready" line.
unset HD_CONFIG HD_DATABASE_URL HD_LOG_LEVEL

# timeout puts the generator and the services it starts in their own process group.
timeout -k 5 "$limit" "$build/tests/bench_bench" &
child=$!
wait "$child"
rc=$?
child=""
[ "$rc" -eq 124 ] && echo "bench.sh: the benchmark did not finish in ${limit}s" >&2

# The escalation timer at a million open tickets (its own PostgreSQL; BENCH_TIMER=0 skips it):
# rebuild time, peak RSS, fire latency under load; build/bench/timer.json.
if [ "${BENCH_TIMER:-1}" != 0 ] && [ -x "$build/tests/bench_timer" ]; then
    "$repo/tests/bench/timer.sh" "$build" || rc=1
fi

# The notifier at a backlog of BENCH_NOTIFY_CONTACTS contacts (20000; its own database on the
# same PostgreSQL; BENCH_NOTIFY=0 skips it): acks/s on the log channel; build/bench/notifier.json.
if [ "${BENCH_NOTIFY:-1}" != 0 ] && [ -x "$build/tests/bench_notifier" ]; then
    BENCH_NOTIFY_JSON=$out/notifier.json timeout -k 5 "$limit" "$build/tests/bench_notifier" &
    child=$!
    wait "$child" || rc=1
    child=""
fi
exit $rc
