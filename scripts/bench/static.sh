#!/usr/bin/env bash
# Benchmark: static files served by `hoist proxy` (a route with `static_root`) against nginx
# serving the same directory on the same machine, in one run, alternating.
# Goal (issue 14): >= 0.9x nginx throughput.
#
# Usage: scripts/bench/static.sh [ROUNDS]        (default 3 rounds; about 35 s a round)
#   DURATION=5s   how long each wrk measurement runs
#
# What runs, all on loopback, all from a temp dir that is removed on exit:
# - The site: one directory with index.html (~5 KB of text), app.js (~100 KB of text) and
#   blob.bin (1 MiB of random bytes); no pre-compressed variants (wrk sends no
#   Accept-Encoding, so none would be chosen).
# - nginx: `worker_processes auto` (one worker per core, 2 here, as hoist proxy has one
#   serving thread per core), `sendfile on`, `etag on`, access logging off, `root` the site,
#   `keepalive_requests` raised so no connection is closed mid-measurement.
# - hoist proxy: `hoist proxy` with a routes.json whose static_root is the site.
#
# Each round, per file, in an order that alternates every round: wrk -t2 -c32 against nginx
# and hoist. Medians over rounds, and the ratio hoist/nginx per file; also each server's CPU
# time a request (from /proc, user + system), steadier than requests/s on a shared machine.
# Every run counts socket errors and non-2xx answers, which must be zero for its figures to
# count.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
DURATION=${DURATION:-5s}

need_package() { # command, package
  command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] && return 0
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update && $sudo apt-get install -y "$2"
}
need_package wrk wrk
need_package nginx nginx
need_package curl curl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --quiet -p hoist
HOIST=${CARGO_TARGET_DIR:-target}/release/hoist

WORK=$(mktemp -d -t hoist-static-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx's workers run as an unprivileged user when started as root: they must reach the site.
chmod 755 "$WORK"
SITE=$WORK/site
mkdir -p "$SITE"
python3 - "$SITE" <<'PY'
import os, sys
site = sys.argv[1]
line = "<p>hoist serves this page from the live release's directory.</p>\n"
with open(f"{site}/index.html", "w") as f:
    f.write("<!doctype html>\n<title>bench</title>\n" + line * (5000 // len(line)))
code = "export function f(x) { return x * 2 + 1; } // padding padding padding\n"
with open(f"{site}/app.js", "w") as f:
    f.write(code * (100_000 // len(code)))
with open(f"{site}/blob.bin", "wb") as f:
    f.write(os.urandom(1024 * 1024))
PY
FILES=(index.html app.js blob.bin)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port); HOIST_PORT=$(free_port)

mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/client_body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 1000000;
  sendfile on;
  etag on;
  types { text/html html; text/javascript js; }
  default_type application/octet-stream;
  server { listen 127.0.0.1:$NGINX_PORT; root $SITE; }
}
CONF
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
PIDS+=($!)

mkdir -p "$WORK/hoist"
python3 -c 'import json,sys; print(json.dumps({"upstream": None, "static_root": sys.argv[1],
  "maintenance": False, "health_paths": ["/health"], "version": 1}))' "$SITE" > "$WORK/hoist/routes.json"
"$HOIST" proxy --listen "127.0.0.1:$HOIST_PORT" --state-dir "$WORK/hoist" 2>"$WORK/hoist/stderr" &
HOIST_PID=$!
PIDS+=($!)

declare -A BASE=([nginx]=http://127.0.0.1:$NGINX_PORT [hoist]=http://127.0.0.1:$HOIST_PORT)
TARGETS=(nginx hoist)
# Both must serve every file, byte for byte, before anything is measured.
for target in "${TARGETS[@]}"; do
  for file in "${FILES[@]}"; do
    for attempt in $(seq 1 100); do
      curl -sf -o "$WORK/check" "${BASE[$target]}/$file" && break
      [ "$attempt" = 100 ] && { echo "error: $target did not serve /$file within 10 s" >&2; exit 1; }
      sleep 0.1
    done
    cmp -s "$WORK/check" "$SITE/$file" || { echo "error: $target served a different /$file" >&2; exit 1; }
  done
done

# wrk prints one machine-readable line: requests/s, bytes/s, socket errors, non-2xx, requests.
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT %.1f %.0f %d %d %d\n", summary.requests / seconds,
    summary.bytes / seconds, e.connect + e.read + e.write + e.timeout, e.status, summary.requests))
end
LUA
# CPU time (user + system, clock ticks) of a server's processes: on a shared machine a
# steadier figure than requests/s, which other sessions' load moves from run to run.
declare -A SERVER_PIDS=([hoist]=$HOIST_PID)
SERVER_PIDS[nginx]="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
cpu_ticks() { # target
  local total=0 pid fields
  for pid in ${SERVER_PIDS[$1]}; do
    read -r -a fields < "/proc/$pid/stat"; total=$((total + fields[13] + fields[14]))
  done
  echo "$total"
}
# Appends "round file requests/s bytes/s cpu-us-per-request" to $WORK/$target.throughput.
measure() { # target, file, round
  local line before after
  before=$(cpu_ticks "$1")
  line=$(timeout 60 wrk -t2 -c32 -d"$DURATION" -s "$WORK/report.lua" "${BASE[$1]}/$2" | grep '^RESULT') || {
    echo "error: wrk against $1 failed" >&2; exit 1; }
  after=$(cpu_ticks "$1")
  read -r _ rps bps errors non_2xx requests <<< "$line"
  local cpu_us=$(( (after - before) * 1000000 / $(getconf CLK_TCK) / (requests > 0 ? requests : 1) ))
  echo "$3 $2 $rps $bps $cpu_us" >> "$WORK/$1.throughput"
  echo $((errors + non_2xx)) >> "$WORK/failures"
}

: > "$WORK/failures"
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then order=(nginx hoist); else order=(hoist nginx); fi
  echo "round $round/$ROUNDS: ${order[*]}" >&2
  for file in "${FILES[@]}"; do
    for target in "${order[@]}"; do measure "$target" "$file" "$round"; done
  done
done

python3 - "$WORK" "$ROUNDS" "${FILES[@]}" <<'PY'
import os, statistics, sys
work, rounds, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def table(target):  # {(round, file): (rps, bytes/s, cpu us a request)}
    rows = {}
    for line in open(f"{work}/{target}.throughput"):
        r, f, rps, bps, cpu = line.split()
        rows[(int(r), f)] = (float(rps), float(bps), float(cpu))
    return rows
data = {t: table(t) for t in ("nginx", "hoist")}
med = statistics.median
def column(target, f, i):
    return med(data[target][(r, f)][i] for r in range(1, rounds + 1))
failures = sum(int(line) for line in open(f"{work}/failures"))
print(f"static files benchmark, {rounds} rounds, medians; wrk -t2 -c32; all on loopback")
print(f"{'file':11} {'size':>8} {'nginx req/s':>11} {'hoist req/s':>11} {'nginx MB/s':>10}"
      f" {'hoist MB/s':>10} {'hoist/nginx':>11} {'per round':>10} {'CPU us/req nginx/hoist':>23}")
worst = None
for f in files:
    size = os.path.getsize(f"{work}/site/{f}")
    n, h = column("nginx", f, 0), column("hoist", f, 0)
    ratios = sorted(data["hoist"][(r, f)][0] / data["nginx"][(r, f)][0] for r in range(1, rounds + 1))
    ratio = h / n
    worst = ratio if worst is None else min(worst, ratio)
    cpu = f"{column('nginx', f, 2):.0f} / {column('hoist', f, 2):.0f}"
    print(f"{f:11} {size:8} {n:11.0f} {h:11.0f} {column('nginx', f, 1) / 1e6:10.0f}"
          f" {column('hoist', f, 1) / 1e6:10.0f} {ratio:10.3f}x {ratios[0]:4.2f}..{ratios[-1]:.2f}"
          f" {cpu:>23}")
print(f"failed requests (socket errors + non-2xx) over all runs: {failures}")
met = "met" if worst >= 0.9 else "NOT met"
print(f"verdict: lowest throughput ratio {worst:.3f}x nginx (goal >= 0.90x: {met})"
      + ("" if failures == 0 else f"; WARNING: {failures} failed requests"))
PY
