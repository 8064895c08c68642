# Helpers shared by the poolrun benchmarks (sourced; expects $tmp and $py to be set).
now() { date +%s.%N; }
# Runs a command, prints its whole-process wall seconds; its output goes to $tmp/last.out.
timed() {
  local t0 t1
  t0=$(now)
  "$@" >"$tmp/last.out" 2>&1
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
# The in-run wall time a poolrun output file records.
wall_attr() { "$py" -c 'import h5py,sys; print("%.3f" % h5py.File(sys.argv[1])["/"].attrs["wall_seconds"])' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
