#!/usr/bin/env bash
# A scaling sweep: the same poolrun job at a series of node and rank counts, one after the other
# (so that no two share a node), then one table of wall time, speed-up and efficiency.
#
#   slurm/scaling.sh [--series "1x1 1x2 2x2 4x2"] [--time MIN] WORKLOAD [poolrun options...]
#
# Each entry is NODESxTASKS_PER_NODE. Runs on the login node; every entry is an sbatch of
# slurm/poolrun.sbatch WORKLOAD with -N/--ntasks-per-node, its output named after the job
# (scale-WORKLOAD-NxT-<job id>.h5) in the current directory. Efficiency = speed-up / (ranks /
# ranks of the first entry).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
series="1x1 1x2 2x2"
time_min=30
while [ $# -gt 0 ]; do
  case "$1" in
    --series) series=${2:?--series needs a list}; shift 2 ;;
    --time) time_min=${2:?--time needs minutes}; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "scaling: usage: scaling.sh [--series \"1x1 2x2\"] WORKLOAD [options]" >&2; exit 2; }
workload=$1
shift
script=$here/poolrun.sbatch
export LIBPOOL_ROOT=${LIBPOOL_ROOT:-$(cd "$here/.." && pwd)}
LIBPOOL_SLURM_DIR=$here
# shellcheck source=slurm/common.sh
source "$here/common.sh"
POOLREPORT=$(libpool_find_tool poolreport "${POOLREPORT:-}")
POOLRUN=$(libpool_find_tool poolrun "${POOLRUN:-}")
# An unknown workload is refused here, not by the first job after its wait in the queue.
workloads=$("$POOLRUN" --list)
awk -F'\t' -v w="$workload" '$1 == w { found = 1 } END { exit !found }' <<<"$workloads" ||
  { echo "scaling: '$workload' is not a workload of poolrun --list" >&2; exit 2; }

job_state() { scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }

rows=()
for entry in $series; do
  [[ "$entry" =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || { echo "scaling: bad entry '$entry' (want NxT)" >&2; exit 2; }
  nodes=${BASH_REMATCH[1]}
  per=${BASH_REMATCH[2]}
  ranks=$((nodes * per))
  name=scale-$workload-${nodes}x$per
  id=$(sbatch --parsable --job-name "$name" -N "$nodes" --ntasks-per-node "$per" -n "$ranks" \
    --time "$time_min" --no-requeue "$script" "$workload" "$@")
  id=${id%%;*}
  echo "scaling: $entry: job $id" >&2
  # sbatch --wait polls every 32 s at worst: ask ourselves.
  while :; do
    state=$(job_state "$id")
    case "$state" in PENDING | RUNNING | CONFIGURING | COMPLETING | REQUEUED | SUSPENDED | "") sleep 0.5 ;; *) break ;; esac
  done
  file=$name-$id.h5
  wall=$(libpool_report_field "$file" wall_seconds)
  status=$(libpool_report_field "$file" status)
  [ "$status" = complete ] || { echo "scaling: $entry: job $id ended $state, file status '${status:-none}' (see $name-$id.out)" >&2; exit 1; }
  rows+=("$nodes $per $ranks $wall $id")
done

echo
printf '%-6s %-10s %-6s %-10s %-9s %-10s %s\n' nodes tasks/node ranks wall_s speedup efficiency job
read -r _ _ r0 w0 _ <<<"${rows[0]}"
for row in "${rows[@]}"; do
  read -r n p r w id <<<"$row"
  awk -v n="$n" -v p="$p" -v r="$r" -v w="$w" -v r0="$r0" -v w0="$w0" -v id="$id" 'BEGIN {
    s = w0 / w; e = s / (r / r0);
    printf "%-6d %-10d %-6d %-10.3f %-9.2f %-10.2f %s\n", n, p, r, w, s, e, id }'
done
