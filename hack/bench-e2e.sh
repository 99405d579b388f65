#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors
#
# make bench-e2e: the numbers of issue 3 on the real data plane (request
# latency local and remote, sequential and with 20 concurrent clients;
# iperf3 through the mesh against a direct veth pair; memory and goroutines
# of the nsmgrs and forwarders at 0 and 500 connections). Needs root and
# iperf3 (make setup). Arguments go to test/cmd/bench-e2e (-h lists them).
# Record the results in docs/performance.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench-e2e: needs root (network namespaces, veth and vxlan devices)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$ROOT/test" && go build -o "$tmp/bench-e2e" ./cmd/bench-e2e)
"$tmp/bench-e2e" "$@"
