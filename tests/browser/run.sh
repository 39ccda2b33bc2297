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
# folder with wrangler.log), LOBBY_SCREENSHOT_DIR (default docs/screenshots).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

say() { printf '[lobby browser] %s\n' "$*"; }

CHROMIUM="${LOBBY_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "$CHROMIUM is missing: apt-get install -y chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -x "$CHROMIUM" ]; then
    say "FAILED: no Chromium at $CHROMIUM. Install Debian's: sudo apt-get install -y chromium" >&2
    say "(or point LOBBY_CHROMIUM at a Chromium binary)" >&2
    exit 1
  fi
fi
# Emoji in the app (the emoji button, messages) need a colour emoji font, or the screenshots show
# empty boxes; optional.
if ! fc-list 2>/dev/null | grep -qi emoji && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing fonts-noto-color-emoji (emoji in the screenshots; optional)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 ||
    say "(could not install fonts-noto-color-emoji; emoji show as boxes)"
fi
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
