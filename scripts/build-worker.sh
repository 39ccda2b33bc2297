#!/usr/bin/env bash
# Builds the Cloudflare worker (functions/cloudflare) with `worker-build --release` into
# functions/cloudflare/build/ (index.js + index_bg.wasm, and worker/shim.mjs which wrangler.toml's
# `main` points at). Uses only the tools scripts/install-tools.sh cached: worker-build never
# downloads anything. Compiled crates live in $LOBBY_WASM_TARGET_DIR (~/.cache/lobby/target/<clone>/wasm,
# started from another clone's compiled dependencies: see env.sh).
# Skips the build when nothing it reads changed since the last one; LOBBY_FORCE_BUILD=1 rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

OUT=functions/cloudflare/build
# wrangler.toml serves static assets from frontend/dist: it must exist even before the frontends
# are built (scripts/build-frontend.sh fills it).
mkdir -p frontend/dist
# What the worker is built from. Add a path here if the worker ever embeds files from elsewhere.
INPUTS=(functions Cargo.toml Cargo.lock rust-toolchain.toml scripts/build-worker.sh scripts/env.sh)

for tool in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  if [ ! -x "$tool" ]; then
    echo "[lobby build] missing $tool: run scripts/install-tools.sh (make install-tools) first" >&2
    exit 1
  fi
done

lobby_warm_target
# One worker build at a time per clone (`make dev` and `make test` side by side): cargo's own lock
# ends before worker-build reads the .wasm that cargo wrote.
mkdir -p "$LOBBY_WASM_TARGET_DIR"
exec 9>"$LOBBY_WASM_TARGET_DIR/.lobby-build.lock"
if ! flock -n 9; then
  echo "[lobby build] another worker build of this clone is running; waiting for it..."
  flock 9
fi

if [ "${LOBBY_FORCE_BUILD:-0}" != 1 ] && [ -f "$OUT/index.js" ] && [ -f "$OUT/index_bg.wasm" ] \
  && [ -f "$OUT/worker/shim.mjs" ] \
  && [ -z "$(find "${INPUTS[@]}" -path "*/build" -prune -o -path "*/target" -prune -o \
              -newer "$OUT/index.js" -print -quit 2>/dev/null)" ]; then
  echo "[lobby build] worker up to date: $OUT (nothing under ${INPUTS[*]} changed; LOBBY_FORCE_BUILD=1 rebuilds)"
  exit 0
fi

echo "[lobby build] worker-build $LOBBY_WORKER_BUILD_VERSION --release: functions/cloudflare -> $OUT"
echo "[lobby build]   cargo target dir $LOBBY_WASM_TARGET_DIR"
echo "[lobby build]   wasm-bindgen $WASM_BINDGEN_BIN"
echo "[lobby build]   wasm-opt     $WASM_OPT_BIN"
echo "[lobby build]   esbuild      $ESBUILD_BIN"
start=$(date +%s%N)
(cd functions/cloudflare && CARGO_TARGET_DIR="$LOBBY_WASM_TARGET_DIR" "$WORKER_BUILD_BIN" --release)
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))

wasm_bytes=$(stat -c %s "$OUT/index_bg.wasm")
gzip_bytes=$(gzip -9c "$OUT/index_bg.wasm" | wc -c)
printf '[lobby build] worker built in %d.%01d s: %s/index_bg.wasm %d KB (%d KB gzip), main %s/worker/shim.mjs\n' \
  $((elapsed / 1000)) $((elapsed % 1000 / 100)) "$OUT" $((wasm_bytes / 1024)) $((gzip_bytes / 1024)) "$OUT"
