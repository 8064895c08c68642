#!/usr/bin/env bash
# Load benchmark (not a test): poolrun pi with 10^6 chunks of one sample at 64 ranks
# oversubscribed on this machine's cores, the check of the CTest test apps.load.64ranks run alone:
# every chunk exactly once in /chunks, the same count as an ordinary run, wall time, CPU share per
# rank, and idle ranks' CPU share while one rank computes one long chunk.
#
#   tests/bench/load.sh [BUILD_DIR]     LOAD_RANKS (default 64), LOAD_CHUNKS (default 1e6 = 1000000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
echo "load benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
exec /usr/bin/python3 "$root/tests/apps/load_e2e.py" "$build/apps/poolrun/poolrun" "$(command -v mpirun)" \
  "${LOAD_RANKS:-64}" "${LOAD_CHUNKS:-1000000}"
