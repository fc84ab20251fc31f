#!/usr/bin/env bash
# The escalation timer's benchmark (tests/bench/timer.c) against a private, durable PostgreSQL
# (tests/bench/lib.sh). make bench runs it after the pipeline benchmark; alone:
#   tests/bench/timer.sh BUILD_DIR      (a release build with bin and tests/bench_timer)
# Knobs: BENCH_TIMER_TICKETS (1000000), BENCH_TIMER_RATE, BENCH_TIMER_LOAD_S,
# BENCH_TIMER_PROBLEMS, BENCH_TIMER_FIRST_S, BENCH_TIMER_TIER2_S, BENCH_TIMER_REBUILD_LIMIT_S
# (see tests/bench/timer.c). Results: a table on stdout and BUILD_DIR/../bench/timer.json.
set -uo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup bench-timer "${1:?usage: tests/bench/timer.sh BUILD_DIR}"

export BENCH_TIMER_JSON=$out/timer.json
bench_run "${BENCH_TIMER_TIMEOUT_S:-900}" "$build/tests/bench_timer"
