# poolkernels_data: the stats (moments, histogram, per-column moments) and thumbnails (area
# resize) kernels.
# Pure C++, no MPI, no HDF5.
add_library(poolkernels_data STATIC
  ${CMAKE_CURRENT_LIST_DIR}/columns.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reduce.cpp
  ${CMAKE_CURRENT_LIST_DIR}/resize.cpp)
target_include_directories(poolkernels_data PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(poolkernels_data PUBLIC Eigen3::Eigen PRIVATE libpool_warnings)
# No fused multiply-add contraction: the target_clones paths of moments() and the resize loops
# must do the same IEEE operations on every CPU, so results are the same bits everywhere.
target_compile_options(poolkernels_data PRIVATE -ffp-contract=off)
target_link_libraries(poolkernels INTERFACE poolkernels_data)
