#!/usr/bin/env bash
# Builds the operator app (frontend/operator, Leptos CSR) into frontend/dist/app/, which the
# worker serves as static assets at /app/ (wrangler.toml [assets]): cargo (wasm32, release) ->
# wasm-bindgen --target web -> wasm-opt -Oz (npm binaryen: Debian's crashes in the browser, see
# docs/toolchain.md) -> plus the hand-written index.html and app.css.
# Compiled crates live in $LOBBY_WASM_TARGET_DIR/frontend, apart from the worker's, so the two
# builds never wait on each other's cargo lock nor rebuild each other's dependencies.
# Skips the build when nothing it reads changed since the last one; LOBBY_FORCE_BUILD=1 rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

SRC=frontend/operator
OUT=frontend/dist/app
TARGET="$LOBBY_WASM_TARGET_DIR/frontend"
# When the last build started (kept with the compiled crates, not among the served files).
STAMP="$TARGET/.lobby-operator-built"
# What the app is built from.
INPUTS=("$SRC" functions/wire Cargo.toml Cargo.lock rust-toolchain.toml scripts/build-frontend.sh scripts/env.sh)

for tool in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN"; do
  if [ ! -x "$tool" ]; then
    echo "[lobby build] missing $tool: run scripts/install-tools.sh (make install-tools) first" >&2
    exit 1
  fi
done

# Sizes in bytes (gzip -9, as served compressed); the budget is 300,000 bytes of gzip for the Wasm.
report_size() {
  local wasm="$OUT/lobby_operator_bg.wasm" js="$OUT/lobby_operator.js" wz jz
  wz=$(gzip -9c "$wasm" | wc -c)
  jz=$(gzip -9c "$js" | wc -c)
  printf '[lobby build] operator app Wasm: %s bytes raw, %s bytes gzip (budget 300000 gzip); JS glue: %s bytes raw, %s bytes gzip\n' \
    "$(stat -c %s "$wasm")" "$wz" "$(stat -c %s "$js")" "$jz"
  if [ "$wz" -gt 300000 ]; then
    echo "[lobby build] WARNING: the operator app's Wasm is over its budget of 300000 bytes gzip" >&2
  fi
}

if [ "${LOBBY_FORCE_BUILD:-0}" != 1 ] && [ -f "$STAMP" ] && [ -f "$OUT/index.html" ] \
  && [ -f "$OUT/lobby_operator_bg.wasm" ] \
  && [ -z "$(find "${INPUTS[@]}" -path "*/target" -prune -o -newer "$STAMP" -print -quit 2>/dev/null)" ]; then
  echo "[lobby build] operator app up to date: $OUT (nothing under ${INPUTS[*]} changed; LOBBY_FORCE_BUILD=1 rebuilds)"
  scripts/precompress.sh frontend/dist
  report_size
  exit 0
fi

lobby_warm_target
mkdir -p "$TARGET"
# One app build at a time per clone.
exec 9>"$TARGET/.lobby-build.lock"
if ! flock -n 9; then
  echo "[lobby build] another operator app build of this clone is running; waiting for it..."
  flock 9
fi

echo "[lobby build] operator app: cargo build --release --target wasm32-unknown-unknown -p lobby-operator"
echo "[lobby build]   cargo target dir $TARGET"
echo "[lobby build]   wasm-bindgen $WASM_BINDGEN_BIN"
echo "[lobby build]   wasm-opt     $WASM_OPT_BIN ($("$WASM_OPT_BIN" --version))"
start=$(date +%s%N)
touch "$TARGET/.lobby-operator-building"
# panic=abort for this build only (smaller Wasm); the worker's build keeps the workspace profile.
CARGO_TARGET_DIR="$TARGET" CARGO_PROFILE_RELEASE_PANIC=abort \
  cargo build --release --target wasm32-unknown-unknown -p lobby-operator

# Build into a temporary folder, then swap: a running server never serves half an app.
mkdir -p "${OUT%/*}"
TMP="$(mktemp -d "${OUT%/*}/.app-build.XXXXXX")"
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
echo "[lobby build]   wasm-bindgen --target web"
"$WASM_BINDGEN_BIN" --target web --no-typescript --out-name lobby_operator --out-dir "$TMP" \
  "$TARGET/wasm32-unknown-unknown/release/lobby-operator.wasm"
echo "[lobby build]   wasm-opt -Oz"
# (wasm-opt takes the Wasm features from the module's target_features section.)
"$WASM_OPT_BIN" -Oz -o "$TMP/lobby_operator_bg.wasm.opt" "$TMP/lobby_operator_bg.wasm"
mv "$TMP/lobby_operator_bg.wasm.opt" "$TMP/lobby_operator_bg.wasm"
cp "$SRC/index.html" "$SRC/app.css" "$TMP/"
rm -rf "$OUT.old"
[ -d "$OUT" ] && mv "$OUT" "$OUT.old"
mv "$TMP" "$OUT"
rm -rf "$OUT.old"
trap - EXIT
mv "$TARGET/.lobby-operator-building" "$STAMP"

elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
printf '[lobby build] operator app built in %d.%01d s -> %s (served at /app/)\n' \
  $((elapsed / 1000)) $((elapsed % 1000 / 100)) "$OUT"
report_size
scripts/precompress.sh frontend/dist
