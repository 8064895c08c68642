#!/usr/bin/env bash
# Install, build with warnings as errors, and run every test (unit, MPI at 1-4 ranks, end to end).
# Then the sanitizer stage: the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer
# (preset asan; the load, install, Slurm and compile-failure tests excepted), and each libFuzzer
# target for FUZZ_SECONDS (preset fuzz, clang). LIBPOOL_SANITIZE=0 skips that stage. Extra
# arguments go to both ctests.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_packages "${LIBPOOL_PACKAGES[@]}"
allow_root_mpi
build ci
cd "$LIBPOOL_ROOT"
ctest --preset ci -j "$(nproc)" "$@"

if [ "${LIBPOOL_SANITIZE:-1}" != 0 ]; then
  stage_start=$SECONDS
  build asan
  # LeakSanitizer in the unit and MPI tests. Not in the end-to-end tests: on a usage error the
  # first rank to exit makes mpirun SIGTERM the others, and a signal during LeakSanitizer's
  # exit-time scan crashes its tracer; they run with AddressSanitizer and UBSan only.
  ctest --preset asan -j "$(nproc)" -LE 'load|install|apps|slurm|compile_fail' "$@"
  # The end-to-end tests without the slowest ones whose paths the others reach too (SIGKILL and
  # resume, every workload in every state, the browser, the live view, the huge and full-disk
  # inputs, the refusals at 1-4 ranks), to keep the stage bounded; and without out_of_memory,
  # whose address-space limit leaves AddressSanitizer no room for its shadow memory.
  # (and without the install-labelled ones: a program built outside the tree against the
  # sanitized libraries would need the sanitizer runtime preloaded).
  ctest --preset asan-apps -j "$(nproc)" -L apps -LE 'load|install' \
    -E 'kill_|several_interruptions|states_|follow_|svg_browser|output_doc|usage_exit|huge_inputs|full_disk|out_of_memory' "$@"
  build fuzz
  # 20 s a target: with the stages above, CI stays under 45 minutes on 2 cores.
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} bash tests/fuzz/run.sh
  echo "sanitizer stage: $((SECONDS - stage_start)) s"
fi
