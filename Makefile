# podsg — build, test and benchmark targets.
#
#   make test    everything CI runs: setup, tools, vet, formatting, lint,
#                generated-file freshness, then every test with the race
#                detector (all code modules in the tree)
#   make lint    golangci-lint (.golangci.yml) over the root module and each
#                nested code module
#   make generate          regenerate every generated file (go generate, with
#                          the pinned generators)
#   make check-generated   fail when a generated file is not what the pinned
#                          generators produce from its sources
#   make tools   build the pinned tools into bin/ (rebuilt only when a pin changes)
#   make work    write a go.work for editors and gopls (see below)
#   make bench   run every benchmark and print the figures of the tests that
#                measure (scenarios, CNI, the fake EC2 server against moto,
#                API server, end to end; see BENCHMARKS.md)
#   make kube-assets
#                build kube-apiserver, etcd and kubectl from source into
#                .kube-assets/ for the API-server tests (make test does it)
#   make soak    run trunk's simulation over 2,000 seeds (make test runs 64)
#
# As root, `make test` installs iptables (both variants), nftables (nft lists
# the connmark table in tests), iproute2 and the AWS CLI (for the fake EC2
# server's CLI test) when missing, and exports
# PODSG_REQUIRE_ROOT_TESTS=1, so tests that need root fail instead of skipping.
#
# Tools. controller-gen and golangci-lint are pinned with the go.mod `tool`
# directive, each in a module of its own under tools/ (tools/<name>/go.mod
# says why), and built into the git-ignored bin/. `go test ./...` builds and
# downloads no tool: generated files are checked here, by check-generated,
# not by tests, so tests pass offline on a warm module cache
# (GOFLAGS=-mod=mod GOPROXY=off go test ./...).
#
# Workspace. The repository commits no go.work: in workspace mode the go
# command refuses -mod=mod, and a workspace would silently change which
# dependency versions each module is tested with. `make work` writes a
# git-ignored go.work using the root module and each nested code module, so
# that gopls and editors see examples/controller from the root, and
# `go vet work` / `go test work` cover every module at once (`./...` never
# crosses into a nested module, workspace or not). Every target here sets
# GOWORK=off and works one module at a time, as CI and the modules' users
# build them, whether or not a go.work exists; `make vet` checks the workspace
# view with a temporary go.work of its own.

SHELL := /bin/bash
GO    ?= go
export GOWORK := off

# Code modules nested below the root (each has its own go.mod). Modules under
# tools/ and hack/ only pin build tools: they are built, not tested or linted.
NESTED := $(shell find . -mindepth 2 -name go.mod -not -path './.git/*' -not -path './tools/*' \
	-not -path './hack/*' -exec dirname {} \; | sort)
BIN    := $(CURDIR)/bin
TOOLS  := controller-gen golangci-lint

ifeq ($(shell id -u),0)
export PODSG_REQUIRE_ROOT_TESTS := 1
endif

.PHONY: test setup tools vet fmt-check lint generate check-generated unit bench soak work FORCE

test: setup tools vet fmt-check lint check-generated unit

setup:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  command -v iptables >/dev/null 2>&1 || missing="$$missing iptables"; \
	  command -v nft >/dev/null 2>&1 || missing="$$missing nftables"; \
	  command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	  command -v aws >/dev/null 2>&1 || missing="$$missing awscli"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi

tools: $(addprefix bin/,$(TOOLS))

# bin/<tool> is built from tools/<tool>/go.mod. bin/.<tool>.stamp records the
# Go version and a checksum of that go.mod and go.sum; the binary is rebuilt
# only when they change, so a warm `make test` builds no tool.
$(addprefix bin/,$(TOOLS)): bin/%: FORCE
	@stamp="$$($(GO) env GOVERSION) $$(cat tools/$*/go.mod tools/$*/go.sum | cksum)"; \
	if [ -x $@ ] && [ "$$(cat bin/.$*.stamp 2>/dev/null)" = "$$stamp" ]; then exit 0; fi; \
	echo "building $@ (pinned in tools/$*/go.mod)"; start=$$SECONDS; \
	rm -f bin/.$*.stamp; \
	$(GO) build -C tools/$* -o $(BIN)/$* tool && echo "$$stamp" > bin/.$*.stamp && \
	echo "built $@ in $$((SECONDS - start))s"

FORCE:

# go vet per module is part of lint (govet, in module mode); this vets every
# code module at once through a temporary go.work, as gopls sees them.
vet:
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	GOWORK=$$work/go.work $(GO) work init $(CURDIR) $(addprefix $(CURDIR)/,$(NESTED:./%=%)) && \
	echo "go vet work (workspace: . $(NESTED))" && \
	GOWORK=$$work/go.work $(GO) vet work

fmt-check:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

lint: bin/golangci-lint
	$(BIN)/golangci-lint run ./...
	@for m in $(NESTED); do echo "golangci-lint ($$m)"; \
	  (cd $$m && $(BIN)/golangci-lint run --config $(CURDIR)/.golangci.yml ./...) || exit 1; done

generate: bin/controller-gen
	$(GO) generate ./...
	@for m in $(NESTED); do echo "go generate ($$m)"; (cd $$m && $(GO) generate ./...) || exit 1; done

# Regenerates in the tree and fails if that changed anything. The comparison is
# against the working tree as it was before (a snapshot in a temporary git
# index), not against HEAD, so uncommitted edits elsewhere do not count; a stale
# file is left regenerated, ready to commit.
check-generated: bin/controller-gen
	@snap=$$(mktemp -d) && trap 'rm -rf "$$snap"' EXIT && \
	export GIT_INDEX_FILE=$$snap/index && git add -A && \
	$(MAKE) --no-print-directory generate >$$snap/log 2>&1 || { cat $$snap/log; exit 1; }; \
	changed=$$(git diff --name-only; git ls-files -o --exclude-standard); \
	if [ -n "$$changed" ]; then \
	  echo "generated files were stale (now regenerated; review and commit them):"; \
	  echo "$$changed" | sed 's/^/  /'; git diff --stat; exit 1; \
	fi; echo "generated files are up to date"

unit:
	$(GO) test -race -count=1 ./...
	@# Allocation guards skip under -race (its instrumentation allocates): run them plain.
	$(GO) test -count=1 -run 'Allocations' ./...
	@for m in $(NESTED); do echo "go test ($$m)"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

# go.work for editors: git-ignored, rewritten on each run.
work:
	rm -f go.work go.work.sum
	GOWORK= $(GO) work init . $(NESTED)
	GOWORK= $(GO) work edit -go=$$(awk '$$1 == "go" { print $$2; exit }' go.mod)
	@cat go.work

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...
	set -o pipefail; $(GO) test -run 'TestChurn|TestScale|TestCallsPerPodStart' -count=1 -v ./trunk/ \
	  | grep -E '^(churn|scale|calls_per_pod|ok|FAIL|--- FAIL)'
	@# open at twice its size: a probe of how the figures move with the
	@# cluster (BENCHMARKS.md), not held to the goals.
	set -o pipefail; $(GO) test -run 'TestChurn$$' -count=1 -v ./trunk/ -args -churn.scale=2 \
	  | grep -E '^(churn|ok|FAIL|--- FAIL)|×'
	@# CNI ADD/DEL through libcni (needs root; skipped otherwise).
	set -o pipefail; $(GO) test -run 'TestLatency' -count=1 -v ./cmd/podsg-cni/ \
	  | grep -E '^(cni|ok|FAIL|--- FAIL|--- SKIP)'
	@# The fake's HTTP server against moto_server on the same SDK client (make
	@# test skips it when moto_server is missing; here that fails).
	set -o pipefail; PODSG_REQUIRE_MOTO=1 $(GO) test -run '^TestServerAgainstMoto$$' -count=1 -v ./fake/ \
	  | grep -E '^(fakehttp|ok|FAIL|--- FAIL|\s+moto_test)'
	@# The controller against a real API server (its figures come from the
	@# race-enabled tests, as make test runs them), and end to end with the
	@# CNI plugin (TestEndToEnd needs root; skipped otherwise).
	set -o pipefail; cd examples/controller && KUBEBUILDER_ASSETS=$(KUBE_ASSETS) $(GO) test -race -count=1 -v \
	  -run '^(TestAPIServerKubectl|TestAPIServerBindLatency|TestAPIServerLeaderElection|TestEndToEnd)$$' . \
	  | grep -E '^(apiserver|e2e|ok|FAIL|--- FAIL|--- SKIP)'
	@# make kube-assets with the binaries present (printed by t.Logf, hence -o).
	set -o pipefail; cd hack/kube-assets && KUBEBUILDER_ASSETS=$(KUBE_ASSETS) $(GO) test -count=1 -v -run '^TestReuse$$' . \
	  | grep -oE '(kube-assets warm_ms=.*|^(ok|FAIL|--- FAIL|--- SKIP).*)'

# The API-server tests of examples/controller run a real kube-apiserver, etcd
# and kubectl, built from source by hack/kube-assets (pinned in its go.mod)
# into $(KUBE_ASSETS). The first build takes about 10 CPU-minutes; later runs
# reuse the binaries while the pins are unchanged. The tests find them through
# KUBEBUILDER_ASSETS, and fail (not skip) when it is set and a binary is
# missing.
KUBE_ASSETS := $(CURDIR)/.kube-assets

.PHONY: kube-assets
# The builder is a Go program with tests of its own (hack/ is outside NESTED):
# they run here, once the binaries are in place (TestReuse checks that a
# second run reuses them).
kube-assets:
	cd hack/kube-assets && $(GO) run . -o $(KUBE_ASSETS)
	cd hack/kube-assets && $(GO) vet ./... && KUBEBUILDER_ASSETS=$(KUBE_ASSETS) $(GO) test -count=1 ./...

unit: kube-assets
unit: export KUBEBUILDER_ASSETS := $(KUBE_ASSETS)
bench: kube-assets

# SOAK_SEEDS seeds of trunk.TestSimulation, with the race detector. It
# prints the summary line, or each failure (seed, step, steps before it; a
# failing seed is replayed with PODSG_SIM_SEED=N), race report or panic.
SOAK_SEEDS ?= 2000
soak:
	@log=$$(mktemp); \
	PODSG_SIM_SEEDS=$(SOAK_SEEDS) $(GO) test -race -run '^TestSimulation$$' -count=1 -v -timeout 3h ./trunk/ >$$log 2>&1; rc=$$?; \
	grep -E '^simulation' $$log; grep -E -A40 'failed at|WARNING: DATA RACE|^panic' $$log; tail -n 1 $$log; rm -f $$log; exit $$rc
