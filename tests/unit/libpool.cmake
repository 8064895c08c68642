# Serial tests of libpool's pieces that need no pool: codec, registry, errors.
add_executable(test_codec ${CMAKE_CURRENT_LIST_DIR}/test_codec.cpp)
target_link_libraries(test_codec PRIVATE libpool::libpool Eigen3::Eigen GTest::gtest_main
                                         libpool_warnings)
add_test(NAME unit.codec COMMAND test_codec)
set_tests_properties(unit.codec PROPERTIES TIMEOUT 60 LABELS "unit")

# Serial: the standard type a task's exception is re-raised as on the master.
add_executable(test_remote_errors ${CMAKE_CURRENT_LIST_DIR}/test_remote_errors.cpp)
target_link_libraries(test_remote_errors PRIVATE libpool::libpool GTest::gtest_main
                                                 libpool_warnings)
add_test(NAME unit.remote_errors COMMAND test_remote_errors)
set_tests_properties(unit.remote_errors PROPERTIES TIMEOUT 60 LABELS "unit")

# Serial: libpool's header-only arithmetic (ceil_div near 2^64).
add_executable(test_arith ${CMAKE_CURRENT_LIST_DIR}/test_arith.cpp)
target_link_libraries(test_arith PRIVATE libpool::libpool GTest::gtest_main libpool_warnings)
add_test(NAME unit.arith COMMAND test_arith)
set_tests_properties(unit.arith PROPERTIES TIMEOUT 60 LABELS "unit")

# Compile-failure tests: each snippet must fail to compile, and the compiler output must carry
# libpool's own advice (PASS_REGULAR_EXPRESSION: failing for another reason does not pass).
# Each is an object library left out of `all`; its test builds it with the project's flags.
# About 5 s each (one compiler run).
set(libpool_compile_fail
  "task_lambda|a task must be a plain function registered with Registry::add"
  "task_std_function|a task must be a plain function registered with Registry::add"
  "task_member|a task must be a plain function registered with Registry::add"
  "task_overloaded|LibpoolTaskMustBeAFunctionPointerPickOneOverloadWithStaticCast"
  "arg_pointer|a task cannot take or return a raw pointer"
  "arg_string_view|a task cannot take or return a view"
  "result_span|a task cannot take or return a view"
  "arg_capturing_lambda|a task cannot take or return a lambda, std::function or other callable"
  "arg_mutable_ref|task arguments arrive as copies"
  "eigen_without_codec|include <libpool/codec_eigen.hpp>")
foreach(entry IN LISTS libpool_compile_fail)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 message)
  add_library(compile_fail_${name} OBJECT EXCLUDE_FROM_ALL
              ${CMAKE_CURRENT_LIST_DIR}/compile_fail/${name}.cpp)
  target_link_libraries(compile_fail_${name} PRIVATE libpool::libpool Eigen3::Eigen)
  add_test(NAME unit.compile_fail.${name}
           # The compiler must not inherit a sanitizer test preset's LD_PRELOAD.
           COMMAND ${CMAKE_COMMAND} -E env --unset=LD_PRELOAD
                   ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target compile_fail_${name})
  set_tests_properties(unit.compile_fail.${name} PROPERTIES
    PASS_REGULAR_EXPRESSION "${message}" TIMEOUT 120 RESOURCE_LOCK compile_fail
    LABELS compile_fail)
endforeach()
# The control: the same shapes done right compile.
add_library(compile_ok_control OBJECT ${CMAKE_CURRENT_LIST_DIR}/compile_fail/compiles.cpp)
target_link_libraries(compile_ok_control PRIVATE libpool::libpool Eigen3::Eigen libpool_warnings)
