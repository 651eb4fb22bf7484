# podsg — build, test and benchmark targets.
#
#   make test    set up what the tests need, then vet, check formatting and run
#                every test with the race detector (all modules in the tree)
#   make bench   run every benchmark and the scenario benchmarks
#   make kube-assets
#                build kube-apiserver, etcd and kubectl from source into
#                .kube-assets/ for the API-server tests (make test does it)
#   make soak    run trunk's simulation over 2,000 seeds (make test runs 64)
#
# As root, `make test` installs iptables (both variants), nftables (nft lists
# the connmark table in tests), iproute2 and the AWS CLI (for the fake EC2
# server's CLI test) when missing, and exports
# PODSG_REQUIRE_ROOT_TESTS=1, so tests that need root fail instead of skipping.

SHELL := /bin/bash
GO    ?= go
# Modules nested below the root (each has its own go.mod).
NESTED := $(shell find . -mindepth 2 -name go.mod -not -path './.git/*' -exec dirname {} \; | sort)

ifeq ($(shell id -u),0)
export PODSG_REQUIRE_ROOT_TESTS := 1
endif

.PHONY: test setup vet fmt-check unit bench generate soak

test: setup vet fmt-check unit

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

vet:
	$(GO) vet ./...
	@for m in $(NESTED); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...) || exit 1; done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...
	@# Allocation guards skip under -race (its instrumentation allocates): run them plain.
	$(GO) test -count=1 -run 'Allocations' ./...
	@for m in $(NESTED); do echo "go test ($$m)"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

generate:
	$(GO) generate ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...
	set -o pipefail; $(GO) test -run 'TestChurn|TestScale|TestCallsPerPodStart' -count=1 -v ./trunk/ \
	  | grep -E '^(churn|scale|calls_per_pod|ok|FAIL|--- FAIL)'

# The API-server tests of examples/controller run a real kube-apiserver, etcd
# and kubectl, built from source by hack/kube-assets (pinned in its go.mod)
# into $(KUBE_ASSETS). The first build takes about 10 CPU-minutes; later runs
# reuse the binaries while the pins are unchanged. The tests find them through
# KUBEBUILDER_ASSETS, and fail (not skip) when it is set and a binary is
# missing.
KUBE_ASSETS := $(CURDIR)/.kube-assets

.PHONY: kube-assets
kube-assets:
	cd hack/kube-assets && $(GO) run . -o $(KUBE_ASSETS)

unit: kube-assets
unit: export KUBEBUILDER_ASSETS := $(KUBE_ASSETS)

# SOAK_SEEDS seeds of trunk.TestSimulation, with the race detector. It
# prints the summary line, or each failure (seed, step, steps before it; a
# failing seed is replayed with PODSG_SIM_SEED=N), race report or panic.
SOAK_SEEDS ?= 2000
soak:
	@log=$$(mktemp); \
	PODSG_SIM_SEEDS=$(SOAK_SEEDS) $(GO) test -race -run '^TestSimulation$$' -count=1 -v -timeout 3h ./trunk/ >$$log 2>&1; rc=$$?; \
	grep -E '^simulation' $$log; grep -E -A40 'failed at|WARNING: DATA RACE|^panic' $$log; tail -n 1 $$log; rm -f $$log; exit $$rc
