#!/usr/bin/env bash
# Benchmark: `hoist proxy` against nginx proxying the same upstream on the same machine, in
# one run, alternating. Goals (issue 15): throughput >= 1.0x nginx, added p50 <= nginx's, one
# request at a time and at 1000 requests/s.
#
# Usage: scripts/bench/proxy.sh [ROUNDS]        (default 5 rounds; about 50 s a round)
#   THROUGHPUT_DURATION=5s  LATENCY_DURATION=5s   how long each wrk measurement runs
#   HOIST_BIN=path      the hoist binary to measure (default: the release build, built first)
#   BASELINE=path       also measure this other hoist binary (an earlier build) as `base`,
#                       in the same rounds, to compare two builds side by side
#
# What runs, all on loopback, all from a temp dir that is removed on exit:
# - The upstream: a separate nginx instance answering `return 200 "ok"`. It is the cheapest
#   upstream there is and belongs to neither proxy, so both pay the same for it. It is a
#   process of its own: were it a server block inside the proxying nginx, nginx would answer
#   its own upstream requests in the same worker, a shortcut hoist cannot take.
# - nginx as reverse proxy: `worker_processes auto` (one worker per core, 2 here), because
#   hoist proxy's tokio runtime also uses one worker thread per core. Keep-alive to the
#   upstream (`upstream {}` with `keepalive`, `proxy_http_version 1.1`, `Connection ""`),
#   the same forwarding headers hoist adds (X-Forwarded-For/-Proto, the client's Host), and
#   access logging off (hoist proxy logs no requests). `keepalive_requests` is raised on
#   every nginx server so neither proxy reconnects mid-measurement.
# - hoist proxy: `hoist proxy` with a routes.json naming the same upstream.
#
# Throughput: wrk at saturation (-t2 -c32) against the upstream directly, nginx, and hoist;
# the order rotates every round. Latency: wrk with one connection (-t1 -c1), one request at
# a time so nothing queues; added latency = percentile through the proxy - the same
# percentile direct, taken within a round, median over rounds. Then the same at a fixed,
# moderate 1000 requests/s over 4 connections with `hoist-loadgen run`, where the proxy
# idles between requests and so pays its wake-ups; the verdict gives both. Every run also
# counts socket errors and non-2xx answers, which must be zero for its figures to count.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
THROUGHPUT_DURATION=${THROUGHPUT_DURATION:-5s}
LATENCY_DURATION=${LATENCY_DURATION:-5s}

need_package() { # command, package
  command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] && return 0
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update && $sudo apt-get install -y "$2"
}
need_package wrk wrk
need_package nginx nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --quiet -p hoist -p hoist-loadgen
BIN=${CARGO_TARGET_DIR:-target}/release
HOIST=${HOIST_BIN:-$BIN/hoist}
BASELINE=${BASELINE:-}
LOADGEN=$BIN/hoist-loadgen

WORK=$(mktemp -d -t hoist-proxy-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UPSTREAM_PORT=$(free_port); NGINX_PORT=$(free_port); HOIST_PORT=$(free_port); BASE_PORT=$(free_port)

# One nginx instance with its own prefix, config, pid and logs under $WORK/$1.
start_nginx() { # name, worker_processes, server block
  local dir=$WORK/$1
  mkdir -p "$dir/logs"
  cat > "$dir/nginx.conf" <<CONF
worker_processes $2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/client_body; proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
  keepalive_requests 1000000;
  $3
}
CONF
  "$NGINX" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" -g 'daemon off;' &
  PIDS+=($!)
}

start_nginx upstream auto "server { listen 127.0.0.1:$UPSTREAM_PORT; location / { return 200 \"ok\"; } }"
start_nginx proxy auto "
  upstream app { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }"
start_hoist() { # name, binary, port
  mkdir -p "$WORK/$1"
  printf '{"upstream":"127.0.0.1:%s","maintenance":false,"health_paths":["/health"],"version":1}\n' \
    "$UPSTREAM_PORT" > "$WORK/$1/routes.json"
  "$2" proxy --listen "127.0.0.1:$3" --state-dir "$WORK/$1" 2>"$WORK/$1/stderr" &
  PIDS+=($!)
}
start_hoist hoist "$HOIST" "$HOIST_PORT"

declare -A URL=(
  [direct]=http://127.0.0.1:$UPSTREAM_PORT/
  [nginx]=http://127.0.0.1:$NGINX_PORT/
  [hoist]=http://127.0.0.1:$HOIST_PORT/
  [base]=http://127.0.0.1:$BASE_PORT/
)
TARGETS=(direct nginx hoist)
if [ -n "$BASELINE" ]; then
  start_hoist base "$BASELINE" "$BASE_PORT"
  TARGETS+=(base)
fi
for target in "${TARGETS[@]}"; do
  for _ in $(seq 1 100); do
    "$LOADGEN" run --url "${URL[$target]}" --rate 100 --max-requests 1 --timeout 1s \
      | grep -q '^requests: 1 total, 1 ok' && continue 2
    sleep 0.1
  done
  echo "error: $target at ${URL[$target]} did not answer \`ok\` within 10 s" >&2; exit 1
done

# wrk prints one machine-readable line: requests/s, p50 us, p99 us, socket errors, non-2xx.
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
LUA
# Runs wrk, appends "round requests/s p50 p99" to $WORK/$target.$kind, and counts failures.
measure() { # kind, target, round, wrk arguments...
  local kind=$1 target=$2 round=$3; shift 3
  local line
  line=$(timeout 60 wrk "$@" -s "$WORK/report.lua" "${URL[$target]}" | grep '^RESULT') || {
    echo "error: wrk against $target failed" >&2; exit 1; }
  read -r _ rps p50 p99 errors non_2xx <<< "$line"
  echo "$round $rps $p50 $p99" >> "$WORK/$target.$kind"
  echo $((errors + non_2xx)) >> "$WORK/failures"
}
loadgen_measure() { # target, round
  local summary
  summary=$(timeout 60 "$LOADGEN" run --url "${URL[$1]}" --rate 1000 --connections 4 \
    --duration 3s --json)
  python3 - "$2" "$summary" >> "$WORK/$1.loadgen" <<'PY'
import json, sys
s = json.loads(sys.argv[2])
print(sys.argv[1], round(s["achieved_rate"], 1), s["latency_us"]["p50"], s["latency_us"]["p99"])
PY
  python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["total"]-s["ok"])' "$summary" >> "$WORK/failures"
}

: > "$WORK/failures"
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order so no target always runs first (or right after the same one).
  shift_by=$(( (round - 1) % ${#TARGETS[@]} ))
  order=("${TARGETS[@]:$shift_by}" "${TARGETS[@]:0:$shift_by}")
  echo "round $round/$ROUNDS: ${order[*]}" >&2
  for target in "${order[@]}"; do
    measure throughput "$target" "$round" -t2 -c32 -d"$THROUGHPUT_DURATION"
  done
  for target in "${order[@]}"; do
    measure latency "$target" "$round" -t1 -c1 -d"$LATENCY_DURATION"
  done
  for target in "${order[@]}"; do loadgen_measure "$target" "$round"; done
done

python3 - "$WORK" "$ROUNDS" "${TARGETS[@]}" <<'PY'
import statistics, sys
work, rounds, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def table(target, kind):  # {round: (rps, p50, p99)}
    rows = {}
    for line in open(f"{work}/{target}.{kind}"):
        r, rps, p50, p99 = line.split()
        rows[int(r)] = (float(rps), int(p50), int(p99))
    return rows
med = statistics.median
data = {k: {t: table(t, k) for t in targets}
        for k in ("throughput", "latency", "loadgen")}
failures = sum(int(line) for line in open(f"{work}/failures"))

def added(kind, target, column):
    return med(data[kind][target][r][column] - data[kind]["direct"][r][column]
               for r in range(1, rounds + 1))

print(f"proxy benchmark, {rounds} rounds, medians; upstream: nginx `return 200`; all on loopback")
print(f"{'target':8} {'req/s (wrk -t2 -c32)':>21} {'p50 us (-c1)':>13} {'p99 us (-c1)':>13}"
      f" {'added p50':>10} {'added p99':>10} {'p50/p99 us @1000/s':>19}")
for t in targets:
    rps = med(v[0] for v in data["throughput"][t].values())
    p50 = med(v[1] for v in data["latency"][t].values())
    p99 = med(v[2] for v in data["latency"][t].values())
    lg50 = med(v[1] for v in data["loadgen"][t].values())
    lg99 = med(v[2] for v in data["loadgen"][t].values())
    a50 = "-" if t == "direct" else f"{added('latency', t, 1):+.0f}"
    a99 = "-" if t == "direct" else f"{added('latency', t, 2):+.0f}"
    print(f"{t:8} {rps:21.0f} {p50:13.0f} {p99:13.0f} {a50:>10} {a99:>10} {f'{lg50:.0f}/{lg99:.0f}':>19}")
ratio = med(v[0] for v in data["throughput"]["hoist"].values()) / \
    med(v[0] for v in data["throughput"]["nginx"].values())
ratios = sorted(data["throughput"]["hoist"][r][0] / data["throughput"]["nginx"][r][0]
                for r in range(1, rounds + 1))
p50_added = added("latency", "hoist", 1)
lg_added = added("loadgen", "hoist", 1)
print(f"throughput hoist/nginx: {ratio:.3f}x (per round {ratios[0]:.2f}..{ratios[-1]:.2f}); "
      f"added p50: hoist {p50_added:+.0f} us, nginx {added('latency', 'nginx', 1):+.0f} us "
      f"(at 1000/s: hoist {lg_added:+.0f} us, nginx {added('loadgen', 'nginx', 1):+.0f} us)")
if "base" in targets:
    base_ratios = sorted(data["throughput"]["hoist"][r][0] / data["throughput"]["base"][r][0]
                         for r in range(1, rounds + 1))
    print(f"throughput hoist/base: {med(base_ratios):.3f}x (per round {base_ratios[0]:.2f}.."
          f"{base_ratios[-1]:.2f}); base/nginx: "
          f"{med(v[0] for v in data['throughput']['base'].values()) / med(v[0] for v in data['throughput']['nginx'].values()):.3f}x; "
          f"added p50: base {added('latency', 'base', 1):+.0f} us "
          f"(at 1000/s: {added('loadgen', 'base', 1):+.0f} us)")
print(f"failed requests (socket errors + non-2xx) over all runs: {failures}")
met = lambda ok: "met" if ok else "NOT met"
nginx_p50, nginx_lg = added("latency", "nginx", 1), added("loadgen", "nginx", 1)
print(f"verdict: throughput {ratio:.3f}x nginx (goal >= 1.0x: {met(ratio >= 1.0)}); "
      f"added p50 {p50_added:.0f} us with wrk -c1 vs nginx's {nginx_p50:.0f} "
      f"({met(p50_added <= nginx_p50)}), {lg_added:.0f} us at 1000 requests/s vs nginx's "
      f"{nginx_lg:.0f} ({met(lg_added <= nginx_lg)})"
      + ("" if failures == 0 else f"; WARNING: {failures} failed requests"))
PY
