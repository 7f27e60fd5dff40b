#!/usr/bin/env bash
# Benchmark (issue 14): a container app built from a Containerfile, deployed to real sshd
# hosts in network namespaces (scripts/testbed.sh), no outside registry.
#
# (1) Bytes sent to each host on a redeploy where one layer changed, counted on the host's
#     veth (everything: ssh, hoist's calls, the upload, the image), against that layer's
#     compressed size as it landed in the host's registry. Goal: <= 1.2x + 100 KB.
# (2) Wall time of `hoist deploy` (build, ship, blue-green swap, probe) against a floor of
#     `podman build` + `podman save | ssh host podman load` + `ssh host podman run` until it
#     answers, all hosts in parallel. Goal: <= 0.5x the floor on a redeploy, <= 1.2x on the
#     first deploy. Medians of ROUNDS redeploys, hoist and floor alternating first.
#
# Usage (root): scripts/bench/containers.sh [ROUNDS] [HOST_COUNTS…]   default: 5 rounds, 1 4
#   HOIST=path/to/hoist   the binary (default: target/release/hoist, built if missing)
#   BASE_MB=30            the unchanging base layer (random bytes: it does not compress)
#   LAYER_KB=512          the layer that changes on every redeploy (random bytes)
#   BENCH_DIR=dir         work dir (default: /dev/shm/hoist-containers-bench)
#
# The testbed hosts share this machine's container storage (only /root and /srv are their
# own), so `podman load` and the hosts' pulls find layers already stored; what crosses the
# network is still what each command sends, which is what (1) counts and (2) waits for.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
shift || true
COUNTS=${*:-1 4}
BASE_MB=${BASE_MB:-30}
LAYER_KB=${LAYER_KB:-512}
BENCH_DIR=${BENCH_DIR:-/dev/shm/hoist-containers-bench}
[ "$(id -u)" = 0 ] || { echo "containers.sh needs root (network namespaces)" >&2; exit 1; }
for tool in podman skopeo docker-registry; do
  command -v "$tool" >/dev/null || { echo "containers.sh needs $tool (scripts/test installs it)" >&2; exit 1; }
done
if [ -z "${HOIST:-}" ]; then
  cargo build --release --quiet -p hoist
  HOIST=${CARGO_TARGET_DIR:-$PWD/target}/release/hoist
fi

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk '{printf "%.0f", $1/1e6}'; }
# Bytes this machine sent towards host $1: the tx counter of the veth its route leaves by.
tx_bytes() {
  local dev
  dev=$(ip -o route get "$1" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  cat "/sys/class/net/$dev/statistics/tx_bytes"
}
# The blobs in host $1's registry (name size), to find what a deploy added.
registry_blobs() {
  local dir=$TESTBED/h$1/srv/app/.hoist/registry/data/docker/registry/v2/blobs
  [ -d "$dir" ] || return 0
  find "$dir" -name data -type f -printf '%h %s\n' | sed 's#.*/##' | sort
}

cleanup() {
  [ -n "${TESTBED:-}" ] && scripts/testbed.sh down "$TESTBED" >/dev/null 2>&1 || true
  podman ps -a --format '{{.Names}}' | grep '^bench-floor-' | xargs -r podman rm -f -t0 >/dev/null 2>&1 || true
}
trap cleanup EXIT

write_project() {
  local project=$1
  mkdir -p "$project/base" "$project/app"
  cp /bin/busybox "$project/busybox"
  head -c "$((BASE_MB * 1024 * 1024))" /dev/urandom >"$project/base/blob"
  cat >"$project/Containerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY base/ /base/
COPY serve.sh /serve.sh
COPY app/ /app/
CMD ["/bin/sh", "/serve.sh"]
EOF
  cat >"$project/serve.sh" <<'EOF'
#!/bin/sh
trap 'exit 0' TERM INT
mkdir -p /www && cp /app/message.txt /www/index.html && echo ok >/www/health
httpd -f -p "$PORT" -h /www &
wait
EOF
}

change_layer() { # $1 = project, $2 = round
  head -c "$((LAYER_KB * 1024))" /dev/urandom >"$1/app/layer"
  echo "round $2" >"$1/app/message.txt"
}

# The floor on every host in parallel: the image whole through ssh, loaded, run, answering.
floor_deploy() { # $1 = image, $2 = port
  local host pids=()
  for host in $HOSTS; do
    ( podman save "$1" | ssh -F "$SSH_CONFIG" "root@$host" podman load --quiet >/dev/null &&
      ssh -F "$SSH_CONFIG" "root@$host" "podman rm -f -t0 bench-floor-${host//./-} >/dev/null 2>&1; \
        podman run -d --rm --name bench-floor-${host//./-} -e PORT=8080 -p 127.0.0.1:$2:8080 $1 >/dev/null && \
        until curl -sf http://127.0.0.1:$2/health >/dev/null; do sleep 0.02; done" ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

echo "hosts  phase     hoist_ms  floor_ms  ratio  | host1 bytes: hoist  floor  changed-layer  hoist/(1.2x+100KB)"
for count in $COUNTS; do
  rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR"
  TESTBED=$BENCH_DIR/testbed
  scripts/testbed.sh up "$TESTBED" "$count" >/dev/null
  # shellcheck disable=SC1091
  . "$TESTBED/hosts.env"
  HOSTS=$(for i in $(seq 1 "$count"); do eval echo "\$H$i"; done | xargs)
  SSH_CONFIG=$TESTBED/ssh_config
  FIRST_HOST=${HOSTS%% *}
  PROJECT=$BENCH_DIR/project
  write_project "$PROJECT"
  change_layer "$PROJECT" 0
  PORT=$((20000 + RANDOM % 20000))
  FLOOR_PORT=$((PORT + 1))
  {
    echo '[app]'; echo 'name = "cbench"'
    echo '[build]'; echo 'containerfile = "Containerfile"'
    echo 'exclude = ["base", "app", "busybox"]'
    echo '[service]'; echo 'runtime = "container"'; echo "port = $PORT"
    echo 'container_port = 8080'; echo 'stop_grace = "2s"'; echo 'drain = "0s"'
    echo '[service.health]'; echo 'path = "/health"'; echo 'interval = "20ms"'; echo 'deadline = "30s"'
    echo '[env.bench]'
    printf 'hosts = [%s]\n' "$(for h in $HOSTS; do printf '"root@%s", ' "$h"; done | sed 's/, $//')"
    echo 'root = "/srv/app"'
    echo "ssh_config = \"$SSH_CONFIG\""
    echo 'parallel = 16'
    echo 'keep_releases = 3'
  } >"$PROJECT/Hoist.toml"
  FLOOR_IMAGE=localhost/cbench-floor:latest

  # First deploy: hoist from nothing, the floor from nothing (its image built first, timed).
  start=$(now_ns)
  "$HOIST" -f "$PROJECT/Hoist.toml" deploy bench >/dev/null 2>"$BENCH_DIR/first.log" || { cat "$BENCH_DIR/first.log"; exit 1; }
  hoist_first=$(( $(now_ns) - start ))
  start=$(now_ns)
  podman build --quiet -t "$FLOOR_IMAGE" "$PROJECT" >/dev/null
  floor_deploy "$FLOOR_IMAGE" "$FLOOR_PORT"
  floor_first=$(( $(now_ns) - start ))
  printf '%5s  first     %8s  %8s  %5.2f\n' "$count" "$(echo $hoist_first | ms)" "$(echo $floor_first | ms)" \
    "$(echo "$hoist_first $floor_first" | awk '{print $1/$2}')"

  : >"$BENCH_DIR/hoist.ms"; : >"$BENCH_DIR/floor.ms"
  : >"$BENCH_DIR/hoist.bytes"; : >"$BENCH_DIR/floor.bytes"; : >"$BENCH_DIR/layer.bytes"
  for round in $(seq 1 "$ROUNDS"); do
    change_layer "$PROJECT" "$round"
    run_hoist() {
      local before blobs_before start
      blobs_before=$(registry_blobs 1)
      before=$(tx_bytes "$FIRST_HOST")
      start=$(now_ns)
      "$HOIST" -f "$PROJECT/Hoist.toml" deploy bench >/dev/null 2>"$BENCH_DIR/redeploy.log" || { cat "$BENCH_DIR/redeploy.log"; exit 1; }
      echo $(( $(now_ns) - start )) >>"$BENCH_DIR/hoist.ms"
      echo $(( $(tx_bytes "$FIRST_HOST") - before )) >>"$BENCH_DIR/hoist.bytes"
      # What the redeploy added to host 1's registry: the changed layer, its config, manifest.
      comm -13 <(echo "$blobs_before") <(registry_blobs 1) | awk '{s+=$2} END {print s+0}' >>"$BENCH_DIR/layer.bytes"
    }
    run_floor() {
      local before start
      before=$(tx_bytes "$FIRST_HOST")
      start=$(now_ns)
      podman build --quiet -t "$FLOOR_IMAGE" "$PROJECT" >/dev/null
      floor_deploy "$FLOOR_IMAGE" "$FLOOR_PORT"
      echo $(( $(now_ns) - start )) >>"$BENCH_DIR/floor.ms"
      echo $(( $(tx_bytes "$FIRST_HOST") - before )) >>"$BENCH_DIR/floor.bytes"
    }
    if [ $((round % 2)) = 1 ]; then run_hoist; run_floor; else run_floor; run_hoist; fi
  done
  hoist_ms=$(median <"$BENCH_DIR/hoist.ms" | ms)
  floor_ms=$(median <"$BENCH_DIR/floor.ms" | ms)
  hoist_bytes=$(median <"$BENCH_DIR/hoist.bytes")
  floor_bytes=$(median <"$BENCH_DIR/floor.bytes")
  layer_bytes=$(median <"$BENCH_DIR/layer.bytes")
  printf '%5s  redeploy  %8s  %8s  %5.2f  | %12.0f  %12.0f  %12.0f  %5.2f\n' "$count" "$hoist_ms" "$floor_ms" \
    "$(echo "$hoist_ms $floor_ms" | awk '{print $1/$2}')" "$hoist_bytes" "$floor_bytes" "$layer_bytes" \
    "$(echo "$hoist_bytes $layer_bytes" | awk '{print $1/(1.2*$2+102400)}')"
  "$HOIST" -f "$PROJECT/Hoist.toml" destroy bench --yes >/dev/null 2>&1 || true
  podman rmi -f "$FLOOR_IMAGE" >/dev/null 2>&1 || true
  scripts/testbed.sh down "$TESTBED" >/dev/null 2>&1
  TESTBED=
done
echo "goals: redeploy <= 0.5x the floor, first <= 1.2x; hoist bytes <= 1.2x the changed layer + 100 KB (last column <= 1)"
