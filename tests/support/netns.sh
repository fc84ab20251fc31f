#!/usr/bin/env bash
# Hosts for the multi-host test (tests/e2e/multihost.c): one network namespace per host, each
# with its own address on a private bridge, as machines on one switch.
#   tests/support/netns.sh hold HOST...
# Builds them, prints "ready TAG", then waits until its standard input closes (the test ended,
# however it ended: its end of the pipe closes even when it is killed) and removes everything it
# made, then prints "removed TAG". SIGTERM, SIGINT and SIGHUP remove everything too.
# Host i (from 0) is namespace hd<TAG>-<HOST> whose eth0 has 10.231.0.<i+2>/24; its cable is
# the veth hd<TAG>v<i> in the root namespace, a port of the bridge hd<TAG>br. The bridge has no
# address: the root namespace takes no part in the hosts' traffic, so two runs side by side do
# not see each other. TAG is "mh" and this script's pid; whatever an earlier run left behind
# (its script no longer running) is removed first. Needs root and iproute2.
set -euo pipefail

subnet=10.231.0

die() {
    echo "netns.sh: $*" >&2
    exit 1
}

# Removes the bridge, veths and namespaces of one tag. Every step may fail (already gone).
remove_tag() {
    local tag=$1 ns link
    for link in $(ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: \(hd${tag}v[0-9]*\)@.*/\1/p"); do
        ip link del "$link" 2>/dev/null || true
    done
    ip link del "hd${tag}br" 2>/dev/null || true
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^hd${tag}-" || true); do
        ip netns del "$ns" 2>/dev/null || true
    done
}

# Leftovers of runs whose script is gone (killed with SIGKILL before it could clean up).
sweep() {
    local tag pid
    for tag in $( (ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^hd\(mh[0-9]*\)-.*/\1/p'
        ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: hd\(mh[0-9]*\)\(br\|v[0-9]*\)[:@].*/\1/p') |
        sort -u); do
        pid=${tag#mh}
        kill -0 "$pid" 2>/dev/null && continue
        echo "netns.sh: removing what run $tag left behind" >&2
        remove_tag "$tag"
    done
}

[ "${1:-}" = hold ] || die "usage: netns.sh hold HOST..."
shift
if [ $# -lt 1 ] || [ $# -gt 200 ]; then die "give 1 to 200 host names"; fi
[ "$(id -u)" = 0 ] || die "must run as root (ip netns, veth, bridge); it runs as uid $(id -u)"
command -v ip >/dev/null || die "ip (iproute2) is missing"

tag=mh$$
bridge=hd${tag}br
cleanup() {
    trap - EXIT INT TERM HUP
    remove_tag "$tag"
    echo "removed $tag"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

sweep
ip link add "$bridge" type bridge forward_delay 0 stp_state 0
# Bridged frames must not pass through the machine's iptables (br_netfilter), whose rules are not
# ours to depend on.
ip link set "$bridge" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 \
    2>/dev/null || true
ip link set "$bridge" up
i=0
for host in "$@"; do
    [[ $host =~ ^[a-z0-9]+$ ]] || die "bad host name: $host"
    ns=hd${tag}-$host
    veth=hd${tag}v$i
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$bridge"
    ip link set "$veth" up
    ip -n "$ns" addr add "$subnet.$((i + 2))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    i=$((i + 1))
done
echo "ready $tag"
# Until the test closes our standard input (or dies: the kernel closes it then).
while read -r _; do :; done
