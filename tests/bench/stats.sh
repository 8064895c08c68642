#!/usr/bin/env bash
# `poolrun stats` beside its anchors (PRODUCT.md §6), in one run:
#   - a 1 GiB float64 dataset (made by `poolrun datagen`), page cache warm: poolrun stats at -n 1
#     and -n 2 vs h5py + numpy (h5stats_numpy.py) vs a raw read of the file (dd of=/dev/null);
#   - the same data gzip-compressed (level 1 + shuffle): stats at -n 1 vs -n 2;
#   - peak resident memory per rank (/usr/bin/time -v around each rank's poolrun).
#
#   tests/bench/stats.sh [BUILD_DIR]      (default: build; the data live in a temporary
#                                          directory under BUILD_DIR, removed at exit)
# STATS_ELEMENTS (default 134217728 = 1 GiB of float64) makes it smaller. Not a test: nothing is
# asserted. Noisy on a shared machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
anchors=${LIBPOOL_ANCHORS:-$root/../shared/anchors}
py=/usr/bin/python3
poolrun=$build/apps/poolrun/poolrun
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
read -r -a extra <<<"${POOLRUN_MPIRUN_FLAGS:-}"
mpirun=(mpirun -q --oversubscribe "${extra[@]}")
elements=${STATS_ELEMENTS:-134217728}
tmp=$(mktemp -d "$build/stats-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
gbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.2f", n / t / 1e9 }'; }
# Max RSS (MiB) over the ranks of the last `rss` run: each rank is wrapped in /usr/bin/time -v.
rss() {
  local n=$1
  shift
  rm -f "$tmp"/rss.*
  "${mpirun[@]}" -n "$n" sh -c '/usr/bin/time -v -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' "$tmp/rss" \
    "$poolrun" "$@" >/dev/null 2>&1
  awk '/Maximum resident/ { if ($6 > m) m = $6 } END { printf "%.1f", m / 1024 }' "$tmp"/rss.*
}

bytes=$((elements * 8))
echo "poolrun stats benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $bytes bytes"
"${mpirun[@]}" -n 2 "$poolrun" datagen --kind normal --shape "$elements" --seed 1 -q \
  -o "$tmp/plain.h5:/x"
"${mpirun[@]}" -n 2 "$poolrun" datagen --kind normal --shape "$elements" --seed 1 --gzip 1 -q \
  -o "$tmp/gz.h5:/x"
cat "$tmp/plain.h5" "$tmp/gz.h5" >/dev/null  # warm the page cache

raw=$(timed dd if="$tmp/plain.h5" of=/dev/null bs=4M)
np_all=$(timed "$py" "$anchors/h5stats_numpy.py" "$tmp/plain.h5" /x)
np_line=$(cat "$tmp/last.out")
s1_all=$(timed "${mpirun[@]}" -n 1 "$poolrun" stats "$tmp/plain.h5:/x" -q -o "$tmp/s1.h5")
s1_in=$(wall_attr "$tmp/s1.h5")
s2_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" stats "$tmp/plain.h5:/x" -q -o "$tmp/s2.h5")
s2_in=$(wall_attr "$tmp/s2.h5")
g1_all=$(timed "${mpirun[@]}" -n 1 "$poolrun" stats "$tmp/gz.h5:/x" -q -o "$tmp/g1.h5")
g1_in=$(wall_attr "$tmp/g1.h5")
g2_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" stats "$tmp/gz.h5:/x" -q -o "$tmp/g2.h5")
g2_in=$(wall_attr "$tmp/g2.h5")
rss2=$(rss 2 stats "$tmp/plain.h5:/x" -q -o "$tmp/r2.h5")
rssg=$(rss 2 stats "$tmp/gz.h5:/x" -q -o "$tmp/rg.h5")
same=$("$py" -c 'import h5py,sys
a,b=(h5py.File(p)["result"] for p in sys.argv[1:3])
print(all(a[k][()].tobytes()==b[k][()].tobytes() for k in ("sum","mean","variance","min","max")))' \
  "$tmp/s1.h5" "$tmp/g2.h5")

printf '\n%-44s %9s %9s %9s\n' "1 GiB float64, page cache warm" "seconds" "GB/s" "vs numpy"
printf '%-44s %9s %9s\n' "raw read (dd of=/dev/null bs=4M)" "$raw" "$(gbs $bytes $raw)"
printf '%-44s %9s %9s %9s\n' "h5py + numpy (whole process)" "$np_all" "$(gbs $bytes $np_all)" 1.00
printf '   (%s)\n' "$np_line"
for row in "stats -n 1 whole process:$s1_all" "stats -n 1 in-run:$s1_in" \
  "stats -n 2 whole process:$s2_all" "stats -n 2 in-run:$s2_in"; do
  t=${row##*:}
  printf '%-44s %9s %9s %9s\n' "${row%:*}" "$t" "$(gbs $bytes "$t")" "$(ratio "$np_all" "$t")"
done
printf 'stats -n 2 in-run: %s GB/s, %s x the raw read rate (target >= 6 GB/s)\n' \
  "$(gbs $bytes "$s2_in")" "$(ratio "$raw" "$s2_in")"
printf '\n%-44s %9s %9s\n' "gzip level 1 + shuffle" "seconds" "GB/s"
printf '%-44s %9s %9s\n' "stats -n 1 in-run" "$g1_in" "$(gbs $bytes "$g1_in")"
printf '%-44s %9s %9s\n' "stats -n 2 in-run" "$g2_in" "$(gbs $bytes "$g2_in")"
printf 'speed-up -n 2 vs -n 1: %s in-run, %s whole process (target >= 1.8)\n' \
  "$(ratio "$g1_in" "$g2_in")" "$(ratio "$g1_all" "$g2_all")"
printf '\npeak RSS per rank, stats -n 2: %s MiB plain, %s MiB gzip (target <= 64)\n' "$rss2" "$rssg"
printf 'same bits plain -n 1 and gzip -n 2: %s\n' "$same"
