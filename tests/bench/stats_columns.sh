#!/usr/bin/env bash
# `poolrun stats --axis 0` (per-column statistics of a 2-D table) beside numpy, in one run:
#   - a 1 GiB float64 table (ROWS x COLS, made here with h5py, chunks of 65536 rows), page cache
#     warm: stats --axis 0 at -n 1 and -n 2 (in-run: the output's wall_seconds) vs h5py + numpy's
#     per-column nanmean and nanvar (the read included) vs a raw read of the file;
#   - the flat `stats` of the same bytes at -n 2 (the machine's speed at that moment);
#   - the same bits at -n 1 and at -n 2 with another --chunksize.
#
#   tests/bench/stats_columns.sh [BUILD_DIR]     (default: build; the data live in a temporary
#                                                 directory under BUILD_DIR, removed at exit)
# COLS (default 8) and ROWS (default 1 GiB / (8 * COLS)) change the shape. Not a test: nothing
# is asserted. Noisy on a shared machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
py=/usr/bin/python3
poolrun=$build/apps/poolrun/poolrun
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
read -r -a extra <<<"${POOLRUN_MPIRUN_FLAGS:-}"
mpirun=(mpirun -q --oversubscribe "${extra[@]}")
cols=${COLS:-8}
rows=${ROWS:-$((134217728 / cols))}
tmp=$(mktemp -d "$build/stats-columns-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
gbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.2f", n / t / 1e9 }'; }

bytes=$((rows * cols * 8))
echo "poolrun stats --axis 0 benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)," \
  "${rows}x${cols} float64 ($bytes bytes)"
"$py" - "$tmp/t.h5" "$rows" "$cols" <<'PY'
import sys, h5py, numpy as np
path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
with h5py.File(path, "w") as f:
    d = f.create_dataset("x", (rows, cols), dtype="f8", chunks=(min(rows, 65536), cols))
    step = 1 << 20
    for r in range(0, rows, step):
        n = min(step, rows - r)
        d[r:r + n] = rng.normal(1.0, 2.0, (n, cols)) + np.arange(cols)
PY
cat "$tmp/t.h5" >/dev/null  # warm the page cache

raw=$(timed dd if="$tmp/t.h5" of=/dev/null bs=4M)
np_all=$(timed "$py" -c 'import sys, time, h5py, numpy as np
t0 = time.perf_counter()
x = h5py.File(sys.argv[1])["x"][()]
m, v = np.nanmean(x, axis=0), np.nanvar(x, axis=0)
print("numpy: read + nanmean + nanvar per column %.3f s" % (time.perf_counter() - t0))' "$tmp/t.h5")
np_line=$(cat "$tmp/last.out")
s1_all=$(timed "${mpirun[@]}" -n 1 "$poolrun" stats "$tmp/t.h5:/x" --axis 0 -q -o "$tmp/s1.h5")
s1_in=$(wall_attr "$tmp/s1.h5")
s2_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" stats "$tmp/t.h5:/x" --axis 0 -q -o "$tmp/s2.h5")
s2_in=$(wall_attr "$tmp/s2.h5")
# The flat reduction of the same bytes: how fast this machine is right now.
f2_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" stats "$tmp/t.h5:/x" -q -o "$tmp/f2.h5")
f2_in=$(wall_attr "$tmp/f2.h5")
"${mpirun[@]}" -n 2 "$poolrun" stats "$tmp/t.h5:/x" --axis 0 --chunksize 300000 -q -o "$tmp/s3.h5"
same=$("$py" -c 'import h5py,sys
a,b=(h5py.File(p)["result"] for p in sys.argv[1:3])
print(all(a[k][()].tobytes()==b[k][()].tobytes() for k in ("sum","mean","variance","min","max")))' \
  "$tmp/s1.h5" "$tmp/s3.h5")

printf '\n%-44s %9s %9s %9s\n' "1 GiB float64 table, page cache warm" "seconds" "GB/s" "vs numpy"
printf '%-44s %9s %9s\n' "raw read (dd of=/dev/null bs=4M)" "$raw" "$(gbs $bytes $raw)"
printf '%-44s %9s %9s %9s\n' "h5py + numpy nanmean/nanvar (whole process)" "$np_all" \
  "$(gbs $bytes $np_all)" 1.00
printf '   (%s)\n' "$np_line"
for row in "stats --axis 0 -n 1 whole process:$s1_all" "stats --axis 0 -n 1 in-run:$s1_in" \
  "stats --axis 0 -n 2 whole process:$s2_all" "stats --axis 0 -n 2 in-run:$s2_in" \
  "stats (flat, same bytes) -n 2 in-run:$f2_in"; do
  t=${row##*:}
  printf '%-44s %9s %9s %9s\n' "${row%:*}" "$t" "$(gbs $bytes "$t")" "$(ratio "$np_all" "$t")"
done
printf 'stats --axis 0 -n 2 in-run: %s GB/s (target >= 6 GB/s)\n' "$(gbs $bytes "$s2_in")"
printf 'same bits -n 1 and -n 2 --chunksize 300000: %s\n' "$same"
