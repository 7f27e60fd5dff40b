#!/usr/bin/env bash
# Benchmark: the dashboard's environments page, rendered server-side by `hoist serve` over a
# SQLite store holding ENVS environments and COMMANDS commands (goal: p99 <= 20 ms), and what
# every page weighs with its assets (goal: <= 100 KB each).
#
# Usage: scripts/bench/dashboard.sh [ENVS] [COMMANDS]        (default 50 10000)
#   DURATION=10s  RATE=50 (requests/s for the latency run)  CONNECTIONS=4
#   HOIST=path/to/hoist  LOADGEN=…  SEED=…   binaries (default: release builds made here)
#
# What runs, on loopback, from a temp dir removed on exit: examples/dashboard_seed fills the
# store (each environment running one release; mostly finished deploys with three steps, a
# failed one in 97, one deploy per environment scheduled ahead; an event per command); a spec
# names the same environments on local roots; an admin token signs in through the sign-in
# form (its form token and cookie, as a browser does); then hoist-loadgen asks for `/` with
# the session cookie at RATE requests/s (latency with nothing queued) and at saturation
# (throughput). Each page is fetched once for its size. Every run counts non-2xx answers and
# socket errors, which must be zero for its figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
ENVS=${1:-50}
COMMANDS=${2:-10000}
DURATION=${DURATION:-10s}
RATE=${RATE:-50}
CONNECTIONS=${CONNECTIONS:-4}

if [ -z "${HOIST:-}" ]; then
  cargo build --release -q -p hoist -p hoist-loadgen
  cargo build --release -q -p hoist --example dashboard_seed
  TARGET=${CARGO_TARGET_DIR:-target}
  HOIST=$TARGET/release/hoist
fi
HOIST=$(realpath "$HOIST")
LOADGEN=${LOADGEN:-$(dirname "$HOIST")/hoist-loadgen}
SEED=${SEED:-$(dirname "$HOIST")/examples/dashboard_seed}

WORK=$(mktemp -d)
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
{
  printf '[app]\nname = "bench"\n\n[build]\nupload = ["."]\n'
  for n in $(seq 0 $((ENVS - 1))); do
    printf '\n[env.env-%02d]\nhosts = ["local:%s/roots/env-%02d"]\n' "$n" "$WORK" "$n"
  done
} > Hoist.toml
mkdir -p .hoist
"$SEED" .hoist/state.db "$ENVS" "$COMMANDS" >&2
SECRET=$("$HOIST" tokens create "bench-$$" --role admin --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
"$HOIST" serve --listen 127.0.0.1:0 2> serve.log &
SERVE_PID=$!
for _ in $(seq 100); do grep -q "listening on" serve.log && break; sleep 0.1; done
ADDRESS=$(sed -n 's/.*listening on http:\/\///p' serve.log | head -1)
[ -n "$ADDRESS" ] || { cat serve.log; echo "hoist serve did not start" >&2; exit 1; }

# Sign in as a browser does: the form's token and its cookie, then the session cookie.
COOKIE=$(python3 - "$ADDRESS" "$SECRET" <<'PY'
import http.client, re, sys, urllib.parse
address, secret = sys.argv[1], sys.argv[2]
host, port = address.rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
c.request("GET", "/sign-in")
r = c.getresponse(); page = r.read().decode()
form_token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
form_cookie = r.getheader("Set-Cookie").split(";")[0]
body = urllib.parse.urlencode({"token": secret, "form_token": form_token, "next": "/"})
c.request("POST", "/sign-in", body, {"Cookie": form_cookie,
          "Content-Type": "application/x-www-form-urlencoded"})
r = c.getresponse(); r.read()
session = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("hoist_session=")]
if r.status != 303 or not session: sys.exit(f"sign-in failed: {r.status}")
print(session[0])
PY
)

measure() { # label, path, rate, connections, [max requests]
  local summary
  summary=$("$LOADGEN" run --url "http://$ADDRESS$2" --rate "$3" --connections "$4" \
    --duration "$DURATION" ${5:+--max-requests "$5"} --timeout 10s \
    --header "Cookie: $COOKIE" --json)
  python3 - "$1" "$summary" <<'PY'
import json, sys
label, s = sys.argv[1], json.loads(sys.argv[2])
errors = sum(s["errors"].values())
l = s["latency_us"]
ms = lambda us: "-" if us is None else f"{us / 1000:.2f} ms"
print(f"{label:<38} {s['achieved_rate']:>7.0f} req/s   p50 {ms(l['p50']):>9}   p99 {ms(l['p99']):>9}"
      f"   ok {s['ok']}  non-2xx {s['non_2xx']}  errors {errors}")
PY
}

echo "the environments page (/) on $ENVS environments and $COMMANDS commands ($(nproc) cores):"
measure "$RATE req/s (c=$CONNECTIONS), nothing queued" "/" "$RATE" "$CONNECTIONS"
measure "saturation (c=$CONNECTIONS, 2000 requests)" "/" 1000000 "$CONNECTIONS" 2000

echo "what each page weighs (HTML + the stylesheet and the script it loads, uncompressed):"
python3 - "$ADDRESS" "$COOKIE" <<'PY'
import http.client, sys
address, cookie = sys.argv[1], sys.argv[2]
host, port = address.rsplit(":", 1)
def size(path, with_cookie=True):
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", path, headers={"Cookie": cookie} if with_cookie else {})
    r = c.getresponse(); body = r.read()
    if r.status != 200: sys.exit(f"{path}: {r.status}")
    return len(body)
assets = size("/assets/dashboard.css") + size("/assets/dashboard.js")
pages = ["/", "/env/env-00", "/commands", "/commands/1", "/launch", "/timeline", "/logs", "/admin"]
worst = 0
for path in pages + ["/sign-in"]:
    try:
        html = size(path, path != "/sign-in")
    except SystemExit as missing:
        print(f"  {path:<16} not served ({missing})"); continue
    total = html + assets
    worst = max(worst, total)
    print(f"  {path:<16} {html / 1024:6.1f} KB + assets {assets / 1024:4.1f} KB = {total / 1024:6.1f} KB")
print(f"heaviest page: {worst / 1024:.1f} KB (goal <= 100 KB: {'met' if worst <= 100 * 1024 else 'NOT met'})")
PY

# From a step logged to it shown in a real browser (headless Chromium through ChromeDriver):
# the ignored test `step_to_browser_latency` logs 20 steps to a running command's store and
# reads when each appeared on its open page (a MutationObserver, this machine's clock).
echo "a step logged -> shown in the browser (debug build of the test harness and hoist):"
cd "$REPO"
cargo nextest run -p hoist --run-ignored only -E 'test(=dashboard_browser::step_to_browser_latency)' \
  --no-capture 2>&1 | grep -E "^step logged|FAIL|panicked" || true
