#!/usr/bin/env bash
# Benchmark: throughput and latency of `GET /api/commands` on `hoist serve` over a SQLite
# store holding ~1,000 commands.
#
# Usage: scripts/bench/api.sh [COMMANDS]          (default 1000)
#   DURATION=10s (unloaded runs)  REQUESTS=20000 (each saturation run)  CONNECTIONS=8
#   STATE=postgres://…  (default: a SQLite file in the temp dir)
#   HOIST=path/to/hoist  LOADGEN=path/to/hoist-loadgen   binaries to measure (default: built here)
#
# What runs, all on loopback from a temp dir removed on exit: a release build of hoist and
# hoist-loadgen; a spec with one local environment; a viewer token; `hoist serve` on a free
# port; COMMANDS deploys scheduled for 2099 through `POST /api/commands` (so no scheduler
# runs them). Then, each with the bearer token on every request:
# - saturation: REQUESTS requests from hoist-loadgen at a rate far above what the server
#   answers, over CONNECTIONS keep-alive connections, so each connection sends its next
#   request as soon as it has an answer; achieved requests/s is the throughput, and p50/p99
#   include queueing.
# - unloaded latency: 100 requests/s over 4 connections, p50/p99 with nothing queued.
# Both for `?limit=100` (the default page: 100 commands, ~60 KB of JSON) and `?limit=10`.
# Every run counts non-2xx answers and socket errors, which must be zero for its figures.
# Each also gives the server's CPU time per request (user + system of all its threads, from
# /proc): unlike requests/s, it hardly moves when other work shares the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
COMMANDS=${1:-1000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
REQUESTS=${REQUESTS:-20000}

if [ -z "${HOIST:-}" ]; then
  cargo build --release -q -p hoist -p hoist-loadgen
  TARGET=${CARGO_TARGET_DIR:-target}
  HOIST=$PWD/$TARGET/release/hoist
  [ -x "$HOIST" ] || HOIST=$TARGET/release/hoist
fi
HOIST=$(realpath "$HOIST")
LOADGEN=${LOADGEN:-$(dirname "$HOIST")/hoist-loadgen}

WORK=$(mktemp -d)
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
cat > Hoist.toml <<SPEC
[app]
name = "bench"

[build]
upload = ["."]

[env.dev]
hosts = ["local:$WORK/dev"]
SPEC
STATE_ARGS=()
[ -n "${STATE:-}" ] && STATE_ARGS=(--state "$STATE")

SECRET=$("$HOIST" "${STATE_ARGS[@]}" tokens create "bench-$$" --role deployer --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
"$HOIST" "${STATE_ARGS[@]}" serve --listen 127.0.0.1:0 2> serve.log &
SERVE_PID=$!
for _ in $(seq 100); do grep -q "listening on" serve.log && break; sleep 0.1; done
ADDRESS=$(sed -n 's/.*listening on http:\/\///p' serve.log | head -1)
[ -n "$ADDRESS" ] || { cat serve.log; echo "hoist serve did not start" >&2; exit 1; }

echo "seeding $COMMANDS commands through POST /api/commands ..." >&2
python3 - "$ADDRESS" "$SECRET" "$COMMANDS" <<'PY'
import http.client, json, sys
address, secret, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = address.rsplit(":", 1)
connection = http.client.HTTPConnection(host, int(port))
body = json.dumps({"kind": "deploy", "env": "dev", "at": "2099-01-01T00:00:00Z"})
headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
for _ in range(count):
    connection.request("POST", "/api/commands", body, headers)
    response = connection.getresponse()
    response.read()
    if response.status != 202:
        sys.exit(f"seeding failed: {response.status}")
PY

# CPU time (user + system, clock ticks) of the server process, all its threads.
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVE_PID/stat"; }

measure() { # label, path, rate, connections, [max requests]
  local summary before after
  before=$(server_ticks)
  summary=$("$LOADGEN" run --url "http://$ADDRESS$2" --rate "$3" --connections "$4" \
    --duration "$DURATION" ${5:+--max-requests "$5"} --timeout 10s \
    --header "Authorization: Bearer $SECRET" --json)
  after=$(server_ticks)
  python3 - "$1" "$summary" "$((after - before))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
label, s = sys.argv[1], json.loads(sys.argv[2])
cpu_us = int(sys.argv[3]) * 1e6 / int(sys.argv[4]) / max(s["ok"] + s["non_2xx"], 1)
errors = sum(s["errors"].values())
l = s["latency_us"]
ms = lambda us: "-" if us is None else f"{us / 1000:.2f} ms"
print(f"{label:<34} {s['achieved_rate']:>9.0f} req/s   p50 {ms(l['p50']):>10}   p99 {ms(l['p99']):>10}"
      f"   server CPU {cpu_us:>5.0f} us/req   ok {s['ok']}  non-2xx {s['non_2xx']}  errors {errors}")
PY
}

echo "GET /api/commands on $COMMANDS stored commands ($(nproc) cores; saturation: $REQUESTS requests, else $DURATION):"
measure "limit=100, saturation (c=$CONNECTIONS)" "/api/commands?limit=100" 1000000 "$CONNECTIONS" "$REQUESTS"
measure "limit=100, 100 req/s (c=4)" "/api/commands?limit=100" 100 4
measure "limit=10, saturation (c=$CONNECTIONS)" "/api/commands?limit=10" 1000000 "$CONNECTIONS" "$REQUESTS"
measure "limit=10, 100 req/s (c=4)" "/api/commands?limit=10" 100 4
