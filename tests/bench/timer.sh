#!/usr/bin/env bash
# The escalation timer's benchmark (tests/bench/timer.c) against a private, durable PostgreSQL
# (fsync on, synchronous_commit on) on a free loopback port in a temp folder. make bench runs it
# after the pipeline benchmark; alone:
#   tests/bench/timer.sh BUILD_DIR      (a release build with bin and tests/bench_timer)
# Knobs: BENCH_TIMER_TICKETS (1000000), BENCH_TIMER_RATE, BENCH_TIMER_LOAD_S,
# BENCH_TIMER_PROBLEMS, BENCH_TIMER_FIRST_S, BENCH_TIMER_TIER2_S, BENCH_TIMER_REBUILD_LIMIT_S
# (see tests/bench/timer.c). Results: a table on stdout and BUILD_DIR/../bench/timer.json.
set -uo pipefail

build=${1:?usage: tests/bench/timer.sh BUILD_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd) || { echo "timer.sh: no build folder $1" >&2; exit 1; }
limit=${BENCH_TIMER_TIMEOUT_S:-900}

tmp=$(mktemp -d /tmp/hd-bench-timer.XXXXXX)
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
    echo "timer.sh: PostgreSQL did not start" >&2
    exit 1
fi

out=$(dirname "$build")/bench
mkdir -p "$out" "$tmp/work"
export HD_TEST_PG_URL=$url HD_TEST_BIN=$build/bin HD_TEST_TMP=$tmp/work
export BENCH_TIMER_JSON=$out/timer.json
# HD_LOG_LEVEL stays info: the benchmark waits for the timer's "event=rebuilt" line.
unset HD_CONFIG HD_DATABASE_URL HD_LOG_LEVEL

# timeout puts the benchmark and the services it starts in their own process group.
timeout -k 5 "$limit" "$build/tests/bench_timer" &
child=$!
wait "$child"
rc=$?
child=""
[ "$rc" -eq 124 ] && echo "timer.sh: the benchmark did not finish in ${limit}s" >&2
exit $rc
