#!/usr/bin/env bash
# N-D data at memory speed (issue 11, part 5), side by side in one run:
#   - thumbnails 1000x256x256x3 -> 64x64 at -n 2 (in-run) vs the tutorial's PIL BOX resize on 2
#     ProcessPoolExecutor workers reading the same stack (anchors/pil_thumbnails.py);
#   - stats on 1000x256x512 float64 (1 GiB) as 3-D vs the same values as 1-D (in-run);
#   - image datagen (in-run MB/s) vs h5py writing the same array with the same chunks;
#   - datagen --gzip 1 of ND_GZIP_ELEMENTS (default 3e7) doubles at -n 1 vs -n 2 (in-run);
# The thumbnails, stats and gzip figures are the best of ND_REPEAT (default 3) runs each.
#   - the resize kernel alone: plain loops vs the Eigen kernel (resize_bench).
#
#   tests/bench/nd.sh [BUILD_DIR]      (default: build; data in a temporary directory under it)
#
# Not a test: nothing is asserted. Noisy on a shared machine: run it when the machine is quiet.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
anchors=${LIBPOOL_ANCHORS:-$root/../shared/anchors}
py=/usr/bin/python3
poolrun=$build/apps/poolrun/poolrun
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
read -r -a extra <<<"${POOLRUN_MPIRUN_FLAGS:-}"
mpirun=(mpirun -q --oversubscribe "${extra[@]}")
images=${ND_IMAGES:-1000}
gz_elements=${ND_GZIP_ELEMENTS:-30000000}
tmp=$(mktemp -d "$build/nd-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
per_s() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
repeat=${ND_REPEAT:-3}
# Best in-run seconds of $repeat runs of poolrun "$@" (the output is the last argument).
best() {
  local n=$1 out=${*: -1} b="" t i
  shift
  for ((i = 0; i < repeat; i++)); do
    "${mpirun[@]}" -n "$n" "$poolrun" "$@" --force
    t=$(wall_attr "$out")
    b=$(awk -v a="$b" -v t="$t" 'BEGIN { print (a == "" || t < a) ? t : a }')
  done
  echo "$b"
}
mbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t / 1e6 }'; }

shape="${images}x256x256x3"
bytes=$((images * 256 * 256 * 3))
echo "poolrun N-D benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), stack $shape uint8"

# Image datagen, and h5py writing the same array with the same chunking (HDF5's write speed).
"${mpirun[@]}" -n 2 "$poolrun" datagen --kind image --shape "$shape" -q -o "$tmp/img.h5:/images"
dg_in=$(wall_attr "$tmp/img.h5")
h5w=$("$py" - "$tmp/img.h5" "$tmp/h5py.h5" <<'PY'
import sys, time, h5py
with h5py.File(sys.argv[1], "r") as f:
    d = f["images"]; a = d[()]; chunks = d.chunks
t = time.perf_counter()
with h5py.File(sys.argv[2], "w") as g:
    g.create_dataset("images", data=a, chunks=chunks)
print("%.3f" % (time.perf_counter() - t))
PY
)
# The same values as 3-D and 1-D (datagen's values depend on the flat index alone).
"${mpirun[@]}" -n 2 "$poolrun" datagen --shape 1000x256x512 -q -o "$tmp/nd.h5:/x"
"${mpirun[@]}" -n 2 "$poolrun" datagen --shape 131072000 -q -o "$tmp/flat.h5:/x"
cat "$tmp"/*.h5 >/dev/null  # warm the page cache

th_in=$(best 2 thumbnails "$tmp/img.h5:/images" --size 64x64 -q -o "$tmp/th.h5")
pil_line=$("$py" "$anchors/pil_thumbnails.py" "$tmp/img.h5" /images 64 64)
pil_rate=$(echo "$pil_line" | sed -n 's/.* = \([0-9]*\) images\/s/\1/p')

s1_in=$(best 2 stats "$tmp/flat.h5:/x" -q -o "$tmp/s1d.h5")
snd_in=$(best 2 stats "$tmp/nd.h5:/x" -q -o "$tmp/snd.h5")
gz1_in=$(best 1 datagen --shape "$gz_elements" --gzip 1 -q -o "$tmp/gz1.h5")
gz2_in=$(best 2 datagen --shape "$gz_elements" --gzip 1 -q -o "$tmp/gz2.h5")

th_rate=$(per_s "$images" "$th_in")
printf '\n%-46s %12s %12s %8s %s\n' "measure (in-run unless said)" "poolrun" "anchor" "ratio" "target"
printf '%-46s %12s %12s %8s %s\n' "thumbnails -n 2, images/s (anchor: PIL+PPE)" "$th_rate" \
  "$pil_rate" "$(ratio "$th_rate" "$pil_rate")" ">= 2"
printf '%-46s %11ss %11ss %8s %s\n' "stats -n 2, 3-D vs the same values 1-D" "$snd_in" "$s1_in" \
  "$(ratio "$snd_in" "$s1_in")" "<= 1.10"
printf '%-46s %12s %12s %8s %s\n' "image datagen -n 2, MB/s (anchor: h5py write)" \
  "$(mbs "$bytes" "$dg_in")" "$(mbs "$bytes" "$h5w")" "$(ratio "$h5w" "$dg_in")" "~1"
printf '%-46s %11ss %11ss %8s %s\n' "datagen --gzip 1 $gz_elements doubles, -n 2 vs -n 1" \
  "$gz2_in" "$gz1_in" "$(ratio "$gz1_in" "$gz2_in")" ">= 1.8 (speed-up)"
"$build/tests/bench/resize_bench" 2000
