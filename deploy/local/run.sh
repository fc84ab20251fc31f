#!/usr/bin/env bash
# The embedded default (`make run`): a private PostgreSQL under var/pg (unless HD_DATABASE_URL
# names an existing one), then hd-store, hd-intake, hd-prioritizer, hd-router,
# hd-escalation-timer and hd-notifier with
# deploy/local/helpdesk.yaml, in the foreground until Ctrl-C or SIGTERM, which stops the
# services and then PostgreSQL. If a service dies, everything is stopped.
#   deploy/local/run.sh BIN_DIR
# Environment: HD_DATABASE_URL (use this server instead of var/pg), HD_PG_PORT (var/pg's port,
# default 55432), HD_CONFIG (another config file), and any HD_<KEY> config override.
set -uo pipefail

bin=${1:?usage: deploy/local/run.sh BIN_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$bin" && pwd) || { echo "run: no folder $1" >&2; exit 1; }
cd "$repo" || exit 1
config=${HD_CONFIG:-deploy/local/helpdesk.yaml}
pg_port=${HD_PG_PORT:-55432}
logdir=var/log
services=(hd-store hd-intake hd-prioritizer hd-router hd-escalation-timer hd-notifier)
declare -A pid=()
own_pg=0
tail_pid=""
stopping=0

say() { echo "run: $*" >&2; }

for s in "${services[@]}" helpdesk; do
    [ -x "$bin/$s" ] || { say "$bin/$s is missing: build it with 'make'"; exit 1; }
done
[ -f "$config" ] || { say "no config file $config"; exit 1; }

# Stops one service: SIGTERM, then SIGKILL after 10 s.
stop_one() {
    local s=$1 p=${pid[$1]:-} i
    [ -n "$p" ] || return 0
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$p" 2>/dev/null; then
            say "$s (pid $p) did not stop in 10 s; killing it"
            kill -KILL "$p" 2>/dev/null
        fi
    fi
    wait "$p" 2>/dev/null
    unset "pid[$s]"
}

stop_all() {
    [ $stopping = 1 ] && return
    stopping=1
    local s
    # the front door first, the store (which the others talk to) last
    for s in hd-intake hd-notifier hd-escalation-timer hd-prioritizer hd-router hd-store; do
        stop_one "$s"
    done
    if [ $own_pg = 1 ]; then
        say "stopping PostgreSQL (var/pg)"
        deploy/local/pg.sh stop var/pg || say "PostgreSQL did not stop cleanly"
    fi
    if [ -n "$tail_pid" ]; then
        sleep 0.2 # let the last log lines through
        kill "$tail_pid" 2>/dev/null
        wait "$tail_pid" 2>/dev/null
    fi
    say "stopped"
}

on_signal() {
    say "stopping (signal)"
    stop_all
    exit 0
}
trap on_signal INT TERM
trap stop_all EXIT

mkdir -p "$logdir"
if [ -z "${HD_DATABASE_URL:-}" ]; then
    say "starting PostgreSQL under var/pg on 127.0.0.1:$pg_port"
    # its own session, so a Ctrl-C reaches this script and not the server: we stop it last
    if ! url=$(setsid deploy/local/pg.sh start var/pg "$pg_port"); then
        say "PostgreSQL did not start"
        exit 1
    fi
    own_pg=1
    export HD_DATABASE_URL=$url
else
    say "using the PostgreSQL at HD_DATABASE_URL"
fi

logs=()
for s in "${services[@]}"; do
    : >"$logdir/$s.log"
    logs+=("$logdir/$s.log")
done
tail -q -n +1 -F "${logs[@]}" 2>/dev/null &
tail_pid=$!

# Starts a service in its own session (signals come from this script only) and waits for its
# "event=ready" line.
start() {
    local s=$1 i
    setsid "$bin/$s" --config "$config" >>"$logdir/$s.log" 2>&1 </dev/null &
    pid[$s]=$!
    for ((i = 0; i < 300; i++)); do
        grep -q 'event=ready' "$logdir/$s.log" && return 0
        if ! kill -0 "${pid[$s]}" 2>/dev/null; then
            wait "${pid[$s]}"
            say "$s exited with code $? while starting (log: $logdir/$s.log)"
            unset "pid[$s]"
            return 1
        fi
        sleep 0.1
    done
    say "$s did not get ready in 30 s (log: $logdir/$s.log)"
    return 1
}

for s in "${services[@]}"; do
    start "$s" || exit 1
done

ready_line() { grep -m1 'event=ready' "$logdir/$1.log" | sed 's/.*event=ready *//'; }
cat >&2 <<EOF

run: the help desk is running (logs in $logdir/, shown below). Ctrl-C stops everything.
  hd-intake       $(ready_line hd-intake)
  hd-store        $(ready_line hd-store)
  hd-prioritizer  $(ready_line hd-prioritizer)
  hd-router       $(ready_line hd-router)
  hd-escalation-timer $(ready_line hd-escalation-timer)
  hd-notifier     $(ready_line hd-notifier)
  database        ${HD_DATABASE_URL}

In another terminal:
  $bin/helpdesk --config $config submit --name "Amira Haddad" --email amira@example.com \\
      --language ar --problem "الشبكة متوقفة في مركز البيانات" --category network --users 250
  $bin/helpdesk --config $config list --status queued
  $bin/helpdesk --config $config show 1
  $bin/helpdesk --config $config watch

EOF

# Runs until a signal (handled by on_signal) or a service exits on its own.
while :; do
    wait -n "${pid[@]}"
    rc=$?
    [ $stopping = 1 ] && break
    for s in "${services[@]}"; do
        p=${pid[$s]:-}
        if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then
            wait "$p" 2>/dev/null
            rc=$?
            say "$s (pid $p) exited with code $rc; stopping everything (log: $logdir/$s.log)"
            unset "pid[$s]"
            stop_all
            exit 1
        fi
    done
done
