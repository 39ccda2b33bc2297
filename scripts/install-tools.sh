#!/usr/bin/env bash
# Installs every tool Lobby needs, from the package registries only, into a cache outside the
# clone ($LOBBY_CACHE, ~/.cache/lobby by default) so that a second run skips what is already there.
# Prints one line per step, so a first run (about 10 minutes on 2 cores) is never silent.
#
#   scripts/install-tools.sh           what serving needs (steps 1-4: `make dev`, `make build`)
#   scripts/install-tools.sh --tests   the same plus what only the tests need (steps 5-7:
#                                      Chromium, schemathesis, cargo-fuzz: `make test`)
# Environment: LOBBY_SKIP_APT=1 skips the Debian packages (only the browser tests need them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

case "${1:-}" in
  --tests) STEPS=7 ;;
  "") STEPS=4 ;;
  *) echo "usage: scripts/install-tools.sh [--tests]" >&2; exit 2 ;;
esac
step() { printf '[lobby setup %s/%s] %s\n' "$1" "$STEPS" "$2"; }

# One installer at a time per cache (a CI run and a developer may start one together).
exec 9>"$LOBBY_TOOLS/.install.lock"
if ! flock -n 9; then
  echo "[lobby setup] another install-tools run holds $LOBBY_TOOLS/.install.lock; waiting for it..."
  flock 9
fi

step 1 "Rust toolchain and wasm targets (rust-toolchain.toml)"
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
installed_targets=$(rustup target list --installed)
for t in wasm32-unknown-unknown wasm32-wasip1 wasm32-wasip2; do
  grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done
echo "    ok: $(rustc --version)"

# `cargo install` into a versioned folder of the cache; no --locked (a locked install fails on a
# crate version missing from the index). Builds in a temporary target dir, not the shared one.
cargo_install() { # crate version folder binary
  local root="$LOBBY_TOOLS/$3"
  if [ -x "$root/bin/$4" ]; then
    echo "    cached: $root/bin/$4"
  else
    echo "    compiling $1 $2 with cargo install (several minutes on 2 cores, once)..."
    env -u CARGO_TARGET_DIR cargo install "$1" --version "$2" --root "$root" --quiet
    echo "    installed: $root/bin/$4"
  fi
}

step 2 "wasm-bindgen-cli $LOBBY_WASM_BINDGEN_VERSION"
cargo_install wasm-bindgen-cli "$LOBBY_WASM_BINDGEN_VERSION" "wasm-bindgen-$LOBBY_WASM_BINDGEN_VERSION" wasm-bindgen

step 3 "worker-build $LOBBY_WORKER_BUILD_VERSION"
cargo_install worker-build "$LOBBY_WORKER_BUILD_VERSION" "worker-build-$LOBBY_WORKER_BUILD_VERSION" worker-build

step 4 "Node 22, wrangler, binaryen, esbuild, playwright-core (npm, tools/package.json)"
lock_files=(tools/package.json)
[ -f tools/package-lock.json ] && lock_files+=(tools/package-lock.json)
hash=$(cat "${lock_files[@]}" | sha256sum | cut -c1-16)
NODE_DIR="$LOBBY_TOOLS/npm-$hash"
if [ -f "$NODE_DIR/.done" ]; then
  echo "    cached: $NODE_DIR"
else
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
  cp "${lock_files[@]}" "$NODE_DIR/"
  if [ -f "$NODE_DIR/package-lock.json" ]; then
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error --prefer-offline)
  else
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error --prefer-offline)
    cp "$NODE_DIR/package-lock.json" tools/package-lock.json
    echo "    wrote tools/package-lock.json (commit it)"
    # Re-key the folder by package.json + the new lock, as the next run will look for it.
    hash=$(cat tools/package.json tools/package-lock.json | sha256sum | cut -c1-16)
    rm -rf "$LOBBY_TOOLS/npm-$hash" && mv "$NODE_DIR" "$LOBBY_TOOLS/npm-$hash"
    NODE_DIR="$LOBBY_TOOLS/npm-$hash"
  fi
  touch "$NODE_DIR/.done"
fi
ln -sfn "$NODE_DIR" "$LOBBY_TOOLS/npm-current"
for bin in "$LOBBY_NODE" "$LOBBY_WRANGLER" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  [ -x "$bin" ] || { echo "    missing after npm install: $bin" >&2; exit 1; }
done
echo "    node $("$LOBBY_NODE" --version), wrangler $("$LOBBY_WRANGLER" --version 2>/dev/null | tail -1)," \
  "$("$WASM_OPT_BIN" --version), esbuild $("$ESBUILD_BIN" --version)"

if [ "$STEPS" = 4 ]; then
  echo "[lobby setup] the tools for serving are ready in $LOBBY_TOOLS (the test tools: --tests)"
  exit 0
fi

step 5 "Debian packages for browser tests (chromium, chromium-driver)"
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "    present: $(command -v chromium)"
elif [ "${LOBBY_SKIP_APT:-0}" = 1 ]; then
  echo "    skipped (LOBBY_SKIP_APT=1); browser tests will not run"
else
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; then
    echo "    installed: $(command -v chromium)"
  else
    # Only the browser tests need Chromium: warn, do not fail the build.
    echo "    WARNING: apt-get could not install chromium; browser tests will not run (LOBBY_SKIP_APT=1 silences this)"
  fi
fi
step 6 "schemathesis $LOBBY_SCHEMATHESIS_VERSION (PyPI, the independent API checker) in a venv"
ST_DIR="$LOBBY_TOOLS/schemathesis-$LOBBY_SCHEMATHESIS_VERSION"
if [ -f "$ST_DIR/.complete" ]; then
  echo "    cached: $ST_DIR/bin/schemathesis"
else
  # A venv records its own path, so it is built in place; `.complete` marks a finished install
  # (an interrupted one is redone).
  rm -rf "$ST_DIR"
  python3 -m venv "$ST_DIR"
  "$ST_DIR/bin/pip" install -q --disable-pip-version-check "schemathesis==$LOBBY_SCHEMATHESIS_VERSION"
  touch "$ST_DIR/.complete"
  echo "    installed: $("$ST_DIR/bin/schemathesis" --version)"
fi
step 7 "cargo-fuzz $LOBBY_CARGO_FUZZ_VERSION (fuzz targets, scripts/fuzz.sh)"
cargo_install cargo-fuzz "$LOBBY_CARGO_FUZZ_VERSION" "cargo-fuzz-$LOBBY_CARGO_FUZZ_VERSION" cargo-fuzz
echo "[lobby setup] all tools ready in $LOBBY_TOOLS"
