#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors
#
# End-to-end test of the docker-compose mesh (deploy/compose): builds the
# images from host-compiled binaries, brings the mesh up under a project name
# of its own and checks, with real kernel interfaces and ICMP:
#   1. each client got exactly its one interface and pings the endpoint
#      (nsc-1 on the endpoint's node, nsc-2 across nodes over VXLAN);
#   2. after both forwarder containers restart, traffic flows, the
#      connections are refreshed through the new forwarders and no interface
#      is duplicated or left behind;
#   3. stopping node 2 (nsmgr, forwarder and its client) does not disturb
#      nsc-1, and node 1 removes node 2's tunnel once its tokens expire.
# The project is torn down on every exit. Without a Docker engine the test
# is skipped with the reason. Timings go to stdout (docs/performance.md).
#
# Environment: KEEP=1 leaves the mesh up after a failure for inspection
# (remove it with: docker-compose -p <project> -f deploy/compose/docker-compose.yml down -v).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
file="$root/deploy/compose/docker-compose.yml"
# Short tokens make the clients refresh every 6 s, so a restarted forwarder
# sees every connection again within seconds.
export NSM_MAX_TOKEN_LIFETIME=${NSM_MAX_TOKEN_LIFETIME:-30s}
export NSM_TAG=${NSM_TAG:-dev}
export NSM_IMAGE_PREFIX=${NSM_IMAGE_PREFIX:-nsmesh/}
lifetime_s=$(($(sed -E 's/^([0-9]+)s$/\1/; s/^([0-9]+)m$/\1*60/' <<<"$NSM_MAX_TOKEN_LIFETIME")))

log() { printf 'compose-test: %s\n' "$*" >&2; }
skip() {
	log "SKIPPED: $*"
	exit 0
}
fail() {
	log "FAILED: $*"
	exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if ! command -v docker >/dev/null 2>&1; then
	skip "no docker client installed"
fi
if ! info_err=$(docker info 2>&1 >/dev/null); then
	skip "no Docker engine answers (docker info: $(tail -n1 <<<"$info_err"))"
fi
if ! command -v docker-compose >/dev/null 2>&1; then
	skip "a Docker engine answers but docker-compose is not installed (apt-get install docker-compose)"
fi

t_start=$(now)
log "building images (hack/images.sh)"
TAG=$NSM_TAG IMAGE_PREFIX=$NSM_IMAGE_PREFIX "$root/hack/images.sh" registry nsmgr forwarder-kernel nse-icmp nsc-debug nsmctl
t_images=$(since "$t_start")

project="nsmct$$$RANDOM"
tmp=$(mktemp -d)
dc() { docker-compose --no-ansi -p "$project" -f "$file" "$@"; }

cleanup() {
	rc=$?
	if [ "$rc" -ne 0 ]; then
		log "logs of the failed run (last 40 lines per container):"
		for s in $(dc ps --services 2>/dev/null); do
			echo "----- $s" >&2
			dc logs --no-color --tail=40 "$s" >&2 2>/dev/null || true
		done
		if [ "${KEEP:-}" = 1 ]; then
			log "KEEP=1: project $project left up"
			return
		fi
	fi
	rm -rf "$tmp"
	log "tearing down project $project"
	dc down -v --remove-orphans -t 5 >/dev/null 2>&1 || log "docker-compose down failed; remove project $project by hand"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Container ids, looked up once after `up`: the docker CLI answers in
# milliseconds where each docker-compose (v1, Python) call takes most of a
# second, which would swamp the timings.
declare -A ids
cid() {
	[ -n "${ids[$1]:-}" ] || fail "no container for service $1"
	echo "${ids[$1]}"
}

# ifaces SERVICE: the interfaces of the service's network namespace (not lo),
# read from the host through its first process, so images without tools
# can be inspected too.
ifaces() {
	local pid
	pid=$(docker inspect -f '{{.State.Pid}}' "$(cid "$1")")
	awk -F: 'NR > 2 { gsub(/ /, "", $1); if ($1 != "lo") print $1 }' "/proc/$pid/net/dev" | sort | tr '\n' ' ' | sed 's/ $//'
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls every 0.2 s.
wait_for() {
	local what=$1 limit=$2 deadline
	shift 2
	deadline=$(($(date +%s) + limit))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "$what: not within ${limit}s"
		fi
		sleep 0.2
	done
}

# dst SERVICE: the endpoint address of the client's connection, from its log.
dst() {
	docker logs "$(cid "$1")" 2>&1 | sed -n 's/.*connected to icmp-responder.* dst=\([0-9.]*\)\/.*/\1/p' | tail -n1
}
has_dst() { [ -n "$(dst "$1")" ]; }
ping1() { docker exec "$(cid "$1")" ping -c1 -W1 "$2"; }
count_logs() { docker logs "$(cid "$1")" 2>&1 | grep -c -- "$2" || true; }
# probe_loop SERVICE ADDRESS N: N one-packet pings 0.2 s apart inside the
# client, one line each: "ok", or "lost" and why. (One long busybox ping
# would end at the first send error, e.g. while an interface is recreated.)
probe_loop() {
	docker exec "$(cid "$1")" sh -c '
		i=0
		while [ $i -lt "$2" ]; do
			if out=$(ping -c1 -W1 "$1" 2>&1); then echo ok; else echo "lost: $(echo "$out" | tail -n1)"; fi
			sleep 0.2
			i=$((i + 1))
		done' probe "$2" "$3"
}

log "project $project: docker-compose up (token lifetime $NSM_MAX_TOKEN_LIFETIME)"
t_up=$(now)
dc up -d --no-build >/dev/null 2>&1 || {
	dc up -d --no-build || true
	fail "docker-compose up"
}
t_up_done=$(since "$t_up")
while read -r s id; do
	ids[$s]=$id
done < <(docker ps -a --no-trunc --filter "label=com.docker.compose.project=$project" \
	--format '{{.Label "com.docker.compose.service"}} {{.ID}}')

# ---- 1. interfaces and first pings ------------------------------------------
wait_for "nsc-1 connected" 60 has_dst nsc-1
wait_for "nsc-2 connected" 60 has_dst nsc-2
dst1=$(dst nsc-1)
dst2=$(dst nsc-2)
wait_for "nsc-1 pings $dst1 (same node)" 30 ping1 nsc-1 "$dst1"
t_ping1=$(since "$t_up")
wait_for "nsc-2 pings $dst2 (across nodes)" 30 ping1 nsc-2 "$dst2"
t_ping2=$(since "$t_up")
log "first ping after docker-compose up: nsc-1 (local) ${t_ping1}s, nsc-2 (remote, VXLAN) ${t_ping2}s"

expect_ifaces() {
	local s=$1 want=$2 got
	got=$(ifaces "$s")
	[ "$got" = "$want" ] || fail "$s has interfaces [$got], want [$want]"
}
check_ifaces() {
	expect_ifaces nsc-1 nsm-icmp
	expect_ifaces nsc-2 nsm-icmp
	# one interface per client in the endpoint; the nodes keep only eth0
	# (the forwarders create every interface in a workload's namespace)
	local n
	n=$(ifaces nse-icmp | wc -w)
	[ "$n" -eq 2 ] || fail "nse-icmp has interfaces [$(ifaces nse-icmp)], want two (one per client)${1:+; $1}"
	expect_ifaces nsmgr-1 eth0
	expect_ifaces nsmgr-2 eth0
}
check_ifaces
log "interfaces ok: nsc-1 [$(ifaces nsc-1)], nsc-2 [$(ifaces nsc-2)], nse-icmp [$(ifaces nse-icmp)]"

# ---- 2. forwarder restart -----------------------------------------------------
# The clients refresh every lifetime/5; after the restart each connection
# must pass through the new forwarders at least once.
refresh_wait=$((lifetime_s / 5 + 4))
before1=$(count_logs forwarder-1 serving)
before2=$(count_logs forwarder-2 serving)
serves_again() { [ "$(count_logs "$1" serving)" -gt "$2" ]; }
log "restarting forwarder-1 and forwarder-2 while nsc-2 pings across nodes"
probes=30
probe_loop nsc-2 "$dst2" "$probes" >"$tmp/restart-ping.log" 2>&1 &
ping_pid=$!
t_restart=$(now)
dc restart -t 10 forwarder-1 forwarder-2 >/dev/null 2>&1 || fail "docker-compose restart"
wait_for "forwarder-1 serves again" 30 serves_again forwarder-1 "$before1"
wait_for "forwarder-2 serves again" 30 serves_again forwarder-2 "$before2"
wait_for "nsc-1 pings $dst1 after the restart" 30 ping1 nsc-1 "$dst1"
wait_for "nsc-2 pings $dst2 after the restart" 30 ping1 nsc-2 "$dst2"
t_restart_ping=$(since "$t_restart")
wait "$ping_pid" || true
restart_received=$(grep -c '^ok' "$tmp/restart-ping.log" || true)
log "forwarders restarted: both clients ping ${t_restart_ping}s after docker-compose restart began; $restart_received/$probes probes of nsc-2 answered meanwhile"
log "waiting ${refresh_wait}s for a refresh through the new forwarders"
sleep "$refresh_wait"
ping1 nsc-1 "$dst1" >/dev/null || fail "nsc-1 lost $dst1 after a refresh through the new forwarder"
ping1 nsc-2 "$dst2" >/dev/null || fail "nsc-2 lost $dst2 after a refresh through the new forwarders"
[ "$(dst nsc-1)" = "$dst1" ] && [ "$(dst nsc-2)" = "$dst2" ] || fail "a client reconnected with new addresses"
check_ifaces "more are left behind by the forwarder before its restart"
log "after the restart: same addresses, interfaces ok"

# ---- 3. node 2 stops ------------------------------------------------------------
log "stopping node 2 (nsmgr-2, forwarder-2, nsc-2) while nsc-1 pings"
probes=25
probe_loop nsc-1 "$dst1" "$probes" >"$tmp/stop-ping.log" 2>&1 &
ping_pid=$!
sleep 1
dc stop -t 10 nsc-2 forwarder-2 nsmgr-2 >/dev/null 2>&1 || fail "docker-compose stop node 2"
wait "$ping_pid" || true
received=$(grep -c '^ok' "$tmp/stop-ping.log" || true)
[ "$received" -eq "$probes" ] || fail "only $received/$probes probes of nsc-1 answered while node 2 stopped: $(grep -v '^ok' "$tmp/stop-ping.log" | sort | uniq -c | tr '\n' ' ')"
expect_ifaces nsc-1 nsm-icmp
log "nsc-1 unaffected: $received/$probes probes answered while node 2 stopped"
# Nobody refreshes nsc-2's connection any more: node 1 closes it when its
# tokens expire and removes the tunnel end in the endpoint.
t_stop=$(now)
one_left() { [ "$(ifaces nse-icmp | wc -w)" -eq 1 ]; }
wait_for "nse-icmp keeps only nsc-1's interface" $((lifetime_s * 2 + 10)) one_left
log "node 1 removed node 2's tunnel after $(since "$t_stop")s (token lifetime $NSM_MAX_TOKEN_LIFETIME)"
ping1 nsc-1 "$dst1" >/dev/null || fail "nsc-1 lost $dst1 after node 2's connection was closed"

log "PASSED in $(since "$t_start")s"
printf 'compose-test timings: images %ss, docker-compose up -d returned %ss, first ping nsc-1 (local) %ss, nsc-2 (remote) %ss, both ping %ss after the forwarder restart began (%s/%s probes answered meanwhile)\n' \
	"$t_images" "$t_up_done" "$t_ping1" "$t_ping2" "$t_restart_ping" "$restart_received" 30
