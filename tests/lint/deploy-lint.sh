#!/usr/bin/env bash
# The checks of deploy/ that `make lint` runs (no Docker engine or cluster needed):
#  - the generated ConfigMaps and the notifier's template items are up to date;
#  - shell scripts pass shellcheck;
#  - tests/lint/deploy-validate.mjs: YAML, Kubernetes schemas (strict), references, compose spec,
#    Dockerfile paths; then its self-test, which must reject every bad fixture;
#  - where kubectl is installed, the kustomization builds.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
node_dir=$(tests/lint/setup-node.sh)
deploy/k8s/gen-configmaps.sh --check
shellcheck deploy/docker/hd-healthcheck deploy/docker/hd-keygen-all deploy/k8s/*.sh tests/lint/*.sh
node tests/lint/deploy-validate.mjs "$node_dir" --self-test
if command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize deploy/k8s >/dev/null
    echo "deploy-lint: kubectl kustomize deploy/k8s builds"
fi
echo "deploy-lint: ok"
