#!/usr/bin/env bash
# The client widget's browser tests (issue 4): Debian's Chromium driven by playwright-core (from
# the cached tools) on a demo company site that embeds the snippet, against `wrangler dev`; one
# test file at a time, each with its own server.
#
#   tests/widget/run.sh                              every tests/widget/*.test.mjs
#   tests/widget/run.sh --test-name-pattern=offline  (extra arguments go to node --test; test
#                                                    files given replace the default set)
#   LOBBY_E2E_RUNTIME=spin tests/widget/run.sh       the same against the local Spin host (the
#                                                    component serves the widget, events arrive as
#                                                    Server-Sent Events); needs scripts/spin-host.sh --build
#
# Builds the widget (frontend/widget/build.sh, about a second) so that what runs is the source;
# the worker must be built (scripts/build-worker.sh; the Makefile does it first).
# Environment: LOBBY_CHROMIUM (default /usr/bin/chromium), LOBBY_E2E_KEEP=1 (keep the server's
# folder with wrangler.log). The tests write nothing into docs/: `make screenshots` runs
# tests/widget/screenshots.mjs for docs/screenshots.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

say() { printf '[lobby widget tests] %s\n' "$*"; }

CHROMIUM="${LOBBY_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  say "FAILED: no Chromium at $CHROMIUM: sudo apt-get install -y chromium (or set LOBBY_CHROMIUM)" >&2
  exit 1
fi
if [ ! -d "${LOBBY_NODE_MODULES:-$LOBBY_TOOLS/npm-current/node_modules}/playwright-core" ]; then
  say "FAILED: playwright-core is not in $LOBBY_TOOLS/npm-current/node_modules: run scripts/install-tools.sh" >&2
  exit 1
fi
if [ "${LOBBY_E2E_RUNTIME:-}" = spin ]; then
  if [ ! -x "${LOBBY_SPIN_HOST:-$CARGO_TARGET_DIR/release/lobby-spin-host}" ] || [ ! -s functions/spin/build/lobby_spin.wasm ]; then
    say "FAILED: the Spin host or component is not built: scripts/spin-host.sh --build" >&2
    exit 1
  fi
  say "runtime: the local Spin host (LOBBY_E2E_RUNTIME=spin)"
elif [ ! -s functions/cloudflare/build/worker/shim.mjs ]; then
  say "FAILED: the worker is not built: bash scripts/build-worker.sh" >&2
  exit 1
fi
bash frontend/widget/build.sh

say "node $(node --version), $("$CHROMIUM" --version 2>/dev/null | head -1)"
set +e
# Node 22's --test takes files or globs, not a folder: the glob leaves lib/ out.
# Test files among the arguments replace the default set (the Makefile names the Spin subset so).
case " $* " in
  *.test.mjs\ *) ;;
  *) set -- "$@" 'tests/widget/*.test.mjs' ;;
esac
node --test --test-concurrency=1 "$@"
status=$?
set -e
if [ "$status" = 0 ]; then say "all passed"; else say "FAILED (node --test exited $status)"; fi
exit "$status"
