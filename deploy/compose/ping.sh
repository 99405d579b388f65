#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors
#
# Pings, from a client of the compose mesh, its endpoint's address: the one
# its mesh interface has a route to (each connection gets its own pair, so
# the address depends on which client connected first).
#
#   deploy/compose/ping.sh [nsc-1|nsc-2] [count]     (COMPOSE_PROJECT_NAME, default nsmesh)
set -eu
svc=${1:-nsc-2}
count=${2:-3}
dir=$(cd "$(dirname "$0")" && pwd)
exec docker-compose -p "${COMPOSE_PROJECT_NAME:-nsmesh}" -f "$dir/docker-compose.yml" exec -T "$svc" sh -c '
	dst=$(ip route | awk "/dev nsm-icmp/ { sub(\"/.*\", \"\", \$1); print \$1; exit }")
	[ -n "$dst" ] || { echo "no route over nsm-icmp yet: not connected (docker-compose logs '"$svc"')" >&2; exit 1; }
	exec ping -c "$1" "$dst"' ping "$count"
