#!/usr/bin/env bash
# Builds the client widget into frontend/dist (served by the worker as static assets):
#   frontend/dist/widget.js          the embed loader (frontend/widget/loader.js), <= 5 KB gzip
#   frontend/dist/widget/index.html  the widget app opened in an iframe (+ app.js, app.css)
#   frontend/dist/widget/room.html   the video room tab (+ room.js)
# Minifies with the esbuild that scripts/install-tools.sh cached (plain copies without it), stamps
# the app's script and stylesheet URLs with a content hash, prints every size and fails when the
# loader is over its budget. Touches nothing else in frontend/dist (the operator app lives there).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SRC=frontend/widget
OUT=frontend/dist
LOADER_BUDGET=5120 # bytes of gzip

if [ -f scripts/env.sh ]; then
  # shellcheck source=/dev/null
  source scripts/env.sh
fi
ESBUILD="${ESBUILD_BIN:-}"
if [ -z "$ESBUILD" ] || [ ! -x "$ESBUILD" ]; then
  ESBUILD=$(command -v esbuild || true)
fi

mkdir -p "$OUT"
rm -rf "$OUT/widget.tmp"
mkdir -p "$OUT/widget.tmp"

minify() { # <source> <dest> <esbuild args...>
  local src=$1 dest=$2
  shift 2
  if [ -n "$ESBUILD" ]; then
    "$ESBUILD" "$src" --minify --log-level=warning --legal-comments=none "$@" --outfile="$dest"
  else
    cp "$src" "$dest"
  fi
}

if [ -z "$ESBUILD" ]; then
  echo "[lobby widget] esbuild not found (run scripts/install-tools.sh): copying unminified files"
fi

# The loader runs on companies' pages, whatever their encoding: pure ASCII, ES2017.
minify "$SRC/loader.js" "$OUT/widget.tmp/widget.js" --target=es2017 --charset=ascii
# The app and the room are our own UTF-8 pages.
minify "$SRC/app.js" "$OUT/widget.tmp/app.js" --target=es2020 --charset=utf8
minify "$SRC/room.js" "$OUT/widget.tmp/room.js" --target=es2020 --charset=utf8
minify "$SRC/app.css" "$OUT/widget.tmp/app.css" --charset=utf8

hash() { sha256sum "$1" | cut -c1-10; }
APP_V=$(hash "$OUT/widget.tmp/app.js")
ROOM_V=$(hash "$OUT/widget.tmp/room.js")
CSS_V=$(hash "$OUT/widget.tmp/app.css")
# HTML: drop indentation and the newlines between tags; version the asset URLs.
for page in index room; do
  awk '{ sub(/^[ \t]+/, ""); if ($0 == "") next; printf "%s%s", $0, (/>$/ ? "" : " ") } END { print "" }' \
    "$SRC/$page.html" |
    sed -e "s#/widget/app.js\"#/widget/app.js?v=$APP_V\"#" \
        -e "s#/widget/room.js\"#/widget/room.js?v=$ROOM_V\"#" \
        -e "s#/widget/app.css\"#/widget/app.css?v=$CSS_V\"#" > "$OUT/widget.tmp/$page.html"
done

# Swap in the new build (the loader at the root, the app under widget/).
mv "$OUT/widget.tmp/widget.js" "$OUT/widget.js"
rm -rf "$OUT/widget"
mv "$OUT/widget.tmp" "$OUT/widget"

size() { stat -c %s "$1"; }
gz() { gzip -9c "$1" | wc -c; }
printf '[lobby widget] built into %s:\n' "$OUT"
total=0 total_gz=0
for f in "$OUT/widget.js" "$OUT"/widget/*; do
  printf '[lobby widget]   %-28s %6d bytes  %6d gzip\n' "${f#"$OUT"/}" "$(size "$f")" "$(gz "$f")"
done
loader_gz=$(gz "$OUT/widget.js")
app_gz=$(( $(gz "$OUT/widget/index.html") + $(gz "$OUT/widget/app.js") + $(gz "$OUT/widget/app.css") ))
printf '[lobby widget] loader (every page view of the company site): %d bytes gzip of %d allowed\n' "$loader_gz" "$LOADER_BUDGET"
printf '[lobby widget] widget app (on a click): %d bytes gzip\n' "$app_gz"
if [ "$loader_gz" -gt "$LOADER_BUDGET" ]; then
  echo "[lobby widget] FAIL: the loader is over its budget of $LOADER_BUDGET bytes gzip" >&2
  exit 1
fi
scripts/precompress.sh "$OUT"
