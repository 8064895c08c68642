# unit.report: poolreport's reading, JSON and SVG on files written by the output writer. Serial.
if(NOT TARGET poolreport_lib)
  return()
endif()
add_executable(test_report ${CMAKE_CURRENT_LIST_DIR}/test_report.cpp)
target_link_libraries(test_report PRIVATE poolreport_lib GTest::gtest_main libpool_warnings)
add_test(NAME unit.report COMMAND test_report)
set_tests_properties(unit.report PROPERTIES TIMEOUT 120 LABELS "unit")
