#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang (-fsanitize=fuzzer,address,undefined)
# straight from the sources, then runs each for a bounded time. One line per target, then
# "N passed, N failed". A target fails when it finds a crash, a leak, a timeout or an
# out-of-memory; the input is saved as tests/fuzz/crashes/<target>-<kind>-<sha1> and the log
# (with the stack) stays in build/fuzz/logs/<target>.log.
#
#   tests/fuzz/run.sh                  every target, FUZZ_SECONDS (30) each
#   FUZZ_SECONDS=300 tests/fuzz/run.sh fuzz_rules
#   build/fuzz/bin/fuzz_rules tests/fuzz/crashes/fuzz_rules-crash-...   replays one input
#
# Seeds are tests/fuzz/corpus/<target>/ (read only); what the fuzzer adds goes to
# build/fuzz/corpus/<target>/, so later runs start from there.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
O=${FUZZ_OUT:-build/fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
ALL_TARGETS=(fuzz_request fuzz_rules fuzz_config fuzz_template)
TARGETS=("${@:-${ALL_TARGETS[@]}}")
[ $# -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

# The service folders each target links beyond common/ (their files other than main.c).
svc_of() {
    case "$1" in
    fuzz_request) echo "intake store" ;;
    fuzz_rules) echo "prioritizer router" ;;
    fuzz_config) echo "intake" ;;
    fuzz_template) echo "notifier" ;;
    *) echo "unknown target $1" >&2; return 1 ;;
    esac
}

CC=${FUZZ_CC:-}
if [ -z "$CC" ]; then
    for c in clang clang-14 clang-15 clang-16; do
        if command -v "$c" >/dev/null; then CC=$c; break; fi
    done
fi
if [ -z "$CC" ]; then
    echo "fuzz: no clang found; install clang (Debian: clang-14 libclang-rt-14-dev)" >&2
    exit 1
fi

PKGS="libzmq libprotobuf-c yaml-0.1 libpq libcurl"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# Project sources are built with the project's warnings, but not -Werror: clang warns about
# things gcc (the project's compiler) does not, and that must not stop the fuzzing.
CFLAGS="-std=c17 -D_GNU_SOURCE -O1 -g $SAN -Wall -Wextra -Icommon/include -I$O/gen \
$(pkg-config --cflags $PKGS)"
LDLIBS="$(pkg-config --libs $PKGS) -lm"

mkdir -p "$O"/gen "$O"/obj "$O"/lib "$O"/bin "$O"/logs tests/fuzz/crashes

# Our own copy of the generated protocol code, so this does not race other builds of build/rel.
for proto in proto/helpdesk/v1/*.proto; do
    gen=$O/gen/${proto#proto/}
    gen=${gen%.proto}.pb-c.c
    if [ ! -f "$gen" ] || [ "$proto" -nt "$gen" ]; then
        protoc-c --proto_path=proto --c_out="$O/gen" "$proto"
    fi
done

# Compiles the .c files given into $O/obj, in parallel, when the source or a header it may
# include is newer than the object. Prints the object paths.
newest_header() {
    find common/include "$O/gen" services -name '*.h' -printf '%T@\n' | sort -n | tail -1
}
HDR_TIME=$(newest_header)
compile() {
    local todo=() src obj
    for src in "$@"; do
        obj=$O/obj/${src#"$O"/}
        obj=${obj%.c}.o
        echo "$obj"
        if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
           [ "$(stat -c %Y "$obj")" -lt "${HDR_TIME%.*}" ]; then
            todo+=("$src")
        fi
    done
    [ ${#todo[@]} -eq 0 ] && return 0
    printf '%s\n' "${todo[@]}" | xargs -P "$(nproc)" -I{} sh -c '
        src={}; obj='"$O"'/obj/${src#'"$O"'/}; obj=${obj%.c}.o; mkdir -p "$(dirname "$obj")"
        '"$CC"' '"$CFLAGS"' -fsanitize=fuzzer-no-link -c "$src" -o "$obj" ' >&2
}

archive() { # archive LIB OBJ...
    local lib=$1
    shift
    rm -f "$lib" && ar rcs "$lib" "$@"
}

build_log=$O/logs/build.log
: >"$build_log"
build() {
    local objs
    objs=$(compile common/src/*.c "$O"/gen/helpdesk/v1/*.pb-c.c) || return 1
    # shellcheck disable=SC2086
    archive "$O/lib/libhd.a" $objs
    local svc
    for svc in intake store prioritizer router notifier; do
        local srcs=()
        for f in services/"$svc"/*.c; do [ "$(basename "$f")" = main.c ] || srcs+=("$f"); done
        objs=$(compile "${srcs[@]}") || return 1
        # shellcheck disable=SC2086
        archive "$O/lib/libsvc-$svc.a" $objs
    done
    local t
    for t in "${TARGETS[@]}"; do
        local incs=() libs=()
        for svc in $(svc_of "$t"); do
            incs+=("-Iservices/$svc")
            libs+=("$O/lib/libsvc-$svc.a")
        done
        # shellcheck disable=SC2086
        $CC $CFLAGS -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            "${incs[@]}" -fsanitize=fuzzer -o "$O/bin/$t" "tests/fuzz/$t.c" \
            "${libs[@]}" "$O/lib/libhd.a" $LDLIBS || return 1
    done
}
if ! build >>"$build_log" 2>&1; then
    cat "$build_log" >&2
    echo "fuzz: build failed (log: $build_log)" >&2
    echo "0 passed, ${#TARGETS[@]} failed"
    exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Keys from the caller's environment would override what the config target reads.
for v in $(env | sed -n 's/^\(HD_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done

passed=0
failed=0
for t in "${TARGETS[@]}"; do
    mkdir -p "$O/corpus/$t"
    seeds=tests/fuzz/corpus/$t
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
    log=$O/logs/$t.log
    before=$(find tests/fuzz/crashes -type f | wc -l)
    rc=0
    "$O/bin/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len="${FUZZ_MAX_LEN:-16384}" -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$ROOT/tests/fuzz/crashes/$t-" "$O/corpus/$t" "$seeds" >"$log" 2>&1 ||
        rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E "^#[0-9]+" "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    after=$(find tests/fuzz/crashes -type f | wc -l)
    if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
        passed=$((passed + 1))
        printf 'PASS %-14s %ss runs=%s exec/s=%s cov=%s ft=%s corpus=%s\n' \
            "$t" "$SECONDS_EACH" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    else
        failed=$((failed + 1))
        what=$(grep -m1 -E '^==[0-9]+==ERROR|runtime error|^==[0-9]+== ERROR|deadly signal|timeout|out-of-memory' "$log" || true)
        art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
        printf 'FAIL %-14s rc=%s %s input=%s log=%s\n' "$t" "$rc" "${what:-see log}" \
            "${art:-none}" "$log"
    fi
done
rm -f /tmp/hd-fuzz-config-*.yaml # fuzz_config's per-process input files
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
