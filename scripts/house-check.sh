#!/usr/bin/env bash
# Checks of the project's own files that no compiler makes (`make test` runs it first):
# - the project is self-contained: no file points at notes outside the repository (a person who
#   clones Lobby has only the repository; the served OpenAPI document and docs/ are its contract
#   and its notes);
# - `make dev` installs only what serving needs: the test tools (Chromium, schemathesis,
#   cargo-fuzz) belong to `make test` alone;
# - the core's modules import each other without cycles (scripts/module-cycles.py).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
say() { printf '[lobby house] %s\n' "$*"; }

# Notes outside the repository, by the names they go by.
if hits=$(git grep -nIE '\.\./shared|/work/shared|\bAPI\.md\b|\bTOOLCHAIN\.md\b|\bDESIGN\.md\b|\bSTYLE\.md\b|accept-client\.md' \
    -- . ':!scripts/house-check.sh'); then
  say "files point at notes a clone does not have (say it in docs/ instead):"
  printf '%s\n' "$hits"
  fail=1
fi

# What `make dev` would run, without running it.
dev=$(make -n dev 2>/dev/null)
if grep -q -- 'install-tools.sh --tests' <<<"$dev"; then
  say "make dev installs the test tools (scripts/install-tools.sh --tests)"
  fail=1
fi
if ! grep -q -- 'install-tools.sh --tests' <<<"$(make -n test 2>/dev/null)"; then
  say "make test does not install the test tools (scripts/install-tools.sh --tests)"
  fail=1
fi

if ! out=$(python3 scripts/module-cycles.py functions/core/src); then
  say "$out"
  fail=1
fi

[ "$fail" = 0 ] && say "ok"
exit "$fail"
