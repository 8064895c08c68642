# Shared by scripts/main.sh and scripts/test.sh: install the Debian packages, configure, build.
# Idempotent: packages already present are not fetched again, the build is incremental.
set -euo pipefail

LIBPOOL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LIBPOOL_ROOT

# Everything the project builds against, tests with, and compares itself to (the anchors).
LIBPOOL_PACKAGES=(
  build-essential cmake pkg-config git
  openmpi-bin libopenmpi-dev
  libhdf5-dev hdf5-tools zlib1g-dev
  libeigen3-dev libgtest-dev libcli11-dev librandom123-dev
  libprimesieve-dev primesieve-bin
  python3 python3-numpy python3-h5py python3-mpi4py python3-pil
  parallel  # the command farm anchor of tests/bench/exec.sh
  slurm-wlm munge iproute2
  chromium
  clang libclang-rt-14-dev  # the fuzz targets: libFuzzer and the sanitizer runtimes
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  echo "libpool: installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Open MPI refuses to run as root unless told; our scripts and tests run as root in CI.
allow_root_mpi() {
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

build() {
  local preset=$1
  cmake --preset "$preset" -S "$LIBPOOL_ROOT" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
}
