# Unit tests of the data kernels (stats reductions and per-column statistics, thumbnail resize): serial, no MPI.
foreach(name columns reduce resize)
  add_executable(test_${name} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.cpp)
  target_link_libraries(test_${name} PRIVATE poolkernels_data GTest::gtest_main libpool_warnings)
  add_test(NAME unit.${name} COMMAND test_${name})
  set_tests_properties(unit.${name} PROPERTIES TIMEOUT 60 LABELS "unit")
endforeach()
