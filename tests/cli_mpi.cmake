# The command's sweeps and its MPI runs (issue 14); included by tests/CMakeLists.txt.
# clmlp sweep in one process: the grid's points, each equal to its own clmlp train run.
add_test(NAME test_cli_sweep COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_sweep.sh $<TARGET_FILE:clmlp_cli>
                                        ${CLMLP_TEST_DATA_DIR})
set_tests_properties(test_cli_sweep PROPERTIES ENVIRONMENT "${CLMLP_TEST_ENV}" TIMEOUT 900)

# sweep --mpi and train --mpi under mpirun on 2 ranks (only in a build with MPI): shared
# memory between the ranks, one POCL thread each (2 ranks may share 2 cores).
if(CLMLP_MPI)
  add_test(NAME test_cli_mpi COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_mpi.sh $<TARGET_FILE:clmlp_cli>
                                        ${CLMLP_TEST_DATA_DIR} ${MPIEXEC_EXECUTABLE})
  set_tests_properties(test_cli_mpi PROPERTIES
    ENVIRONMENT "${CLMLP_TEST_ENV};OMPI_MCA_pml=ob1;OMPI_MCA_btl=self,vader;POCL_MAX_PTHREAD_COUNT=1"
    TIMEOUT 900 RUN_SERIAL TRUE)
endif()
