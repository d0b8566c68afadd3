# jobsocket — every entry point. `make demo` and `make test` install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 8787
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(PATH)
# Marks every process a run starts (they inherit it), so scripts/check-leftovers.sh can tell
# what this run left running. Sub-makes inherit the parent's id.
ifndef JOBSOCKET_RUN
JOBSOCKET_RUN := $(shell date +%s%N)-$(shell echo $$PPID)
endif
export JOBSOCKET_RUN
N ?= 20

.PHONY: help tools package pack server demo demo-dialects demo-build bench loadtest test test-suites test-host test-browser test-e2e test-bench test-size test-loadtest test-package test-frameworks lint soak invariants fmt clean

help:
	@echo "make demo   build everything, start the reference server and the demo page, print the URL"
	@echo "            (REDIS=1: two instances on one Redis behind one address)"
	@echo "make test   run every test suite (host, browsers, end to end, quick bench and load test) and the lints"
	@echo "make demo-dialects  the same hooks on a Socket.IO server and plain-JSON ws servers"
	@echo "make bench  measure throughput, latency, size, memory, idle cost and growth with jobs (QUICK=1: small numbers)"
	@echo "make loadtest  1,000 clients on two server instances sharing Redis, 100 jobs (QUICK=1: small)"
	@echo "make soak   run the browser, end-to-end and framework suites N times each (N=20)"
	@echo "make invariants  the core's random-episode invariant test, EPISODES=100000 in release"

tools:
	@scripts/install-tools.sh

## The npm package: release wasm + wasm-bindgen's JS glue + pkg-template, in target/package/.
package: tools
	cargo build --release --target wasm32-unknown-unknown --lib
	wasm-bindgen --target web --remove-name-section --remove-producers-section \
	  --out-dir target/wasm-pack --out-name jobsocket \
	  target/wasm32-unknown-unknown/release/jobsocket.wasm
	scripts/assemble-package.sh
	@printf 'package: %s bytes of wasm (%s gzip), %s bytes of JS glue\n' \
	  $$(wc -c < target/package/jobsocket_bg.wasm) \
	  $$(gzip -9 -c target/package/jobsocket_bg.wasm | wc -c) \
	  $$(wc -c < target/package/jobsocket.js)

## The npm tarball a user installs, in target/pkg/.
pack: package
	rm -rf target/pkg && mkdir -p target/pkg
	cd target/package && npm pack --silent --pack-destination ../pkg >/dev/null
	@ls target/pkg/*.tgz

server:
	cargo build -p jobsocket-server

## REDIS=1: two instances on one Redis behind jobsocket-proxy on $(PORT) (scripts/demo-redis.sh).
demo: demo-build server
ifeq ($(REDIS),1)
	scripts/demo-redis.sh $(PORT)
else
	@echo "Starting the reference job server; open the address on its \`demo:\` line below, which carries the admin key the chaos panel needs (Ctrl-C stops it)."
	target/debug/jobsocket-server --port $(PORT) --static www-demo/dist --pkg target/package --admin
endif

## The demo's hooks on a Socket.IO 4.8 server and plain-JSON ws servers (the dialects page).
demo-dialects: demo-build server
	scripts/demo-dialects.sh $(PORT)

## The demo app (React + Vite) on the packed tarball, in www-demo/dist.
demo-build: pack
	scripts/build-demo.sh

## Benchmarks against the raw WebSocket and socket.io-client, of one client's growth with its
## jobs and outbox, and of tabs sharing one connection (against the reference server); see
## bench/run.mjs, bench/growth.mjs and bench/tabs.mjs.
bench: package server
	scripts/npm-ci.sh bench
	QUICK=$(QUICK) node bench/run.mjs

## The load test: two instances of the reference server on one Redis, 1,000 WebSocket clients,
## 100 jobs of 100 events a second for 20 s; latency, CPU and memory in target/loadtest/report.json
## (QUICK=1: 40 clients, 10 jobs, 2 s, on the debug build). See scripts/loadtest.sh.
loadtest: tools
	QUICK=$(QUICK) scripts/loadtest.sh

## Every suite, then the check that no process the run started is still running (also
## after a failure, so a failing run does not leave servers or browsers behind either).
test: tools
	@status=0; \
	$(MAKE) --no-print-directory test-suites || status=$$?; \
	scripts/check-leftovers.sh || status=1; \
	if [ $$status -eq 0 ]; then echo "make test: every suite passed"; fi; \
	exit $$status

test-suites:
	$(MAKE) --no-print-directory test-host
	$(MAKE) --no-print-directory pack server
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory test-e2e
	$(MAKE) --no-print-directory test-bench
	$(MAKE) --no-print-directory test-size
	$(MAKE) --no-print-directory test-loadtest
	$(MAKE) --no-print-directory test-package
	$(MAKE) --no-print-directory test-frameworks
	$(MAKE) --no-print-directory lint

test-host:
	cargo test --workspace

test-browser: server
	scripts/test-browser.sh

test-e2e: demo-build server
	scripts/test-e2e.sh

## The bench in quick mode, so the harness cannot rot; it checks that numbers came out,
## never that they are fast.
test-bench: package server
	scripts/npm-ci.sh bench
	QUICK=1 node bench/run.mjs
	node bench/check-report.mjs

## The load test in quick mode, so the tool and its script cannot rot; it fails if an event was
## lost, repeated or out of order, or a figure did not come out, never because it is slow.
## The package's size against bench/size-budget.json: deterministic, so a test.
test-size: package
	scripts/npm-ci.sh bench
	node bench/check-size.mjs

test-loadtest: server
	QUICK=1 scripts/loadtest.sh

## The core's invariant test over EPISODES random episodes (make test runs 2,000 of them).
EPISODES ?= 100000
invariants:
	JOBSOCKET_EPISODES=$(EPISODES) cargo test --release --test core_invariants

## The browser suites, the end-to-end suite and the framework apps N times each, with a pass
## count per suite.
soak: tools demo-build server
	@status=0; \
	scripts/soak.sh $(N) || status=$$?; \
	scripts/check-leftovers.sh || status=1; \
	exit $$status

test-package: pack
	scripts/test-package.sh

## The React adapter in tiny apps of every kind (Next.js, Vite dev and build, webpack 5, plain
## Node, a user's Vitest suite), installed from the tarball and run against the reference server.
test-frameworks: demo-build server
	scripts/test-frameworks.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p jobsocket --target wasm32-unknown-unknown --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf tests/e2e/node_modules bench/node_modules pkg-template/node_modules tests/frameworks/*/node_modules
