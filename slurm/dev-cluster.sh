#!/usr/bin/env bash
# A real multi-node Slurm cluster on this one machine, for laptops and tests.
#
#   slurm/dev-cluster.sh start [--nodes N] [--cpus C]   bring up munge, slurmctld and N slurmd nodes
#   slurm/dev-cluster.sh stop                           stop everything, leave nothing behind
#   slurm/dev-cluster.sh status                         say what runs (exit 0 when up)
#   slurm/dev-cluster.sh env                            export lines: eval "$(slurm/dev-cluster.sh env)"
#
# Each node is a set of Linux namespaces (network, hostname, mount) holding one slurmd, with its
# own hostname (n1, n2, ...) and address on a private bridge; ranks on different nodes talk over
# TCP like on a real cluster. Everything lives under one state directory
# (LIBPOOL_CLUSTER_DIR, default /tmp/libpool-dev-cluster); nothing is written in /etc.
# Needs root (namespaces, slurmd); `start` installs slurm-wlm and munge when missing.
# Settings (environment): LIBPOOL_CLUSTER_DIR, LIBPOOL_CLUSTER_NET (default 10.77.0),
# LIBPOOL_CLUSTER_PORT (slurmctld port, slurmd uses the next one; default 16817).
set -euo pipefail

STATE=${LIBPOOL_CLUSTER_DIR:-/tmp/libpool-dev-cluster}
NET=${LIBPOOL_CLUSTER_NET:-10.77.0}
CTLD_PORT=${LIBPOOL_CLUSTER_PORT:-16817}
SLURMD_PORT=$((CTLD_PORT + 1))
BRIDGE=lpbr${CTLD_PORT}
HEAD_ADDR=${NET}.1
CONF=$STATE/etc/slurm.conf
# Short so that interface names stay under 15 characters: lpv<port>n<i>.
VETH_PREFIX=lpv${CTLD_PORT}n

die() {
  echo "dev-cluster: $*" >&2
  exit 2
}
say() { echo "dev-cluster: $*" >&2; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, slurmd); run it with sudo"
}

pid_alive() {
  # A zombie is gone for our purposes (containers without init keep them around).
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  local state
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

pid_from() { [ -r "$1" ] && tr -dc '0-9' <"$1" || true; }

# Processes whose command line mentions the state directory (daemons we started, even when a
# crash lost their pid files).
pids_of_state() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    case "$cmd" in *"$STATE/"*) echo "${p#/proc/}" ;; esac
  done
}

# Processes living in one of the nodes' network namespaces (slurmd, slurmstepd, job tasks,
# the holders).
pids_in_node_namespaces() {
  local inodes=() f p ns
  for f in "$STATE"/nodes/*.netns; do
    [ -r "$f" ] && inodes+=("$(cat "$f")")
  done
  [ "${#inodes[@]}" -gt 0 ] || return 0
  for p in /proc/[0-9]*; do
    ns=$(readlink "$p/ns/net" 2>/dev/null) || continue
    for f in "${inodes[@]}"; do
      [ "$ns" = "$f" ] && echo "${p#/proc/}"
    done
  done
}

node_count() { [ -r "$STATE/nodes.count" ] && cat "$STATE/nodes.count" || echo 0; }

export_env() {
  export SLURM_CONF=$CONF
}

slurm_quiet() {
  # Slurm clients hang ~50 s when munged is dead: never ask them then.
  pid_alive "$(pid_from "$STATE/run/munged.pid")" || return 1
  SLURM_CONF=$CONF timeout 10 "$@" 2>/dev/null
}

is_up() {
  [ -r "$CONF" ] || return 1
  pid_alive "$(pid_from "$STATE/run/slurmctld.pid")" || return 1
  local n i
  n=$(node_count)
  [ "$n" -gt 0 ] || return 1
  for ((i = 1; i <= n; i++)); do
    pid_alive "$(pid_from "$STATE/run/slurmd.n$i.pid")" || return 1
    pid_alive "$(pid_from "$STATE/nodes/n$i.holder")" || return 1
  done
  ctld_up
}

ctld_up() { slurm_quiet scontrol ping | grep -q UP; }

cmd_status() {
  if is_up; then
    echo "dev-cluster: up, $(node_count) nodes, state in $STATE"
    slurm_quiet sinfo -N -h -o '  %N %T %c cpus %o' || true
    return 0
  fi
  if [ -d "$STATE" ] && { [ -n "$(pids_of_state)" ] || [ -n "$(pids_in_node_namespaces)" ]; }; then
    echo "dev-cluster: broken (some processes left under $STATE); run stop"
    return 1
  fi
  echo "dev-cluster: down"
  return 3
}

kill_all() {
  local sig=$1
  shift
  local p
  for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
}

wait_gone() {
  local tries=$1
  shift
  local p left
  while [ "$tries" -gt 0 ]; do
    left=0
    for p in "$@"; do pid_alive "$p" && left=1; done
    [ "$left" -eq 0 ] && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

cmd_stop() {
  need_root
  local pids=() p
  # Daemons first, politely; then everything in the nodes' namespaces, by force.
  for p in "$STATE"/run/slurmd.*.pid "$STATE/run/slurmctld.pid"; do
    p=$(pid_from "$p")
    pid_alive "$p" && pids+=("$p")
  done
  if [ "${#pids[@]}" -gt 0 ]; then
    kill_all TERM "${pids[@]}"
    wait_gone 30 "${pids[@]}" || kill_all KILL "${pids[@]}"
  fi
  mapfile -t pids < <(pids_in_node_namespaces; pids_of_state | grep -v -x "$(pid_from "$STATE/run/munged.pid")" || true)
  [ "${#pids[@]}" -gt 0 ] && kill_all KILL "${pids[@]}" && wait_gone 50 "${pids[@]}" || true
  p=$(pid_from "$STATE/run/munged.pid")
  if pid_alive "$p"; then
    kill -TERM "$p" 2>/dev/null || true
    wait_gone 30 "$p" || kill -KILL "$p" 2>/dev/null || true
  fi
  mapfile -t pids < <(pids_of_state)
  [ "${#pids[@]}" -gt 0 ] && kill_all KILL "${pids[@]}" || true
  # Interfaces: the veth's host end goes with its namespace, but a crash can leave either.
  local link
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    case "$link" in "$VETH_PREFIX"* | "$BRIDGE") ip link delete "$link" 2>/dev/null || true ;; esac
  done
  rm -f "$STATE"/nodes/*.netns "$STATE"/nodes/*.holder "$STATE/nodes.count" "$STATE"/run/*.pid
  say "stopped"
}

write_config() {
  local n=$1 cpus=$2 i
  mkdir -p "$STATE"/{etc,run,log,spool,state,tmp,nodes,munge}
  chmod 711 "$STATE/munge"
  printf '#!/bin/sh\nexit 0\n' >"$STATE/etc/mail.sh"
  chmod 755 "$STATE/etc/mail.sh"
  {
    echo "# Written by slurm/dev-cluster.sh; rewritten at each start."
    echo "ClusterName=libpool-dev"
    echo "SlurmctldHost=localhost($HEAD_ADDR)"
    echo "SlurmctldPort=$CTLD_PORT"
    echo "SlurmdPort=$SLURMD_PORT"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "CredType=cred/munge"
    echo "AuthInfo=socket=$STATE/munge/munge.socket,cred_expire=10"
    echo "StateSaveLocation=$STATE/state"
    echo "SlurmdSpoolDir=$STATE/spool/%n"
    echo "SlurmctldPidFile=$STATE/run/slurmctld.pid"
    echo "SlurmdPidFile=$STATE/run/slurmd.%n.pid"
    echo "SlurmctldLogFile=$STATE/log/slurmctld.log"
    echo "SlurmdLogFile=$STATE/log/slurmd.%n.log"
    echo "TmpFS=$STATE/tmp/%n"
    echo "MailProg=$STATE/etc/mail.sh"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "SchedulerType=sched/backfill"
    echo "SchedulerParameters=batch_sched_delay=0,sched_interval=5"
    echo "EnforcePartLimits=ALL"
    echo "SlurmdParameters=config_overrides"
    echo "MpiDefault=pmix"
    echo "KillOnBadExit=1"
    echo "KillWait=30"
    echo "MinJobAge=600"
    echo "ReturnToService=2"
    echo "JobRequeue=1"
    echo "SlurmctldTimeout=30"
    echo "SlurmdTimeout=30"
    echo "InactiveLimit=0"
    echo "NodeName=DEFAULT CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN"
    for ((i = 1; i <= n; i++)); do
      echo "NodeName=n$i NodeHostname=n$i NodeAddr=$NET.$((10 + i))"
    done
    echo "PartitionName=dev Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
  } >"$CONF"
  {
    echo "127.0.0.1 localhost"
    echo "$HEAD_ADDR head"
    for ((i = 1; i <= n; i++)); do echo "$NET.$((10 + i)) n$i"; done
  } >"$STATE/etc/hosts"
  echo "export SLURM_CONF=$CONF" >"$STATE/env"
}

start_munge() {
  local key=$STATE/munge/munge.key
  if [ ! -s "$key" ]; then
    (umask 077 && head -c 1024 /dev/urandom >"$key")
  fi
  chown root:root "$key"
  chmod 600 "$key"
  pid_alive "$(pid_from "$STATE/run/munged.pid")" && return 0
  rm -f "$STATE/munge/munge.socket"*
  munged --force --socket="$STATE/munge/munge.socket" --key-file="$key" \
    --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
    --seed-file="$STATE/munge/munged.seed"
  local i
  for ((i = 0; i < 50; i++)); do
    munge -n --socket="$STATE/munge/munge.socket" 2>/dev/null |
      unmunge --socket="$STATE/munge/munge.socket" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "munged did not come up (see $STATE/log/munged.log)"
}

start_node() {
  local i=$1 addr=$NET.$((10 + i)) holder veth=${VETH_PREFIX}$1
  # The holder keeps the node's namespaces alive; slurmd and every job task live inside.
  setsid unshare --net --uts --mount --propagation private sleep infinity </dev/null >/dev/null 2>&1 &
  holder=$!
  local tries=0
  until [ "$(readlink "/proc/$holder/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 50 ] || die "could not create the namespaces of node n$i (unshare --net needs CAP_SYS_ADMIN)"
    sleep 0.05
  done
  echo "$holder" >"$STATE/nodes/n$i.holder"
  readlink "/proc/$holder/ns/net" >"$STATE/nodes/n$i.netns"
  ip link add "$veth" type veth peer name eth0 netns "$holder"
  ip link set "$veth" master "$BRIDGE" up
  mkdir -p "$STATE/tmp/n$i" "$STATE/spool/n$i"
  nsenter -t "$holder" -n -u -m sh -ec "
    hostname n$i
    mount --bind '$STATE/etc/hosts' /etc/hosts
    ip link set lo up
    ip addr add $addr/24 dev eth0
    ip link set eth0 up
    SLURM_CONF='$CONF' slurmd -f '$CONF' -N n$i
  "
}

wait_until() {
  local what=$1 tries=$2
  shift 2
  while ! "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || die "$what did not come up (logs in $STATE/log)"
    sleep 0.1
  done
}

all_idle() {
  local states
  states=$(slurm_quiet sinfo -h -N -o %t) || return 1
  [ -n "$states" ] && ! grep -v -x -E 'idle|mix|alloc' <<<"$states" >/dev/null
}

cmd_start() {
  local n=2 cpus=2
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) n=${2:?--nodes needs a number}; shift 2 ;;
      --nodes=*) n=${1#*=}; shift ;;
      --cpus) cpus=${2:?--cpus needs a number}; shift 2 ;;
      --cpus=*) cpus=${1#*=}; shift ;;
      *) die "unknown option '$1' (start takes --nodes N and --cpus C)" ;;
    esac
  done
  [[ "$n" =~ ^[1-9][0-9]?$ ]] && [ "$n" -le 40 ] || die "--nodes must be 1..40, not '$n'"
  [[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive number, not '$cpus'"
  need_root
  if is_up && [ "$(node_count)" -eq "$n" ] && grep -q "CPUs=$cpus " "$CONF"; then
    say "already up with $n nodes ($STATE)"
    return 0
  fi
  local missing=() p
  for p in slurm-wlm munge iproute2 util-linux; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # A different shape, or leftovers of a crash: start from nothing.
  cmd_stop >/dev/null 2>&1 || true
  write_config "$n" "$cpus"
  # Slurm's PMIx plugin keeps per-step directories here; job ids restart at 1 with a fresh
  # state, so leftovers would collide with the new steps.
  rm -rf "$STATE/tmp" "$STATE/state" "$STATE/spool"
  mkdir -p "$STATE/tmp" "$STATE/state" "$STATE/spool"
  start_munge
  ip link add "$BRIDGE" type bridge 2>/dev/null || true
  ip addr replace "$HEAD_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  SLURM_CONF=$CONF slurmctld -f "$CONF" -c -i
  wait_until slurmctld 100 ctld_up
  local i
  for ((i = 1; i <= n; i++)); do start_node "$i"; done
  echo "$n" >"$STATE/nodes.count"
  wait_until "the nodes" 200 all_idle
  say "up: $n nodes (n1..n$n, $cpus CPUs each), state in $STATE"
  say "use it with: eval \"\$($0 env)\""
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) die "usage: dev-cluster.sh start [--nodes N] [--cpus C] | stop | status | env" ;;
esac
