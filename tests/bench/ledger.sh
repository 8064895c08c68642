#!/usr/bin/env bash
# The ledger and the one scheduler, measured side by side in one run (not a test):
#   1. factor --input of 10^6 small numbers at -n 2, whole process, --chunksize 1 and auto, beside
#      the tutorial's smallest_factor on ProcessPoolExecutor(2) at chunksize 1 (ppe_factor.py);
#   2. what the crash-safe ledger costs: the same pi run (and stats over gzip data) with the
#      ledger flushed every 3600 s (in effect never), at the default 5 s and every 1 s;
#   3. peak RSS per rank of factor --input of 10^7 numbers.
#
#   tests/bench/ledger.sh [BUILD_DIR]     PI_SAMPLES (default 9e10: ~30 s at -n 2),
#                                          STATS_ELEMS (default 2e8 float64, gzip 1), PPE_COUNT
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
py=/usr/bin/python3
poolrun=$build/apps/poolrun/poolrun
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mpirun=(mpirun --oversubscribe)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
pi_samples=${PI_SAMPLES:-9e10}
stats_elems=${STATS_ELEMS:-2e8}
ppe_count=${PPE_COUNT:-50000}

echo "ledger benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
"$py" - "$tmp/nums.h5" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(0)
with h5py.File(sys.argv[1], "w") as f:
    f["n6"] = rng.integers(2, 10**6, 10**6, dtype=np.uint64)
    f["n7"] = rng.integers(2, 10**6, 10**7, dtype=np.uint64)
PY

# 1. factor
ppe_line=$("$py" "$root/tests/bench/ppe_factor.py" "$tmp/nums.h5" /n6 "$ppe_count" 1)
ppe_rate=$(echo "$ppe_line" | sed -n 's/.*, \([0-9]*\) numbers\/s/\1/p')
f1_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" factor --input "$tmp/nums.h5:/n6" --chunksize 1 -q -o "$tmp/f1.h5")
f1_in=$(wall_attr "$tmp/f1.h5")
fa_all=$(timed "${mpirun[@]}" -n 2 "$poolrun" factor --input "$tmp/nums.h5:/n6" -q -o "$tmp/fa.h5")
fa_in=$(wall_attr "$tmp/fa.h5")
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }

# 3. peak RSS per rank (each rank under /usr/bin/time)
"${mpirun[@]}" -n 2 /usr/bin/time -f "rss_kb %M" "$poolrun" factor --input "$tmp/nums.h5:/n7" -q \
  -o "$tmp/f7.h5" >"$tmp/rss.out" 2>&1
rss=$(sed -n 's/^rss_kb //p' "$tmp/rss.out" | awk '{ printf "%s%.0f", (NR > 1 ? " / " : ""), $1 / 1024 }')

# 2. ledger cost
pi_run() {  # flush interval -> in-run seconds
  "${mpirun[@]}" -n 2 "$poolrun" pi --samples "$pi_samples" --seed 1 --flush-interval "$1" -q \
    --force -o "$tmp/pi.h5" >/dev/null
  wall_attr "$tmp/pi.h5"
}
pi_none=$(pi_run 3600)
pi_def=$(pi_run 5)
pi_one=$(pi_run 1)
"${mpirun[@]}" -n 2 "$poolrun" datagen --kind normal --shape "$stats_elems" --gzip 1 -q \
  -o "$tmp/g.h5:/x" >/dev/null
stats_run() {
  "${mpirun[@]}" -n 1 "$poolrun" stats "$tmp/g.h5:/x" --bins 100 --flush-interval "$1" -q \
    --force -o "$tmp/s.h5" >/dev/null
  wall_attr "$tmp/s.h5"
}
st_none=$(stats_run 3600)
st_def=$(stats_run 5)
st_one=$(stats_run 1)
cost() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", 100 * (a / b - 1) }'; }

printf '\n%-52s %14s %14s %8s %s\n' "measure" "poolrun" "anchor" "ratio" "target"
printf '%-52s %14s %14s %8s %s\n' "factor 10^6 -n 2 --chunksize 1, numbers/s, whole" \
  "$(rate 1000000 "$f1_all")" "$ppe_rate" "$(ratio "$(rate 1000000 "$f1_all")" "$ppe_rate")" \
  ">= 40x ProcessPoolExecutor(2), chunksize 1"
printf '%-52s %14s\n' "factor 10^6 -n 2 --chunksize 1, numbers/s, in-run" "$(rate 1000000 "$f1_in")"
printf '%-52s %14s %14s %8s %s\n' "factor 10^6 -n 2 auto chunks, numbers/s, whole" \
  "$(rate 1000000 "$fa_all")" "$ppe_rate" "$(ratio "$(rate 1000000 "$fa_all")" "$ppe_rate")" \
  ">= 5M/s"
printf '%-52s %14s\n' "factor 10^6 -n 2 auto chunks, numbers/s, in-run" "$(rate 1000000 "$fa_in")"
printf '%-52s %14s %14s %8s %s\n' "factor 10^7 -n 2, peak RSS per rank (MiB)" "$rss" "-" "-" "<= 64"
printf '%-52s %14s\n' "pi $pi_samples -n 2 in-run s: flush 3600 / 5 / 1" "$pi_none / $pi_def / $pi_one"
printf '%-52s %14s %14s %8s %s\n' "  ledger cost at 5 s / 1 s" "$(cost "$pi_def" "$pi_none")" \
  "$(cost "$pi_one" "$pi_none")" "-" "< 2% / < 5%"
printf '%-52s %14s\n' "stats gzip $stats_elems -n 1 in-run s: flush 3600 / 5 / 1" \
  "$st_none / $st_def / $st_one"
printf '%-52s %14s %14s %8s %s\n' "  ledger cost at 5 s / 1 s" "$(cost "$st_def" "$st_none")" \
  "$(cost "$st_one" "$st_none")" "-" "< 2% / < 5%"
echo "$ppe_line"
