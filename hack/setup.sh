#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what the build and the tests need on a fresh Debian machine:
# protoc and the well-known .proto files (make generate / verify), iproute2 (netns end-to-end tests), iperf3
# (throughput benchmarks), ping (make demo). Installs only when run as root and something is
# missing; otherwise it says what is missing and goes on.
set -euo pipefail
need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)
# The well-known types (google/protobuf/timestamp.proto, ...) that the APIs
# import come with libprotobuf-dev, which protobuf-compiler only recommends.
[ -f /usr/include/google/protobuf/timestamp.proto ] || need+=(libprotobuf-dev)
command -v ip >/dev/null || need+=(iproute2)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing Debian packages: ${need[*]} (run as root to install them); continuing" >&2
	exit 0
fi
echo "setup: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${need[@]}" >/tmp/nsmesh-setup.log 2>&1; then
	apt-get update >>/tmp/nsmesh-setup.log 2>&1
	apt-get install -y --no-install-recommends "${need[@]}" >>/tmp/nsmesh-setup.log 2>&1 || {
		echo "setup: apt-get install ${need[*]} failed; see /tmp/nsmesh-setup.log" >&2
		exit 1
	}
fi
