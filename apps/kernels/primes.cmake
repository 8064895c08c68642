# Prime-counting kernel (no MPI): segmented mod-30 wheel sieve, see primes.hpp.
add_library(poolkernels_primes STATIC ${CMAKE_CURRENT_LIST_DIR}/primes.cpp)
# Users include "kernels/primes.hpp".
target_include_directories(poolkernels_primes PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_compile_options(poolkernels_primes PRIVATE $<$<CONFIG:Release>:-O3>)
target_link_libraries(poolkernels_primes PRIVATE libpool_warnings)
target_link_libraries(poolkernels INTERFACE poolkernels_primes)
