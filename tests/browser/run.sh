#!/usr/bin/env bash
# The operator app's browser tests (part of `make test`): Debian's Chromium driven by
# playwright-core (from the cached tools) against `wrangler dev`, one test file at a time.
# Assumes the worker (scripts/build-worker.sh) and the app (scripts/build-frontend.sh) are built;
# the Makefile builds both first.
#
#   tests/browser/run.sh                      every tests/browser/**/*.test.mjs
#   tests/browser/run.sh --test-name-pattern=redirect   (extra arguments go to node --test;
#                                             test files given replace the default set)
#   LOBBY_E2E_RUNTIME=spin tests/browser/run.sh   the same app against the local Spin host
#                                             (tests/spin-host serving spin.toml: the component
#                                             serves the app, events arrive as Server-Sent Events);
#                                             needs scripts/spin-host.sh --build
#
# Environment: LOBBY_CHROMIUM (default /usr/bin/chromium), LOBBY_E2E_KEEP=1 (keep the server's
# folder with wrangler.log). The tests write nothing into docs/: `make screenshots` runs
# tests/browser/screenshots.mjs for docs/screenshots.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

say() { printf '[lobby browser] %s\n' "$*"; }

# Chromium (installed when missing and root) and the emoji font, as the screenshots need too.
source tests/browser/lib/chromium.sh
if [ ! -d "$LOBBY_TOOLS/npm-current/node_modules/playwright-core" ] && [ -z "${LOBBY_NODE_MODULES:-}" ]; then
  say "FAILED: playwright-core is not in $LOBBY_TOOLS/npm-current/node_modules: run scripts/install-tools.sh" >&2
  exit 1
fi
if [ ! -s frontend/dist/app/index.html ]; then
  say "FAILED: frontend/dist/app/index.html is missing: build the app first (scripts/build-frontend.sh)" >&2
  exit 1
fi
if [ "${LOBBY_E2E_RUNTIME:-}" = spin ]; then
  if [ ! -x "${LOBBY_SPIN_HOST:-$CARGO_TARGET_DIR/release/lobby-spin-host}" ] || [ ! -s functions/spin/build/lobby_spin.wasm ]; then
    say "FAILED: the Spin host or component is not built: scripts/spin-host.sh --build" >&2
    exit 1
  fi
  say "runtime: the local Spin host (LOBBY_E2E_RUNTIME=spin)"
elif [ ! -s functions/cloudflare/build/index_bg.wasm ] && [ ! -s functions/cloudflare/build/index.wasm ]; then
  say "WARNING: the worker does not look built (functions/cloudflare/build): run scripts/build-worker.sh" >&2
fi

say "node $(node --version), $("$CHROMIUM" --version 2>/dev/null | head -1)"
set +e
# (Node 22 takes no folder here, only files or globs: the glob picks the test files, not lib/ nor bench.mjs.)
# Test files among the arguments replace the default set (the Makefile names the Spin subset so).
case " $* " in
  *.test.mjs\ *) ;;
  *) set -- "$@" 'tests/browser/**/*.test.mjs' ;;
esac
node --test --test-concurrency=1 "$@"
status=$?
set -e
if [ "$status" = 0 ]; then say "all passed"; else say "FAILED (node --test exited $status)"; fi
exit "$status"
