# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors
#
# One image per component, each a target of this file:
#   registry, nsmgr, forwarder-kernel, forwarder-vpp, nse-icmp, nsc, nsc-debug,
#   nsmctl
# Every image is FROM scratch: one static binary, /healthcheck (a
# grpc.health.v1 probe, hack/healthcheck) and, for nsc-debug only, busybox
# for a shell, ping and ip.
#
# The binaries come from one of two places, chosen by the BINARIES build arg:
#
#   build     (default) compiled here in a Go image, the usual multi-stage
#             build:   docker build --target nsmgr -t nsmesh/nsmgr .
#   prebuilt  compiled on the host by `hack/images.sh` (CGO_ENABLED=0,
#             -trimpath, -ldflags "-s -w") into a small context directory, for
#             machines that cannot pull a Go image: `make images`.
#
# Both need BuildKit (buildx, or DOCKER_BUILDKIT=1 with a docker client older
# than 23): the classic builder builds every stage before the target, so it
# would pull the Go image even for prebuilt binaries. There is deliberately
# no "# syntax=" line: it would make BuildKit pull a frontend image.

ARG GO_IMAGE=golang:1.26
ARG BINARIES=build

# ---- binaries compiled in a Go image (users) --------------------------------
FROM ${GO_IMAGE} AS build
# Explicit, so that the cache mounts below hold them whatever the image sets.
ENV GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build
WORKDIR /src
COPY . .
# The same script as the host build, so both give the same layout:
# /out/bin/<component>, /out/bin/healthcheck, /out/rootfs (directories).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    sh hack/images.sh binaries /out

# busybox for nsc-debug, from Debian's busybox-static like the host path.
FROM ${GO_IMAGE} AS busybox-build
RUN apt-get update \
    && apt-get install -y --no-install-recommends busybox-static \
    && mkdir -p /out/bin && cp /bin/busybox /out/bin/busybox \
    && rm -rf /var/lib/apt/lists/*

# ---- binaries compiled on the host (hack/images.sh, CI) ---------------------
FROM scratch AS prebuilt
COPY out/ /out/

FROM prebuilt AS busybox-prebuilt

# ---- the selected source ----------------------------------------------------
FROM ${BINARIES} AS binaries
FROM busybox-${BINARIES} AS busybox

# ---- component images -------------------------------------------------------
# Components that share the node's socket directory
# (/var/lib/networkservicemesh) run as uid 0 with every capability dropped by
# the deployment (see deploy/compose): the unix sockets are created with mode
# 0755, so everyone who connects must have the owner's uid, and the forwarder
# must be uid 0 to hold NET_ADMIN and SYS_ADMIN. The registry only speaks TCP
# and runs as an unprivileged user (deploy/compose runs it as uid 0 too,
# without capabilities, because its SVID files there belong to uid 0).
# Health checks speak mutual TLS when the component has NSM_SVID_DIR.

FROM scratch AS registry
COPY --from=binaries /out/rootfs/ /
COPY --from=binaries /out/bin/healthcheck /healthcheck
COPY --from=binaries /out/bin/registry /registry
USER 65532:65532
EXPOSE 5002
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/healthcheck", "-default", "tcp://:5002"]
ENTRYPOINT ["/registry"]

FROM scratch AS nsmgr
COPY --from=binaries /out/rootfs/ /
COPY --from=binaries /out/bin/healthcheck /healthcheck
COPY --from=binaries /out/bin/nsmgr /nsmgr
EXPOSE 5001
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/healthcheck", "-default", "unix:///var/lib/networkservicemesh/nsm.io.sock"]
ENTRYPOINT ["/nsmgr"]

FROM scratch AS forwarder-kernel
COPY --from=binaries /out/rootfs/ /
COPY --from=binaries /out/bin/healthcheck /healthcheck
COPY --from=binaries /out/bin/forwarder-kernel /forwarder-kernel
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/healthcheck", "-default", "unix:///var/lib/networkservicemesh/forwarder.sock"]
ENTRYPOINT ["/forwarder-kernel"]

# VPP is not in this image: the forwarder attaches to an external VPP
# through its API socket (NSM_VPP_API_SOCKET, default
# /var/run/vpp/external/vpp-api.sock: mount the directory of the VPP's
# socksvr socket there). Without that socket it exits at start, saying so; it
# can start a VPP of its own only where a vpp executable exists, which is not
# the case here.
FROM scratch AS forwarder-vpp
COPY --from=binaries /out/rootfs/ /
COPY --from=binaries /out/bin/healthcheck /healthcheck
COPY --from=binaries /out/bin/forwarder-vpp /forwarder-vpp
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/healthcheck", "-default", "unix:///var/lib/networkservicemesh/forwarder.sock"]
ENTRYPOINT ["/forwarder-vpp"]

FROM scratch AS nse-icmp
COPY --from=binaries /out/rootfs/ /
COPY --from=binaries /out/bin/healthcheck /healthcheck
COPY --from=binaries /out/bin/nse-icmp /nse-icmp
# The binary's own default is a socket in a new temporary directory, which no
# other container can reach; in a container it belongs in the shared one.
ENV NSM_LISTEN_ON=unix:///var/lib/networkservicemesh/nse-icmp.sock
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/healthcheck"]
ENTRYPOINT ["/nse-icmp"]

# The client serves no gRPC, so it has no health check; its health is its
# interface (see nsc-debug).
FROM scratch AS nsc
COPY --from=binaries /out/rootfs/ /
COPY --from=binaries /out/bin/nsc /nsc
ENTRYPOINT ["/nsc"]

# nsc with busybox (sh, ping, ip, ...) for demos and tests:
#   docker exec <container> ping 172.16.1.0
FROM nsc AS nsc-debug
COPY --from=busybox /out/bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]

FROM scratch AS nsmctl
COPY --from=binaries /out/rootfs/ /
COPY --from=binaries /out/bin/nsmctl /nsmctl
ENTRYPOINT ["/nsmctl"]
