# poolkernels_data: the stats (moments, histogram, per-column moments), thumbnails (area
# resize) and image datagen kernels.
# Pure C++, no MPI, no HDF5.
add_library(poolkernels_data STATIC
  ${CMAKE_CURRENT_LIST_DIR}/columns.cpp
  ${CMAKE_CURRENT_LIST_DIR}/image.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reduce.cpp
  ${CMAKE_CURRENT_LIST_DIR}/resize.cpp)
target_include_directories(poolkernels_data PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(poolkernels_data PUBLIC Eigen3::Eigen PRIVATE libpool_warnings)
# No fused multiply-add contraction: the target_clones paths of moments() and the resize loops
# must do the same IEEE operations on every CPU, so results are the same bits everywhere.
target_compile_options(poolkernels_data PRIVATE -ffp-contract=off)
# The image generator's selects vectorize only without trapping-math (the values are the same:
# exceptions flags are simply not modelled).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/image.cpp PROPERTIES
  COMPILE_OPTIONS -fno-trapping-math)
target_link_libraries(poolkernels INTERFACE poolkernels_data)
