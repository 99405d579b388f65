#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the Go code of apis/ from its .proto files with protoc and the
# protoc-gen-go / protoc-gen-go-grpc versions pinned in tools/go.mod.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.bin"
mkdir -p "$bin"
(cd "$root/tools" && GOWORK=off GOFLAGS=-mod=mod go build -o "$bin/" \
	google.golang.org/protobuf/cmd/protoc-gen-go \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc)
command -v protoc >/dev/null || { echo "generate: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
export PATH="$bin:$PATH"
# Upstream registers the files under bare names (connection.proto ...), so each
# directory is its own include root and the files import each other bare.
for dir in networkservice registry ipam; do
	(cd "$root/apis/$dir" && protoc -I . \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative,require_unimplemented_servers=false \
		*.proto)
done
