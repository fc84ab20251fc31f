#!/usr/bin/env bash
# Makes the Secrets of deploy/k8s in the cluster (namespace helpdesk), before `kubectl apply -k`:
# the CurveZMQ keys by hd-keygen-all (`helpdesk keygen` for each service and the operator) into
# KEYDIR, and a random PostgreSQL password with the store's database URL.
#   deploy/k8s/make-secrets.sh [KEYDIR]      default var/k8s-keys; needs helpdesk and kubectl
#   deploy/k8s/make-secrets.sh --print [KEYDIR]   write the Secrets as YAML to stdout instead
# Keys in KEYDIR are kept, so running it again re-applies the same keys. The database Secrets are
# made only when absent: PostgreSQL keeps the password it was first started with. KEYDIR keeps
# operator.key, the CLI's key pair: see README, "Deploying in containers".
# Environment: HD_DATABASE_URL (an external PostgreSQL: used as the store's URL, no password made).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
print=0
if [ "${1:-}" = "--print" ]; then
    print=1
    shift
fi
keys=${1:-$repo/var/k8s-keys}
ns=helpdesk
PATH=$repo/deploy/docker:$PATH
command -v helpdesk >/dev/null || PATH=$repo/build/rel/bin:$PATH
command -v helpdesk >/dev/null || { echo "make-secrets: no helpdesk command: run make" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "make-secrets: kubectl is needed" >&2; exit 1; }

[ $print = 1 ] || kubectl apply -f "$repo/deploy/k8s/namespace.yaml"
hd-keygen-all "$keys" >&2
# The allow lists as files: the .pub files, comments and all, one after the other.
cat "$keys"/store-allowed/*.pub >"$keys/store-allowed.list"
cat "$keys"/intake-allowed/*.pub >"$keys/intake-allowed.list"

emit() {
    if [ $print = 1 ]; then
        echo "---"
        cat
    else
        kubectl apply -f -
    fi
}
secret() { # NAME ARGS...: a generic Secret of files or literals
    local name=$1
    shift
    kubectl create secret generic "$name" --namespace "$ns" --dry-run=client -o yaml "$@" | emit
}

secret helpdesk-keys-public --from-file="$keys/store.pub" --from-file="$keys/intake.pub"
secret helpdesk-key-store --from-file="$keys/store.key" \
    --from-file=store-allowed="$keys/store-allowed.list"
secret helpdesk-key-intake --from-file="$keys/intake.key" \
    --from-file=intake-allowed="$keys/intake-allowed.list"
for s in prioritizer router escalation-timer notifier; do
    secret "helpdesk-key-$s" --from-file="$keys/$s.key"
done

if [ $print = 0 ] && kubectl get secret helpdesk-database --namespace "$ns" >/dev/null 2>&1; then
    echo "make-secrets: helpdesk-database exists: kept" >&2
elif [ -n "${HD_DATABASE_URL:-}" ]; then
    secret helpdesk-database --from-literal=url="$HD_DATABASE_URL"
else
    password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    secret helpdesk-postgres --from-literal=password="$password"
    secret helpdesk-database \
        --from-literal=url="postgresql://helpdesk:$password@postgres:5432/helpdesk"
fi
echo "make-secrets: done; the operator's key pair is $keys/operator.key" >&2
