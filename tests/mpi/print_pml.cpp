// Prints the pml that libpool::Environment leaves for Open MPI, for the start-up default test.
#include <cstdio>
#include <cstdlib>

#include "libpool/environment.hpp"

int main(int argc, char** argv) {
  libpool::Environment env(argc, argv);
  const char* pml = std::getenv("OMPI_MCA_pml");
  if (env.rank() == 0) std::printf("pml=%s\n", pml ? pml : "(unset)");
  return 0;
}
