#!/usr/bin/env bash
# `make prove`: the reliability runs at full scale, each appending its figures to RELIABILITY.md
# (rewritten on every run). `make test` runs the same tests at a small scale.
#
#   races   LOBBY_RACE_OPERATORS (default here 50), LOBBY_RACE_ATTEMPTS (10000),
#           LOBBY_RACE_WAITING (200): tests/e2e/tests/races.rs against wrangler dev
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
lobby_warm_target

OUT=RELIABILITY.md
TMP="$OUT.tmp.$$"
trap 'rm -f "$TMP"' EXIT
say() { printf '[lobby prove] %s\n' "$*"; }

export LOBBY_RACE_OPERATORS="${LOBBY_RACE_OPERATORS:-50}"
export LOBBY_RACE_ATTEMPTS="${LOBBY_RACE_ATTEMPTS:-10000}"
export LOBBY_RACE_WAITING="${LOBBY_RACE_WAITING:-200}"

{
  echo "# Reliability"
  echo
  echo "Written by \`make prove\` (scripts/prove.sh); overwritten on every run."
  echo
  echo "- Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), $(uname -sr)"
  echo "- Commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
} > "$TMP"

say "races: $LOBBY_RACE_OPERATORS operators, $LOBBY_RACE_ATTEMPTS accept attempts, $LOBBY_RACE_WAITING waiting (tests/e2e/tests/races.rs)"
{
  echo "Command: \`LOBBY_RACE_OPERATORS=$LOBBY_RACE_OPERATORS LOBBY_RACE_ATTEMPTS=$LOBBY_RACE_ATTEMPTS LOBBY_RACE_WAITING=$LOBBY_RACE_WAITING cargo test -p lobby-e2e --test races -- --nocapture\`"
  echo
} >> "$TMP"
LOBBY_RELIABILITY_OUT="$PWD/$TMP" cargo test -p lobby-e2e --test races -- --nocapture

mv -f "$TMP" "$OUT"
trap - EXIT
say "wrote $OUT"
