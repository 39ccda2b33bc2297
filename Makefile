# Lobby: build, run and test. Every recipe sources scripts/env.sh (cached tools, PATH with Node 22,
# CARGO_TARGET_DIR under ~/.cache/lobby) and prints a `[lobby ...]` line per step.
#
#   make dev     install what serving needs, build, run under wrangler dev on 127.0.0.1:PORT (default 8787)
#                with a seeded demo tenant; honours PORT and LOBBY_PLATFORM_TOKEN;
#                `make dev SPIN=1` serves the same on the local Spin host (tests/spin-host)
#   make test    install the same plus the test tools, rustfmt check, clippy (native + wasm32 + wasip2), build, cargo test
#                (core, operator app, the end-to-end suite on wrangler dev and on the Spin host),
#                browser tests (Chromium; on wrangler dev and on the Spin host)
#   make bench   build, run the benchmarks (tests/e2e bin `bench`, tests/browser/bench.mjs,
#                tests/widget/bench.mjs)
#   make fuzz    run every fuzz target (tests/fuzz) for FUZZ_SECONDS each (default 60)
#   make prove   build, run the reliability tests at full scale (races: 50 operators, 10,000
#                accept attempts) and write RELIABILITY.md
#   make build   install tools, build the worker, the operator app, the client widget, the Spin
#                component and the local Spin host
#   make screenshots  build, then picture the operator app and the widget (Chromium, wrangler dev)
#                into docs/screenshots (tests/browser/screenshots.mjs, tests/widget/screenshots.mjs)
#   make openapi regenerate functions/core/openapi.json from the route tables and the wire types

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

ENV := source scripts/env.sh && lobby_warm_target &&
say = printf '\n[lobby %s] %s\n' "$(1)" "$(2)"

.PHONY: help house-check install-tools install-test-tools build openapi dev test fmt-check clippy clippy-wasm cargo-test browser-test fuzz-short fuzz bench prove screenshots clean
# (No commas in the texts given to `say`: make would split them into more arguments.)

help:
	@sed -n '4,20p' Makefile | sed 's/^# \{0,1\}//'

# Serving needs the Rust targets, wasm-bindgen, worker-build and the npm tools; only the tests
# need Chromium, schemathesis and cargo-fuzz, so `make dev` never waits for them.
install-tools:
	@$(call say,tools,installing or checking the cached tools for serving (scripts/install-tools.sh))
	@scripts/install-tools.sh

install-test-tools:
	@$(call say,tools,installing or checking the cached tools for serving and testing (scripts/install-tools.sh --tests))
	@scripts/install-tools.sh --tests

build: install-tools
	@$(call say,build,building the Cloudflare worker (scripts/build-worker.sh))
	@scripts/build-worker.sh
	@$(call say,build,building the operator app (scripts/build-frontend.sh))
	@scripts/build-frontend.sh
	@$(call say,build,building the client widget (frontend/widget/build.sh))
	@bash frontend/widget/build.sh
	@$(call say,build,building the Spin component and the local Spin host (scripts/spin-host.sh --build))
	@scripts/spin-host.sh --build

# The served document is generated natively (lobby-core's `schema` feature) and stored; the
# core's tests fail while the stored file differs from what the tables generate.
openapi:
	@$(call say,openapi,regenerating functions/core/openapi.json (lobby-core's tests with LOBBY_WRITE_OPENAPI=1))
	@$(ENV) LOBBY_WRITE_OPENAPI=1 cargo test -p lobby-core --lib openapi::tests::the_stored_document_is_the_generated_one

dev: install-tools
ifeq ($(SPIN),1)
	@$(call say,dev,build + the local Spin host + demo tenant (scripts/spin-host.sh))
	@PORT="$(PORT)" LOBBY_PLATFORM_TOKEN="$(LOBBY_PLATFORM_TOKEN)" scripts/spin-host.sh
else
	@$(call say,dev,build + wrangler dev + demo tenant (scripts/dev.sh))
	@PORT="$(PORT)" LOBBY_PLATFORM_TOKEN="$(LOBBY_PLATFORM_TOKEN)" scripts/dev.sh
endif

house-check:
	@$(call say,test,the project's own files: self-contained and make dev without test tools (scripts/house-check.sh))
	@scripts/house-check.sh

fmt-check:
	@$(call say,test,cargo fmt --all --check)
	@$(ENV) cargo fmt --all -- --check
	@$(ENV) cargo fmt --manifest-path tests/fuzz/Cargo.toml -- --check

clippy:
	@$(call say,test,cargo clippy of the native crates (wire + core + e2e + operator app tests + Spin host) -D warnings)
	@$(ENV) cargo clippy -p lobby-wire -p lobby-core -p lobby-e2e -p lobby-operator -p lobby-spin-host --all-targets -- -D warnings

clippy-wasm:
	@$(call say,test,cargo clippy of the worker and the operator app for wasm32 -D warnings)
	@$(ENV) CARGO_TARGET_DIR="$$LOBBY_WASM_TARGET_DIR" \
	  cargo clippy -p lobby-cloudflare --target wasm32-unknown-unknown -- -D warnings
	@$(ENV) CARGO_TARGET_DIR="$$LOBBY_WASM_TARGET_DIR/frontend" \
	  cargo clippy -p lobby-operator --target wasm32-unknown-unknown -- -D warnings
	@$(call say,test,cargo clippy of the Spin component for wasm32-wasip2 -D warnings)
	@$(ENV) CARGO_TARGET_DIR="$$LOBBY_WASM_TARGET_DIR/spin" \
	  cargo clippy -p lobby-spin --target wasm32-wasip2 -- -D warnings

cargo-test:
	@$(call say,test,cargo test of the default members (wire + core + the end-to-end suite against wrangler dev))
	@$(ENV) cargo test
	@$(call say,test,cargo test of the operator app's logic (lobby-operator natively))
	@$(ENV) cargo test -p lobby-operator
	@$(call say,test,the Spin component's own tests (static file paths and media types; lobby-spin natively))
	@$(ENV) cargo test -p lobby-spin --lib
	@$(call say,test,the end-to-end suite again on the local Spin host (LOBBY_E2E_RUNTIME=spin))
	@$(ENV) LOBBY_E2E_RUNTIME=spin cargo test -p lobby-e2e

# Every browser test runs on both runtimes: on the Spin host the live events are Server-Sent
# Events and the frontends are served by the Spin component (typing is not relayed there; the
# widget's typing test says so and skips). No test writes into docs/ (see `make screenshots`).
browser-test:
	@$(call say,test,operator app in Chromium (tests/browser/run.sh))
	@bash tests/browser/run.sh
	@$(call say,test,client widget in Chromium on a company page (tests/widget/run.sh))
	@bash tests/widget/run.sh
	@$(call say,test,operator app in Chromium on the local Spin host (LOBBY_E2E_RUNTIME=spin tests/browser/run.sh))
	@LOBBY_E2E_RUNTIME=spin bash tests/browser/run.sh
	@$(call say,test,client widget in Chromium on the local Spin host (LOBBY_E2E_RUNTIME=spin tests/widget/run.sh))
	@LOBBY_E2E_RUNTIME=spin bash tests/widget/run.sh

test: house-check install-test-tools fmt-check clippy clippy-wasm
	@$(call say,test,building the worker and the frontends the tests run)
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory cargo-test
	@$(MAKE) --no-print-directory browser-test
	@$(MAKE) --no-print-directory fuzz-short
	@$(call say,test,all passed)

bench: install-test-tools build
	@$(call say,bench,cargo run --release -p lobby-e2e --bin bench)
	@$(ENV) cargo run --release -p lobby-e2e --bin bench
	@$(call say,bench,operator app in Chromium (tests/browser/bench.mjs))
	@$(ENV) node tests/browser/bench.mjs
	@$(call say,bench,client widget weight against a reference widget (tests/widget/bench.mjs))
	@$(ENV) node tests/widget/bench.mjs

fuzz-short:
	@$(call say,test,every fuzz target for 10 s (scripts/fuzz.sh 10))
	@scripts/fuzz.sh 10

fuzz: install-test-tools
	@$(call say,fuzz,every fuzz target for $(or $(FUZZ_SECONDS),60) s (scripts/fuzz.sh))
	@scripts/fuzz.sh $(or $(FUZZ_SECONDS),60)

prove: install-test-tools build
	@$(call say,prove,reliability at full scale (scripts/prove.sh) -> RELIABILITY.md)
	@scripts/prove.sh

# The pictures in docs/screenshots and the README: scenes played through the API and pictured in
# Chromium against wrangler dev, apart from the tests (which leave docs/ alone).
screenshots: install-test-tools build
	@$(call say,screenshots,the operator app: queue + preview + Client tab (tests/browser/screenshots.mjs))
	@$(ENV) source tests/browser/lib/chromium.sh && node tests/browser/screenshots.mjs
	@$(call say,screenshots,the widget: a conversation + the offline form (tests/widget/screenshots.mjs))
	@$(ENV) node tests/widget/screenshots.mjs
	@$(call say,screenshots,written to docs/screenshots)

clean:
	@$(call say,clean,removing the worker build and wrangler's scratch files (not .lobby/ nor the cache))
	@rm -rf functions/cloudflare/build .wrangler
