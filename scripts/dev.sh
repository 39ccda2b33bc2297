#!/usr/bin/env bash
# `make dev`: build the worker, run it under `wrangler dev` with local persistence, seed a demo
# tenant through the public HTTP API (/api/v1/openapi.json), print where to go and how to log in, and keep
# running in the foreground until Ctrl-C.
#
# Environment:
#   PORT                  HTTP port on 127.0.0.1 (default 8787)
#   INSPECTOR_PORT        wrangler's devtools inspector port (default PORT+1000)
#   LOBBY_PLATFORM_TOKEN  platform token for POST /api/v1/tenants (default dev-platform-token)
#   LOBBY_TOKEN_SECRET    token-signing key (default: generated once into .lobby/token-secret)
#   LOBBY_DEV_STATE       persistence folder (default .lobby/dev-state; delete it to start afresh)
# The demo passwords are generated once into .lobby/demo-passwords and reused afterwards.
#
#   scripts/dev.sh                   build, start, seed, run until Ctrl-C
#   scripts/dev.sh --seed-only URL   only seed the demo tenant into a server already running at URL
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

PORT="${PORT:-8787}"
INSPECTOR_PORT="${INSPECTOR_PORT:-$((PORT + 1000))}"
LOBBY_PLATFORM_TOKEN="${LOBBY_PLATFORM_TOKEN:-dev-platform-token}"
STATE="${LOBBY_DEV_STATE:-.lobby/dev-state}"
mkdir -p .lobby

say() { printf '[lobby dev] %s\n' "$*"; }
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# Secrets and demo passwords: from the environment, else generated once and kept under .lobby/,
# so that a restart finds the tenant it seeded before with the same passwords.
if [ -z "${LOBBY_TOKEN_SECRET:-}" ]; then
  [ -s .lobby/token-secret ] || { random_hex 32 > .lobby/token-secret; chmod 600 .lobby/token-secret; }
  LOBBY_TOKEN_SECRET="$(cat .lobby/token-secret)"
fi
if [ ! -s .lobby/demo-passwords ]; then
  printf 'ADMIN_PASSWORD=admin-%s\nOPERATOR_PASSWORD=operator-%s\n' "$(random_hex 6)" "$(random_hex 6)" \
    > .lobby/demo-passwords
  chmod 600 .lobby/demo-passwords
fi
# shellcheck disable=SC1091
source .lobby/demo-passwords

# Seeds the demo tenant into the server at $1, idempotently: what exists already is kept.
# Fails loudly, with the HTTP answer, on any unexpected reply.
seed() {
  python3 - "$1" "$LOBBY_PLATFORM_TOKEN" "$ADMIN_PASSWORD" "$OPERATOR_PASSWORD" <<'PY'
import json, sys, urllib.error, urllib.parse, urllib.request

base, platform_token, admin_password, operator_password = sys.argv[1:5]
base = base.rstrip("/")
origin = urllib.parse.urlsplit(base)
port = origin.port or 80
TENANT = "demo"
ADMIN = {"email": "admin@demo.test", "password": admin_password, "name": "Demo Admin"}
OPERATOR_EMAIL, OPERATOR_NAME = "operator@demo.test", "Demo Operator"
ORIGINS = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def say(msg):
    print(f"[lobby seed] {msg}", flush=True)


def fail(msg):
    print(f"[lobby seed] FAILED: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def call(method, path, body=None, token=None, expect=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        fail(f"{method} {path}: {e}")
    if status not in expect:
        fail(f"{method} {path} answered HTTP {status}: {text}")
    try:
        return status, (json.loads(text) if text.strip() else {})
    except ValueError:
        fail(f"{method} {path} answered HTTP {status} with a body that is not JSON: {text[:500]}")


def field(obj, key, what):
    if not isinstance(obj, dict) or key not in obj:
        fail(f"{what}: no {key!r} in the answer {json.dumps(obj)}")
    return obj[key]


def login(email, password, who):
    _, ans = call("POST", "/api/v1/auth/login",
                  {"tenant": TENANT, "email": email, "password": password}, expect=(200, 401))
    if "token" not in ans:
        fail(f"login of {who} {email} was refused: {json.dumps(ans)}\n"
             "    The tenant in the dev state was probably seeded with other passwords than those in\n"
             "    .lobby/demo-passwords: delete the dev state (rm -rf .lobby/dev-state) to start afresh.")
    return ans["token"]


status, ans = call("POST", "/api/v1/tenants",
                   {"slug": TENANT, "name": "Demo Company", "admin": ADMIN},
                   token=platform_token, expect=(201, 409))
say("tenant 'demo' created" if status == 201 else "tenant 'demo' exists already (409), keeping it")

admin = login(ADMIN["email"], ADMIN["password"], "admin")
say("logged in as admin@demo.test")

_, ans = call("GET", "/api/v1/groups", token=admin)
group = next((g for g in field(ans, "groups", "GET /api/v1/groups") if g.get("name") == "Support"), None)
if group:
    group_id = field(group, "id", "group Support")
    say(f"group 'Support' exists: {group_id}")
else:
    _, ans = call("POST", "/api/v1/groups", {"name": "Support"}, token=admin, expect=(201,))
    group_id = field(ans, "id", "POST /api/v1/groups")
    say(f"group 'Support' created: {group_id}")

_, ans = call("GET", "/api/v1/operators", token=admin)
if any(o.get("email") == OPERATOR_EMAIL for o in field(ans, "operators", "GET /api/v1/operators")):
    say(f"operator {OPERATOR_EMAIL} exists")
else:
    _, ans = call("POST", "/api/v1/operators", {
        "email": OPERATOR_EMAIL, "password": operator_password, "name": OPERATOR_NAME,
        "role": "operator", "groups": [group_id], "limits": {"chat": 3},
    }, token=admin, expect=(201,))
    say(f"operator {OPERATOR_EMAIL} created: {field(ans, 'id', 'POST /api/v1/operators')}")
login(OPERATOR_EMAIL, operator_password, "operator")
say(f"logged in as {OPERATOR_EMAIL}")

_, ans = call("GET", "/api/v1/widgets", token=admin)
widget = next((w for w in field(ans, "widgets", "GET /api/v1/widgets") if w.get("name") == "Website"), None)
if widget:
    key = field(widget, "key", "widget Website")
    say("widget 'Website' exists")
    missing = [o for o in ORIGINS if o not in (widget.get("allowed_origins") or [])]
    if missing:
        say(f"note: its allowed_origins {widget.get('allowed_origins')} lack {', '.join(missing)} "
            "(seeded on another PORT): change them as admin, or delete the dev state")
else:
    _, ans = call("POST", "/api/v1/widgets", {
        "name": "Website", "group": group_id, "allowed_origins": ORIGINS,
        "offline_email": "support@demo.test",
    }, token=admin, expect=(201,))
    key = field(ans, "key", "POST /api/v1/widgets")
    say("widget 'Website' created")

print(f"""
================================================================================
 Lobby is running at {base}
   tenant          demo (Demo Company)
   admin login     admin@demo.test / {admin_password}
   operator login  {OPERATOR_EMAIL} / {operator_password}   (group Support, up to 3 chats;
                   set the status to Online in the app to take clients)
   widget key      {key}   (widget 'Website', origins {', '.join(ORIGINS)})
   platform token  {platform_token}
================================================================================""", flush=True)
PY
}

if [ "${1:-}" = "--seed-only" ]; then
  [ -n "${2:-}" ] || { echo "usage: scripts/dev.sh --seed-only http://127.0.0.1:8787" >&2; exit 2; }
  seed "$2"
  exit 0
fi

scripts/build-worker.sh
scripts/build-frontend.sh
bash frontend/widget/build.sh

BASE="http://127.0.0.1:$PORT"
if curl -s -o /dev/null --max-time 1 "$BASE/healthz"; then
  say "something already answers on $BASE: stop it or choose another PORT" >&2
  exit 1
fi

mkdir -p "$STATE"
say "starting wrangler dev on $BASE (inspector 127.0.0.1:$INSPECTOR_PORT, state in $STATE)"
WRANGLER_PID=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$WRANGLER_PID" ] && kill -0 "$WRANGLER_PID" 2>/dev/null; then
    say "stopping wrangler dev (process group $WRANGLER_PID)"
    kill -TERM -- "-$WRANGLER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$WRANGLER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$WRANGLER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Its own session and process group (setsid): a signal to the group stops wrangler, its esbuild
# and both workerd processes; Ctrl-C reaches this script, whose trap does that.
setsid "$LOBBY_WRANGLER" dev \
  --ip 127.0.0.1 --port "$PORT" --inspector-port "$INSPECTOR_PORT" \
  --persist-to "$STATE" --show-interactive-dev-session=false \
  --var "LOBBY_PLATFORM_TOKEN:$LOBBY_PLATFORM_TOKEN" --var "LOBBY_TOKEN_SECRET:$LOBBY_TOKEN_SECRET" \
  </dev/null &
WRANGLER_PID=$!

start=$(date +%s%N)
until curl -fsS -o /dev/null --max-time 2 "$BASE/healthz" 2>/dev/null; do
  if ! kill -0 "$WRANGLER_PID" 2>/dev/null; then
    say "wrangler dev exited before answering /healthz (its output is above)" >&2
    exit 1
  fi
  if [ $(( ($(date +%s%N) - start) / 1000000000 )) -ge 60 ]; then
    say "no answer from $BASE/healthz after 60 s" >&2
    exit 1
  fi
  sleep 0.1
done
say "healthy after $(( ($(date +%s%N) - start) / 1000000 )) ms; seeding the demo tenant"

seed "$BASE"
say "Ctrl-C stops the server; the data stays in $STATE"
wait "$WRANGLER_PID"
