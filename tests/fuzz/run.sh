#!/usr/bin/env bash
# Runs each libFuzzer target of the fuzz preset for a bounded time on its committed corpus and
# prints how many inputs it executed. New inputs go to a scratch folder, not into the corpus; a
# crash leaves its input in build-fuzz/artifacts/ and fails the run (make it a test: crashes/).
#
#   tests/fuzz/run.sh [TARGET...]      FUZZ_SECONDS per target (default 60)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/build-fuzz
seconds=${FUZZ_SECONDS:-60}
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(codec numbers config)
mkdir -p "$build/artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The targets run side by side (each on its own share of the cores) so the stage takes
# FUZZ_SECONDS, not three times that.
run_one() {
  local t=$1
  mkdir -p "$scratch/$t"
  # -close_fd_mask=2: the config loader prints each refusal on stderr, as poolrun does.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
    "$scratch/$t" "$root/tests/fuzz/corpus/$t" >"$build/artifacts/$t.log" 2>&1
}
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
done
status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  log=$build/artifacts/$t.log
  if wait "${pids[$i]}"; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    echo "fuzz $t: ${runs:-?} executions in ${seconds} s, no crash"
  else
    echo "fuzz $t: FAILED (log $log, input in $build/artifacts/)"
    tail -n 30 "$log"
    status=1
  fi
done
exit $status
