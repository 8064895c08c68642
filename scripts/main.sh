#!/usr/bin/env bash
# The main job: install, build everything, and run the tutorial's five programs (`poolrun seed`)
# on every core. The results are printed and kept in build/seed.h5 (replaced on each run).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_packages "${LIBPOOL_PACKAGES[@]}"
allow_root_mpi
build release
ranks=${LIBPOOL_RANKS:-$(nproc)}
exec mpirun -n "$ranks" --oversubscribe "$LIBPOOL_ROOT/build/apps/poolrun/poolrun" seed \
  -o "$LIBPOOL_ROOT/build/seed.h5" --force "$@"
