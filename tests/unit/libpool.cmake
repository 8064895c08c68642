# Serial tests of libpool's pieces that need no pool: codec, registry, errors.
add_executable(test_codec ${CMAKE_CURRENT_LIST_DIR}/test_codec.cpp)
target_link_libraries(test_codec PRIVATE libpool::libpool Eigen3::Eigen GTest::gtest_main
                                         libpool_warnings)
add_test(NAME unit.codec COMMAND test_codec)
set_tests_properties(unit.codec PROPERTIES TIMEOUT 60)

# Serial: libpool's header-only arithmetic (ceil_div near 2^64).
add_executable(test_arith ${CMAKE_CURRENT_LIST_DIR}/test_arith.cpp)
target_link_libraries(test_arith PRIVATE libpool::libpool GTest::gtest_main libpool_warnings)
add_test(NAME unit.arith COMMAND test_arith)
set_tests_properties(unit.arith PROPERTIES TIMEOUT 60)
