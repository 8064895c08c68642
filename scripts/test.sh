#!/usr/bin/env bash
# Install, build with warnings as errors, and run every test (unit, MPI at 1-4 ranks, end to end).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_packages "${LIBPOOL_PACKAGES[@]}"
allow_root_mpi
build ci
cd "$LIBPOOL_ROOT"
ctest --preset ci -j "$(nproc)" "$@"
