#!/usr/bin/env bash
# poolrun beside its anchors (PRODUCT.md §6), in one run:
#   - `poolrun seed` vs the tutorial's own programs (seed_workloads.py, ProcessPoolExecutor(2));
#   - `poolrun primes --to 1e10` at -n 2 vs `primesieve 1e10 -t2`;
#   - `poolrun pi` samples/s per computing rank vs numpy (mc_numpy.py).
#
#   tests/bench/apps.sh [BUILD_DIR]       (default: build)
#
# Whole-process figures (what a user waits for, mpirun included) and in-run figures (the
# output's wall_seconds attribute). Not a test: nothing is asserted. Noisy on a shared machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
anchors=${LIBPOOL_ANCHORS:-$root/../shared/anchors}
py=/usr/bin/python3
poolrun=$build/apps/poolrun/poolrun
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# POOLRUN_MPIRUN_FLAGS: e.g. "--mca pml ob1 --mca btl self,vader" skips UCX start-up on one node.
read -r -a extra <<<"${POOLRUN_MPIRUN_FLAGS:-}"
mpirun=(mpirun --oversubscribe "${extra[@]}")
pi_samples=${PI_SAMPLES:-4e9}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

echo "poolrun benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "mpirun: ${mpirun[*]}"

# 1. The tutorial's five programs.
seed_py=$(timed "$py" "$anchors/seed_workloads.py")
seed_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" seed -q -o "$tmp/seed.h5")
seed_in=$(wall_attr "$tmp/seed.h5")
mpi_init=$(timed "${mpirun[@]}" -n 2 "$poolrun" seed --dump-config)

# 2. Prime counting to 1e10 on two cores.
ps_all=$(timed primesieve 1e10 -t2 --time)
ps_in=$(sed -n 's/^Seconds: *//p' "$tmp/last.out")
pr_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" primes --to 1e10 -q -o "$tmp/primes.h5")
pr_in=$(wall_attr "$tmp/primes.h5")

# 3. Monte Carlo pi: samples per second per computing rank (both ranks compute at -n 2).
np_line=$("$py" "$anchors/mc_numpy.py" 100000000)
np_rate=$(echo "$np_line" | sed -n 's/.* \([0-9.]*\) M samples\/s.*/\1/p')
pi_all1=$(timed "${mpirun[@]}" -n 1 "$poolrun" pi --samples "$pi_samples" -q -o "$tmp/pi1.h5")
pi_in1=$(wall_attr "$tmp/pi1.h5")
pi_all2=$(timed "${mpirun[@]}" -n 2 "$poolrun" pi --samples "$pi_samples" -q -o "$tmp/pi2.h5")
pi_in2=$(wall_attr "$tmp/pi2.h5")
n=$(awk -v s="$pi_samples" 'BEGIN { printf "%.0f", s }')
per_rank() { awk -v n="$n" -v t="$1" -v r="$2" 'BEGIN { printf "%.0f", n / t / r / 1e6 }'; }

printf '\n%-44s %12s %12s %10s %s\n' "measure" "poolrun" "anchor" "ratio" "target"
printf '%-44s %11ss %11ss %10s %s\n' "seed, whole process (mpirun -n 2)" "$seed_all" "$seed_py" \
  "$(ratio "$seed_all" "$seed_py")" "poolrun <= 0.5 s"
printf '%-44s %11ss %12s\n' "seed, in-run (wall_seconds)" "$seed_in" "-"
printf '%-44s %11ss %12s\n' "  of which: start + stop, no work (dump)" "$mpi_init" "-"
printf '%-44s %11ss %11ss %10s %s\n' "primes --to 1e10 -n 2, whole process" "$pr_all" "$ps_all" \
  "$(ratio "$pr_all" "$ps_all")" "<= 0.8 s"
printf '%-44s %11ss %11ss %10s\n' "primes --to 1e10 -n 2, in-run" "$pr_in" "$ps_in" \
  "$(ratio "$pr_in" "$ps_in")"
printf '%-44s %12s %12s %10s %s\n' "pi -n 1, M samples/s per rank, in-run" "$(per_rank "$pi_in1" 1)" \
  "$np_rate" "$(ratio "$(per_rank "$pi_in1" 1)" "$np_rate")" ">= 1000"
printf '%-44s %12s %12s %10s\n' "pi -n 2, M samples/s per rank, in-run" "$(per_rank "$pi_in2" 2)" \
  "$np_rate" "$(ratio "$(per_rank "$pi_in2" 2)" "$np_rate")"
printf '%-44s %12s %12s %10s\n' "pi -n 2, M samples/s per rank, whole" "$(per_rank "$pi_all2" 2)" \
  "$np_rate" "$(ratio "$(per_rank "$pi_all2" 2)" "$np_rate")"
