#!/usr/bin/env bash
# `poolrun primes` beside `primesieve -t2`, in one run, on four ranges:
# pi(1e10), pi(1e11), [1e12, 1e12 + 2e10) and [1e14, 1e14 + 1e10).
#   - poolrun primes at -n 2, in-run (the output's wall_seconds) and whole process;
#   - primesieve -t2 (its own --time);
#   - optionally other poolrun binaries in the same run (an older kernel), named in
#     PRIMES_OTHER="label=/path/to/poolrun ...".
#
#   tests/bench/primes.sh [BUILD_DIR] [REPEATS]   (default: build, 1)
# Not a test: nothing is asserted. Noisy on a shared machine: run it when the machine is quiet
# and look at several repeats.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
repeats=${2:-1}
py=/usr/bin/python3
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
read -r -a extra <<<"${POOLRUN_MPIRUN_FLAGS:-}"
mpirun=(mpirun -q --oversubscribe "${extra[@]}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

binaries=("poolrun=$build/apps/poolrun/poolrun")
read -r -a others <<<"${PRIMES_OTHER:-}"
binaries+=("${others[@]}")
ranges=("0 10000000000" "0 100000000000" "1000000000000 1020000000000" "100000000000000 100010000000000")
names=("pi(1e10)" "pi(1e11)" "[1e12,+2e10)" "[1e14,+1e10)")

echo "primes benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((rep = 1; rep <= repeats; rep++)); do
  printf '\nrun %d: seconds at -n 2 (in-run; whole process) vs primesieve -t2\n' "$rep"
  printf '%-14s %-12s' "range" "primesieve"
  for b in "${binaries[@]}"; do printf ' %-22s %6s' "${b%%=*} in;whole" "ratio"; done
  printf ' %s\n' "count"
  for i in "${!ranges[@]}"; do
    read -r from to <<<"${ranges[$i]}"
    ps_all=$(timed primesieve "$from" "$to" -t2 --time)
    ps_in=$(sed -n 's/^Seconds: *//p' "$tmp/last.out")
    ps_count=$(sed -n 's/^Primes: *//p' "$tmp/last.out")
    printf '%-14s %-12s' "${names[$i]}" "$ps_in"
    for b in "${binaries[@]}"; do
      bin=${b#*=}
      all=$(timed "${mpirun[@]}" -n 2 "$bin" primes --from "$from" --to "$to" -q -o "$tmp/p.h5" --force)
      in=$(wall_attr "$tmp/p.h5")
      count=$("$py" -c 'import h5py,sys; print(int(h5py.File(sys.argv[1])["result/count"][()]))' "$tmp/p.h5")
      # primesieve counts [from, to]; poolrun [from, to): the same unless `to` is prime (never here).
      [ "$count" = "$ps_count" ] || echo "COUNT DIFFERS: ${b%%=*} $count vs primesieve $ps_count"
      printf ' %-22s %6s' "$in;$all" "$(ratio "$in" "$ps_in")"
    done
    printf ' %s\n' "$ps_count"
  done
done
echo "target: poolrun in-run at -n 2 <= 1.05 x primesieve -t2 on all four"
