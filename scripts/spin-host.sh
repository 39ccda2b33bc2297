#!/usr/bin/env bash
# Runs Lobby on the local Spin host (tests/spin-host: wasmtime 48 + spin:sqlite + spin:variables),
# with the same environment variables as `make dev`:
#   PORT                  HTTP port on 127.0.0.1 (default 8787)
#   LOBBY_PLATFORM_TOKEN  platform token for POST /api/v1/tenants (default dev-platform-token)
#   LOBBY_TOKEN_SECRET    token-signing key (default: generated once into .lobby/token-secret)
#   LOBBY_SPIN_DB         the SQLite file (default .lobby/spin-state/lobby.db; delete it to start afresh)
#
#   scripts/spin-host.sh             build host + component, serve, seed the demo tenant as `make dev`
#                                    does (scripts/dev.sh --seed-only), run until Ctrl-C
#   scripts/spin-host.sh --no-seed   the same without seeding
#   scripts/spin-host.sh --build     only build both
#
# The host is a native crate compiled once into $CARGO_TARGET_DIR (~/.cache/lobby/target/<clone>/native,
# see env.sh), so a second run (or a fresh clone, which starts from a copy) does not recompile
# wasmtime. Its release build uses opt-level 2 without LTO: the workspace's size-oriented release
# profile (opt-level "z", fat LTO, one codegen unit) would take far longer to compile wasmtime.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

PORT="${PORT:-8787}"
LOBBY_PLATFORM_TOKEN="${LOBBY_PLATFORM_TOKEN:-dev-platform-token}"
DB="${LOBBY_SPIN_DB:-.lobby/spin-state/lobby.db}"
say() { printf '[lobby spin-host] %s\n' "$*"; }

mkdir -p .lobby
if [ -z "${LOBBY_TOKEN_SECRET:-}" ]; then
  [ -s .lobby/token-secret ] || { od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > .lobby/token-secret; chmod 600 .lobby/token-secret; }
  LOBBY_TOKEN_SECRET="$(cat .lobby/token-secret)"
fi

lobby_warm_target
HOST_PROFILE=(CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
              CARGO_PROFILE_RELEASE_OPT_LEVEL=2 CARGO_PROFILE_RELEASE_INCREMENTAL=false)
HOST="$CARGO_TARGET_DIR/release/lobby-spin-host"
say "building the host: cargo build --release -p lobby-spin-host (target dir $CARGO_TARGET_DIR; wasmtime compiles once, ~10-20 min on 2 cores)"
start=$(date +%s)
env "${HOST_PROFILE[@]}" cargo build --release -p lobby-spin-host
say "host ready in $(( $(date +%s) - start )) s: $HOST"
scripts/build-spin.sh --with-frontends

[ "${1:-}" = --build ] && exit 0

mkdir -p "$(dirname "$DB")"
BASE="http://127.0.0.1:$PORT"
say "Lobby on the Spin host: $BASE (database $DB; delete it to start afresh)"
export SPIN_VARIABLE_LOBBY_PLATFORM_TOKEN="$LOBBY_PLATFORM_TOKEN"
export SPIN_VARIABLE_LOBBY_TOKEN_SECRET="$LOBBY_TOKEN_SECRET"
export SPIN_HOST_SQLITE_PATH="$DB"
if [ "${1:-}" = --no-seed ]; then
  exec "$HOST" --manifest spin.toml --listen "127.0.0.1:$PORT"
fi

HOST_PID=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$HOST_PID" ] && kill -0 "$HOST_PID" 2>/dev/null; then
    say "stopping the Spin host (pid $HOST_PID)"
    kill -TERM "$HOST_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$HOST_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$HOST_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$HOST" --manifest spin.toml --listen "127.0.0.1:$PORT" </dev/null &
HOST_PID=$!
start=$(date +%s%N)
until curl -fsS -o /dev/null --max-time 2 "$BASE/healthz" 2>/dev/null; do
  kill -0 "$HOST_PID" 2>/dev/null || { say "the Spin host exited before answering /healthz (its output is above)" >&2; exit 1; }
  [ $(( ($(date +%s%N) - start) / 1000000000 )) -lt 120 ] || { say "no answer from $BASE/healthz after 120 s" >&2; exit 1; }
  sleep 0.1
done
say "healthy after $(( ($(date +%s%N) - start) / 1000000 )) ms; seeding the demo tenant"
LOBBY_PLATFORM_TOKEN="$LOBBY_PLATFORM_TOKEN" LOBBY_TOKEN_SECRET="$LOBBY_TOKEN_SECRET" \
  scripts/dev.sh --seed-only "$BASE"
say "Ctrl-C stops the server; the data stays in $DB"
wait "$HOST_PID"
