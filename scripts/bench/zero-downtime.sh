#!/usr/bin/env bash
# Zero-downtime load test (issue 4): a constant load through the service's public port while
# DEPLOYS consecutive deploys run, counting every failed request and every non-2xx answer, and
# comparing p99 latency during the deploys with the steady state before them. Modes:
#   blue-green  each deploy swaps to a new release behind `hoist proxy`
#   control     the same blue-green setup, but each deploy finds nothing to do: the same hoist
#               process runs in each window without a swap, to tell what the swap costs from
#               what any process started on this machine costs the service
#   recreate    the service binds the port itself; each deploy stops it and starts the new one
#   process     the same blue-green setup, but each window starts one process that does nothing
#               (`sleep` for as long as this round's median blue-green deploy took): what
#               starting any process costs the service on this machine, the floor under a swap
#               (which starts at least the controller and the new instance)
# Loopback only; bounded in count (DEPLOYS per round) and time (the load stops after them).
#
#   scripts/bench/zero-downtime.sh   # RATE=2500 CONNECTIONS=16 DEPLOYS=10 STEADY=8 ROUNDS=3
#
# The service is `hoist-loadgen serve` (a small Rust HTTP server that finishes its requests on
# SIGTERM), so the proxy and the swap are what is measured, not a slow app.
set -euo pipefail
cd "$(dirname "$0")/../.."

RATE=${RATE:-2500}
CONNECTIONS=${CONNECTIONS:-16}
DEPLOYS=${DEPLOYS:-10}
STEADY=${STEADY:-8}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-"blue-green control process recreate"}

command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }
cargo build --release --locked -q -p hoist -p hoist-loadgen
target=${CARGO_TARGET_DIR:-$PWD/target}
HOIST=$target/release/hoist
LOADGEN=$target/release/hoist-loadgen

work=$(mktemp -d /tmp/hoist-zero-downtime.XXXXXX)
loadgen_pid=""
cleanup() {
  [ -n "$loadgen_pid" ] && kill "$loadgen_pid" 2>/dev/null || true
  for db in "$work"/*.db; do
    [ -e "$db" ] || continue
    mode=$(basename "$db" .db)
    "$HOIST" -f "$work/$mode/Hoist.toml" --state "$db" destroy bench --yes >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Bash's own clock: no process is started to read it inside a window.
now_ns() { local t=${EPOCHREALTIME/./}; echo "${t}000"; }

# The median length of this round's blue-green deploys in seconds (0.2 before there is one).
deploy_seconds() {
  [ -s "$work/blue-green.windows" ] || { echo 0.2; return; }
  python3 -c 'import statistics, sys
print(f"{statistics.median(int(b) - int(a) for a, b in (l.split() for l in open(sys.argv[1]))) / 1e9:.3f}")' \
    "$work/blue-green.windows"
}

run_mode() {
  local mode=$1 round=$2 strategy=blue-green port project db csv windows
  [ "$mode" = recreate ] && strategy=recreate
  port=$(free_port)
  project=$work/$mode
  db=$work/$mode.db
  csv=$work/$mode.csv
  windows=$work/$mode.windows
  mkdir -p "$project"
  echo v0 > "$project/version.txt"
  cat > "$project/Hoist.toml" <<TOML
[app]
name = "bench"

[build]
upload = ["version.txt"]

[service]
command = "exec $LOADGEN serve --body \"\$(cat version.txt)\""
port = $port
strategy = "$strategy"
stop_grace = "10s"
$( [ "$strategy" = blue-green ] && echo 'drain = "5s"' )

[service.health]
path = "/health"
interval = "20ms"
deadline = "10s"

[env.bench]
hosts = ["local:$work/$mode-root"]
keep_releases = 3
TOML
  local hoist=("$HOIST" -f "$project/Hoist.toml" --state "$db")
  "${hoist[@]}" deploy bench >/dev/null 2>"$work/$mode.deploy.log"

  "$LOADGEN" run --url "http://127.0.0.1:$port/" --rate "$RATE" --connections "$CONNECTIONS" \
    --duration 600s --out "$csv" --json >"$work/$mode.summary.json" &
  loadgen_pid=$!
  sleep "$STEADY"
  : > "$windows"
  local window=()
  [ "$mode" = process ] && window=(/bin/sleep "$(deploy_seconds)")
  for i in $(seq 1 "$DEPLOYS"); do
    [ "$mode" = control ] || [ "$mode" = process ] || echo "v$i" > "$project/version.txt"
    local started ended
    started=$(now_ns)
    if [ "$mode" = process ]; then
      "${window[@]}"
    else
      "${hoist[@]}" deploy bench >/dev/null 2>>"$work/$mode.deploy.log" || {
        echo "deploy $i of $mode failed:" >&2; tail -20 "$work/$mode.deploy.log" >&2; exit 1; }
    fi
    ended=$(now_ns)
    echo "$started $ended" >> "$windows"
    sleep 1
  done
  sleep 2
  kill -INT "$loadgen_pid"
  wait "$loadgen_pid" || true
  loadgen_pid=""
  "${hoist[@]}" destroy bench --yes >/dev/null 2>&1
  rm -f "$db"
  python3 - "$mode" "$round" "$csv" "$windows" "$work/results" <<'PY'
import csv, json, sys
mode, round_, path, windows_path, results = sys.argv[1:6]
windows = [tuple(map(int, line.split())) for line in open(windows_path) if line.strip()]
rows = []
with open(path) as f:
    for row in csv.DictReader(f):
        rows.append((int(row["start_unix_ns"]), int(row["latency_us"]), row["status_or_error"]))
first = windows[0][0]
start = rows[0][0] if rows else first
def in_window(t):
    return any(a <= t <= b for a, b in windows)
# Steady state: before the first deploy, after a 1 s warm-up.
steady = [r for r in rows if start + 1_000_000_000 <= r[0] < first]
swaps = [r for r in rows if in_window(r[0])]
def failed(r):
    return not r[2].isdigit() or not (200 <= int(r[2]) < 300)
def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] / 1000.0
errors = {}
for r in rows:
    if failed(r):
        errors[r[2]] = errors.get(r[2], 0) + 1
bad = sum(errors.values())
p99_steady = pct([r[1] for r in steady], 0.99)
p99_swaps = pct([r[1] for r in swaps], 0.99)
ratio = p99_swaps / p99_steady
print(f"{mode:<10} {round_:>5} {len(rows):>8} {bad:>7} {len(swaps):>8} {pct([r[1] for r in steady], 0.5):>9.2f} "
      f"{p99_steady:>10.2f} {p99_swaps:>10.2f} {ratio:>6.2f}x  {errors if errors else ''}")
with open(results, "a") as out:
    out.write(json.dumps({"mode": mode, "requests": len(rows), "failed": bad, "ratio": ratio,
                          "p99_steady": p99_steady, "p99_swaps": p99_swaps}) + "\n")
PY
}

echo "zero-downtime: $DEPLOYS deploys per round under $RATE req/s on $CONNECTIONS keep-alive connections, $ROUNDS rounds ($(nproc) cores)"
printf '%-10s %5s %8s %7s %8s %9s %10s %10s %7s\n' mode round requests failed in_win p50_ms p99_st_ms p99_win_ms ratio
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    run_mode "$mode" "$round"
  done
done
python3 - "$work/results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("medians over rounds (failed and requests: totals)")
for mode in dict.fromkeys(r["mode"] for r in rows):
    mine = [r for r in rows if r["mode"] == mode]
    print(f"  {mode:<10} requests {sum(r['requests'] for r in mine):>7}  failed {sum(r['failed'] for r in mine):>5}  "
          f"p99 steady {statistics.median(r['p99_steady'] for r in mine):.2f} ms  "
          f"p99 in deploys {statistics.median(r['p99_swaps'] for r in mine):.2f} ms  "
          f"ratio {statistics.median(r['ratio'] for r in mine):.2f}x")
PY
echo "goal (blue-green): 0 failed of >= 50000 requests, p99 during swaps <= 2x steady (process: the floor one process start sets on this machine)"
