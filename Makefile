# halab: a network lab and conformance harness for HA reverse-proxy architectures.
# Run as root on Debian 12. `make lab-simple` and `make test` install what they need.

SHELL    := /bin/bash
GO       ?= $(shell command -v go || echo /usr/local/go/bin/go)
BIN      := $(CURDIR)/bin
LAB      := $(BIN)/lab
IMPL     ?= go
# Debian packages the labs, the tests and the reference daemons need.
DEB_PKGS := iproute2 iputils-ping procps psmisc curl nftables tcpdump nginx-light haproxy keepalived wrk chromium
TEST_TIMEOUT ?= 25m

export PATH := $(dir $(GO)):$(PATH)

.PHONY: all deps build test conformance bench lab-simple lab-complex lab-active-active lab-down lint clean

all: build

# deps installs the Debian packages once (a stamp in bin/ remembers).
deps: $(BIN)/.deps
$(BIN)/.deps:
	@mkdir -p $(BIN)
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# (RUNLEVEL=1: the reference daemons are not started as host services;
	@# they run only inside labs and tests.)
	@touch $@

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# The article's architectures with their daemons: ours (IMPL=go, the
# default) or Debian's (IMPL=reference), on the same config files. The
# steady-state scenario brings the lab up, checks it and leaves it running.
lab-simple: deps build
	$(LAB) down simple >/dev/null
	$(LAB) up --impl $(IMPL) scenarios/article/simple-steady.yaml

lab-complex: deps build
	$(LAB) down complex >/dev/null
	$(LAB) up --impl $(IMPL) scenarios/article/complex-steady.yaml

lab-active-active: deps build
	$(LAB) down active-active >/dev/null
	$(LAB) up --impl $(IMPL) scenarios/article/active-active-steady.yaml

lab-down: build
	$(LAB) down --all

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test: deps build lint
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory conformance

# conformance runs the article's scenario library on our daemons and on
# Debian's, and writes the matrix, reports and JUnit XML into out/.
conformance: deps build
	@mkdir -p out
	$(LAB) run scenarios/article --impl both --junit out/conformance.xml --report out/conformance

# bench runs every benchmark with the repetitions it is written for (the
# comparisons with Debian's daemons run wrk or timed loads per case) and
# keeps the figures in out/bench.txt.
bench: deps build
	@mkdir -p out
	@set -o pipefail; { \
	$(GO) test -run '^$$' -bench . -benchtime 5x ./lab && \
	$(GO) test -run '^$$' -bench . ./lab/capture && \
	$(GO) test -run '^$$' -bench . ./internal/tcpdial && \
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 40m ./vrrpd ./lbd ./proxyd && \
	$(GO) test -run '^$$' -bench BenchmarkL4NAT -benchtime 5000x ./lbd/l4 && \
	$(GO) test -run '^$$' -bench BenchmarkL4HealthConvergence -benchtime 3x ./lbd/l4 ; \
	} 2>&1 | tee out/bench.txt

clean:
	rm -rf $(BIN)
