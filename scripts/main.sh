#!/usr/bin/env bash
# The main job: install, build, and run the tutorial's workloads on every core.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_packages "${LIBPOOL_PACKAGES[@]}"
allow_root_mpi
build release
ranks=${LIBPOOL_RANKS:-$(nproc)}
exec mpirun -n "$ranks" --oversubscribe "$LIBPOOL_ROOT/build/examples/seed_demo" "$@"
