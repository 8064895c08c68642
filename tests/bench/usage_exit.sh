#!/usr/bin/env bash
# How fast a rejected poolrun job ends (not a test): `mpirun -n 2 poolrun` on a usage error
# (exit 2 on every rank) beside exit2_anchor, the smallest MPI program whose ranks exit 2, and
# beside a tiny run that succeeds. Prints the median of RUNS tries of each and the ratio
# poolrun / anchor (target: <= 1).
#
#   tests/bench/usage_exit.sh [BUILD_DIR]     RUNS (default 9)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
poolrun=$build/apps/poolrun/poolrun
anchor=$build/tests/bench/exit2_anchor
runs=${RUNS:-9}
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

# Median wall seconds of $runs tries of a command that must exit with status $1.
median_of() {
  local want=$1 i t rc
  shift
  for ((i = 0; i < runs; i++)); do
    set +e
    t=$(timed "$@")
    rc=$?
    set -e
    if [ "$rc" -ne "$want" ]; then
      echo "usage_exit: '$*' exited $rc, expected $want" >&2
      cat "$tmp/last.out" >&2
      exit 1
    fi
    echo "$t"
  done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
# timed() hides the status; run the command again through a wrapper that keeps it.
status_of() { "$@" >/dev/null 2>&1 && echo 0 || echo $?; }

echo "usage_exit benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $runs tries each"
[ "$(status_of mpirun -q -n 2 "$anchor")" = 2 ] || { echo "anchor did not exit 2" >&2; exit 1; }
[ "$(status_of mpirun -q -n 2 "$poolrun" pi --samples 0)" = 2 ] ||
  { echo "poolrun did not exit 2" >&2; exit 1; }
ok=$(median_of 0 mpirun -q -n 2 "$poolrun" pi --samples 1e6 -q --force -o "$tmp/ok.h5")
anchor_s=$(median_of 0 sh -c "mpirun -q -n 2 '$anchor'; [ \$? -eq 2 ]")
usage_s=$(median_of 0 sh -c "mpirun -q -n 2 '$poolrun' pi --samples 0 -o '$tmp/x.h5'; [ \$? -eq 2 ]")
cfg_s=$(median_of 0 sh -c "mpirun -q -n 2 '$poolrun' primes --config '$tmp/none.toml'; [ \$? -eq 2 ]")
printf '%-48s %8s s\n' "poolrun pi --samples 1e6 (exit 0)" "$ok"
printf '%-48s %8s s\n' "exit2_anchor (every rank exits 2)" "$anchor_s"
printf '%-48s %8s s   ratio %s\n' "poolrun pi --samples 0 (exit 2)" "$usage_s" "$(ratio "$usage_s" "$anchor_s")"
printf '%-48s %8s s   ratio %s\n' "poolrun primes --config none.toml (exit 2)" "$cfg_s" "$(ratio "$cfg_s" "$anchor_s")"
