#!/usr/bin/env bash
# Benchmark: `hoist deploy` of the 2,000-file tree with one file changed to 1, 4 and 16 real
# sshd hosts in network namespaces (scripts/testbed.sh), against a floor of one `rsync` plus
# one `ssh` per host, all hosts in parallel, run by this shell; then rollback on the largest
# fleet against a floor of one `ssh` per host. Medians of ROUNDS rounds, alternating.
#
# Usage (root): scripts/bench/fleet.sh [ROUNDS] [HOST_COUNTS…]       default: 5 rounds, 1 4 16
#   HOIST=path/to/hoist        the binary (default: target/release/hoist, built if missing)
#   DEPLOY_CMD='…'             the command measured as "hoist" (default: "$HOIST -f $SPEC deploy bench");
#                              any other tool can be measured the same way: it gets $SPEC, $TREE,
#                              $HOSTS (space-separated addresses) and $SSH_CONFIG
#   ROLLBACK_CMD='…'           likewise for rollback (default: "$HOIST -f $SPEC rollback bench")
#   BENCH_DIR=dir              work dir on a tmpfs (default: /dev/shm/hoist-fleet-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
shift || true
COUNTS=${*:-1 4 16}
BENCH_DIR=${BENCH_DIR:-/dev/shm/hoist-fleet-bench}
[ "$(id -u)" = 0 ] || { echo "fleet.sh needs root (network namespaces)" >&2; exit 1; }
if [ -z "${HOIST:-}" ]; then
  cargo build --release --quiet
  HOIST=${CARGO_TARGET_DIR:-$PWD/target}/release/hoist
fi
export HOIST

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk '{printf "%.0f", $1/1e6}'; }

cleanup() { [ -n "${TESTBED:-}" ] && scripts/testbed.sh down "$TESTBED" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# One rsync + one ssh per host, all in parallel: the least that gives a new release with
# unchanged files hard-linked to live and `live` switched atomically.
floor_deploy() { # $1 = round
  local host pids=() link_dest=()
  [ "$1" -gt 0 ] && link_dest=(--link-dest=/srv/floor/live/)
  for host in $HOSTS; do
    ( rsync -a --delete -e "ssh -F $SSH_CONFIG" "${link_dest[@]}" "$TREE/" "root@$host:/srv/floor/releases/r$1/" &&
      ssh -F "$SSH_CONFIG" "root@$host" "ln -s releases/r$1 /srv/floor/live.tmp && mv -T /srv/floor/live.tmp /srv/floor/live" ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

floor_rollback() { # $1 = the round to go back to
  local host pids=()
  for host in $HOSTS; do
    ssh -F "$SSH_CONFIG" "root@$host" "ln -sfn releases/r$1 /srv/floor/live.tmp && mv -T /srv/floor/live.tmp /srv/floor/live" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

echo "hosts  hoist_ms  floor_ms  ratio   (deploy of 2000 files, 1 changed; medians of $ROUNDS)"
for count in $COUNTS; do
  rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR/project"
  TESTBED=$BENCH_DIR/testbed
  scripts/testbed.sh up "$TESTBED" "$count" >/dev/null
  # shellcheck disable=SC1091
  . "$TESTBED/hosts.env"
  HOSTS=$(for i in $(seq 1 "$count"); do eval echo "\$H$i"; done | xargs)
  SSH_CONFIG=$TESTBED/ssh_config
  TREE=$BENCH_DIR/project/tree
  SPEC=$BENCH_DIR/project/Hoist.toml
  export HOSTS SSH_CONFIG TREE SPEC
  python3 scripts/bench/make_tree.py "$TREE" 2000
  {
    echo '[app]'; echo 'name = "bench"'
    echo '[build]'; echo 'upload_version = "tree"'
    echo '[env.bench]'
    printf 'hosts = [%s]\n' "$(for h in $HOSTS; do printf '"root@%s", ' "$h"; done | sed 's/, $//')"
    echo 'root = "/srv/hoist"'
    echo "ssh_config = \"$SSH_CONFIG\""
    echo 'parallel = 16'
    echo 'keep_releases = 1000'
  } > "$SPEC"
  DEPLOY=${DEPLOY_CMD:-"\$HOIST -f \$SPEC deploy bench"}
  ROLLBACK=${ROLLBACK_CMD:-"\$HOIST -f \$SPEC rollback bench"}

  # Untimed first release for both.
  eval "$DEPLOY" >/dev/null 2>&1
  for host in $HOSTS; do ssh -F "$SSH_CONFIG" "root@$host" "mkdir -p /srv/floor/releases"; done
  floor_deploy 0
  : > "$BENCH_DIR/hoist.ns"; : > "$BENCH_DIR/floor.ns"
  for round in $(seq 1 "$ROUNDS"); do
    printf 'change %s\n' "$round" >> "$TREE/dir07/file00007.txt"
    start=$(now_ns); eval "$DEPLOY" >/dev/null 2>&1; end=$(now_ns); echo $((end - start)) >> "$BENCH_DIR/hoist.ns"
    start=$(now_ns); floor_deploy "$round"; end=$(now_ns); echo $((end - start)) >> "$BENCH_DIR/floor.ns"
  done
  hoist_ms=$(median < "$BENCH_DIR/hoist.ns" | ms); floor_ms=$(median < "$BENCH_DIR/floor.ns" | ms)
  printf '%5s  %8s  %8s  %5sx\n' "$count" "$hoist_ms" "$floor_ms" "$(awk -v h="$hoist_ms" -v f="$floor_ms" 'BEGIN {printf "%.2f", h/f}')"

  if [ "$count" = "$(echo "$COUNTS" | awk '{print $NF}')" ]; then
    : > "$BENCH_DIR/hoist-rb.ns"; : > "$BENCH_DIR/floor-rb.ns"
    latest=$("$HOIST" -f "$SPEC" releases list bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
    for round in $(seq 1 "$ROUNDS"); do
      start=$(now_ns); eval "$ROLLBACK" >/dev/null 2>&1; end=$(now_ns); echo $((end - start)) >> "$BENCH_DIR/hoist-rb.ns"
      "$HOIST" -f "$SPEC" rollback bench --to "$latest" >/dev/null 2>&1   # forward again, untimed
      start=$(now_ns); floor_rollback $((ROUNDS - 1)); end=$(now_ns); echo $((end - start)) >> "$BENCH_DIR/floor-rb.ns"
      floor_rollback "$ROUNDS"
    done
    rb_h=$(median < "$BENCH_DIR/hoist-rb.ns" | ms); rb_f=$(median < "$BENCH_DIR/floor-rb.ns" | ms)
    echo "rollback on $count hosts: hoist ${rb_h} ms, floor ${rb_f} ms, ratio $(awk -v h="$rb_h" -v f="$rb_f" 'BEGIN {printf "%.2f", h/f}')x"
  fi
  scripts/testbed.sh down "$TESTBED" >/dev/null
  TESTBED=
done
rm -rf "$BENCH_DIR"
