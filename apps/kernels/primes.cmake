# Prime-counting kernel (no MPI): libprimesieve, one thread per call, see primes.hpp.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PRIMESIEVE REQUIRED IMPORTED_TARGET primesieve)
add_library(poolkernels_primes STATIC ${CMAKE_CURRENT_LIST_DIR}/primes.cpp)
# Users include "kernels/primes.hpp".
target_include_directories(poolkernels_primes PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(poolkernels_primes PUBLIC PkgConfig::PRIMESIEVE PRIVATE libpool_warnings)
target_link_libraries(poolkernels INTERFACE poolkernels_primes)
