# DSCloud Portal: the two commands of the README.
#
#   make run    set up whatever is missing, build, serve on http://127.0.0.1:3000
#   make test   set up whatever is missing, run every test (lint, unit,
#               store on SQLite and PostgreSQL, HTTP, end-to-end in Chromium)
#
# Set-up steps are idempotent: each looks first and installs only what is
# missing, so the second run goes straight to work.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

CARGO_LEPTOS_VERSION := 0.3.10
# The CLI must be exactly the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# The store and end-to-end tests must run, never skip, under `make test`.
export PORTAL_REQUIRE_POSTGRES := 1

# Extra flags for `portal serve`, e.g. make run ARGS="--listen 0.0.0.0:8080".
ARGS ?=

.PHONY: run test setup tools services build lint unit e2e screenshots fuzz bench load speed image clean

run: tools build
	target/release/portal serve $(ARGS)

test: tools services lint unit build e2e
	@echo "make test: every suite passed (target/ is $$(du -sh target | cut -f1), $$(df -h --output=avail . | tail -n1 | tr -d ' ') left on the disk)"

setup: tools services

## Tools: Rust target, cargo-leptos, wasm-bindgen CLI, npm packages (Playwright, wasm-opt).
tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -q " $(CARGO_LEPTOS_VERSION)" \
	  || cargo install cargo-leptos --locked --version $(CARGO_LEPTOS_VERSION) --features no_downloads
	@wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)" \
	  || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then \
	  (cd end2end && npm ci --no-audit --no-fund); fi

## Services the tests need: PostgreSQL running; Debian's Chromium and its
## OCI registry (docker-registry, for the external-CI build tests) installed.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 \
	  || pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql | head -n1)" main start
	@for attempt in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  pg_isready -h 127.0.0.1 -p 5432
	@missing=""; [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	  [ -x /usr/bin/docker-registry ] || missing="$$missing docker-registry"; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# The release build, redone only when a source it is made from changed: cargo
# leptos regenerates the WASM bundle on every call (~13 s), even with nothing new.
BUILD_STAMP := target/.release-build
BUILD_SOURCES := Cargo.toml Cargo.lock .cargo/config.toml $(shell find app/src app/Cargo.toml app/tests/dscloud/valid frontend server/src server/Cargo.toml style migrations -type f 2>/dev/null)

build: $(BUILD_STAMP)

$(BUILD_STAMP): $(BUILD_SOURCES)
	cargo leptos build --release --precompress --split
	@touch $@

lint:
	cargo fmt --all --check
	cargo clippy -p app -p server -p sandbox --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# Each PostgreSQL test notes whether it ran or was skipped (the harness
# says "ok" for both); the count is printed after the run.
POSTGRES_TALLY := $(CURDIR)/target/postgres-tally
# Suites that take their store from support::store(), run a second time on PostgreSQL.
POSTGRES_SUITES := accounts databases deploys engine live_views quotas users

unit:
	@mkdir -p target && rm -f $(POSTGRES_TALLY)
	PORTAL_POSTGRES_TALLY=$(POSTGRES_TALLY) cargo test -p app -p server -p sandbox
	@# CI's disk: every test binary under 300 MB (no debug info in [profile.dev]).
	@cargo test -p app -p server -p sandbox --no-run --message-format=json 2>/dev/null | .ci/test-binary-sizes 300
	@# The service, engine and HTTP suites again, on PostgreSQL. The same three
	@# packages are named so that cargo unifies the same features and reuses the
	@# test binaries just built (with `-p server` alone it built a second set).
	PORTAL_TEST_STORE=postgres PORTAL_POSTGRES_TALLY=$(POSTGRES_TALLY) cargo test -p app -p server -p sandbox \
	  $(foreach suite,$(POSTGRES_SUITES),--test $(suite))
	@ran=$$(grep -c '^ran ' $(POSTGRES_TALLY) 2>/dev/null || true); \
	  skipped=$$(grep -c '^skipped ' $(POSTGRES_TALLY) 2>/dev/null || true); \
	  echo "PostgreSQL: $${ran:-0} tests ran on it, $${skipped:-0} skipped"

e2e:
	cd end2end && npx playwright test

# Every page in light, dark and at 390 px, kept under docs/screenshots/ (the
# end-to-end suite takes the same shots into end2end/test-results/).
screenshots: tools build
	cd end2end && SCREENSHOTS_DIR=../docs/screenshots npx playwright test tests/pages.spec.ts

## Long-running checks, outside `make test`.
# Ten minutes of random and mutated dscloud.yaml documents against the check.
fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} cargo test --release -p app --test dscloud_fuzz -- --nocapture

# Each prints what it measured: dscloud.yaml parse + validate + render (50
# components), provisioning 1,000 databases, the databases and apps listings,
# and how soon an open database page hears of a change (live_updates).
bench:
	cargo bench -p server --bench dscloud
	cargo bench -p server --bench provisioning
	cargo bench -p server --bench database_list
	cargo bench -p server --bench apps
	cargo bench -p server --bench live_updates

# 200 signed-in users browsing the release build for 60 s on loopback
# (LOAD_USERS, LOAD_SECONDS): p50/p99, errors, the portal's CPU and memory.
load: tools build
	cargo bench -p server --bench load

# The release portal against nginx serving the very same bytes, measured
# with wrk in one run (server/benches/speed.rs says what it prints), then
# each route's first load in Chromium: its bytes against the budget, and when
# it hydrated. wrk and nginx come from Debian's packages, installed when
# missing.
speed: tools build
	@missing=""; command -v wrk >/dev/null || missing="$$missing wrk"; \
	  command -v nginx >/dev/null || missing="$$missing nginx"; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	cargo bench -p server --bench speed
	cd end2end && npx playwright test tests/first-load.spec.ts tests/hydrated.spec.ts -g 'hashed names|budget|no JS or WASM'

# The container image deploy/ runs (deploy/image/Dockerfile); needs a
# container builder with a daemon (docker, or podman's docker alias).
IMAGE ?= registry.dscloud.local/dscloud-portal:0.1.0
image:
	docker build -f deploy/image/Dockerfile -t $(IMAGE) .

clean:
	cargo clean
	rm -rf end2end/node_modules end2end/test-results
