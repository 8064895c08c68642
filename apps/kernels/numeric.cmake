# poolkernels_numeric: the pi (Random123 Philox), power-sum and factor kernels. Pure C++, no MPI.
add_library(poolkernels_numeric STATIC
  ${CMAKE_CURRENT_LIST_DIR}/montecarlo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/powersum.cpp
  ${CMAKE_CURRENT_LIST_DIR}/factor.cpp)
target_include_directories(poolkernels_numeric PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
# SYSTEM: Random123's own headers are not clean under the project's warning flags.
target_include_directories(poolkernels_numeric SYSTEM PUBLIC ${RANDOM123_INCLUDE_DIR})
target_link_libraries(poolkernels_numeric PRIVATE libpool_warnings)
target_link_libraries(poolkernels INTERFACE poolkernels_numeric)
