#!/usr/bin/env bash
# Precompressed copies of the built frontends for runtimes that serve files themselves (Spin):
# for every compressible file F under frontend/dist, F.<first 16 hex digits of F's SHA-256>.gz
# (gzip -9). The content hash in the name means a copy is only ever served for the exact bytes it
# was made from: a rebuilt file without a fresh copy is simply served uncompressed. Old copies are
# removed. `.assetsignore` keeps the copies out of Cloudflare's [assets] (which compresses itself).
#
#   scripts/precompress.sh [DIR]      (default frontend/dist; idempotent, quick when nothing changed)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-frontend/dist}"
[ -d "$DIR" ] || exit 0
printf '*.gz\n' > "$DIR/.assetsignore"
made=0
while IFS= read -r -d '' f; do
  case "$f" in
    *.html|*.js|*.mjs|*.css|*.wasm|*.json|*.svg|*.txt|*.map) ;;
    *) continue ;;
  esac
  [ "$(stat -c %s "$f")" -ge 1024 ] || continue
  h=$(sha256sum "$f" | cut -c1-16)
  gz="$f.$h.gz"
  for old in "$f".*.gz; do
    [ -e "$old" ] && [ "$old" != "$gz" ] && rm -f "$old"
  done
  if [ ! -s "$gz" ]; then
    gzip -9 -n -c "$f" > "$gz.tmp" && mv "$gz.tmp" "$gz"
    made=$((made + 1))
  fi
done < <(find "$DIR" -type f ! -name '*.gz' ! -name '*.tmp' ! -name '.*' -print0)
# Copies whose file is gone.
while IFS= read -r -d '' gz; do
  base="${gz%.*.gz}"
  [ -e "$base" ] || rm -f "$gz"
done < <(find "$DIR" -type f -name '*.gz' -print0)
echo "[lobby build] precompressed $made file(s) under $DIR (gzip -9, for Spin; .assetsignore keeps them from Cloudflare)"
