#!/usr/bin/env bash
# `poolrun exec` (the command farm) beside its anchors, `xargs -P2 -n1` and GNU parallel
# (`parallel -j2 --joblog`), in one run, at 2 ranks / 2 jobs, interleaved, medians of EXEC_REPS:
#   1. 10,000 `true` tasks: the fork/exec limit;
#   2. 1,000 tasks of ~10 ms of CPU each (a C busy loop compiled here with cc, its iteration count
#      calibrated on this machine; each task is `busy ITERATIONS ITEM` under every runner);
#   3. what the ledger costs (see below);
#   4. peak RSS per rank with a task file of 10^6 `true` lines (run for EXEC_RSS_SECONDS, then
#      stopped with SIGTERM: the index is built at setup, so its memory is all there by then).
#
#   tests/bench/exec.sh [BUILD_DIR]      (default: build)
#   EXEC_REPS (default 3), EXEC_TRUE (10000), EXEC_CPU (1000), EXEC_CPU_MS (10),
#   EXEC_PARALLEL_TRUE (2000: GNU parallel runs this many of the `true` tasks, its rate is per task
#   and the full 10,000 alone take it 1-2 minutes here; set it to EXEC_TRUE to run them all),
#   EXEC_RSS_LINES (1000000), EXEC_RSS_SECONDS (3), POOLRUN_MPIRUN_FLAGS
#
# poolrun's figures: whole process (what a user waits for, mpirun's launch included) and in-run
# (the output's wall_seconds attribute); "launch" is their difference. The anchors have no launch
# to speak of: their figure is their whole process. Every runner gives each task the same
# argument list (`true ITEM`, `busy N ITEM`); poolrun runs its template directly (--range A:B,
# no shell), as xargs does. Not a test: nothing is asserted. Noisy on a shared machine: the load
# column is the 1-minute load average (min-max) seen before that row's runs, this benchmark's own
# two jobs included. Compare figures taken at a low load only: another program's load shifts the
# ratios either way (beside a two-job compile, poolrun has measured 2x xargs's rate on the 10 ms
# tasks). mpirun binds each rank to a core (Open MPI's default at -n 2 on 2 cores), and a task
# runs where its rank is bound; the children of xargs and parallel go to whichever core is free.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
py=/usr/bin/python3
poolrun=$build/apps/poolrun/poolrun
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
read -r -a extra <<<"${POOLRUN_MPIRUN_FLAGS:-}"
mpirun=(mpirun --oversubscribe "${extra[@]}")
reps=${EXEC_REPS:-3}
n_true=${EXEC_TRUE:-10000}
n_cpu=${EXEC_CPU:-1000}
cpu_ms=${EXEC_CPU_MS:-10}
n_par_true=${EXEC_PARALLEL_TRUE:-2000}
rss_lines=${EXEC_RSS_LINES:-1000000}
rss_seconds=${EXEC_RSS_SECONDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
command -v parallel >/dev/null || { echo "exec.sh: GNU parallel is not installed" >&2; exit 1; }

echo "poolrun exec benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $reps repetitions"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1);" \
  "flags: $(grep -o -w 'avx2\|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "start: $(uptime)"
echo "mpirun: ${mpirun[*]}; $(parallel --version | head -1); $(xargs --version | head -1)"

# The CPU-bound task: a xorshift loop, ITERATIONS given; `busy -c MS` prints the iterations that
# take MS ms of CPU here (the best of 7 timings of 2e7, so a busy machine does not inflate it).
cat >"$tmp/busy.c" <<'C'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static uint64_t spin(uint64_t n) {
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    __asm__ volatile("" : "+r"(x));
  }
  return x;
}
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
int main(int argc, char** argv) {
  if (argc > 2 && argv[1][0] == '-') {
    const uint64_t trial = 20000000;
    double best = 1e9;
    for (int k = 0; k < 7; ++k) {
      const double t0 = cpu_now();
      spin(trial);
      const double t = cpu_now() - t0;
      if (t < best) best = t;
    }
    printf("%.0f\n", atof(argv[2]) * 1e-3 / best * (double)trial);
    return 0;
  }
  return spin(argc > 1 ? strtoull(argv[1], 0, 10) : 0) == 42;
}
C
cc -O2 -o "$tmp/busy" "$tmp/busy.c"
busy=$tmp/busy
iters=$("$busy" -c "$cpu_ms")
# A task's whole CPU time, its exec included: 50 of them one after the other (bash's children).
task_cpu_ms=$( { TIMEFORMAT='%U %S'; time (for _ in $(seq 50); do "$busy" "$iters" x; done); } 2>&1 |
  awk '{ printf "%.1f", ($1 + $2) * 1000 / 50 }')
echo "cpu task: busy $iters (${cpu_ms} ms of loop), ${task_cpu_ms} ms of CPU a task with its exec"

seq 1 "$n_true" >"$tmp/items.true"
seq 1 "$n_par_true" >"$tmp/items.par"
seq 1 "$n_cpu" >"$tmp/items.cpu"

load() { cut -d' ' -f1 /proc/loadavg; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
  printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
span() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
cost() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", 100 * (a / b - 1) }'; }

pr_all_true=() pr_in_true=() xa_true=() pa_true=() ld_true=()
pr_all_cpu=() pr_in_cpu=() xa_cpu=() pa_cpu=() ld_cpu=()
pr_in_noflush=() ld_ledger=()
# poolrun exec over the items 1..N with a template; prints the whole process's seconds.
poolrun_exec() {  # N OUT.h5 [poolrun options] -- TEMPLATE...
  local n=$1 out=$2
  shift 2
  timed "${mpirun[@]}" -n 2 "$poolrun" exec --range "1:$((n + 1))" -q --force -o "$out" "$@"
}

for rep in $(seq "$reps"); do
  echo "repetition $rep/$reps: $(uptime)"
  # 1. `true`: the fork/exec limit.
  ld_true+=("$(load)")
  pr_all_true+=("$(poolrun_exec "$n_true" "$tmp/true.h5" -- true)")
  pr_in_true+=("$(wall_attr "$tmp/true.h5")")
  ld_true+=("$(load)")
  xa_true+=("$(timed xargs -P2 -n1 true <"$tmp/items.true")")
  ld_true+=("$(load)")
  pa_true+=("$(timed parallel -j2 --joblog "$tmp/joblog" true :::: "$tmp/items.par")")

  # 2. ~10 ms of CPU a task.
  ld_cpu+=("$(load)")
  pr_all_cpu+=("$(poolrun_exec "$n_cpu" "$tmp/cpu.h5" -- "$busy" "$iters")")
  pr_in_cpu+=("$(wall_attr "$tmp/cpu.h5")")
  ld_cpu+=("$(load)")
  xa_cpu+=("$(timed xargs -P2 -n1 "$busy" "$iters" <"$tmp/items.cpu")")
  ld_cpu+=("$(load)")
  pa_cpu+=("$(timed parallel -j2 --joblog "$tmp/joblog" "$busy" "$iters" :::: "$tmp/items.cpu")")

  # 3. The ledger's cost. Recording a task in memory (its row, its record sent to rank 0, its
  # /result cells) is what makes the output at all, and no run goes without it; what the ledger
  # adds for crash safety is writing those rows to the file and fsync-ing it every
  # --flush-interval (5 s by default) while the run goes on. As in tests/bench/ledger.sh, that cost
  # is the same run's in-run time at the default against --flush-interval 3600 (in effect: once,
  # at the end), on the 10 ms tasks of 2. (whose run is the default's). It cannot separate the
  # in-memory recording from the rest of what poolrun does per task; that, the ledger included,
  # is bounded by the rows against xargs (in-run - xargs, per task).
  ld_ledger+=("$(load)")
  poolrun_exec "$n_cpu" "$tmp/noflush.h5" --flush-interval 3600 -- "$busy" "$iters" >/dev/null
  pr_in_noflush+=("$(wall_attr "$tmp/noflush.h5")")
done

# 4. Peak RSS per rank over 10^6 tasks in a task file (each line runs in /bin/sh -c).
awk -v n="$rss_lines" 'BEGIN { for (i = 0; i < n; i++) print "true" }' >"$tmp/tasks.rss"
rss_load=$(load)
rss_line=$("$py" "$root/tests/bench/exec_rss.py" 2 "$rss_seconds" "$poolrun" -- "${mpirun[@]}" -n 2 \
  "$poolrun" exec --tasks "$tmp/tasks.rss" -q -o "$tmp/rss.h5")
rss_hwm=$(echo "$rss_line" | sed -n 's/.*hwm_mib=\([^ ]*\).*/\1/p' | sed 's/,/ \/ /g')
rss_setup=$(echo "$rss_line" | sed -n 's/.*setup_s=\([^ ]*\).*/\1/p')

# The table: medians.
m() { median "$@"; }
tp_all=$(rate "$n_true" "$(m "${pr_all_true[@]}")")
tp_in=$(rate "$n_true" "$(m "${pr_in_true[@]}")")
tx=$(rate "$n_true" "$(m "${xa_true[@]}")")
tg=$(rate "$n_par_true" "$(m "${pa_true[@]}")")
launch_true=()
for i in "${!pr_all_true[@]}"; do launch_true+=("$(minus "${pr_all_true[i]}" "${pr_in_true[i]}")"); done
cp_all=$(rate "$n_cpu" "$(m "${pr_all_cpu[@]}")")
cp_in=$(rate "$n_cpu" "$(m "${pr_in_cpu[@]}")")
cx=$(rate "$n_cpu" "$(m "${xa_cpu[@]}")")
cg=$(rate "$n_cpu" "$(m "${pa_cpu[@]}")")
launch_cpu=()
for i in "${!pr_all_cpu[@]}"; do launch_cpu+=("$(minus "${pr_all_cpu[i]}" "${pr_in_cpu[i]}")"); done
ideal=$(awk -v ms="$task_cpu_ms" 'BEGIN { printf "%.0f", 2000 / ms }')

w=50
row() { printf "%-${w}s %10s %10s %10s %8s %8s %-9s %s\n" "$@"; }
echo
row "measure (tasks/s, medians of $reps)" "poolrun" "xargs -P2" "parallel" "/xargs" "/parallel" "load" "target"
row "$n_true x true, in-run" "$tp_in" "$tx" "$tg" "$(ratio "$tp_in" "$tx")" "$(ratio "$tp_in" "$tg")" \
  "$(span "${ld_true[@]}")" ">= 0.7x xargs, >= 2x parallel"
row "$n_true x true, whole process" "$tp_all" "$tx" "$tg" "$(ratio "$tp_all" "$tx")" \
  "$(ratio "$tp_all" "$tg")" "$(span "${ld_true[@]}")" ""
row "  poolrun launch (whole - in-run), s" "$(m "${launch_true[@]}")" "" "" "" "" "" ""
row "$n_cpu x ${task_cpu_ms} ms CPU, in-run" "$cp_in" "$cx" "$cg" "$(ratio "$cp_in" "$cx")" \
  "$(ratio "$cp_in" "$cg")" "$(span "${ld_cpu[@]}")" ">= 0.95x xargs"
row "$n_cpu x ${task_cpu_ms} ms CPU, whole process" "$cp_all" "$cx" "$cg" "$(ratio "$cp_all" "$cx")" \
  "$(ratio "$cp_all" "$cg")" "$(span "${ld_cpu[@]}")" "(2 cores, no overhead: $ideal)"
row "  poolrun launch (whole - in-run), s" "$(m "${launch_cpu[@]}")" "" "" "" "" "" ""
row "ledger: 10 ms run in-run s, flush 3600 / 5" \
  "$(m "${pr_in_noflush[@]}") / $(m "${pr_in_cpu[@]}")" "" "" "" "" "$(span "${ld_ledger[@]}")" ""
row "  ledger cost (flush every 5 s)" "$(cost "$(m "${pr_in_cpu[@]}")" "$(m "${pr_in_noflush[@]}")")" \
  "" "" "" "" "" "< 5%"
per_task() {  # poolrun in-run seconds, xargs seconds, tasks -> what poolrun adds per task (2 ranks)
  awk -v p="$1" -v x="$2" -v n="$3" 'BEGIN { printf "%+.0f us", 2e6 * (p - x) / n }'
}
row "  poolrun in-run - xargs, per task and rank: true" \
  "$(per_task "$(m "${pr_in_true[@]}")" "$(m "${xa_true[@]}")" "$n_true")" "" "" "" "" "" ""
row "  poolrun in-run - xargs, per task and rank: 10 ms" \
  "$(per_task "$(m "${pr_in_cpu[@]}")" "$(m "${xa_cpu[@]}")" "$n_cpu")" "" "" "" "" "" ""
# Where a rank's time goes (the last repetition's files): each task's run (its record's start to
# end: spawn, the command, reaping) and the time between two tasks of a rank (the pool's hand-off:
# the result to rank 0, the next task back).
gaps() {
  "$py" - "$1" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    c = f["chunks"]
    rank, t0, t1 = c["rank"][:], c["start_s"][:], c["end_s"][:]
    run = f["result/end"][:] - f["result/start"][:]
    out = []
    for r in range(int(rank.max()) + 1):
        m = rank == r
        o = np.argsort(t0[m])
        gap = t0[m][o][1:] - t1[m][o][:-1]
        out.append("%.2f+%.2f" % (1e3 * np.median(run[c["begin"][:][m]]), 1e3 * np.median(gap)))
    print(" / ".join(out))
PY
}
row "  ms a task + between tasks, true: rank 0 / 1" "$(gaps "$tmp/true.h5")" "" "" "" "" "" ""
row "  ms a task + between tasks, 10 ms: rank 0 / 1" "$(gaps "$tmp/cpu.h5")" "" "" "" "" "" ""
row "$rss_lines-line task file, peak RSS/rank, MiB" "$rss_hwm" "" "" "" "" "$rss_load" "<= 64"
echo "  (setup: ${rss_setup} s from mpirun's start to every rank running tasks)"
echo "GNU parallel ran $n_par_true of the $n_true true tasks (EXEC_PARALLEL_TRUE)"
echo "raw seconds: poolrun true whole ${pr_all_true[*]} in-run ${pr_in_true[*]}; xargs ${xa_true[*]};" \
  "parallel ${pa_true[*]}"
echo "raw seconds: poolrun cpu whole ${pr_all_cpu[*]} in-run ${pr_in_cpu[*]}; xargs ${xa_cpu[*]};" \
  "parallel ${pa_cpu[*]}; flush 3600 ${pr_in_noflush[*]}"
echo "end: $(uptime)"
