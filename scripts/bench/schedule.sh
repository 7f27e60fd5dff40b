#!/usr/bin/env bash
# How late scheduled commands start under `hoist serve`, and the daemon's memory while it
# holds many scheduled commands, on SQLite and on PostgreSQL (a throwaway local server; the
# test fixture's: unix socket, fsync off). Runs examples/schedule_bench against a release
# build of hoist. Usage: scripts/bench/schedule.sh [ROUNDS] [COUNT] [WINDOW_MS] [MEMORY_COUNT]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3} count=${2:-1000} window=${3:-10000} memory_count=${4:-10000}
cargo build --release --quiet --bin hoist --example schedule_bench
target=${CARGO_TARGET_DIR:-target}
hoist=$(realpath "$target/release/hoist")
bench=$(realpath "$target/release/examples/schedule_bench")
echo "== lateness: $count create commands spread over ${window} ms, $rounds rounds per store, alternating"
for round in $(seq "$rounds"); do
  for store in sqlite postgres; do
    echo "round $round: $("$bench" lateness "$store" "$hoist" "$count" "$window")"
  done
done
echo "== memory: $memory_count commands scheduled an hour ahead"
for store in sqlite postgres; do
  "$bench" memory "$store" "$hoist" "$memory_count"
done
