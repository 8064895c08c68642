# Unit tests of the prime-counting kernel against known values and trial division.
add_executable(test_primes ${CMAKE_CURRENT_LIST_DIR}/test_primes.cpp)
target_link_libraries(test_primes PRIVATE poolkernels_primes GTest::gtest_main libpool_warnings)
add_test(NAME unit.primes COMMAND test_primes)
set_tests_properties(unit.primes PROPERTIES TIMEOUT 120 LABELS "unit")
