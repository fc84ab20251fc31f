#!/usr/bin/env bash
# A private PostgreSQL cluster in a folder, for `make run` and the tests.
#   pg.sh start DIR PORT   initdb (first time) and start; prints the connection URL
#   pg.sh stop DIR         fast shutdown
#   pg.sh url DIR PORT     the connection URL
# initdb refuses to run as root, so as root the server runs as the `postgres` system user.
# It listens on loopback and a Unix socket inside DIR only.
# HD_PG_FSYNC, HD_PG_SYNC (on): durability; HD_PG_OPTS: more server options, e.g. to see slow
# plans: HD_PG_OPTS="-c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration=5ms"
set -euo pipefail

pg_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    echo "pg.sh: no PostgreSQL server found under /usr/lib/postgresql; run 'make deps'" >&2
    return 1
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        # runuser keeps our environment out; -p keeps PATH-independent behaviour simple.
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:?usage: pg.sh start|stop|url DIR [PORT]}
dir=$(realpath -m "${2:?usage: pg.sh start|stop|url DIR [PORT]}")
port=${3:-55432}
url="postgresql://postgres@127.0.0.1:${port}/postgres"

case "$cmd" in
start)
    bin=$(pg_bin)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$dir"
        # every parent must be traversable by the postgres user
        p="$dir"; while [ "$p" != / ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 \
            -c fsync=${HD_PG_FSYNC:-on} -c synchronous_commit=${HD_PG_SYNC:-on} ${HD_PG_OPTS:-}" \
        start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
    echo "$url"
    ;;
stop)
    bin=$(pg_bin)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
url)
    echo "$url"
    ;;
*)
    echo "usage: pg.sh start|stop|url DIR [PORT]" >&2
    exit 2
    ;;
esac
