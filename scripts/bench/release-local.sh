#!/usr/bin/env bash
# Benchmark: `hoist deploy` of a 2,000-file tree with one file changed, against a
# hand-written floor doing the least that gives the same result — rsync with --link-dest
# into a new directory, then `ln -s` + `mv -T` to switch `live` — on the same machine, in
# the same run, alternating. Then the disk used by ten releases with 1% of files changed.
#
# Usage: scripts/bench/release-local.sh [ROUNDS]
#   HOIST=path/to/hoist     the binary (default: target/release/hoist, built if missing)
#   BENCH_DIR=dir           where trees and roots live (default: /dev/shm/hoist-bench, a tmpfs)
#   FLOOR_CMD='…'           the command to compare with; it gets $SRC, $DEST_ROOT and $ID and
#                           must leave $DEST_ROOT/live pointing at the new release
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-15}
BENCH_DIR=${BENCH_DIR:-/dev/shm/hoist-bench}
if [ -z "${HOIST:-}" ]; then
  cargo build --release --quiet
  HOIST=$PWD/target/release/hoist
  [ -x "$HOIST" ] || HOIST=${CARGO_TARGET_DIR:-target}/release/hoist
fi
command -v rsync >/dev/null || { echo "rsync is needed: apt-get install rsync" >&2; exit 1; }
FLOOR_CMD=${FLOOR_CMD:-'rsync -a --delete --link-dest="$DEST_ROOT/live/" "$SRC/" "$DEST_ROOT/releases/$ID/" && ln -s "releases/$ID" "$DEST_ROOT/live.tmp" && mv -T "$DEST_ROOT/live.tmp" "$DEST_ROOT/live"'}

rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR/project" "$BENCH_DIR/floor/releases"
python3 scripts/bench/make_tree.py "$BENCH_DIR/project/tree" 2000
cat > "$BENCH_DIR/project/Hoist.toml" <<TOML
[app]
name = "bench"
[build]
upload_version = "tree"
[env.bench]
hosts = ["local:$BENCH_DIR/hoist"]
keep_releases = 1000
TOML

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
change_one() { printf 'change %s\n' "$1" >> "$BENCH_DIR/project/tree/dir07/file00007.txt"; }

# Initial release for both, not timed.
"$HOIST" -f "$BENCH_DIR/project/Hoist.toml" deploy bench >/dev/null 2>&1
SRC=$BENCH_DIR/project/tree DEST_ROOT=$BENCH_DIR/floor ID=r0 bash -c "rsync -a '$BENCH_DIR/project/tree/' '$BENCH_DIR/floor/releases/r0/' && ln -s releases/r0 '$BENCH_DIR/floor/live'"

: > "$BENCH_DIR/hoist.ns"; : > "$BENCH_DIR/floor.ns"
for round in $(seq 1 "$ROUNDS"); do
  change_one "$round"
  start=$(now_ns); "$HOIST" -f "$BENCH_DIR/project/Hoist.toml" deploy bench >/dev/null 2>&1; end=$(now_ns)
  echo $((end - start)) >> "$BENCH_DIR/hoist.ns"
  start=$(now_ns)
  SRC=$BENCH_DIR/project/tree DEST_ROOT=$BENCH_DIR/floor ID=r$round bash -c "$FLOOR_CMD"
  end=$(now_ns)
  echo $((end - start)) >> "$BENCH_DIR/floor.ns"
done
hoist_ms=$(median < "$BENCH_DIR/hoist.ns" | awk '{printf "%.1f", $1/1e6}')
floor_ms=$(median < "$BENCH_DIR/floor.ns" | awk '{printf "%.1f", $1/1e6}')
ratio=$(awk -v h="$hoist_ms" -v f="$floor_ms" 'BEGIN {printf "%.2f", h/f}')
echo "deploy, 2000 files, 1 changed, $ROUNDS rounds (median): hoist ${hoist_ms} ms, floor ${floor_ms} ms, ratio ${ratio}x"
linked=$(find "$BENCH_DIR/hoist/live/" -type f -links +1 | wc -l)
echo "files in live shared by hard link with another release: $linked of 2000"

# Disk: ten releases, each with 1% (20) of the files rewritten with new random bytes.
rm -rf "$BENCH_DIR/hoist" "$BENCH_DIR/project/.hoist"
"$HOIST" -f "$BENCH_DIR/project/Hoist.toml" deploy bench >/dev/null 2>&1
one_release_kb=$(du -sk "$BENCH_DIR/hoist/releases" | cut -f1)
changed_bytes=0
for round in $(seq 2 10); do
  for n in $(seq 0 19); do
    file=$(printf '%s/project/tree/dir%02d/file%05d.txt' "$BENCH_DIR" $(( (round * 20 + n) % 40 )) $(( (round * 20 + n) % 2000 )))
    head -c "$(stat -c %s "$file")" /dev/urandom > "$file.new" && mv "$file.new" "$file"
    changed_bytes=$((changed_bytes + $(stat -c %s "$file")))
  done
  "$HOIST" -f "$BENCH_DIR/project/Hoist.toml" deploy bench >/dev/null 2>&1
done
releases=$(ls "$BENCH_DIR/hoist/releases" | wc -l)
releases_kb=$(du -sk "$BENCH_DIR/hoist/releases" | cut -f1)
all_kb=$(du -sk "$BENCH_DIR/hoist/releases" "$BENCH_DIR/hoist/meta" | awk '{s+=$1} END {print s}')
goal_kb=$(( one_release_kb + changed_bytes / 1024 ))
echo "disk, $releases releases, 1% changed each: releases/ ${releases_kb} KiB, releases/+meta/ ${all_kb} KiB; one release ${one_release_kb} KiB + changed $((changed_bytes / 1024)) KiB = ${goal_kb} KiB"
awk -v r="$releases_kb" -v a="$all_kb" -v g="$goal_kb" 'BEGIN {printf "disk ratio: releases/ %.3fx, with meta/ %.3fx of (one release + changed bytes); goal <= 1.1x\n", r/g, a/g}'
rm -rf "$BENCH_DIR"
