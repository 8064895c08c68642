#!/usr/bin/env bash
# Slurm benchmark on the dev cluster (slurm/dev-cluster.sh, 2 nodes on this machine), in one run:
#   - start-up: the whole `poolrun seed` job through srun (--mpi=pmix) and through mpirun inside
#     salloc, beside mpirun outside Slurm (median of REPS whole-command times each);
#   - dispatch: the library's map at chunksize 1 and 100 with 2 ranks on one node (shared
#     memory) and on two nodes (TCP between the nodes' namespaces).
#
#   sudo tests/bench/slurm.sh [BUILD_DIR]     (default: build; starts the dev cluster if needed)
#
# Prints one table with ratios. Not a test: nothing is asserted.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
reps=${REPS:-5}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/bench/bench_common.sh
source "$root/tests/bench/bench_common.sh"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
poolrun=$build/apps/poolrun/poolrun
bench=$build/tests/bench/dispatch_bench

bash "$root/slurm/dev-cluster.sh" start --nodes 2 >/dev/null
eval "$(bash "$root/slurm/dev-cluster.sh" env)"
cd "$tmp"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
whole() {
  local i
  for ((i = 0; i < reps; i++)); do timed "$@"; echo; done | median
}
seed=("$poolrun" seed -o "$tmp/seed.h5" --force -q)
t_local=$(whole mpirun -n 2 --bind-to none "${seed[@]}")
t_srun=$(whole srun -N 1 -n 2 --mpi=pmix "${seed[@]}")
t_mpirun=$(whole salloc -N 1 -n 2 mpirun -n 2 --bind-to none "${seed[@]}")
seed_in=$(wall_attr "$tmp/seed.h5")

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
rate() { "$@" 2>/dev/null | field rate; }
intra1=$(rate srun -N 1 -n 2 --mpi=pmix "$bench" map 1000000 1)
inter1=$(rate srun -N 2 -n 2 --ntasks-per-node=1 --mpi=pmix "$bench" map 1000000 1)
intra100=$(rate srun -N 1 -n 2 --mpi=pmix "$bench" map 50000000 100)
inter100=$(rate srun -N 2 -n 2 --ntasks-per-node=1 --mpi=pmix "$bench" map 50000000 100)

echo "libpool under Slurm (dev cluster, 2 nodes on $(nproc) cores), $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-52s %12s %8s\n' "poolrun seed, whole job, 2 ranks (median of $reps)" seconds "x local"
printf '%-52s %12s %8s\n' "  mpirun outside Slurm" "$t_local" 1.00
printf '%-52s %12s %8s\n' "  srun --mpi=pmix (allocation + step)" "$t_srun" "$(ratio "$t_srun" "$t_local")"
printf '%-52s %12s %8s\n' "  salloc + mpirun (allocation + daemons + step)" "$t_mpirun" "$(ratio "$t_mpirun" "$t_local")"
printf '%-52s %12s\n' "  (seed's own wall time in the file)" "$seed_in"
printf '%-52s %12s %8s\n' "map dispatch, 2 ranks via srun" "items/s" "inter/intra"
printf '%-52s %12s\n' "  chunksize 1, one node (shared memory)" "$intra1"
printf '%-52s %12s %8s\n' "  chunksize 1, two nodes (TCP)" "$inter1" "$(ratio "$inter1" "$intra1")"
printf '%-52s %12s\n' "  chunksize 100, one node" "$intra100"
printf '%-52s %12s %8s\n' "  chunksize 100, two nodes" "$inter100" "$(ratio "$inter100" "$intra100")"
