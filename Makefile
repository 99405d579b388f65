# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 The nsmesh Authors
#
# Every target works over the modules listed in go.work, so a new cmd-*
# module needs no change here: add it to go.work (make generate does) and it
# is built, tested, vetted and verified like the others.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go
# Module directories of the workspace, e.g. "./apis ./sdk ./cmd-nsmgr".
MODULES := $(shell $(GO) work edit -json 2>/dev/null | awk -F'"' '/"DiskPath"/ {print $$4}')
# Modules outside go.work that are still kept tidy and formatted.
EXTRA_MODULES := ./tools
BIN := $(CURDIR)/bin
TESTFLAGS ?= -race
PKGS ?= ./...
# repocheck is a standard-library-only program outside every module, so it
# is built from its file list (a package path would need a module).
REPOCHECK_SRC := $(filter-out %_test.go,$(wildcard hack/repocheck/*.go))
REPOCHECK := $(CURDIR)/.bin/repocheck

.PHONY: help
help: ## List the targets
	@echo "usage: make <target>   (modules: $(MODULES))"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install missing system packages (protoc, iproute2, iperf3) when root
	@./hack/setup.sh

.PHONY: build
build: ## Build every module; main packages of cmd-* modules go to ./bin
	@for m in $(MODULES); do \
		case "$$m" in \
		./cmd-*) echo "build $$m -> bin/"; (cd "$$m" && $(GO) build -o "$(BIN)/" $(PKGS)) ;; \
		*) echo "build $$m"; (cd "$$m" && $(GO) build $(PKGS)) ;; \
		esac; \
	done

.PHONY: test
test: setup spire ## Run the tests of every module with -race (privileged tests run when root; builds SPIRE first for test/spire)
	@fail=0; \
	for m in $(MODULES); do \
		echo "test $$m"; \
		(cd "$$m" && $(GO) test $(TESTFLAGS) $(PKGS)) || fail=1; \
	done; \
	echo "test hack/repocheck"; \
	$(GO) test $(wildcard hack/repocheck/*.go) || fail=1; \
	echo "test hack/healthcheck"; \
	$(MAKE) test-healthcheck || fail=1; \
	exit $$fail

.PHONY: generate
generate: setup $(REPOCHECK) ## Regenerate the Go code of apis/ from the .proto files and go.work from the modules
	@./hack/generate.sh
	@$(REPOCHECK) gowork -write

.PHONY: verify
verify: ## Fail on stale generated code, untidy modules, unformatted code, a stale go.work or a forbidden import
	@fail=0; \
	for c in generated tidy fmt gowork imports; do \
		$(MAKE) verify-$$c || fail=1; \
	done; \
	if [ $$fail -ne 0 ]; then echo "verify: FAILED (see the lines above)" >&2; exit 1; fi; \
	echo "verify: ok"

.PHONY: verify-generated
verify-generated: setup ## Regenerate apis/ in place and fail if any generated file differs from git
	@./hack/generate.sh
	@stale=$$(git status --porcelain --untracked-files=all -- ':(glob)apis/**/*.pb.go'); \
	if [ -n "$$stale" ]; then \
		while read -r state file; do \
			case "$$state" in \
			"??") why="is generated but not committed (git add it)" ;; \
			D) why="is committed but no longer generated (git rm it)" ;; \
			*) why="differs from what hack/generate.sh produces (run: make generate, then commit)" ;; \
			esac; \
			echo "verify-generated: $$file $$why" >&2; \
		done <<< "$$stale"; \
		exit 1; \
	fi

.PHONY: verify-tidy
verify-tidy: ## Fail if any module's go.mod/go.sum is not tidy
	@fail=0; \
	for m in $(MODULES) $(EXTRA_MODULES); do \
		d=$${m#./}; out=$$(mktemp); err=$$(mktemp); \
		if ! (cd "$$m" && $(GO) mod tidy -diff >"$$out" 2>"$$err"); then \
			if [ -s "$$out" ]; then \
				echo "verify-tidy: $$d/go.mod or go.sum is not tidy (see: cd $$d && go mod tidy -diff; fix: make tidy)" >&2; \
			else \
				echo "verify-tidy: $$d: go mod tidy -diff failed: $$(grep -v '^go: downloading' "$$err" | tail -n1)" >&2; \
			fi; \
			fail=1; \
		fi; \
		rm -f "$$out" "$$err"; \
	done; \
	exit $$fail

.PHONY: verify-fmt
verify-fmt: ## Fail if any Go file is not gofmt-formatted
	@files=$$(find $(MODULES) $(EXTRA_MODULES) hack -name '*.go' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l | sed 's|^\./||'); \
	for f in $$files; do echo "verify-fmt: $$f is not gofmt-formatted (run: gofmt -w $$f)" >&2; done; \
	[ -z "$$files" ]

.PHONY: verify-gowork
verify-gowork: $(REPOCHECK) ## Fail unless go.work lists exactly the module directories (tools/ excepted) and .go-version
	@$(REPOCHECK) gowork

.PHONY: verify-imports
verify-imports: $(REPOCHECK) ## Fail on a forbidden import direction (apis -> ours, sdk -> cmd-*, cmd-* -> cmd-*)
	@$(REPOCHECK) imports

.PHONY: lint
lint: $(REPOCHECK) ## go vet every module, gofmt, SPDX headers and package docs; golangci-lint when installed
	@fail=0; \
	for m in $(MODULES); do \
		echo "vet $$m"; \
		(cd "$$m" && $(GO) vet $(PKGS)) || fail=1; \
	done; \
	$(MAKE) verify-fmt || fail=1; \
	$(REPOCHECK) style || fail=1; \
	if command -v golangci-lint >/dev/null; then \
		for m in $(MODULES); do \
			echo "golangci-lint $$m"; \
			(cd "$$m" && golangci-lint run --config "$(CURDIR)/.golangci.yml" $(PKGS)) || fail=1; \
		done; \
	else \
		echo "lint: golangci-lint not installed, skipped"; \
	fi; \
	exit $$fail

.PHONY: tidy
tidy: ## go mod tidy every module (and tools/)
	@for m in $(MODULES) $(EXTRA_MODULES); do \
		echo "tidy $$m"; \
		(cd "$$m" && $(GO) mod tidy); \
	done

.PHONY: fmt
fmt: ## gofmt -w every Go file
	@find $(MODULES) $(EXTRA_MODULES) hack -name '*.go' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -w

$(REPOCHECK): $(REPOCHECK_SRC)
	@$(GO) build -o $@ $(REPOCHECK_SRC)

.PHONY: check
check: verify lint test compose-test ## verify, lint, test and the docker-compose mesh (skipped without Docker): everything CI runs

# ---- containers (issue 5): see Dockerfile and deploy/compose ----------------
COMPOSE ?= docker-compose
COMPOSE_FILE := deploy/compose/docker-compose.yml
COMPOSE_PROJECT ?= nsmesh
# Targets of the Dockerfile to build; empty: all (hack/images.sh skips a
# command that does not exist yet).
IMAGES ?=

.PHONY: images
images: ## Container images FROM scratch out of static binaries built here (IMAGES=..., TAG=dev)
	@./hack/images.sh $(IMAGES)

.PHONY: compose-up
compose-up: ## Build the images and start the docker-compose mesh (COMPOSE_PROJECT=nsmesh)
	@./hack/images.sh registry nsmgr forwarder-kernel nse-icmp nsc-debug nsmctl
	@$(COMPOSE) -p $(COMPOSE_PROJECT) -f $(COMPOSE_FILE) up -d --no-build
	@echo "try: COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) deploy/compose/ping.sh nsc-2   (or: $(COMPOSE) -p $(COMPOSE_PROJECT) -f $(COMPOSE_FILE) logs nsc-2)"

.PHONY: compose-down
compose-down: ## Stop the docker-compose mesh and remove its containers, network and volumes
	@$(COMPOSE) -p $(COMPOSE_PROJECT) -f $(COMPOSE_FILE) down -v --remove-orphans

.PHONY: compose-test
compose-test: ## End-to-end test of the docker-compose mesh (skipped without a Docker engine)
	@./hack/compose-test.sh

.PHONY: test-healthcheck
test-healthcheck: ## Tests of hack/healthcheck, the images' grpc.health.v1 probe
	@$(GO) test -race $(wildcard hack/healthcheck/*.go)

# SPIRE (issue 4) is a large build (minutes on two cores), so it is skipped
# while both binaries are newer than the module that pins its version.
SPIRE_MOD := tools/spire
SPIRE_BINS := $(CURDIR)/.bin/spire-server $(CURDIR)/.bin/spire-agent

.PHONY: spire
spire: ## Build spire-server and spire-agent (the version pinned in tools/spire) into .bin/, unless they are up to date
	@stale=0; \
	for b in $(SPIRE_BINS); do \
		for d in $(SPIRE_MOD)/go.mod $(SPIRE_MOD)/go.sum; do \
			[ "$$b" -nt "$$d" ] || stale=1; \
		done; \
	done; \
	if [ $$stale -eq 0 ]; then echo "spire: .bin/spire-server and .bin/spire-agent are up to date"; exit 0; fi; \
	echo "spire: building spire-server and spire-agent from $(SPIRE_MOD) into .bin/ (minutes the first time)"; \
	start=$$(date +%s); \
	cd $(SPIRE_MOD); \
	version=$$(GOWORK=off $(GO) list -m -f '{{.Version}}' github.com/spiffe/spire); \
	GOWORK=off $(GO) build -o $(CURDIR)/.bin/ \
		-ldflags "-s -w -X github.com/spiffe/spire/pkg/common/version.gittag=$${version#v}" \
		github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent; \
	cd $(CURDIR); \
	touch $(SPIRE_BINS); \
	echo "spire: built in $$(( $$(date +%s) - start ))s"

.PHONY: clean
clean: ## Remove ./bin and the generator binaries in ./.bin
	rm -rf "$(BIN)" "$(CURDIR)/.bin"

.PHONY: demo
demo: setup ## Build, run a two-node mesh in network namespaces, show the connections and a ping, tear down (root; DEMO_ARGS=--wait stays up)
	@./hack/demo.sh $(DEMO_ARGS)

.PHONY: e2e
e2e: setup ## Run only the end-to-end tests: the real binaries in network namespaces (root)
	@cd test && $(GO) test $(TESTFLAGS) -count=1 ./e2e/

.PHONY: bench-e2e
bench-e2e: setup ## Measure latency, throughput, memory and goroutines on the real data plane (root); see docs/performance.md
	@./hack/bench-e2e.sh
