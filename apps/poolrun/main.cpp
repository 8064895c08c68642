// poolrun: the built-in workloads (workloads.def) on the run machinery of libpool_batch.
#include <malloc.h>

#include "poolrun.hpp"

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // Tasks allocate and free buffers of a few MiB per chunk (hyperslabs, HDF5's decompression
  // buffers). With glibc's defaults each one is a fresh mmap or a heap trim, and every page
  // faults in again: half the time of `stats` on a VM. Keep up to 64 MiB in the heap instead.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
  std::vector<std::unique_ptr<libpool::batch::detail::Entry>> entries;
  for (auto& w : poolrun::builtin_workloads())
    entries.push_back(libpool::batch::detail::adapt(std::move(w)));
  return libpool::batch::detail::run_main(argc, argv, std::move(entries), "poolrun",
                                          "batch workloads on an MPI process pool");
}
