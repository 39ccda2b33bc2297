#!/usr/bin/env bash
# Builds the Spin component (functions/spin, crate lobby-spin) for wasm32-wasip2 into
# functions/spin/build/lobby_spin.wasm, the `source` spin.toml names. Compiled crates live in
# $LOBBY_WASM_TARGET_DIR/spin (~/.cache/lobby/target/<clone>/wasm/spin: see env.sh), apart from the
# worker's, so the two builds never wait for each other's cargo lock.
# Skips the build when nothing it reads changed since the last one; LOBBY_FORCE_BUILD=1 rebuilds.
#
#   scripts/build-spin.sh                    the component only
#   scripts/build-spin.sh --with-frontends   also the operator app and the widget into frontend/dist,
#                                            the folder spin.toml mounts into the component (`files`);
#                                            spin.toml's build command (`spin build`) runs this
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if [ "${1:-}" = --with-frontends ]; then
  scripts/build-frontend.sh
  bash frontend/widget/build.sh
fi

OUT=functions/spin/build/lobby_spin.wasm
INPUTS=(functions/spin functions/core functions/wire Cargo.toml Cargo.lock rust-toolchain.toml
        scripts/build-spin.sh scripts/env.sh)

lobby_warm_target
export CARGO_TARGET_DIR="$LOBBY_WASM_TARGET_DIR/spin"
mkdir -p "$CARGO_TARGET_DIR"
exec 9>"$CARGO_TARGET_DIR/.lobby-build.lock"
if ! flock -n 9; then
  echo "[lobby build-spin] another Spin build of this clone is running; waiting for it..."
  flock 9
fi

if [ "${LOBBY_FORCE_BUILD:-0}" != 1 ] && [ -f "$OUT" ] \
  && [ -z "$(find "${INPUTS[@]}" -path "*/build" -prune -o -path "*/target" -prune -o \
              -newer "$OUT" -print -quit 2>/dev/null)" ]; then
  echo "[lobby build-spin] component up to date: $OUT ($(stat -c %s "$OUT") bytes; LOBBY_FORCE_BUILD=1 rebuilds)"
  exit 0
fi

echo "[lobby build-spin] cargo build --release --target wasm32-wasip2 -p lobby-spin (target dir $CARGO_TARGET_DIR)"
start=$(date +%s)
cargo build --release --target wasm32-wasip2 -p lobby-spin
mkdir -p "$(dirname "$OUT")"
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/lobby_spin.wasm" "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
size=$(stat -c %s "$OUT")
gz=$(gzip -9c "$OUT" | wc -c)
echo "[lobby build-spin] $OUT: $size bytes ($((size / 1024)) KB, $((gz / 1024)) KB gzip) in $(( $(date +%s) - start )) s"
