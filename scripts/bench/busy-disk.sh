#!/usr/bin/env bash
# Benchmark: a redeploy that changes one file, on a disk another program has just written
# to (400 MB it has not flushed yet, as a database or a log-heavy service leaves) against the
# same redeploy on a quiet disk, alternating, in one run. A deploy makes its own files
# durable; it should not write out everyone else's, so the ratio should be ~1.0.
#
# Usage: scripts/bench/busy-disk.sh [ROUNDS]      # default 7
#   HOIST=path/to/hoist     the binary (default: target/release/hoist, built if missing)
#   BENCH_DIR=dir           on the disk to measure (default: a temp dir under /tmp; not a tmpfs)
#   DIRTY_MB=400            what the other program leaves unflushed before each busy deploy
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-7}
DIRTY_MB=${DIRTY_MB:-400}
if [ -z "${HOIST:-}" ]; then
  cargo build --release --quiet -p hoist
  HOIST=${CARGO_TARGET_DIR:-$PWD/target}/release/hoist
fi
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/hoist-busy-disk.XXXXXX)}
[ "$(stat -f -c %T "$BENCH_DIR")" = tmpfs ] && { echo "BENCH_DIR is a tmpfs: nothing is ever flushed there" >&2; exit 1; }
unset XDG_RUNTIME_DIR
project=$BENCH_DIR/project
cleanup() {
  "$HOIST" -f "$project/Hoist.toml" --state "$BENCH_DIR/state.db" destroy bench --yes >/dev/null 2>&1 || true
  rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

mkdir -p "$project/app"
python3 scripts/bench/make_tree.py "$project/app" 200
cat >"$project/Hoist.toml" <<TOML
[app]
name = "bench"
[build]
upload_version = "app"
[env.bench]
hosts = ["local:$BENCH_DIR/root"]
keep_releases = 3
TOML
hoist=("$HOIST" -f "$project/Hoist.toml" --state "$BENCH_DIR/state.db")
"${hoist[@]}" deploy bench >/dev/null 2>&1

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
deploy_ms() { # one file changed, then a timed deploy; prints its milliseconds
  printf 'change %s\n' "$RANDOM" >>"$project/app/dir07/file00007.txt"
  local start end
  start=$(now_ns)
  "${hoist[@]}" deploy bench >/dev/null 2>&1 || { echo "deploy failed" >&2; exit 1; }
  end=$(now_ns)
  echo $(((end - start) / 1000000))
}

: >"$BENCH_DIR/quiet.ms"; : >"$BENCH_DIR/busy.ms"
for round in $(seq 1 "$ROUNDS"); do
  sync
  deploy_ms >>"$BENCH_DIR/quiet.ms"
  sync
  dd if=/dev/zero of="$BENCH_DIR/other-program.data" bs=1M count="$DIRTY_MB" status=none
  dirty=$(awk '/^Dirty:/ {print int($2 / 1024)}' /proc/meminfo)
  busy=$(deploy_ms)
  echo "$busy" >>"$BENCH_DIR/busy.ms"
  rm -f "$BENCH_DIR/other-program.data"
  echo "round $round: quiet $(tail -1 "$BENCH_DIR/quiet.ms") ms, busy $busy ms (dirty before it: $dirty MB)"
done
quiet=$(median <"$BENCH_DIR/quiet.ms")
busy=$(median <"$BENCH_DIR/busy.ms")
awk -v q="$quiet" -v b="$busy" -v r="$ROUNDS" -v d="$DIRTY_MB" 'BEGIN {
  printf "one-file redeploy, medians of %d: quiet disk %d ms, after %d MB another program left unflushed %d ms: %.2fx\n", r, q, d, b, b / q }'
