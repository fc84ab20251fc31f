#!/usr/bin/env bash
# Runs every unit and end-to-end test binary of a build, against one private PostgreSQL started
# here, and ends with one line "N passed, N failed" (exit 1 when anything failed).
#   tests/run.sh BUILD_DIR        (make test: tests/run.sh build/san)
# Each binary runs under `timeout` in its own process group, so the services an end-to-end test
# started are killed with it whatever happens to it. Output of every binary goes to
# BUILD_DIR/test-logs/<binary>.log; the service logs of a failed end-to-end binary are kept in
# BUILD_DIR/test-logs/<binary>/.
set -uo pipefail

build=${1:?usage: tests/run.sh BUILD_DIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd) || { echo "run.sh: no build folder $1" >&2; exit 1; }
unit_limit=${HD_TEST_UNIT_TIMEOUT:-60}
e2e_limit=${HD_TEST_E2E_TIMEOUT:-240}

tmp=$(mktemp -d /tmp/hd-test.XXXXXX)
pgdir=$tmp/pg
child=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$child" ]; then
        kill -KILL -- "-$child" 2>/dev/null
    fi
    "$repo/deploy/local/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=$(free_port)
export HD_PG_FSYNC=off HD_PG_SYNC=off   # the test cluster is thrown away: durability buys nothing
if ! url=$("$repo/deploy/local/pg.sh" start "$pgdir" "$port"); then
    echo "run.sh: PostgreSQL did not start" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

export HD_TEST_PG_URL=$url
export HD_TEST_PG_DIR=$pgdir   # e2e_faults restarts the cluster: deploy/local/pg.sh stop/start
export HD_TEST_BIN=$build/bin
export HD_TEST_TMP=$tmp/work
mkdir -p "$HD_TEST_TMP"
# A sanitizer report anywhere (test binary or a service it started) ends that process with an
# error, so it cannot pass unnoticed.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:print_stacktrace=1:abort_on_error=0:exitcode=66
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=66
export LSAN_OPTIONS=exitcode=66
unset HD_CONFIG HD_DATABASE_URL

logs=$build/test-logs
rm -rf "$logs"
mkdir -p "$logs" "$tmp/logs"
total_pass=0
total_fail=0

# Runs one binary; adds to the totals and prints one line about it.
run_one() {
    local bin=$1 limit=$2 name out rc pass fail ok failed_lines
    name=$(basename "$bin")
    out=$tmp/logs/$name.log
    rm -rf "${HD_TEST_TMP:?}"/*
    local start=$SECONDS
    # timeout puts itself and the test in a new process group; we kill that group afterwards so
    # no service outlives its test.
    timeout -k 5 "$limit" "$bin" >"$out" 2>&1 &
    child=$!
    wait "$child"
    rc=$?
    kill -KILL -- "-$child" 2>/dev/null
    child=""
    pass=$(sed -n 's/^\[  PASSED  \] \([0-9]\+\) test(s)\..*/\1/p' "$out" | tail -1)
    fail=$(sed -n 's/^\[  FAILED  \] \([0-9]\+\) test(s).*/\1/p' "$out" | tail -1)
    if [ -z "$pass" ] && [ -z "$fail" ]; then
        # no summary: it crashed or timed out; count what finished
        ok=$(grep -c '^\[       OK \]' "$out")
        failed_lines=$(grep -c '^\[  FAILED  \]' "$out")
        pass=$ok
        fail=$failed_lines
    fi
    pass=${pass:-0}
    fail=${fail:-0}
    local why=""
    if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
        # crashed, timed out or a group setup failed: whatever did not pass failed
        local planned
        planned=$(sed -n 's/^\[==========\] Running \([0-9]\+\) test(s)\..*/\1/p' "$out" | head -1)
        fail=$(( ${planned:-0} - pass ))
        [ "$fail" -ge 1 ] || fail=1
    fi
    case $rc in
    0) ;;
    124|137) why=" (timed out after ${limit}s)" ;;
    66) why=" (sanitizer report)" ;;
    *) why=" (exit $rc)" ;;
    esac
    cp "$out" "$logs/" 2>/dev/null
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    if [ "$fail" -eq 0 ]; then
        printf 'PASS %-32s %3d passed  %3ds\n' "$name" "$pass" $((SECONDS - start))
    else
        printf 'FAIL %-32s %3d passed, %d failed%s  %3ds  log: %s\n' "$name" "$pass" "$fail" \
            "$why" $((SECONDS - start)) "$logs/$name.log"
        grep -E '^\[  (FAILED|ERROR)  ?\]|error:|Sanitizer|runtime error|harness:' "$out" \
            | head -20 | sed 's/^/    /'
        if compgen -G "$HD_TEST_TMP/*" >/dev/null; then
            mkdir -p "$logs/$name"
            cp -r "$HD_TEST_TMP"/. "$logs/$name/" 2>/dev/null
        fi
    fi
}

# A check that is one command rather than a test binary: 1 passed or 1 failed.
run_check() {
    local name=$1 out=$logs/$1.log
    shift
    if "$@" >"$out" 2>&1; then
        total_pass=$((total_pass + 1))
        printf 'PASS %-32s %3d passed\n' "$name" 1
    else
        total_fail=$((total_fail + 1))
        printf 'FAIL %-32s log: %s\n' "$name" "$out"
        head -20 "$out" | sed 's/^/    /'
    fi
}

# Other programs must be able to speak the protocol: the .proto files compile with the
# standard protoc for C++, Java and Python too, not only with protoc-c.
mkdir -p "$tmp/protoc"
run_check proto_standard_protoc protoc --proto_path="$repo/proto" --cpp_out="$tmp/protoc" \
    --java_out="$tmp/protoc" --python_out="$tmp/protoc" "$repo"/proto/helpdesk/v1/*.proto

shopt -s nullglob
units=("$build"/tests/test_*)
e2es=("$build"/tests/e2e_*)
if [ ${#units[@]} -eq 0 ] && [ ${#e2es[@]} -eq 0 ]; then
    echo "run.sh: no test binaries in $build/tests" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
# HD_TEST_ONLY=REGEX runs only the binaries (and fuzz) whose name matches, e.g. 'e2e_pipeline'.
only=${HD_TEST_ONLY:-}
wanted() { [ -z "$only" ] || [[ $1 =~ $only ]]; }
for b in "${units[@]}"; do
    wanted "$(basename "$b")" && [ -x "$b" ] && [ -f "$b" ] && run_one "$b" "$unit_limit"
done
for b in "${e2es[@]}"; do
    wanted "$(basename "$b")" && [ -x "$b" ] && [ -f "$b" ] && run_one "$b" "$e2e_limit"
done
# The compose services started from their definitions in compose.yaml, in namespaces laid out
# like the image, without Docker (root; the Node.js packages of tests/lint/setup-node.sh).
wanted container_smoke && run_check container_smoke timeout -k 10 180 \
    "$repo/tests/lint/container-smoke.sh" "$build/bin"

# Hostile input: every libFuzzer target (tests/fuzz/, built with clang and ASan/UBSan) for
# HD_TEST_FUZZ_SECONDS each (default 15; 0 skips). Each target counts as one test.
run_fuzz() {
    local seconds=$1 out=$logs/fuzz.log line pass fail
    env -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS FUZZ_SECONDS="$seconds" \
        FUZZ_OUT="$build/fuzz" "$repo/tests/fuzz/run.sh" >"$out" 2>&1
    grep -E '^(PASS|FAIL) ' "$out"
    line=$(tail -1 "$out")
    pass=$(sed -n 's/^\([0-9]\+\) passed, \([0-9]\+\) failed$/\1/p' <<<"$line")
    fail=$(sed -n 's/^\([0-9]\+\) passed, \([0-9]\+\) failed$/\2/p' <<<"$line")
    if [ -z "$pass" ]; then
        pass=0 fail=1
        printf 'FAIL %-32s log: %s\n' fuzz "$out"
        tail -20 "$out" | sed 's/^/    /'
    fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
}
fuzz_seconds=${HD_TEST_FUZZ_SECONDS:-15}
[ "$fuzz_seconds" -gt 0 ] && wanted fuzz && run_fuzz "$fuzz_seconds"

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
