# Lobby: build, run and test. Every recipe sources scripts/env.sh (cached tools, PATH with Node 22,
# CARGO_TARGET_DIR under ~/.cache/lobby) and prints a `[lobby ...]` line per step.
#
#   make dev     install tools, build the worker, run it under wrangler dev on 127.0.0.1:PORT
#                (default 8787) with a seeded demo tenant; honours PORT and LOBBY_PLATFORM_TOKEN
#   make test    install tools, rustfmt check, clippy (native + wasm32 worker), build the worker,
#                cargo test (core unit tests and the end-to-end suite against wrangler dev)
#   make bench   build the worker, run the benchmark (tests/e2e, bin `bench`)
#   make build   install tools, build the worker (functions/cloudflare/build)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

ENV := source scripts/env.sh && lobby_warm_target &&
say = printf '\n[lobby %s] %s\n' "$(1)" "$(2)"

.PHONY: help install-tools build dev test fmt-check clippy clippy-wasm cargo-test bench clean
# (No commas in the texts given to `say`: make would split them into more arguments.)

help:
	@sed -n '4,10p' Makefile | sed 's/^# \{0,1\}//'

install-tools:
	@$(call say,tools,installing or checking the cached tools (scripts/install-tools.sh))
	@scripts/install-tools.sh

build: install-tools
	@$(call say,build,building the Cloudflare worker (scripts/build-worker.sh))
	@scripts/build-worker.sh

dev: install-tools
	@$(call say,dev,build + wrangler dev + demo tenant (scripts/dev.sh))
	@PORT="$(PORT)" LOBBY_PLATFORM_TOKEN="$(LOBBY_PLATFORM_TOKEN)" scripts/dev.sh

fmt-check:
	@$(call say,test,cargo fmt --all --check)
	@$(ENV) cargo fmt --all -- --check

clippy:
	@$(call say,test,cargo clippy of the native members (workspace minus lobby-cloudflare) -D warnings)
	@$(ENV) cargo clippy --workspace --exclude lobby-cloudflare --all-targets -- -D warnings

clippy-wasm:
	@$(call say,test,cargo clippy -p lobby-cloudflare --target wasm32-unknown-unknown -D warnings)
	@$(ENV) CARGO_TARGET_DIR="$$LOBBY_WASM_TARGET_DIR" \
	  cargo clippy -p lobby-cloudflare --target wasm32-unknown-unknown -- -D warnings

cargo-test:
	@$(call say,test,cargo test of the default members (wire + core + the end-to-end suite against wrangler dev))
	@$(ENV) cargo test

test: install-tools fmt-check clippy clippy-wasm
	@$(call say,test,building the worker the end-to-end tests run (scripts/build-worker.sh))
	@scripts/build-worker.sh
	@$(MAKE) --no-print-directory cargo-test
	@$(call say,test,all passed)

bench: build
	@$(call say,bench,cargo run --release -p lobby-e2e --bin bench)
	@$(ENV) cargo run --release -p lobby-e2e --bin bench

clean:
	@$(call say,clean,removing the worker build and wrangler's scratch files (not .lobby/ nor the cache))
	@rm -rf functions/cloudflare/build .wrangler
