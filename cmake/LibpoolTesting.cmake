# libpool_add_mpi_test(<target> [RANKS 1 2 3 4] [TIMEOUT s] [ARGS ...])
#
# One CTest test per rank count, named <target>.n<ranks>. Each runs under mpirun with
# --oversubscribe (these machines have fewer cores than the largest rank count) and a TIMEOUT, so
# a deadlock fails the test instead of hanging the suite. PROCESSORS lets ctest -j pack them.
set(LIBPOOL_MPIEXEC_EXTRA_FLAGS "--oversubscribe" CACHE STRING "Extra flags for mpirun in tests")

function(libpool_add_mpi_test target)
  cmake_parse_arguments(ARG "" "TIMEOUT" "RANKS;ARGS;LABELS" ${ARGN})
  if(NOT ARG_RANKS)
    set(ARG_RANKS 1 2 3 4)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  separate_arguments(extra UNIX_COMMAND "${LIBPOOL_MPIEXEC_EXTRA_FLAGS}")
  foreach(n IN LISTS ARG_RANKS)
    add_test(NAME ${target}.n${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${extra} ${MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${target}> ${MPIEXEC_POSTFLAGS} ${ARG_ARGS})
    set_tests_properties(${target}.n${n} PROPERTIES
      TIMEOUT ${ARG_TIMEOUT} PROCESSORS ${n} LABELS "mpi;${ARG_LABELS}")
  endforeach()
endfunction()
