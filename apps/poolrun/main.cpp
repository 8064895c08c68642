// poolrun: batch workloads on an MPI process pool (PRODUCT.md §2). Everything is in poolrun_lib.
#include "poolrun.hpp"

int main(int argc, char** argv) {
  return poolrun::main(argc, argv);
}
