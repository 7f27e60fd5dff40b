#!/usr/bin/env bash
# Real sshd hosts on this machine, for tests and benchmarks: each host is an sshd in its own
# network namespace (reached over a veth pair with a /30 from 10.213.0.0/16) and its own mount
# namespace (a clean /root and a private /srv, so every host has its deploy root at `/srv`).
#
#   scripts/testbed.sh up DIR N [--jump[=M]]   # hosts h1..hN (N <= 16); --jump adds j1 (=M: j1..jM,
#                                              # M <= 16), reachable only through h1
#   scripts/testbed.sh down DIR            # tears everything down, even after a half-failed `up`
#   scripts/testbed.sh stop-host DIR h3    # kills h3's sshd and its sessions (a crashed sshd)
#   scripts/testbed.sh start-host DIR h3   # starts it again
#
# Needs root. Writes into DIR: id_ed25519 (the client key), known_hosts, ssh_config (Host h1…,
# Host jK with ProxyJump h1, and `Host *` with the key and known_hosts, so addresses work too)
# and hosts.env (H1=10.213.x.y …, J1=… JM=…, UNREACHABLE= an address in the range with no host).
#
# Network rule: before any namespace exists, the blackhole route `unreachable 10.213.0.0/16` is
# installed and checked, so a test address without a host never leaves this machine. It is
# removed last, by the last testbed to go down (a registry under /run/hoist-testbed).
set -euo pipefail

readonly RANGE=10.213.0.0/16
readonly REGISTRY=/run/hoist-testbed
readonly SSHD=/usr/sbin/sshd
readonly MAX_HOSTS=16

die() {
  echo "testbed: $*" >&2
  exit 1
}

usage() {
  die "usage: testbed.sh up DIR N [--jump[=M]] | down DIR | stop-host DIR NAME | start-host DIR NAME"
}

# apt-get only when something is missing: most runs install nothing.
ensure_packages() {
  local missing=()
  [ -x "$SSHD" ] || missing+=(openssh-server)
  command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
  command -v rsync >/dev/null 2>&1 || missing+=(rsync)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "testbed: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The registry lock serializes allocation and the blackhole route's lifetime between testbeds.
# fd 9 must be closed again before any long-lived process starts, or it would hold the lock.
lock_registry() {
  mkdir -p "$REGISTRY/testbeds"
  exec 9>>"$REGISTRY/lock"
  flock -w 30 9 || die "cannot lock $REGISTRY/lock"
}

unlock_registry() {
  exec 9>&-
}

blackhole_present() {
  ip route show type unreachable | grep -q "^unreachable 10\.213\.0\.0/16"
}

ensure_blackhole() {
  blackhole_present || ip route add unreachable "$RANGE"
  blackhole_present || die "the blackhole route for $RANGE is not in place; refusing to create namespaces"
}

short_hash() {
  printf '%s' "$1" | sha256sum | cut -c1-4
}

# A slot is one 10.213.SLOT.0/24 for one testbed: free when no live testbed claims it and no
# route of the root namespace falls inside it.
slot_taken() {
  local slot=$1
  grep -qx "SLOT=$slot" "$REGISTRY"/testbeds/* 2>/dev/null && return 0
  ip -4 route show | grep -q "^10\.213\.$slot\." && return 0
  return 1
}

prefix_taken() {
  local prefix=$1
  [ -e "$REGISTRY/testbeds/$prefix" ] && return 0
  ip netns list | grep -q "^$prefix-" && return 0
  ip -o link show | grep -q ": $prefix" && return 0
  return 1
}

cmd_up() {
  local dir=$1 count=$2 jump=$3
  [[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le "$MAX_HOSTS" ] ||
    die "N must be a number from 1 to $MAX_HOSTS"
  ensure_packages
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  [ -e "$dir/testbed.state" ] && cmd_down "$dir"

  lock_registry
  local salt=0 prefix slot
  while :; do
    local hash
    hash=$(short_hash "$dir#$salt")
    prefix="hb$hash"
    slot=$((16#$hash % 250 + 1))
    if ! prefix_taken "$prefix" && ! slot_taken "$slot"; then break; fi
    salt=$((salt + 1))
    [ "$salt" -lt 500 ] || die "no free slot in $RANGE"
  done
  ensure_blackhole
  printf 'PREFIX=%s\nSLOT=%s\nN=%s\nJUMP=%s\n' "$prefix" "$slot" "$count" "$jump" >"$dir/testbed.state"
  printf 'DIR=%s\nSLOT=%s\n' "$dir" "$slot" >"$REGISTRY/testbeds/$prefix"
  unlock_registry

  # From here on a failure (an error or a `die`) leaves things half made: take them down.
  TESTBED_DIR=$dir
  trap teardown_failed_up EXIT
  build_hosts "$dir" "$prefix" "$slot" "$count" "$jump"
  trap - EXIT
}

teardown_failed_up() {
  local status=$?
  trap - EXIT
  echo "testbed: up failed (exit $status), tearing down" >&2
  cmd_down "$TESTBED_DIR" || true
  exit "$status"
}

# Host i (1..16) gets 10.213.SLOT.(4i-4)/30: .(4i-3) on this side, .(4i-2) on the host.
# jK's link from inside h1 is 10.213.SLOT.(60+4K)/30: .(61+4K) in h1, .(62+4K) in jK (j1: .66).
host_address() { echo "10.213.$1.$((4 * $2 - 2))"; }
jump_address() { echo "10.213.$1.$((60 + 4 * $2 + 2))"; }

build_hosts() {
  local dir=$1 prefix=$2 slot=$3 count=$4 jump=$5
  mkdir -p /run/sshd # sshd refuses to start without its privilege separation directory
  rm -f "$dir/id_ed25519" "$dir/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C testbed-client -f "$dir/id_ed25519"
  cp "$dir/id_ed25519.pub" "$dir/authorized_keys"

  local names=() addresses=() i
  for i in $(seq 1 "$count"); do
    names+=("h$i")
    addresses+=("$(host_address "$slot" "$i")")
  done
  for i in $(seq 1 "$jump"); do
    names+=("j$i")
    addresses+=("$(jump_address "$slot" "$i")")
  done

  # Every namespace is created only now, with the blackhole route checked again just before.
  blackhole_present || die "the blackhole route for $RANGE vanished; refusing to create namespaces"
  # One `ip -batch` for this side, one per namespace for the inside: a few processes, not
  # seven per host.
  local batch="$dir/setup.batch"
  {
    for i in $(seq 1 "$count"); do
      echo "netns add $prefix-h$i"
      echo "link add ${prefix}v$i type veth peer name eth0 netns $prefix-h$i"
      echo "addr add 10.213.$slot.$((4 * i - 3))/30 dev ${prefix}v$i"
      echo "link set ${prefix}v$i up"
    done
    for i in $(seq 1 "$jump"); do echo "netns add $prefix-j$i"; done
  } >"$batch"
  ip -batch "$batch"
  for i in $(seq 1 "$count"); do
    {
      echo "link set lo up"
      echo "addr add $(host_address "$slot" "$i")/30 dev eth0"
      echo "link set eth0 up"
      if [ "$i" = 1 ]; then
        local k
        for k in $(seq 1 "$jump"); do
          echo "link add eth$k type veth peer name eth0 netns $prefix-j$k"
          echo "addr add 10.213.$slot.$((60 + 4 * k + 1))/30 dev eth$k"
          echo "link set eth$k up"
        done
      fi
    } >"$batch"
    ip -n "$prefix-h$i" -batch "$batch"
  done
  for i in $(seq 1 "$jump"); do
    printf 'link set lo up\naddr add %s/30 dev eth0\nlink set eth0 up\n' "$(jump_address "$slot" "$i")" >"$batch"
    ip -n "$prefix-j$i" -batch "$batch"
  done
  rm -f "$batch"

  local extra_options=""
  # OpenSSH >= 9.8 penalizes sources after failed logins; tests fail logins on purpose.
  if "$SSHD" -t -f /dev/null -o PerSourcePenalties=no -o HostKey="$dir/id_ed25519" 2>/dev/null; then
    extra_options="PerSourcePenalties no"
  fi

  # Host keys first, all at once; then per host its config and its sshd.
  local index name
  for name in "${names[@]}"; do
    rm -rf "${dir:?}/$name"
    mkdir -p "$dir/$name/srv"
    mkdir -m 700 "$dir/$name/home"
    ssh-keygen -q -t ed25519 -N '' -C "testbed-$name" -f "$dir/$name/hostkey" &
  done
  wait
  : >"$dir/known_hosts"
  local pids=()
  for index in "${!names[@]}"; do
    local address=${addresses[$index]} host_dir="$dir/${names[$index]}" key_type key _
    read -r key_type key _ <"$host_dir/hostkey.pub"
    echo "$address $key_type $key" >>"$dir/known_hosts"
    printf '%s\n' \
      "ListenAddress $address:22" \
      "HostKey $host_dir/hostkey" \
      "PidFile none" \
      "AuthorizedKeysFile $dir/authorized_keys" \
      "PermitRootLogin prohibit-password" \
      "PasswordAuthentication no" \
      "KbdInteractiveAuthentication no" \
      "UsePAM no" \
      "StrictModes no" \
      "AllowTcpForwarding yes" \
      "Subsystem sftp internal-sftp" \
      "MaxSessions 64" \
      "MaxStartups 64:30:128" \
      "PrintMotd no" \
      "$extra_options" >"$host_dir/sshd_config"
    # `ip netns exec` and `unshare` exec (no fork) and so does `sh -c '… exec sshd'`: `$!` is
    # sshd's own pid. The private mount namespace gives a clean home (no .bashrc cost per
    # command) and this host's own /srv.
    start_sshd "$prefix" "$host_dir" "${names[$index]}"
    pids+=("$(cat "$host_dir/sshd.pid")")
  done

  write_client_files "$dir" "$slot" "$count" "$jump"

  # sshd logs "Server listening" once its socket is bound.
  local deadline=$((SECONDS + 10))
  for index in "${!names[@]}"; do
    local log="$dir/${names[$index]}/sshd.log"
    until [[ "$(<"$log")" == *"Server listening"* ]]; do
      kill -0 "${pids[$index]}" 2>/dev/null || die "sshd of ${names[$index]} exited: $(<"$log")"
      [ "$SECONDS" -lt "$deadline" ] || die "sshd of ${names[$index]} did not start: $(<"$log")"
      sleep 0.005
    done
  done
}

write_client_files() {
  local dir=$1 slot=$2 count=$3 jump=$4 i
  {
    for i in $(seq 1 "$count"); do
      printf 'Host h%s\n  HostName %s\n' "$i" "$(host_address "$slot" "$i")"
    done
    for i in $(seq 1 "$jump"); do
      printf 'Host j%s\n  HostName %s\n  ProxyJump h1\n' "$i" "$(jump_address "$slot" "$i")"
    done
    cat <<EOF
Host *
  User root
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  BatchMode yes
  ConnectTimeout 5
  KexAlgorithms curve25519-sha256
EOF
  } >"$dir/ssh_config"
  {
    for i in $(seq 1 "$count"); do
      printf 'H%s=%s\n' "$i" "$(host_address "$slot" "$i")"
    done
    for i in $(seq 1 "$jump"); do printf 'J%s=%s\n' "$i" "$(jump_address "$slot" "$i")"; done
    printf 'UNREACHABLE=10.213.%s.250\n' "$slot"
  } >"$dir/hosts.env"
}

# Starts one host's sshd in its namespaces and records its pid in sshd.pid.
start_sshd() {
  local prefix=$1 host_dir=$2 name=$3
  # `ip netns exec` mounts a fresh /sys for the namespace, which hides the cgroup
  # hierarchies a container engine needs (runc: "no cgroup mount found"): they are mounted
  # again, as this machine has them, inside the host's private mount namespace.
  ip netns exec "$prefix-$name" unshare -m --propagation private \
    sh -c 'mount --bind "$1" /root && mount --bind "$2" /srv &&
      if ! grep -q " /sys/fs/cgroup" /proc/self/mounts; then
        mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
        awk "\$3==\"cgroup\" || \$3==\"cgroup2\" {print \$2, \$3, \$4}" /proc/1/mounts |
          while read -r dir type opts; do
            mkdir -p "$dir" && mount -t "$type" -o "$opts" "$type" "$dir" || true
          done
      fi
      exec "$3" -D -e -f "$4"' \
    sh "$host_dir/home" "$host_dir/srv" "$SSHD" "$host_dir/sshd_config" \
    </dev/null >>"$host_dir/sshd.log" 2>&1 &
  echo $! >"$host_dir/sshd.pid"
}

# `stop-host DIR NAME`: kills every sshd of one host (the daemon and its sessions, so open
# connections drop), as a crash of that host's sshd would; what else runs there stays.
cmd_stop_host() {
  local dir=$1 name=$2 PREFIX="" pid pids=()
  # shellcheck disable=SC1091
  . "$dir/testbed.state"
  for pid in $(ip netns pids "$PREFIX-$name" 2>/dev/null); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ] && pids+=("$pid")
  done
  [ ${#pids[@]} -gt 0 ] || die "no sshd runs on $name"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do
    while ! process_gone "$pid"; do sleep 0.01; done
  done
}

# `start-host DIR NAME`: starts a stopped host's sshd again and waits until it listens.
cmd_start_host() {
  local dir=$1 name=$2 PREFIX="" before
  # shellcheck disable=SC1091
  . "$dir/testbed.state"
  before=$(grep -c "Server listening" "$dir/$name/sshd.log" || true)
  start_sshd "$PREFIX" "$dir/$name" "$name"
  local deadline=$((SECONDS + 10))
  while [ "$(grep -c "Server listening" "$dir/$name/sshd.log" || true)" -le "$before" ]; do
    [ $SECONDS -lt $deadline ] || die "sshd of $name did not start: $(tail -3 "$dir/$name/sshd.log")"
    sleep 0.02
  done
}

# Gone, or a zombie waiting for its reaper (orphans are reaped slowly here).
process_gone() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  stat=${stat##*) } # after the command name, which may hold spaces and parentheses
  [ "${stat%% *}" = Z ]
}

cmd_down() {
  local dir=$1
  [ -d "$dir" ] || die "no such directory: $dir"
  dir=$(cd "$dir" && pwd -P)
  [ -f "$dir/testbed.state" ] || return 0
  local PREFIX="" SLOT="" N=0 JUMP=0
  # shellcheck disable=SC1091
  . "$dir/testbed.state"
  [[ "$PREFIX" =~ ^hb[0-9a-f]{4}$ ]] || die "bad PREFIX in $dir/testbed.state"

  local namespaces=() pids=() i
  for i in $(seq 1 "$N"); do namespaces+=("$PREFIX-h$i"); done
  local k
  for k in $(seq 1 "$JUMP"); do namespaces+=("$PREFIX-j$k"); done

  # Everything running in our namespaces (sshd, its sessions, what they started), plus the
  # recorded sshd pids — those only while their command line is still ours (pid reuse).
  local ns host_dir pid
  for ns in "${namespaces[@]}"; do
    if [ -e "/run/netns/$ns" ]; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$pid"); done
    fi
  done
  for host_dir in "$dir"/h* "$dir"/j*; do
    [ -f "$host_dir/sshd.pid" ] || continue
    pid=$(cat "$host_dir/sshd.pid")
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$host_dir/sshd_config"; then
      pids+=("$pid")
    fi
    rm -f "$host_dir/sshd.pid"
  done
  # hoist's supervisors go first: one still running would start again what is being stopped.
  local supervisors=()
  for pid in "${pids[@]}"; do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE ' host --root .* supervise'; then
      supervisors+=("$pid")
    fi
  done
  if [ ${#supervisors[@]} -gt 0 ]; then
    kill -KILL "${supervisors[@]}" 2>/dev/null || true
    for pid in "${supervisors[@]}"; do
      while ! process_gone "$pid"; do sleep 0.01; done
    done
  fi
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local waited=0 alive
    while :; do
      alive=()
      for pid in "${pids[@]}"; do process_gone "$pid" || alive+=("$pid"); done
      [ ${#alive[@]} -eq 0 ] && break
      if [ "$waited" -ge 300 ]; then
        kill -KILL "${alive[@]}" 2>/dev/null || true
        break
      fi
      sleep 0.01
      waited=$((waited + 1))
    done
  fi

  # Their boot entries: the hosts share this machine's crontab, so each root a host laid out
  # left an `@reboot` line there, marked with the root's id. Removed now that nothing of the
  # testbed runs to write one again, under the lock hoist edits the crontab with.
  local ids=() id_file
  while IFS= read -r id_file; do
    ids+=("$(tr -dc '0-9a-f' <"$id_file")")
  done < <(find "$dir"/h* "$dir"/j* -path '*/srv/*' -path '*/.hoist/root-id' 2>/dev/null)
  if [ ${#ids[@]} -gt 0 ] && command -v crontab >/dev/null && crontab -l >/dev/null 2>&1; then
    local pattern
    pattern="# hoist-boot ($(IFS='|'; echo "${ids[*]}"))\$"
    (
      flock 9
      crontab -l 2>/dev/null | grep -Ev "$pattern" | crontab -
    ) 9>"/tmp/hoist-crontab-$(id -u).lock"
  fi

  # Deleting the root-side veth removes its peer at once; the namespaces go after. One `ip`
  # for all of it (-force: go on past what a half-made testbed never had).
  {
    for i in $(seq 1 "$N"); do
      [ -e "/sys/class/net/${PREFIX}v$i" ] && echo "link del ${PREFIX}v$i"
    done
    for ns in "${namespaces[@]}"; do
      [ -e "/run/netns/$ns" ] && echo "netns del $ns"
    done
  } >"$dir/teardown.batch"
  ip -force -batch "$dir/teardown.batch" 2>/dev/null || true
  rm -f "$dir/teardown.batch"

  lock_registry
  rm -f "$REGISTRY/testbeds/$PREFIX" "$dir/testbed.state"
  # The blackhole route goes last, and only when no other testbed (registered, or leftover
  # namespaces of one) is still up.
  if [ -z "$(ls -A "$REGISTRY/testbeds")" ] && ! ip netns list | grep -q "^hb[0-9a-f]\{4\}-"; then
    if blackhole_present; then ip route del unreachable "$RANGE"; fi
  fi
  unlock_registry
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, sshd)"
case "${1:-}" in
  up)
    [ $# -ge 3 ] || usage
    jump=0
    if [ $# -ge 4 ]; then
      case "$4" in
        --jump) jump=1 ;;
        --jump=*) jump=${4#--jump=} ;;
        *) usage ;;
      esac
      [[ "$jump" =~ ^[0-9]+$ ]] && [ "$jump" -ge 1 ] && [ "$jump" -le 16 ] || usage
    fi
    [ $# -le 4 ] || usage
    cmd_up "$2" "$3" "$jump"
    ;;
  down)
    [ $# -eq 2 ] || usage
    cmd_down "$2"
    ;;
  stop-host | start-host)
    [ $# -eq 3 ] && [[ "$3" =~ ^(h[0-9]+|j[0-9]+)$ ]] || usage
    dir=$(cd "$2" && pwd -P)
    if [ "$1" = stop-host ]; then cmd_stop_host "$dir" "$3"; else cmd_start_host "$dir" "$3"; fi
    ;;
  *) usage ;;
esac
