# Installs the build tree into a scratch prefix, builds tests/install/consumer against it with
# find_package(libpool), and runs it on two ranks. Run by CTest with -DBUILD_DIR, -DSOURCE_DIR,
# -DWORK_DIR and -DMPIEXEC.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
foreach(app IN ITEMS poolrun poolreport)
  if(NOT EXISTS ${WORK_DIR}/prefix/bin/${app})
    message(FATAL_ERROR "cmake --install did not install bin/${app}")
  endif()
endforeach()
foreach(file IN ITEMS share/libpool/slurm/poolrun.sbatch share/libpool/slurm/common.sh
                     share/libpool/configs/pi.toml)
  if(NOT EXISTS ${WORK_DIR}/prefix/${file})
    message(FATAL_ERROR "cmake --install did not install ${file}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/build
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "configuring the consumer with find_package(libpool) failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "building the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${MPIEXEC} -n 2 --oversubscribe ${WORK_DIR}/build/app RESULT_VARIABLE rc
                OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc OR NOT out MATCHES "twice\\(21\\) = 42")
  message(FATAL_ERROR "the consumer did not run: ${rc} ${out}")
endif()
# The installed tools run from the prefix: a small pi run, then the installed poolreport on it.
file(REMOVE ${WORK_DIR}/pi.h5)
execute_process(COMMAND ${MPIEXEC} -n 2 --oversubscribe ${WORK_DIR}/prefix/bin/poolrun pi
                        --samples 1e6 -o ${WORK_DIR}/pi.h5 -q
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc OR NOT EXISTS ${WORK_DIR}/pi.h5)
  message(FATAL_ERROR "the installed poolrun did not run: ${rc} ${out} ${err}")
endif()
execute_process(COMMAND ${WORK_DIR}/prefix/bin/poolreport ${WORK_DIR}/pi.h5 --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc OR NOT out MATCHES "\"status\":\"complete\"" OR NOT out MATCHES "\"samples\":1000000")
  message(FATAL_ERROR "the installed poolreport did not read the run: ${rc} ${out} ${err}")
endif()
