#!/usr/bin/env bash
# `make prove`: the reliability runs at full scale, each appending its figures to RELIABILITY.md
# (rewritten on every run). `make test` runs the same tests at a small scale.
#
#   races    LOBBY_RACE_OPERATORS (default here 50), LOBBY_RACE_ATTEMPTS (10000),
#            LOBBY_RACE_WAITING (200): tests/e2e/tests/races.rs
#   crashes  LOBBY_CRASH_KILLS (default here 6), LOBBY_CRASH_THREADS (4): tests/e2e/tests/crashes.rs
# each against wrangler dev, then against the local Spin host (LOBBY_E2E_RUNTIME=spin);
#   reconnects  LOBBY_RECONNECT_MESSAGES (default here 300): tests/e2e/tests/reconnects.rs
#   fanout   LOBBY_FANOUT_OPERATORS (50) × LOBBY_FANOUT_SOCKETS (20) = 1,000 operator WebSockets,
#            LOBBY_FANOUT_WAITING (10000), LOBBY_FANOUT_SAMPLES (50): tests/e2e/tests/fanout.rs,
#            against wrangler dev
#   api_checker  schemathesis with LOBBY_SCHEMATHESIS_EXAMPLES (default here 100) examples per
#            operation: tests/e2e/tests/api_checker.rs, against wrangler dev
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
export LOBBY_CRASH_KILLS="${LOBBY_CRASH_KILLS:-6}"
export LOBBY_CRASH_THREADS="${LOBBY_CRASH_THREADS:-4}"
export LOBBY_FANOUT_OPERATORS="${LOBBY_FANOUT_OPERATORS:-50}"
export LOBBY_FANOUT_SOCKETS="${LOBBY_FANOUT_SOCKETS:-20}"
export LOBBY_FANOUT_WAITING="${LOBBY_FANOUT_WAITING:-10000}"
export LOBBY_FANOUT_SAMPLES="${LOBBY_FANOUT_SAMPLES:-50}"
export LOBBY_RECONNECT_MESSAGES="${LOBBY_RECONNECT_MESSAGES:-300}"
export LOBBY_SCHEMATHESIS_SEED="${LOBBY_SCHEMATHESIS_SEED:-random}"
export LOBBY_SCHEMATHESIS_EXAMPLES="${LOBBY_SCHEMATHESIS_EXAMPLES:-100}"

{
  echo "# Reliability"
  echo
  echo "Written by \`make prove\` (scripts/prove.sh); overwritten on every run."
  echo
  echo "- Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), $(uname -sr)"
  echo "- Commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
} > "$TMP"

run() { # name, runtime, test, env description
  say "$1 on $2 (tests/e2e/tests/$3.rs)"
  LOBBY_E2E_RUNTIME="$2" LOBBY_RELIABILITY_OUT="$PWD/$TMP" cargo test -p lobby-e2e --test "$3" -- --nocapture
  { # under the section the test just appended
    echo "Command: \`$4 LOBBY_E2E_RUNTIME=$2 cargo test -p lobby-e2e --test $3 -- --nocapture\`"
    echo
  } >> "$TMP"
}
RACES="LOBBY_RACE_OPERATORS=$LOBBY_RACE_OPERATORS LOBBY_RACE_ATTEMPTS=$LOBBY_RACE_ATTEMPTS LOBBY_RACE_WAITING=$LOBBY_RACE_WAITING"
CRASHES="LOBBY_CRASH_KILLS=$LOBBY_CRASH_KILLS LOBBY_CRASH_THREADS=$LOBBY_CRASH_THREADS"
FANOUT="LOBBY_FANOUT_OPERATORS=$LOBBY_FANOUT_OPERATORS LOBBY_FANOUT_SOCKETS=$LOBBY_FANOUT_SOCKETS LOBBY_FANOUT_WAITING=$LOBBY_FANOUT_WAITING LOBBY_FANOUT_SAMPLES=$LOBBY_FANOUT_SAMPLES"
for rt in cloudflare spin; do
  run races "$rt" races "$RACES"
  run crashes "$rt" crashes "$CRASHES"
  run reconnects "$rt" reconnects "LOBBY_RECONNECT_MESSAGES=$LOBBY_RECONNECT_MESSAGES"
done
run fanout cloudflare fanout "$FANOUT"
run "API checker" cloudflare api_checker "LOBBY_SCHEMATHESIS_EXAMPLES=$LOBBY_SCHEMATHESIS_EXAMPLES"

mv -f "$TMP" "$OUT"
trap - EXIT
say "wrote $OUT"
