# unit.common: the shared app layer (HDF5 wrapper, output writer, CLI helpers). Serial, no MPI.
add_executable(test_common
  ${CMAKE_CURRENT_LIST_DIR}/test_common_cli.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_common_h5.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_common_output.cpp)
target_link_libraries(test_common PRIVATE poolcommon GTest::gtest_main libpool_warnings)
foreach(suite IN ITEMS CommonCli CommonH5 CommonOutput)
  add_test(NAME unit.common.${suite} COMMAND test_common --gtest_filter=${suite}.*)
  set_tests_properties(unit.common.${suite} PROPERTIES TIMEOUT 60 LABELS "unit")
endforeach()
