#!/usr/bin/env bash
# Dispatch benchmark: libpool beside ProcessPoolExecutor and mpi4py.futures on the same trivial
# task (../shared/anchors/ppe_overhead.py), and this machine's MPI ping-pong, in one run.
#
#   tests/bench/dispatch.sh [BUILD_DIR]       (default: build; run scripts/test.sh first)
#
# Prints one table: rates, and libpool's ratio to each anchor. Not a test: nothing is asserted.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
anchors=${LIBPOOL_ANCHORS:-$root/../shared/anchors}
py=/usr/bin/python3
bench=$build/tests/bench
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mpirun=(mpirun --oversubscribe)

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
rate_of() { "$@" | tee -a "$log" | field rate; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "libpool dispatch benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
ping=$(rate_of "${mpirun[@]}" -n 2 "$bench/pingpong" 200000)
map1=$(rate_of "${mpirun[@]}" -n 2 "$bench/dispatch_bench" map 2000000 1)
sub1=$(rate_of "${mpirun[@]}" -n 2 "$bench/dispatch_bench" submit 1000000)
map100=$(rate_of "${mpirun[@]}" -n 2 "$bench/dispatch_bench" map 100000000 100)
map10k=$(rate_of "${mpirun[@]}" -n 2 "$bench/dispatch_bench" map 400000000 10000)
idle_line=$("${mpirun[@]}" -n 2 "$bench/dispatch_bench" idle 3 | tee -a "$log")
burn1=$("${mpirun[@]}" -n 1 "$bench/dispatch_bench" burn 200 10 | tee -a "$log" | field wall_s)
burn2=$("${mpirun[@]}" -n 2 "$bench/dispatch_bench" burn 200 10 | tee -a "$log" | field wall_s)

# The anchors: ProcessPoolExecutor with 2 workers, mpi4py.futures with 1 master + 1 worker.
anchor() {  # kind n chunksize -> tasks/s
  local out
  if [ "$1" = ppe ]; then
    out=$(W=2 "$py" "$anchors/ppe_overhead.py" ppe "$2" "$3")
  else
    out=$("${mpirun[@]}" -n 2 "$py" -m mpi4py.futures "$anchors/ppe_overhead.py" mpi4py "$2" "$3")
  fi
  echo "$out" >>"$log"
  echo "$out" | sed -n 's/.* \([0-9,]*\) tasks\/s.*/\1/p' | tr -d ,
}
ppe1=$(anchor ppe 20000 1)
ppe100=$(anchor ppe 2000000 100)
ppe10k=$(anchor ppe 10000000 10000)
mpi1=$(anchor mpi4py 10000 1)
mpi100=$(anchor mpi4py 1000000 100)
mpi10k=$(anchor mpi4py 10000000 10000)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "-" }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%\047.0f", a }'; }
printf '\n%-34s %16s %14s %14s %9s %9s\n' "measure (2 ranks)" "libpool" "PPE" "mpi4py" "vs PPE" "vs mpi4py"
row() { printf '%-34s %16s %14s %14s %9s %9s\n' "$1" "$(fmt "$2")" "$(fmt "$3")" "$(fmt "$4")" \
  "$(ratio "$2" "$3")" "$(ratio "$2" "$4")"; }
row "map, chunksize 1 (tasks/s)" "$map1" "$ppe1" "$mpi1"
row "submit + future each (tasks/s)" "$sub1" "$ppe1" "$mpi1"
row "map, chunksize 100 (items/s)" "$map100" "$ppe100" "$mpi100"
row "map, chunksize 10000 (items/s)" "$map10k" "$ppe10k" "$mpi10k"
printf '%-34s %16s   (map at chunksize 1: %s of it)\n' "MPI ping-pong (round trips/s)" \
  "$(fmt "$ping")" "$(awk -v a="$map1" -v b="$ping" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
echo
echo "idle: one 3 s task, everyone else waits; share of a core used over the pool's life:"
echo "  $(echo "$idle_line" | grep -o 'core[0-9]*=[0-9.]*' | tr '\n' ' ')"
awk -v a="$burn1" -v b="$burn2" 'BEGIN { printf "CPU-bound chunks (200 x ~10 ms): -n 1 %.3f s, -n 2 %.3f s: %.2fx\n", a, b, a / b }'
echo
echo "raw lines:"
cat "$log"
