#!/usr/bin/env bash
# Installs the Node.js packages of the deploy checks (tests/lint/package.json, pinned by
# package-lock.json) into build/lint-node, once per change of the lock file. Node.js and npm come
# from the machine or from Debian (deploy/local/deps.sh --lint adds nodejs and npm).
#   tests/lint/setup-node.sh [DIR]     default build/lint-node; prints DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$repo/build/lint-node}
for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "setup-node: $tool is missing: run deploy/local/deps.sh --lint" >&2; exit 1; }
done
mkdir -p "$dir"
if ! cmp -s "$repo/tests/lint/package-lock.json" "$dir/package-lock.json" ||
    [ ! -d "$dir/node_modules" ]; then
    echo "setup-node: npm ci into $dir" >&2
    cp "$repo/tests/lint/package.json" "$repo/tests/lint/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || {
        rm -f "$dir/package-lock.json" # try again next time
        echo "setup-node: npm ci failed" >&2
        exit 1
    }
fi
echo "$dir"
