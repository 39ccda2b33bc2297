#!/usr/bin/env bash
# Runs every cargo-fuzz target of tests/fuzz (channel webhooks, widget entries, tokens, User-Agent
# and Accept-Language) for SECONDS each (default 60; `make test` runs a short pass, `make fuzz`
# the long one). Seeds: the providers' documented payloads (functions/core/tests/fixtures) and
# tests/fuzz/regressions. A crash stops the run; its input lands in tests/fuzz/artifacts/<target>/:
# once fixed, copy it to tests/fuzz/regressions/<target>/, a seed every later run (and so every
# `make test`) replays first.
#
# cargo-fuzz's sanitizer flags are unstable rustc options: the machine's one (stable) toolchain
# accepts them with RUSTC_BOOTSTRAP=1, for this build only.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
lobby_warm_target

SECONDS_EACH="${1:-60}"
FUZZ="$LOBBY_TOOLS/cargo-fuzz-$LOBBY_CARGO_FUZZ_VERSION/bin/cargo-fuzz"
[ -x "$FUZZ" ] || { echo "[lobby fuzz] $FUZZ missing: run scripts/install-tools.sh" >&2; exit 1; }
TARGET_DIR="$LOBBY_TARGET_DIR/fuzz"
CORPUS="$LOBBY_TARGET_DIR/fuzz-corpus"
say() { printf '[lobby fuzz] %s\n' "$*"; }

export RUSTC_BOOTSTRAP=1
say "building the targets (cargo fuzz build, address sanitizer; target dir $TARGET_DIR)"
start=$(date +%s)
"$FUZZ" build --fuzz-dir tests/fuzz --target-dir "$TARGET_DIR" -O
say "built in $(( $(date +%s) - start )) s"

seeds() { # target -> seed folders
  case "$1" in
    messenger|whatsapp|vk) echo "functions/core/tests/fixtures/channels/$1" ;;
  esac
  echo "tests/fuzz/regressions/$1"
}

for target in messenger whatsapp vk widget_entry token user_agent; do
  mkdir -p "$CORPUS/$target"
  # shellcheck disable=SC2046
  say "$target: $SECONDS_EACH s"
  "$FUZZ" run --fuzz-dir tests/fuzz --target-dir "$TARGET_DIR" -O "$target" \
    "$CORPUS/$target" $(seeds "$target") -- \
    -max_total_time="$SECONDS_EACH" -max_len=65536 -print_final_stats=1 2>&1 |
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|panicked|Test unit written|artifact_prefix)" || true
  # `cargo fuzz run` exits non-zero on a crash; PIPESTATUS keeps that through the filter.
  [ "${PIPESTATUS[0]}" = 0 ] || { say "$target: CRASH (see tests/fuzz/artifacts/$target/)"; exit 1; }
done
say "all targets ran $SECONDS_EACH s each without a crash"
