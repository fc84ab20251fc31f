#!/usr/bin/env bash
# The compose deployment without a Docker engine: the services of deploy/compose.yaml run from
# BIN_DIR with the command and environment compose gives them, as the image's user 10001 on a
# read-only root, in a private mount and network namespace laid out as the image is
# (/etc/helpdesk from deploy/docker/helpdesk.yaml, the rules and templates, the keys made by
# hd-keygen-all as the `keys` service makes them; the names store, intake and postgres resolve to
# the namespace's loopback). A contact with two problems must become two queued tickets over
# CurveZMQ; the store, restarted with its allow list as one file (as Kubernetes mounts it), must
# carry on; a client whose key intake does not admit must be refused; hd-healthcheck must tell
# 200 from 404. Needs root (unshare), PostgreSQL (deploy/local/pg.sh) and the Node.js packages of
# tests/lint/setup-node.sh. Takes about 10 s.
#   tests/lint/container-smoke.sh BIN_DIR      e.g. build/rel/bin; ends with "container-smoke: ok"
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:?usage: tests/lint/container-smoke.sh BIN_DIR}" && pwd)
[ "$(id -u)" = 0 ] || { echo "container-smoke: needs root for unshare" >&2; exit 1; }
node_dir=$("$repo/tests/lint/setup-node.sh")

tmp=$(mktemp -d /tmp/hd-container-smoke.XXXXXX)
chmod 0755 "$tmp"
keep=0
cleanup() { [ $keep = 1 ] || rm -rf "$tmp"; }
trap cleanup EXIT

# /etc/helpdesk as the Dockerfile lays it out, and the keys volume as the keys service fills it.
etc=$tmp/etc-helpdesk
mkdir -p "$etc"
cp "$repo/deploy/docker/helpdesk.yaml" "$etc/helpdesk.yaml"
cp -r "$repo/deploy/local/rules" "$etc/rules"
cp -r "$repo/deploy/local/templates" "$etc/templates"
PATH=$bin:$repo/deploy/docker:$PATH hd-keygen-all "$etc/keys" >/dev/null 2>&1
chown -R 10001:10001 "$etc/keys" # the keys service runs as the image's user

# Each service's command and environment, read from compose.yaml itself (${VAR:-default} as
# compose fills it in with nothing set): one line "name<TAB>command<TAB>K=V<TAB>K=V...".
node --input-type=module - "$node_dir" "$repo/deploy/compose.yaml" >"$tmp/services.tsv" <<'EOF'
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
const [nodeDir, file] = process.argv.slice(2);
const YAML = createRequire(path.join(nodeDir, "package.json"))("yaml");
const c = YAML.parse(fs.readFileSync(file, "utf8"), { version: "1.1", merge: true });
const fill = (v) => String(v).replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, k, d) => process.env[k] ?? d ?? "");
for (const name of ["store", "intake", "prioritizer", "router", "escalation-timer", "notifier", "cli"]) {
  const s = c.services[name];
  const env = Object.entries(s.environment ?? {}).map(([k, v]) => `${k}=${fill(v)}`);
  console.log([name, s.command[0], ...env].join("\t"));
}
EOF

# The part inside the namespaces: its own /etc (an overlay), loopback, PostgreSQL, the services.
cat >"$tmp/inside.sh" <<'EOF'
set -euo pipefail
tmp=$1 bin=$2 repo=$3
ip link set lo up
mkdir -p "$tmp/ovl"
mount -t tmpfs tmpfs "$tmp/ovl"
mkdir -p "$tmp/ovl/upper" "$tmp/ovl/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$tmp/ovl/upper,workdir=$tmp/ovl/work" /etc
mkdir -p /etc/helpdesk
mount --bind "$tmp/etc-helpdesk" /etc/helpdesk
echo "127.0.0.1 store intake postgres" >>/etc/hosts
# read_only: true, as compose runs them: the root becomes read-only, only $tmp (the logs and
# PostgreSQL's files) and the /etc overlay stay writable; the image's WORKDIR.
mount --bind "$tmp" "$tmp"
mount -o remount,bind,ro /
touch /smoke-ro-probe 2>/dev/null && { echo "the root is still writable"; exit 1; }
cd /etc/helpdesk
export PATH=$bin:$repo/deploy/docker:$PATH
# the image's user; a process it starts can be signalled by this root shell
as_user="setpriv --reuid 10001 --regid 10001 --clear-groups --"

pids=()
stop_all() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    "$repo/deploy/local/pg.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
}
trap stop_all EXIT

# postgres:15 as compose starts it: user, password and database helpdesk, UTF8.
"$repo/deploy/local/pg.sh" start "$tmp/pg" 5432 >/dev/null
psql -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE helpdesk LOGIN PASSWORD 'helpdesk'" -c "CREATE DATABASE helpdesk OWNER helpdesk"

declare -A cli_env=() store_env=() http_of=()
http_port=8080
start() { # NAME COMMAND K=V...: as compose runs it, with HD_CONFIG from the image; each its own
    local name=$1 cmd=$2 i port=$((http_port++)) # HTTP port, as they share one network here
    shift 2
    http_of[$name]=0.0.0.0:$port
    : >"$tmp/$name.log" # before the child opens it, for the grep below
    $as_user env -i PATH="$PATH" HD_CONFIG=/etc/helpdesk/helpdesk.yaml \
        HD_HTTP_LISTEN=0.0.0.0:$port "$@" "$cmd" >>"$tmp/$name.log" 2>&1 &
    pids+=($!)
    for ((i = 0; i < 300; i++)); do
        grep -q 'event=ready' "$tmp/$name.log" && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || { echo "$name exited:"; cat "$tmp/$name.log"; return 1; }
        sleep 0.1
    done
    echo "$name did not get ready in 30 s:"
    cat "$tmp/$name.log"
    return 1
}
while IFS=$'\t' read -r name cmd rest; do
    IFS=$'\t' read -r -a envs <<<"$rest"
    if [ "$name" = cli ]; then
        for kv in "${envs[@]}"; do cli_env[${kv%%=*}]=${kv#*=}; done
        continue
    fi
    [ "$name" = store ] && for kv in "${envs[@]}"; do store_env[${kv%%=*}]=${kv#*=}; done
    start "$name" "$cmd" "${envs[@]}"
done <"$tmp/services.tsv"
grep -q 'curve=on' "$tmp/store.log" || { echo "the store did not start with CurveZMQ on"; exit 1; }
grep -q 'curve=on' "$tmp/intake.log" || { echo "intake did not start with CurveZMQ on"; exit 1; }
if grep -q 'event=curve_key_exposed' "$tmp"/*.log; then
    echo "a secret key file is readable by others:"
    grep -h 'event=curve_key_exposed' "$tmp"/*.log
    exit 1
fi

cli() { # helpdesk as `docker compose run --rm cli helpdesk ...`
    local kv=()
    for k in "${!cli_env[@]}"; do kv+=("$k=${cli_env[$k]}"); done
    $as_user env -i PATH="$PATH" HD_CONFIG=/etc/helpdesk/helpdesk.yaml "${kv[@]}" helpdesk "$@"
}
submit() { # EXTERNAL_ID: one contact, two problems
    cli submit --channel phone --agent smoke --name "Amira Haddad" --email amira@example.com \
        --language ar --external-id "$1" \
        --problem "الشبكة متوقفة في مركز البيانات" --category network --users 250 \
        --urgency critical --impact critical \
        --problem "Imprimante en panne au 2e étage" --category printing --users 3
}
wait_queued() { # N: until N tickets are queued, 15 s at most
    local queued=0 i
    for ((i = 0; i < 150; i++)); do
        queued=$(cli --json list --status queued | grep -o '"status": *"queued"' | wc -l || true)
        [ "$queued" -ge "$1" ] && break
        sleep 0.1
    done
    [ "$queued" = "$1" ] || { echo "expected $1 queued tickets, found $queued"; return 1; }
}
submit smoke-1
wait_queued 2
echo "two tickets queued through store, intake, prioritizer and router over CurveZMQ"

# Kubernetes gives the store its allow list as one file (make-secrets.sh: the .pub files one
# after the other): restart the store so, and the pipeline must carry on.
cat /etc/helpdesk/keys/store-allowed/*.pub >"$tmp/store-allowed.list"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || { echo "the store did not stop cleanly on SIGTERM"; exit 1; }
unset 'http_of[store]'
store_env[HD_CURVE_ALLOWED_CLIENTS]=$tmp/store-allowed.list
kv=()
for k in "${!store_env[@]}"; do kv+=("$k=${store_env[$k]}"); done
start store2 hd-store "${kv[@]}"
pids[0]=${pids[-1]}
unset 'pids[-1]'
grep -q 'allowed_clients=6' "$tmp/store2.log" || { echo "the store did not read 6 keys from the list file"; exit 1; }
submit smoke-2
wait_queued 4
echo "with the allow list as a file (Kubernetes), after a store restart: four tickets queued"

# A key intake does not admit (the router's): refused, so no answer (exit 3).
rc=0
$as_user env -i PATH="$PATH" HD_CONFIG=/etc/helpdesk/helpdesk.yaml \
    HD_CURVE_CLIENT_SECRET_KEY_FILE=/etc/helpdesk/keys/router.key \
    helpdesk --timeout 1500 submit --name X --email x@example.com --problem "refused" \
    >/dev/null 2>&1 || rc=$?
[ $rc = 3 ] || { echo "a client with a key intake does not admit got exit $rc, not 3"; exit 1; }
grep -q 'event=curve_refused socket=intake' "$tmp/intake.log" ||
    { echo "intake did not log the refusal"; exit 1; }
echo "a client key intake does not admit is refused"

# hd-healthcheck, the containers' health check: 0 on a 200, not 0 otherwise.
mkdir -p "$tmp/www"
: >"$tmp/www/healthz"
python3 -m http.server 9999 --bind 127.0.0.1 --directory "$tmp/www" >/dev/null 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do
    HD_HTTP_LISTEN=0.0.0.0:9999 hd-healthcheck /healthz 2>/dev/null && break
    sleep 0.1
done
HD_HTTP_LISTEN=0.0.0.0:9999 hd-healthcheck /healthz || { echo "hd-healthcheck: no 0 on 200"; exit 1; }
if HD_HTTP_LISTEN=0.0.0.0:9999 hd-healthcheck /readyz 2>/dev/null; then
    echo "hd-healthcheck: 0 on a 404"
    exit 1
fi
echo "hd-healthcheck answers 0 on 200 and 1 on 404"
# The services' own /healthz and /readyz, once they serve HTTP (built with libmicrohttpd).
# (not `grep -q`: it stops reading early, ldd dies of SIGPIPE, and with pipefail the test
# would wrongly conclude there is no HTTP)
if ldd "$bin/hd-store" | grep libmicrohttpd >/dev/null; then
    for name in "${!http_of[@]}"; do
        HD_HTTP_LISTEN=${http_of[$name]} hd-healthcheck /healthz || { echo "$name: /healthz failed"; exit 1; }
        HD_HTTP_LISTEN=${http_of[$name]} hd-healthcheck /readyz || { echo "$name: /readyz failed"; exit 1; }
    done
    echo "every service answers /healthz and /readyz"
else
    echo "the services do not serve HTTP yet (no libmicrohttpd): /healthz of each not checked"
fi
EOF

rc=0
unshare --mount --net --propagation private bash "$tmp/inside.sh" "$tmp" "$bin" "$repo" || rc=$?
if [ $rc != 0 ]; then
    keep=1
    echo "container-smoke: FAILED (logs in $tmp)" >&2
    exit 1
fi
echo "container-smoke: ok"
