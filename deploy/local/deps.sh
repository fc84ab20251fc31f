#!/usr/bin/env bash
# Installs what the build, the tests and `make run` need, from Debian's packages.
# As root it runs apt-get; otherwise it names exactly what to install.
set -euo pipefail
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
[ "${2:-}" = "--quiet" ] && quiet=1

PACKAGES=(build-essential pkg-config libzmq3-dev protobuf-c-compiler libprotobuf-c-dev
          protobuf-compiler libyaml-dev libpq-dev libcmocka-dev libcurl4-openssl-dev postgresql
          postgresql-client python3 python3-aiosmtpd procps clang-14 libclang-rt-14-dev
          libmicrohttpd-dev prometheus)
# libmicrohttpd serves each service's /healthz, /readyz and /metrics; prometheus (the server,
# /usr/bin/prometheus) is for the end-to-end test that scrapes them (tests/e2e/metrics.c).
# clang builds the libFuzzer targets that `make test` runs for a bounded time and `make fuzz`
# runs longer. --fuzz is still accepted (it used to add them).
# iproute2 (ip, ss) builds the network namespaces of the multi-host test (tests/e2e/multihost.c).
PACKAGES+=(iproute2)
# Node.js and npm: the container smoke test of `make test` (tests/lint/container-smoke.sh) reads
# compose.yaml with the packages of tests/lint/setup-node.sh, as `make lint-deploy` does; Debian's
# where the machine has none of its own (a fresh Debian 12 has them from its image).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

# --lint (make lint-deploy): shellcheck too.
if [ "${1:-}" = "--lint" ] || [ "${2:-}" = "--lint" ]; then
    PACKAGES+=(shellcheck)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    [ $quiet = 1 ] || echo "deps: everything is installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed"
