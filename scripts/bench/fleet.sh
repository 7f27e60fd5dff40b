#!/usr/bin/env bash
# Benchmark: hoist against a floor on real sshd hosts in network namespaces
# (scripts/testbed.sh), host roots on tmpfs, medians of ROUNDS rounds, hoist and floor
# alternating in every round. For each fleet:
#   first     a first deploy of the 2,000-file tree to fresh roots, cold: no ssh master from an
#             earlier command, no hoist binary on the hosts. Floor: one `rsync` of the tree plus
#             one `ssh` (switch `live`) per host, all hosts in parallel.
#   redeploy  the tree with one file changed. Floor: `rsync --link-dest` + one `ssh` per host.
#   rollback  (largest fleet and jump fleets) cold (masters closed first) and warm (right
#             after a deploy). Floor: one `ssh` per host.
# and, on the first fleet, the bytes sent to host 1 (its veth counter): hoist's first deploy,
# the floor's, and a second app's first deploy to the same host (its hoist binary is cached).
#
# Usage (root): scripts/bench/fleet.sh [ROUNDS] [FLEETS…]     default: 5 rounds, 1 4 16 4j
#   FLEETS: N = N hosts reached directly; Nj = N hosts reachable only through a jump host
#   HOIST=path/to/hoist        the binary (default: target/release/hoist, built if missing)
#   DEPLOY_CMD='…'             the command measured as "hoist" redeploy (default: "$HOIST -f $SPEC deploy bench");
#                              any other tool can be measured the same way: it gets $SPEC, $TREE,
#                              $HOSTS (space-separated addresses), $JUMP (or empty) and $SSH_CONFIG
#   FIRST_CMD='…'              likewise for the first deploy, with $ROUND (default: "$HOIST -f $FIRST_SPEC deploy first$ROUND")
#   ROLLBACK_CMD='…'           likewise for rollback (default: "$HOIST -f $SPEC rollback bench")
#   BENCH_DIR=dir              work dir on a tmpfs (default: /dev/shm/hoist-fleet-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
shift || true
FLEETS=${*:-1 4 16 4j}
BENCH_DIR=${BENCH_DIR:-/dev/shm/hoist-fleet-bench}
[ "$(id -u)" = 0 ] || { echo "fleet.sh needs root (network namespaces)" >&2; exit 1; }
if [ -z "${HOIST:-}" ]; then
  cargo build --release --quiet
  HOIST=${CARGO_TARGET_DIR:-$PWD/target}/release/hoist
fi
export HOIST
# hoist's shared ssh masters live in /tmp/hoist-ssh-<uid> then (see `close_masters`).
unset XDG_RUNTIME_DIR
MASTERS_DIR=/tmp/hoist-ssh-$(id -u)

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk '{printf "%.0f", $1/1e6}'; }
ratio() { awk -v h="$1" -v f="$2" 'BEGIN {printf "%.2f", h/f}'; }
timed() { # $1 = file to append ns to; the rest = command (eval'd)
  local file=$1 start end
  shift
  start=$(now_ns)
  eval "$*" >/dev/null 2>&1 || { echo "failed: $*" >&2; eval "$*" >&2 || true; exit 1; }
  end=$(now_ns)
  echo $((end - start)) >>"$file"
}

cleanup() { [ -n "${TESTBED:-}" ] && scripts/testbed.sh down "$TESTBED" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# The floor's ssh: its own connection every time, through the jump host when there is one.
floor_ssh() { if [ -n "$JUMP" ]; then ssh -F "$SSH_CONFIG" -J "root@$JUMP" "$@"; else ssh -F "$SSH_CONFIG" "$@"; fi; }
floor_rsh() { if [ -n "$JUMP" ]; then echo "ssh -F $SSH_CONFIG -J root@$JUMP"; else echo "ssh -F $SSH_CONFIG"; fi; }

# One rsync + one ssh per host, all in parallel: the least that gives a new release with
# unchanged files hard-linked to live and `live` switched atomically.
floor_deploy() { # $1 = round
  local host pids=() link_dest=()
  [ "$1" -gt 0 ] && link_dest=(--link-dest=/srv/floor/live/)
  for host in $HOSTS; do
    ( rsync -a --delete -e "$(floor_rsh)" "${link_dest[@]}" "$TREE/" "root@$host:/srv/floor/releases/r$1/" &&
      floor_ssh "root@$host" "ln -s releases/r$1 /srv/floor/live.tmp && mv -T /srv/floor/live.tmp /srv/floor/live" ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

floor_first() { # $1 = round: the whole tree into a fresh root
  local host pids=()
  for host in $HOSTS; do
    ( rsync -a -e "$(floor_rsh)" "$TREE/" "root@$host:/srv/ffirst$1/" &&
      floor_ssh "root@$host" "ln -s ffirst$1 /srv/flive$1.tmp && mv -T /srv/flive$1.tmp /srv/flive$1" ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

floor_rollback() { # $1 = the round to go back to
  local host pids=()
  for host in $HOSTS; do
    floor_ssh "root@$host" "ln -sfn releases/r$1 /srv/floor/live.tmp && mv -T /srv/floor/live.tmp /srv/floor/live" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

# Cold start for hoist: no shared ssh master of an earlier command.
close_masters() {
  local socket
  for socket in "$MASTERS_DIR"/s-*; do
    [ -S "$socket" ] && ssh -S "$socket" -O exit placeholder >/dev/null 2>&1 || true
  done
}

# A fresh host for hoist: no hoist binary in the user's cache there.
clear_host_caches() {
  local host
  for host in $HOSTS; do floor_ssh "root@$host" "rm -rf /root/.cache/hoist" & done
  wait
}

tx_bytes() { cat "/sys/class/net/${PREFIX}v1/statistics/tx_bytes"; }

write_spec() { # $1 = file, $2 = app name, the rest = env names (each deploys to /srv/<env>)
  local file=$1 app=$2 env
  shift 2
  {
    echo '[app]'; echo "name = \"$app\""
    echo '[build]'; echo 'upload_version = "tree"'
    for env in "$@"; do
      echo "[env.$env]"
      printf 'hosts = [%s]\n' "$(for h in $HOSTS; do printf '"root@%s", ' "$h"; done | sed 's/, $//')"
      echo "root = \"/srv/$env\""
      [ -n "$JUMP" ] && echo "jump = \"root@$JUMP\""
      echo "ssh_config = \"$SSH_CONFIG\""
      echo 'parallel = 16'
      echo 'keep_releases = 1000'
    done
  } >"$file"
}

echo "fleet     row        hoist_ms  floor_ms  ratio   (2000 files; medians of $ROUNDS)"
for fleet in $FLEETS; do
  count=${fleet%j}
  jumped=$([ "$fleet" != "$count" ] && echo 1 || echo 0)
  rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR/project"
  TESTBED=$BENCH_DIR/testbed
  if [ "$jumped" = 1 ]; then
    scripts/testbed.sh up "$TESTBED" 1 "--jump=$count" >/dev/null
  else
    scripts/testbed.sh up "$TESTBED" "$count" >/dev/null
  fi
  # shellcheck disable=SC1091
  . "$TESTBED/hosts.env"
  # shellcheck disable=SC1091
  . "$TESTBED/testbed.state"
  if [ "$jumped" = 1 ]; then
    HOSTS=$(for i in $(seq 1 "$count"); do eval echo "\$J$i"; done | xargs)
    JUMP=$H1
  else
    HOSTS=$(for i in $(seq 1 "$count"); do eval echo "\$H$i"; done | xargs)
    JUMP=
  fi
  SSH_CONFIG=$TESTBED/ssh_config
  TREE=$BENCH_DIR/project/tree
  SPEC=$BENCH_DIR/project/Hoist.toml
  FIRST_SPEC=$BENCH_DIR/project/first.toml
  export HOSTS JUMP SSH_CONFIG TREE SPEC FIRST_SPEC
  python3 scripts/bench/make_tree.py "$TREE" 2000
  write_spec "$SPEC" bench bench
  # shellcheck disable=SC2046
  write_spec "$FIRST_SPEC" first $(for r in $(seq 1 "$ROUNDS"); do echo "first$r"; done)
  write_spec "$BENCH_DIR/project/second.toml" second second
  FIRST=${FIRST_CMD:-"\$HOIST -f \$FIRST_SPEC deploy first\$ROUND"}
  DEPLOY=${DEPLOY_CMD:-"\$HOIST -f \$SPEC deploy bench"}
  ROLLBACK=${ROLLBACK_CMD:-"\$HOIST -f \$SPEC rollback bench"}
  for host in $HOSTS; do floor_ssh "root@$host" "mkdir -p /srv/floor/releases"; done

  # Untimed: the controller makes its host copy of hoist once per build of it (cut and
  # compressed, kept in ~/.cache/hoist): a deploy to a throwaway root on host 1.
  write_spec "$BENCH_DIR/project/warmup.toml" warmup warmup
  "$HOIST" -f "$BENCH_DIR/project/warmup.toml" deploy warmup >/dev/null 2>&1

  # First deploys, cold.
  : >"$BENCH_DIR/first-hoist.ns"; : >"$BENCH_DIR/first-floor.ns"
  for ROUND in $(seq 1 "$ROUNDS"); do
    export ROUND
    close_masters; clear_host_caches
    [ "$ROUND" = 1 ] && [ "$jumped" = 0 ] && before=$(tx_bytes)
    timed "$BENCH_DIR/first-hoist.ns" "$FIRST"
    [ "$ROUND" = 1 ] && [ "$jumped" = 0 ] && hoist_bytes=$(($(tx_bytes) - before))
    [ "$ROUND" = 1 ] && [ "$jumped" = 0 ] && before=$(tx_bytes)
    timed "$BENCH_DIR/first-floor.ns" floor_first "$ROUND"
    [ "$ROUND" = 1 ] && [ "$jumped" = 0 ] && floor_bytes=$(($(tx_bytes) - before))
  done
  h=$(median <"$BENCH_DIR/first-hoist.ns" | ms); f=$(median <"$BENCH_DIR/first-floor.ns" | ms)
  printf '%-8s  %-9s  %8s  %8s  %5sx\n' "$fleet" first "$h" "$f" "$(ratio "$h" "$f")"
  if [ "$jumped" = 0 ] && [ -z "${bytes_done:-}" ]; then
    close_masters
    before=$(tx_bytes)
    "$HOIST" -f "$BENCH_DIR/project/second.toml" deploy second >/dev/null 2>&1
    second_bytes=$(($(tx_bytes) - before))
    printf 'bytes to host 1: hoist first deploy %s, floor %s (hoist - floor: %s); a second app'"'"'s first deploy %s\n' \
      "$hoist_bytes" "$floor_bytes" "$((hoist_bytes - floor_bytes))" "$second_bytes"
    bytes_done=1
  fi

  # Redeploys of one changed file.
  eval "$DEPLOY" >/dev/null 2>&1
  floor_deploy 0
  : >"$BENCH_DIR/hoist.ns"; : >"$BENCH_DIR/floor.ns"
  for round in $(seq 1 "$ROUNDS"); do
    printf 'change %s\n' "$round" >>"$TREE/dir07/file00007.txt"
    timed "$BENCH_DIR/hoist.ns" "$DEPLOY"
    timed "$BENCH_DIR/floor.ns" floor_deploy "$round"
  done
  h=$(median <"$BENCH_DIR/hoist.ns" | ms); f=$(median <"$BENCH_DIR/floor.ns" | ms)
  printf '%-8s  %-9s  %8s  %8s  %5sx\n' "$fleet" redeploy "$h" "$f" "$(ratio "$h" "$f")"

  # Rollbacks, cold and warm, on the largest direct fleet and on jump fleets.
  largest=$(for f in $FLEETS; do if [ "$f" = "${f%j}" ]; then echo "$f"; fi; done | sort -n | tail -1)
  if [ "$jumped" = 1 ] || [ "$fleet" = "$largest" ]; then
    for kind in cold warm; do : >"$BENCH_DIR/rb-$kind-hoist.ns"; : >"$BENCH_DIR/rb-$kind-floor.ns"; done
    latest=$("$HOIST" -f "$SPEC" releases list bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
    forward="\$HOIST -f \$SPEC rollback bench --to $latest"
    for round in $(seq 1 "$ROUNDS"); do
      close_masters
      timed "$BENCH_DIR/rb-cold-hoist.ns" "$ROLLBACK"
      eval "$forward" >/dev/null 2>&1
      timed "$BENCH_DIR/rb-warm-hoist.ns" "$ROLLBACK"
      eval "$forward" >/dev/null 2>&1
      timed "$BENCH_DIR/rb-cold-floor.ns" floor_rollback $((ROUNDS - 1))
      floor_rollback "$ROUNDS"
      # The floor has no warm state: every ssh is a new connection.
      timed "$BENCH_DIR/rb-warm-floor.ns" floor_rollback $((ROUNDS - 1))
      floor_rollback "$ROUNDS"
    done
    for kind in cold warm; do
      h=$(median <"$BENCH_DIR/rb-$kind-hoist.ns" | ms); f=$(median <"$BENCH_DIR/rb-$kind-floor.ns" | ms)
      printf '%-8s  %-9s  %8s  %8s  %5sx\n' "$fleet" "rb-$kind" "$h" "$f" "$(ratio "$h" "$f")"
    done
  fi
  close_masters
  scripts/testbed.sh down "$TESTBED" >/dev/null
  TESTBED=
done
rm -rf "$BENCH_DIR"
