#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors
#
# Builds the container images of the root Dockerfile from binaries compiled
# on this host, for machines that cannot pull a Go image (no registry).
#
#   hack/images.sh [target...]        build the images (default: all targets)
#   hack/images.sh binaries <dir>     only compile into <dir>: bin/<component>,
#                                     bin/healthcheck, rootfs/ (the Dockerfile's
#                                     Go-image build runs this too)
#
# Environment: IMAGE_PREFIX (default nsmesh/), TAG (default dev), GO (go),
# DOCKER (default: a docker client that can use BuildKit, see below).
# Images are named $IMAGE_PREFIX<target>:$TAG. A target whose command does not
# exist yet (cmd-<name>/ missing) is skipped with a note.
#
# POSIX sh on purpose: the Go-image build may not have bash.
set -eu

ALL_TARGETS="registry nsmgr forwarder-kernel forwarder-vpp nse-icmp nsc nsc-debug nsmctl"

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}

say() { echo "images: $*" >&2; }
die() {
	say "$*"
	exit 1
}

# binaries DIR: static binaries of every cmd-* module and of hack/healthcheck,
# plus the directory skeleton every image starts from.
binaries() {
	out=$1
	mkdir -p "$out/bin"
	cd "$root"
	pkgs=""
	for m in cmd-*/go.mod; do
		[ -f "$m" ] || continue
		pkgs="$pkgs ./$(dirname "$m")"
	done
	[ -n "$pkgs" ] || die "no cmd-* module under $root"
	hc=""
	for f in hack/healthcheck/*.go; do
		case "$f" in *_test.go) ;; *) hc="$hc $f" ;; esac
	done
	tmp="$out/bin/.cmd"
	rm -rf "$tmp" && mkdir -p "$tmp"
	say "compiling$pkgs hack/healthcheck (CGO_ENABLED=0, -trimpath, -s -w)"
	# shellcheck disable=SC2086 # word splitting of the package lists is wanted
	CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$tmp/" $pkgs
	# shellcheck disable=SC2086
	CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$out/bin/healthcheck" $hc
	for b in "$tmp"/cmd-*; do
		mv -f "$b" "$out/bin/${b##*/cmd-}"
	done
	rmdir "$tmp"
	# scratch has no directories at all: /tmp for os.TempDir, the socket
	# directory so that a fresh volume mounted there gets its mode.
	mkdir -p "$out/rootfs/tmp" "$out/rootfs/var/lib/networkservicemesh"
	chmod 1777 "$out/rootfs/tmp"
	chmod 0755 "$out/rootfs/var/lib/networkservicemesh"
}

# pick_docker sets DOCKER_CMD to a command that builds with BuildKit.
pick_docker() {
	if [ -n "${DOCKER:-}" ]; then
		DOCKER_CMD="$DOCKER build"
		return
	fi
	for d in docker /usr/bin/docker; do
		command -v "$d" >/dev/null 2>&1 || continue
		if "$d" buildx version >/dev/null 2>&1; then
			DOCKER_CMD="$d buildx build --load"
			return
		fi
		# Clients before 23.0 have BuildKit built in (DOCKER_BUILDKIT=1).
		v=$("$d" version --format '{{.Client.Version}}' 2>/dev/null || true)
		case "$v" in
		1[0-9].* | 2[0-2].*)
			DOCKER_CMD="env DOCKER_BUILDKIT=1 $d build"
			return
			;;
		esac
	done
	die "no docker client with BuildKit: install buildx (docker-buildx), or use a docker client older than 23 with DOCKER_BUILDKIT=1; the classic builder would try to pull $(sed -n 's/^ARG GO_IMAGE=//p' "$root/Dockerfile")"
}

images() {
	targets=${*:-$ALL_TARGETS}
	prefix=${IMAGE_PREFIX:-nsmesh/}
	tag=${TAG:-dev}
	ctx="$root/.cache/images"
	rm -rf "$ctx/out"
	binaries "$ctx/out"
	pick_docker
	for t in $targets; do
		case " $ALL_TARGETS " in *" $t "*) ;; *) die "unknown target $t (targets: $ALL_TARGETS)" ;; esac
		bin=${t%-debug}
		if [ ! -x "$ctx/out/bin/$bin" ]; then
			say "skip $t: cmd-$bin does not exist yet"
			continue
		fi
		if [ "$t" = nsc-debug ] && [ ! -x "$ctx/out/bin/busybox" ]; then
			if ! busybox_into "$ctx/out/bin"; then
				say "skip $t: no static busybox (apt-get install busybox-static)"
				continue
			fi
		fi
		start=$(date +%s)
		log="$ctx/build-$t.log"
		# shellcheck disable=SC2086 # DOCKER_CMD is a command line
		if ! $DOCKER_CMD --target "$t" --build-arg BINARIES=prebuilt --label nsmesh.image="$t" \
			-f "$root/Dockerfile" -t "$prefix$t:$tag" "$ctx" >"$log" 2>&1; then
			tail -n 30 "$log" >&2
			die "docker build --target $t failed (log: $log)"
		fi
		size=$(docker image inspect -f '{{.Size}}' "$prefix$t:$tag")
		say "$(printf '%-36s %6s kB  (%ss)' "$prefix$t:$tag" $((size / 1000)) $(($(date +%s) - start)))"
	done
	# A rebuilt image leaves its predecessor untagged; remove those of ours.
	docker image prune -f --filter label=nsmesh.image >/dev/null 2>&1 || true
}

# busybox_into DIR copies Debian's static busybox, installing it when root.
busybox_into() {
	if ! file_static /bin/busybox; then
		[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
		say "installing busybox-static"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static >/dev/null 2>&1; } ||
			return 1
		file_static /bin/busybox || return 1
	fi
	cp /bin/busybox "$1/busybox"
}

# file_static: the busybox package is dynamically linked, busybox-static is
# not; an image FROM scratch has no libc, so only the latter works there.
file_static() {
	[ -x "$1" ] || return 1
	# An ELF with a PT_INTERP (dynamic loader) names it in its first bytes.
	! head -c 4096 "$1" | grep -q 'ld-linux'
}

case "${1:-}" in
binaries)
	[ $# -eq 2 ] || die "usage: hack/images.sh binaries <dir>"
	binaries "$2"
	;;
-h | --help)
	sed -n '5,17p' "$0"
	;;
*)
	images "$@"
	;;
esac
