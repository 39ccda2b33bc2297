# Sourced by tests/browser/run.sh and `make screenshots`: Debian's Chromium at $LOBBY_CHROMIUM
# (default /usr/bin/chromium; apt-get installs it when missing and we are root, or this fails with
# what to do), and a colour emoji font (optional) so that emoji in the app and the widget do not
# show as empty boxes. Sets CHROMIUM.
lobby_chromium_say() { printf '[lobby browser] %s\n' "$*"; }

CHROMIUM="${LOBBY_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    lobby_chromium_say "$CHROMIUM is missing: apt-get install -y chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -x "$CHROMIUM" ]; then
    lobby_chromium_say "FAILED: no Chromium at $CHROMIUM. Install Debian's: sudo apt-get install -y chromium" >&2
    lobby_chromium_say "(or point LOBBY_CHROMIUM at a Chromium binary)" >&2
    exit 1
  fi
fi
# Emoji in the app (the emoji button, messages) need a colour emoji font, or the screenshots show
# empty boxes; optional.
if ! fc-list 2>/dev/null | grep -qi emoji && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  lobby_chromium_say "installing fonts-noto-color-emoji (emoji in the screenshots; optional)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 ||
    lobby_chromium_say "(could not install fonts-noto-color-emoji; emoji show as boxes)"
fi
