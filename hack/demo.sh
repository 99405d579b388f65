#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors
#
# make demo: a two-node nsmesh in network namespaces on this machine.
#
# It builds the binaries, makes two "nodes" (network namespaces joined by a
# veth underlay), starts the registry, an nsmgr and a kernel forwarder on
# each node, an ICMP endpoint on node 2 and a client on each node, shows the
# connections and pings across them, then takes everything down again: at
# the end, on Ctrl-C, or on any error. Everything it creates is named
# nsmdemo-*; leftovers of an interrupted run are removed first.
#
# Usage (as root): hack/demo.sh [--wait]
#   --wait   keep the mesh up after the pings until Ctrl-C, to look around
set -euo pipefail

PREFIX=nsmdemo
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/bin
RUN=${NSM_DEMO_DIR:-/tmp/nsmesh-demo}
SOCK=$RUN/sock
LOGS=$RUN/logs
WAIT=false
[ "${1:-}" = "--wait" ] && WAIT=true

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
	B='' G='' R='' D='' N=''
fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
info() { printf '    %s\n' "$*"; }
fail() {
	printf '%sdemo: %s%s\n' "$R" "$*" "$N" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (it creates network namespaces, veth and vxlan devices): sudo make demo"
for c in ip setsid; do
	command -v "$c" >/dev/null || fail "needs the $c command (make setup installs iproute2)"
done

# Namespaces of the demo: two nodes and three workloads.
NODE1=$PREFIX-node1 NODE2=$PREFIX-node2
NSE=$PREFIX-endpoint CLIENT1=$PREFIX-client1 CLIENT2=$PREFIX-client2
ALL_NS=("$CLIENT1" "$CLIENT2" "$NSE" "$NODE2" "$NODE1")

# remove_all stops every process of the demo's namespaces (SIGTERM, then
# SIGKILL), deletes the namespaces and the sockets. It is also how a run
# starts, so that an interrupted run leaves nothing behind for long.
remove_all() {
	local ns pids left
	for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true
	done
	for _ in $(seq 50); do
		left=""
		for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
			left+=$(ip netns pids "$ns" 2>/dev/null || true)
		done
		[ -z "$left" ] && break
		sleep 0.1
	done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$SOCK"
}

# start NAME NETNS BINARY VAR=VALUE... runs a binary in a namespace in its
# own session (so a Ctrl-C reaches only this script, which stops everything
# in order), logging to $LOGS/NAME.log. Each process gets its own SVID from
# the demo's trust domain ($IDS/NAME): mutual TLS on every hop, path tokens
# signed with the SVID's key.
start() {
	local name=$1 ns=$2 bin=$3
	shift 3
	setsid ip netns exec "$ns" env -i PATH="$PATH" NSM_SVID_DIR="$IDS/$name" "$@" "$BIN/$bin" >"$LOGS/$name.log" 2>&1 &
}

# wait_log NAME PATTERN [COUNT] waits until NAME's log has COUNT lines
# matching PATTERN, failing after 30s with the log's tail.
wait_log() {
	local name=$1 pattern=$2 count=${3:-1} i
	for i in $(seq 300); do
		if [ "$(grep -c -- "$pattern" "$LOGS/$name.log" 2>/dev/null || true)" -ge "$count" ]; then
			return 0
		fi
		sleep 0.1
	done
	printf '%s--- last lines of %s:%s\n' "$D" "$LOGS/$name.log" "$N" >&2
	tail -n 20 "$LOGS/$name.log" >&2 || true
	fail "$name did not log \"$pattern\" within 30s"
}

# field LINE KEY prints the value of KEY in a logrus text line.
field() {
	local v
	v=$(grep -o "[ ]$2=\"[^\"]*\"" <<<"$1" || grep -o "[ ]$2=[^ ]*" <<<"$1" || true)
	v=${v#* "$2"=}
	v=${v#\"}
	printf '%s' "${v%\"}"
}

teardown() {
	local status=$?
	trap - EXIT INT TERM
	step "teardown: clients close their connections, then everything stops"
	local ns pids
	for ns in "$CLIENT1" "$CLIENT2"; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true
	done
	for name in client1 client2; do
		if [ -f "$LOGS/$name.log" ] && grep -q "connected to" "$LOGS/$name.log"; then
			wait_log "$name" 'msg=closed' 1 2>/dev/null && info "$name: connection closed" || info "$name: no close logged"
		fi
	done
	remove_all
	if [ -n "$(ip netns list | grep "^$PREFIX-" || true)" ]; then
		printf '%sdemo: namespaces left: %s%s\n' "$R" "$(ip netns list | grep "^$PREFIX-" | tr '\n' ' ')" "$N" >&2
		status=1
	fi
	info "namespaces deleted, processes stopped; logs kept in $LOGS"
	exit "$status"
}

step "nsmesh demo: two nodes, a registry, an ICMP endpoint and two clients, all in network namespaces"
if ip netns list | grep -q "^$PREFIX-"; then
	info "removing what an interrupted earlier run left: $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" | tr '\n' ' ')"
fi
remove_all
rm -rf "$LOGS"
mkdir -p "$SOCK" "$LOGS"
trap teardown EXIT
trap 'printf "\n    interrupted\n"; exit 130' INT TERM

step "build (make build)"
make -C "$ROOT" --no-print-directory build | sed 's/^/    /'

step "nodes: $NODE1 (192.0.2.1) and $NODE2 (192.0.2.2), joined by a veth underlay"
for ns in "${ALL_NS[@]}"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip link add ul0 netns "$NODE1" type veth peer name ul0 netns "$NODE2"
ip -n "$NODE1" addr add 192.0.2.1/24 dev ul0
ip -n "$NODE2" addr add 192.0.2.2/24 dev ul0
ip -n "$NODE1" link set ul0 up
ip -n "$NODE2" link set ul0 up
info "the addresses exist only inside the namespaces; nothing is added to this machine's own network"

step "identities: a development trust domain (nsmctl devca), one X.509-SVID per process"
IDS=$SOCK/identities
"$BIN/cmd-nsmctl" devca init --dir "$IDS" --trust-domain nsmesh.local \
	--components registry,nsmgr:nsmgr1,nsmgr:nsmgr2,forwarder:forwarder1,forwarder:forwarder2,nse:endpoint,nsc:client1,nsc:client2 \
	| sed 's/^/    /'
info "every gRPC hop below is mutual TLS with these SVIDs; path tokens are ES256 JWTs signed with their keys"

step "control plane: registry on node1, an nsmgr and a kernel forwarder on each node"
start registry "$NODE1" cmd-registry NSM_LISTEN_ON=tcp://192.0.2.1:5002
for i in 1 2; do
	node=$PREFIX-node$i
	start "nsmgr$i" "$node" cmd-nsmgr NSM_NAME="nsmgr$i" \
		NSM_LISTEN_ON="unix://$SOCK/nsmgr$i.sock,tcp://192.0.2.$i:5001" NSM_REGISTRY_URL=tcp://192.0.2.1:5002
	start "forwarder$i" "$node" cmd-forwarder-kernel NSM_NAME="$PREFIX-fwd$i" NSM_LISTEN_ON="unix://$SOCK/fwd$i.sock" \
		NSM_CONNECT_TO="unix://$SOCK/nsmgr$i.sock" NSM_TUNNEL_IP="192.0.2.$i" NSM_STATE_DIR="$RUN/state"
done
wait_log registry "listening on"
for i in 1 2; do
	wait_log "nsmgr$i" "msg=serving"
	wait_log "forwarder$i" "msg=registered"
	info "node$i: nsmgr$i serving on $SOCK/nsmgr$i.sock and tcp://192.0.2.$i:5001; forwarder $PREFIX-fwd$i registered (tunnel address 192.0.2.$i)"
done

step "endpoint: an ICMP responder on node2 in $NSE, network service \"icmp-responder\", addresses from 172.16.0.0/24"
start endpoint "$NSE" cmd-nse-icmp NSM_NAME=icmp-responder-1 NSM_CONNECT_TO="unix://$SOCK/nsmgr2.sock" \
	NSM_LISTEN_ON="unix://$SOCK/endpoint.sock" NSM_SERVICE_NAMES=icmp-responder NSM_PAYLOAD=IP NSM_CIDR_PREFIX=172.16.0.0/24 \
	NSM_UNREGISTER_ITSELF=true
wait_log endpoint "msg=registered"
info "registered through nsmgr2 in the registry"

step "clients: $CLIENT1 on node1 (remote: WireGuard over the underlay), $CLIENT2 on node2 (local: a veth pair)"
start client1 "$CLIENT1" cmd-nsc NSM_NAME=client1 NSM_CONNECT_TO="unix://$SOCK/nsmgr1.sock" \
	NSM_NETWORK_SERVICES=kernel://icmp-responder/nsm0
start client2 "$CLIENT2" cmd-nsc NSM_NAME=client2 NSM_CONNECT_TO="unix://$SOCK/nsmgr2.sock" \
	NSM_NETWORK_SERVICES=kernel://icmp-responder/nsm0
wait_log client1 "connected to"
wait_log client2 "connected to"

step "connections"
for name in client1 client2; do
	line=$(grep "connected to" "$LOGS/$name.log" | tail -n 1)
	ns=$PREFIX-$name
	printf '    %s%s%s (namespace %s)\n' "$B" "$name" "$N" "$ns"
	info "  path:      $(field "$line" path)"
	info "  interface: $(field "$line" interface) with $(field "$line" src) in the client, $(field "$line" dst) at the endpoint"
	info "  took:      $(field "$line" duration)"
	info "  ${D}\$ ip -n $ns -br addr; ip -n $ns route${N}"
	ip -n "$ns" -br addr | sed 's/^/        /'
	ip -n "$ns" route | sed 's/^/        /'
done
printf '    %sendpoint%s (namespace %s): one interface per client\n' "$B" "$N" "$NSE"
info "  ${D}\$ ip -n $NSE -d link; ip -n $NSE -br addr${N}"
# The name line of each link, then its kind from the details line.
ip -n "$NSE" -d link | awk '
	/^[0-9]+:/ { name = $2; sub(/:$/, "", name); sub(/@.*/, "", name); next }
	name != "" && $1 == "vxlan" { printf "        %-18s vxlan id %s, remote %s, local %s (from client1 on node1)\n", name, $3, $5, $7; name = "" }
	name != "" && $1 == "veth" { printf "        %-18s veth (peer: nsm0 in client2, same node)\n", name; name = "" }
	name != "" && $1 == "tun" { printf "        %-18s WireGuard tunnel (wireguard-go in forwarder2, encrypted over the underlay; from client1 on node1)\n", name; name = "" }'
ip -n "$NSE" -br addr | grep -v '^lo ' | sed 's/^/        /'

step "ping across the mesh"
if command -v ping >/dev/null; then
	for name in client1 client2; do
		line=$(grep "connected to" "$LOGS/$name.log" | tail -n 1)
		dst=$(field "$line" dst)
		dst=${dst%%/*}
		info "${D}\$ ip netns exec $PREFIX-$name ping -c 3 $dst${N}"
		ip netns exec "$PREFIX-$name" ping -c 3 -i 0.3 -W 2 "$dst" | sed 's/^/        /' ||
			fail "ping from $name to $dst failed"
	done
	printf '    %sboth clients reach the endpoint%s\n' "$G" "$N"
else
	info "ping is not installed (make setup installs iputils-ping); skipped"
fi

if $WAIT; then
	step "the mesh stays up until Ctrl-C; try for example:"
	info "ip netns exec $CLIENT1 ping 172.16.0.0"
	info "ip -n $CLIENT1 -d link show nsm0"
	info "tail -f $LOGS/forwarder1.log"
	while :; do sleep 1; done
fi
