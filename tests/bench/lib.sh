# shellcheck shell=bash
# Sourced by the benchmark drivers (bench.sh, timer.sh): a private, durable PostgreSQL (fsync
# on, synchronous_commit on) on a free loopback port in a temp folder, the environment the
# harness reads, and a way to run a benchmark binary in its own process group under a time
# limit. Everything started is stopped on exit.
#   bench_setup NAME BUILD_DIR   sets repo, build, tmp, url, out (BUILD_DIR/../bench)
#   bench_run LIMIT_S BINARY     runs it; its exit code (124 when the limit was reached)

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "${bench_child:-}" ]; then
        kill -TERM -- "-$bench_child" 2>/dev/null
        sleep 1
        kill -KILL -- "-$bench_child" 2>/dev/null
    fi
    "$repo/deploy/local/pg.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
    rm -rf "$tmp"
    exit $rc
}

bench_setup() {
    bench_name=$1
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    build=$(cd "$2" && pwd) || { echo "$bench_name: no build folder $2" >&2; exit 1; }
    tmp=$(mktemp -d "/tmp/hd-$bench_name.XXXXXX")
    bench_child=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    export HD_PG_FSYNC=on HD_PG_SYNC=on # durable: what a real deployment pays for a commit
    if ! url=$("$repo/deploy/local/pg.sh" start "$tmp/pg" "$port"); then
        echo "$bench_name: PostgreSQL did not start" >&2
        exit 1
    fi
    out=$(dirname "$build")/bench
    mkdir -p "$out" "$tmp/work"
    export HD_TEST_PG_URL=$url HD_TEST_BIN=$build/bin HD_TEST_TMP=$tmp/work
    # HD_LOG_LEVEL stays info: the harness waits for the services' "event=ready" lines.
    unset HD_CONFIG HD_DATABASE_URL HD_LOG_LEVEL
}

bench_run() {
    local limit=$1 bin=$2 rc
    # timeout puts the binary and the services it starts in their own process group.
    timeout -k 5 "$limit" "$bin" &
    bench_child=$!
    wait "$bench_child"
    rc=$?
    bench_child=""
    [ "$rc" -eq 124 ] && echo "$bench_name: $(basename "$bin") did not finish in ${limit}s" >&2
    return $rc
}
